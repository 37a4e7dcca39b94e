//! Test keys and configuration: a test CA and a gateway certificate it issues (rcgen on ring).
//! Synthetic values only (870525301012 is a valid synthetic IIN).

#![allow(dead_code, clippy::unwrap_used)]

use kuzet_gcvp::GcvpConfig;
use kuzet_shep::{EcdsaP256Signer, ShepConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

pub const IIN: &str = "870525301012";
pub const SERVICE_ID: &str = "GCVP_TEST_SERVICE";

/// A CA and one signing certificate issued by it.
pub struct TestPki {
    pub ca_pem: String,
    pub signer_pkcs8: Vec<u8>,
    pub signer_cert_der: Vec<u8>,
}

impl TestPki {
    pub fn generate(name: &str) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).unwrap();

        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} gateway"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let issuer = Issuer::new(ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Self {
            ca_pem: ca.pem(),
            signer_pkcs8: key.serialize_der(),
            signer_cert_der: cert.der().to_vec(),
        }
    }

    pub fn signer(&self) -> EcdsaP256Signer {
        EcdsaP256Signer::from_pkcs8(&self.signer_pkcs8, self.signer_cert_der.clone()).unwrap()
    }
}

/// A configuration for the SHEP at `endpoint_url`, with fast retries.
pub fn config(endpoint_url: &str, service_id: &str) -> GcvpConfig {
    let mut config = GcvpConfig::new(
        service_id,
        ShepConfig::new(endpoint_url, "KUZET_TEST", "s3cret-sender-password"),
    );
    config.resilience.retry_initial_backoff_ms = 1;
    config.resilience.retry_max_backoff_ms = 5;
    config
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

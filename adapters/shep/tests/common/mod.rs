//! Test keys and requests: a test CA and a gateway certificate it issues (rcgen on ring), a
//! deterministic signer for golden files, and a request with fixed ids and date. Synthetic
//! values only (IIN 870525301012 is a valid synthetic IIN).

#![allow(dead_code, clippy::unwrap_used)]

use kuzet_shep::{
    DIGEST_SHA256, EcdsaP256Signer, Property, RingVerifier, ShepConfig, ShepError, ShepRequest,
    SignatureVerifier, Signer,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::macros::datetime;
use uuid::Uuid;

pub const IIN: &str = "870525301012";
pub const PASSWORD: &str = "s3cret-sender-password";

/// A CA and one signing certificate issued by it.
pub struct TestPki {
    pub ca_der: Vec<u8>,
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
            ca_der: ca.der().to_vec(),
            signer_pkcs8: key.serialize_der(),
            signer_cert_der: cert.der().to_vec(),
        }
    }

    pub fn signer(&self) -> EcdsaP256Signer {
        EcdsaP256Signer::from_pkcs8(&self.signer_pkcs8, self.signer_cert_der.clone()).unwrap()
    }
}

/// A signer whose output depends on the input only: SHA-256 as the digest, and SHA-256 of the
/// canonical SignedInfo as the "signature". For golden files; it proves nothing.
pub struct FixedSigner;

impl Signer for FixedSigner {
    fn signature_method(&self) -> &str {
        "urn:kuzet:test:sha256-as-signature"
    }
    fn digest_method(&self) -> &str {
        DIGEST_SHA256
    }
    fn digest(&self, data: &[u8]) -> Result<Vec<u8>, ShepError> {
        Ok(RingVerifier.digest(DIGEST_SHA256, data).unwrap())
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ShepError> {
        self.digest(data)
    }
    fn certificate_der(&self) -> &[u8] {
        b"test certificate"
    }
}

pub fn config(endpoint_url: &str) -> ShepConfig {
    ShepConfig::new(endpoint_url, "KUZET_TEST", PASSWORD)
}

/// A request with a fixed message id and date, every optional field set.
pub fn fixed_request() -> ShepRequest {
    let mut request = ShepRequest::new(
        "GCVP_TEST_SERVICE",
        format!(
            r#"<ns:incomeRequest xmlns:ns="urn:kuzet:test:gcvp"><ns:iin>{IIN}</ns:iin><ns:note>a &amp; b &lt; c</ns:note></ns:incomeRequest>"#
        ),
    );
    request.message_id = Uuid::parse_str("0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10").unwrap();
    request.message_date = datetime!(2026-03-02 09:15:30.250 UTC);
    request.correlation_id = Some("corr-1".into());
    request.route_id = Some("route-1".into());
    request.session_id = Some("session-1".into());
    request.properties = vec![Property {
        key: "purpose".into(),
        value: "contract_performance".into(),
    }];
    request
}

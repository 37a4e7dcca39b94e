//! The WS-Security XML signature of a SHEP message: the SOAP Body, referenced by its `wsu:Id`,
//! digested and signed under exclusive canonicalization, with the signature in
//! `soap:Header/wsse:Security/ds:Signature` and the signer's X.509 certificate in its `KeyInfo`.
//!
//! Algorithms are pluggable both ways. A [`Signer`] names its `SignatureMethod` and
//! `DigestMethod` URIs and computes the digest and the signature value, so a national-CA GOST
//! signer is one more implementation; [`EcdsaP256Signer`] (ring) is the test one. A
//! [`SignatureVerifier`] maps URIs back to algorithms and checks a certificate against a trusted
//! CA; [`RingVerifier`] knows ECDSA P-256 and RSA PKCS#1 v1.5 with SHA-256.
//!
//! [`verify_envelope`] accepts exactly one shape: one `Signature`, exclusive c14n, one
//! `Reference` to the envelope's own Body, carrying an id no other element has (a signature
//! moved onto a wrapper element is refused). It must never accept an unsigned message, and it
//! never reports which byte differed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    UnixTime, alg_id,
};

use crate::c14n::{EXC_C14N, canonicalize};
use crate::error::ShepError;
use crate::wire::{SOAP_ENVELOPE_NS, UnsignedEnvelope, WSU_NS};
use crate::xml::{self, Element, Node};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The WS-Security extension namespace (`wsse:Security`).
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// `DigestMethod` of SHA-256.
pub const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// `SignatureMethod` of ECDSA with SHA-256 (the value is `r || s`, RFC 4050 / RFC 6931).
pub const SIGNATURE_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// `SignatureMethod` of RSA PKCS#1 v1.5 with SHA-256.
pub const SIGNATURE_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Signs SHEP messages: names its algorithms by their XML-DSig URIs and computes digests and
/// signature values. The envelope code hard-codes neither; a GOST signer (national CA keys)
/// implements this trait with its own URIs.
pub trait Signer: Send + Sync {
    /// The `SignatureMethod/@Algorithm` URI.
    fn signature_method(&self) -> &str;
    /// The `DigestMethod/@Algorithm` URI.
    fn digest_method(&self) -> &str;
    /// The digest of `data` (the canonical Body) with the digest method.
    fn digest(&self, data: &[u8]) -> Result<Vec<u8>, ShepError>;
    /// The signature value over `data` (the canonical `SignedInfo`), as XML-DSig encodes it for
    /// the signature method.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ShepError>;
    /// The signer's X.509 certificate, DER, for `KeyInfo`.
    fn certificate_der(&self) -> &[u8];
}

/// Checks signatures made by some [`Signer`]: maps algorithm URIs back to algorithms. Returns
/// `None` or an error for a URI it does not know, never a silent pass.
pub trait SignatureVerifier: Send + Sync {
    /// The digest of `data` with the digest method `uri`; `None` when `uri` is not supported.
    fn digest(&self, uri: &str, data: &[u8]) -> Option<Vec<u8>>;
    /// Checks `signature` over `message` with the signature method `uri` and the public key of
    /// `certificate_der`.
    fn verify(
        &self,
        uri: &str,
        certificate_der: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), ShepError>;
    /// Checks that `certificate_der` is issued by `trusted_ca_der` and valid now.
    fn verify_certificate(
        &self,
        certificate_der: &[u8],
        trusted_ca_der: &[u8],
    ) -> Result<(), ShepError>;
}

/// Signs `envelope`: canonicalizes its Body, digests it, builds and signs `SignedInfo`, and
/// returns the envelope with the `wsse:Security` header in place.
pub fn sign_envelope(
    envelope: &UnsignedEnvelope,
    signer: &dyn Signer,
) -> Result<String, ShepError> {
    let unsigned = envelope.to_xml();
    let root = xml::parse(unsigned.as_bytes())
        .map_err(|e| ShepError::Signing(format!("the envelope does not parse: {e}")))?;
    let body = root
        .child_ns(SOAP_ENVELOPE_NS, "Body")
        .ok_or_else(|| ShepError::Signing("the envelope has no Body".into()))?;
    let digest = signer.digest(&canonicalize(body))?;

    let mut signed_info = String::with_capacity(768);
    signed_info.push_str(r#"<ds:SignedInfo xmlns:ds=""#);
    signed_info.push_str(DSIG_NS);
    signed_info.push_str(r#""><ds:CanonicalizationMethod Algorithm=""#);
    signed_info.push_str(EXC_C14N);
    signed_info.push_str(r#""></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=""#);
    attr_text(&mut signed_info, signer.signature_method());
    signed_info.push_str(r##""></ds:SignatureMethod><ds:Reference URI="#"##);
    attr_text(&mut signed_info, envelope.body_id());
    signed_info.push_str(r#""><ds:Transforms><ds:Transform Algorithm=""#);
    signed_info.push_str(EXC_C14N);
    signed_info.push_str(r#""></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=""#);
    attr_text(&mut signed_info, signer.digest_method());
    signed_info.push_str(r#""></ds:DigestMethod><ds:DigestValue>"#);
    signed_info.push_str(&BASE64.encode(digest));
    signed_info.push_str("</ds:DigestValue></ds:Reference></ds:SignedInfo>");

    // Signed as the receiver will see it: canonicalized on its own, which is what exclusive
    // c14n of the same element inside the envelope yields.
    let signed_info_c14n = canonicalize(
        &xml::parse(signed_info.as_bytes())
            .map_err(|e| ShepError::Signing(format!("SignedInfo does not parse: {e}")))?,
    );
    let signature_value = signer.sign(&signed_info_c14n)?;

    let mut security = String::with_capacity(signed_info.len() + 2048);
    security.push_str(r#"<wsse:Security xmlns:wsse=""#);
    security.push_str(WSSE_NS);
    security.push_str(r#"" soap:mustUnderstand="1"><ds:Signature xmlns:ds=""#);
    security.push_str(DSIG_NS);
    security.push_str(r#"">"#);
    security.push_str(&signed_info);
    security.push_str("<ds:SignatureValue>");
    security.push_str(&BASE64.encode(signature_value));
    security.push_str("</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
    security.push_str(&BASE64.encode(signer.certificate_der()));
    security.push_str(
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature></wsse:Security>",
    );
    Ok(envelope.with_header(&security))
}

fn attr_text(out: &mut String, text: &str) {
    out.push_str(&quick_xml::escape::escape(text));
}

/// What a valid signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    /// The signer's certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The signed Body's `wsu:Id`.
    pub body_id: String,
}

/// Checks the signature of a received SHEP envelope: re-canonicalizes the Body, compares its
/// digest, checks the signature value over `SignedInfo` against the certificate in `KeyInfo`,
/// and, when `trusted_ca_der` is given, that the certificate is issued by it.
///
/// Refuses with [`ShepError::SignatureMissing`] when there is no signature,
/// [`ShepError::SignatureInvalid`] when it does not hold or has another shape, and
/// [`ShepError::CertificateUntrusted`] when the certificate does not chain to the CA.
pub fn verify_envelope(
    envelope: &[u8],
    verifier: &dyn SignatureVerifier,
    trusted_ca_der: Option<&[u8]>,
) -> Result<VerifiedEnvelope, ShepError> {
    let root = xml::parse(envelope).map_err(|e| ShepError::Malformed(e.to_string()))?;
    if !root.is(SOAP_ENVELOPE_NS, "Envelope") {
        return Err(ShepError::Malformed("not a SOAP 1.1 envelope".into()));
    }
    let signatures: Vec<&Element> = root
        .child_ns(SOAP_ENVELOPE_NS, "Header")
        .into_iter()
        .flat_map(|h| h.elements().filter(|e| e.is(WSSE_NS, "Security")))
        .flat_map(|s| s.elements().filter(|e| e.is(DSIG_NS, "Signature")))
        .collect();
    let signature = match signatures.as_slice() {
        [] => return Err(ShepError::SignatureMissing),
        [one] => *one,
        _ => return Err(invalid("more than one signature")),
    };
    let signed_info = only_child(signature, "SignedInfo")?;
    if algorithm(only_child(signed_info, "CanonicalizationMethod")?)? != EXC_C14N {
        return Err(invalid("unsupported canonicalization method"));
    }
    let signature_method = algorithm(only_child(signed_info, "SignatureMethod")?)?;
    let reference = only_child(signed_info, "Reference")?;
    let id = reference
        .attr(None, "URI")
        .and_then(|uri| uri.strip_prefix('#'))
        .filter(|id| !id.is_empty())
        .ok_or(invalid("the reference is not a same-document #id"))?;
    let transforms = only_child(reference, "Transforms")?;
    let mut transform_count = 0;
    for transform in transforms.elements() {
        transform_count += 1;
        if !transform.is(DSIG_NS, "Transform")
            || algorithm(transform)? != EXC_C14N
            || transform.elements().next().is_some()
        {
            return Err(invalid("unsupported transform"));
        }
    }
    if transform_count == 0 {
        return Err(invalid("the reference has no transform"));
    }
    let digest_method = algorithm(only_child(reference, "DigestMethod")?)?;
    let digest_value = base64(&only_child(reference, "DigestValue")?.text())?;

    let body = root
        .child_ns(SOAP_ENVELOPE_NS, "Body")
        .ok_or(invalid("the envelope has no Body"))?;
    if body.attr(Some(WSU_NS), "Id") != Some(id) {
        return Err(invalid("the reference is not to the Body"));
    }
    if count_ids(&root, id) != 1 {
        return Err(invalid("the referenced id is not unique"));
    }
    let digest = verifier
        .digest(digest_method, &canonicalize(body))
        .ok_or(invalid("unsupported digest method"))?;
    if digest != digest_value {
        return Err(invalid("the Body does not match its digest"));
    }

    let certificate = only_child(signature, "KeyInfo")
        .and_then(|k| only_child(k, "X509Data"))
        .and_then(|d| only_child(d, "X509Certificate"))
        .map_err(|_| invalid("KeyInfo holds no X.509 certificate"))?;
    let certificate_der = base64(&certificate.text())?;
    if let Some(ca) = trusted_ca_der {
        verifier.verify_certificate(&certificate_der, ca)?;
    }
    let signature_value = base64(&only_child(signature, "SignatureValue")?.text())?;
    verifier.verify(
        signature_method,
        &certificate_der,
        &canonicalize(signed_info),
        &signature_value,
    )?;
    Ok(VerifiedEnvelope {
        certificate_der,
        body_id: id.to_owned(),
    })
}

fn invalid(what: &'static str) -> ShepError {
    ShepError::SignatureInvalid(what)
}

/// The one `ds:` child with this name; none or several is a malformed signature.
fn only_child<'e>(parent: &'e Element, local: &'static str) -> Result<&'e Element, ShepError> {
    let mut found = parent.elements().filter(|e| e.is(DSIG_NS, local));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        _ => Err(invalid("the signature is not of the expected shape")),
    }
}

fn algorithm(e: &Element) -> Result<&str, ShepError> {
    e.attr(None, "Algorithm")
        .ok_or(invalid("an algorithm is not named"))
}

fn base64(text: &str) -> Result<Vec<u8>, ShepError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64
        .decode(compact)
        .map_err(|_| invalid("a value is not base64"))
}

/// How many elements carry `id` as an `Id`-like attribute (`wsu:Id`, `Id`, `ID`, `id`).
fn count_ids(e: &Element, id: &str) -> usize {
    let own = e
        .attrs
        .iter()
        .filter(|a| {
            a.value == id
                && (a.ns.as_deref() == Some(WSU_NS)
                    || (a.ns.is_none() && matches!(a.local.as_str(), "Id" | "ID" | "id")))
        })
        .count();
    own + e
        .children
        .iter()
        .map(|c| match c {
            Node::Element(child) => count_ids(child, id),
            _ => 0,
        })
        .sum::<usize>()
}

// ---------------------------------------------------------------------------------------------
// ring implementations.

/// A [`Signer`] with an ECDSA P-256 key and SHA-256 (ring), for tests, mocks and development;
/// production SHEP wants a GOST signer with a national-CA key.
pub struct EcdsaP256Signer {
    key: ring::signature::EcdsaKeyPair,
    certificate_der: Vec<u8>,
    rng: ring::rand::SystemRandom,
}

impl EcdsaP256Signer {
    /// A signer from a PKCS#8 (DER) P-256 private key and the DER certificate of its public key.
    pub fn from_pkcs8(pkcs8_der: &[u8], certificate_der: Vec<u8>) -> Result<Self, ShepError> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8_der,
            &rng,
        )
        .map_err(|_| ShepError::Config("the signing key is not a PKCS#8 P-256 key".into()))?;
        Ok(Self {
            key,
            certificate_der,
            rng,
        })
    }
}

/// Where a development signer's key and certificate live (PEM files). The key file must be
/// readable only by the gateway's user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignerFiles {
    /// PEM file with the PKCS#8 P-256 private key.
    pub key_pem: std::path::PathBuf,
    /// PEM file with the key's certificate (the first certificate in the file is used).
    pub certificate_pem: std::path::PathBuf,
}

impl EcdsaP256Signer {
    /// A signer from PEM files: a PKCS#8 P-256 key and its certificate.
    pub fn from_pem_files(files: &SignerFiles) -> Result<Self, ShepError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
        let read = |path: &std::path::Path| {
            std::fs::read(path)
                .map_err(|e| ShepError::Config(format!("cannot read {}: {e}", path.display())))
        };
        let key = PrivatePkcs8KeyDer::from_pem_slice(&read(&files.key_pem)?).map_err(|e| {
            ShepError::Config(format!(
                "{}: no PKCS#8 private key ({e})",
                files.key_pem.display()
            ))
        })?;
        let cert = CertificateDer::from_pem_slice(&read(&files.certificate_pem)?).map_err(|e| {
            ShepError::Config(format!(
                "{}: no certificate ({e})",
                files.certificate_pem.display()
            ))
        })?;
        Self::from_pkcs8(key.secret_pkcs8_der(), cert.as_ref().to_vec())
    }
}

impl std::fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaP256Signer").finish_non_exhaustive()
    }
}

impl Signer for EcdsaP256Signer {
    fn signature_method(&self) -> &str {
        SIGNATURE_ECDSA_SHA256
    }

    fn digest_method(&self) -> &str {
        DIGEST_SHA256
    }

    fn digest(&self, data: &[u8]) -> Result<Vec<u8>, ShepError> {
        Ok(ring::digest::digest(&ring::digest::SHA256, data)
            .as_ref()
            .to_vec())
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ShepError> {
        self.key
            .sign(&self.rng, data)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| ShepError::Signing("ECDSA signing failed".into()))
    }

    fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

/// A [`SignatureVerifier`] for SHA-256 digests and ECDSA P-256 / RSA PKCS#1 v1.5 SHA-256
/// signatures, with certificates checked by webpki (ring).
#[derive(Debug, Clone, Copy, Default)]
pub struct RingVerifier;

/// XML-DSig's ECDSA value is `r || s`, not the DER webpki's own ECDSA algorithms expect.
#[derive(Debug)]
struct EcdsaP256Sha256Fixed;

impl SignatureVerificationAlgorithm for EcdsaP256Sha256Fixed {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            public_key,
        )
        .verify(message, signature)
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P256
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA256
    }
}

/// Certificate signatures webpki may meet on the way to the trusted CA.
static CERTIFICATE_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::ED25519,
];

/// Document-signing certificates carry varied extended key usages (or none): the CA vouches for
/// the key, the signature is checked separately, so no EKU is required.
struct AnyExtendedKeyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyExtendedKeyUsage {
    fn validate(&self, _: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

impl SignatureVerifier for RingVerifier {
    fn digest(&self, uri: &str, data: &[u8]) -> Option<Vec<u8>> {
        (uri == DIGEST_SHA256).then(|| {
            ring::digest::digest(&ring::digest::SHA256, data)
                .as_ref()
                .to_vec()
        })
    }

    fn verify(
        &self,
        uri: &str,
        certificate_der: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), ShepError> {
        let algorithm: &dyn SignatureVerificationAlgorithm = match uri {
            SIGNATURE_ECDSA_SHA256 => &EcdsaP256Sha256Fixed,
            SIGNATURE_RSA_SHA256 => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(invalid("unsupported signature method")),
        };
        let der = CertificateDer::from(certificate_der);
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|_| ShepError::CertificateUntrusted("unreadable certificate".into()))?;
        cert.verify_signature(algorithm, message, signature)
            .map_err(|_| invalid("the signature value does not match"))
    }

    fn verify_certificate(
        &self,
        certificate_der: &[u8],
        trusted_ca_der: &[u8],
    ) -> Result<(), ShepError> {
        let ca = CertificateDer::from(trusted_ca_der);
        let anchor = webpki::anchor_from_trusted_cert(&ca)
            .map_err(|_| ShepError::CertificateUntrusted("unreadable CA certificate".into()))?;
        let der = CertificateDer::from(certificate_der);
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|_| ShepError::CertificateUntrusted("unreadable certificate".into()))?;
        cert.verify_for_usage(
            CERTIFICATE_ALGORITHMS,
            &[anchor],
            &[],
            UnixTime::now(),
            AnyExtendedKeyUsage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| ShepError::CertificateUntrusted(e.to_string()))
    }
}

//! The WS-Security signature: what is signed verifies, and nothing altered, unsigned or signed
//! by someone else does.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{IIN, TestPki, config, fixed_request};
use kuzet_shep::{
    RingVerifier, SIGNATURE_ECDSA_SHA256, ShepError, build_envelope, sign_envelope, verify_envelope,
};

fn signed_with(pki: &TestPki) -> String {
    let envelope = build_envelope(&config("http://shep.test/"), &fixed_request()).unwrap();
    sign_envelope(&envelope, &pki.signer()).unwrap()
}

#[test]
fn a_signed_envelope_verifies_with_and_without_the_ca() {
    let pki = TestPki::generate("a");
    let signed = signed_with(&pki);
    assert!(signed.contains(SIGNATURE_ECDSA_SHA256));
    let verified = verify_envelope(signed.as_bytes(), &RingVerifier, None).unwrap();
    assert_eq!(verified.certificate_der, pki.signer_cert_der);
    assert_eq!(verified.body_id, "id-0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10");
    verify_envelope(signed.as_bytes(), &RingVerifier, Some(&pki.ca_der)).unwrap();
}

#[test]
fn reformatting_outside_the_body_does_not_break_it() {
    let pki = TestPki::generate("a");
    let signed = signed_with(&pki)
        .replace("<soap:Header>", "\n  <soap:Header>\n")
        .replace("</soap:Header>", "</soap:Header>\r\n");
    verify_envelope(signed.as_bytes(), &RingVerifier, None).unwrap();
}

#[test]
fn changing_any_body_byte_is_detected() {
    let pki = TestPki::generate("a");
    let signed = signed_with(&pki);
    let start = signed.find("<soap:Body").unwrap();
    let end = signed.find("</soap:Body>").unwrap() + "</soap:Body>".len();
    for i in start..end {
        let mut bytes = signed.clone().into_bytes();
        bytes[i] = if bytes[i] == b'Q' { b'R' } else { b'Q' };
        let result = verify_envelope(&bytes, &RingVerifier, None);
        assert!(result.is_err(), "a change at byte {i} went unnoticed");
    }
}

#[test]
fn a_changed_iin_is_a_digest_mismatch() {
    let pki = TestPki::generate("a");
    let tampered = signed_with(&pki).replace(IIN, "870525301013");
    let err = verify_envelope(tampered.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(
        matches!(
            err,
            ShepError::SignatureInvalid("the Body does not match its digest")
        ),
        "{err}"
    );
    assert_eq!(err.code(), "signature_invalid");
    assert!(!err.to_string().contains("870525"), "{err}");
}

#[test]
fn a_changed_signed_info_is_a_signature_mismatch() {
    let pki = TestPki::generate("a");
    let signed = signed_with(&pki);
    let tampered = signed.replace("</ds:Transforms>", "</ds:Transforms><!-- c -->");
    // A comment is not part of the canonical form: still valid.
    verify_envelope(tampered.as_bytes(), &RingVerifier, None).unwrap();
    let tampered = signed.replace("Reference URI=", "Reference Type=\"x\" URI=");
    let err = verify_envelope(tampered.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(matches!(err, ShepError::SignatureInvalid(_)), "{err}");
}

#[test]
fn an_unsigned_envelope_is_refused() {
    let pki = TestPki::generate("a");
    let signed = signed_with(&pki);
    let unsigned = build_envelope(&config("http://shep.test/"), &fixed_request())
        .unwrap()
        .to_xml();
    let err = verify_envelope(unsigned.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(matches!(err, ShepError::SignatureMissing));
    assert_eq!(err.code(), "signature_missing");

    // The Signature cut out, the Security header left.
    let from = signed.find("<ds:Signature ").unwrap();
    let to = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let stripped = format!("{}{}", &signed[..from], &signed[to..]);
    let err = verify_envelope(stripped.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(matches!(err, ShepError::SignatureMissing), "{err}");
}

#[test]
fn a_swapped_certificate_is_refused() {
    let a = TestPki::generate("a");
    let b = TestPki::generate("b");
    let signed = signed_with(&a);
    let b64 = |der: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    let swapped = signed.replace(&b64(&a.signer_cert_der), &b64(&b.signer_cert_der));
    assert_ne!(swapped, signed);
    let err = verify_envelope(swapped.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(
        matches!(
            err,
            ShepError::SignatureInvalid("the signature value does not match")
        ),
        "{err}"
    );
}

#[test]
fn a_certificate_from_another_ca_is_untrusted() {
    let a = TestPki::generate("a");
    let b = TestPki::generate("b");
    let signed = signed_with(&a);
    let err = verify_envelope(signed.as_bytes(), &RingVerifier, Some(&b.ca_der)).unwrap_err();
    assert!(matches!(err, ShepError::CertificateUntrusted(_)), "{err}");
    assert_eq!(err.code(), "certificate_untrusted");
}

#[test]
fn a_reference_to_anything_but_the_body_is_refused() {
    let pki = TestPki::generate("a");
    let signed = signed_with(&pki);
    let id = "id-0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10";
    // The Body renamed away from the signed id.
    let moved = signed.replace(&format!("wsu:Id=\"{id}\""), "wsu:Id=\"other\"");
    let err = verify_envelope(moved.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(
        matches!(
            err,
            ShepError::SignatureInvalid("the reference is not to the Body")
        ),
        "{err}"
    );
    // A second element carrying the signed id (signature wrapping).
    let wrapped = signed.replace(
        "<soap:Header>",
        &format!("<soap:Header><x wsu:Id=\"{id}\"></x>"),
    );
    let err = verify_envelope(wrapped.as_bytes(), &RingVerifier, None).unwrap_err();
    assert!(
        matches!(
            err,
            ShepError::SignatureInvalid("the referenced id is not unique")
        ),
        "{err}"
    );
}

#[test]
fn a_signer_loads_from_pem_files_and_says_which_file_is_wrong() {
    use kuzet_shep::{EcdsaP256Signer, SignerFiles};
    use rustls_pki_types::pem::PemObject;
    let pki = TestPki::generate("files");
    let dir = tempfile::tempdir().unwrap();
    let pem = |label: &str, der: &[u8]| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    let files = SignerFiles {
        key_pem: dir.path().join("key.pem"),
        certificate_pem: dir.path().join("cert.pem"),
    };
    std::fs::write(&files.key_pem, pem("PRIVATE KEY", &pki.signer_pkcs8)).unwrap();
    std::fs::write(
        &files.certificate_pem,
        pem("CERTIFICATE", &pki.signer_cert_der),
    )
    .unwrap();
    // The PEM written is what rustls-pki-types reads back.
    let back = rustls_pki_types::CertificateDer::from_pem_file(&files.certificate_pem).unwrap();
    assert_eq!(back.as_ref(), &pki.signer_cert_der[..]);

    let signer = EcdsaP256Signer::from_pem_files(&files).unwrap();
    let envelope = build_envelope(&config("http://shep.test/"), &fixed_request()).unwrap();
    let signed = sign_envelope(&envelope, &signer).unwrap();
    verify_envelope(signed.as_bytes(), &RingVerifier, Some(&pki.ca_der)).unwrap();

    // A certificate where the key should be: the error names the key file.
    let swapped = SignerFiles {
        key_pem: files.certificate_pem.clone(),
        certificate_pem: files.certificate_pem.clone(),
    };
    let err = EcdsaP256Signer::from_pem_files(&swapped).unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
    let missing = SignerFiles {
        key_pem: dir.path().join("nope.pem"),
        certificate_pem: files.certificate_pem.clone(),
    };
    let err = EcdsaP256Signer::from_pem_files(&missing).unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

//! The `SendMessage` envelope as built: the golden file, and what the builder refuses.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{FixedSigner, PASSWORD, config, fixed_request};
use kuzet_shep::{ShepConfig, ShepError, ShepRequest, build_envelope, sign_envelope};

/// Regenerate with `KUZET_BLESS=1`. Its DigestValue (and the fixed signer's value) were
/// cross-checked once against libxml2's exclusive c14n (lxml), outside the test suite.
const GOLDEN: &str = "tests/fixtures/send-message-signed.xml";

#[test]
fn built_and_signed_request_matches_the_golden_file() {
    let envelope = build_envelope(&config("http://shep.test/"), &fixed_request()).unwrap();
    let signed = sign_envelope(&envelope, &FixedSigner).unwrap();
    if std::env::var_os("KUZET_BLESS").is_some() {
        std::fs::write(GOLDEN, &signed).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN).unwrap();
    assert_eq!(signed, golden.trim_end());
}

#[test]
fn request_info_is_in_schema_order_with_the_astana_offset() {
    let xml = build_envelope(&config("http://shep.test/"), &fixed_request())
        .unwrap()
        .to_xml();
    let order = [
        "<messageId>0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10</messageId>",
        "<correlationId>corr-1</correlationId>",
        "<serviceId>GCVP_TEST_SERVICE</serviceId>",
        "<messageDate>2026-03-02T15:15:30.250+06:00</messageDate>",
        "<routeId>route-1</routeId>",
        "<sender><senderId>KUZET_TEST</senderId>",
        "<properties><key>purpose</key>",
        "<sessionId>session-1</sessionId>",
        "<requestData><data><ns:incomeRequest",
    ];
    let mut at = 0;
    for piece in order {
        let found = xml[at..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece} out of order"));
        at += found + piece.len();
    }
}

#[test]
fn optional_fields_are_left_out_and_text_is_escaped() {
    let mut request = ShepRequest::new("SVC<&>", "<x/>");
    request.properties.push(kuzet_shep::Property {
        key: "k\"".into(),
        value: "v<".into(),
    });
    let xml = build_envelope(&config("http://shep.test/"), &request)
        .unwrap()
        .to_xml();
    assert!(xml.contains("<serviceId>SVC&lt;&amp;&gt;</serviceId>"));
    assert!(xml.contains("<key>k&quot;</key><value>v&lt;</value>"));
    for absent in ["correlationId", "routeId", "sessionId"] {
        assert!(!xml.contains(absent), "{absent}");
    }
}

#[test]
fn a_data_fragment_that_is_not_well_formed_is_refused() {
    let cfg = config("http://shep.test/");
    for bad in [
        "<a>",
        "<a></b>",
        "</data></requestData><data>",
        "<p:a/>",
        "<a x='1' x='2'/>",
        "<!DOCTYPE a><a/>",
        "a & b",
        "<?xml version='1.0'?><a/>",
    ] {
        let mut request = fixed_request();
        request.data = bad.into();
        let err = build_envelope(&cfg, &request).unwrap_err();
        assert!(matches!(err, ShepError::InvalidPayload(_)), "{bad}: {err}");
        assert_eq!(err.code(), "invalid_payload");
        assert!(!err.is_transient());
    }
    let err = ShepRequest::from_bytes("SVC", &[0x3c, 0xff, 0x3e]).unwrap_err();
    assert!(matches!(err, ShepError::InvalidPayload(_)));
}

#[test]
fn a_message_id_must_be_uuid_v4_or_v7_and_the_service_id_set() {
    let cfg = config("http://shep.test/");
    let mut request = fixed_request();
    request.message_id = uuid::Uuid::new_v4();
    assert!(build_envelope(&cfg, &request).is_ok());
    request.message_id = uuid::Uuid::nil();
    assert_eq!(
        build_envelope(&cfg, &request).unwrap_err().code(),
        "invalid_request"
    );
    let mut request = fixed_request();
    request.service_id = " ".into();
    assert_eq!(
        build_envelope(&cfg, &request).unwrap_err().code(),
        "invalid_request"
    );
}

#[test]
fn debug_never_shows_the_password_or_the_payload() {
    let cfg = config("http://shep.test/");
    let shown = format!("{cfg:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("<redacted>"));
    let request = format!("{:?}", fixed_request());
    assert!(!request.contains(common::IIN), "{request}");
    let envelope = format!("{:?}", build_envelope(&cfg, &fixed_request()).unwrap());
    assert!(!envelope.contains(PASSWORD) && !envelope.contains(common::IIN));
}

#[test]
fn configuration_reads_from_toml_and_refuses_unknown_keys() {
    let cfg: ShepConfig = toml::from_str(
        r#"
        endpoint_url = "https://shep.test/bip-sync-wss-gost/"
        sender_id = "KUZET"
        password = "p"
        [http]
        request_timeout_ms = 5000
        "#,
    )
    .unwrap();
    assert_eq!(cfg.success_status_codes, vec!["SCSS001".to_owned()]);
    assert!(cfg.is_success("SCSS001"));
    assert!(!cfg.is_success("SE001"));
    assert_eq!(cfg.soap_action, "");
    assert_eq!(cfg.http.request_timeout_ms, 5000);
    let unknown = toml::from_str::<ShepConfig>(
        "endpoint_url = \"x\"\nsender_id = \"s\"\npassword = \"p\"\ntimeout = 1\n",
    );
    assert!(unknown.is_err());
}

//! The adapter's configuration: defaults, unknown keys refused, password never printed.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_fcb::{FcbClient, FcbConfig, FcbError};

const EXAMPLE: &str = r#"{
    "report_url": "https://bureau.test/FCBServices/Service",
    "user_name": "lender",
    "password": "s3cret-pa55",
    "version": "1.0",
    "http": { "request_timeout_ms": 10000 }
}"#;

#[test]
fn example_parses_with_defaults() {
    let config: FcbConfig = serde_json::from_str(EXAMPLE).unwrap();
    assert_eq!(config.culture, "ru-RU");
    assert_eq!(config.report_id, 6);
    assert_eq!(config.report_import_code, "6");
    assert_eq!(config.version.as_deref(), Some("1.0"));
    assert_eq!(config.http.request_timeout_ms, 10_000);
    assert_eq!(config.http.connect_timeout_ms, 3_000, "transport default");
    FcbClient::new(config).unwrap();
}

#[test]
fn unknown_fields_are_refused() {
    let text = EXAMPLE.replace("\"version\"", "\"verison\"");
    let err = serde_json::from_str::<FcbConfig>(&text).unwrap_err();
    assert!(err.to_string().contains("verison"), "{err}");
}

#[test]
fn password_never_printed() {
    let config: FcbConfig = serde_json::from_str(EXAMPLE).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret-pa55"), "{debug}");
    assert!(debug.contains("<redacted>"));
    let client = FcbClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains("s3cret-pa55"));
}

#[test]
fn unusable_configs_are_refused() {
    let bad_url = FcbConfig::new("ftp://bureau.test", "u", "p");
    assert!(matches!(FcbClient::new(bad_url), Err(FcbError::Config(_))));
    let no_user = FcbConfig::new("https://bureau.test", " ", "p");
    assert!(matches!(FcbClient::new(no_user), Err(FcbError::Config(_))));
    let mut bad_pem = FcbConfig::new("https://bureau.test", "u", "p");
    bad_pem.http.trust_store_pem = Some("/nonexistent/ca.pem".into());
    let e = FcbClient::new(bad_pem).unwrap_err();
    assert!(matches!(e, FcbError::Config(_)), "{e:?}");
    assert_eq!(e.code(), "config_error");
}

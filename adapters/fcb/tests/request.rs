//! The `GetReport` request: well-formed, escaped, the IIN only where it belongs, and never
//! built without consent.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_fcb::{FcbConfig, FcbError, ReportRequest, build_get_report_request};
use kuzet_ident::Iin;
use quick_xml::events::Event;
use time::macros::date;

fn subject() -> Iin {
    Iin::synthesize(date!(1990 - 01 - 01), true, 1).unwrap()
}

fn config() -> FcbConfig {
    FcbConfig::new(
        "https://bureau.test/FCBServices/Service",
        "lender<&>",
        "p&ss<word>\"'",
    )
}

/// (path of local names, text) for every text node of a document; panics if not well-formed.
fn texts(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut current = String::new();
    let flush = |path: &[String], current: &mut String, out: &mut Vec<(String, String)>| {
        if !current.trim().is_empty() {
            out.push((path.join("/"), std::mem::take(current)));
        }
        current.clear();
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                flush(&path, &mut current, &mut out);
                path.push(String::from_utf8(e.local_name().as_ref().to_vec()).unwrap());
            }
            Event::End(_) => {
                flush(&path, &mut current, &mut out);
                path.pop();
            }
            Event::Text(t) => current.push_str(&t.xml_content().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                current.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed elements");
    out
}

fn text_at(all: &[(String, String)], path: &str) -> Option<String> {
    all.iter().find(|(p, _)| p == path).map(|(_, t)| t.clone())
}

#[test]
fn request_shape() {
    let iin = subject();
    let xml = build_get_report_request(
        &config(),
        &ReportRequest {
            iin: iin.clone(),
            consent_confirmed: true,
        },
    )
    .unwrap();
    assert!(xml.contains(r#"xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/""#));
    assert!(xml.contains(r#"xmlns:ws="http://ws.creditinfo.com/""#));
    let all = texts(&xml);
    let header = "Envelope/Header/CigWsHeader";
    assert_eq!(
        text_at(&all, &format!("{header}/Culture")).as_deref(),
        Some("ru-RU")
    );
    assert_eq!(
        text_at(&all, &format!("{header}/UserName")).as_deref(),
        Some("lender<&>")
    );
    assert_eq!(
        text_at(&all, &format!("{header}/Password")).as_deref(),
        Some("p&ss<word>\"'")
    );
    assert_eq!(text_at(&all, &format!("{header}/Version")), None);
    let body = "Envelope/Body/GetReport";
    assert_eq!(
        text_at(&all, &format!("{body}/reportId")).as_deref(),
        Some("6")
    );
    let kv = format!("{body}/doc/keyValue");
    assert_eq!(
        text_at(&all, &format!("{kv}/reportImportCode")).as_deref(),
        Some("6")
    );
    assert_eq!(
        text_at(&all, &format!("{kv}/idNumber")).as_deref(),
        Some(iin.expose())
    );
    assert_eq!(
        text_at(&all, &format!("{kv}/idNumberType")).as_deref(),
        Some("14")
    );
    assert_eq!(
        text_at(&all, &format!("{kv}/ConsentConfirmed")).as_deref(),
        Some("1")
    );

    // The IIN appears exactly once, in idNumber.
    assert_eq!(xml.matches(iin.expose()).count(), 1);
    let holders: Vec<_> = all
        .iter()
        .filter(|(_, t)| t.contains(iin.expose()))
        .collect();
    assert_eq!(holders.len(), 1);
    assert!(holders[0].0.ends_with("keyValue/idNumber"));

    // Credentials are escaped, not spliced.
    assert!(!xml.contains("lender<&>"));
    assert!(xml.contains("lender&lt;&amp;&gt;"));
}

#[test]
fn configured_codes_and_version_are_sent() {
    let mut config = config();
    config.report_id = 200_019;
    config.report_import_code = "6".into();
    config.version = Some("2.0".into());
    config.culture = "kk-KZ".into();
    let xml = build_get_report_request(
        &config,
        &ReportRequest {
            iin: subject(),
            consent_confirmed: true,
        },
    )
    .unwrap();
    let all = texts(&xml);
    assert_eq!(
        text_at(&all, "Envelope/Header/CigWsHeader/Version").as_deref(),
        Some("2.0")
    );
    assert_eq!(
        text_at(&all, "Envelope/Header/CigWsHeader/Culture").as_deref(),
        Some("kk-KZ")
    );
    assert_eq!(
        text_at(&all, "Envelope/Body/GetReport/reportId").as_deref(),
        Some("200019")
    );
}

#[test]
fn no_consent_no_request() {
    let e = build_get_report_request(
        &config(),
        &ReportRequest {
            iin: subject(),
            consent_confirmed: false,
        },
    )
    .unwrap_err();
    assert!(matches!(e, FcbError::ConsentRequired));
}

#[tokio::test]
async fn client_refuses_without_consent_before_any_network() {
    // Port 9 on loopback: if the client tried to connect, the error would be a transport one.
    let client =
        kuzet_fcb::FcbClient::new(FcbConfig::new("http://127.0.0.1:9/", "u", "p")).unwrap();
    let e = client
        .credit_report(
            &ReportRequest {
                iin: subject(),
                consent_confirmed: false,
            },
            None,
            kuzet_transport::Retry::Safe,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, FcbError::ConsentRequired), "{e:?}");
}

#[tokio::test]
async fn client_honours_a_passed_deadline() {
    let client =
        kuzet_fcb::FcbClient::new(FcbConfig::new("http://127.0.0.1:9/", "u", "p")).unwrap();
    let e = client
        .credit_report(
            &ReportRequest {
                iin: subject(),
                consent_confirmed: true,
            },
            Some(std::time::Instant::now()),
            kuzet_transport::Retry::Safe,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, FcbError::Timeout), "{e:?}");
}

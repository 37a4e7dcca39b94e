//! The bureau mock, black-box over HTTP: wire shapes, reserved IINs, fault knobs, report
//! sizes and structural faithfulness to the shared sample report.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kuzet_ident::Iin;
use kuzet_mocks::Fault;
use kuzet_mocks::fcb::{self, FcbMockOptions, ReportSize, SERVICE_PATH};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// The shared sample report (scrambled values), copied from `shared/samples/fcb/`.
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/credit-report-standard.xml"
);

/// A `GetReport` request as public clients send it (prefixes `soapenv`/`ws`).
fn request(user: &str, password: &str, iin: &str, consent: &str, id_type: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="http://ws.creditinfo.com/">
  <soapenv:Header>
    <ws:CigWsHeader>
      <ws:Culture>ru-RU</ws:Culture>
      <ws:UserName>{user}</ws:UserName>
      <ws:Password>{password}</ws:Password>
    </ws:CigWsHeader>
  </soapenv:Header>
  <soapenv:Body>
    <ws:GetReport>
      <ws:reportId>6</ws:reportId>
      <ws:doc>
        <keyValue>
          <reportImportCode>6</reportImportCode>
          <idNumber>{iin}</idNumber>
          <idNumberType>{id_type}</idNumberType>
          <ConsentConfirmed>{consent}</ConsentConfirmed>
        </keyValue>
      </ws:doc>
    </ws:GetReport>
  </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn good_request(iin: &str) -> String {
    request("kuzet-demo", "demo-password", iin, "1", "14")
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(url: &str, body: String) -> reqwest::Result<(u16, String, Vec<u8>)> {
    let resp = client()
        .post(url)
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = resp.bytes().await?.to_vec();
    Ok((status, ctype, bytes))
}

/// A minimal element tree with prefixes stripped, enough for assertions.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn path(&self, path: &str) -> &Node {
        path.split('/').fold(self, |n, p| {
            n.child(p)
                .unwrap_or_else(|| panic!("no {p} under {} (path {path})", n.name))
        })
    }
    fn value(&self, path: &str) -> &str {
        self.path(path).attr("value").unwrap_or("")
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.rsplit(':').next().unwrap_or_default().to_owned()
}

fn parse(xml: &[u8]) -> Result<Node, String> {
    let mut reader = Reader::from_reader(xml);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                stack.push(node_of(&e)?);
            }
            Event::Empty(e) => {
                let n = node_of(&e)?;
                stack.last_mut().ok_or("no parent")?.children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("unbalanced")?;
                stack.last_mut().ok_or("unbalanced")?.children.push(n);
            }
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(format!(
            "document ended with {} open elements",
            stack.len() - 1
        ));
    }
    let mut root = stack.pop().ok_or("empty")?;
    root.children
        .pop()
        .ok_or_else(|| "no root element".to_owned())
}

fn node_of(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let v = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
        attrs.push((local(a.key.as_ref()), v));
    }
    Ok(Node {
        name: local(e.name().as_ref()),
        attrs,
        ..Node::default()
    })
}

fn element_names(xml: &[u8]) -> BTreeSet<String> {
    let mut reader = Reader::from_reader(xml);
    let mut names = BTreeSet::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                names.insert(local(e.name().as_ref()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    names
}

/// The `CigResult` of a report envelope.
fn cig_result(envelope: &Node) -> &Node {
    assert_eq!(envelope.name, "Envelope");
    envelope.path("Body/GetReportResponse/GetReportResult/CigResult")
}

fn error_code(body: &[u8]) -> String {
    let env = parse(body).expect("well-formed envelope");
    env.path("Body/GetReportResponse/GetReportResult/CigResultError/Errmessage")
        .attr("code")
        .expect("code attribute")
        .to_owned()
}

/// `"1 234,56 KZT"` (or `"0"`, or empty) in tiyn.
fn tiyn(s: &str) -> i64 {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return 0;
    }
    let n: i64 = digits.parse().expect("amount");
    if s.contains(',') { n } else { n * 100 }
}

#[tokio::test]
async fn a_valid_request_gets_the_report_of_the_requested_iin() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    let iin = fcb::demo_iin();
    let (status, ctype, body) = post(&mock.url(SERVICE_PATH), good_request(iin.expose()))
        .await
        .expect("answer");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/xml"), "content type {ctype}");
    let env = parse(&body).expect("well-formed");
    let cig = cig_result(&env);
    assert_eq!(cig.attr("Version"), Some("4.0"));
    let root = cig.path("Result/Root");
    assert_eq!(root.value("Header/IIN"), iin.expose());
    assert_eq!(root.path("Header/IIN").attr("id"), Some("14"));
    assert_eq!(root.value("Header/DateOfBirth"), "25.05.1987");
    assert_eq!(root.value("Header/Gender"), "Мужской");
    // The envelope is the pure renderer's output, byte for byte.
    assert_eq!(
        String::from_utf8(body).expect("utf-8"),
        fcb::report_envelope(&iin, ReportSize::Full)
    );
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn any_path_answers_and_the_envelope_prefix_does_not_matter() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    let body = good_request(fcb::IIN_DEMO)
        .replace("soapenv:", "e:")
        .replace("xmlns:soapenv", "xmlns:e")
        .replace("ws:", "c:")
        .replace("xmlns:ws", "xmlns:c");
    let (status, _, bytes) = post(&mock.url("/"), body).await.expect("answer");
    assert_eq!(status, 200);
    let env = parse(&bytes).expect("well-formed");
    assert_eq!(
        cig_result(&env).value("Result/Root/Header/IIN"),
        fcb::IIN_DEMO
    );
}

#[tokio::test]
async fn reports_are_deterministic_per_iin() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    let other = Iin::synthesize(
        time::Date::from_calendar_date(1995, time::Month::March, 14).expect("date"),
        false,
        4242,
    )
    .expect("synthetic IIN");
    let url = mock.url(SERVICE_PATH);
    let (_, _, a) = post(&url, good_request(fcb::IIN_DEMO)).await.expect("a");
    let (_, _, b) = post(&url, good_request(fcb::IIN_DEMO)).await.expect("b");
    let (_, _, c) = post(&url, good_request(other.expose())).await.expect("c");
    assert_eq!(a, b);
    assert_ne!(a, c);
    let env = parse(&c).expect("well-formed");
    let header = cig_result(&env).path("Result/Root/Header");
    assert_eq!(header.value("IIN"), other.expose());
    assert_eq!(header.value("DateOfBirth"), "14.03.1995");
    assert_eq!(header.value("Gender"), "Женский");
    // The pure function agrees with itself, uncached.
    assert_eq!(
        fcb::report_xml(&other, ReportSize::TwoContracts),
        fcb::report_xml(&other, ReportSize::TwoContracts)
    );
}

#[tokio::test]
async fn reserved_and_invalid_iins_get_their_bureau_errors() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    let url = mock.url(SERVICE_PATH);
    for (iin, code) in [
        (fcb::IIN_NOT_FOUND, "1102"),
        (fcb::IIN_SEVERAL_SUBJECTS, "1112"),
        (fcb::IIN_BUREAU_INTERNAL_ERROR, "1111"),
        // A bad check digit: no subject carries it.
        ("870525301013", "1102"),
        ("", "1116"),
    ] {
        let (status, _, body) = post(&url, good_request(iin)).await.expect("answer");
        assert_eq!(status, 200, "bureau errors travel in a normal answer");
        assert_eq!(error_code(&body), code, "for IIN {iin:?}");
    }
    let wrong_type = request("kuzet-demo", "demo-password", fcb::IIN_DEMO, "1", "7");
    let (_, _, body) = post(&url, wrong_type).await.expect("answer");
    assert_eq!(error_code(&body), "1116");
}

#[tokio::test]
async fn credentials_and_consent_are_checked() {
    let mock = fcb::spawn(FcbMockOptions {
        expected_user: "lender".into(),
        expected_password: "s3cret".into(),
        ..FcbMockOptions::default()
    })
    .await
    .expect("spawn");
    let url = mock.url(SERVICE_PATH);
    let wrong = request("lender", "wrong", fcb::IIN_DEMO, "1", "14");
    assert_eq!(error_code(&post(&url, wrong).await.expect("a").2), "1104");
    let no_header = request("lender", "s3cret", fcb::IIN_DEMO, "1", "14")
        .replace("<soapenv:Header>", "<soapenv:Header><!--");
    let no_header = no_header.replace("</soapenv:Header>", "--></soapenv:Header>");
    assert_eq!(
        error_code(&post(&url, no_header).await.expect("b").2),
        "1104"
    );
    let no_consent = request("lender", "s3cret", fcb::IIN_DEMO, "0", "14");
    let body = post(&url, no_consent).await.expect("c").2;
    assert_eq!(error_code(&body), "-1017");
    let ok = request("lender", "s3cret", fcb::IIN_DEMO, "1", "14");
    let (status, _, body) = post(&url, ok).await.expect("d");
    assert_eq!(status, 200);
    assert!(parse(&body).is_ok_and(|e| cig_result(&e).name == "CigResult"));
}

#[tokio::test]
async fn unparseable_requests_get_a_client_soap_fault() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    let url = mock.url(SERVICE_PATH);
    for body in ["not xml at all <<", "<Envelope/>", "<a><b></a>"] {
        let (status, _, bytes) = post(&url, body.to_owned()).await.expect("answer");
        assert_eq!(status, 500);
        let env = parse(&bytes).expect("a fault is well-formed");
        let fault = env.path("Body/Fault");
        let code = &fault.path("faultcode").text;
        assert!(code == "S:Client" || code == "S:VersionMismatch", "{code}");
        assert!(!fault.path("faultstring").text.is_empty());
    }
}

#[tokio::test]
async fn fail_first_answers_faults_then_reports() {
    let mock = fcb::spawn(FcbMockOptions {
        fail_first: 2,
        fault: Some(Fault::SoapFault),
        ..FcbMockOptions::default()
    })
    .await
    .expect("spawn");
    let url = mock.url(SERVICE_PATH);
    for _ in 0..2 {
        let (status, _, body) = post(&url, good_request(fcb::IIN_DEMO))
            .await
            .expect("fault");
        assert_eq!(status, 500);
        let env = parse(&body).expect("well-formed fault");
        assert_eq!(env.path("Body/Fault/faultcode").text, "S:Server");
    }
    let (status, _, body) = post(&url, good_request(fcb::IIN_DEMO))
        .await
        .expect("report");
    assert_eq!(status, 200);
    assert!(cig_result(&parse(&body).expect("report")).name == "CigResult");
    assert_eq!(mock.calls(), 3);
}

#[tokio::test]
async fn each_fault_knob_behaves() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    let url = mock.url(SERVICE_PATH);

    mock.set_fault(Some(Fault::BureauError(1111)));
    assert_eq!(
        error_code(&post(&url, good_request(fcb::IIN_DEMO)).await.expect("a").2),
        "1111"
    );

    mock.set_fault(Some(Fault::Malformed));
    let (status, _, body) = post(&url, good_request(fcb::IIN_DEMO)).await.expect("b");
    assert_eq!(status, 200);
    assert!(parse(&body).is_err(), "malformed body must not parse");

    mock.set_fault(Some(Fault::Truncated));
    let (status, _, body) = post(&url, good_request(fcb::IIN_DEMO)).await.expect("c");
    assert_eq!(status, 200);
    let full = fcb::report_envelope(&fcb::demo_iin(), ReportSize::Full);
    assert_eq!(body.len(), full.len() / 2);
    assert!(full.as_bytes().starts_with(&body));
    assert!(parse(&body).is_err(), "a truncated envelope must not parse");

    mock.set_fault(Some(Fault::HttpStatus(503)));
    let (status, _, _) = post(&url, good_request(fcb::IIN_DEMO)).await.expect("d");
    assert_eq!(status, 503);

    mock.set_fault(Some(Fault::CloseConnection));
    assert!(
        post(&url, good_request(fcb::IIN_DEMO)).await.is_err(),
        "the connection must drop without a complete answer"
    );

    mock.fail_next(1, Fault::HttpStatus(502));
    assert_eq!(
        post(&url, good_request(fcb::IIN_DEMO)).await.expect("e").0,
        502
    );
    assert_eq!(
        post(&url, good_request(fcb::IIN_DEMO)).await.expect("f").0,
        200
    );

    mock.set_fault(None);
    mock.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(
        post(&url, good_request(fcb::IIN_DEMO)).await.expect("g").0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(mock.calls(), 8);
}

#[tokio::test]
async fn calls_are_counted_and_shutdown_stops_the_server() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.expect("spawn");
    assert_eq!(mock.calls(), 0);
    let url = mock.url(SERVICE_PATH);
    post(&url, good_request(fcb::IIN_NOT_FOUND))
        .await
        .expect("a");
    post(&url, "garbage".to_owned()).await.expect("b");
    assert_eq!(mock.calls(), 2);
    mock.shutdown().await.expect("clean stop");
    assert!(post(&url, good_request(fcb::IIN_DEMO)).await.is_err());
}

#[test]
fn report_sizes_are_in_range() {
    let iin = fcb::demo_iin();
    let full = fcb::report_xml(&iin, ReportSize::Full).len();
    let small = fcb::report_xml(&iin, ReportSize::TwoContracts).len();
    assert!((200_000..=400_000).contains(&full), "Full is {full} bytes");
    assert!(
        (40_000..=90_000).contains(&small),
        "TwoContracts is {small} bytes"
    );
    let small_doc = parse(fcb::report_xml(&iin, ReportSize::TwoContracts).as_bytes()).expect("xml");
    let root = small_doc.path("Result/Root");
    let contracts = |s: &str| {
        root.path(s)
            .children
            .iter()
            .filter(|c| c.name == "Contract")
            .count()
    };
    assert_eq!(
        contracts("ExistingContracts") + contracts("TerminatedContracts"),
        2
    );
}

#[test]
fn the_report_uses_every_element_name_of_the_sample() {
    let sample = std::fs::read(SAMPLE).expect("shared sample report");
    let sample_names = element_names(&sample);
    let ours = element_names(fcb::report_xml(&fcb::demo_iin(), ReportSize::Full).as_bytes());
    let missing: Vec<_> = sample_names.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "elements of the sample missing from the mock: {missing:?}"
    );
    assert!(sample_names.len() > 150, "the sample was read");
}

#[test]
fn summary_totals_match_the_contracts() {
    for iin in [fcb::IIN_DEMO, fcb::IIN_HEAVY_OVERDUE] {
        let iin = Iin::parse(iin).expect("valid");
        let doc = parse(fcb::report_xml(&iin, ReportSize::Full).as_bytes()).expect("xml");
        let root = doc.path("Result/Root");
        let open: Vec<&Node> = root
            .path("ExistingContracts")
            .children
            .iter()
            .filter(|c| c.name == "Contract")
            .collect();
        assert_eq!(open.len(), 12);
        let debt: i64 = open
            .iter()
            .map(|c| tiyn(c.value("OutstandingAmount")) + tiyn(c.value("ResidualAmount")))
            .sum();
        let overdue: i64 = open.iter().map(|c| tiyn(c.value("OverdueAmount"))).sum();
        let summary = root.path("SummaryInformation/ExistingContracts/SubjectRole");
        assert_eq!(summary.value("NumberOfContracts"), "12");
        assert_eq!(tiyn(summary.value("TotalOutstandingDebt")), debt);
        assert_eq!(tiyn(summary.value("TotalDebtOverdue")), overdue);
        assert!(overdue > 0, "some contracts are overdue");
        // Every contract has a 24-month payment history and its current overdue is the last
        // month's.
        for c in &open {
            let months: Vec<&Node> = c
                .path("PaymentsCalendar")
                .children
                .iter()
                .flat_map(|y| &y.children)
                .collect();
            assert_eq!(months.len(), 24);
            let last = months[23];
            assert_eq!(
                last.attr("value"),
                Some(c.value("NumberOfOverdueInstalments"))
            );
        }
    }
}

#[test]
fn edge_case_people_have_their_histories() {
    let none = Iin::parse(fcb::IIN_NO_CREDIT_HISTORY).expect("valid");
    let doc = parse(fcb::report_xml(&none, ReportSize::Full).as_bytes()).expect("xml");
    let root = doc.path("Result/Root");
    assert!(root.path("ExistingContracts").children.is_empty());
    assert!(root.path("TerminatedContracts").children.is_empty());
    assert_eq!(
        root.value("SummaryInformation/ExistingContracts/SubjectRole/NumberOfContracts"),
        "0"
    );
    assert_eq!(
        root.value("SummaryInformation/ExistingContracts/SubjectRole/TotalOutstandingDebt"),
        "0"
    );

    let heavy = Iin::parse(fcb::IIN_HEAVY_OVERDUE).expect("valid");
    let doc = parse(fcb::report_xml(&heavy, ReportSize::Full).as_bytes()).expect("xml");
    let root = doc.path("Result/Root");
    for c in root.path("ExistingContracts").children.iter() {
        let days: u32 = c.value("NumberOfOverdueInstalments").parse().expect("days");
        assert!(days >= 60, "heavy overdue contract with {days} days");
        assert!(tiyn(c.value("OverdueAmount")) > 0);
        assert_ne!(c.path("ContractStatus").attr("id"), Some("1"));
    }
    assert_ne!(
        root.value("SummaryInformation/ExistingContracts/SubjectRole/TotalFine"),
        "0"
    );
}

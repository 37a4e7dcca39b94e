//! `--mock-fixtures`: recorded answers served by the mocks instead of the synthetic ones.

mod common;

use common::TestApp;
use kuzet::contract::Role;
use serde_json::json;

#[tokio::test]
async fn recorded_answers_replace_the_synthetic_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let iin = common::demo_iin();

    // The bureau: the shared sample report, recorded for the demo subject.
    let sample = std::fs::read_to_string(
        root.join("adapters/fcb/tests/fixtures/credit-report-standard.xml"),
    )
    .expect("sample");
    let fcb_dir = dir.path().join("fcb/credit-report");
    std::fs::create_dir_all(&fcb_dir).expect("dir");
    std::fs::write(fcb_dir.join(format!("{iin}.xml")), &sample).expect("write");

    // The pension centre: one contribution two months ago (inside any 6-month window).
    let today = time::OffsetDateTime::now_utc().date();
    let month = today.month().previous().previous();
    let year = if u8::from(month) > u8::from(today.month()) {
        today.year() - 1
    } else {
        today.year()
    };
    let period = format!("{year}-{:02}", u8::from(month));
    let income = format!(
        r#"<g:IncomeResponse xmlns:g="urn:kuzet:gcvp:income:v1"><g:returnCode>0</g:returnCode>
<g:payments><g:payment><g:period>{period}</g:period><g:paymentDate>{period}-20</g:paymentDate>
<g:amount>60000.00</g:amount><g:employerBin>050140001238</g:employerBin>
<g:employerName>Recorded LLP</g:employerName></g:payment></g:payments></g:IncomeResponse>"#
    );
    let gcvp_dir = dir.path().join("gcvp/income");
    std::fs::create_dir_all(&gcvp_dir).expect("dir");
    std::fs::write(gcvp_dir.join(format!("{iin}.xml")), income).expect("write");

    let fixtures = dir.path().to_owned();
    let app = TestApp::spawn_with(move |c| c.mocks.fixtures = Some(fixtures)).await;
    let mut consent = common::consent_body(&iin);
    consent["recipients"] = json!(["fcb", "gcvp"]);
    let a = app
        .post(
            "/v1/consents",
            Some(app.token(Role::Underwriting)),
            &consent,
        )
        .await;
    assert_eq!(a.status, 201);

    let a = app.credit_report(&iin, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let expected =
        serde_json::to_value(kuzet_fcb::parse_report(sample.as_bytes()).expect("parses"))
            .expect("json");
    assert_eq!(a.body["data"]["credit_history"], expected["credit_history"]);

    let a = app
        .post(
            "/v1/exchange/gcvp/income",
            Some(app.token(Role::Underwriting)),
            &json!({"purpose": "contract_performance", "data": {"subject": {"iin": iin}}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let income = &a.body["data"]["income"];
    assert_eq!(
        income["contributions"].as_array().map(Vec::len),
        Some(1),
        "{income}"
    );
    assert_eq!(income["contributions"][0]["employer_name"], "Recorded LLP");

    // Another subject still gets the synthetic report.
    let other = kuzet_mocks::fcb::IIN_HEAVY_OVERDUE;
    app.consent(other).await;
    let a = app.credit_report(other, None).await;
    assert_eq!(a.status, 200);
    assert_ne!(a.body["data"]["credit_history"], expected["credit_history"]);
}

/// A fixtures folder that is not there (a typo) stops the start, instead of serving the
/// synthetic answers without a word: as a flag, and from the configuration.
#[test]
fn a_fixtures_folder_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-fixtures");
    let missing = missing.to_str().expect("path");
    for args in [
        vec!["serve", "--mock-upstreams", "--mock-fixtures", missing],
        vec!["mocks", "--mock-fixtures", missing],
    ] {
        let out = common::kuzet(&dir.path().join("data"), &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains("is not a folder"),
            "{}",
            common::stderr(&out)
        );
    }
    let config = dir.path().join("kuzet.toml");
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[mocks]\nfixtures = {missing:?}\n"),
    )
    .expect("config");
    let out = common::kuzet(
        &dir.path().join("data"),
        &[
            "--config",
            config.to_str().expect("path"),
            "serve",
            "--mock-upstreams",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("mocks.fixtures:")
            && common::stderr(&out).contains("is not a folder"),
        "{}",
        common::stderr(&out)
    );
}

//! Every field an adapter can produce is declared in the vocabulary (DESIGN.md invariant), and
//! the bureau report's parts other than the credit history are never received.

use std::path::Path;

use kuzet::contract::{Contracts, flatten};

fn contracts() -> Contracts {
    Contracts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")).expect("contracts")
}

fn missing(contracts: &Contracts, value: &serde_json::Value) -> Vec<String> {
    flatten(value)
        .into_iter()
        .filter(|p| !contracts.vocabulary().contains(p))
        .collect()
}

#[test]
fn every_path_of_a_fully_populated_bureau_report_is_in_the_vocabulary() {
    let contracts = contracts();
    let value = serde_json::to_value(kuzet_fcb::sample_full()).expect("json");
    let missing = missing(&contracts, &value);
    assert!(
        missing.is_empty(),
        "add these to contracts/fields.toml: {missing:#?}"
    );
}

#[test]
fn every_path_of_the_sample_and_the_mock_reports_is_in_the_vocabulary() {
    let contracts = contracts();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let xml = std::fs::read(root.join("adapters/fcb/tests/fixtures/credit-report-standard.xml"))
        .expect("sample");
    let mut reports = vec![kuzet_fcb::parse_report(&xml).expect("sample parses")];
    for iin in [
        kuzet_mocks::fcb::IIN_DEMO,
        kuzet_mocks::fcb::IIN_HEAVY_OVERDUE,
        kuzet_mocks::fcb::IIN_NO_CREDIT_HISTORY,
    ] {
        let iin = kuzet_ident::Iin::parse(iin).expect("valid");
        for size in [
            kuzet_mocks::fcb::ReportSize::Full,
            kuzet_mocks::fcb::ReportSize::TwoContracts,
        ] {
            let envelope = kuzet_mocks::fcb::report_envelope(&iin, size);
            let (report, _) =
                kuzet_fcb::parse_get_report_response(envelope.as_bytes()).expect("mock parses");
            reports.push(report);
        }
    }
    for report in reports {
        let value = serde_json::to_value(&report).expect("json");
        let missing = missing(&contracts, &value);
        assert!(missing.is_empty(), "{missing:#?}");
    }
}

#[test]
fn the_credit_report_receives_only_the_credit_history() {
    let contracts = contracts();
    let op = contracts
        .operation("fcb", "credit-report")
        .expect("fcb/credit-report");
    let value = serde_json::to_value(kuzet_fcb::sample_full()).expect("json");
    let filtered = kuzet::contract::filter_incoming(op, value);
    let kept = filtered.kept.as_object().expect("object");
    assert_eq!(kept.keys().collect::<Vec<_>>(), vec!["credit_history"]);
    for prefix in [
        "identity.",
        "addresses.",
        "documents.",
        "related_subjects.",
        "public_sources.",
    ] {
        assert!(
            filtered.dropped.iter().any(|d| d.starts_with(prefix)),
            "{prefix}"
        );
    }
    assert!(
        filtered
            .kept_fields
            .iter()
            .all(|f| f.starts_with("credit_history."))
    );
    // Every kept field is one the vocabulary puts in a category P1 allows.
    let p1 = contracts.purpose("contract_performance").expect("P1");
    for f in &filtered.kept_fields {
        let def = contracts.vocabulary().get(f).expect("declared");
        assert!(
            p1.categories.contains(&def.category),
            "{f}: {}",
            def.category
        );
    }
}

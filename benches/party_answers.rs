//! Parse time per answer for each party's payload: the bureau's full report (the sample's
//! size), the SHEP envelope around a registry's answer, the pension centre's contributions
//! (with the income estimate), and the traffic authority's vehicle status.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn fixture(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).expect("fixture")
}

fn answers(c: &mut Criterion) {
    let report = fixture("adapters/fcb/tests/fixtures/credit-report-standard.xml");
    let income = fixture("adapters/gcvp/tests/fixtures/answer-several-employers.xml");
    let vehicle = fixture("adapters/traffic/tests/fixtures/vehicle-answer-full.xml");
    let call = kuzet_mocks::shep::ShepCall {
        message_id: "0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10".into(),
        service_id: "GCVP_INCOME".into(),
        sender_id: "kuzet".into(),
        ..Default::default()
    };
    // The fixture is the content of `data` as SHEP delivers it, with prefixes declared higher
    // up; a wrapper declares them for a well-formed envelope.
    let wrapped = format!(
        r#"<ns3:IncomeResponse xmlns:ns3="urn:kuzet:gcvp:income:v1">{income}</ns3:IncomeResponse>"#
    );
    let envelope = kuzet_mocks::shep::response_envelope(&call, "resp-1", &wrapped);
    let window = kuzet_gcvp::Window::ending_before(time::macros::date!(2026 - 03 - 02), 6);
    let ids = kuzet_gcvp::ShepIds {
        message_id: "m".into(),
        response_message_id: None,
        correlation_id: None,
        session_id: None,
        service_id: "GCVP_INCOME".into(),
    };

    let mut g = c.benchmark_group("party_answers");
    g.bench_function("fcb_full_report", |b| {
        b.iter(|| kuzet_fcb::parse_report(black_box(report.as_bytes())).expect("parses"))
    });
    g.bench_function("shep_envelope", |b| {
        b.iter(|| kuzet_shep::parse_response(black_box(envelope.as_bytes())).expect("parses"))
    });
    g.bench_function("gcvp_income", |b| {
        b.iter(|| {
            let data = kuzet_gcvp::parse_answer_data(black_box(&income)).expect("parses");
            kuzet_gcvp::income_from_answer(&window, data, &ids).expect("income")
        })
    });
    g.bench_function("traffic_vehicle", |b| {
        b.iter(|| kuzet_traffic::parse_vehicle_answer_data(black_box(&vehicle)).expect("parses"))
    });
    g.finish();
}

criterion_group!(benches, answers);
criterion_main!(benches);

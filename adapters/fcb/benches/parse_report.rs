//! Parsing the bureau's standard report (~300 KB, every section): the bare `CigResult` and the
//! same wrapped in the JAX-WS envelope the service answers with.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const SAMPLE: &str = include_str!("../tests/fixtures/credit-report-standard.xml");

fn envelope(report: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>"#,
            r#"<ns2:GetReportResponse xmlns:ns2="http://ws.creditinfo.com/"><GetReportResult>"#,
            "{}",
            "</GetReportResult></ns2:GetReportResponse></S:Body></S:Envelope>"
        ),
        report
    )
}

fn parse(c: &mut Criterion) {
    let wrapped = envelope(SAMPLE);
    c.bench_function("parse_report (bare CigResult, 300 KB)", |b| {
        b.iter(|| kuzet_fcb::parse_report(black_box(SAMPLE.as_bytes())))
    });
    c.bench_function("parse_get_report_response (SOAP envelope, 300 KB)", |b| {
        b.iter(|| kuzet_fcb::parse_get_report_response(black_box(wrapped.as_bytes())))
    });
    c.bench_function("parse + serialize to JSON", |b| {
        b.iter(|| {
            let report = kuzet_fcb::parse_report(black_box(SAMPLE.as_bytes()));
            report.map(|r| serde_json::to_vec(&r).map(|v| v.len()))
        })
    });
}

criterion_group!(benches, parse);
criterion_main!(benches);

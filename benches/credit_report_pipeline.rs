//! Parse + flatten + filter of the sample bureau report (~300 KB): what the gateway does with
//! every credit report between the adapter's answer and the IN entry. Goal: ≤ 2 ms per report.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn pipeline(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let xml = std::fs::read(root.join("adapters/fcb/tests/fixtures/credit-report-standard.xml"))
        .expect("the sample report fixture");
    let contracts = kuzet::contract::Contracts::load(&root.join("contracts")).expect("contracts");
    let op = contracts
        .operation("fcb", "credit-report")
        .expect("fcb/credit-report")
        .clone();

    let mut group = c.benchmark_group("credit_report");
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| kuzet_fcb::parse_report(&xml).expect("parses"))
    });
    let report = kuzet_fcb::parse_report(&xml).expect("parses");
    group.bench_function("to_json", |b| {
        b.iter(|| serde_json::to_value(&report).expect("serializes"))
    });
    let value = serde_json::to_value(&report).expect("serializes");
    group.bench_function("flatten", |b| b.iter(|| kuzet::contract::flatten(&value)));
    group.bench_function("filter", |b| {
        b.iter_batched(
            || value.clone(),
            |v| kuzet::contract::filter_incoming(&op, v),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("parse_flatten_filter", |b| {
        b.iter(|| {
            let report = kuzet_fcb::parse_report(&xml).expect("parses");
            let value = serde_json::to_value(&report).expect("serializes");
            kuzet::contract::filter_incoming(&op, value)
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);

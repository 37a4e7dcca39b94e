//! How expensive a synthetic report is to render (the cache hides it after the first call
//! per IIN, but load tests with many distinct IINs pay it).

use criterion::{Criterion, criterion_group, criterion_main};
use kuzet_mocks::fcb::{self, ReportSize};

fn render(c: &mut Criterion) {
    let iin = fcb::demo_iin();
    c.bench_function("report_xml/full", |b| {
        b.iter(|| fcb::report_xml(std::hint::black_box(&iin), ReportSize::Full))
    });
    c.bench_function("report_xml/two_contracts", |b| {
        b.iter(|| fcb::report_xml(std::hint::black_box(&iin), ReportSize::TwoContracts))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);

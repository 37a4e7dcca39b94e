//! Prints the synthetic report for an IIN (default: the demo IIN), for eyeballing.
fn main() {
    let arg = std::env::args().nth(1);
    let iin = match arg.as_deref() {
        Some(s) => kuzet_ident::Iin::parse(s).unwrap_or_else(|_| kuzet_mocks::fcb::demo_iin()),
        None => kuzet_mocks::fcb::demo_iin(),
    };
    let size = if std::env::args().nth(2).as_deref() == Some("small") {
        kuzet_mocks::fcb::ReportSize::TwoContracts
    } else {
        kuzet_mocks::fcb::ReportSize::Full
    };
    print!("{}", kuzet_mocks::fcb::report_xml(&iin, size));
}

//! Sets up a bureau reporting benchmark: `cargo run --release --example report_setup -- DIR
//! COUNT` writes `DIR/contracts.jsonl` (COUNT synthetic contracts in the loan system's export
//! format, streamed) and a data dir `DIR/data` whose consent ledger covers every borrower (the
//! `fcb` upload's legal basis is consent). `scripts/report_bench.sh` then times
//! `kuzet report run --dry-run` over it.

use std::io::{BufWriter, Write};

use anyhow::Context;
use kuzet::registry::{Channel, Consent, Registry, SqliteRegistry};
use kuzet::transfer_log::Keys;
use kuzet_mocks::contracts_source::synthetic_contract;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("usage: report_setup DIR COUNT")?);
    let count: u64 = args
        .next()
        .context("usage: report_setup DIR COUNT")?
        .parse()
        .context("COUNT is a number")?;
    let data = dir.join("data");
    kuzet::app::ensure_data_dir(&data)?;
    let keys = Keys::open(&data)?;
    let registry = SqliteRegistry::open(&data)?;
    let mut out = BufWriter::new(std::fs::File::create(dir.join("contracts.jsonl"))?);
    let now = time::OffsetDateTime::now_utc();
    let mut consents = Vec::with_capacity(10_000);
    for n in 1..=count {
        let c = synthetic_contract(n);
        serde_json::to_writer(&mut out, &c)?;
        out.write_all(b"\n")?;
        let iin = kuzet_ident::Iin::parse(c["borrower"]["iin"].as_str().unwrap_or_default())?;
        consents.push(Consent {
            id: uuid::Uuid::new_v4(),
            subject: keys.subject_index(&iin),
            subject_masked: iin.masked(),
            recipients: vec!["fcb".into()],
            purposes: vec!["contract_performance".into()],
            granted_at: now - time::Duration::days(1),
            channel: Channel::Branch,
            evidence: format!("loan-contract:{n}"),
            expires_at: None,
            recorded_at: now,
            recorded_by: "report_setup".into(),
            revoked_at: None,
            revoked_by: None,
        });
        if consents.len() == 10_000 {
            registry.add_consents(&consents)?;
            consents.clear();
        }
    }
    registry.add_consents(&consents)?;
    out.flush()?;
    println!(
        "{} contracts in {}",
        count,
        dir.join("contracts.jsonl").display()
    );
    Ok(())
}

//! Writes synthetic loan contracts as JSON Lines to stdout, for tests and benchmarks:
//! `cargo run -p kuzet-mocks --example gen_contracts -- COUNT > contracts.jsonl` (COUNT
//! defaults to 1000). See `kuzet_mocks::contracts_source`.

use std::io::{BufWriter, ErrorKind, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let count = match std::env::args().nth(1) {
        None => 1000,
        Some(arg) => match arg.parse::<u64>() {
            Ok(count) => count,
            Err(_) => {
                eprintln!("usage: gen_contracts [COUNT]   (COUNT: a whole number, default 1000)");
                return ExitCode::from(2);
            }
        },
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written =
        kuzet_mocks::contracts_source::write_jsonl(&mut out, count).and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // `gen_contracts | head` closes the pipe early: not an error.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_contracts: cannot write: {e}");
            ExitCode::FAILURE
        }
    }
}

//! The `kuzet` command: the gateway, its operators' and auditors' tools, and the mock parties.

/// `println!` that hands a failed write (a reader that went away: `kuzet log query | head`)
/// back to the caller (`?`) instead of panicking; `main` turns a broken pipe into a quiet exit.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// `print!`, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?
    }};
}

mod evidence_cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser, Subcommand};

use kuzet::app::{App, AppOptions};
use kuzet::config::{self, Config};
use kuzet::contract::Role;
use kuzet::registry::{Registry, SqliteRegistry};

mod cli_backup;
mod cli_db;
mod cli_log;

/// The gateway allocates and frees many small objects per report (the parsed report, its JSON
/// tree); mimalloc does that markedly faster than the system allocator on this workload
/// (see the closing figures of `scripts/load.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// kuzet: the one door for personal data between the lender and the outside parties.
#[derive(Parser)]
#[command(name = "kuzet", version, about)]
struct Cli {
    /// The data directory (transfer log, registry, keys); else the configuration's `data_dir`,
    /// else ./kuzet-data.
    #[arg(long, global = true, env = "KUZET_DATA")]
    data: Option<PathBuf>,
    /// A configuration file (see `kuzet config example`); without it, the embedded defaults.
    #[arg(long, global = true, env = "KUZET_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The address to listen on (overrides server.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Start the mock parties in-process on loopback and use them: the newcomer's way in.
        #[arg(long)]
        mock_upstreams: bool,
        /// Where the in-process mock parties listen (overrides mocks.listen; with
        /// --mock-upstreams).
        #[arg(long, requires = "mock_upstreams")]
        mock_listen: Option<SocketAddr>,
        /// Recorded answers for the in-process mock parties (overrides mocks.fixtures; see
        /// README).
        #[arg(long, requires = "mock_upstreams", value_parser = existing_folder)]
        mock_fixtures: Option<PathBuf>,
    },
    /// Manage API clients and their roles.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Work with the contracts (policy as data).
    Contracts {
        #[command(subcommand)]
        command: ContractsCommand,
    },
    /// Work with the transfer log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Retention of the logged bodies (policy 8).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Data subjects' requests (policy 9).
    Subjects {
        #[command(subcommand)]
        command: SubjectsCommand,
    },
    /// The consent ledger.
    Consents {
        #[command(subcommand)]
        command: ConsentsCommand,
    },
    /// The scheduled bureau reporting: the lender's loan contracts to the First Credit Bureau.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// The database: PostgreSQL for several replicas (database.url or KUZET_DATABASE_URL).
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Run the mock parties as a standalone server (with the control endpoint
    /// /__mock/faults and the journal /__mock/journal).
    Mocks {
        /// The address of the mock server (every party at its real path).
        #[arg(long, default_value = "127.0.0.1:9101")]
        listen: SocketAddr,
        /// Serve HTTPS with a fresh test CA; its certificate and a client certificate are
        /// written to --tls-dir for the gateway's trust_store_pem / client_cert_pem.
        #[arg(long)]
        tls: bool,
        /// With --tls: require a client certificate issued by the test CA (mutual TLS).
        #[arg(long, requires = "tls")]
        mutual_tls: bool,
        /// Where --tls writes mock-ca.pem, mock-client.pem and mock-client.key.
        #[arg(long, default_value = "kuzet-mock-tls", requires = "tls")]
        tls_dir: PathBuf,
        /// Recorded answers served instead of the synthetic ones (see README).
        #[arg(long, value_parser = existing_folder)]
        mock_fixtures: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply the pending schema migrations (serve does it at start too).
    Migrate,
    /// Where the state lives, the schema version and the log's tip.
    Status,
    /// Move an embedded deployment to PostgreSQL with the chain intact (verified after).
    Copy {
        /// sqlite:PATH: the data directory to copy from (it is only read).
        #[arg(long)]
        from: String,
        /// postgres:URL: the database to copy into (it must be empty).
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Add a client; prints its bearer token as the last line (only a hash is stored).
    Add {
        name: String,
        /// underwriting | reporting | servicing | auditor | admin
        #[arg(long)]
        role: String,
    },
    /// List the clients.
    List,
    /// Revoke a client's token.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum ContractsCommand {
    /// Validate the contracts; exit 1 with the reasons.
    Check {
        /// The contracts folder (default: contracts.dir of the configuration).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Verify the hash chain and the signed checkpoints; exit 1 naming the first bad seq.
    Verify {
        /// The Ed25519 public key (hex) the checkpoints must be signed with; default: that of
        /// the data dir's checkpoint.key.
        #[arg(long, value_parser = evidence_cli::checked_public_key)]
        public_key: Option<String>,
        /// A checkpoint held outside the gateway (the JSON `kuzet log checkpoint` printed):
        /// the log must still contain the entry it pins. Repeatable.
        #[arg(long = "trusted-checkpoint", value_name = "FILE")]
        trusted_checkpoint: Vec<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the latest signed checkpoint (JSON), to publish or hand to an auditor.
    Checkpoint,
    /// Export a transfer's offline proof: its entries, the chain up to the next signed
    /// checkpoint, and the checkpoint with its public key.
    Proof {
        /// The transfer id (a UUID).
        #[arg(value_parser = kuzet::transfer_log::query::parse_transfer_id)]
        transfer_id: uuid::Uuid,
        /// The proof file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a proof file without the database; exit 1 when it does not hold.
    VerifyProof {
        /// The proof file (from `kuzet log proof`).
        file: PathBuf,
        /// The published checkpoint key (hex) the proof's checkpoint must be signed with.
        #[arg(long, value_parser = evidence_cli::checked_public_key)]
        public_key: Option<String>,
    },
    /// Search the log, newest first, one page at a time (read-only: runs beside the gateway).
    /// Exit 0 (also with no match), 2 for bad arguments, 1 when the log cannot be read.
    Query {
        #[command(flatten)]
        filters: cli_log::Filters,
        /// Entries per page (at most 1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Continue after a previous page (its next cursor).
        #[arg(long, value_parser = kuzet::transfer_log::query::parse_cursor)]
        cursor: Option<u64>,
        /// table | json | csv
        #[arg(long, value_enum, default_value_t)]
        format: cli_log::QueryFormat,
    },
    /// Export every matching entry, oldest first, to a file (written whole or not at all).
    Export {
        #[command(flatten)]
        filters: cli_log::Filters,
        /// jsonl | csv
        #[arg(long, value_enum)]
        format: cli_log::ExportFileFormat,
        /// The file to write (`-` for stdout); an existing file is kept unless --force.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// A consistent copy of the data directory (transfer log, registry, reporting state, keys)
    /// into one archive, taken while the gateway runs; verified after writing, exit 1 (and no
    /// file) when it does not verify.
    Backup {
        /// The archive to write (a tar, created 0600: it holds the keys); an existing file is
        /// kept unless --force.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into --data, which must be empty or not exist; verified before
    /// anything is put in place (exit 1 and nothing restored when it does not verify).
    Restore {
        /// The archive (from `kuzet log backup`).
        #[arg(long)]
        from: PathBuf,
        /// The Ed25519 public key (hex) the checkpoints must be signed with; default: that of
        /// the archive's checkpoint.key.
        #[arg(long, value_parser = evidence_cli::checked_public_key)]
        public_key: Option<String>,
    },
    /// Everything sent or received about one subject, for their access request (policy 9.1).
    SubjectReport {
        /// The subject's IIN (printed only masked).
        #[arg(long, value_parser = cli_log::IinParser)]
        iin: kuzet_ident::Iin,
        /// text | json
        #[arg(long, value_enum, default_value_t)]
        format: cli_log::ReportFormat,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Destroy the body keys of subjects whose every logged body is past its operation's
    /// retention (contracts); each destruction is logged. `serve` does it on a schedule.
    Apply {
        /// Only say what would be destroyed.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SubjectsCommand {
    /// A client's erasure request (policy 9): destroy the subject's body key, so that no one
    /// can read the bodies logged about them; the entries and the chain remain. Logged.
    Erase {
        /// The subject's IIN (printed only masked).
        #[arg(long, value_parser = cli_log::IinParser)]
        iin: kuzet_ident::Iin,
        /// The request's reference (e.g. the letter's registration number): at most 128
        /// characters, no control characters.
        #[arg(long, value_parser = evidence_cli::checked_reference)]
        reference: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConsentsCommand {
    /// Records consents given elsewhere (e.g. in the loan contracts of an existing book): one
    /// JSON object per line, each the body of `POST /v1/consents`, checked the same way; one
    /// already on record (a file imported again) is counted, not recorded twice. Exit 0 when
    /// every line was recorded or on record, 2 when some were refused (each named with its
    /// line), 1 when nothing could be recorded.
    Import {
        /// The JSON Lines file.
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// One reporting run now: exit 0 when every contract was accepted, 2 when some lines were
    /// refused or some records rejected (summary printed), 1 when the run failed.
    Run {
        /// The loan system's export: one contract per line (JSON Lines; see README).
        #[arg(long)]
        source: PathBuf,
        /// Validate, enforce, detect changes and build the zipped batches; send, record and
        /// log nothing.
        #[arg(long)]
        dry_run: bool,
        /// Records per uploaded file (overrides reporting.batch_size).
        #[arg(long)]
        batch_size: Option<usize>,
        /// Tests only: die at this point of the first batch, to prove that a rerun resumes.
        #[arg(long, hide = true, value_enum)]
        crash_at: Option<kuzet::reporting::CrashPoint>,
    },
    /// Recent runs and their outcomes, and any batch still waiting for the bureau.
    Status {
        /// How many runs to show.
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a complete, commented configuration.
    Example,
    /// Check a configuration file (FILE, else --config): its syntax, every value, and that the
    /// files it names can be read. Exit 0 when it can be used, 1 listing each problem with
    /// its line.
    Check {
        /// The file to check (default: --config / KUZET_CONFIG).
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    kuzet_transport::install_crypto_provider();
    let cli = Cli::parse();
    if let Command::Log {
        command: LogCommand::Query { filters, .. } | LogCommand::Export { filters, .. },
    } = &cli.command
        && let Some(problem) = filters.contradiction()
    {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, problem)
            .exit();
    }
    match run(cli) {
        Ok(code) => code,
        // The reader of a pipe went away (`kuzet log query | head`): stop quietly with the
        // status a shell shows for a process that SIGPIPE ended, as the Unix tools do.
        Err(e) if stdout_closed(&e) => ExitCode::from(128 + 13),
        Err(e) => {
            // Not `eprintln!`: a stderr that is a closed pipe too must not turn this into a panic.
            let _ =
                std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("error: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` comes from writing to a stdout whose reader has gone (a broken pipe).
fn stdout_closed(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(BrokenPipe))
            || cause.downcast_ref::<csv::Error>().is_some_and(
                |csv| matches!(csv.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

/// The process's log lines on stderr: human-readable or JSON (`[logging]`), every line of a
/// request inside its `request` span (request id, method, route). `RUST_LOG` overrides the
/// filter.
fn init_tracing(logging: &config::LoggingConfig) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&logging.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match logging.format {
        config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        config::LogFormat::Human => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::defaults_with_env()),
    }
}

/// `kuzet config check`: every problem of the file, each with its line; exit 1 when any.
fn config_check(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut problems: Vec<String> = Vec::new();
    match Config::check_text(&text) {
        Err(found) => problems.extend(found.iter().map(|p| p.located(file))),
        Ok(config) => {
            problems.extend(
                config
                    .file_problems()
                    .into_iter()
                    .map(|p| format!("{}: {p}", file.display())),
            );
            if config.contracts.dir.exists()
                && let Err(e) = kuzet::contract::check(&config.contracts.dir)
            {
                problems.push(format!(
                    "{}: contracts.dir ({}):\n{e}",
                    file.display(),
                    config.contracts.dir.display()
                ));
            }
            if problems.is_empty() {
                let env: Vec<&str> = config::SECRET_ENV
                    .into_iter()
                    .filter(|name| std::env::var_os(name).is_some())
                    .collect();
                outln!(
                    "{}: configuration OK (listen {}, {}, log {}){}",
                    file.display(),
                    config.server.listen,
                    if config.server.tls.is_some() {
                        "https"
                    } else {
                        "http"
                    },
                    if config.database.is_postgres() {
                        "postgres"
                    } else {
                        config.log.backend.as_str()
                    },
                    if env.is_empty() {
                        String::new()
                    } else {
                        format!("; from the environment: {}", env.join(", "))
                    }
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!(
        "{}: {} problem{}",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::FAILURE)
}

/// A folder that exists (`--mock-fixtures`): a mistyped one would serve the synthetic answers
/// without a word.
fn existing_folder(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{s} is not a folder"))
    }
}

/// The data directory: `--data` / `KUZET_DATA`, else the configuration's `data_dir`, else
/// `./kuzet-data`.
fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &cli.data {
        return Ok(dir.clone());
    }
    // `config check` reports a broken file itself; `config example` needs none.
    if let Some(path) = &cli.config
        && !matches!(cli.command, Command::Config { .. })
        && let Some(dir) = Config::load(path)?.data_dir
    {
        return Ok(dir);
    }
    Ok(PathBuf::from("./kuzet-data"))
}

/// The shared database for a read-only command, when the configuration names one.
fn shared_reader(
    config: Option<&PathBuf>,
    data: &std::path::Path,
) -> anyhow::Result<Option<std::sync::Arc<kuzet::db::Pg>>> {
    let config = load_config(config)?;
    cli_db::shared(&config, data, cli_db::Access::Read)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data = data_dir(&cli)?;
    match cli.command {
        Command::Serve {
            listen,
            mock_upstreams,
            mock_listen,
            mock_fixtures,
        } => {
            let mut config = load_config(cli.config.as_ref())?;
            init_tracing(&config.logging);
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if let Some(listen) = mock_listen {
                config.mocks.listen = listen;
            }
            if let Some(dir) = mock_fixtures {
                config.mocks.fixtures = Some(dir);
            }
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(serve(data, config, mock_upstreams))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Clients { command } => {
            let config = load_config(cli.config.as_ref())?;
            let embedded = !config.database.is_postgres();
            if embedded
                && !matches!(command, ClientsCommand::Add { .. })
                && !data.join(kuzet::registry::REGISTRY_FILE).exists()
            {
                // Listing or revoking creates nothing: a mistyped --data is told so.
                eprintln!(
                    "{} has no client registry: no client was ever added there (check --data)",
                    data.display()
                );
                return Ok(ExitCode::FAILURE);
            }
            kuzet::app::ensure_data_dir(&data)?;
            match cli_db::shared(&config, &data, cli_db::Access::Write)? {
                Some(pg) => clients(&kuzet::db::registry::PgRegistry::new(pg), command),
                None => clients(&SqliteRegistry::open(&data)?, command),
            }
        }
        Command::Db { command } => {
            let config = load_config(cli.config.as_ref())?;
            match command {
                DbCommand::Migrate => cli_db::migrate(&config, &data),
                DbCommand::Status => cli_db::status(&config, &data),
                DbCommand::Copy { from, to } => cli_db::copy(&config, &from, &to),
            }
        }
        Command::Contracts {
            command: ContractsCommand::Check { dir },
        } => {
            let config = load_config(cli.config.as_ref())?;
            // Without --dir, what `serve` would load: the configured folder, or the copy built
            // into the binary where that folder does not exist.
            let checked = match &dir {
                Some(dir) => kuzet::contract::check(dir).map(|s| (s, false)),
                None => kuzet::contract::Contracts::load_or_embedded(&config.contracts.dir)
                    .map(|(c, embedded)| (c.summary(), embedded)),
            };
            match checked {
                Ok((summary, embedded)) => {
                    if embedded {
                        outln!(
                            "no {} folder here: checked the contracts built into the binary \
                             (what serve uses)",
                            config.contracts.dir.display()
                        );
                    }
                    outln!("{summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Log {
            command:
                LogCommand::Verify {
                    public_key,
                    trusted_checkpoint,
                    json,
                },
        } => {
            let pg = shared_reader(cli.config.as_ref(), &data)?;
            evidence_cli::verify(
                &data,
                pg.as_ref(),
                public_key.as_deref(),
                &trusted_checkpoint,
                json,
            )
        }
        Command::Log {
            command: LogCommand::Checkpoint,
        } => evidence_cli::checkpoint(&data, shared_reader(cli.config.as_ref(), &data)?.as_ref()),
        Command::Log {
            command: LogCommand::Proof { transfer_id, out },
        } => evidence_cli::make_proof(
            &data,
            shared_reader(cli.config.as_ref(), &data)?.as_ref(),
            transfer_id,
            &out,
        ),
        Command::Log {
            command: LogCommand::VerifyProof { file, public_key },
        } => evidence_cli::verify_proof(&file, public_key.as_deref()),
        Command::Retention {
            command: RetentionCommand::Apply { dry_run, json },
        } => {
            let config = load_config(cli.config.as_ref())?;
            with_app(data, config, async |app| {
                evidence_cli::retention_apply(app, dry_run, json).await
            })
        }
        Command::Subjects {
            command: SubjectsCommand::Erase { iin, reference },
        } => {
            let config = load_config(cli.config.as_ref())?;
            with_app(data, config, async |app| {
                evidence_cli::erase(app, &iin, reference).await
            })
        }
        Command::Log {
            command:
                LogCommand::Query {
                    filters,
                    limit,
                    cursor,
                    format,
                },
        } => cli_log::query(
            &data,
            shared_reader(cli.config.as_ref(), &data)?.as_ref(),
            &filters,
            usize::from(limit),
            cursor,
            format,
        ),
        Command::Log {
            command:
                LogCommand::Export {
                    filters,
                    format,
                    out,
                    force,
                },
        } => cli_log::export(
            &data,
            shared_reader(cli.config.as_ref(), &data)?.as_ref(),
            &filters,
            format,
            &out,
            force,
        ),
        Command::Log {
            command: LogCommand::Backup { .. } | LogCommand::Restore { .. },
        } if load_config(cli.config.as_ref())?.database.is_postgres() => {
            bail!(
                "the state is in PostgreSQL (database.url): back it up with PostgreSQL's own \
                 tools (pg_dump, or base backups with WAL archiving), and keep the data \
                 directory's master.key and checkpoint.key with it"
            )
        }
        Command::Log {
            command: LogCommand::Backup { out, force },
        } => cli_backup::backup(&data, &out, force),
        Command::Log {
            command: LogCommand::Restore { from, public_key },
        } => cli_backup::restore(&data, &from, public_key.as_deref()),
        Command::Log {
            command: LogCommand::SubjectReport { iin, format },
        } => {
            let config = load_config(cli.config.as_ref())?;
            let pg = cli_db::shared(&config, &data, cli_db::Access::Read)?;
            cli_log::subject_report(&data, pg.as_ref(), &config.contracts.dir, &iin, format)
        }
        Command::Consents {
            command: ConsentsCommand::Import { file },
        } => {
            let config = load_config(cli.config.as_ref())?;
            import_consents(data, config, &file)
        }
        Command::Report { command } => {
            let mut config = load_config(cli.config.as_ref())?;
            if let ReportCommand::Run {
                batch_size: Some(n),
                ..
            } = &command
            {
                config.reporting.batch_size = *n;
                let problems = config.reporting.problems(config.fcb.upload.max_records);
                if !problems.is_empty() {
                    bail!("{}", problems.join("; "));
                }
            }
            report(data, config, command)
        }
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            out!("{}", config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => match file.or(cli.config) {
            Some(file) => config_check(&file),
            None => {
                eprintln!("kuzet config check: name a FILE (or set --config / KUZET_CONFIG)");
                Ok(ExitCode::from(2))
            }
        },
        Command::Mocks {
            listen,
            tls,
            mutual_tls,
            tls_dir,
            mock_fixtures,
        } => {
            init_tracing(&config::LoggingConfig::default());
            let tls = if tls {
                let pki = kuzet_mocks::tls::TestPki::generate()?;
                let files = pki.write(&tls_dir).with_context(|| {
                    format!("cannot write the test PKI to {}", tls_dir.display())
                })?;
                let auth = if mutual_tls {
                    kuzet_mocks::tls::ClientAuth::Required
                } else {
                    kuzet_mocks::tls::ClientAuth::None
                };
                Some((pki, auth, files))
            } else {
                None
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(async {
                let server = kuzet_mocks::server::spawn(kuzet_mocks::server::MockServerOptions {
                    listen,
                    tls: tls.as_ref().map(|(pki, auth, _)| (pki.clone(), *auth)),
                    fcb: kuzet_mocks::fcb::FcbMockOptions {
                        fixtures: mock_fixtures.clone(),
                        ..Default::default()
                    },
                    shep: kuzet_mocks::shep::ShepMockOptions {
                        fixtures: mock_fixtures.clone(),
                        ..Default::default()
                    },
                })
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
                // Like `serve`, the mocks keep serving when nobody reads their stdout any more
                // (a test or a script that read only the address).
                let banner = || -> std::io::Result<()> {
                    outln!("mock First Credit Bureau: {}", server.fcb_url());
                    if let Some((_, auth, files)) = &tls {
                        outln!(
                            "test CA (the gateway's [fcb.http] trust_store_pem): {}",
                            files.ca_pem.display()
                        );
                        if *auth == kuzet_mocks::tls::ClientAuth::Required {
                            outln!(
                                "client certificate (client_cert_pem, client_key_pem): {} {}",
                                files.client_cert_pem.display(),
                                files.client_key_pem.display()
                            );
                        }
                    }
                    outln!(
                        "control: POST/DELETE {} , journal: GET {}",
                        server.running.url("/__mock/faults"),
                        server.running.url("/__mock/journal")
                    );
                    outln!(
                        "demo subject IIN: {}",
                        kuzet_mocks::fcb::demo_iin().expose()
                    );
                    Ok(())
                };
                if let Err(e) = banner() {
                    tracing::warn!(error = %e, "Cannot print to stdout; serving on.");
                }
                shutdown_signal().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn clients(registry: &dyn Registry, command: ClientsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClientsCommand::Add { name, role } => {
            let Ok(role) = role.parse::<Role>() else {
                bail!(
                    "unknown role {role:?}; roles: {}",
                    Role::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                bail!("a client name is 1 to 64 characters of letters, digits, '-', '_' and '.'");
            }
            let token = kuzet::registry::new_token()?;
            registry.add_client(&name, role, &token)?;
            outln!(
                "client {name} added with role {}; its token (shown once):",
                role.as_str()
            );
            outln!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        ClientsCommand::List => {
            let clients = registry.list_clients()?;
            outln!("{:<24} {:<13} {:<27} STATUS", "NAME", "ROLE", "CREATED");
            for c in clients {
                let created = c
                    .created_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let status = match c.revoked_at {
                    Some(at) => format!(
                        "revoked {}",
                        at.format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    ),
                    None => "active".to_owned(),
                };
                outln!(
                    "{:<24} {:<13} {:<27} {status}",
                    c.name,
                    c.role.as_str(),
                    created
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientsCommand::Revoke { name } => {
            let client = registry.revoke_client(&name)?;
            outln!("client {} revoked", client.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(data: PathBuf, config: Config, mock_upstreams: bool) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let schedule = match (&config.reporting.schedule, &config.reporting.source) {
        (Some(expr), Some(source)) => Some((
            kuzet::reporting::schedule::parse(expr).map_err(anyhow::Error::msg)?,
            source.clone(),
        )),
        _ => None,
    };
    let retention_schedule = match config.log.retention_schedule.trim() {
        "" => None,
        expr => Some(kuzet::reporting::schedule::parse(expr).map_err(anyhow::Error::msg)?),
    };
    let tls = config.server.tls.clone();
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let app = App::build(AppOptions {
        data_dir: data.clone(),
        config,
        mock_upstreams,
    })
    .await?;
    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?;
    let server =
        kuzet::server::Server::start(app.router.clone(), app.state.clone(), listener, tls).await?;
    let addr = server.local_addr();
    let scheme = if server.is_tls() { "https" } else { "http" };
    let database = app.gateway.log().shared_database().map_or_else(
        || "sqlite (the data directory)".to_owned(),
        |pg| pg.shown().to_owned(),
    );
    tracing::info!(%addr, scheme, data = %data.display(), %database, contracts = %app.contracts_source, "kuzet is listening.");
    if app.contracts_source == "embedded" {
        tracing::info!("No ./contracts folder here: using the contracts embedded in the binary.");
    }
    if let Some(mock) = app.mock() {
        tracing::info!(
            url = %mock.url("/FCBServices/Service"),
            control = %mock.url("/__mock/faults"),
            journal = %mock.url("/__mock/journal"),
            "Mock parties running in-process."
        );
    }
    // A gateway keeps serving when nobody reads its stdout any more (`| head`, a dead `tee`):
    // what it prints there is for the person who started it; its log lines go to stderr.
    let banner = {
        use std::io::Write as _;
        writeln!(std::io::stdout(), "kuzet listening on {scheme}://{addr}")
    };
    if let Err(e) = banner {
        tracing::warn!(error = %e, "Cannot print to stdout; serving on.");
    }
    // Demo clients (tokens printed) only on the newcomer's way in, never against real parties.
    if mock_upstreams {
        let demo = app.create_demo_clients()?;
        if !demo.is_empty()
            && let Err(e) = print_demo(scheme, &addr, &demo)
        {
            tracing::warn!(
                error = %e,
                "Cannot print the demo clients' tokens to stdout; add clients with `kuzet \
                 clients add`."
            );
        }
    } else if app.gateway.registry().list_clients()?.is_empty() {
        tracing::warn!(
            "No API clients yet: every request is refused (401). Add one with \
             `kuzet clients add NAME --role ROLE`."
        );
    }
    let reporting = schedule.map(|(cron, source)| {
        kuzet::reporting::schedule::spawn(app.reporter.clone(), cron, source)
    });
    let retention = retention_schedule.map(|cron| {
        kuzet::retention::spawn(
            app.gateway.log().clone(),
            app.gateway.contracts().clone(),
            cron,
        )
    });
    let signal = wait_for_stop(&server).await;
    tracing::info!(
        signal,
        grace_seconds = grace.as_secs(),
        "Shutting down: finishing requests in flight."
    );
    let in_time = server.shutdown(grace).await?;
    for task in [reporting, retention].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    // Every acknowledged entry is already durable; closing the last handle drains the queue,
    // signs a final checkpoint and stops the writer.
    let log = app.gateway.log().clone();
    drop(app);
    log.close().await;
    tracing::info!(in_time, "kuzet stopped.");
    Ok(())
}

fn print_demo(
    scheme: &str,
    addr: &SocketAddr,
    demo: &[(String, Role, String)],
) -> std::io::Result<()> {
    let token_of = |role: Role| {
        demo.iter()
            .find(|(_, r, _)| *r == role)
            .map(|(_, _, t)| t.as_str())
            .unwrap_or_default()
    };
    let iin = kuzet_mocks::fcb::demo_iin();
    let iin = iin.expose();
    let uw = token_of(Role::Underwriting);
    outln!("Demo clients created (tokens are shown only now; only their hashes are stored):");
    for (name, role, token) in demo {
        outln!("  {name:<20} {:<13} {token}", role.as_str());
    }
    outln!();
    outln!("Try it (a synthetic subject of the mock bureau):");
    outln!(
        r#"  TOKEN={uw}
  CONSENT=$(curl -s -X POST {scheme}://{addr}/v1/consents -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{{"subject_iin":"{iin}","recipients":["fcb"],"purposes":["contract_performance"],"granted_at":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","channel":"app","evidence":"otp:demo-1"}}' | sed 's/.*"consent_id":"\([^"]*\)".*/\1/')
  curl -s -X POST {scheme}://{addr}/v1/exchange/fcb/credit-report -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{{"purpose":"contract_performance","consent_id":"'$CONSENT'","reference":"APP-1","data":{{"subject":{{"iin":"{iin}"}}}}}}'"#
    );
    outln!();
    Ok(())
}

/// Waits for SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for SIGTERM or SIGINT (returns its name), reloading the listener's TLS files on each
/// SIGHUP meanwhile.
async fn wait_for_stop(server: &kuzet::server::Server) -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("Cannot listen for signals; stopping on Ctrl-C only.");
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    loop {
        tokio::select! {
            _ = term.recv() => return "SIGTERM",
            _ = tokio::signal::ctrl_c() => return "SIGINT",
            _ = hup.recv() => match server.reload_tls() {
                Ok(()) if server.is_tls() => tracing::info!("SIGHUP: TLS certificate and key reloaded."),
                Ok(()) => tracing::info!("SIGHUP: no TLS to reload."),
                Err(e) => tracing::error!(error = %e, "SIGHUP: TLS reload failed; the previous certificate stays in use."),
            },
        }
    }
}

/// Runs `work` with the gateway built on `data` (no listener, no mock parties), for the
/// commands that act on its state: quiet tracing, their own output is the report.
fn with_app(
    data: PathBuf,
    config: Config,
    work: impl AsyncFnOnce(App) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    init_tracing_quiet();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    runtime.block_on(async {
        let app = App::build(AppOptions {
            data_dir: data,
            config,
            mock_upstreams: false,
        })
        .await?;
        work(app).await
    })
}

fn report(data: PathBuf, config: Config, command: ReportCommand) -> anyhow::Result<ExitCode> {
    use kuzet::reporting::{Event, RunOptions, Trigger};
    use std::io::IsTerminal;
    with_app(data, config, async |app| match command {
        ReportCommand::Status { limit, json } => report_status(&app, limit, json),
        ReportCommand::Run {
            source,
            dry_run,
            crash_at,
            ..
        } => {
            let options = RunOptions {
                source,
                dry_run,
                trigger: Trigger::Cli,
                crash_at,
            };
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            let plain = bar.is_none();
            let say = |line: &str| match &bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            };
            let watch = |event: Event<'_>| match event {
                Event::Started { bytes } => {
                    if let Some(b) = &bar {
                        b.set_length(bytes);
                    } else {
                        eprintln!("reading {bytes} bytes");
                    }
                }
                Event::Read { bytes, counts } => {
                    let msg = format!(
                        "read {} · refused {} · unchanged {} · sent {}",
                        counts.read, counts.invalid, counts.unchanged, counts.sent
                    );
                    match &bar {
                        Some(b) => {
                            b.set_position(bytes);
                            b.set_message(msg);
                        }
                        None => eprintln!("{msg}"),
                    }
                }
                Event::Refused(r) => say(&format!("refused {r}")),
                Event::Batch(b) => {
                    let line = match (&b.id, &b.bureau_batch_id) {
                        (None, _) => format!(
                            "batch (dry run): {} records, {} bytes zipped",
                            b.records, b.zipped_bytes
                        ),
                        (Some(id), Some(bureau)) => format!(
                            "batch {id}{}: {} records, bureau batch {bureau}: {} accepted, {} rejected",
                            if b.resumed { " (resumed)" } else { "" },
                            b.records,
                            b.accepted,
                            b.rejected
                        ),
                        (Some(id), None) => {
                            format!("batch {id}: {} records, not taken by the bureau", b.records)
                        }
                    };
                    if plain || b.id.is_some() {
                        say(&line);
                    }
                }
                Event::Note(n) => say(&format!("note: {n}")),
            };
            let result = app.reporter.run(&options, &watch).await;
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let report = match result {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            print_report(&report, dry_run)?;
            Ok(ExitCode::from(report.status.exit_code()))
        }
    })
}

fn print_report(r: &kuzet::reporting::RunReport, dry_run: bool) -> std::io::Result<()> {
    let c = &r.counts;
    let run = r
        .run_id
        .map_or("dry run".to_owned(), |id| format!("run {id}"));
    outln!(
        "{run}: {} — read {}, refused {}, unchanged {}, {} {}, accepted {}, rejected {}",
        r.status.as_str(),
        c.read,
        c.invalid,
        c.unchanged,
        if dry_run { "would send" } else { "sent" },
        c.sent,
        c.accepted,
        c.rejected
    );
    if c.held > 0 {
        outln!(
            "held: {} contracts wait for a batch the bureau is still processing",
            c.held
        );
    }
    if !r.refusals.is_empty() {
        outln!("refused lines:");
        for refusal in &r.refusals {
            outln!("  {refusal}");
        }
    }
    if !r.rejections.is_empty() {
        outln!("rejected by the bureau:");
        for (code, msg) in &r.rejections {
            outln!("  {code}: {msg}");
        }
    }
    for n in &r.notes {
        outln!("note: {n}");
    }
    if let Some(f) = &r.failure {
        outln!("failed: {f}");
    }
    Ok(())
}

fn report_status(app: &App, limit: u32, json: bool) -> anyhow::Result<ExitCode> {
    let store = app.reporter.store();
    let runs = store.recent_runs(limit)?;
    let waiting = store.unfinished_batches()?;
    if json {
        let batches: Vec<serde_json::Value> = waiting
            .iter()
            .map(|b| {
                serde_json::json!({"batch": b.id, "run": b.run_id, "state": b.state.as_str(),
                    "records": b.records, "bureau_batch_id": b.bureau_batch_id})
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "runs": runs, "waiting_batches": batches,
                "accepted_contracts": store.accepted_contracts()?,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        outln!("no reporting run yet");
    } else {
        outln!(
            "{:>5} {:<20} {:<8} {:<8} {:>7} {:>7} {:>9} {:>7} {:>8} {:>8} {:>6}  MESSAGE",
            "RUN",
            "STARTED (UTC)",
            "TRIGGER",
            "STATUS",
            "READ",
            "REFUSED",
            "UNCHANGED",
            "SENT",
            "ACCEPTED",
            "REJECTED",
            "HELD"
        );
        let fmt =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        for r in &runs {
            outln!(
                "{:>5} {:<20} {:<8} {:<8} {:>7} {:>7} {:>9} {:>7} {:>8} {:>8} {:>6}  {}",
                r.id,
                r.started_at.format(fmt).unwrap_or_default(),
                r.trigger,
                r.status,
                r.read,
                r.invalid,
                r.unchanged,
                r.sent,
                r.accepted,
                r.rejected,
                r.held,
                r.message.as_deref().unwrap_or("")
            );
        }
    }
    for b in &waiting {
        outln!(
            "batch {} (run {}) is {}: {} records{}",
            b.id,
            b.run_id,
            b.state.as_str(),
            b.records,
            b.bureau_batch_id
                .as_deref()
                .map(|id| format!(", bureau batch {id}; the next run polls it"))
                .unwrap_or_default()
        );
    }
    outln!(
        "contracts the bureau has accepted: {}",
        store.accepted_contracts()?
    );
    Ok(ExitCode::SUCCESS)
}

/// Warnings and errors only: the command's own output is the report.
fn init_tracing_quiet() {
    use tracing_subscriber::EnvFilter;
    // The gateway's start-up notices (no SHEP signer, …) are not this command's business.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,kuzet::app=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Who the consent ledger names as having recorded imported consents.
const IMPORT_RECORDER: &str = "kuzet-import";

fn import_consents(
    data: PathBuf,
    config: Config,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use kuzet::jsonl;
    let mut source =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    if source.metadata().is_ok_and(|m| m.is_file())
        && let Some(why) = jsonl::not_text(&mut source)
            .with_context(|| format!("cannot read {}", file.display()))?
    {
        anyhow::bail!("{} is not a file of consent lines: {why}", file.display());
    }
    with_app(data, config, async |app| {
        let gateway = &app.gateway;
        let mut pending: Vec<kuzet::registry::Consent> = Vec::with_capacity(10_000);
        let (mut recorded, mut known, mut refused) = (0u64, 0u64, 0u64);
        let mut input = std::io::BufReader::new(source);
        let mut bytes = Vec::new();
        let mut i = 0u64;
        while let Some((_, too_long)) = jsonl::read_line(&mut input, &mut bytes)
            .with_context(|| format!("reading {} failed", file.display()))?
        {
            i += 1;
            let line = match too_long {
                true => Err(jsonl::LINE_TOO_LONG),
                false => jsonl::text(i, &bytes),
            };
            let line = match line {
                Ok(line) => line,
                Err(why) => {
                    refused += 1;
                    eprintln!("line {i}: malformed_request: {why}");
                    continue;
                }
            };
            if line.is_empty() {
                continue;
            }
            let prepared = kuzet::api::parse_json::<kuzet::api::ConsentRequest>(line.as_bytes())
                .and_then(|req| gateway.prepare_consent(IMPORT_RECORDER, req.try_into()?));
            match prepared {
                // Already on record (an import run again, a line repeated): not recorded
                // twice, nor brought back to life if the subject has withdrawn it since.
                Ok(consent)
                    if pending.iter().any(|p| p.same_grant(&consent))
                        || gateway
                            .registry()
                            .consents_for(&consent.subject)?
                            .iter()
                            .any(|c| c.same_grant(&consent)) =>
                {
                    known += 1;
                }
                Ok(consent) => pending.push(consent),
                Err(e) => {
                    refused += 1;
                    let fields = if e.fields.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", e.fields.join(", "))
                    };
                    eprintln!("line {i}: {}: {}{fields}", e.code, e.message);
                }
            }
            if pending.len() == 10_000 {
                gateway.registry().add_consents(&pending)?;
                recorded += pending.len() as u64;
                pending.clear();
            }
        }
        gateway.registry().add_consents(&pending)?;
        recorded += pending.len() as u64;
        outln!(
            "consents recorded: {recorded}; already on record: {known}; lines refused: {refused}"
        );
        Ok(if refused == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        })
    })
}

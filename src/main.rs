//! The `kuzet` command: the gateway, its operators' and auditors' tools, and the mock parties.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use kuzet::app::{App, AppOptions};
use kuzet::config::{self, Config};
use kuzet::contract::Role;
use kuzet::registry::{Registry, SqliteRegistry};

/// The gateway allocates and frees many small objects per report (the parsed report, its JSON
/// tree); mimalloc does that markedly faster than the system allocator on this workload
/// (see the closing figures of `scripts/load.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// kuzet: the one door for personal data between the lender and the outside parties.
#[derive(Parser)]
#[command(name = "kuzet", version, about)]
struct Cli {
    /// The data directory (transfer log, registry, keys).
    #[arg(
        long,
        global = true,
        env = "KUZET_DATA",
        default_value = "./kuzet-data"
    )]
    data: PathBuf,
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
        #[arg(long, requires = "mock_upstreams")]
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
        #[arg(long)]
        mock_fixtures: Option<PathBuf>,
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
    /// Verify the hash chain; exit 1 naming the first bad seq.
    Verify,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a complete, commented configuration.
    Example,
}

fn main() -> ExitCode {
    kuzet_transport::install_crypto_provider();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            mock_upstreams,
            mock_listen,
            mock_fixtures,
        } => {
            init_tracing();
            let mut config = load_config(cli.config.as_ref())?;
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
            runtime.block_on(serve(cli.data, config, mock_upstreams))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Clients { command } => {
            kuzet::app::ensure_data_dir(&cli.data)?;
            let registry = SqliteRegistry::open(&cli.data)?;
            clients(&registry, command)
        }
        Command::Contracts {
            command: ContractsCommand::Check { dir },
        } => {
            let config = load_config(cli.config.as_ref())?;
            let dir = dir.unwrap_or(config.contracts.dir);
            match kuzet::contract::check(&dir) {
                Ok(summary) => {
                    println!("{summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Log {
            command: LogCommand::Verify,
        } => match kuzet::transfer_log::verify_data_dir(&cli.data) {
            Ok(summary) => {
                println!("{summary}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Command::Mocks {
            listen,
            tls,
            mutual_tls,
            tls_dir,
            mock_fixtures,
        } => {
            init_tracing();
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
                println!("mock First Credit Bureau: {}", server.fcb_url());
                if let Some((_, auth, files)) = &tls {
                    println!(
                        "test CA (the gateway's [fcb.http] trust_store_pem): {}",
                        files.ca_pem.display()
                    );
                    if *auth == kuzet_mocks::tls::ClientAuth::Required {
                        println!(
                            "client certificate (client_cert_pem, client_key_pem): {} {}",
                            files.client_cert_pem.display(),
                            files.client_key_pem.display()
                        );
                    }
                }
                println!(
                    "control: POST/DELETE {} , journal: GET {}",
                    server.running.url("/__mock/faults"),
                    server.running.url("/__mock/journal")
                );
                println!(
                    "demo subject IIN: {}",
                    kuzet_mocks::fcb::demo_iin().expose()
                );
                shutdown_signal().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn clients(registry: &SqliteRegistry, command: ClientsCommand) -> anyhow::Result<ExitCode> {
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
            println!(
                "client {name} added with role {}; its token (shown once):",
                role.as_str()
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        ClientsCommand::List => {
            let clients = registry.list_clients()?;
            println!("{:<24} {:<13} {:<27} STATUS", "NAME", "ROLE", "CREATED");
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
                println!(
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
            println!("client {} revoked", client.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(data: PathBuf, config: Config, mock_upstreams: bool) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let app = App::build(AppOptions {
        data_dir: data.clone(),
        config,
        mock_upstreams,
    })
    .await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data = %data.display(), contracts = %app.contracts_source, "kuzet is listening.");
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
    println!("kuzet listening on http://{addr}");
    let demo = app.create_demo_clients()?;
    if !demo.is_empty() {
        print_demo(&addr, &demo);
    }
    axum::serve(listener, app.router.clone())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("kuzet stopped.");
    Ok(())
}

fn print_demo(addr: &SocketAddr, demo: &[(String, Role, String)]) {
    let token_of = |role: Role| {
        demo.iter()
            .find(|(_, r, _)| *r == role)
            .map(|(_, _, t)| t.as_str())
            .unwrap_or_default()
    };
    let iin = kuzet_mocks::fcb::demo_iin();
    let iin = iin.expose();
    let uw = token_of(Role::Underwriting);
    println!("Demo clients created (tokens are shown only now; only their hashes are stored):");
    for (name, role, token) in demo {
        println!("  {name:<20} {:<13} {token}", role.as_str());
    }
    println!();
    println!("Try it (a synthetic subject of the mock bureau):");
    println!(
        r#"  TOKEN={uw}
  CONSENT=$(curl -s -X POST http://{addr}/v1/consents -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{{"subject_iin":"{iin}","recipients":["fcb"],"purposes":["contract_performance"],"granted_at":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","channel":"app","evidence":"otp:demo-1"}}' | sed 's/.*"consent_id":"\([^"]*\)".*/\1/')
  curl -s -X POST http://{addr}/v1/exchange/fcb/credit-report -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{{"purpose":"contract_performance","consent_id":"'$CONSENT'","reference":"APP-1","data":{{"subject":{{"iin":"{iin}"}}}}}}'"#
    );
    println!();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

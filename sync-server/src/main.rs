//! `daftar-sync`: the sync-server binary. `serve` runs the HTTP server; `user` and `assign`
//! administer the same database (safe while the server runs: SQLite WAL + busy timeout).
//!
//! Configuration is layered (defaults < `--config FILE` < `DAFTAR_SYNC_*` < flags); see
//! `daftar_sync_server::config`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use daftar_protocol::Role;
use daftar_sync_server::{
    AppState, Config, ConfigLayer, TeacherRef, UserSpec, add_user, open_store, open_store_to_serve,
    serve, shutdown_signal,
};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "daftar-sync", version, about = "Daftar sync-server")]
struct Cli {
    /// Database: sqlite://PATH or a file path (one server), or
    /// postgres://USER:PASSWORD@HOST:PORT/DB (several instances) [default: <data
    /// dir>/daftar-sync/server.db; env: DAFTAR_SYNC_DATABASE]
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// Configuration file (TOML, or JSON when it ends in .json)
    #[arg(long, global = true, value_name = "FILE", env = "DAFTAR_SYNC_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server until Ctrl-C or SIGTERM
    Serve {
        /// Address to listen on [default: 127.0.0.1:8787; env: DAFTAR_SYNC_LISTEN]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Bring the database's schema up to date and exit (before restarting several instances
    /// on a new version; `serve` does it too)
    Migrate,
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Assign a teacher to a journal (journal/<id> or a bare id)
    Assign {
        /// User name, or employee:<id>
        teacher: String,
        journal: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input (one line)
    Add {
        name: String,
        /// admin, dean, department_head or teacher
        #[arg(long)]
        role: String,
        /// Faculty id (dean) or department id (department_head)
        #[arg(long)]
        scope: Option<String>,
        /// HEMIS employee id (teacher)
        #[arg(long)]
        employee: Option<String>,
    },
    /// List users
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: they cannot sign in and their tokens stop working
    Disable { name: String },
    /// Re-enable a disabled user
    Enable { name: String },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("daftar-sync: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let flags = ConfigLayer {
        database: cli.database.clone(),
        listen: match &cli.command {
            Command::Serve { listen } => listen.clone(),
            _ => None,
        },
        ..ConfigLayer::default()
    };
    let config = Config::layered(cli.config.as_deref(), |k| std::env::var(k).ok(), &flags)
        .context("invalid configuration")?;
    let opened = match cli.command {
        Command::Serve { .. } => open_store_to_serve(&config.database),
        _ => open_store(&config.database),
    };
    let store = opened.with_context(|| format!("cannot open the database {}", config.database))?;

    match cli.command {
        Command::Serve { .. } => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start tokio")?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(config.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", config.listen))?;
                let bound = listener.local_addr().unwrap_or(config.listen);
                tracing::info!(
                    listen = %bound,
                    database = %config.database,
                    "daftar-sync serving"
                );
                // One line on standard output once the socket is bound (logs go to standard
                // error): with `--listen 127.0.0.1:0` it says which port the system chose, and
                // a supervisor or test waiting for it knows this process is the one listening.
                let mut out = std::io::stdout();
                let _ = writeln!(out, "daftar-sync listening on http://{bound}");
                let _ = out.flush();
                let metrics_listen = config.metrics_listen;
                let state = AppState::new(store, config);
                if let Some(addr) = metrics_listen {
                    let private = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
                    tracing::info!(metrics = %addr, "metrics on their own address");
                    let app = daftar_sync_server::metrics_router(state.clone());
                    tokio::spawn(async move {
                        if let Err(e) = axum::serve(private, app).await {
                            tracing::error!(error = %e, "the metrics listener failed");
                        }
                    });
                }
                serve(listener, state, shutdown_signal())
                    .await
                    .context("server failed")
            })
        }
        Command::Migrate => {
            // Opening the store applied every migration.
            eprintln!("the database {} is up to date", config.database);
            Ok(())
        }
        Command::User(UserCommand::Add {
            name,
            role,
            scope,
            employee,
        }) => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}; use admin, dean, department_head or teacher")
            })?;
            let password = read_password()?;
            let user = add_user(
                store.as_ref(),
                &UserSpec {
                    name,
                    role,
                    scope,
                    employee,
                    password,
                },
                &config.password,
            )?;
            eprintln!("created {} ({})", user.name, user.role.as_str());
            Ok(())
        }
        Command::User(UserCommand::List { json }) => {
            let users = store.users()?;
            let mut out = std::io::stdout().lock();
            if json {
                let list: Vec<_> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "name": u.name,
                            "role": u.role.as_str(),
                            "scope": u.scope,
                            "employee": u.employee,
                            "disabled": u.disabled,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<16} {:<16} {:<16} STATUS",
                    "NAME", "ROLE", "SCOPE", "EMPLOYEE"
                )?;
                for u in &users {
                    writeln!(
                        out,
                        "{:<24} {:<16} {:<16} {:<16} {}",
                        u.name,
                        u.role.as_str(),
                        u.scope.as_deref().unwrap_or("-"),
                        u.employee.as_deref().unwrap_or("-"),
                        if u.disabled { "disabled" } else { "active" }
                    )?;
                }
            }
            Ok(())
        }
        Command::User(UserCommand::Disable { name }) => set_disabled(&*store, &name, true),
        Command::User(UserCommand::Enable { name }) => set_disabled(&*store, &name, false),
        Command::Assign { teacher, journal } => {
            let teacher_ref = TeacherRef::parse(&teacher)
                .context("name the teacher by user name or employee:<id>")?;
            if let TeacherRef::User(name) = &teacher_ref {
                let user = store
                    .user_credentials(name)?
                    .map(|(u, _)| u)
                    .with_context(|| format!("no user named {name:?}"))?;
                if user.role != Role::Teacher {
                    bail!("{name} is a {}, not a teacher", user.role.as_str());
                }
            }
            let journal = daftar_sync_server::sync::journal_id(&journal)?;
            let outcome = store.assign(
                &[(teacher_ref.clone(), journal.clone())],
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
            )?;
            if outcome.pending > 0 {
                eprintln!("assigned {teacher_ref} to {journal} (pending: no such user yet)");
            } else {
                eprintln!("assigned {teacher_ref} to {journal}");
            }
            Ok(())
        }
    }
}

fn set_disabled(
    store: &dyn daftar_sync_server::Store,
    name: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    if !store.set_disabled(name, disabled)? {
        bail!("no user named {name:?}");
    }
    eprintln!("{} {name}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}

/// One line from standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as typed): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("the password is empty (give it on standard input, one line)");
    }
    Ok(password)
}

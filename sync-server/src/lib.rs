//! The Daftar sync-server: stores the automerge changes of every replica in an append-only
//! log and hands each user the changes of the documents they may read.
//!
//! The wire contract is `daftar-protocol`; `docs/sync-protocol.md` explains it end to end.
//! This crate is a library plus the thin `daftar-sync` binary:
//!
//! - [`api`]: the axum [`router`], handlers, extractors and middleware;
//! - [`sync`]: validation and decoding of sync requests;
//! - who may write what: the `daftar-rules` crate, shared with the clients;
//! - [`store`]: the [`Store`] trait and its SQLite backend;
//! - [`password`]: argon2id hashes and session tokens; [`limiter`]: sign-in rate limiting;
//! - [`config`]: layered configuration; [`metrics`]: `/metrics` counters;
//! - [`error`]: the one HTTP error type.
//!
//! Starting a server on a free port, as the integration tests do:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use daftar_sync_server::{AppState, Config, SqliteStore, serve};
//!
//! let store = Arc::new(SqliteStore::open_to_serve(std::path::Path::new("/tmp/server.db"))?);
//! let state = AppState::new(store, Config::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(listener, state, async { let _ = stopped.await; }));
//! // … talk HTTP to it …
//! let _ = stop.send(());
//! server.await??;
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
pub mod encoding;
pub mod error;
pub mod limiter;
pub mod live;
pub mod metrics;
pub mod password;
pub mod snapshots;
pub mod store;
pub mod sync;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use daftar_protocol::Role;

pub use api::{metrics_router, router};
pub use config::{Config, ConfigError, ConfigLayer, DatabaseUrl};
pub use error::ApiError;
pub use password::PasswordParams;
pub use store::{PostgresStore, SqliteStore, Store, StoreError, TeacherRef, User};

/// Connections each instance keeps to PostgreSQL (a push holds one; so does each request
/// waiting in `spawn_blocking`).
pub const POSTGRES_POOL: usize = 16;

use limiter::LoginLimiter;
use metrics::Metrics;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    config: Config,
    limiter: LoginLimiter,
    metrics: Metrics,
    snapshotter: snapshots::Snapshotter,
    live: live::Live,
    /// A hash to verify against for unknown user names (made on first use).
    dummy_hash: OnceLock<String>,
    /// When the store last passed a health check: `/healthz` answers from it for a second,
    /// so a flood of unauthenticated checks does not queue at the writer before pushes.
    healthy_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> AppState {
        let limiter = LoginLimiter::new(
            config.login_window,
            config.login_max_failures,
            config.login_max_failures_per_ip,
        );
        let live = live::Live::default();
        let waker = live.clone();
        store.listen(Arc::new(move || waker.bump()));
        AppState {
            inner: Arc::new(Shared {
                store,
                config,
                limiter,
                metrics: Metrics::default(),
                snapshotter: snapshots::Snapshotter::default(),
                live,
                dummy_hash: OnceLock::new(),
                healthy_at: std::sync::Mutex::new(None),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Checks the store, or trusts a check that passed less than a second ago.
    pub(crate) fn check_store(&self) -> Result<(), store::StoreError> {
        const FRESH: std::time::Duration = std::time::Duration::from_secs(1);
        let lock = || {
            self.inner
                .healthy_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        };
        if lock().is_some_and(|at| at.elapsed() < FRESH) {
            return Ok(());
        }
        self.inner.store.check()?;
        *lock() = Some(std::time::Instant::now());
        Ok(())
    }

    pub(crate) fn snapshotter(&self) -> &snapshots::Snapshotter {
        &self.inner.snapshotter
    }

    /// Live updates of this instance.
    pub fn live(&self) -> &live::Live {
        &self.inner.live
    }

    pub(crate) fn limiter(&self) -> &LoginLimiter {
        &self.inner.limiter
    }

    pub(crate) fn dummy_hash(&self) -> Result<String, ApiError> {
        if let Some(h) = self.inner.dummy_hash.get() {
            return Ok(h.clone());
        }
        let hash = self.inner.config.password.hash("daftar-dummy-password")?;
        Ok(self.inner.dummy_hash.get_or_init(|| hash).clone())
    }
}

/// Serve `state` on `listener` until `shutdown` resolves, then finish in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let live = state.live().clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Waiting live requests answer now, so they do not hold the shutdown up.
            live.close();
        })
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Open the store a database URL names, for a command beside the server (`user add`).
pub fn open_store(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(PostgresStore::connect(url, POSTGRES_POOL)?)),
    }
}

/// Open the store a database URL names, to serve it (on SQLite the one process that may:
/// [`SqliteStore::open_to_serve`]).
pub fn open_store_to_serve(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open_to_serve(path)?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(PostgresStore::connect(url, POSTGRES_POOL)?)),
    }
}

/// A user to create with [`add_user`].
#[derive(Clone)]
pub struct UserSpec {
    pub name: String,
    pub role: Role,
    pub scope: Option<String>,
    pub employee: Option<String>,
    pub password: String,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("scope", &self.scope)
            .field("employee", &self.employee)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why [`add_user`] refused.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error(
        "user names are 1 to 64 characters without spaces, and cannot start with \"employee:\""
    )]
    BadName,
    #[error("the password is empty")]
    EmptyPassword,
    #[error("a {role} needs --scope ({what} id)")]
    MissingScope {
        role: &'static str,
        what: &'static str,
    },
    #[error("a {role} has no scope; drop --scope")]
    UnexpectedScope { role: &'static str },
    #[error("only teachers have an employee id; drop --employee")]
    UnexpectedEmployee,
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validate, hash the password with `params` and create the user.
pub fn add_user(
    store: &dyn Store,
    spec: &UserSpec,
    params: &PasswordParams,
) -> Result<User, AddUserError> {
    let name = spec.name.trim();
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
        || name.starts_with("employee:")
    {
        return Err(AddUserError::BadName);
    }
    if spec.password.is_empty() {
        return Err(AddUserError::EmptyPassword);
    }
    let scope = spec
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let employee = spec
        .employee
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (spec.role, scope) {
        (Role::Dean, None) => {
            return Err(AddUserError::MissingScope {
                role: "dean",
                what: "faculty",
            });
        }
        (Role::DepartmentHead, None) => {
            return Err(AddUserError::MissingScope {
                role: "department_head",
                what: "department",
            });
        }
        (role @ (Role::Admin | Role::Teacher), Some(_)) => {
            return Err(AddUserError::UnexpectedScope {
                role: role.as_str(),
            });
        }
        _ => {}
    }
    if employee.is_some() && spec.role != Role::Teacher {
        return Err(AddUserError::UnexpectedEmployee);
    }
    let hash = params.hash(&spec.password)?;
    let user = store.add_user(
        &store::NewUser {
            name: name.to_owned(),
            role: spec.role,
            scope: scope.map(str::to_owned),
            employee: employee.map(str::to_owned),
            password_hash: hash,
        },
        api::now_ms(),
    )?;
    Ok(user)
}

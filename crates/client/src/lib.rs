//! # daftar-client
//!
//! The sync client shared by the `daftar` CLI and the desktop app:
//!
//! - [`credentials`]: the sign-in token in the OS keyring (Secret Service, else the kernel
//!   keyutils store), keyed by server, user and replica; `DAFTAR_TOKEN` overrides it;
//! - [`transport`]: HTTP to the sync-server (reqwest + rustls), counting requests and bytes;
//! - [`engine`]: one sync: push what the server lacks, pull what we lack, in as few round trips
//!   as the data allows (one when nothing changed);
//! - [`background`]: the loop that syncs on start, shortly after local edits, periodically and
//!   as soon as the network returns, with capped exponential backoff and jitter, and publishes
//!   a [`background::SyncStatus`] for the UI and `daftar status`.

pub mod background;
pub mod credentials;
pub mod engine;
pub mod hemis;
pub mod materials;
pub mod signin;
pub mod transport;

use daftar_protocol::ErrorCode;

/// Everything that can go wrong talking to the server, in terms a caller branches on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the server at {server}: {reason}")]
    Offline { server: String, reason: String },

    #[error("the server does not recognise this sign-in any more; sign in again")]
    Unauthorized,

    #[error("wrong user name or password")]
    BadCredentials,

    #[error("too many sign-in attempts; wait a few minutes and try again")]
    RateLimited,

    #[error("not allowed: {0}")]
    Forbidden(String),

    #[error("the server refused the request ({code:?}): {message}")]
    Server { code: ErrorCode, message: String },

    #[error("the server sent an answer Daftar cannot read: {0}")]
    Protocol(String),

    #[error("not signed in to a sync server; run `daftar login --server URL --user NAME`")]
    NotSignedIn,

    #[error(
        "no keyring is available to keep the sign-in token safely ({0}); set DAFTAR_TOKEN to sync without one"
    )]
    NoKeyring(String),

    #[error(transparent)]
    Core(#[from] daftar_core::CoreError),
}

impl ClientError {
    /// A short stable name for the kind of error (CLI `--json`, desktop IPC).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Offline { .. } => "offline",
            ClientError::Unauthorized | ClientError::NotSignedIn => "unauthorized",
            ClientError::BadCredentials => "bad_credentials",
            ClientError::RateLimited => "rate_limited",
            ClientError::Forbidden(_) => "forbidden",
            ClientError::Server { .. } | ClientError::Protocol(_) => "server",
            ClientError::NoKeyring(_) => "no_keyring",
            ClientError::Core(e) => e.kind(),
        }
    }

    /// Whether trying again later may help (network, server hiccups).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Offline { .. } | ClientError::RateLimited => true,
            ClientError::Server { code, .. } => code.is_retryable(),
            _ => false,
        }
    }

    /// The error in words a teacher understands.
    pub fn for_people(&self) -> String {
        match self {
            ClientError::Offline { .. } => {
                "No connection to the server. Your marks are saved on this computer and will be sent when the connection returns.".into()
            }
            ClientError::Unauthorized | ClientError::NotSignedIn => {
                "Please sign in again to send your marks.".into()
            }
            ClientError::Forbidden(reason) => format!("The server did not accept some changes: {reason}"),
            other => other.to_string(),
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

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
    /// What kind of error this is (CLI `--json`, the app's sync status).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Offline { .. } => ErrorKind::Offline,
            ClientError::Unauthorized | ClientError::NotSignedIn => ErrorKind::Unauthorized,
            ClientError::BadCredentials => ErrorKind::BadCredentials,
            ClientError::RateLimited => ErrorKind::RateLimited,
            ClientError::Forbidden(_) => ErrorKind::Forbidden,
            ClientError::Server { .. } | ClientError::Protocol(_) => ErrorKind::Server,
            ClientError::NoKeyring(_) => ErrorKind::NoKeyring,
            ClientError::Core(e) => ErrorKind::Local(e.kind()),
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

/// What went wrong, in the one vocabulary the CLI's `--json` errors and the app's sync status
/// share (snake_case): the client's own kinds, `no_token` (signed in here, but no token to sync
/// with), and core's kinds as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Offline,
    Unauthorized,
    NoToken,
    BadCredentials,
    RateLimited,
    Forbidden,
    Server,
    NoKeyring,
    Local(daftar_core::ErrorKind),
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Offline => "offline",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NoToken => "no_token",
            ErrorKind::BadCredentials => "bad_credentials",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Server => "server",
            ErrorKind::NoKeyring => "no_keyring",
            ErrorKind::Local(k) => k.as_str(),
        }
    }

    /// Every kind, for the TypeScript union (core's as `daftar_core::ErrorKind::ALL` has them;
    /// its `forbidden` is this one's).
    pub fn all() -> Vec<ErrorKind> {
        let mut all = vec![
            ErrorKind::Offline,
            ErrorKind::Unauthorized,
            ErrorKind::NoToken,
            ErrorKind::BadCredentials,
            ErrorKind::RateLimited,
            ErrorKind::Forbidden,
            ErrorKind::Server,
            ErrorKind::NoKeyring,
        ];
        for c in daftar_core::ErrorKind::ALL {
            let kind = ErrorKind::Local(c);
            if !all.iter().any(|k| k.as_str() == kind.as_str()) {
                all.push(kind);
            }
        }
        all
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialised as its name, flat (`"offline"`, `"disk_full"`).
impl serde::Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

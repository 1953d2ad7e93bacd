//! The one error type every command returns. It is tagged (`kind`) so the UI branches on what
//! happened (offline, not allowed, bad input in a named field…) instead of parsing text, and
//! every variant carries a message for people (English; the UI shows a translated headline by
//! `kind` and this message as the detail).

use daftar_client::ClientError;
use daftar_core::CoreError;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS, thiserror::Error, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IpcError {
    /// The server cannot be reached. Local work is never affected by this.
    #[error("{message}")]
    Offline { message: String },
    /// Not allowed: a locked lesson, a role without the right, a server refusal.
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    NotFound { message: String },
    /// Input the user can fix; `field` names it (`value`, `date`, `pair`, `server`…).
    #[error("{message}")]
    InvalidInput { field: String, message: String },
    /// The action clashes with the state of things (e.g. demo data in a folder about to sign in).
    #[error("{message}")]
    Conflict { message: String },
    /// Wrong password, or the sign-in expired: sign in again.
    #[error("{message}")]
    Unauthorized { message: String },
    /// Something broke that the user cannot fix; details are in the log file.
    #[error("{message}")]
    Internal { message: String },
}

impl IpcError {
    pub fn invalid(field: &str, message: impl Into<String>) -> IpcError {
        IpcError::InvalidInput {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> IpcError {
        IpcError::Internal {
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> IpcError {
        IpcError::Forbidden {
            message: message.into(),
        }
    }
}

impl From<CoreError> for IpcError {
    fn from(e: CoreError) -> Self {
        let message = e.to_string();
        match e {
            CoreError::NotFound { .. } => IpcError::NotFound { message },
            CoreError::Ambiguous { .. } => IpcError::invalid("id", message),
            CoreError::InvalidInput { field, .. } => IpcError::invalid(field, message),
            CoreError::Locked { .. } | CoreError::NotAllowed { .. } => {
                IpcError::Forbidden { message }
            }
            CoreError::NeedsConfirmation { .. } => IpcError::Conflict { message },
            CoreError::BadBundle(_)
            | CoreError::ForeignBundle { .. }
            | CoreError::HemisImport { .. } => IpcError::invalid("file", message),
            CoreError::DiskFull | CoreError::ReadOnly => IpcError::Internal { message },
            CoreError::SchemaTooNew { .. }
            | CoreError::NotInitialised { .. }
            | CoreError::Document { .. }
            | CoreError::Unreadable { .. }
            | CoreError::Sqlite(_)
            | CoreError::Io { .. }
            | CoreError::Xlsx(_) => {
                tracing::error!(error = %message, "core failure");
                IpcError::Internal { message }
            }
        }
    }
}

impl From<ClientError> for IpcError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Core(core) => core.into(),
            ClientError::Offline { .. } => IpcError::Offline {
                message: e.for_people(),
            },
            ClientError::Unauthorized | ClientError::NotSignedIn | ClientError::BadCredentials => {
                IpcError::Unauthorized {
                    message: e.to_string(),
                }
            }
            ClientError::RateLimited | ClientError::Forbidden(_) => IpcError::Forbidden {
                message: e.to_string(),
            },
            ClientError::Server { .. } | ClientError::Protocol(_) | ClientError::NoKeyring(_) => {
                tracing::warn!(error = %e, "client failure");
                IpcError::Internal {
                    message: e.to_string(),
                }
            }
        }
    }
}

pub type IpcResult<T> = Result<T, IpcError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialise_with_a_kind_the_ui_branches_on() {
        let e: IpcError = CoreError::invalid("grade", "grade 120 is outside 1–100").into();
        let json = serde_json::to_value(&e).expect("serialise");
        assert_eq!(json["kind"], "invalidInput");
        assert_eq!(json["field"], "grade");
        assert_eq!(json["message"], "grade 120 is outside 1–100");

        let locked: IpcError = CoreError::Locked {
            what: "this lesson".into(),
            reason: "deadline".into(),
        }
        .into();
        assert_eq!(
            serde_json::to_value(&locked).expect("serialise")["kind"],
            "forbidden"
        );

        let offline: IpcError = ClientError::Offline {
            server: "http://x".into(),
            reason: "refused".into(),
        }
        .into();
        assert_eq!(
            serde_json::to_value(&offline).expect("serialise")["kind"],
            "offline"
        );
        let missing: IpcError = CoreError::not_found("journal", "x").into();
        assert_eq!(
            serde_json::to_value(&missing).expect("serialise")["kind"],
            "notFound"
        );
        let bad: IpcError = ClientError::BadCredentials.into();
        assert_eq!(
            serde_json::to_value(&bad).expect("serialise")["kind"],
            "unauthorized"
        );
    }
}

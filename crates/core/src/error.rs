//! The core's one error type. Variants say what went wrong in terms a caller can branch on
//! (`NotFound`, `JournalLocked`, `SchemaTooNew`…); messages are written for people.

use std::path::PathBuf;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{what} {id:?} was not found")]
    NotFound { what: &'static str, id: String },

    #[error("{id:?} matches several {what}: {candidates}; type more of it")]
    Ambiguous {
        what: &'static str,
        id: String,
        candidates: String,
    },

    #[error("{message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },

    #[error("{what} is locked ({reason}); ask the dean's office to reopen it")]
    Locked { what: String, reason: String },

    /// The journal's rules (`daftar-rules`) do not let this user make this edit; the reason
    /// is the one the server would give.
    #[error("{reason}")]
    NotAllowed { reason: String },

    /// The edit is allowed but unusual (a lesson on a holiday): it is made only when the
    /// person confirms it (`--confirm` in the CLI, a dialog in the app).
    #[error("{reason}")]
    NeedsConfirmation { reason: String },

    #[error(
        "this replica was written by a newer Daftar (schema {found}, this version knows up to {supported}); update Daftar to open it"
    )]
    SchemaTooNew { found: i64, supported: i64 },

    #[error("the replica at {path} is not initialised; run `daftar init` or `daftar demo` first")]
    NotInitialised { path: PathBuf },

    #[error("the bundle {0}")]
    BadBundle(String),

    #[error("the bundle belongs to another university ({found}); this replica is for {expected}")]
    ForeignBundle { expected: String, found: String },

    #[error("HEMIS import refused: {file}: {message}")]
    HemisImport { file: String, message: String },

    #[error("the document {doc} is damaged: {source}")]
    Document {
        doc: String,
        #[source]
        source: Box<automerge::AutomergeError>,
    },

    /// Bytes from outside that automerge could not take (see `daftar_rules::guard`).
    #[error("the document {doc} cannot be read: {reason}")]
    Unreadable { doc: String, reason: String },

    /// The disk holding the replica has no room: the edit was not saved, nothing earlier
    /// is lost.
    #[error(
        "the disk is full, so this was not saved (everything saved before is safe); free some space and try again"
    )]
    DiskFull,

    /// The replica's disk or folder cannot be written (mounted read-only, no permission, or
    /// failing).
    #[error(
        "the replica's disk cannot be written (read-only, no permission or failing), so this was not saved; everything saved before is safe"
    )]
    ReadOnly,

    #[error("the local database failed: {0}")]
    Sqlite(rusqlite::Error),

    #[error("file error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the XLSX writer failed: {0}")]
    Xlsx(#[source] Box<rust_xlsxwriter::XlsxError>),
}

impl From<rust_xlsxwriter::XlsxError> for CoreError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        CoreError::Xlsx(Box::new(e))
    }
}

impl From<daftar_protocol::ids::IdError> for CoreError {
    fn from(e: daftar_protocol::ids::IdError) -> Self {
        CoreError::InvalidInput {
            field: "id",
            message: e.to_string(),
        }
    }
}

impl From<daftar_rules::values::InvalidValue> for CoreError {
    fn from(e: daftar_rules::values::InvalidValue) -> Self {
        CoreError::InvalidInput {
            field: e.field,
            message: e.message,
        }
    }
}

impl CoreError {
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        CoreError::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::InvalidInput {
            field,
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io {
            path: path.into(),
            source,
        }
    }

    /// The error says what arrived for one document cannot be applied (a damaged change or
    /// document), as opposed to a failure of this replica's own storage.
    pub fn is_damaged_document(&self) -> bool {
        matches!(
            self,
            CoreError::Document { .. }
                | CoreError::Unreadable { .. }
                | CoreError::BadBundle(_)
                | CoreError::InvalidInput { .. }
        )
    }

    /// What kind of error this is, for callers that branch on it (`--json` output, IPC).
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::NotFound { .. } => ErrorKind::NotFound,
            CoreError::Ambiguous { .. } | CoreError::InvalidInput { .. } => ErrorKind::InvalidInput,
            CoreError::Locked { .. } => ErrorKind::Locked,
            CoreError::NotAllowed { .. } => ErrorKind::Forbidden,
            CoreError::NeedsConfirmation { .. } => ErrorKind::NeedsConfirmation,
            CoreError::SchemaTooNew { .. } => ErrorKind::SchemaTooNew,
            CoreError::NotInitialised { .. } => ErrorKind::NotInitialised,
            CoreError::BadBundle(_) | CoreError::ForeignBundle { .. } => ErrorKind::BadBundle,
            CoreError::HemisImport { .. } => ErrorKind::BadImport,
            CoreError::DiskFull => ErrorKind::DiskFull,
            CoreError::ReadOnly => ErrorKind::ReadOnly,
            CoreError::Document { .. }
            | CoreError::Unreadable { .. }
            | CoreError::Sqlite(_)
            | CoreError::Io { .. }
            | CoreError::Xlsx(_) => ErrorKind::Internal,
        }
    }
}

/// The kinds of [`CoreError`], one stable snake_case name each (`--json` errors, IPC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    InvalidInput,
    Locked,
    Forbidden,
    NeedsConfirmation,
    SchemaTooNew,
    NotInitialised,
    BadBundle,
    BadImport,
    DiskFull,
    ReadOnly,
    Internal,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::NotFound,
        ErrorKind::InvalidInput,
        ErrorKind::Locked,
        ErrorKind::Forbidden,
        ErrorKind::NeedsConfirmation,
        ErrorKind::SchemaTooNew,
        ErrorKind::NotInitialised,
        ErrorKind::BadBundle,
        ErrorKind::BadImport,
        ErrorKind::DiskFull,
        ErrorKind::ReadOnly,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Locked => "locked",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NeedsConfirmation => "needs_confirmation",
            ErrorKind::SchemaTooNew => "schema_too_new",
            ErrorKind::NotInitialised => "not_initialised",
            ErrorKind::BadBundle => "bad_bundle",
            ErrorKind::BadImport => "bad_import",
            ErrorKind::DiskFull => "disk_full",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<rusqlite::Error> for CoreError {
    /// A full or read-only disk gets its own variant, with words for people; any other
    /// database failure stays as it is.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as Code;
        match e.sqlite_error_code() {
            Some(Code::DiskFull) => CoreError::DiskFull,
            Some(Code::ReadOnly) => CoreError::ReadOnly,
            _ => CoreError::Sqlite(e),
        }
    }
}

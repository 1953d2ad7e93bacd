//! Storage: the one trait every backend implements, and the records that cross it.
//!
//! The HTTP layer ([`crate::api`]) never writes SQL; it calls a [`Store`] through
//! `Arc<dyn Store>`. Each method is one unit of work: a push (`Store::push`) of up to
//! [`engine::MAX_GROUP_CHANGES`] changes is one transaction (shared with other pushes in a
//! commit group), a larger one goes in parts, each all-or-nothing; a pull (`Store::pull`)
//! reads one consistent snapshot. Permission *decisions* live in the `daftar-rules` crate and are shared by every backend;
//! a backend only gathers the facts (assignments, the group a journal belongs to, …) and
//! computes readable sets with its own joins.
//!
//! The methods are blocking: the handlers call them from `tokio::task::spawn_blocking`, and a
//! blocking trait stays object-safe without boxing futures. The algorithm behind them is
//! written once ([`engine`]) over a per-transaction trait each backend implements with its own
//! SQL: [`sqlite`] (the embedded default) and [`postgres`] (several instances on one
//! database).

mod durable;
pub mod engine;
pub mod postgres;
pub mod sqlite;

use std::collections::HashSet;

use daftar_protocol::{DocKind, DocMeta, ErrorCode, Role, UserInfo};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A user's row id.
pub type UserId = i64;

/// A SHA-256 change hash (automerge's change hash).
pub type ChangeHash = [u8; 32];

/// A user as the server knows them (never carries the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    /// Faculty id (dean) or department id (department head).
    pub scope: Option<String>,
    /// HEMIS employee id (teacher).
    pub employee: Option<String>,
    pub disabled: bool,
}

impl User {
    /// This user as the rule crate judges them.
    pub fn principal(&self) -> daftar_rules::Principal<'_> {
        daftar_rules::Principal {
            name: &self.name,
            role: self.role,
            scope: self.scope.as_deref(),
            employee: self.employee.as_deref(),
            disabled: self.disabled,
        }
    }

    /// The wire form of this user.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            name: self.name.clone(),
            role: self.role,
            scope: self.scope.clone(),
            employee: self.employee.clone(),
        }
    }
}

/// A user to create. The password is already hashed ([`crate::password`]).
#[derive(Clone)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub scope: Option<String>,
    pub employee: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("scope", &self.scope)
            .field("employee", &self.employee)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// How an assignment names its teacher.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TeacherRef {
    /// By user name.
    User(String),
    /// By HEMIS employee id (`employee:<id>` on the wire).
    Employee(String),
}

impl TeacherRef {
    /// `employee:<id>` names an employee, anything else a user name.
    pub fn parse(s: &str) -> Option<TeacherRef> {
        let s = s.trim();
        match s.strip_prefix("employee:") {
            Some(id) if !id.trim().is_empty() => Some(TeacherRef::Employee(id.trim().to_owned())),
            Some(_) => None,
            None if s.is_empty() => None,
            None => Some(TeacherRef::User(s.to_owned())),
        }
    }
}

impl std::fmt::Display for TeacherRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TeacherRef::User(name) => f.write_str(name),
            TeacherRef::Employee(id) => write!(f, "employee:{id}"),
        }
    }
}

/// Result of [`Store::assign`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssignOutcome {
    /// Assignments naming a known user (new or already present).
    pub assigned: usize,
    /// Assignments naming nobody yet (kept; they apply once such a user is added).
    pub pending: usize,
}

/// One decoded change of a push, ready to judge and store.
#[derive(Debug, Clone)]
pub struct IncomingChange {
    pub doc: String,
    pub kind: DocKind,
    pub hash: ChangeHash,
    pub bytes: Vec<u8>,
    /// What the change does (actor, seq, time, writes), or why it cannot be taken at all.
    pub inspected: Result<daftar_rules::Inspected, daftar_rules::Unreadable>,
}

/// Everything one sync request pushes: metadata first, then changes in request order.
#[derive(Debug, Clone, Default)]
pub struct PushBatch {
    pub metas: Vec<(String, DocKind, DocMeta)>,
    pub changes: Vec<IncomingChange>,
    /// Raw change bytes one user may have stored per UTC day (0 = no limit).
    pub daily_bytes: u64,
    /// How large course materials may be, each and per module.
    pub materials: daftar_rules::materials::MaterialLimits,
}

/// A change the store would not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub hash: ChangeHash,
    pub code: ErrorCode,
    pub reason: String,
}

/// Result of [`Store::push`].
#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    /// Hashes now stored (newly or before), in request order.
    pub acked: Vec<ChangeHash>,
    pub refused: Vec<Refused>,
    /// Changes newly stored by this push, and their raw bytes.
    pub stored: u64,
    pub stored_bytes: u64,
}

/// Where a material's bytes stand on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaterialState {
    /// The size its module's description gives.
    pub size: u64,
    /// Bytes received, in order from the start.
    pub received: u64,
    /// All received and checked against the hash.
    pub complete: bool,
}

/// One part of an upload: module `doc`'s material `hash`, `bytes` from `offset`.
#[derive(Debug, Clone, Copy)]
pub struct MaterialPart<'a> {
    pub doc: &'a str,
    pub hash: &'a ChangeHash,
    pub offset: u64,
    pub bytes: &'a [u8],
}

/// Why a material request is not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaterialRefusal {
    /// No readable module by that id describes a file with that hash (also what a user who
    /// may not read the module is told: they learn nothing of it).
    NotFound,
    /// The user may read the material but not upload it.
    Forbidden(String),
    /// The bytes are not (all) on the server yet.
    NotUploaded,
    /// An upload part that does not start where the received bytes end.
    WrongOffset { received: u64 },
    /// Past the per-file or per-module limit, or past the size the description gives.
    TooLarge(String),
    /// All bytes are in but they do not hash to the material's hash: they were dropped.
    HashMismatch,
}

/// How a sign-in attempt ended, for [`Store::login_finish`].
#[derive(Clone, Copy)]
pub enum LoginOutcome<'a> {
    /// A wrong password (or no such user): counted against every key.
    Failed,
    /// The right password: the user's failures are forgotten and, for an enabled account,
    /// the session is stored.
    Succeeded(Option<&'a NewSession>),
}

/// A session to create: the token's SHA-256, whose it is, and its times (unix ms).
#[derive(Clone)]
pub struct NewSession {
    pub user: UserId,
    pub token_hash: [u8; 32],
    pub now: i64,
    pub expires_at: i64,
}

/// What a replica asks for in [`Store::pull`].
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// The replica id (`x-daftar-replica`), which with the user keys what was sent where.
    pub replica: String,
    pub cursor: u64,
    pub access: u64,
    /// Raw change bytes the page may hold (a page always holds at least one change).
    pub budget: u64,
    /// Hashes this replica has just pushed: not sent back.
    pub skip: HashSet<ChangeHash>,
    /// Newly readable documents may be sent as one compacted snapshot each.
    pub snapshots: bool,
    /// The client acknowledges pages: what a page records about the replica waits for `ack`.
    pub acknowledges: bool,
    /// The page the client applied since its last request.
    pub ack: Option<u64>,
}

/// One change of a pull page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// The change's seq; for a snapshot, the seq of the last change it holds.
    pub seq: u64,
    pub doc: String,
    pub bytes: Vec<u8>,
    /// `bytes` is a saved document (automerge `save()`) rather than one change.
    pub snapshot: bool,
}

/// Result of [`Store::pull`].
#[derive(Debug, Clone, Default)]
pub struct PullOutcome {
    pub changes: Vec<StoredChange>,
    pub cursor: u64,
    pub access: u64,
    pub more: bool,
    /// The user each device of `changes` belongs to (actor bytes, user name), snapshots with
    /// every change they hold.
    pub authors: Vec<(Vec<u8>, String)>,
    /// (hash, receipt time) of the changes in `changes` whose device time is more than
    /// [`daftar_protocol::RECEIPT_SHOWN_AFTER_MS`] away from their receipt.
    pub receipts: Vec<(Vec<u8>, i64)>,
    /// The id under which this page's bookkeeping waits for the client's acknowledgement.
    pub page: Option<u64>,
}

/// What kind of database failure a [`StoreError::Database`] is, whatever the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// Busy, locked, a serialization conflict, a lost connection: the same call may succeed
    /// later.
    Retryable,
    /// The disk is full or the database cannot be written.
    OutOfRoom,
    Other,
}

/// Storage failures. Bad input never gets here: it is refused by the HTTP layer or reported
/// in [`PushOutcome::refused`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database {
        failure: DbFailure,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("cannot create the database directory {path}")]
    CreateDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database schema is version {found}, newer than this server knows ({known}); upgrade daftar-sync"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("a user named {name:?} already exists")]
    UserExists { name: String },
    #[error("employee id {employee:?} already belongs to another user")]
    EmployeeTaken { employee: String },
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

impl StoreError {
    /// A database failure of this kind.
    pub fn database(
        failure: DbFailure,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Database {
            failure,
            source: Box::new(source),
        }
    }

    /// The same failure for another push of a group that failed together: its kind, and its
    /// causes as text (the cause itself is not shared).
    pub fn for_another(&self) -> StoreError {
        let (failure, text) = match self {
            StoreError::Database { failure, source } => (*failure, crate::error::chain(&**source)),
            other => (DbFailure::Other, crate::error::chain(other)),
        };
        StoreError::database(failure, std::io::Error::other(text))
    }

    /// The database's disk is full, or it cannot be written (mounted read-only).
    pub fn is_out_of_room(&self) -> bool {
        matches!(
            self,
            StoreError::Database {
                failure: DbFailure::OutOfRoom,
                ..
            }
        )
    }

    /// Whether the same call may succeed later (e.g. the database was busy).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Database {
                failure: DbFailure::Retryable,
                ..
            } | StoreError::Connect(_)
        )
    }
}

/// The storage backend. Object-safe: the server holds it as `Arc<dyn Store>`.
///
/// Times are unix milliseconds, passed in by the caller so tests control the clock.
pub trait Store: Send + Sync + 'static {
    /// A cheap query proving the database answers (`/healthz`).
    fn check(&self) -> Result<(), StoreError>;

    /// Create a user. Fails with [`StoreError::UserExists`] / [`StoreError::EmployeeTaken`].
    fn add_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError>;

    /// Every user, ordered by name.
    fn users(&self) -> Result<Vec<User>, StoreError>;

    /// A user and their password hash, for login.
    fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>, StoreError>;

    /// Disable or re-enable a user. Disabling also ends their sessions. Returns false when
    /// there is no such user.
    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError>;

    /// The enabled user owning an unexpired session.
    fn session_user(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<User>, StoreError>;

    /// End a session (no error when it does not exist).
    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError>;

    /// Record assignments of teachers to journal document ids (idempotent).
    fn assign(
        &self,
        assignments: &[(TeacherRef, String)],
        now: i64,
    ) -> Result<AssignOutcome, StoreError>;

    /// Store what `user` may write of `batch`, in one transaction; refuse the rest.
    fn push(&self, user: &User, batch: &PushBatch, now: i64) -> Result<PushOutcome, StoreError>;

    /// A push and the same request's pull, which skips what the push stored. A backend that
    /// serialises all writes runs the pull in the push's own commit group (no second turn at
    /// the writer); otherwise this is [`Store::push`] then [`Store::pull`].
    fn push_then_pull(
        &self,
        user: &User,
        batch: &PushBatch,
        pull: PullRequest,
        now: i64,
    ) -> Result<(PushOutcome, PullOutcome), StoreError>;

    /// One page of changes for `user`'s replica (see `docs/sync-protocol.md`).
    fn pull(&self, user: &User, request: &PullRequest, now: i64)
    -> Result<PullOutcome, StoreError>;

    /// The current access version.
    fn access_version(&self) -> Result<u64, StoreError>;

    /// Whether `user` has something new to sync: a readable change with a seq after `after`,
    /// or an access version other than `access`.
    fn news_since(&self, user: &User, after: u64, access: u64) -> Result<bool, StoreError>;

    /// Calls `on_change` whenever another instance on the same database stores changes
    /// (PostgreSQL `LISTEN`), and once after each (re)connection. A single-instance backend
    /// does nothing: this instance's own pushes are known without it.
    fn listen(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        let _ = on_change;
    }

    /// The failures recorded within `window_ms` for each key (the first is the user's):
    /// how many, and when the oldest was. A read: it never waits for the writer.
    fn login_failures(
        &self,
        keys: &[(String, u32)],
        window_ms: i64,
        now: i64,
    ) -> Result<Vec<(u64, Option<i64>)>, StoreError>;

    /// Records how an attempt ended, in one write transaction serialised across instances: the
    /// limits are checked again first, and when one is reached by now (other attempts finished
    /// meanwhile) nothing is recorded and `Ok(Err(wait_ms))` says the attempt is refused, its
    /// verdict unsaid. So no more than `limit` guesses per window are ever answered, and a
    /// sign-in waits for the writer once.
    fn login_finish(
        &self,
        keys: &[(String, u32)],
        window_ms: i64,
        now: i64,
        outcome: LoginOutcome<'_>,
    ) -> Result<Result<(), i64>, StoreError>;

    /// Brings the cached snapshots of these documents (ids like `journal/x`) up to date where
    /// enough changes came after them, so the next replica that is sent one whole gets it
    /// without waiting for a build. Returns how many were rebuilt. Called in the background
    /// after pushes; a document nobody pushed to is left as it is.
    fn refresh_snapshots(&self, docs: &[String], now: i64) -> Result<usize, StoreError>;

    /// Where the bytes of the material `hash` of module `doc` stand, for a user who may read
    /// the module.
    fn material_state(
        &self,
        user: &User,
        doc: &str,
        hash: &ChangeHash,
    ) -> Result<Result<MaterialState, MaterialRefusal>, StoreError>;

    /// Appends the next part of an upload (`part.offset` must be where the received bytes
    /// end), for a user who may write the module's materials, within `limits`. The last part
    /// checks the hash: on a mismatch every byte is dropped.
    fn material_append(
        &self,
        user: &User,
        part: &MaterialPart<'_>,
        limits: &daftar_rules::materials::MaterialLimits,
        now: i64,
    ) -> Result<Result<MaterialState, MaterialRefusal>, StoreError>;

    /// Bytes `[from, to)` (cut to the size) of a complete material, for a user who may read
    /// the module.
    fn material_read(
        &self,
        user: &User,
        doc: &str,
        hash: &ChangeHash,
        from: u64,
        to: u64,
    ) -> Result<Result<(MaterialState, Vec<u8>), MaterialRefusal>, StoreError>;
}

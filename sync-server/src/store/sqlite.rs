//! The SQLite backend: one database file, zero setup; the embedded default.
//!
//! One writer connection serves every write (each a short transaction), which keeps SQLite's
//! single-writer rule trivially true inside the process, and with it the pull cursor's rule
//! ([`super::engine`]): changes commit in `seq` order. Writes queue at a gate where pushes
//! (their commit groups) give way to everything else, so a sign-in or a pull waits for at most
//! the group being committed. Reads (a session lookup, an idle sync's check) run on reader
//! connections of their own: under WAL they never wait for the writer.
//! Other processes — `daftar-sync user add` while the server runs — share the file through WAL
//! and a busy timeout. Durability: nothing is answered before the disk holds it, because an
//! acknowledged change is one the client will never push again. The writer commits with
//! `synchronous = NORMAL` and its WAL is synced after the commit, off the writer, once for
//! every commit made by then ([`super::durable`]); an in-memory database (unit tests) and a
//! WAL that cannot be opened keep `synchronous = FULL`.
//!
//! Readable sets are computed with one recursive-free CTE per role ([`readable_cte`]), so the
//! cost of a pull is a few joins over the `docs` table (thousands of rows), never one query per
//! document. This file holds only SQL: the algorithm is [`super::engine`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use daftar_protocol::{DocKind, DocMeta, Role};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::durable::{SyncFailed, Syncer};
use super::engine::{
    Backend, ChangeKey, ChangeRow, DocRecord, Durable, Engine, Mode, NewChange, Progress,
    ProvenanceRow, Savepoint, Tx, UserRow,
};
use super::{DbFailure, NewUser, StoreError, TeacherRef, User, UserId};

fn sync_failed(e: SyncFailed) -> StoreError {
    StoreError::database(DbFailure::Other, e)
}

/// Schema migrations, applied in order at open; `PRAGMA user_version` = how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/server/sqlite/0001_create_server.sql"),
    include_str!("../../../migrations/server/sqlite/0002_add_doc_snapshots.sql"),
    include_str!("../../../migrations/server/sqlite/0003_check_changes.sql"),
    include_str!("../../../migrations/server/sqlite/0004_acknowledge_pages.sql"),
    include_str!("../../../migrations/server/sqlite/0005_login_attempts.sql"),
    include_str!("../../../migrations/server/sqlite/0006_materials.sql"),
    include_str!("../../../migrations/server/sqlite/0007_device_ordered_change_index.sql"),
];

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// WAL pages after which the writer checkpoints in its own commit: only when the checkpointer
/// thread falls this far behind (SQLite's default, 1,000, put a checkpoint — a copy and an
/// fsync of the database file — into every few commit groups, in front of whoever waited).
const WRITER_CHECKPOINT_PAGES: i64 = 16_384;

/// How often the checkpointer looks at the WAL when commits keep coming.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        let failure = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    DbFailure::Retryable
                }
                rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::ReadOnly => {
                    DbFailure::OutOfRoom
                }
                _ => DbFailure::Other,
            },
            _ => DbFailure::Other,
        };
        StoreError::database(failure, e)
    }
}

/// Reader connections kept open (file databases only).
const READERS: usize = 4;

/// The SQLite backend: one writer connection, a few readers.
pub struct Sqlite {
    /// Stops (and joins) before any connection closes, so the writer's close can still
    /// checkpoint and remove the WAL.
    checkpointer: Option<Checkpointer>,
    // Readers close before the writer (fields drop in this order), so the writer closes
    // last, checkpoints the WAL and removes it, as a server with one connection did.
    readers: Mutex<Vec<Connection>>,
    /// Signalled when a reader is given back.
    reader_back: std::sync::Condvar,
    conn: Mutex<Connection>,
    gate: Gate,
    /// Reader connections opened so far (at most [`READERS`]).
    opened: std::sync::atomic::AtomicUsize,
    path: Option<PathBuf>,
    /// Syncs the WAL off the writer (file databases; see [`super::durable`]). Without it the
    /// writer syncs in its commits (`synchronous = FULL`).
    syncer: Option<Syncer>,
    /// Tests: commit groups behave as if another writer always waited.
    #[cfg(test)]
    always_wanted: std::sync::atomic::AtomicBool,
}

/// Who may take the writer next: pushes wait while anything else waits.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    turn: std::sync::Condvar,
}

#[derive(Default)]
struct GateState {
    busy: bool,
    others_waiting: usize,
    /// Turns other writers took in a row while a push waited: bounded, so a steady stream of
    /// pulls never starves the pushes.
    others_in_a_row: u32,
}

/// Other writers' turns a waiting push lets go first.
const OTHERS_BEFORE_A_PUSH: u32 = 8;

/// The writer's turn, given back when dropped.
struct Turn<'a>(&'a Gate);

impl Gate {
    fn enter(&self, push: bool) -> Turn<'_> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !push {
            s.others_waiting += 1;
        }
        while s.busy || (push && s.others_waiting > 0 && s.others_in_a_row < OTHERS_BEFORE_A_PUSH) {
            s = self.turn.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if push {
            s.others_in_a_row = 0;
        } else {
            s.others_waiting -= 1;
            s.others_in_a_row = s.others_in_a_row.saturating_add(1);
        }
        s.busy = true;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        s.busy = false;
        self.0.turn.notify_all();
    }
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// The SQLite [`super::Store`].
pub type SqliteStore = Engine<Sqlite>;

impl Engine<Sqlite> {
    /// Open (creating if needed) the database file at `path` and bring its schema up to date,
    /// for a process that writes now and then beside the server (`daftar-sync user add`, a
    /// test): every commit syncs the disk before SQLite shows it to any connection
    /// (`synchronous = FULL`), the server's included.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, false)
    }

    /// [`Self::open`] for the one process that serves the database: its writer's commits are
    /// synced off the writer ([`super::durable`]), and nothing it reads is answered before the
    /// disk has it. Only this process's own commits are tracked, so every other process on
    /// the file must use [`Self::open`].
    pub fn open_to_serve(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, serve: bool) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::setup(conn, Some(path.to_owned()), serve)
    }

    /// A private in-memory database (unit tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?, None, false)
    }

    fn setup(
        mut conn: Connection,
        path: Option<PathBuf>,
        serve: bool,
    ) -> Result<SqliteStore, StoreError> {
        tune(&conn)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        let syncer = match &path {
            Some(p) if serve => open_syncer(&conn, p),
            _ => None,
        };
        let checkpointer = match &path {
            Some(path) => {
                conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
                Checkpointer::start(path)
            }
            None => None,
        };
        Ok(Engine::new(Sqlite {
            checkpointer,
            conn: Mutex::new(conn),
            gate: Gate::default(),
            readers: Mutex::new(Vec::new()),
            reader_back: std::sync::Condvar::new(),
            opened: std::sync::atomic::AtomicUsize::new(0),
            path,
            syncer,
            #[cfg(test)]
            always_wanted: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}

/// The writer's WAL syncs off the writer: a handle on the WAL file (which exists once the
/// writer has run a transaction in WAL mode, and lives while the writer is open), its
/// directory synced once (the file may be new, and its name must survive a power cut), then
/// the writer's commits with `synchronous = NORMAL`. If any of it fails the writer keeps
/// syncing in its commits.
fn open_syncer(writer: &Connection, db: &Path) -> Option<Syncer> {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    let wal = PathBuf::from(name);
    let opened = (|| -> std::io::Result<std::fs::File> {
        let file = std::fs::File::open(&wal)?;
        let dir = match wal.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir,
            None => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()?;
        Ok(file)
    })();
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!(error = %e, wal = %wal.display(), "cannot open the WAL to sync it off the writer; the writer syncs in its commits");
            return None;
        }
    };
    if let Err(e) = writer.pragma_update(None, "synchronous", "NORMAL") {
        tracing::warn!(error = %e, "the writer syncs in its commits");
        return None;
    }
    Some(Syncer::new(file))
}

/// Settings every connection of the server's (writer and readers) shares.
///
/// - The busy timeout, for the moments another connection holds a lock.
/// - Room for every statement the server runs in the statement cache (rusqlite keeps 16 by
///   default, fewer than a push and its pull use, so statements were being parsed again).
/// - The query planner's stability guarantee: without it SQLite re-plans a statement whenever
///   a parameter it folded into the plan (a `LIMIT`, say) is bound to another value, and a
///   pull's readable-documents query was parsed and planned again on most calls (5% of the
///   server's CPU during B11's 200-client push, measured with `perf`). The plans do not depend
///   on those values here.
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Statements kept prepared per connection.
const STATEMENT_CACHE: usize = 128;

impl Backend for Sqlite {
    // One writer connection serialises every write: a pull in the push's group reads the
    // state that commits with it.
    const PULL_IN_PUSH_GROUP: bool = true;

    fn writer_wanted(&self) -> bool {
        #[cfg(test)]
        if self.always_wanted.load(std::sync::atomic::Ordering::SeqCst) {
            return true;
        }
        self.gate
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .others_waiting
            > 0
    }

    fn transaction<T>(
        &self,
        mode: Mode,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if mode == Mode::Read
            && let Some(reader) = self.reader()?
        {
            let out = {
                // Given back when this ends, however it ends (a panic included).
                let mut reader = ReaderGuard {
                    owner: self,
                    conn: Some(reader),
                };
                let conn = reader.conn.as_mut().expect("a reader");
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                let mut sql = SqliteTx { tx };
                f(&mut sql).and_then(|out| {
                    sql.tx.commit()?;
                    Ok(out)
                })
            };
            // What it read (an answer, or an error such as "that name is taken") may come
            // from commits the disk has not synced yet.
            self.wait_seen()?;
            return out;
        }
        let (out, ticket) = self.transaction_unsynced(mode, f)?;
        self.durable(ticket)?;
        Ok(out)
    }

    fn transaction_unsynced<T>(
        &self,
        mode: Mode,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<(T, Durable), StoreError> {
        // Here on the writer (reads too, when no reader connection could be had): a read's
        // ticket covers whatever it saw committed.
        let _turn = self.gate.enter(mode == Mode::Push);
        // A panic in an earlier transaction rolled it back (the transaction's drop): the
        // connection is fine to use again.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let behavior = match mode {
            Mode::Read => TransactionBehavior::Deferred,
            Mode::Write | Mode::Push | Mode::Pull => TransactionBehavior::Immediate,
        };
        let tx = conn.transaction_with_behavior(behavior)?;
        let mut sql = SqliteTx { tx };
        let out = match f(&mut sql) {
            Ok(out) => out,
            Err(e) => {
                // Rolled back; but the refusal may rest on commits not synced yet.
                drop(sql);
                drop(conn);
                drop(_turn);
                self.wait_seen()?;
                return Err(e);
            }
        };
        let ticket = match &self.syncer {
            Some(syncer) => {
                let generation = syncer.begin();
                let committed = sql.tx.commit();
                syncer.end(generation);
                committed?;
                Durable(generation)
            }
            None => {
                sql.tx.commit()?;
                Durable::NOW
            }
        };
        if let Some(c) = &self.checkpointer {
            c.committed();
        }
        Ok((out, ticket))
    }

    fn durable(&self, ticket: Durable) -> Result<(), StoreError> {
        match &self.syncer {
            Some(syncer) if ticket != Durable::NOW => syncer.wait(ticket.0).map_err(sync_failed),
            _ => Ok(()),
        }
    }
}

/// Checkpoints the WAL on a thread and connection of its own, so the writer's commits (and
/// whoever waits behind them) do not pay for copying pages into the database file.
///
/// `PASSIVE` checkpoints never block the writer or the readers. Durability is unchanged: a
/// commit is durable once its WAL frames are synced ([`super::durable`]); a checkpoint only
/// moves them, syncing the WAL before and the database after. Should the thread fall behind
/// (or fail to start), the writer's own checkpoint at [`WRITER_CHECKPOINT_PAGES`] still bounds
/// the WAL.
struct Checkpointer {
    state: std::sync::Arc<(Mutex<CheckpointState>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct CheckpointState {
    commits: u64,
    stop: bool,
}

impl Checkpointer {
    fn start(path: &Path) -> Option<Checkpointer> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            // This connection never writes; it must not checkpoint on close either (the
            // writer's close does, last).
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            Ok(conn)
        };
        let conn = match open() {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the checkpoint connection; the writer checkpoints");
                return None;
            }
        };
        let state = std::sync::Arc::new((
            Mutex::new(CheckpointState::default()),
            std::sync::Condvar::new(),
        ));
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &shared))
            .map_err(|e| tracing::warn!(error = %e, "cannot start the checkpoint thread; the writer checkpoints"))
            .ok()?;
        Some(Checkpointer {
            state,
            thread: Some(thread),
        })
    }

    fn committed(&self) {
        let (m, cv) = &*self.state;
        m.lock().unwrap_or_else(|p| p.into_inner()).commits += 1;
        cv.notify_one();
    }
}

fn checkpoint_loop(conn: &Connection, state: &(Mutex<CheckpointState>, std::sync::Condvar)) {
    let (m, cv) = state;
    let mut seen = 0u64;
    loop {
        {
            let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
            while !s.stop && s.commits == seen {
                s = cv.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.stop {
                return;
            }
            seen = s.commits;
        }
        let started = std::time::Instant::now();
        let result: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
        match result {
            Ok((_, log, moved)) => {
                tracing::trace!(
                    log,
                    moved,
                    ms = started.elapsed().as_millis() as u64,
                    "checkpoint"
                )
            }
            Err(e) => tracing::debug!(error = %e, "checkpoint skipped"),
        }
        // Commits that came meanwhile wait for the next look, at most this long after it.
        let s = m.lock().unwrap_or_else(|p| p.into_inner());
        let _ = cv.wait_timeout_while(s, CHECKPOINT_EVERY, |s| !s.stop);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (m, cv) = &*self.state;
        m.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A reader connection out of the pool; back in it when dropped.
struct ReaderGuard<'a> {
    owner: &'a Sqlite,
    conn: Option<Connection>,
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.owner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            self.owner.reader_back.notify_one();
        }
    }
}

impl Sqlite {
    /// Waits until every commit begun so far is on the disk: what a transaction that just
    /// ended read is then durable.
    fn wait_seen(&self) -> Result<(), StoreError> {
        match &self.syncer {
            Some(syncer) => syncer.wait(syncer.seen()).map_err(sync_failed),
            None => Ok(()),
        }
    }

    /// A reader connection: one kept, a new one while fewer than [`READERS`] exist, or the
    /// next one given back (reads are short: waiting for a reader beats waiting for the
    /// writer, which may be committing a group); `None` for an in-memory database (it has no
    /// second connection), and then the writer serves the read.
    fn reader(&self) -> Result<Option<Connection>, StoreError> {
        use std::sync::atomic::Ordering;
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(r) = readers.pop() {
                return Ok(Some(r));
            }
            let may_open = self
                .opened
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < READERS).then_some(n + 1)
                })
                .is_ok();
            if may_open {
                break;
            }
            if self.opened.load(Ordering::SeqCst) == 0 {
                return Ok(None);
            }
            readers = self
                .reader_back
                .wait(readers)
                .unwrap_or_else(|p| p.into_inner());
        }
        drop(readers);
        let opened = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| tune(&c).map(|()| c));
        match opened {
            Ok(conn) => Ok(Some(conn)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a reader connection; the writer serves reads");
                self.opened.fetch_sub(1, Ordering::SeqCst);
                // A thread waiting for a reader may now open one itself.
                self.reader_back.notify_all();
                Ok(None)
            }
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tracing::info!(version = i + 1, "applying server schema migration");
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    if found < 3 {
        fill_change_headers(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// Fills `actor_seq` and `edit_time` of rows stored before schema 3 from their headers.
fn fill_change_headers(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT seq, bytes FROM changes WHERE actor_seq IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update =
        tx.prepare("UPDATE changes SET actor_seq = ?2, edit_time = ?3 WHERE seq = ?1")?;
    for (seq, bytes) in rows {
        match automerge::Change::from_bytes(bytes) {
            Ok(c) => {
                update.execute(params![seq, c.seq() as i64, c.timestamp()])?;
            }
            Err(e) => tracing::warn!(seq, error = %e, "a stored change does not decode"),
        }
    }
    Ok(())
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.scope, u.employee, u.disabled";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        scope: row.get(3)?,
        employee: row.get(4)?,
        disabled: row.get(5)?,
    })
}

/// The `WITH … readable(id) AS (…)` prefix for `user`: the row ids of every document the user
/// may read. Parameters: `:name`, `:emp`, `:scope` (bind only those the text uses).
fn readable_cte(user: &User) -> &'static str {
    match user.role {
        Role::Admin => "WITH readable(id) AS (SELECT id FROM docs)",
        Role::Teacher => {
            "WITH my_journals(id, group_doc, module_doc) AS (
                SELECT d.id, d.group_doc, d.module_doc
                  FROM assignments a JOIN docs d ON d.doc_id = a.journal
                 WHERE d.kind = 'journal'
                   AND ((a.teacher_kind = 'user' AND a.teacher = :name)
                     OR (a.teacher_kind = 'employee' AND a.teacher = :emp))
                UNION
                SELECT d.id, d.group_doc, d.module_doc
                  FROM journal_teachers t JOIN docs d ON d.id = t.doc
                 WHERE t.employee = :emp AND d.kind = 'journal'
             ),
             readable(id) AS (
                SELECT id FROM docs WHERE kind = 'catalog'
                UNION SELECT id FROM my_journals
                UNION SELECT g.id FROM my_journals j JOIN docs g ON g.doc_id = j.group_doc
                       WHERE g.kind = 'group'
                UNION SELECT m.id FROM my_journals j JOIN docs m ON m.doc_id = j.module_doc
                       WHERE m.kind = 'module'
             )"
        }
        Role::Dean => {
            "WITH faculty_journals(id, module_doc) AS (
                SELECT j.id, j.module_doc
                  FROM docs j LEFT JOIN docs g
                    ON g.doc_id = j.group_doc AND g.kind = 'group' AND g.has_meta = 1
                 WHERE j.kind = 'journal' AND COALESCE(g.faculty, j.faculty) = :scope
             ),
             readable(id) AS (
                SELECT id FROM docs WHERE kind = 'catalog'
                UNION SELECT id FROM docs WHERE kind = 'group' AND faculty = :scope
                UNION SELECT id FROM faculty_journals
                UNION SELECT m.id FROM faculty_journals j JOIN docs m ON m.doc_id = j.module_doc
                       WHERE m.kind = 'module'
             )"
        }
        Role::DepartmentHead => {
            "WITH department_journals(id, group_doc) AS (
                SELECT j.id, j.group_doc
                  FROM docs j LEFT JOIN docs m
                    ON m.doc_id = j.module_doc AND m.kind = 'module' AND m.has_meta = 1
                 WHERE j.kind = 'journal' AND COALESCE(m.department, j.department) = :scope
             ),
             readable(id) AS (
                SELECT id FROM docs WHERE kind = 'catalog'
                UNION SELECT id FROM docs WHERE kind = 'module' AND department = :scope
                UNION SELECT id FROM department_journals
                UNION SELECT g.id FROM department_journals j JOIN docs g ON g.doc_id = j.group_doc
                       WHERE g.kind = 'group'
             )"
        }
    }
}

/// Bind the user's parameters that `stmt` actually uses, plus `extra`.
fn bind_user(
    stmt: &mut rusqlite::Statement<'_>,
    user: &User,
    extra: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<(), StoreError> {
    let scope = if user.role == Role::Teacher {
        None
    } else {
        user.scope.as_deref()
    };
    let named: [(&str, &dyn rusqlite::ToSql); 3] = [
        (":name", &user.name),
        (":emp", &user.employee),
        (":scope", &scope),
    ];
    for (name, value) in named.iter().chain(extra.iter()) {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

/// One SQLite transaction.
struct SqliteTx<'c> {
    tx: Transaction<'c>,
}

impl SqliteTx<'_> {
    fn exists(&self, sql: &str, params: impl rusqlite::Params) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .prepare_cached(sql)?
            .query_row(params, |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn provenance(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<ProvenanceRow>, StoreError> {
        let sql = format!(
            "SELECT c.actor, u.name, c.hash, c.stored_at, c.edit_time FROM changes c \
             LEFT JOIN actors a ON a.actor = c.actor LEFT JOIN users u ON u.id = a.user_id \
             WHERE {filter}"
        );
        Ok(self
            .tx
            .prepare_cached(&sql)?
            .query_map(params, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?)
    }
}

impl Tx for SqliteTx<'_> {
    fn savepoint(&mut self, step: Savepoint) -> Result<(), StoreError> {
        self.tx.execute_batch(step.sql())?;
        Ok(())
    }

    fn announce_changes(&mut self) -> Result<(), StoreError> {
        // One instance per file: its own pushes wake its waiting requests directly.
        Ok(())
    }

    fn lock_logins(&mut self) -> Result<(), StoreError> {
        // A write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        Ok(())
    }

    fn prune_logins(&mut self, before: i64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM login_attempts WHERE at < ?1")?
            .execute([before])?;
        Ok(())
    }

    fn login_failures(&mut self, key: &str, since: i64) -> Result<(i64, Option<i64>), StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT count(*), min(at) FROM login_attempts WHERE key = ?1 AND at >= ?2",
            )?
            .query_row(params![key, since], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    fn insert_login(&mut self, key: &str, at: i64) -> Result<i64, StoreError> {
        self.tx
            .prepare_cached("INSERT INTO login_attempts (key, at) VALUES (?1, ?2)")?
            .execute(params![key, at])?;
        Ok(self.tx.last_insert_rowid())
    }

    fn delete_logins_of(&mut self, key: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM login_attempts WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }

    fn user_exists(&mut self, name: &str) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM users WHERE name = ?1", [name])
    }

    fn employee_taken(&mut self, employee: &str) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM users WHERE employee = ?1", [employee])
    }

    fn insert_user(&mut self, user: &NewUser, now: i64) -> Result<UserId, StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO users (name, password, role, scope, employee, disabled, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            )?
            .execute(params![
                user.name,
                user.password_hash,
                user.role.as_str(),
                user.scope,
                user.employee,
                now
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    fn users(&mut self) -> Result<Vec<UserRow>, StoreError> {
        Ok(self
            .tx
            .prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
            ))?
            .query_map([], user_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn user_credentials(&mut self, name: &str) -> Result<Option<(UserRow, String)>, StoreError> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {USER_COLUMNS}, u.password FROM users u WHERE u.name = ?1"),
                [name],
                |r| Ok((user_from_row(r)?, r.get::<_, String>(6)?)),
            )
            .optional()?)
    }

    fn user_id(&mut self, name: &str) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
            .optional()?)
    }

    fn set_disabled(&mut self, user: UserId, disabled: bool) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE users SET disabled = ?2 WHERE id = ?1")?
            .execute(params![user, disabled])?;
        Ok(())
    }

    fn delete_sessions_of(&mut self, user: UserId) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM sessions WHERE user_id = ?1", [user])?;
        Ok(())
    }

    fn delete_expired_sessions(&mut self, now: i64) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        Ok(())
    }

    fn insert_session(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![token_hash, user, now, expires_at])?;
        Ok(())
    }

    fn session_user(&mut self, token_hash: &[u8], now: i64) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0"
            ))?
            .query_row(params![token_hash, now], user_from_row)
            .optional()?)
    }

    fn delete_session(&mut self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }

    fn insert_assignment(
        &mut self,
        teacher: &TeacherRef,
        journal: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (kind, key) = match teacher {
            TeacherRef::User(name) => ("user", name),
            TeacherRef::Employee(id) => ("employee", id),
        };
        Ok(self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO assignments (teacher_kind, teacher, journal, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![kind, key, journal, now])?
            > 0)
    }

    fn is_assigned(
        &mut self,
        journal: &str,
        name: &str,
        employee: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM assignments WHERE journal = ?1 AND \
             ((teacher_kind = 'user' AND teacher = ?2) OR \
              (teacher_kind = 'employee' AND teacher = ?3)) LIMIT 1",
            params![journal, name, employee],
        )
    }

    fn bump_access(&mut self) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE counters SET value = value + 1 WHERE name = 'access'")?
            .execute([])?;
        Ok(())
    }

    fn access_version(&mut self) -> Result<u64, StoreError> {
        let v: i64 = self
            .tx
            .prepare_cached("SELECT value FROM counters WHERE name = 'access'")?
            .query_row([], |r| r.get(0))?;
        Ok(v as u64)
    }

    fn doc(&mut self, doc_id: &str) -> Result<Option<DocRecord>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT id, CASE WHEN has_meta THEN meta_json END FROM docs WHERE doc_id = ?1",
            )?
            .query_row([doc_id], |r| {
                Ok(DocRecord {
                    id: r.get(0)?,
                    meta_json: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn doc_row(&mut self, doc_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM docs WHERE doc_id = ?1")?
            .query_row([doc_id], |r| r.get(0))
            .optional()?)
    }

    fn doc_name(&mut self, doc: i64) -> Result<(String, String), StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT doc_id, kind FROM docs WHERE id = ?1")?
            .query_row([doc], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    fn doc_has_changes(&mut self, doc: i64) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM changes WHERE doc = ?1 LIMIT 1", [doc])
    }

    fn has_meta(&mut self, doc_id: &str, kind: DocKind) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM docs WHERE doc_id = ?1 AND kind = ?2 AND has_meta = 1",
            params![doc_id, kind.as_str()],
        )
    }

    fn group_faculty(&mut self, group: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT faculty FROM docs WHERE doc_id = ?1 AND kind = 'group' AND has_meta = 1",
            )?
            .query_row([group], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    fn insert_doc(&mut self, doc_id: &str, kind: DocKind, now: i64) -> Result<i64, StoreError> {
        self.tx
            .prepare_cached("INSERT INTO docs (doc_id, kind, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![doc_id, kind.as_str(), now])?;
        Ok(self.tx.last_insert_rowid())
    }

    fn write_meta(
        &mut self,
        doc: i64,
        meta: &DocMeta,
        json: &str,
        user: UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE docs SET has_meta = 1, meta_json = ?2, faculty = ?3, department = ?4, \
             group_doc = ?5, module_doc = ?6, meta_by = ?7, meta_at = ?8 WHERE id = ?1",
            )?
            .execute(params![
                doc,
                json,
                meta.faculty,
                meta.department,
                meta.group,
                meta.module,
                user,
                now
            ])?;
        self.tx
            .execute("DELETE FROM journal_teachers WHERE doc = ?1", [doc])?;
        let mut insert = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO journal_teachers (employee, doc) VALUES (?1, ?2)",
        )?;
        for teacher in &meta.teachers {
            insert.execute(params![teacher, doc])?;
        }
        Ok(())
    }

    fn change_docs(
        &mut self,
        keys: &[ChangeKey<'_>],
    ) -> Result<std::collections::HashMap<Vec<u8>, String>, StoreError> {
        // In-process: one indexed lookup per hash costs less than building a statement.
        let mut stmt = self.tx.prepare_cached(
            "SELECT d.doc_id FROM changes c JOIN docs d ON d.id = c.doc \
              WHERE c.actor = ?1 AND c.actor_seq = ?2 AND c.hash = ?3",
        )?;
        let mut out = std::collections::HashMap::new();
        for key in keys {
            if let Some(doc) = stmt
                .query_row(params![key.actor, key.actor_seq, key.hash], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
            {
                out.insert(key.hash.to_vec(), doc);
            }
        }
        Ok(out)
    }

    fn actor_owner(&mut self, actor: &[u8]) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")?
            .query_row([actor], |r| r.get(0))
            .optional()?)
    }

    fn bind_actor(&mut self, actor: &[u8], user: UserId, now: i64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT INTO actors (actor, user_id, bound_at) VALUES (?1, ?2, ?3)")?
            .execute(params![actor, user, now])?;
        Ok(())
    }

    fn hash_at(
        &mut self,
        doc: i64,
        actor: &[u8],
        actor_seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT hash FROM changes WHERE doc = ?1 AND actor = ?2 AND actor_seq = ?3",
            )?
            .query_row(params![doc, actor, actor_seq], |r| r.get(0))
            .optional()?)
    }

    fn max_actor_seq(&mut self, doc: i64, actor: &[u8]) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT max(actor_seq) FROM changes WHERE doc = ?1 AND actor = ?2")?
            .query_row(params![doc, actor], |r| r.get(0))?)
    }

    fn insert_change(&mut self, c: NewChange<'_>) -> Result<Option<i64>, StoreError> {
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (actor, actor_seq, hash) DO NOTHING",
            )?
            .execute(params![
                c.hash,
                c.doc,
                c.actor,
                c.user,
                c.bytes,
                c.stored_at,
                c.actor_seq,
                c.edit_time
            ])?;
        Ok((inserted == 1).then(|| self.tx.last_insert_rowid()))
    }

    fn usage(&mut self, user: UserId, day: i64) -> Result<u64, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT bytes FROM usage WHERE user_id = ?1 AND day = ?2")?
            .query_row(params![user, day], |r| r.get::<_, i64>(0))
            .optional()?
            .map_or(0, |b| b.max(0) as u64))
    }

    fn set_usage(&mut self, user: UserId, day: i64, bytes: u64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO usage (user_id, day, bytes) VALUES (?1, ?2, ?3) \
             ON CONFLICT (user_id, day) DO UPDATE SET bytes = excluded.bytes",
            )?
            .execute(params![user, day, bytes.min(i64::MAX as u64) as i64])?;
        Ok(())
    }

    fn max_seq(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                r.get(0)
            })?)
    }

    fn doc_changes(
        &mut self,
        doc: i64,
        after: i64,
        upto: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT seq, bytes FROM changes WHERE doc = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
            )?
            .query_map(params![doc, after, upto], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn count_doc_changes(&mut self, doc: i64, after: i64, upto: i64) -> Result<i64, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT count(*) FROM changes WHERE doc = ?1 AND seq > ?2 AND seq <= ?3",
            )?
            .query_row(params![doc, after, upto], |r| r.get(0))?)
    }

    fn snapshot(&mut self, doc: i64, bound: i64) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT upto, bytes FROM doc_snapshots WHERE doc = ?1 AND upto <= ?2")?
            .query_row(params![doc, bound], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn store_snapshot(
        &mut self,
        doc: i64,
        upto: i64,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO doc_snapshots (doc, upto, bytes, built_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (doc) DO UPDATE SET upto = excluded.upto, bytes = excluded.bytes, \
                 built_at = excluded.built_at WHERE excluded.upto > doc_snapshots.upto",
            )?
            .execute(params![doc, upto, bytes, now])?;
        Ok(())
    }

    fn prune_unreadable(&mut self, user: &User, replica: &str) -> Result<(), StoreError> {
        let mut prune = self.tx.prepare_cached(&format!(
            "{} DELETE FROM replica_docs WHERE user_id = :uid AND replica = :replica \
             AND doc NOT IN (SELECT id FROM readable)",
            readable_cte(user)
        ))?;
        bind_user(
            &mut prune,
            user,
            &[(":uid", &user.id), (":replica", &replica)],
        )?;
        prune.raw_execute()?;
        Ok(())
    }

    fn unsent_docs(
        &mut self,
        user: &User,
        replica: &str,
    ) -> Result<Vec<(i64, i64, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "{} SELECT r.id, COALESCE(s.upto, 0), d.doc_id FROM readable r
               JOIN docs d ON d.id = r.id
               LEFT JOIN replica_docs s
                 ON s.user_id = :uid AND s.replica = :replica AND s.doc = r.id
              WHERE COALESCE(s.done, 0) = 0
              ORDER BY r.id",
            readable_cte(user)
        ))?;
        bind_user(
            &mut stmt,
            user,
            &[(":uid", &user.id), (":replica", &replica)],
        )?;
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            out.push((row.get(0)?, row.get(1)?, row.get(2)?));
        }
        Ok(out)
    }

    fn readable_changes(
        &mut self,
        user: &User,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let sql = if user.role == Role::Admin {
            "SELECT c.seq, c.doc, d.doc_id, c.bytes, c.hash \
               FROM changes c JOIN docs d ON d.id = c.doc \
              WHERE c.seq > :after AND c.seq <= :upto ORDER BY c.seq LIMIT :limit"
                .to_owned()
        } else {
            format!(
                "{} SELECT c.seq, c.doc, d.doc_id, c.bytes, c.hash \
                   FROM changes c JOIN docs d ON d.id = c.doc \
                  WHERE c.seq > :after AND c.seq <= :upto AND c.doc IN (SELECT id FROM readable) \
                  ORDER BY c.seq LIMIT :limit",
                readable_cte(user)
            )
        };
        let mut stmt = self.tx.prepare_cached(&sql)?;
        bind_user(
            &mut stmt,
            user,
            &[(":after", &after), (":upto", &upto), (":limit", &limit)],
        )?;
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            out.push(ChangeRow {
                seq: row.get(0)?,
                doc: row.get(1)?,
                doc_id: row.get(2)?,
                bytes: row.get(3)?,
                hash: row.get(4)?,
            });
        }
        Ok(out)
    }

    fn provenance_of_changes(&mut self, seqs: &[i64]) -> Result<Vec<ProvenanceRow>, StoreError> {
        let list = serde_json::to_string(seqs).unwrap_or_else(|_| "[]".into());
        self.provenance(
            "c.seq IN (SELECT value FROM json_each(?1)) ORDER BY c.seq",
            [list],
        )
    }

    fn provenance_of_doc(
        &mut self,
        doc_id: &str,
        upto: i64,
    ) -> Result<Vec<ProvenanceRow>, StoreError> {
        self.provenance(
            "c.doc = (SELECT id FROM docs WHERE doc_id = ?1) AND c.seq <= ?2",
            params![doc_id, upto],
        )
    }

    fn pinned_bound(&mut self, user: UserId, replica: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT bound FROM replica_pull WHERE user_id = ?1 AND replica = ?2")?
            .query_row(params![user, replica], |r| r.get(0))
            .optional()?)
    }

    fn pin_bound(&mut self, user: UserId, replica: &str, bound: i64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO replica_pull (user_id, replica, bound) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![user, replica, bound])?;
        Ok(())
    }

    fn unpin_bound(&mut self, user: UserId, replica: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM replica_pull WHERE user_id = ?1 AND replica = ?2")?
            .execute(params![user, replica])?;
        Ok(())
    }

    fn record_progress(
        &mut self,
        progress: Progress,
        user: UserId,
        replica: &str,
        doc: i64,
        upto: i64,
        done: bool,
    ) -> Result<(), StoreError> {
        match progress {
            Progress::Direct => {
                self.tx.prepare_cached(
                    "INSERT INTO replica_docs (user_id, replica, doc, upto, done) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (user_id, replica, doc) DO UPDATE SET \
                       upto = max(replica_docs.upto, excluded.upto), done = max(replica_docs.done, excluded.done)",
                )?
                .execute(params![user, replica, doc, upto, done])?;
            }
            Progress::Pending(page) => {
                self.tx.prepare_cached(
                    "INSERT INTO replica_pending (user_id, replica, doc, page, upto, done) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (user_id, replica, doc) DO UPDATE SET page = excluded.page, \
                       upto = max(replica_pending.upto, excluded.upto), done = max(replica_pending.done, excluded.done)",
                )?
                .execute(params![user, replica, doc, page, upto, done])?;
            }
        }
        Ok(())
    }

    fn any_pending(&mut self, user: UserId, replica: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM replica_pending WHERE user_id = ?1 AND replica = ?2 LIMIT 1",
            params![user, replica],
        )
    }

    fn settle_pending(
        &mut self,
        user: UserId,
        replica: &str,
        ack: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(page) = ack {
            self.tx
                .prepare_cached(
                    "INSERT INTO replica_docs (user_id, replica, doc, upto, done) \
                     SELECT user_id, replica, doc, upto, done FROM replica_pending \
                      WHERE user_id = ?1 AND replica = ?2 AND page = ?3 \
                     ON CONFLICT (user_id, replica, doc) DO UPDATE SET \
                       upto = max(replica_docs.upto, excluded.upto), done = max(replica_docs.done, excluded.done)",
                )?
                .execute(params![user, replica, page])?;
        }
        self.tx
            .prepare_cached("DELETE FROM replica_pending WHERE user_id = ?1 AND replica = ?2")?
            .execute(params![user, replica])?;
        Ok(())
    }

    fn may_read(&mut self, user: &User, doc: i64) -> Result<bool, StoreError> {
        let sql = format!(
            "{} SELECT 1 FROM readable WHERE id = :doc",
            readable_cte(user)
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        bind_user(&mut stmt, user, &[(":doc", &doc)])?;
        Ok(stmt.raw_query().next()?.is_some())
    }

    fn material(&mut self, hash: &[u8]) -> Result<Option<(i64, i64, bool)>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT size, received, complete FROM materials WHERE hash = ?1")?
            .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    fn lock_material(&mut self, _hash: &[u8]) -> Result<(), StoreError> {
        // One writer at a time already.
        Ok(())
    }

    fn insert_material(
        &mut self,
        hash: &[u8],
        size: i64,
        user: UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO materials (hash, size, uploaded_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![hash, size, user, now])?;
        Ok(())
    }

    fn insert_material_part(
        &mut self,
        hash: &[u8],
        offset: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT INTO material_parts (hash, offset, bytes) VALUES (?1, ?2, ?3)")?
            .execute(params![hash, offset, bytes])?;
        Ok(())
    }

    fn set_material_received(
        &mut self,
        hash: &[u8],
        received: i64,
        complete: bool,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE materials SET received = ?2, complete = ?3 WHERE hash = ?1")?
            .execute(params![hash, received, complete])?;
        Ok(())
    }

    fn material_parts(
        &mut self,
        hash: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT offset, bytes FROM material_parts \
                  WHERE hash = ?1 AND offset < ?3 AND offset + length(bytes) > ?2 ORDER BY offset",
            )?
            .query_map(params![hash, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn delete_material(&mut self, hash: &[u8]) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM material_parts WHERE hash = ?1")?
            .execute([hash])?;
        self.tx
            .prepare_cached("DELETE FROM materials WHERE hash = ?1")?
            .execute([hash])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PullRequest, Store};
    use std::collections::HashSet;

    fn user(store: &SqliteStore, name: &str, role: Role, scope: Option<&str>) -> User {
        store
            .add_user(
                &NewUser {
                    name: name.into(),
                    role,
                    scope: scope.map(Into::into),
                    employee: None,
                    password_hash: "x".into(),
                },
                0,
            )
            .expect("add user")
    }

    #[test]
    fn migrations_apply_once_and_refuse_newer_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path).expect("first open"));
        drop(SqliteStore::open(&path).expect("second open"));
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
        drop(conn);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    /// Schema 7 rebuilds `changes`: every row keeps its seq, the counter goes on past the
    /// highest seq ever handed out (not only past the highest row), and a change is still
    /// stored once.
    #[test]
    fn the_change_table_rebuild_keeps_seqs_and_uniqueness() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        {
            let mut conn = Connection::open(&path).expect("raw open");
            let tx = conn.transaction().expect("tx");
            for sql in &MIGRATIONS[..6] {
                tx.execute_batch(sql).expect("migration");
            }
            tx.pragma_update(None, "user_version", 6).expect("version");
            tx.execute_batch(
                "INSERT INTO users (id, name, password, role, created_at) VALUES (1, 'a', 'x', 'admin', 0);
                 INSERT INTO docs (id, doc_id, kind, created_at) VALUES (1, 'journal/j1', 'journal', 0);
                 INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time)
                   VALUES (x'01', 1, x'aa', 1, x'00', 0, 1, 0), (x'02', 1, x'aa', 1, x'00', 0, 2, 0),
                          (x'03', 1, x'aa', 1, x'00', 0, 3, 0);
                 -- The newest row gone (say, by hand): its seq must still not come back.
                 DELETE FROM changes WHERE seq = 3;",
            )
            .expect("rows");
            tx.commit().expect("commit");
        }
        let store = SqliteStore::open(&path).expect("open migrates");
        let conn = store.backend.conn.lock().expect("writer");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len() as i64);
        // The first column of every row `sql` reads.
        fn column<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> Vec<T> {
            conn.prepare(sql)
                .expect("prepare")
                .query_map([], |r| r.get(0))
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows")
        }
        let seqs: Vec<i64> = column(&conn, "SELECT seq FROM changes ORDER BY seq");
        assert_eq!(seqs, vec![1, 2]);
        let insert = "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time) \
                      VALUES (?1, 1, x'aa', 1, x'00', 0, ?2, 0) ON CONFLICT (actor, actor_seq, hash) DO NOTHING";
        assert_eq!(
            conn.execute(insert, params![vec![2u8], 2]).expect("again"),
            0,
            "the same change is not stored twice"
        );
        assert_eq!(conn.execute(insert, params![vec![4u8], 4]).expect("new"), 1);
        assert!(
            conn.last_insert_rowid() > 3,
            "seq 3 is not handed out again (got {})",
            conn.last_insert_rowid()
        );
        let indexes: Vec<String> = column(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'changes' ORDER BY name",
        );
        assert_eq!(
            indexes,
            ["changes_device", "changes_doc_actor_seq", "changes_doc_seq"]
        );
    }

    #[test]
    fn the_wal_is_checkpointed_off_the_writer_and_removed_at_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        let wal = dir.path().join("s.db-wal");
        let store = SqliteStore::open(&path).expect("open");
        let before = std::fs::metadata(&path).expect("db file").len();
        // A few hundred pages of commits: far under the writer's own checkpoint threshold,
        // so only the checkpoint thread can move them into the database file.
        for i in 0..300 {
            user(
                &store,
                &format!("user-{i:04}-{}", "x".repeat(200)),
                Role::Teacher,
                None,
            );
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).expect("db file").len() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint moved the WAL into the database within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(wal.exists(), "the WAL is open while the server runs");
        drop(store);
        assert!(
            !wal.exists(),
            "closing the store checkpoints and removes the WAL"
        );
        let reopened = SqliteStore::open(&path).expect("reopen");
        assert_eq!(reopened.users().expect("users").len(), 300);
    }

    #[test]
    fn duplicate_user_is_a_typed_error() {
        let store = SqliteStore::open_in_memory().expect("open");
        user(&store, "a", Role::Admin, None);
        let again = store.add_user(
            &NewUser {
                name: "a".into(),
                role: Role::Admin,
                scope: None,
                employee: None,
                password_hash: "x".into(),
            },
            0,
        );
        assert!(matches!(again, Err(StoreError::UserExists { .. })));
    }

    #[test]
    fn readable_queries_prepare_for_every_role() {
        let store = SqliteStore::open_in_memory().expect("open");
        for (i, role) in [Role::Admin, Role::Dean, Role::DepartmentHead, Role::Teacher]
            .into_iter()
            .enumerate()
        {
            let u = user(&store, &format!("u{i}"), role, Some("S"));
            let out = store
                .pull(
                    &u,
                    &PullRequest {
                        replica: "r".into(),
                        cursor: 0,
                        access: 0,
                        budget: 1024,
                        skip: HashSet::new(),
                        snapshots: true,
                        acknowledges: false,
                        ack: None,
                    },
                    0,
                )
                .expect("pull");
            assert!(out.changes.is_empty());
            assert!(!out.more);
        }
    }

    /// The writer's commits are synced off the writer: while the disk has not confirmed a
    /// commit, the writer goes on with the next (its rows are in the file), but no one is
    /// answered from either: not the writers, not a push's group, not a read that could see
    /// them. Once the disk confirms, all are.
    #[test]
    fn nothing_is_answered_before_the_disk_has_it_and_the_writer_does_not_wait_for_the_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        let store = std::sync::Arc::new(SqliteStore::open_to_serve(&path).expect("open"));
        let admin = user(&store, "a", Role::Admin, None);
        let syncer = store
            .backend
            .syncer
            .as_ref()
            .expect("the WAL is synced off the writer");
        let raw = Connection::open(&path).expect("raw");
        let stored = |name: &str| -> bool {
            raw.query_row("SELECT count(*) FROM users WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .expect("count")
                == 1
        };
        let wait_until = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !done() {
                assert!(std::time::Instant::now() < deadline, "{what} within 10 s");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let held = syncer.hold.lock().expect("hold the disk");
        let add = |name: &'static str| {
            let store = store.clone();
            std::thread::spawn(move || user(&store, name, Role::Teacher, None))
        };
        let first = add("b");
        wait_until("b committed", &|| stored("b"));
        // The writer is free: a second write commits while the first waits for the disk.
        let second = add("c");
        wait_until("c committed while b waits for the disk", &|| stored("c"));
        // So is the lead of the commit groups: a push's group commits, and while its leader
        // waits for the disk the next push leads a group of its own and commits too.
        let commits = || {
            let c = store.backend.checkpointer.as_ref().expect("checkpointer");
            c.state.0.lock().expect("state").commits
        };
        let before = commits();
        let push = || {
            let store = store.clone();
            let admin = admin.clone();
            std::thread::spawn(move || store.push(&admin, &crate::store::PushBatch::default(), 0))
        };
        let first_push = push();
        wait_until("a push committed", &|| commits() > before);
        let second_push = push();
        wait_until(
            "a second push committed while the first waits for the disk",
            &|| commits() > before + 1,
        );
        let read = {
            let store = store.clone();
            std::thread::spawn(move || store.users().expect("users").len())
        };
        std::thread::sleep(Duration::from_millis(300));
        for (what, finished) in [
            ("a write", first.is_finished()),
            ("a second write", second.is_finished()),
            ("a push", first_push.is_finished()),
            ("a second push", second_push.is_finished()),
            ("a read that sees them", read.is_finished()),
        ] {
            assert!(
                !finished,
                "{what} was answered before the disk confirmed it"
            );
        }
        drop(held);
        first.join().expect("b");
        second.join().expect("c");
        first_push.join().expect("push thread").expect("push");
        second_push.join().expect("push thread").expect("push");
        assert_eq!(read.join().expect("read"), 3);
    }

    /// A sync the disk fails: what it covered is not reported as stored, and the server
    /// answers nothing after it (what the disk holds is unknown until SQLite recovers it).
    #[test]
    fn after_a_failed_sync_nothing_is_answered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_to_serve(&dir.path().join("s.db")).expect("open");
        let admin = user(&store, "a", Role::Admin, None);
        let syncer = store.backend.syncer.as_ref().expect("syncer");
        syncer.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let pushed = store.push(&admin, &crate::store::PushBatch::default(), 0);
        let e = pushed.expect_err("a push whose sync failed is not acknowledged");
        let why = std::error::Error::source(&e).map(|s| s.to_string());
        assert!(
            why.as_deref()
                .is_some_and(|w| w.contains("restart the server")),
            "{e:?}"
        );
        syncer
            .fail
            .store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(store.users().is_err(), "a read after a failed sync");
        assert!(
            store
                .add_user(
                    &NewUser {
                        name: "b".into(),
                        role: Role::Teacher,
                        scope: None,
                        employee: None,
                        password_hash: "x".into(),
                    },
                    0,
                )
                .is_err(),
            "a write after a failed sync"
        );
    }

    /// A commit group that another writer waits for ends once it holds its share of changes:
    /// with the writer held, 400 pushes queue behind one; released, they commit in groups of
    /// at most `GROUP_CHANGES_BEFORE_YIELD` (each push here counts as one), and every push is
    /// answered.
    #[test]
    fn a_commit_group_gives_way_to_a_waiting_writer() {
        use crate::store::engine::GROUP_CHANGES_BEFORE_YIELD;
        const PUSHES: usize = 400;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("s.db")).expect("open"));
        let admin = user(&store, "a", Role::Admin, None);
        // Commit groups the pushes take, queued behind the writer held, then let go.
        let groups_of_pushes = |wanted: bool| {
            store
                .backend
                .always_wanted
                .store(wanted, std::sync::atomic::Ordering::SeqCst);
            let commits = || {
                let c = store.backend.checkpointer.as_ref().expect("checkpointer");
                c.state.0.lock().expect("state").commits
            };
            let turn = store.backend.gate.enter(true);
            let before = commits();
            let threads: Vec<_> = (0..PUSHES)
                .map(|_| {
                    let store = store.clone();
                    let admin = admin.clone();
                    std::thread::spawn(move || {
                        store.push(&admin, &crate::store::PushBatch::default(), 0)
                    })
                })
                .collect();
            // Every push queued (one of them leads a group of what had queued by then,
            // waiting for the writer).
            std::thread::sleep(Duration::from_millis(500));
            drop(turn);
            for t in threads {
                t.join().expect("thread").expect("push");
            }
            commits() - before
        };
        // The first group (whatever had queued when its leader began) and the rest in groups
        // of at most the share: 3 here, where one group of the rest would make 2.
        let groups = groups_of_pushes(true);
        assert!(
            groups as usize > (PUSHES - 1).div_ceil(GROUP_CHANGES_BEFORE_YIELD),
            "{PUSHES} pushes in {groups} commit groups"
        );
        // Without another writer waiting, the rest go together.
        let groups = groups_of_pushes(false);
        assert!(groups <= 2, "{groups} commit groups");
    }
}

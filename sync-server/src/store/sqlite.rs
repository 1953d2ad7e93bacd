//! The SQLite backend: one database file, zero setup; the embedded default.
//!
//! One connection behind a mutex serves the whole server (every method is one short
//! transaction), which keeps SQLite's single-writer rule trivially true inside the process.
//! Other processes — `daftar-sync user add` while the server runs — share the file through WAL
//! and a busy timeout. Durability: `synchronous = FULL`, because an acknowledged change is
//! one the client will never push again.
//!
//! Readable sets are computed with one recursive-free CTE per role ([`readable_cte`]), so the
//! cost of a pull is a few joins over the `docs` table (thousands of rows), never one query per
//! document.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use daftar_protocol::{DocKind, DocMeta, ErrorCode, Role};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{
    AssignOutcome, NewUser, PullOutcome, PullRequest, PushBatch, PushOutcome, Refused, Store,
    StoreError, StoredChange, TeacherRef, User, UserId,
};
use daftar_rules::{WriteFacts, Writer};

/// Schema migrations, applied in order at open; `PRAGMA user_version` = how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/server/sqlite/0001_create_server.sql"),
    include_str!("../../../migrations/server/sqlite/0002_add_doc_snapshots.sql"),
    include_str!("../../../migrations/server/sqlite/0003_check_changes.sql"),
    include_str!("../../../migrations/server/sqlite/0004_acknowledge_pages.sql"),
];

/// A newly readable document with fewer changes than this goes out change by change: a
/// snapshot would not be smaller.
const SNAPSHOT_MIN_CHANGES: i64 = 8;

/// A cached snapshot is sent with up to this many later changes after it; with more, it is
/// rebuilt (from itself plus those changes) and cached again.
const SNAPSHOT_MAX_TAIL: i64 = 32;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite [`Store`].
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path` and bring its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::setup(conn, Some(path.to_owned()))
    }

    /// A private in-memory database (unit tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
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

fn role_from_db(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt {
        table: "users",
        detail: format!("unknown role {s:?}"),
    })
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.scope, u.employee, u.disabled";

/// A `users` row as read, before its role text is checked.
struct UserRow {
    id: i64,
    name: String,
    role: String,
    scope: Option<String>,
    employee: Option<String>,
    disabled: bool,
}

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

/// Check the role, so a corrupt row is a typed error rather than a guess.
fn finish_user(row: UserRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.id,
        name: row.name,
        role: role_from_db(&row.role)?,
        scope: row.scope,
        employee: row.employee,
        disabled: row.disabled,
    })
}

fn bump_access(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'access'",
        [],
    )?;
    Ok(())
}

fn access_version(conn: &Connection) -> Result<u64, StoreError> {
    let v: i64 = conn.query_row(
        "SELECT value FROM counters WHERE name = 'access'",
        [],
        |r| r.get(0),
    )?;
    Ok(v as u64)
}

/// What the `docs` table holds about one document.
#[derive(Debug, Clone)]
struct DocRow {
    id: i64,
    meta: Option<DocMeta>,
    has_changes: bool,
}

fn load_doc(tx: &Transaction<'_>, doc_id: &str) -> Result<Option<DocRow>, StoreError> {
    let row: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT id, CASE WHEN has_meta THEN meta_json END FROM docs WHERE doc_id = ?1",
            [doc_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, meta_json)) = row else {
        return Ok(None);
    };
    let meta = match meta_json {
        Some(json) => {
            Some(
                serde_json::from_str::<DocMeta>(&json).map_err(|e| StoreError::Corrupt {
                    table: "docs",
                    detail: format!("meta of {doc_id}: {e}"),
                })?,
            )
        }
        None => None,
    };
    let has_changes = tx
        .query_row("SELECT 1 FROM changes WHERE doc = ?1 LIMIT 1", [id], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    Ok(Some(DocRow {
        id,
        meta,
        has_changes,
    }))
}

/// The facts the rules need beyond the metadata itself.
struct Context {
    assigned: bool,
    group_faculty: Option<String>,
}

fn gather_context(
    tx: &Transaction<'_>,
    user: &User,
    doc_id: &str,
    kind: DocKind,
    meta: &DocMeta,
) -> Result<Context, StoreError> {
    let assigned = kind == DocKind::Journal
        && user.role == Role::Teacher
        && tx
            .query_row(
                "SELECT 1 FROM assignments WHERE journal = ?1 AND \
                 ((teacher_kind = 'user' AND teacher = ?2) OR \
                  (teacher_kind = 'employee' AND teacher = ?3)) LIMIT 1",
                params![doc_id, user.name, user.employee],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
    let group_faculty = match (kind, &meta.group) {
        (DocKind::Journal, Some(group)) => stored_meta_column(tx, group, "group", "faculty")?,
        _ => None,
    };
    Ok(Context {
        assigned,
        group_faculty,
    })
}

/// A column of a document whose metadata the server stored; `None` when there is no such
/// document (with metadata) or the column is empty.
fn stored_meta_column(
    tx: &Transaction<'_>,
    doc_id: &str,
    kind: &str,
    column: &str,
) -> Result<Option<String>, StoreError> {
    let sql = format!("SELECT {column} FROM docs WHERE doc_id = ?1 AND kind = ?2 AND has_meta = 1");
    Ok(tx
        .query_row(&sql, params![doc_id, kind], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
}

fn has_stored_meta(tx: &Transaction<'_>, doc_id: &str, kind: &str) -> Result<bool, StoreError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM docs WHERE doc_id = ?1 AND kind = ?2 AND has_meta = 1",
            params![doc_id, kind],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Metadata may only name groups and modules the server knows (stored earlier, or earlier in
/// this push: groups and modules are decided before journals).
fn check_references(
    tx: &Transaction<'_>,
    meta: &DocMeta,
) -> Result<Result<(), String>, StoreError> {
    if let Some(group) = &meta.group
        && !has_stored_meta(tx, group, "group")?
    {
        return Ok(Err(format!(
            "the group {group} this journal names is not on the server; publish the group first"
        )));
    }
    if let Some(module) = &meta.module
        && !has_stored_meta(tx, module, "module")?
    {
        return Ok(Err(format!(
            "the module {module} this journal names is not on the server; publish the module first"
        )));
    }
    Ok(Ok(()))
}

fn insert_doc(
    tx: &Transaction<'_>,
    doc_id: &str,
    kind: DocKind,
    now: i64,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO docs (doc_id, kind, created_at) VALUES (?1, ?2, ?3)",
        params![doc_id, kind.as_str(), now],
    )?;
    Ok(tx.last_insert_rowid())
}

fn write_meta(
    tx: &Transaction<'_>,
    doc: i64,
    meta: &DocMeta,
    user: UserId,
    now: i64,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(meta).map_err(|e| StoreError::Corrupt {
        table: "docs",
        detail: format!("cannot encode meta: {e}"),
    })?;
    tx.execute(
        "UPDATE docs SET has_meta = 1, meta_json = ?2, faculty = ?3, department = ?4, \
         group_doc = ?5, module_doc = ?6, meta_by = ?7, meta_at = ?8 WHERE id = ?1",
        params![
            doc,
            json,
            meta.faculty,
            meta.department,
            meta.group,
            meta.module,
            user,
            now
        ],
    )?;
    tx.execute("DELETE FROM journal_teachers WHERE doc = ?1", [doc])?;
    let mut insert = tx
        .prepare_cached("INSERT OR IGNORE INTO journal_teachers (employee, doc) VALUES (?1, ?2)")?;
    for teacher in &meta.teachers {
        insert.execute(params![teacher, doc])?;
    }
    Ok(())
}

/// The permission decision for one document of a push: its row id, or why its changes are
/// refused.
type DocDecision = Result<i64, String>;

/// Decides whether `user` may write `doc_id` at all (the parts of each change are judged
/// after). Metadata belongs to the server: an administrator's is stored when it names only
/// documents the server knows; anyone else's is ignored, and they may write only documents
/// the server already has.
fn decide_doc(
    tx: &Transaction<'_>,
    user: &User,
    doc_id: &str,
    kind: DocKind,
    submitted: Option<&DocMeta>,
    now: i64,
    meta_written: &mut bool,
) -> Result<DocDecision, StoreError> {
    let row = load_doc(tx, doc_id)?;
    let known = row
        .as_ref()
        .is_some_and(|r| r.meta.is_some() || r.has_changes);
    let stored_meta = row.as_ref().and_then(|r| r.meta.clone());
    let principal = user.principal();

    if user.role == Role::Admin {
        if let Some(new) = submitted.filter(|new| stored_meta.as_ref() != Some(*new)) {
            if let Err(denied) = daftar_rules::may_set_meta(&principal, kind) {
                return Ok(Err(denied.0));
            }
            if let Err(reason) = check_references(tx, new)? {
                return Ok(Err(reason));
            }
            let id = match &row {
                Some(r) => r.id,
                None => insert_doc(tx, doc_id, kind, now)?,
            };
            write_meta(tx, id, new, user.id, now)?;
            *meta_written = true;
            return Ok(Ok(id));
        }
        let id = match &row {
            Some(r) => r.id,
            None => insert_doc(tx, doc_id, kind, now)?,
        };
        return Ok(Ok(id));
    }

    let Some(row) = row.filter(|_| known) else {
        return Ok(Err(daftar_rules::access::unknown_document(kind).0));
    };
    let meta = stored_meta.unwrap_or_default();
    let ctx = gather_context(tx, user, doc_id, kind, &meta)?;
    let facts = WriteFacts {
        kind,
        meta: &meta,
        assigned: ctx.assigned,
        group_faculty: ctx.group_faculty.as_deref(),
    };
    if let Err(denied) = daftar_rules::may_write(&principal, &facts) {
        return Ok(Err(denied.0));
    }
    Ok(Ok(row.id))
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

/// A page of changes being filled up to a byte budget (always at least one change, so a
/// change larger than the budget still goes through).
struct Page {
    budget: u64,
    bytes: u64,
    changes: Vec<StoredChange>,
}

impl Page {
    fn fits(&self, len: u64) -> bool {
        self.changes.is_empty() || self.bytes.saturating_add(len) <= self.budget
    }
    fn push(&mut self, change: StoredChange) {
        self.bytes += change.bytes.len() as u64;
        self.changes.push(change);
    }
}

/// What a snapshot of one document is built from: the cached snapshot (if any) and the
/// changes after it, up to a bound.
struct SnapshotInputs {
    cached: Option<(i64, Vec<u8>)>,
    /// Changes after the cached snapshot, up to the bound: (seq, bytes), oldest first. Left
    /// empty when the cached snapshot is fresh enough to use as it is.
    tail: Vec<(i64, Vec<u8>)>,
    /// How many changes came after the cached snapshot (or after nothing).
    tail_count: i64,
}

impl SnapshotInputs {
    /// Whether a new snapshot should be built from these inputs.
    fn worth_building(&self) -> bool {
        match self.cached {
            Some(_) => self.tail_count > SNAPSHOT_MAX_TAIL,
            None => self.tail_count >= SNAPSHOT_MIN_CHANGES,
        }
    }
}

/// Reads what a snapshot of `doc` up to `bound` needs; the tail's bytes only when a new
/// snapshot is worth building.
fn snapshot_inputs(conn: &Connection, doc: i64, bound: i64) -> Result<SnapshotInputs, StoreError> {
    let cached: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT upto, bytes FROM doc_snapshots WHERE doc = ?1 AND upto <= ?2")?
        .query_row(params![doc, bound], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let base = cached.as_ref().map_or(0, |c| c.0);
    let tail_count: i64 = conn
        .prepare_cached("SELECT count(*) FROM changes WHERE doc = ?1 AND seq > ?2 AND seq <= ?3")?
        .query_row(params![doc, base, bound], |r| r.get(0))?;
    let mut inputs = SnapshotInputs {
        cached,
        tail: Vec::new(),
        tail_count,
    };
    if inputs.worth_building() {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, bytes FROM changes WHERE doc = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![doc, base, bound])?;
        while let Some(row) = rows.next()? {
            inputs.tail.push((row.get(0)?, row.get(1)?));
        }
    }
    Ok(inputs)
}

/// Builds a snapshot (cached snapshot + tail, saved again): (last seq it holds, bytes).
/// `None` when a change waits for a dependency the server does not have: such a document goes
/// change by change.
fn build_snapshot(doc: i64, inputs: SnapshotInputs) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "changes",
        detail,
    };
    // automerge may panic on bytes it should refuse (`daftar_rules::guard`): such a document
    // is built nowhere and goes change by change, as one with a missing dependency does.
    let built = daftar_rules::guarded(move || -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let (mut am, mut last) = match inputs.cached {
            Some((upto, bytes)) => (
                automerge::Automerge::load(&bytes)
                    .map_err(|e| corrupt(format!("snapshot of document {doc}: {e}")))?,
                upto,
            ),
            None => (automerge::Automerge::new(), 0),
        };
        let mut batch = Vec::with_capacity(inputs.tail.len());
        for (seq, bytes) in inputs.tail {
            batch.push(
                automerge::Change::from_bytes(bytes)
                    .map_err(|e| corrupt(format!("change {seq}: {e}")))?,
            );
            last = seq;
        }
        am.apply_changes(batch)
            .map_err(|e| corrupt(format!("changes of document {doc}: {e}")))?;
        if !automerge::ReadDoc::get_missing_deps(&am, &[]).is_empty() {
            return Ok(None);
        }
        Ok(Some((last, am.save())))
    });
    match built {
        Ok(result) => result,
        Err(reason) => {
            tracing::warn!(doc, %reason, "no snapshot: automerge failed on the document's changes");
            Ok(None)
        }
    }
}

/// A stored document as automerge holds it (cached snapshot and every change after it), with
/// `extra` applied on top; `None` when automerge cannot read it (logged).
fn load_document(
    conn: &Connection,
    doc: i64,
    extra: Option<&[u8]>,
) -> Result<Option<automerge::Automerge>, StoreError> {
    let cached: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT upto, bytes FROM doc_snapshots WHERE doc = ?1")?
        .query_row([doc], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let base = cached.as_ref().map_or(0, |c| c.0);
    // Every document starts from its genesis change, which every replica writes identically
    // and which the log need not hold (a change that depends on it would wait otherwise).
    let (doc_id, kind): (String, String) = conn
        .prepare_cached("SELECT doc_id, kind FROM docs WHERE id = ?1")?
        .query_row([doc], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut tail: Vec<Vec<u8>> = Vec::new();
    if cached.is_none()
        && let Some(kind) = DocKind::ALL.into_iter().find(|k| k.as_str() == kind)
    {
        tail.push(daftar_rules::genesis::genesis_change(&doc_id, kind).1);
    }
    let stored: Vec<Vec<u8>> = conn
        .prepare_cached("SELECT bytes FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq")?
        .query_map(params![doc, base], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    tail.extend(stored);
    tail.extend(extra.map(<[u8]>::to_vec));
    let loaded = daftar_rules::guarded(move || -> Result<automerge::Automerge, String> {
        let mut am = match cached {
            Some((_, bytes)) => automerge::Automerge::load(&bytes).map_err(|e| e.to_string())?,
            None => automerge::Automerge::new(),
        };
        let changes = tail
            .into_iter()
            .map(|b| automerge::Change::from_bytes(b).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        am.apply_changes(changes).map_err(|e| e.to_string())?;
        Ok(am)
    });
    match loaded {
        Ok(Ok(am)) => Ok(Some(am)),
        Ok(Err(reason)) | Err(reason) => {
            tracing::warn!(doc, %reason, "cannot load a stored document");
            Ok(None)
        }
    }
}

/// What the score rules need of a journal: its marking system and the final controls of its
/// module's plan.
#[derive(Debug, Clone)]
struct ScoreRules {
    system: daftar_rules::assessment::System,
    finals: Vec<String>,
}

impl ScoreRules {
    /// Whether `writes` put a final-control score.
    fn writes_final(&self, writes: &[daftar_rules::Write]) -> bool {
        writes.iter().any(|w| {
            w.map == "scores"
                && w.key
                    .split('/')
                    .next()
                    .is_some_and(|code| self.finals.iter().any(|f| f == code))
        })
    }
}

/// The score rules of a journal a change writes scores to (`None` when it writes none), read
/// once per journal and push (`cache`).
fn score_rules(
    tx: &Transaction<'_>,
    journal_row: i64,
    writes: &[daftar_rules::Write],
    cache: &mut HashMap<i64, ScoreRules>,
) -> Result<Option<ScoreRules>, StoreError> {
    if !writes.iter().any(|w| w.map == "scores") {
        return Ok(None);
    }
    if let Some(rules) = cache.get(&journal_row) {
        return Ok(Some(rules.clone()));
    }
    let mut rules = ScoreRules {
        system: daftar_rules::assessment::System::Rating100,
        finals: Vec::new(),
    };
    if let Some(journal) = load_document(tx, journal_row, None)? {
        rules.system = daftar_rules::final_control::system_of(&journal);
        if let Some(module_id) = daftar_rules::final_control::module_of(&journal)
            && let Some(module_row) = tx
                .prepare_cached("SELECT id FROM docs WHERE doc_id = ?1")?
                .query_row([&module_id], |r| r.get::<_, i64>(0))
                .optional()?
            && let Some(module) = load_document(tx, module_row, None)?
        {
            rules.finals = daftar_rules::final_control::plan_of(&module)
                .into_iter()
                .filter(|c| c.kind == daftar_rules::assessment::Kind::Final)
                .map(|c| c.code)
                .collect();
        }
    }
    cache.insert(journal_row, rules.clone());
    Ok(Some(rules))
}

/// Why what a journal change writes in the final control or in retake sittings may not be
/// taken, if it may not (`daftar_rules::final_control`): a retake sitting not opened by the dean's
/// office, a final score for a student not admitted. A journal or module the server cannot read, or a journal
/// without a module, has no plan to judge by: nothing is refused on that ground.
fn judge_finals(
    tx: &Transaction<'_>,
    journal_row: i64,
    change: &[u8],
    writes: &[daftar_rules::Write],
) -> Result<Option<String>, StoreError> {
    let Some(journal) = load_document(tx, journal_row, Some(change))? else {
        return Ok(None);
    };
    // A retake sitting of any control needs the dean's office's permission.
    if let Some(reason) = daftar_rules::final_control::refuse_unpermitted_retakes(&journal, writes)
    {
        return Ok(Some(reason));
    }
    let Some(module_id) = daftar_rules::final_control::module_of(&journal) else {
        return Ok(None);
    };
    let module_row: Option<i64> = tx
        .prepare_cached("SELECT id FROM docs WHERE doc_id = ?1")?
        .query_row([&module_id], |r| r.get(0))
        .optional()?;
    let Some(module_row) = module_row else {
        return Ok(None);
    };
    let Some(module) = load_document(tx, module_row, None)? else {
        return Ok(None);
    };
    Ok(daftar_rules::final_control::refuse_unadmitted_finals(
        &journal, &module, writes,
    ))
}

/// Caches a snapshot unless a newer one is there already.
fn store_snapshot(conn: &Connection, doc: i64, upto: i64, bytes: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO doc_snapshots (doc, upto, bytes, built_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (doc) DO UPDATE SET upto = excluded.upto, bytes = excluded.bytes, \
         built_at = excluded.built_at WHERE excluded.upto > doc_snapshots.upto",
    )?
    .execute(params![doc, upto, bytes, crate::api::now_ms()])?;
    Ok(())
}

/// A compacted snapshot of `doc` holding its changes up to some seq <= `cursor`, from the
/// cache or built now (and cached); `None` when the document is better sent change by change
/// (few changes, or a change still waiting for a dependency the server does not have).
fn snapshot_for(
    tx: &Transaction<'_>,
    doc: i64,
    cursor: i64,
) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    let mut inputs = snapshot_inputs(tx, doc, cursor)?;
    if !inputs.worth_building() {
        // The cached snapshot goes with the changes after it; or none, change by change.
        return Ok(inputs.cached.take());
    }
    let built = match build_snapshot(doc, inputs) {
        Ok(built) => built,
        Err(e) => {
            // One bad row must not fail every new replica's pull: send the document change
            // by change instead, and say so in the log.
            tracing::warn!(doc, error = %e, "cannot build a snapshot; sending changes instead");
            None
        }
    };
    if let Some((upto, bytes)) = &built {
        store_snapshot(tx, doc, *upto, bytes)?;
    }
    Ok(built)
}

/// Who made the changes of a page (by device, as bound at first push) and when the server
/// received those whose device time is more than a day away from that.
#[allow(clippy::type_complexity)]
fn provenance(
    tx: &Transaction<'_>,
    changes: &[StoredChange],
) -> Result<(Vec<(Vec<u8>, String)>, Vec<(Vec<u8>, i64)>), StoreError> {
    const COLUMNS: &str = "SELECT c.actor, u.name, c.hash, c.stored_at, c.edit_time FROM changes c \
         LEFT JOIN actors a ON a.actor = c.actor LEFT JOIN users u ON u.id = a.user_id";
    let mut one = tx.prepare_cached(&format!("{COLUMNS} WHERE c.seq = ?1"))?;
    let mut whole = tx.prepare_cached(&format!(
        "{COLUMNS} WHERE c.doc = (SELECT id FROM docs WHERE doc_id = ?1) AND c.seq <= ?2"
    ))?;
    let mut authors: std::collections::BTreeMap<Vec<u8>, String> = Default::default();
    let mut receipts = Vec::new();
    let mut take = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
        let actor: Vec<u8> = row.get(0)?;
        if let Some(user) = row.get::<_, Option<String>>(1)? {
            authors.entry(actor).or_insert(user);
        }
        let (stored, edited): (i64, Option<i64>) = (row.get(3)?, row.get(4)?);
        if edited.is_some_and(|e| (stored - e).abs() > daftar_protocol::RECEIPT_SHOWN_AFTER_MS) {
            receipts.push((row.get::<_, Vec<u8>>(2)?, stored));
        }
        Ok(())
    };
    for change in changes {
        let seq = i64::try_from(change.seq).unwrap_or(i64::MAX);
        let mut rows = if change.snapshot {
            whole.query(params![change.doc, seq])?
        } else {
            one.query([seq])?
        };
        while let Some(row) = rows.next()? {
            take(row)?;
        }
    }
    Ok((authors.into_iter().collect(), receipts))
}

/// Where a page's bookkeeping about a replica goes: straight into `replica_docs` (a client
/// that does not acknowledge pages), or pending under the page's id until the replica's next
/// request acknowledges it.
#[derive(Debug, Clone, Copy)]
enum Progress {
    Direct,
    Pending(i64),
}

fn record_progress(
    tx: &Transaction<'_>,
    progress: Progress,
    user: UserId,
    replica: &str,
    doc: i64,
    upto: i64,
    done: bool,
) -> Result<(), StoreError> {
    match progress {
        Progress::Direct => {
            tx.prepare_cached(
                "INSERT INTO replica_docs (user_id, replica, doc, upto, done) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (user_id, replica, doc) DO UPDATE SET \
                   upto = max(replica_docs.upto, excluded.upto), done = max(replica_docs.done, excluded.done)",
            )?
            .execute(params![user, replica, doc, upto, done])?;
        }
        Progress::Pending(page) => {
            tx.prepare_cached(
                "INSERT INTO replica_pending (user_id, replica, doc, page, upto, done) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (user_id, replica, doc) DO UPDATE SET page = excluded.page, \
                   upto = max(replica_pending.upto, excluded.upto), done = max(replica_pending.done, excluded.done)",
            )?
            .execute(params![user, replica, doc, page, upto, done])?;
        }
    }
    Ok(())
}

fn mark_done(
    tx: &Transaction<'_>,
    progress: Progress,
    user: UserId,
    replica: &str,
    docs: impl IntoIterator<Item = i64>,
) -> Result<(), StoreError> {
    for doc in docs {
        record_progress(tx, progress, user, replica, doc, 0, true)?;
    }
    Ok(())
}

/// A new page id: random, from 2^52 to 2^53 (sixteen digits, so replies keep their length;
/// exact in every JSON reader).
fn page_id() -> i64 {
    use rand::Rng as _;
    rand::rng().random_range((1i64 << 52)..(1i64 << 53))
}

/// The page id to acknowledge, when this page recorded anything about the replica.
fn pending_page(
    tx: &Transaction<'_>,
    user: UserId,
    replica: &str,
    progress: Progress,
) -> Result<Option<u64>, StoreError> {
    let Progress::Pending(id) = progress else {
        return Ok(None);
    };
    let any = tx
        .prepare_cached(
            "SELECT 1 FROM replica_pending WHERE user_id = ?1 AND replica = ?2 LIMIT 1",
        )?
        .query_row(params![user, replica], |_| Ok(()))
        .optional()?
        .is_some();
    Ok(any.then_some(id as u64))
}

/// Settles what earlier pages recorded about this replica: the page it acknowledges moves to
/// `replica_docs`; any other pending record is dropped (its reply never arrived, or was not
/// applied), so what it covered is sent again.
fn settle_pending(
    tx: &Transaction<'_>,
    user: UserId,
    replica: &str,
    ack: Option<u64>,
) -> Result<(), StoreError> {
    if let Some(page) = ack.and_then(|p| i64::try_from(p).ok()) {
        tx.prepare_cached(
            "INSERT INTO replica_docs (user_id, replica, doc, upto, done) \
             SELECT user_id, replica, doc, upto, done FROM replica_pending \
              WHERE user_id = ?1 AND replica = ?2 AND page = ?3 \
             ON CONFLICT (user_id, replica, doc) DO UPDATE SET \
               upto = max(replica_docs.upto, excluded.upto), done = max(replica_docs.done, excluded.done)",
        )?
        .execute(params![user, replica, page])?;
    }
    tx.prepare_cached("DELETE FROM replica_pending WHERE user_id = ?1 AND replica = ?2")?
        .execute(params![user, replica])?;
    Ok(())
}

impl SqliteStore {
    /// Phase 1 of a pull after an access change: forget documents no longer readable, then
    /// send every readable document this replica has not been sent whole yet: its changes up
    /// to the cursor, or (when the client takes them) a compacted snapshot of it plus the
    /// changes after the snapshot. Later changes come through phase 2. Returns whether it
    /// finished.
    fn pull_whole_docs(
        tx: &Transaction<'_>,
        user: &User,
        request: &PullRequest,
        max_seq: i64,
        page: &mut Page,
        progress: Progress,
    ) -> Result<Option<u64>, StoreError> {
        let cte = readable_cte(user);
        let replica: &dyn rusqlite::ToSql = &request.replica;
        let uid: &dyn rusqlite::ToSql = &user.id;
        // How far each document goes: up to the cursor, or for a fresh replica taking
        // snapshots up to the newest change, pinned across the pages of this phase.
        let fresh = request.cursor == 0 && request.snapshots;
        let cursor: i64 = if fresh {
            let pinned: Option<i64> = tx
                .query_row(
                    "SELECT bound FROM replica_pull WHERE user_id = ?1 AND replica = ?2",
                    params![user.id, request.replica],
                    |r| r.get(0),
                )
                .optional()?;
            match pinned {
                Some(bound) => bound,
                None => {
                    tx.execute(
                        "INSERT INTO replica_pull (user_id, replica, bound) VALUES (?1, ?2, ?3)",
                        params![user.id, request.replica, max_seq],
                    )?;
                    max_seq
                }
            }
        } else {
            request.cursor.min(i64::MAX as u64) as i64
        };

        let mut prune = tx.prepare(&format!(
            "{cte} DELETE FROM replica_docs WHERE user_id = :uid AND replica = :replica \
             AND doc NOT IN (SELECT id FROM readable)"
        ))?;
        bind_user(&mut prune, user, &[(":uid", uid), (":replica", replica)])?;
        prune.raw_execute()?;
        drop(prune);

        // The documents still to send, with how far each got.
        let mut stmt = tx.prepare(&format!(
            "{cte} SELECT r.id, COALESCE(s.upto, 0), d.doc_id FROM readable r
               JOIN docs d ON d.id = r.id
               LEFT JOIN replica_docs s
                 ON s.user_id = :uid AND s.replica = :replica AND s.doc = r.id
              WHERE COALESCE(s.done, 0) = 0
              ORDER BY r.id"
        ))?;
        bind_user(&mut stmt, user, &[(":uid", uid), (":replica", replica)])?;
        let mut unsent: Vec<(i64, i64, String)> = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            unsent.push((row.get(0)?, row.get(1)?, row.get(2)?));
        }
        drop(rows);
        drop(stmt);

        let mut done: Vec<i64> = Vec::new();
        // A document cut off by the page end, and the last seq of it sent.
        let mut partial: Option<(i64, i64)> = None;
        let mut changes = tx.prepare_cached(
            "SELECT seq, length(bytes), bytes FROM changes \
              WHERE doc = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let finished = 'docs: {
            for (doc, start, doc_id) in unsent {
                let mut upto = start;
                if request.snapshots
                    && start == 0
                    && let Some((snap_upto, bytes)) = snapshot_for(tx, doc, cursor)?
                {
                    if !page.fits(bytes.len() as u64) {
                        break 'docs false;
                    }
                    page.push(StoredChange {
                        seq: snap_upto as u64,
                        doc: doc_id.clone(),
                        bytes,
                        snapshot: true,
                    });
                    upto = snap_upto;
                }
                let mut rows = changes.query(params![doc, upto, cursor])?;
                while let Some(row) = rows.next()? {
                    let (seq, len): (i64, i64) = (row.get(0)?, row.get(1)?);
                    if !page.fits(len as u64) {
                        if upto > start {
                            partial = Some((doc, upto));
                        }
                        break 'docs false;
                    }
                    page.push(StoredChange {
                        seq: seq as u64,
                        doc: doc_id.clone(),
                        bytes: row.get(2)?,
                        snapshot: false,
                    });
                    upto = seq;
                }
                done.push(doc);
            }
            true
        };
        drop(changes);
        if let Some((doc, upto)) = partial {
            record_progress(tx, progress, user.id, &request.replica, doc, upto, false)?;
        }
        mark_done(tx, progress, user.id, &request.replica, done)?;
        if !finished {
            return Ok(None);
        }
        // The pinned bound stays until the replica is past it (its cursor moved there, which
        // it does only after applying the last page): a lost last reply gets the same bound.
        if fresh && matches!(progress, Progress::Direct) {
            tx.execute(
                "DELETE FROM replica_pull WHERE user_id = ?1 AND replica = ?2",
                params![user.id, request.replica],
            )?;
        }
        Ok(Some(cursor as u64))
    }

    /// Phase 2: the readable changes after the cursor, oldest first. Returns the new cursor
    /// and whether more remain.
    fn pull_after_cursor(
        tx: &Transaction<'_>,
        user: &User,
        request: &PullRequest,
        from: u64,
        max_seq: i64,
        page: &mut Page,
        progress: Progress,
    ) -> Result<(u64, bool), StoreError> {
        let cursor = from.min(i64::MAX as u64) as i64;
        let cursor_param: &dyn rusqlite::ToSql = &cursor;
        let sql = if user.role == Role::Admin {
            "SELECT c.seq, c.doc, d.doc_id, length(c.bytes), c.bytes, c.hash \
               FROM changes c JOIN docs d ON d.id = c.doc \
              WHERE c.seq > :cursor ORDER BY c.seq"
                .to_owned()
        } else {
            format!(
                "{} SELECT c.seq, c.doc, d.doc_id, length(c.bytes), c.bytes, c.hash \
                   FROM changes c JOIN docs d ON d.id = c.doc \
                  WHERE c.seq > :cursor AND c.doc IN (SELECT id FROM readable) \
                  ORDER BY c.seq",
                readable_cte(user)
            )
        };
        let mut stmt = tx.prepare(&sql)?;
        bind_user(&mut stmt, user, &[(":cursor", cursor_param)])?;
        let mut rows = stmt.raw_query();
        let mut seen: HashSet<i64> = HashSet::new();
        let mut last = cursor;
        let mut cut = false;
        while let Some(row) = rows.next()? {
            let (seq, doc, len): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(3)?);
            let hash: Vec<u8> = row.get(5)?;
            let own =
                <[u8; 32]>::try_from(hash.as_slice()).is_ok_and(|h| request.skip.contains(&h));
            if !own {
                if !page.fits(len as u64) {
                    cut = true;
                    break;
                }
                page.push(StoredChange {
                    seq: seq as u64,
                    doc: row.get(2)?,
                    bytes: row.get(4)?,
                    snapshot: false,
                });
            }
            seen.insert(doc);
            last = seq;
        }
        drop(rows);
        mark_done(tx, progress, user.id, &request.replica, seen)?;
        if cut {
            Ok((last as u64, true))
        } else {
            Ok((max_seq.max(cursor) as u64, false))
        }
    }
}

impl Store for SqliteStore {
    fn check(&self) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn add_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row("SELECT 1 FROM users WHERE name = ?1", [&user.name], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        if exists {
            return Err(StoreError::UserExists {
                name: user.name.clone(),
            });
        }
        if let Some(employee) = &user.employee {
            let taken = tx
                .query_row(
                    "SELECT 1 FROM users WHERE employee = ?1",
                    [employee],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if taken {
                return Err(StoreError::EmployeeTaken {
                    employee: employee.clone(),
                });
            }
        }
        tx.execute(
            "INSERT INTO users (name, password, role, scope, employee, disabled, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            params![
                user.name,
                user.password_hash,
                user.role.as_str(),
                user.scope,
                user.employee,
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        // Pending assignments naming this user may now apply.
        bump_access(&tx)?;
        tx.commit()?;
        Ok(User {
            id,
            name: user.name.clone(),
            role: user.role,
            scope: user.scope.clone(),
            employee: user.employee.clone(),
            disabled: false,
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
        ))?;
        let rows = stmt.query_map([], user_from_row)?;
        let mut users = Vec::new();
        for row in rows {
            users.push(finish_user(row?)?);
        }
        Ok(users)
    }

    fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                &format!("SELECT {USER_COLUMNS}, u.password FROM users u WHERE u.name = ?1"),
                [name],
                |r| Ok((user_from_row(r)?, r.get::<_, String>(6)?)),
            )
            .optional()?;
        match row {
            Some((user, password)) => Ok(Some((finish_user(user)?, password))),
            None => Ok(None),
        }
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: Option<i64> = tx
            .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            params![id, disabled],
        )?;
        if disabled {
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn create_session(
        &self,
        user: UserId,
        token_hash: &[u8; 32],
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Logins are rare: a good moment to forget expired sessions.
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        tx.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4)",
            params![&token_hash[..], user, now, expires_at],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn session_user(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<User>, StoreError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                &format!(
                    "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0"
                ),
                params![&token_hash[..], now],
                user_from_row,
            )
            .optional()?;
        row.map(finish_user).transpose()
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [&token_hash[..]],
        )?;
        Ok(())
    }

    fn assign(
        &self,
        assignments: &[(TeacherRef, String)],
        now: i64,
    ) -> Result<AssignOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = AssignOutcome::default();
        let mut changed = false;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO assignments (teacher_kind, teacher, journal, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (teacher, journal) in assignments {
                let (kind, key, known_sql) = match teacher {
                    TeacherRef::User(name) => ("user", name, "SELECT 1 FROM users WHERE name = ?1"),
                    TeacherRef::Employee(id) => {
                        ("employee", id, "SELECT 1 FROM users WHERE employee = ?1")
                    }
                };
                changed |= insert.execute(params![kind, key, journal, now])? > 0;
                let known = tx
                    .query_row(known_sql, [key], |_| Ok(()))
                    .optional()?
                    .is_some();
                if known {
                    outcome.assigned += 1;
                } else {
                    outcome.pending += 1;
                }
            }
        }
        if changed {
            bump_access(&tx)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn push(&self, user: &User, batch: &PushBatch, now: i64) -> Result<PushOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;

        // The latest metadata per document (a client may repeat itself).
        let mut metas: HashMap<&str, (DocKind, &DocMeta)> = HashMap::new();
        for (doc, kind, meta) in &batch.metas {
            metas.insert(doc.as_str(), (*kind, meta));
        }
        // Every document touched, in kind order so a group or module created in this push is
        // known before the journals that reference it are decided.
        let mut docs: Vec<(DocKind, &str)> = metas.iter().map(|(d, (k, _))| (*k, *d)).collect();
        for change in &batch.changes {
            docs.push((change.kind, change.doc.as_str()));
        }
        docs.sort_unstable();
        docs.dedup();

        let mut decisions: HashMap<&str, DocDecision> = HashMap::new();
        let mut meta_written = false;
        for (kind, doc) in docs {
            let submitted = metas.get(doc).map(|(_, m)| *m);
            let decision = decide_doc(&tx, user, doc, kind, submitted, now, &mut meta_written)?;
            if let Err(reason) = &decision {
                tracing::info!(doc.id = %doc, user = %user.name, reason = %reason, "write refused");
            }
            decisions.insert(doc, decision);
        }
        if meta_written {
            // Metadata decides who reads what: every replica re-checks its readable set.
            bump_access(&tx)?;
        }

        let mut outcome = PushOutcome::default();
        {
            let mut stored_doc = tx.prepare_cached(
                "SELECT d.doc_id FROM changes c JOIN docs d ON d.id = c.doc WHERE c.hash = ?1",
            )?;
            let mut actor_owner =
                tx.prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")?;
            let mut bind = tx.prepare_cached(
                "INSERT INTO actors (actor, user_id, bound_at) VALUES (?1, ?2, ?3)",
            )?;
            let mut same_seq = tx.prepare_cached(
                "SELECT hash FROM changes WHERE doc = ?1 AND actor = ?2 AND actor_seq = ?3",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO changes (hash, doc, actor, user_id, bytes, stored_at, actor_seq, edit_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let day = now.div_euclid(86_400_000);
            // Marking system and final-control codes per journal, looked up once per push.
            let mut journal_rules: HashMap<i64, ScoreRules> = HashMap::new();
            let mut used_today: u64 = tx
                .query_row(
                    "SELECT bytes FROM usage WHERE user_id = ?1 AND day = ?2",
                    params![user.id, day],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .map_or(0, |b| b.max(0) as u64);
            let writer = Writer {
                name: &user.name,
                role: user.role,
            };
            for change in &batch.changes {
                let refuse = |code: ErrorCode, reason: &str| Refused {
                    hash: change.hash,
                    code,
                    reason: reason.to_owned(),
                };
                let existing: Option<String> = stored_doc
                    .query_row([&change.hash[..]], |r| r.get(0))
                    .optional()?;
                match existing {
                    Some(doc) if doc == change.doc => {
                        outcome.acked.push(change.hash);
                        continue;
                    }
                    Some(_) => {
                        outcome.refused.push(refuse(
                            ErrorCode::Malformed,
                            "this change is already stored for another document",
                        ));
                        continue;
                    }
                    None => {}
                }
                let inspected = match &change.inspected {
                    Ok(c) => c,
                    Err(unreadable) => {
                        outcome
                            .refused
                            .push(refuse(unreadable.code, &unreadable.reason));
                        continue;
                    }
                };
                let doc_row = match decisions.get(change.doc.as_str()) {
                    Some(Ok(id)) => *id,
                    Some(Err(reason)) => {
                        outcome.refused.push(refuse(ErrorCode::Forbidden, reason));
                        continue;
                    }
                    None => {
                        // Every change's document was decided above.
                        outcome.refused.push(refuse(
                            ErrorCode::Internal,
                            "the server could not decide this document",
                        ));
                        continue;
                    }
                };
                if let Err(refused) = daftar_rules::check_change(writer, change.kind, inspected) {
                    tracing::info!(doc.id = %change.doc, user = %user.name, reason = %refused, "change refused by the rules");
                    outcome
                        .refused
                        .push(refuse(ErrorCode::Forbidden, &refused.0));
                    continue;
                }
                // A teacher adds and cancels lessons, but a held lesson stays and an existing
                // lesson is moved or reassigned by the dean's office only: judged on the
                // journal as it stood before this change.
                if change.kind == DocKind::Journal
                    && user.role == Role::Teacher
                    && daftar_rules::lessons::concerns_lessons(&inspected.writes)
                    && let Some(before) = load_document(&tx, doc_row, None)?
                    && let Some(reason) = daftar_rules::lessons::refuse_teacher_lesson_writes(
                        &before,
                        &inspected.writes,
                    )
                {
                    tracing::info!(doc.id = %change.doc, user = %user.name, %reason, "lesson change refused");
                    outcome.refused.push(refuse(ErrorCode::Forbidden, &reason));
                    continue;
                }
                // A final-control score needs the student's admission, judged on the journal
                // as it stands with this change (and the module's plan).
                // (Administrators are not held to it: their HEMIS import carries the
                // registrar's record as it is.)
                let scores = if change.kind == DocKind::Journal && user.role != Role::Admin {
                    score_rules(&tx, doc_row, &inspected.writes, &mut journal_rules)?
                } else {
                    None
                };
                // A five-point journal takes whole grades 2–5 only.
                if let Some(reason) = scores.as_ref().and_then(|r| {
                    daftar_rules::final_control::refuse_non_grades(r.system, &inspected.writes)
                }) {
                    outcome.refused.push(refuse(ErrorCode::Forbidden, &reason));
                    continue;
                }
                // Anything in a retake sitting (a score, an absence) needs the permission;
                // both are judged on one read of the journal.
                let retake = change.kind == DocKind::Journal
                    && user.role != Role::Admin
                    && daftar_rules::final_control::writes_retake(&inspected.writes);
                if (retake
                    || scores
                        .as_ref()
                        .is_some_and(|r| r.writes_final(&inspected.writes)))
                    && let Some(reason) =
                        judge_finals(&tx, doc_row, &change.bytes, &inspected.writes)?
                {
                    tracing::info!(doc.id = %change.doc, user = %user.name, %reason, "final score refused");
                    outcome.refused.push(refuse(ErrorCode::Forbidden, &reason));
                    continue;
                }
                let seq = i64::try_from(inspected.seq).unwrap_or(i64::MAX);
                let twin: Option<Vec<u8>> = same_seq
                    .query_row(params![doc_row, inspected.actor, seq], |r| r.get(0))
                    .optional()?;
                if twin.is_some_and(|h| h != change.hash) {
                    outcome.refused.push(refuse(
                        ErrorCode::Malformed,
                        "another change from this device with the same sequence number is \
                         already stored; this device's history was rewritten",
                    ));
                    continue;
                }
                let len = change.bytes.len() as u64;
                if batch.daily_bytes > 0 && used_today + len > batch.daily_bytes {
                    outcome.refused.push(refuse(
                        ErrorCode::RateLimited,
                        &format!(
                            "you have sent {} MiB of changes today; the server takes at most {} MiB per user per day",
                            used_today / (1024 * 1024),
                            batch.daily_bytes / (1024 * 1024)
                        ),
                    ));
                    continue;
                }
                if !inspected.genesis {
                    let owner: Option<i64> = actor_owner
                        .query_row([&inspected.actor], |r| r.get(0))
                        .optional()?;
                    match owner {
                        Some(owner) if owner != user.id => {
                            outcome.refused.push(refuse(
                                ErrorCode::ForeignActor,
                                "this change was made on a device that belongs to another user",
                            ));
                            continue;
                        }
                        Some(_) => {}
                        None => {
                            bind.execute(params![inspected.actor, user.id, now])?;
                        }
                    }
                }
                insert.execute(params![
                    &change.hash[..],
                    doc_row,
                    inspected.actor,
                    user.id,
                    change.bytes,
                    now,
                    seq,
                    inspected.time
                ])?;
                used_today += len;
                outcome.stored += 1;
                outcome.stored_bytes += len;
                outcome.acked.push(change.hash);
            }
            if outcome.stored > 0 {
                tx.execute(
                    "INSERT INTO usage (user_id, day, bytes) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id, day) DO UPDATE SET bytes = excluded.bytes",
                    params![user.id, day, used_today as i64],
                )?;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn pull(&self, user: &User, request: &PullRequest) -> Result<PullOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let access = access_version(&tx)?;
        let max_seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
            r.get(0)
        })?;
        let mut page = Page {
            budget: request.budget.max(1),
            bytes: 0,
            changes: Vec::new(),
        };

        // What earlier pages recorded about this replica counts only once acknowledged.
        let progress = if request.acknowledges {
            settle_pending(&tx, user.id, &request.replica, request.ack)?;
            if request.cursor > 0 {
                // Past the first pull: a pinned bound has served its purpose.
                tx.prepare_cached("DELETE FROM replica_pull WHERE user_id = ?1 AND replica = ?2")?
                    .execute(params![user.id, request.replica])?;
            }
            // A fresh random id for each page: an id derived from the request (say, ack + 1)
            // would be handed out again to a late copy of an old request, whose records the
            // client's acknowledgement of the first page would then settle although their
            // page never arrived (found by the simulated network, seed 1592590483). Random
            // ids need no counter written on an idle sync; 2^52 of them do not meet.
            Progress::Pending(page_id())
        } else {
            Progress::Direct
        };
        let mut from = request.cursor;
        if request.access != access {
            match Self::pull_whole_docs(&tx, user, request, max_seq, &mut page, progress)? {
                // Every readable document went out up to `bound` (>= the cursor).
                Some(bound) => from = bound,
                None => {
                    let (authors, receipts) = provenance(&tx, &page.changes)?;
                    let page_id = pending_page(&tx, user.id, &request.replica, progress)?;
                    tx.commit()?;
                    return Ok(PullOutcome {
                        changes: page.changes,
                        cursor: request.cursor,
                        // Not the new version yet: the client asks again and the rest follows.
                        access: request.access,
                        more: true,
                        authors,
                        receipts,
                        page: page_id,
                    });
                }
            }
        }

        let (cursor, more) = if (from as i64) >= max_seq {
            // Nothing after the cursor: the cheap path of a sync when nothing changed.
            (from, false)
        } else {
            Self::pull_after_cursor(&tx, user, request, from, max_seq, &mut page, progress)?
        };
        let (authors, receipts) = provenance(&tx, &page.changes)?;
        let page_id = pending_page(&tx, user.id, &request.replica, progress)?;
        tx.commit()?;
        Ok(PullOutcome {
            changes: page.changes,
            cursor,
            access,
            more,
            authors,
            receipts,
            page: page_id,
        })
    }

    fn access_version(&self) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        access_version(&conn)
    }

    fn refresh_snapshots(&self, docs: &[String]) -> Result<usize, StoreError> {
        let mut rebuilt = 0;
        for doc_id in docs {
            // The connection is held only to read and to write, never while building, so
            // syncs go on meanwhile.
            let inputs = {
                let conn = self.conn()?;
                let id: Option<i64> = conn
                    .prepare_cached("SELECT id FROM docs WHERE doc_id = ?1")?
                    .query_row([doc_id], |r| r.get(0))
                    .optional()?;
                match id {
                    Some(id) => (id, snapshot_inputs(&conn, id, i64::MAX)?),
                    None => continue,
                }
            };
            let (id, inputs) = inputs;
            if !inputs.worth_building() {
                continue;
            }
            let built = build_snapshot(id, inputs).unwrap_or_else(|e| {
                tracing::warn!(doc = id, error = %e, "cannot build a snapshot");
                None
            });
            if let Some((upto, bytes)) = built {
                store_snapshot(&*self.conn()?, id, upto, &bytes)?;
                rebuilt += 1;
            }
        }
        Ok(rebuilt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                )
                .expect("pull");
            assert!(out.changes.is_empty());
            assert!(!out.more);
        }
    }
}

//! The local replica: one SQLite file (WAL, `synchronous=FULL`) holding every document's
//! automerge state, every change not yet folded into a snapshot, and the relational projection
//! the screens read (design §3).
//!
//! Writes go through two doors:
//! - [`Replica::edit`] for a local user action: the closure's operations become **one**
//!   automerge change, stored together with the projection rows it touched in **one** SQLite
//!   transaction. When `edit` returns, the change is on disk.
//! - [`Replica::apply_remote`] for changes from a bundle or the server: applied to the documents,
//!   new changes stored, projection and conflict inbox refreshed from the automerge patches,
//!   all in one transaction. Idempotent: a change already known is a no-op.
//!
//! If a transaction fails, the documents it touched are dropped from the in-memory cache and
//! reloaded from disk on next use, so memory never runs ahead of what was saved.
//!
//! Here: opening, identity (device, user, sign-in, who sees what), documents and the edit door.
//! [`apply`]: the other door, what arrives from bundles and the server. [`outbox`]: what waits to
//! go up, what the server said of it, and the sync bookkeeping.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use automerge::{ActorId, Change, ChangeHash};
use daftar_protocol::{DocKind, Role};
use rusqlite::{Connection, OptionalExtension, params};

mod apply;
mod outbox;

/// Replica meta keys of the sign-in, shared by the CLI and the app.
pub mod meta {
    pub const SERVER: &str = "server";
    pub const SERVER_USER: &str = "server_user";
    pub const SERVER_ROLE: &str = "server_role";
    pub const SERVER_SCOPE: &str = "server_scope";
    /// `<server>|<user>` the device id belongs to.
    pub const DEVICE_OWNER: &str = "device_owner";
    /// The servers signed in to from here, most recent first (JSON list).
    pub const SERVERS_USED: &str = "servers_used";

    /// The value of [`DEVICE_OWNER`] for a user at a server.
    pub fn device_owner(server: &str, user: &str) -> String {
        format!("{server}|{user}")
    }
}

use crate::doc::Doc;
use crate::error::{CoreError, Result};
use crate::projection::{self, Refresh};
use crate::schema;

/// Compact a document's change rows into a fresh snapshot after this many rows.
const COMPACT_AFTER_ROWS: i64 = 512;
/// Local edits between two looks at whether the edited document wants compacting.
const COMPACT_CHECK_EVERY: u32 = 32;

/// What a caller learns about the replica's identity.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaInfo {
    pub path: PathBuf,
    pub device: String,
    pub user: String,
    pub university: Option<String>,
    pub schema: i64,
    pub documents: i64,
    pub unpushed: i64,
    pub conflicts: i64,
}

/// The result of applying remote changes.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct ApplyReport {
    /// Changes not seen before.
    pub new_changes: usize,
    /// Changes waiting for missing dependencies.
    pub pending: usize,
    pub documents: usize,
    /// Documents that could not be applied and were set aside (server pages only).
    pub set_aside: Vec<String>,
}

/// A change a caller hands to [`Replica::apply_remote`].
#[derive(Clone)]
pub enum Incoming {
    /// One raw automerge change.
    Change { doc: String, bytes: Vec<u8> },
    /// A saved document (automerge `save()`), e.g. from a bundle.
    Document { doc: String, bytes: Vec<u8> },
}

impl Incoming {
    fn doc(&self) -> &str {
        match self {
            Incoming::Change { doc, .. } | Incoming::Document { doc, .. } => doc,
        }
    }
}

/// A local change waiting to be pushed.
#[derive(Debug, Clone)]
pub struct OutgoingChange {
    pub seq: i64,
    pub hash: String,
    pub doc: String,
    pub bytes: Vec<u8>,
    pub refused: Option<String>,
}

pub struct Replica {
    conn: Connection,
    path: PathBuf,
    device: ActorId,
    user: String,
    /// A user name was given (`init --user`, a sign-in): changes claim it as their author.
    /// A replica nobody named claims no one, so its changes can go up under whoever signs in.
    named: bool,
    docs: HashMap<String, Doc>,
    provenance: crate::provenance::Provenance,
    clock: Box<dyn Fn() -> i64 + Send>,
    data_version: Option<i64>,
    /// Local edits since the last look at compaction.
    edits_since_check: u32,
}

fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Replica {
    /// Opens (creating if needed) the replica at `path`, upgrading an older schema in place.
    /// A replica written by a newer Daftar is refused and left untouched.
    pub fn open(path: &Path) -> Result<Replica> {
        Self::open_inner(path).map_err(|e| disk_trouble(path, e))
    }

    fn open_inner(path: &Path) -> Result<Replica> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        }
        let mut conn = Connection::open(path)?;
        // Check the version before anything writes to the file.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::LATEST {
            return Err(CoreError::SchemaTooNew {
                found: version,
                supported: schema::LATEST,
            });
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Room for every statement an edit or an applied page runs (projection, inbox,
        // change rows), so none is prepared again within a transaction.
        conn.set_prepared_statement_cache_capacity(64);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn, schema::LATEST)?;

        let device =
            match meta_get(&conn, "device")? {
                Some(hex_id) => ActorId::from(hex::decode(&hex_id).map_err(|_| {
                    CoreError::invalid("device", "the replica's device id is damaged")
                })?),
                None => {
                    let actor = ActorId::random();
                    meta_set(&conn, "device", &actor.to_hex_string())?;
                    actor
                }
            };
        let named_user = meta_get(&conn, "user")?;
        let named = named_user.is_some();
        let user = named_user.unwrap_or_else(|| "local".to_string());
        let provenance = crate::provenance::Provenance::load(&conn)?;
        let rebuild = meta_get(&conn, "rebuild_projection")?.is_some();
        let mut replica = Replica {
            conn,
            path: path.to_path_buf(),
            device,
            user,
            named,
            provenance,
            docs: HashMap::new(),
            clock: Box::new(now_ms),
            data_version: None,
            edits_since_check: 0,
        };
        // A schema upgrade that added projected columns: read them from the documents once.
        if rebuild {
            replica.rebuild_projection()?;
            replica.conn.execute(
                "DELETE FROM replica_meta WHERE key = 'rebuild_projection'",
                [],
            )?;
        }
        Ok(replica)
    }

    /// Replaces the wall clock (tests and the demo generator use a fixed one).
    pub fn set_clock(&mut self, clock: impl Fn() -> i64 + Send + 'static) {
        self.clock = Box::new(clock);
    }

    /// Goes back to the wall clock.
    pub fn use_wall_clock(&mut self) {
        self.clock = Box::new(now_ms);
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The replica's SQLite connection, for core's own queries: the shell, the CLI and the
    /// sync client read through core's typed views and actions (the architecture test
    /// `tests/tests/architecture.rs` fails on SQL outside core and the server's store).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The raw connection, for tests and the bench's plain-SQL baselines only (measuring,
    /// corrupting or comparing the file). The architecture test refuses it in the shell, the
    /// CLI and the sync client.
    #[doc(hidden)]
    pub fn raw_sql(&self) -> &Connection {
        &self.conn
    }

    pub fn device_hex(&self) -> String {
        self.device.to_hex_string()
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Starts writing as a new device (automerge actor). The server binds an actor to the first
    /// user who pushes with it, so a replica that changes hands (another user signs in) needs
    /// a new one; changes already made keep their old actor.
    pub fn new_device(&mut self) -> Result<String> {
        let actor = ActorId::random();
        meta_set(&self.conn, "device", &actor.to_hex_string())?;
        self.device = actor;
        self.docs.clear();
        Ok(self.device_hex())
    }

    /// Writes from now on as the device `hex_id` (an automerge actor id in hex). For replays
    /// that must be exact (the simulated-network tests derive every device from their seed);
    /// a device id shared by two replicas would be a fork of one device, so nothing else
    /// should call this.
    pub fn set_device(&mut self, hex_id: &str) -> Result<()> {
        let bytes = hex::decode(hex_id)
            .map_err(|_| CoreError::invalid("device", "a device id is hexadecimal"))?;
        if bytes.is_empty() || bytes.len() > 32 {
            return Err(CoreError::invalid("device", "a device id is 1 to 32 bytes"));
        }
        meta_set(&self.conn, "device", hex_id)?;
        self.device = ActorId::from(bytes);
        self.docs.clear();
        Ok(())
    }

    /// Another user signs in here with `server`: a new device (see [`Replica::new_device`]),
    /// and the sync with that server starts again from zero. The server keeps, per device,
    /// which documents it has sent; a new device with the previous user's cursor and access
    /// version would never receive what only the new user may read.
    pub fn new_device_for(&mut self, server: &str) -> Result<String> {
        let device = self.new_device()?;
        self.conn.execute(
            "UPDATE sync_state SET cursor = 0, access = 0 WHERE server = ?1",
            [server],
        )?;
        Ok(device)
    }

    /// Sets the name recorded as the author of local edits.
    pub fn set_user(&mut self, user: &str) -> Result<()> {
        meta_set(&self.conn, "user", user)?;
        self.user = user.to_string();
        self.named = true;
        Ok(())
    }

    pub fn university(&self) -> Result<Option<String>> {
        meta_get(&self.conn, "university")
    }

    pub fn set_university(&mut self, code: &str) -> Result<()> {
        meta_set(&self.conn, "university", code)
    }

    /// The university, or a clear error when the replica was never initialised.
    pub fn require_university(&self) -> Result<String> {
        self.university()?.ok_or_else(|| CoreError::NotInitialised {
            path: self.path.clone(),
        })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        meta_get(&self.conn, key)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        meta_set(&self.conn, key, value)
    }

    /// Forgets a meta key (nothing when it is not there).
    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM replica_meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Records a sign-in the server accepted: the server, the user and the role and scope
    /// the server gave (a scope the previous user had does not stay behind), the device's
    /// owner, and the user as the author of edits made here. The CLI and the app both sign in
    /// through this.
    pub fn record_sign_in(
        &mut self,
        server: &str,
        user: &str,
        role: daftar_protocol::Role,
        scope: Option<&str>,
    ) -> Result<()> {
        let owner = meta::device_owner(server, user);
        self.set_meta(meta::DEVICE_OWNER, &owner)?;
        // Changes made before anyone signed in are the first signer's to send, and documents
        // no user had yet are theirs to read.
        self.conn.execute(
            "UPDATE changes SET owner = ?1 WHERE local = 1 AND owner IS NULL",
            [&owner],
        )?;
        self.conn.execute(
            "INSERT INTO doc_readers (doc_id, owner)
             SELECT id, ?1 FROM documents WHERE id NOT IN (SELECT doc_id FROM doc_readers)",
            [&owner],
        )?;
        // So are the materials attached before, still to send.
        self.conn.execute(
            "UPDATE material_files SET owner = ?1 WHERE sent = 0 AND owner IS NULL",
            [&owner],
        )?;
        let mut used = self.servers_used()?;
        used.retain(|s| s != server);
        used.insert(0, server.to_string());
        used.truncate(8);
        self.set_meta(
            meta::SERVERS_USED,
            &serde_json::to_string(&used).unwrap_or_default(),
        )?;
        self.set_meta(meta::SERVER, server)?;
        self.set_meta(meta::SERVER_USER, user)?;
        self.set_meta(meta::SERVER_ROLE, role.as_str())?;
        match scope {
            Some(scope) => self.set_meta(meta::SERVER_SCOPE, scope)?,
            None => self.delete_meta(meta::SERVER_SCOPE)?,
        }
        self.set_user(user)
    }

    /// Documents stored here that the person signed in now may not see. Signed in, a user
    /// sees the documents a server sent them, those they made or read from a bundle, and
    /// those no one had claimed when they signed in; signed out, only documents no user ever
    /// had (demo data, offline work). The rest stay stored for their owners; lists, look-ups,
    /// exports and bundles leave them out.
    pub fn hidden_docs(&self) -> Result<std::collections::HashSet<String>> {
        let sql = match signed_in_owner(&self.conn)? {
            Some(_) => {
                "SELECT id FROM documents
                 WHERE id NOT IN (SELECT doc_id FROM doc_readers WHERE owner = ?1)"
            }
            None => "SELECT DISTINCT doc_id FROM doc_readers WHERE ?1 IS NULL",
        };
        let me = signed_in_owner(&self.conn)?;
        let mut stmt = self.conn.prepare_cached(sql)?;
        let hidden = stmt
            .query_map([me], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(hidden)
    }

    /// Whether the person signed in now may see `doc_id` here (see [`Replica::hidden_docs`]).
    pub fn visible(&self, doc_id: &str) -> Result<bool> {
        let me = signed_in_owner(&self.conn)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT CASE WHEN ?2 IS NULL THEN count(*) = 0 ELSE coalesce(sum(owner = ?2), 0) > 0 END
             FROM doc_readers WHERE doc_id = ?1",
        )?;
        Ok(stmt.query_row(params![doc_id, me], |r| r.get(0))?)
    }

    /// Forgets which server and user this replica is signed in to (signing out; the
    /// documents and unsent changes stay).
    pub fn forget_sign_in(&self) -> Result<()> {
        for key in [
            meta::SERVER,
            meta::SERVER_USER,
            meta::SERVER_ROLE,
            meta::SERVER_SCOPE,
        ] {
            self.delete_meta(key)?;
        }
        Ok(())
    }

    /// How many documents the replica stores, whoever may see them.
    pub fn stored_document_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM documents", [], |row| row.get(0))?)
    }

    /// The servers signed in to from this replica, the most recent first (the sign-in form
    /// offers them).
    pub fn servers_used(&self) -> Result<Vec<String>> {
        Ok(self
            .meta(meta::SERVERS_USED)?
            .and_then(|v| serde_json::from_str::<Vec<String>>(&v).ok())
            .unwrap_or_default())
    }

    /// How many documents the person signed in now sees here ([`Replica::hidden_docs`]).
    pub fn document_count(&self) -> Result<i64> {
        Ok(self.visible_doc_ids()?.len() as i64)
    }

    /// How many journals the person signed in now sees here.
    pub fn journal_count(&self) -> Result<i64> {
        let hidden = self.hidden_docs()?;
        let mut stmt = self.conn.prepare_cached("SELECT id FROM journals")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut n = 0;
        for id in ids {
            if !hidden.contains(&id?) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The first catalog document's id, if any.
    pub fn catalog_doc(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM documents WHERE kind = 'catalog' ORDER BY id LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// A number that grows when changes from elsewhere arrive for `doc`: its newest remote
    /// change row, or the snapshot that folded such rows away.
    pub fn remote_version(&self, doc: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT max(coalesce((SELECT max(seq) FROM changes WHERE doc_id = ?1 AND local = 0), 0),
                        coalesce((SELECT snapshot_seq FROM documents WHERE id = ?1), 0))",
            [doc],
            |row| row.get(0),
        )?)
    }

    /// What the server needs to derive permissions for `doc`, from the projection: a group's
    /// faculty, a module's department, a journal's group, module, teachers and faculty.
    pub fn sync_meta(&self, doc: &str) -> Result<daftar_protocol::DocMeta> {
        let mut meta = daftar_protocol::DocMeta::default();
        if doc.starts_with("group/") {
            meta.faculty = self
                .conn
                .query_row("SELECT faculty_id FROM groups WHERE id = ?1", [doc], |r| {
                    r.get(0)
                })
                .optional()?
                .flatten();
        } else if doc.starts_with("module/") {
            meta.department = self
                .conn
                .query_row(
                    "SELECT department_id FROM modules WHERE id = ?1",
                    [doc],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
        } else if doc.starts_with("journal/") {
            let row: Option<(String, Option<String>, String, Option<String>)> = self
                .conn
                .query_row(
                    "SELECT j.group_id, j.module_id, j.teachers, g.faculty_id
                     FROM journals j LEFT JOIN groups g ON g.id = j.group_id WHERE j.id = ?1",
                    [doc],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((group, module, teachers, faculty)) = row {
                meta.group = Some(group).filter(|g| !g.is_empty());
                meta.module = module;
                meta.teachers = serde_json::from_str(&teachers).unwrap_or_default();
                meta.faculty = faculty;
            }
        }
        Ok(meta)
    }

    pub fn info(&self) -> Result<ReplicaInfo> {
        let count = |sql: &str| -> Result<i64> { Ok(self.conn.query_row(sql, [], |r| r.get(0))?) };
        Ok(ReplicaInfo {
            path: self.path.clone(),
            device: self.device_hex(),
            user: self.user.clone(),
            university: self.university()?,
            schema: count("PRAGMA user_version")?,
            documents: count("SELECT count(*) FROM documents")?,
            unpushed: count("SELECT count(*) FROM changes WHERE local = 1 AND pushed = 0")?,
            conflicts: count("SELECT count(*) FROM conflicts")?,
        })
    }

    /// Every document id this replica holds, sorted.
    pub fn doc_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT id FROM documents ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// The documents the person signed in now may see (see [`Replica::hidden_docs`]): what
    /// bundles carry.
    pub fn visible_doc_ids(&self) -> Result<Vec<String>> {
        let hidden = self.hidden_docs()?;
        Ok(self
            .doc_ids()?
            .into_iter()
            .filter(|id| !hidden.contains(id))
            .collect())
    }

    pub fn has_doc(&self, doc_id: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM documents WHERE id = ?1",
                [doc_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Loads a document into the cache (from its snapshot and the change rows after it).
    pub fn doc(&mut self, doc_id: &str) -> Result<&mut Doc> {
        if self.conn.is_autocommit() {
            self.drop_stale_cache()?;
        }
        if !self.docs.contains_key(doc_id) {
            let mut doc = load_doc(&self.conn, doc_id, &self.device)?
                .ok_or_else(|| CoreError::not_found("document", doc_id))?;
            doc.provenance = self.provenance.clone();
            self.docs.insert(doc_id.to_string(), doc);
        }
        self.docs
            .get_mut(doc_id)
            .ok_or_else(|| CoreError::not_found("document", doc_id))
    }

    /// Runs several actions as one all-or-nothing unit (an import): every action's change and
    /// projection rows land together or not at all. Takes the database's write lock first
    /// (`BEGIN IMMEDIATE`), so another process's commit can never slip between reading a
    /// document and writing what follows from it; documents another process changed are
    /// reloaded. Nested calls join the outer unit.
    pub fn atomically<T>(&mut self, f: impl FnOnce(&mut Replica) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        if let Err(e) = self.drop_stale_cache() {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        match f(self) {
            Ok(value) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.docs.clear();
                    Err(self.disk_trouble(e.into()))
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.docs.clear();
                Err(self.disk_trouble(e))
            }
        }
    }

    fn disk_trouble(&self, e: CoreError) -> CoreError {
        disk_trouble(&self.path, e)
    }

    /// Forgets cached documents when another connection (the desktop app and the CLI on the
    /// same replica) committed since we last looked.
    fn drop_stale_cache(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if self.data_version != Some(version) {
            self.docs.clear();
            self.data_version = Some(version);
        }
        Ok(())
    }

    /// Drops cached documents (they reload from disk on next use).
    pub fn forget_cache(&mut self) {
        self.docs.clear();
    }

    /// Creates a document locally (genesis change plus whatever `f` writes) as one action.
    pub fn create_doc<F>(&mut self, doc_id: &str, message: &str, f: F) -> Result<()>
    where
        F: FnOnce(&mut Doc) -> Result<()>,
    {
        self.atomically(|r| r.create_doc_inner(doc_id, message, f))
    }

    fn create_doc_inner<F>(&mut self, doc_id: &str, message: &str, f: F) -> Result<()>
    where
        F: FnOnce(&mut Doc) -> Result<()>,
    {
        let kind = DocKind::of_doc_id(doc_id)
            .ok_or_else(|| CoreError::invalid("id", format!("{doc_id:?} is not a document id")))?;
        if self.has_doc(doc_id)? {
            return self.edit_whole(doc_id, message, f);
        }
        let mut doc = Doc::create(doc_id, kind, &self.device)?;
        doc.provenance = self.provenance.clone();
        let genesis = doc.am.get_changes(&[]);
        f(&mut doc)?;
        let msg = self.message(message);
        let now = self.now();
        let mut rows: Vec<(ChangeHash, Vec<u8>, bool)> = genesis
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec(), true))
            .collect();
        if let Some((hash, bytes)) = doc.commit(&msg, now) {
            rows.push((hash, bytes, true));
        }
        let tx = self.conn.savepoint()?;
        tx.execute(
            "INSERT INTO documents (id, kind) VALUES (?1, ?2)",
            params![doc_id, kind.as_str()],
        )?;
        for (hash, bytes, local) in &rows {
            insert_change(&tx, doc_id, hash, bytes, *local, true)?;
        }
        projection::refresh(&tx, &mut doc, &Refresh::Whole)?;
        tx.commit()?;
        self.docs.insert(doc_id.to_string(), doc);
        Ok(())
    }

    /// One local user action on one document that rewrites whole parts of it (imports):
    /// the projection of the document is rebuilt.
    pub fn edit_whole<F>(&mut self, doc_id: &str, message: &str, f: F) -> Result<()>
    where
        F: FnOnce(&mut Doc) -> Result<()>,
    {
        self.edit(doc_id, message, |doc| {
            f(doc)?;
            Ok(Refresh::Whole)
        })
        .map(|_| ())
    }

    /// One local user action: `f` writes to the document and says what it touched; the
    /// operations become one automerge change, persisted with the projection in one
    /// transaction. Returns whether anything changed.
    pub fn edit<F>(&mut self, doc_id: &str, message: &str, f: F) -> Result<bool>
    where
        F: FnOnce(&mut Doc) -> Result<Refresh>,
    {
        let changed = self.atomically(|r| r.edit_inner(doc_id, message, f))?;
        if changed {
            self.edits_since_check += 1;
            if self.edits_since_check >= COMPACT_CHECK_EVERY {
                self.edits_since_check = 0;
                self.compact_quietly(doc_id);
            }
        }
        Ok(changed)
    }

    /// Compacts a document whose change rows piled up (loading it reads every row after its
    /// snapshot: thousands of them made a teacher's first mark of the day take seconds). Runs
    /// after the edit or page is committed and never fails it: the rows stay as they are and
    /// the next look tries again.
    fn compact_quietly(&mut self, doc_id: &str) {
        if !self.conn.is_autocommit() {
            return;
        }
        if let Err(e) = self.compact_if_needed(doc_id) {
            tracing::warn!(doc = doc_id, error = %e, "compaction failed; the change rows stay");
        }
    }

    fn edit_inner<F>(&mut self, doc_id: &str, message: &str, f: F) -> Result<bool>
    where
        F: FnOnce(&mut Doc) -> Result<Refresh>,
    {
        let msg = self.message(message);
        let now = self.now();
        let Replica {
            conn,
            docs,
            device,
            user,
            provenance,
            ..
        } = self;
        if !docs.contains_key(doc_id) {
            let mut doc = load_doc(conn, doc_id, device)?
                .ok_or_else(|| CoreError::not_found("document", doc_id))?;
            doc.provenance = provenance.clone();
            docs.insert(doc_id.to_string(), doc);
        }
        let Some(doc) = docs.get_mut(doc_id) else {
            return Err(CoreError::not_found("document", doc_id));
        };
        let refresh = match f(doc) {
            Ok(r) => r,
            Err(e) => {
                doc.rollback();
                return Err(e);
            }
        };
        let Some((hash, bytes)) = doc.commit(&msg, now) else {
            return Ok(false);
        };
        // Signed in: the edit must pass the rules the server will judge it by, with the
        // server's words when it does not.
        if let Some(role) = meta_get(conn, meta::SERVER_ROLE)?.and_then(|r| Role::parse(&r))
            && let Err(reason) = judge_local(doc_id, doc.kind, &bytes, user, role)
        {
            docs.remove(doc_id);
            return Err(CoreError::NotAllowed { reason });
        }
        let result = (|| -> Result<()> {
            let tx = conn.savepoint()?;
            insert_change(&tx, doc_id, &hash, &bytes, true, true)?;
            projection::refresh(&tx, doc, &refresh)?;
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            docs.remove(doc_id);
            return Err(e);
        }
        Ok(true)
    }

    /// Documents set aside because what arrived for them could not be applied: (document,
    /// error, unix ms). Every other document keeps syncing.
    pub fn set_aside(&self) -> Result<Vec<(String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id, error, at FROM set_aside ORDER BY doc_id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The role this replica's user signed in with, if signed in.
    pub fn signed_in_role(&self) -> Result<Option<Role>> {
        Ok(meta_get(&self.conn, meta::SERVER_ROLE)?.and_then(|r| Role::parse(&r)))
    }

    fn message(&self, action: &str) -> String {
        if self.named {
            serde_json::json!({ "by": self.user, "do": action }).to_string()
        } else {
            serde_json::json!({ "do": action }).to_string()
        }
    }

    /// Folds a document's change rows into a fresh snapshot when they have piled up.
    pub fn compact_if_needed(&mut self, doc_id: &str) -> Result<bool> {
        let rows: i64 = self.conn.query_row(
            "SELECT count(*) FROM changes c JOIN documents d ON d.id = c.doc_id
             WHERE c.doc_id = ?1 AND c.seq > d.snapshot_seq AND c.applied = 1",
            [doc_id],
            |r| r.get(0),
        )?;
        if rows < COMPACT_AFTER_ROWS {
            return Ok(false);
        }
        self.compact(doc_id)?;
        Ok(true)
    }

    /// Saves a document as one snapshot and deletes the change rows it covers that are no
    /// longer needed (pushed or remote).
    pub fn compact(&mut self, doc_id: &str) -> Result<()> {
        let snapshot = self.doc(doc_id)?.am.save();
        let tx = self.conn.savepoint()?;
        let max_seq: i64 = tx.query_row(
            "SELECT coalesce(max(seq), 0) FROM changes WHERE doc_id = ?1 AND applied = 1",
            [doc_id],
            |r| r.get(0),
        )?;
        tx.execute(
            "UPDATE documents SET snapshot = ?2, snapshot_seq = ?3 WHERE id = ?1",
            params![doc_id, snapshot, max_seq],
        )?;
        tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1 AND applied = 1 AND seq <= ?2
               AND (local = 0 OR pushed = 1)",
            params![doc_id, max_seq],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Compacts every document.
    pub fn compact_all(&mut self) -> Result<usize> {
        let ids = self.doc_ids()?;
        for id in &ids {
            self.compact(id)?;
        }
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(ids.len())
    }

    /// Rebuilds the whole projection from the documents (recovery, upgrades).
    pub fn rebuild_projection(&mut self) -> Result<()> {
        let ids = self.doc_ids()?;
        for id in &ids {
            self.doc(id)?;
        }
        let Replica { conn, docs, .. } = self;
        let tx = conn.savepoint()?;
        projection::clear_all(&tx)?;
        for id in &ids {
            if let Some(doc) = docs.get_mut(id) {
                projection::refresh(&tx, doc, &Refresh::Whole)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    // Cached: every local edit reads who is signed in (the change's owner).
    Ok(conn
        .prepare_cached("SELECT value FROM replica_meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO replica_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Stores a change row; returns false when it was already known.
fn insert_change(
    tx: &Connection,
    doc_id: &str,
    hash: &ChangeHash,
    bytes: &[u8],
    local: bool,
    applied: bool,
) -> Result<bool> {
    // A local change belongs to whoever is signed in (none: claimed at the next sign-in), and
    // the document it makes or edits is theirs to read.
    let owner = if local { signed_in_owner(tx)? } else { None };
    let n = tx.execute(
        "INSERT INTO changes (hash, doc_id, bytes, local, applied, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (hash) DO NOTHING",
        params![hash.to_string(), doc_id, bytes, local, applied, owner],
    )?;
    if let Some(owner) = &owner {
        add_reader(tx, doc_id, owner)?;
    }
    Ok(n > 0)
}

/// The device owner (`server|user`) while someone is signed in.
/// The owner ("server|user") of the sign-in now, if someone is signed in.
pub(crate) fn signed_in_owner_of(replica: &Replica) -> Result<Option<String>> {
    signed_in_owner(&replica.conn)
}

fn signed_in_owner(conn: &Connection) -> Result<Option<String>> {
    if meta_get(conn, meta::SERVER_USER)?.is_none() {
        return Ok(None);
    }
    meta_get(conn, meta::DEVICE_OWNER)
}

fn add_reader(conn: &Connection, doc_id: &str, owner: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO doc_readers (doc_id, owner) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![doc_id, owner])?;
    Ok(())
}

/// SQLite reports a full or read-only disk as a plain I/O error as often as not (it cannot
/// write its write-ahead log there): a small probe file next to the replica tells which, so the
/// person reads "the disk is full" rather than "disk I/O error".
fn disk_trouble(path: &Path, e: CoreError) -> CoreError {
    let io_failure = matches!(
        &e,
        CoreError::Sqlite(s) if matches!(
            s.sqlite_error_code(),
            Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen)
        )
    );
    if !io_failure {
        return e;
    }
    let Some(dir) = path.parent().filter(|d| d.is_dir()) else {
        return e;
    };
    let probe = dir.join(".daftar-disk-probe");
    let written = std::fs::write(&probe, [0u8; 4096]);
    let _ = std::fs::remove_file(&probe);
    match written.map_err(|io| io.kind()) {
        Err(std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) => {
            CoreError::DiskFull
        }
        Err(std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied) => {
            CoreError::ReadOnly
        }
        _ => e,
    }
}

fn load_doc(conn: &Connection, doc_id: &str, device: &ActorId) -> Result<Option<Doc>> {
    let row: Option<(String, Option<Vec<u8>>, i64)> = conn
        .query_row(
            "SELECT kind, snapshot, snapshot_seq FROM documents WHERE id = ?1",
            [doc_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((kind, snapshot, snapshot_seq)) = row else {
        return Ok(None);
    };
    let kind = DocKind::of_doc_id(&format!("{kind}/x"))
        .ok_or_else(|| CoreError::invalid("kind", format!("unknown document kind {kind}")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT bytes FROM changes WHERE doc_id = ?1 AND (seq > ?2 OR applied = 0) ORDER BY seq",
    )?;
    let chunks = stmt
        .query_map(params![doc_id, snapshot_seq], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let doc = Doc::load(
        doc_id,
        kind,
        snapshot.as_deref(),
        chunks.iter().map(Vec::as_slice),
        device,
    )?;
    Ok(Some(doc))
}

/// Judges a local change as the server will: the same inspection and rule table.
fn judge_local(
    doc_id: &str,
    kind: DocKind,
    bytes: &[u8],
    user: &str,
    role: Role,
) -> std::result::Result<(), String> {
    let change = daftar_rules::inspect(doc_id, kind, bytes, &daftar_rules::Limits::default())
        .map_err(|u| u.reason)?;
    daftar_rules::check_change(daftar_rules::Writer { name: user, role }, kind, &change)
        .map_err(|r| r.0)
}

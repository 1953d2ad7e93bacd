//! The sync engine, written once: push, pull, paging, the snapshot policy and the permission
//! orchestration, over a narrow per-transaction trait ([`Tx`]) that each backend implements
//! with its own SQL ([`super::sqlite`], [`super::postgres`]).
//!
//! A backend only answers questions and records facts ("the row of this document", "insert
//! this change", "the readable changes after this cursor"); every decision is made here or in
//! the `daftar-rules` crate. Each [`Store`] method is one [`Backend::transaction`], so a push is
//! all-or-nothing and a pull reads one consistent view.
//!
//! **The pull cursor.** A pull sends the readable changes with `seq` above the replica's
//! cursor and moves the cursor to the highest `seq` it has seen. That is only correct if a
//! change with a lower `seq` can never become visible after a higher one. Each backend keeps
//! that rule: SQLite has one writer at a time; PostgreSQL takes one transaction-scoped
//! advisory lock for every transaction that assigns a `seq` ([`Mode::Push`]), so sequence
//! numbers are handed out and committed in the same order on every instance.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

use daftar_protocol::{DocKind, DocMeta, ErrorCode, Role};
use daftar_rules::{WriteFacts, Writer};

use super::{
    AssignOutcome, ChangeHash, IncomingChange, LoginOutcome, MaterialPart, MaterialRefusal,
    MaterialState, NewUser, PullOutcome, PullRequest, PushBatch, PushOutcome, Refused, Store,
    StoreError, StoredChange, TeacherRef, User, UserId,
};

/// A newly readable document with fewer changes than this goes out change by change: a
/// snapshot would not be smaller.
pub const SNAPSHOT_MIN_CHANGES: i64 = 8;

/// A cached snapshot is sent with up to this many later changes after it; with more, it is
/// rebuilt (from itself plus those changes) and cached again.
pub const SNAPSHOT_MAX_TAIL: i64 = 32;

/// Rows read at a time by phase 2 of a pull (the page usually fills first).
const CHUNK_ROWS: i64 = 256;

/// What a transaction is for: the backend picks its isolation and locking from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads only.
    Read,
    /// Writes that assign no change `seq` (users, sessions, assignments, bookkeeping).
    Write,
    /// Writes that may assign change `seq`s: serialised so commit order is `seq` order.
    Push,
    /// A pull: reads that must all see one snapshot (the access version, the readable set,
    /// the changes after the cursor) and writes of the replica's bookkeeping.
    Pull,
}

/// A committed transaction's place in the backend's disk syncs (see
/// [`Backend::transaction_unsynced`]).
#[must_use = "nothing of an unsynced commit may be answered before it is durable"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable(pub(crate) u64);

impl Durable {
    /// Durable already.
    pub const NOW: Durable = Durable(0);
}

/// A storage backend: runs one transaction at a time through [`Tx`].
pub trait Backend: Send + Sync + 'static {
    /// Runs `f` in one transaction, committed when `f` returns `Ok`, rolled back otherwise. A
    /// backend may run `f` again after a serialization conflict.
    fn transaction<T>(
        &self,
        mode: Mode,
        f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;

    /// [`Backend::transaction`] for a writer that may start its next transaction before this
    /// one's commit is on the disk (SQLite, whose WAL is synced off the writer): nothing from
    /// it may be answered before [`Backend::durable`] of the ticket returns `Ok`. Elsewhere the
    /// commit is durable when it returns.
    fn transaction_unsynced<T>(
        &self,
        mode: Mode,
        f: impl FnMut(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<(T, Durable), StoreError> {
        self.transaction(mode, f).map(|out| (out, Durable::NOW))
    }

    /// Returns once the commit of `ticket` is on the disk; an error when the disk could not
    /// confirm it (then nothing of that commit may be reported as stored).
    fn durable(&self, ticket: Durable) -> Result<(), StoreError> {
        let _ = ticket;
        Ok(())
    }

    /// See [`Store::listen`].
    fn listen(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        let _ = on_change;
    }

    /// Whether a push's own pull may run inside its commit group's transaction: true where
    /// one writer serialises every write (SQLite), so the pull reads one consistent state
    /// that commits with the push. PostgreSQL pulls need their own REPEATABLE READ snapshot.
    const PULL_IN_PUSH_GROUP: bool = false;

    /// Whether a write other than a push (a sign-in, a pull's bookkeeping) waits for the
    /// writer: a commit group then ends early, once it holds [`GROUP_CHANGES_BEFORE_YIELD`]
    /// changes, and lets it in. Only where writes take turns on one writer (SQLite).
    fn writer_wanted(&self) -> bool {
        false
    }
}

/// A `users` row as read, before its role text is checked.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub scope: Option<String>,
    pub employee: Option<String>,
    pub disabled: bool,
}

/// A document's row: its id and the metadata the server stored (as JSON), if any.
#[derive(Debug, Clone)]
pub struct DocRecord {
    pub id: i64,
    pub meta_json: Option<String>,
}

/// A change to store.
#[derive(Debug, Clone, Copy)]
pub struct NewChange<'a> {
    pub hash: &'a [u8],
    pub doc: i64,
    pub actor: &'a [u8],
    pub user: UserId,
    pub bytes: &'a [u8],
    pub stored_at: i64,
    pub actor_seq: i64,
    pub edit_time: i64,
}

/// What identifies a stored change in the `changes_device` index: its device, the device's
/// sequence number, and its hash.
#[derive(Debug, Clone, Copy)]
pub struct ChangeKey<'a> {
    pub actor: &'a [u8],
    pub actor_seq: i64,
    pub hash: &'a [u8],
}

/// A stored change as phase 2 of a pull reads it.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub seq: i64,
    pub doc: i64,
    pub doc_id: String,
    pub bytes: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Who made a stored change and when it was received: (actor, user name bound to the actor,
/// hash, stored at, device time).
pub type ProvenanceRow = (Vec<u8>, Option<String>, Vec<u8>, i64, Option<i64>);

/// Where a page's bookkeeping about a replica goes: straight into the replica's progress (a
/// client that does not acknowledge pages), or pending under the page's id until the
/// replica's next request acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Direct,
    Pending(i64),
}

/// A savepoint inside a transaction (for work that may fail without undoing what came
/// before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Savepoint {
    Begin,
    Release,
    /// Undoes everything since `Begin` and ends the savepoint.
    RollBack,
}

impl Savepoint {
    /// The statement, the same in SQLite and PostgreSQL.
    pub fn sql(self) -> &'static str {
        match self {
            Savepoint::Begin => "SAVEPOINT in_group_pull",
            Savepoint::Release => "RELEASE SAVEPOINT in_group_pull",
            Savepoint::RollBack => {
                "ROLLBACK TO SAVEPOINT in_group_pull; RELEASE SAVEPOINT in_group_pull"
            }
        }
    }
}

/// One transaction's SQL. Every method is a statement or two; none decides anything.
pub trait Tx {
    fn savepoint(&mut self, step: Savepoint) -> Result<(), StoreError>;

    // Users and sessions.
    fn user_exists(&mut self, name: &str) -> Result<bool, StoreError>;
    fn employee_taken(&mut self, employee: &str) -> Result<bool, StoreError>;
    fn insert_user(&mut self, user: &NewUser, now: i64) -> Result<UserId, StoreError>;
    fn users(&mut self) -> Result<Vec<UserRow>, StoreError>;
    fn user_credentials(&mut self, name: &str) -> Result<Option<(UserRow, String)>, StoreError>;
    fn user_id(&mut self, name: &str) -> Result<Option<UserId>, StoreError>;
    fn set_disabled(&mut self, user: UserId, disabled: bool) -> Result<(), StoreError>;
    fn delete_sessions_of(&mut self, user: UserId) -> Result<(), StoreError>;
    fn delete_expired_sessions(&mut self, now: i64) -> Result<(), StoreError>;
    fn insert_session(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    fn session_user(&mut self, token_hash: &[u8], now: i64) -> Result<Option<UserRow>, StoreError>;
    fn delete_session(&mut self, token_hash: &[u8]) -> Result<(), StoreError>;

    /// Tells other instances that this transaction stores changes (delivered at commit).
    fn announce_changes(&mut self) -> Result<(), StoreError>;

    // Sign-in attempts.
    /// Serialises sign-in attempts (across instances) for the rest of the transaction.
    fn lock_logins(&mut self) -> Result<(), StoreError>;
    /// Forgets attempts made before `before`.
    fn prune_logins(&mut self, before: i64) -> Result<(), StoreError>;
    /// How many attempts `key` has since `since`, and the oldest one's time.
    fn login_failures(&mut self, key: &str, since: i64) -> Result<(i64, Option<i64>), StoreError>;
    fn insert_login(&mut self, key: &str, at: i64) -> Result<i64, StoreError>;
    fn delete_logins_of(&mut self, key: &str) -> Result<(), StoreError>;

    // Assignments and the access version.
    /// Records an assignment; whether it is new.
    fn insert_assignment(
        &mut self,
        teacher: &TeacherRef,
        journal: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Whether the teacher (by user name or employee id) is assigned to the journal.
    fn is_assigned(
        &mut self,
        journal: &str,
        name: &str,
        employee: Option<&str>,
    ) -> Result<bool, StoreError>;
    fn bump_access(&mut self) -> Result<(), StoreError>;
    fn access_version(&mut self) -> Result<u64, StoreError>;

    // Documents.
    fn doc(&mut self, doc_id: &str) -> Result<Option<DocRecord>, StoreError>;
    fn doc_row(&mut self, doc_id: &str) -> Result<Option<i64>, StoreError>;
    /// The document id and kind of a row.
    fn doc_name(&mut self, doc: i64) -> Result<(String, String), StoreError>;
    fn doc_has_changes(&mut self, doc: i64) -> Result<bool, StoreError>;
    /// Whether a document of this kind with stored metadata exists.
    fn has_meta(&mut self, doc_id: &str, kind: DocKind) -> Result<bool, StoreError>;
    /// The faculty of a group whose metadata the server stored.
    fn group_faculty(&mut self, group: &str) -> Result<Option<String>, StoreError>;
    fn insert_doc(&mut self, doc_id: &str, kind: DocKind, now: i64) -> Result<i64, StoreError>;
    /// Stores a document's metadata (whole and in the columns readable sets join on) and its
    /// teachers.
    fn write_meta(
        &mut self,
        doc: i64,
        meta: &DocMeta,
        json: &str,
        user: UserId,
        now: i64,
    ) -> Result<(), StoreError>;

    // The change log.
    /// The documents of those of `keys` that are stored: hash → document id.
    fn change_docs(
        &mut self,
        keys: &[ChangeKey<'_>],
    ) -> Result<HashMap<Vec<u8>, String>, StoreError>;
    fn actor_owner(&mut self, actor: &[u8]) -> Result<Option<UserId>, StoreError>;
    fn bind_actor(&mut self, actor: &[u8], user: UserId, now: i64) -> Result<(), StoreError>;
    /// The hash of a stored change of `doc` with this actor and device sequence number.
    fn hash_at(
        &mut self,
        doc: i64,
        actor: &[u8],
        actor_seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// The highest device sequence number stored of `doc` from `actor`.
    fn max_actor_seq(&mut self, doc: i64, actor: &[u8]) -> Result<Option<i64>, StoreError>;
    /// Stores a change unless it is stored already (the same device, device seq and hash:
    /// nothing written, `None`); returns its new seq.
    fn insert_change(&mut self, change: NewChange<'_>) -> Result<Option<i64>, StoreError>;
    fn usage(&mut self, user: UserId, day: i64) -> Result<u64, StoreError>;
    fn set_usage(&mut self, user: UserId, day: i64, bytes: u64) -> Result<(), StoreError>;
    fn max_seq(&mut self) -> Result<i64, StoreError>;
    /// Changes of `doc` with `after < seq <= upto`, oldest first: (seq, bytes).
    fn doc_changes(
        &mut self,
        doc: i64,
        after: i64,
        upto: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;
    fn count_doc_changes(&mut self, doc: i64, after: i64, upto: i64) -> Result<i64, StoreError>;

    // The snapshot cache.
    /// The cached snapshot of `doc` holding changes up to at most `bound`: (upto, bytes).
    fn snapshot(&mut self, doc: i64, bound: i64) -> Result<Option<(i64, Vec<u8>)>, StoreError>;
    /// Caches a snapshot unless a newer one is there already.
    fn store_snapshot(
        &mut self,
        doc: i64,
        upto: i64,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StoreError>;

    // Readable sets.
    /// Forgets the replica's progress on documents the user may no longer read.
    fn prune_unreadable(&mut self, user: &User, replica: &str) -> Result<(), StoreError>;
    /// Readable documents not yet sent whole to the replica: (row, upto, doc id), by row.
    fn unsent_docs(
        &mut self,
        user: &User,
        replica: &str,
    ) -> Result<Vec<(i64, i64, String)>, StoreError>;
    /// Up to `limit` readable changes with `after < seq <= upto`, oldest first.
    fn readable_changes(
        &mut self,
        user: &User,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRow>, StoreError>;

    // Provenance of what a page sends.
    /// The provenance of the changes with these seqs, in seq order (one statement per page).
    fn provenance_of_changes(&mut self, seqs: &[i64]) -> Result<Vec<ProvenanceRow>, StoreError>;
    fn provenance_of_doc(
        &mut self,
        doc_id: &str,
        upto: i64,
    ) -> Result<Vec<ProvenanceRow>, StoreError>;

    // Per-replica bookkeeping.
    fn pinned_bound(&mut self, user: UserId, replica: &str) -> Result<Option<i64>, StoreError>;
    fn pin_bound(&mut self, user: UserId, replica: &str, bound: i64) -> Result<(), StoreError>;
    fn unpin_bound(&mut self, user: UserId, replica: &str) -> Result<(), StoreError>;
    fn record_progress(
        &mut self,
        progress: Progress,
        user: UserId,
        replica: &str,
        doc: i64,
        upto: i64,
        done: bool,
    ) -> Result<(), StoreError>;
    fn any_pending(&mut self, user: UserId, replica: &str) -> Result<bool, StoreError>;
    /// Moves the acknowledged page's records into the replica's progress, then drops every
    /// pending record of the replica.
    fn settle_pending(
        &mut self,
        user: UserId,
        replica: &str,
        ack: Option<i64>,
    ) -> Result<(), StoreError>;

    // Course materials (`materials`, `material_parts`).
    /// Whether `user` may read the document with this row id.
    fn may_read(&mut self, user: &User, doc: i64) -> Result<bool, StoreError>;
    /// (size, received, complete) of a material's bytes, if an upload began.
    fn material(&mut self, hash: &[u8]) -> Result<Option<(i64, i64, bool)>, StoreError>;
    /// Holds uploads of this material back until this transaction ends, so two devices
    /// sending the same file take turns (a backend with one writer has nothing to do).
    fn lock_material(&mut self, hash: &[u8]) -> Result<(), StoreError>;
    fn insert_material(
        &mut self,
        hash: &[u8],
        size: i64,
        user: UserId,
        now: i64,
    ) -> Result<(), StoreError>;
    fn insert_material_part(
        &mut self,
        hash: &[u8],
        offset: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError>;
    fn set_material_received(
        &mut self,
        hash: &[u8],
        received: i64,
        complete: bool,
    ) -> Result<(), StoreError>;
    /// The parts of a material's bytes overlapping `[from, to)`, by offset.
    fn material_parts(
        &mut self,
        hash: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;
    /// Forgets a material's bytes (and its parts).
    fn delete_material(&mut self, hash: &[u8]) -> Result<(), StoreError>;
}

/// Changes one commit group may hold: a group's transaction stays short, so a sign-in or an
/// idle sync queued behind it waits for at most one group, and a huge push is stored in
/// several groups with other clients' pushes between them.
pub const MAX_GROUP_CHANGES: usize = 1_000;

/// Changes a commit group stores before it gives way to another writer waiting: a sign-in
/// behind a full group waited for all 1,000 (up to about 100 ms on two busy cores, B11).
pub const GROUP_CHANGES_BEFORE_YIELD: usize = 200;

/// One push waiting for its commit group, with the request's pull when it runs in the group.
struct Job {
    user: User,
    batch: PushBatch,
    pull: Option<PullRequest>,
    now: i64,
    result: Mutex<Option<Result<JobOutcome, StoreError>>>,
    /// Wakes this push's thread (with the groups' state lock): when its group is committed,
    /// or when it is first in line and the leader left.
    wake: Condvar,
}

/// A job's push, and its pull when the group ran it (`None`: the caller pulls on its own).
type JobOutcome = (PushOutcome, Option<PullOutcome>);

/// Raw change bytes a pull inside a commit group may send: the group stays short (a page cut
/// here says `more`, and the client asks again with a pull of its own).
pub const IN_GROUP_PAGE_BYTES: u64 = 256 * 1024;

/// One job inside a group's transaction: the push, then its pull while the access version is
/// the one the client sent (a pull that must send newly readable documents whole, perhaps
/// building snapshots, runs on its own so the group stays short). The pull runs in a
/// savepoint: when it fails (or panics), only its own writes are undone, the push stands, and
/// the caller pulls on its own.
fn run_job(tx: &mut dyn Tx, job: &Job) -> Result<JobOutcome, StoreError> {
    let mut new = Vec::new();
    let pushed = push(tx, &job.user, &job.batch, job.now, &mut new)?;
    let Some(request) = &job.pull else {
        return Ok((pushed, None));
    };
    if tx.access_version()? != request.access {
        return Ok((pushed, None));
    }
    let mut request = request.clone();
    request.skip.extend(pushed.acked.iter().copied());
    request.budget = request.budget.min(IN_GROUP_PAGE_BYTES);
    tx.savepoint(Savepoint::Begin)?;
    let pulled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pull(
            &mut *tx,
            &job.user,
            &request,
            job.now,
            OwnRun::of(&new).as_ref(),
        )
    }));
    match pulled {
        Ok(Ok(pulled)) => {
            tx.savepoint(Savepoint::Release)?;
            Ok((pushed, Some(pulled)))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "a pull inside a commit group failed; it runs on its own");
            tx.savepoint(Savepoint::RollBack)?;
            Ok((pushed, None))
        }
        Err(_) => {
            tracing::error!("a pull inside a commit group panicked; it runs on its own");
            tx.savepoint(Savepoint::RollBack)?;
            Ok((pushed, None))
        }
    }
}

/// A change a push stored: its seq and its document's row.
#[derive(Debug, Clone, Copy)]
struct StoredRow {
    seq: i64,
    doc: i64,
}

/// The changes a push has just stored, when their seqs are one unbroken run (never empty):
/// every change in that run is the push's own, so the pull that follows in the same
/// transaction steps over it rather than reading each change back to skip it (in B11, a pull
/// in a commit group mostly read back the 100 changes it had just stored).
struct OwnRun<'a> {
    rows: &'a [StoredRow],
}

impl OwnRun<'_> {
    fn of(rows: &[StoredRow]) -> Option<OwnRun<'_>> {
        let unbroken = rows.windows(2).all(|w| w[1].seq == w[0].seq + 1);
        (unbroken && !rows.is_empty()).then_some(OwnRun { rows })
    }

    /// The seq just before the run.
    fn after(&self) -> i64 {
        self.rows[0].seq - 1
    }

    /// The run's last seq.
    fn upto(&self) -> i64 {
        self.rows[self.rows.len() - 1].seq
    }
}

/// Group commit: pushes that arrive while a group is being committed wait together, and the
/// next group stores them all in one transaction with one disk sync; each is acknowledged
/// only after that commit. One thread at a time leads (runs a group); the others wait for
/// their result.
///
/// Each waiting push has a condition variable of its own: a finished group wakes its own
/// pushes, and a leader that leaves wakes the first in line to lead, so a commit wakes a
/// group's threads, not every waiting thread (with 200 clients pushing, every commit had
/// woken some 200 threads to find most of them still waiting).
#[derive(Default)]
struct Groups {
    state: Mutex<GroupState>,
}

#[derive(Default)]
struct GroupState {
    waiting: std::collections::VecDeque<Arc<Job>>,
    leading: bool,
}

fn lock_state(m: &Mutex<GroupState>) -> std::sync::MutexGuard<'_, GroupState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The [`Store`] over a backend.
pub struct Engine<B: Backend> {
    pub(crate) backend: B,
    groups: Groups,
}

impl<B: Backend + std::fmt::Debug> std::fmt::Debug for Engine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.backend.fmt(f)
    }
}

impl<B: Backend> Engine<B> {
    pub fn new(backend: B) -> Engine<B> {
        Engine {
            backend,
            groups: Groups::default(),
        }
    }

    /// A push in commit groups: a push larger than a group goes in parts, other clients'
    /// pushes between them. `pull` goes with the last part (skipping what the earlier parts
    /// stored); its outcome is `None` when the group did not run it.
    fn push_parts(
        &self,
        user: &User,
        batch: &PushBatch,
        mut pull: Option<PullRequest>,
        now: i64,
    ) -> Result<JobOutcome, StoreError> {
        let mut outcome = PushOutcome::default();
        let parts: Vec<&[IncomingChange]> = if batch.changes.is_empty() {
            vec![&[]]
        } else {
            batch.changes.chunks(MAX_GROUP_CHANGES).collect()
        };
        let last = parts.len() - 1;
        let mut pulled = None;
        for (i, part) in parts.into_iter().enumerate() {
            let job = Arc::new(Job {
                user: user.clone(),
                batch: PushBatch {
                    // Metadata with the first part only: a later part must not write back
                    // what another administrator changed in between.
                    metas: if i == 0 {
                        batch.metas.clone()
                    } else {
                        Vec::new()
                    },
                    changes: part.to_vec(),
                    daily_bytes: batch.daily_bytes,
                    materials: batch.materials,
                },
                pull: if i == last {
                    pull.take().map(|mut p| {
                        p.skip.extend(outcome.acked.iter().copied());
                        p
                    })
                } else {
                    None
                },
                now,
                result: Mutex::new(None),
                wake: Condvar::new(),
            });
            let (got, got_pull) = self.push_grouped(job)?;
            outcome.acked.extend(got.acked);
            outcome.refused.extend(got.refused);
            outcome.stored += got.stored;
            outcome.stored_bytes += got.stored_bytes;
            pulled = got_pull;
        }
        Ok((outcome, pulled))
    }

    /// Stores `job` in a commit group and returns its outcome.
    fn push_grouped(&self, job: Arc<Job>) -> Result<JobOutcome, StoreError> {
        let mut state = lock_state(&self.groups.state);
        state.waiting.push_back(job.clone());
        loop {
            if let Some(result) = job.result.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return result;
            }
            // A push not in line is in a group whose commit the disk is syncing: its leader
            // answers it.
            if state.leading || state.waiting.is_empty() {
                state = job.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead one group: the oldest waiting pushes, up to the size bound.
            state.leading = true;
            let mut group: Vec<Arc<Job>> = Vec::new();
            let mut changes = 0usize;
            while let Some(next) = state.waiting.front() {
                let n = next.batch.changes.len().max(1);
                if !group.is_empty() && changes + n > MAX_GROUP_CHANGES {
                    break;
                }
                changes += n;
                group.extend(state.waiting.pop_front());
            }
            drop(state);
            // A panic in one group must neither leave the group's pushes waiting for ever
            // nor keep the lead: every push in it gets an error, and the next group goes on.
            let (mut results, ticket) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.commit_group(&group)
                }))
                .unwrap_or_else(|_| {
                    let failed = group
                        .iter()
                        .map(|_| {
                            Err(StoreError::Corrupt {
                                table: "changes",
                                detail: "storing this push failed inside the server".into(),
                            })
                        })
                        .collect();
                    (failed, Durable::NOW)
                });
            let done = results.len();
            state = lock_state(&self.groups.state);
            // Pushes the group left for the next one (it gave way to another writer) stay
            // first in line.
            for left in group.drain(done..).rev() {
                state.waiting.push_front(left);
            }
            // The writer is free while the disk syncs this group: the first in line (not
            // this thread, busy here) leads the next one meanwhile.
            state.leading = false;
            if let Some(next) = state.waiting.iter().find(|j| !Arc::ptr_eq(j, &job)) {
                next.wake.notify_one();
            }
            drop(state);
            // Nothing of the group is answered before its commit is on the disk; if the disk
            // cannot confirm it, no push of it is reported as stored.
            if let Err(e) = self.backend.durable(ticket) {
                for result in results.iter_mut().filter(|r| r.is_ok()) {
                    *result = Err(e.for_another());
                }
            }
            for (answered, result) in group.iter().zip(results) {
                *answered.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            }
            // Woken under the lock they wait with, so no wake-up is lost between a push's
            // look at its result and its wait.
            state = lock_state(&self.groups.state);
            for answered in &group {
                if !Arc::ptr_eq(answered, &job) {
                    answered.wake.notify_one();
                }
            }
            // This thread's own push, if the group left it, waits for the next group (or
            // leads it, if no one does yet).
        }
    }

    /// One transaction for the group; when it fails, each push in a transaction of its own,
    /// so one push's failure is only its own. Answers the first pushes of the group: all of
    /// them, or fewer when the group gave way to another writer once it held
    /// [`GROUP_CHANGES_BEFORE_YIELD`] changes (the rest wait for the next group).
    ///
    /// The group's own transaction may not be on the disk yet: the ticket says when it is.
    fn commit_group(&self, group: &[Arc<Job>]) -> (Vec<Result<JobOutcome, StoreError>>, Durable) {
        let together = self.backend.transaction_unsynced(Mode::Push, |tx| {
            let mut outcomes = Vec::with_capacity(group.len());
            let mut changes = 0;
            for job in group {
                if changes >= GROUP_CHANGES_BEFORE_YIELD && self.backend.writer_wanted() {
                    break;
                }
                outcomes.push(run_job(tx, job)?);
                changes += job.batch.changes.len().max(1);
            }
            Ok(outcomes)
        });
        let results = match together {
            Ok((outcomes, ticket)) => return (outcomes.into_iter().map(Ok).collect(), ticket),
            Err(e) if group.len() == 1 => vec![Err(e)],
            // The database itself is busy, full or gone: every push of the group would fail
            // the same way, each after its own wait. They all get the error now.
            Err(e) if e.is_retryable() || e.is_out_of_room() => {
                let copies: Vec<_> = (1..group.len()).map(|_| Err(e.for_another())).collect();
                std::iter::once(Err(e)).chain(copies).collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, pushes = group.len(), "a commit group failed; storing its pushes one by one");
                group
                    .iter()
                    .map(|j| self.backend.transaction(Mode::Push, |tx| run_job(tx, j)))
                    .collect()
            }
        };
        (results, Durable::NOW)
    }
}

fn role_from_db(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt {
        table: "users",
        detail: format!("unknown role {s:?}"),
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

/// What the server holds about one document.
#[derive(Debug, Clone)]
struct DocRow {
    id: i64,
    meta: Option<DocMeta>,
    has_changes: bool,
}

fn load_doc(tx: &mut dyn Tx, doc_id: &str) -> Result<Option<DocRow>, StoreError> {
    let Some(record) = tx.doc(doc_id)? else {
        return Ok(None);
    };
    let meta = match record.meta_json {
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
    let has_changes = tx.doc_has_changes(record.id)?;
    Ok(Some(DocRow {
        id: record.id,
        meta,
        has_changes,
    }))
}

/// Metadata may only name groups and modules the server knows (stored earlier, or earlier in
/// this push: groups and modules are decided before journals).
fn check_references(tx: &mut dyn Tx, meta: &DocMeta) -> Result<Result<(), String>, StoreError> {
    if let Some(group) = &meta.group
        && !tx.has_meta(group, DocKind::Group)?
    {
        return Ok(Err(format!(
            "the group {group} this journal names is not on the server; publish the group first"
        )));
    }
    if let Some(module) = &meta.module
        && !tx.has_meta(module, DocKind::Module)?
    {
        return Ok(Err(format!(
            "the module {module} this journal names is not on the server; publish the module first"
        )));
    }
    Ok(Ok(()))
}

/// The permission decision for one document of a push: its row id, or why its changes are
/// refused.
type DocDecision = Result<i64, String>;

/// Decides whether `user` may write `doc_id` at all (the parts of each change are judged
/// after). Metadata belongs to the server: an administrator's is stored when it names only
/// documents the server knows; anyone else's is ignored, and they may write only documents
/// the server already has.
fn decide_doc(
    tx: &mut dyn Tx,
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
                None => tx.insert_doc(doc_id, kind, now)?,
            };
            let json = serde_json::to_string(new).map_err(|e| StoreError::Corrupt {
                table: "docs",
                detail: format!("cannot encode meta: {e}"),
            })?;
            tx.write_meta(id, new, &json, user.id, now)?;
            *meta_written = true;
            return Ok(Ok(id));
        }
        let id = match &row {
            Some(r) => r.id,
            None => tx.insert_doc(doc_id, kind, now)?,
        };
        return Ok(Ok(id));
    }

    let Some(row) = row.filter(|_| known) else {
        return Ok(Err(daftar_rules::access::unknown_document(kind).0));
    };
    let meta = stored_meta.unwrap_or_default();
    let assigned = kind == DocKind::Journal
        && user.role == Role::Teacher
        && tx.is_assigned(doc_id, &user.name, user.employee.as_deref())?;
    let group_faculty = match (kind, &meta.group) {
        (DocKind::Journal, Some(group)) => tx.group_faculty(group)?,
        _ => None,
    };
    let facts = WriteFacts {
        kind,
        meta: &meta,
        assigned,
        group_faculty: group_faculty.as_deref(),
    };
    if let Err(denied) = daftar_rules::may_write(&principal, &facts) {
        return Ok(Err(denied.0));
    }
    Ok(Ok(row.id))
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
fn snapshot_inputs(tx: &mut dyn Tx, doc: i64, bound: i64) -> Result<SnapshotInputs, StoreError> {
    let cached = tx.snapshot(doc, bound)?;
    let base = cached.as_ref().map_or(0, |c| c.0);
    let tail_count = tx.count_doc_changes(doc, base, bound)?;
    let mut inputs = SnapshotInputs {
        cached,
        tail: Vec::new(),
        tail_count,
    };
    if inputs.worth_building() {
        inputs.tail = tx.doc_changes(doc, base, bound)?;
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
    tx: &mut dyn Tx,
    doc: i64,
    extra: Option<&[u8]>,
) -> Result<Option<automerge::Automerge>, StoreError> {
    let cached = tx.snapshot(doc, i64::MAX)?;
    let base = cached.as_ref().map_or(0, |c| c.0);
    // Every document starts from its genesis change, which every replica writes identically
    // and which the log need not hold (a change that depends on it would wait otherwise).
    let (doc_id, kind) = tx.doc_name(doc)?;
    let mut tail: Vec<Vec<u8>> = Vec::new();
    if cached.is_none()
        && let Some(kind) = DocKind::ALL.into_iter().find(|k| k.as_str() == kind)
    {
        tail.push(daftar_rules::genesis::genesis_change(&doc_id, kind).1);
    }
    tail.extend(
        tx.doc_changes(doc, base, i64::MAX)?
            .into_iter()
            .map(|(_, b)| b),
    );
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
    tx: &mut dyn Tx,
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
            && let Some(module_row) = tx.doc_row(&module_id)?
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
/// taken, if it may not (`daftar_rules::final_control`): a retake sitting not opened by the
/// dean's office, a final score for a student not admitted. A journal or module the server
/// cannot read, or a journal without a module, has no plan to judge by: nothing is refused on
/// that ground.
fn judge_finals(
    tx: &mut dyn Tx,
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
    let Some(module_row) = tx.doc_row(&module_id)? else {
        return Ok(None);
    };
    let Some(module) = load_document(tx, module_row, None)? else {
        return Ok(None);
    };
    Ok(daftar_rules::final_control::refuse_unadmitted_finals(
        &journal, &module, writes,
    ))
}

/// A compacted snapshot of `doc` holding its changes up to some seq <= `cursor`, from the
/// cache or built now (and cached); `None` when the document is better sent change by change
/// (few changes, or a change still waiting for a dependency the server does not have).
fn snapshot_for(
    tx: &mut dyn Tx,
    doc: i64,
    cursor: i64,
    now: i64,
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
        tx.store_snapshot(doc, *upto, bytes, now)?;
    }
    Ok(built)
}

/// Who made the changes of a page (by device, as bound at first push) and when the server
/// received those whose device time is more than a day away from that.
#[allow(clippy::type_complexity)]
fn provenance(
    tx: &mut dyn Tx,
    changes: &[StoredChange],
) -> Result<(Vec<(Vec<u8>, String)>, Vec<(Vec<u8>, i64)>), StoreError> {
    let mut authors: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    let mut receipts = Vec::new();
    let seq_of = |c: &StoredChange| i64::try_from(c.seq).unwrap_or(i64::MAX);
    // The page's single changes in one statement; each snapshot stands for its document.
    let singles: Vec<i64> = changes.iter().filter(|c| !c.snapshot).map(seq_of).collect();
    let mut all = if singles.is_empty() {
        Vec::new()
    } else {
        tx.provenance_of_changes(&singles)?
    };
    for change in changes.iter().filter(|c| c.snapshot) {
        all.extend(tx.provenance_of_doc(&change.doc, seq_of(change))?);
    }
    for (actor, user, hash, stored, edited) in all {
        if let Some(user) = user {
            authors.entry(actor).or_insert(user);
        }
        if edited.is_some_and(|e| (stored - e).abs() > daftar_protocol::RECEIPT_SHOWN_AFTER_MS) {
            receipts.push((hash, stored));
        }
    }
    Ok((authors.into_iter().collect(), receipts))
}

fn mark_done(
    tx: &mut dyn Tx,
    progress: Progress,
    user: UserId,
    replica: &str,
    docs: impl IntoIterator<Item = i64>,
) -> Result<(), StoreError> {
    for doc in docs {
        tx.record_progress(progress, user, replica, doc, 0, true)?;
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
    tx: &mut dyn Tx,
    user: UserId,
    replica: &str,
    progress: Progress,
) -> Result<Option<u64>, StoreError> {
    let Progress::Pending(id) = progress else {
        return Ok(None);
    };
    Ok(tx.any_pending(user, replica)?.then_some(id as u64))
}

/// Phase 1 of a pull after an access change: forget documents no longer readable, then send
/// every readable document this replica has not been sent whole yet: its changes up to the
/// cursor, or (when the client takes them) a compacted snapshot of it plus the changes after
/// the snapshot. Later changes come through phase 2. Returns the bound it sent up to, when it
/// finished.
fn pull_whole_docs(
    tx: &mut dyn Tx,
    user: &User,
    request: &PullRequest,
    max_seq: i64,
    page: &mut Page,
    progress: Progress,
    now: i64,
) -> Result<Option<u64>, StoreError> {
    // How far each document goes: up to the cursor, or for a fresh replica taking snapshots
    // up to the newest change, pinned across the pages of this phase.
    let fresh = request.cursor == 0 && request.snapshots;
    let cursor: i64 = if fresh {
        match tx.pinned_bound(user.id, &request.replica)? {
            Some(bound) => bound,
            None => {
                tx.pin_bound(user.id, &request.replica, max_seq)?;
                max_seq
            }
        }
    } else {
        request.cursor.min(i64::MAX as u64) as i64
    };

    tx.prune_unreadable(user, &request.replica)?;
    let unsent = tx.unsent_docs(user, &request.replica)?;

    let mut done: Vec<i64> = Vec::new();
    // A document cut off by the page end, and the last seq of it sent.
    let mut partial: Option<(i64, i64)> = None;
    let finished = 'docs: {
        for (doc, start, doc_id) in unsent {
            let mut upto = start;
            if request.snapshots
                && start == 0
                && let Some((snap_upto, bytes)) = snapshot_for(tx, doc, cursor, now)?
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
            for (seq, bytes) in tx.doc_changes(doc, upto, cursor)? {
                if !page.fits(bytes.len() as u64) {
                    if upto > start {
                        partial = Some((doc, upto));
                    }
                    break 'docs false;
                }
                page.push(StoredChange {
                    seq: seq as u64,
                    doc: doc_id.clone(),
                    bytes,
                    snapshot: false,
                });
                upto = seq;
            }
            done.push(doc);
        }
        true
    };
    if let Some((doc, upto)) = partial {
        tx.record_progress(progress, user.id, &request.replica, doc, upto, false)?;
    }
    mark_done(tx, progress, user.id, &request.replica, done)?;
    if !finished {
        return Ok(None);
    }
    // The pinned bound stays until the replica is past it (its cursor moved there, which it
    // does only after applying the last page): a lost last reply gets the same bound.
    if fresh && progress == Progress::Direct {
        tx.unpin_bound(user.id, &request.replica)?;
    }
    Ok(Some(cursor as u64))
}

/// Phase 2: the readable changes after the cursor, oldest first, stepping over `own`.
/// Returns the new cursor and whether more remain.
#[allow(clippy::too_many_arguments)]
fn pull_after_cursor(
    tx: &mut dyn Tx,
    user: &User,
    request: &PullRequest,
    from: u64,
    max_seq: i64,
    page: &mut Page,
    progress: Progress,
    own: Option<&OwnRun<'_>>,
) -> Result<(u64, bool), StoreError> {
    let cursor = from.min(i64::MAX as u64) as i64;
    let mut seen: HashSet<i64> = HashSet::new();
    let mut last = cursor;
    let mut cut = false;
    'chunks: loop {
        if let Some(own) = own
            && last >= own.after()
            && last < own.upto()
        {
            // The push's own run: its readable documents count as seen, as if read.
            let mut docs: Vec<i64> = own
                .rows
                .iter()
                .filter(|r| r.seq > last && r.seq <= max_seq)
                .map(|r| r.doc)
                .collect();
            docs.sort_unstable();
            docs.dedup();
            for doc in docs {
                if !seen.contains(&doc) && tx.may_read(user, doc)? {
                    seen.insert(doc);
                }
            }
            last = own.upto();
        }
        if last >= max_seq {
            break;
        }
        let upto = match own {
            Some(own) if last < own.after() => own.after().min(max_seq),
            _ => max_seq,
        };
        let rows = tx.readable_changes(user, last, upto, CHUNK_ROWS)?;
        let full = rows.len() as i64 == CHUNK_ROWS;
        for row in rows {
            let skipped =
                <[u8; 32]>::try_from(row.hash.as_slice()).is_ok_and(|h| request.skip.contains(&h));
            if !skipped {
                if !page.fits(row.bytes.len() as u64) {
                    cut = true;
                    break 'chunks;
                }
                page.push(StoredChange {
                    seq: row.seq as u64,
                    doc: row.doc_id,
                    bytes: row.bytes,
                    snapshot: false,
                });
            }
            seen.insert(row.doc);
            last = row.seq;
        }
        if !full {
            // Every readable change up to `upto` is on the page.
            last = upto;
        }
    }
    mark_done(tx, progress, user.id, &request.replica, seen)?;
    if cut {
        Ok((last as u64, true))
    } else {
        Ok((max_seq.max(cursor) as u64, false))
    }
}

impl<B: Backend> Store for Engine<B> {
    fn check(&self) -> Result<(), StoreError> {
        // Through the writer: a health check must fail when writes cannot happen.
        self.backend
            .transaction(Mode::Write, |tx| tx.access_version().map(|_| ()))
    }

    fn add_user(&self, user: &NewUser, now: i64) -> Result<User, StoreError> {
        self.backend.transaction(Mode::Write, |tx| {
            if tx.user_exists(&user.name)? {
                return Err(StoreError::UserExists {
                    name: user.name.clone(),
                });
            }
            if let Some(employee) = &user.employee
                && tx.employee_taken(employee)?
            {
                return Err(StoreError::EmployeeTaken {
                    employee: employee.clone(),
                });
            }
            let id = tx.insert_user(user, now)?;
            // Pending assignments naming this user may now apply.
            tx.bump_access()?;
            Ok(User {
                id,
                name: user.name.clone(),
                role: user.role,
                scope: user.scope.clone(),
                employee: user.employee.clone(),
                disabled: false,
            })
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.backend.transaction(Mode::Read, |tx| {
            tx.users()?.into_iter().map(finish_user).collect()
        })
    }

    fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        self.backend
            .transaction(Mode::Read, |tx| match tx.user_credentials(name)? {
                Some((user, password)) => Ok(Some((finish_user(user)?, password))),
                None => Ok(None),
            })
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        self.backend.transaction(Mode::Write, |tx| {
            let Some(id) = tx.user_id(name)? else {
                return Ok(false);
            };
            tx.set_disabled(id, disabled)?;
            if disabled {
                tx.delete_sessions_of(id)?;
            }
            Ok(true)
        })
    }

    fn session_user(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<User>, StoreError> {
        self.backend.transaction(Mode::Read, |tx| {
            tx.session_user(token_hash, now)?
                .map(finish_user)
                .transpose()
        })
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.backend
            .transaction(Mode::Write, |tx| tx.delete_session(token_hash))
    }

    fn assign(
        &self,
        assignments: &[(TeacherRef, String)],
        now: i64,
    ) -> Result<AssignOutcome, StoreError> {
        self.backend.transaction(Mode::Write, |tx| {
            let mut outcome = AssignOutcome::default();
            let mut changed = false;
            for (teacher, journal) in assignments {
                changed |= tx.insert_assignment(teacher, journal, now)?;
                let known = match teacher {
                    TeacherRef::User(name) => tx.user_exists(name)?,
                    TeacherRef::Employee(id) => tx.employee_taken(id)?,
                };
                if known {
                    outcome.assigned += 1;
                } else {
                    outcome.pending += 1;
                }
            }
            if changed {
                tx.bump_access()?;
            }
            Ok(outcome)
        })
    }

    fn push(&self, user: &User, batch: &PushBatch, now: i64) -> Result<PushOutcome, StoreError> {
        Ok(self.push_parts(user, batch, None, now)?.0)
    }

    fn push_then_pull(
        &self,
        user: &User,
        batch: &PushBatch,
        mut pull: PullRequest,
        now: i64,
    ) -> Result<(PushOutcome, PullOutcome), StoreError> {
        let in_group = B::PULL_IN_PUSH_GROUP.then(|| pull.clone());
        let (pushed, pulled) = self.push_parts(user, batch, in_group, now)?;
        if let Some(pulled) = pulled {
            return Ok((pushed, pulled));
        }
        pull.skip = pushed.acked.iter().copied().collect();
        let pulled = self.pull(user, &pull, now)?;
        Ok((pushed, pulled))
    }

    fn pull(
        &self,
        user: &User,
        request: &PullRequest,
        now: i64,
    ) -> Result<PullOutcome, StoreError> {
        // The common case first, on a read transaction that never waits for the writer:
        // nothing after the replica's cursor is readable by its user (nothing new at all, or
        // only other people's documents, as while a faculty pushes) and nothing waits for its
        // acknowledgement. The answer is then exactly what the full pull would give (the
        // cursor moved past what there is, no changes, no page), and nothing needs writing.
        let cursor = request.cursor.min(i64::MAX as u64) as i64;
        let idle = self.backend.transaction(Mode::Read, |tx| {
            let access = tx.access_version()?;
            if access != request.access
                || request.ack.is_some()
                || tx.any_pending(user.id, &request.replica)?
                || tx.pinned_bound(user.id, &request.replica)?.is_some()
            {
                return Ok(None);
            }
            let max_seq = tx.max_seq()?;
            let nothing_readable =
                max_seq <= cursor || tx.readable_changes(user, cursor, max_seq, 1)?.is_empty();
            Ok(nothing_readable.then_some((access, max_seq.max(cursor) as u64)))
        })?;
        if let Some((access, cursor)) = idle {
            return Ok(PullOutcome {
                cursor,
                access,
                ..PullOutcome::default()
            });
        }
        // A pull writes bookkeeping and may cache a snapshot, but assigns no change seq; all
        // it reads comes from one snapshot.
        self.backend
            .transaction(Mode::Pull, |tx| pull(tx, user, request, now, None))
    }
    fn access_version(&self) -> Result<u64, StoreError> {
        self.backend
            .transaction(Mode::Read, |tx| tx.access_version())
    }

    fn news_since(&self, user: &User, after: u64, access: u64) -> Result<bool, StoreError> {
        let after = after.min(i64::MAX as u64) as i64;
        self.backend.transaction(Mode::Read, |tx| {
            Ok(tx.access_version()? != access
                || !tx.readable_changes(user, after, i64::MAX, 1)?.is_empty())
        })
    }

    fn listen(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        self.backend.listen(on_change);
    }

    fn login_failures(
        &self,
        keys: &[(String, u32)],
        window_ms: i64,
        now: i64,
    ) -> Result<Vec<(u64, Option<i64>)>, StoreError> {
        let since = now.saturating_sub(window_ms);
        self.backend.transaction(Mode::Read, |tx| {
            keys.iter()
                .map(|(key, _)| {
                    let (count, oldest) = tx.login_failures(key, since)?;
                    Ok((count.max(0) as u64, oldest))
                })
                .collect()
        })
    }

    fn login_finish(
        &self,
        keys: &[(String, u32)],
        window_ms: i64,
        now: i64,
        outcome: LoginOutcome<'_>,
    ) -> Result<Result<(), i64>, StoreError> {
        self.backend.transaction(Mode::Write, |tx| {
            tx.lock_logins()?;
            tx.prune_logins(now.saturating_sub(window_ms))?;
            if let Some(wait) = login_wait(tx, keys, window_ms, now)? {
                return Ok(Err(wait));
            }
            match outcome {
                LoginOutcome::Failed => {
                    for (key, _) in keys {
                        tx.insert_login(key, now)?;
                    }
                }
                LoginOutcome::Succeeded(session) => {
                    if let Some((user_key, _)) = keys.first() {
                        tx.delete_logins_of(user_key)?;
                    }
                    if let Some(s) = session {
                        // Sign-ins are rare: a good moment to forget expired sessions.
                        tx.delete_expired_sessions(s.now)?;
                        tx.insert_session(&s.token_hash, s.user, s.now, s.expires_at)?;
                    }
                }
            }
            Ok(Ok(()))
        })
    }

    fn refresh_snapshots(&self, docs: &[String], now: i64) -> Result<usize, StoreError> {
        let mut rebuilt = 0;
        for doc_id in docs {
            // The database is held only to read and to write, never while building, so syncs
            // go on meanwhile.
            let inputs =
                self.backend
                    .transaction(Mode::Read, |tx| match tx.doc_row(doc_id)? {
                        Some(id) => Ok(Some((id, snapshot_inputs(tx, id, i64::MAX)?))),
                        None => Ok(None),
                    })?;
            let Some((id, inputs)) = inputs else {
                continue;
            };
            if !inputs.worth_building() {
                continue;
            }
            let built = build_snapshot(id, inputs).unwrap_or_else(|e| {
                tracing::warn!(doc = id, error = %e, "cannot build a snapshot");
                None
            });
            if let Some((upto, bytes)) = built {
                self.backend
                    .transaction(Mode::Write, |tx| tx.store_snapshot(id, upto, &bytes, now))?;
                rebuilt += 1;
            }
        }
        Ok(rebuilt)
    }

    fn material_state(
        &self,
        user: &User,
        doc: &str,
        hash: &ChangeHash,
    ) -> Result<Result<MaterialState, MaterialRefusal>, StoreError> {
        self.backend.transaction(Mode::Read, |tx| {
            let described = match described_material(tx, user, doc, hash)? {
                Ok(d) => d,
                Err(refusal) => return Ok(Err(refusal)),
            };
            Ok(Ok(material_state_of(tx, hash, described.value.size)?))
        })
    }

    fn material_append(
        &self,
        user: &User,
        part: &MaterialPart<'_>,
        limits: &daftar_rules::materials::MaterialLimits,
        now: i64,
    ) -> Result<Result<MaterialState, MaterialRefusal>, StoreError> {
        self.backend.transaction(Mode::Write, |tx| {
            append_material(tx, user, part, limits, now)
        })
    }

    fn material_read(
        &self,
        user: &User,
        doc: &str,
        hash: &ChangeHash,
        from: u64,
        to: u64,
    ) -> Result<Result<(MaterialState, Vec<u8>), MaterialRefusal>, StoreError> {
        self.backend.transaction(Mode::Read, |tx| {
            let described = match described_material(tx, user, doc, hash)? {
                Ok(d) => d,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let state = material_state_of(tx, hash, described.value.size)?;
            if !state.complete {
                return Ok(Err(MaterialRefusal::NotUploaded));
            }
            let to = to.min(state.size);
            if from >= to {
                return Ok(Ok((state, Vec::new())));
            }
            let (from_i, to_i) = (from as i64, to as i64);
            let mut out = Vec::with_capacity((to - from) as usize);
            for (offset, part) in tx.material_parts(hash, from_i, to_i)? {
                let start = (from_i - offset).max(0) as usize;
                let end = ((to_i - offset) as usize).min(part.len());
                out.extend_from_slice(&part[start..end]);
            }
            if out.len() as u64 != to - from {
                return Err(StoreError::Corrupt {
                    table: "material_parts",
                    detail: format!("parts of {} do not cover {from}..{to}", hex::encode(hash)),
                });
            }
            Ok(Ok((state, out)))
        })
    }
}

/// A material as the module describing it holds it, with the module's row and every
/// description of that module (for the per-module limit).
struct Described {
    module_row: i64,
    value: daftar_rules::materials::MaterialValue,
    all: Vec<(String, daftar_rules::materials::MaterialValue)>,
}

/// The description of material `hash` in module `doc`, if `user` may read that module and it
/// describes the file; [`MaterialRefusal::NotFound`] otherwise, whichever it is.
fn described_material(
    tx: &mut dyn Tx,
    user: &User,
    doc: &str,
    hash: &ChangeHash,
) -> Result<Result<Described, MaterialRefusal>, StoreError> {
    if DocKind::of_doc_id(doc) != Some(DocKind::Module) {
        return Ok(Err(MaterialRefusal::NotFound));
    }
    let Some(row) = tx.doc_row(doc)? else {
        return Ok(Err(MaterialRefusal::NotFound));
    };
    if user.disabled || !tx.may_read(user, row)? {
        return Ok(Err(MaterialRefusal::NotFound));
    }
    let Some(module) = load_document(tx, row, None)? else {
        return Ok(Err(MaterialRefusal::NotFound));
    };
    let all = daftar_rules::materials::materials_of(&module);
    let key = hex::encode(hash);
    let Some(value) = all.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()) else {
        return Ok(Err(MaterialRefusal::NotFound));
    };
    Ok(Ok(Described {
        module_row: row,
        value,
        all,
    }))
}

fn material_state_of(
    tx: &mut dyn Tx,
    hash: &ChangeHash,
    size: u64,
) -> Result<MaterialState, StoreError> {
    Ok(match tx.material(hash)? {
        Some((stored, received, complete)) => MaterialState {
            size: stored as u64,
            received: received as u64,
            complete,
        },
        None => MaterialState {
            size,
            received: 0,
            complete: false,
        },
    })
}

fn append_material(
    tx: &mut dyn Tx,
    user: &User,
    part: &MaterialPart<'_>,
    limits: &daftar_rules::materials::MaterialLimits,
    now: i64,
) -> Result<Result<MaterialState, MaterialRefusal>, StoreError> {
    let MaterialPart {
        doc,
        hash,
        offset,
        bytes,
    } = *part;
    let described = match described_material(tx, user, doc, hash)? {
        Ok(d) => d,
        Err(refusal) => return Ok(Err(refusal)),
    };
    // Who uploads is who may attach: the module's department head (or an administrator).
    let (_, meta_json) = match tx.doc(doc)? {
        Some(record) => (record.id, record.meta_json),
        None => return Ok(Err(MaterialRefusal::NotFound)),
    };
    let meta: DocMeta = meta_json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    let facts = WriteFacts {
        kind: DocKind::Module,
        meta: &meta,
        assigned: false,
        group_faculty: None,
    };
    let key = hex::encode(hash);
    let may_attach = daftar_rules::table::rule_for(DocKind::Module, "materials", &key)
        .is_some_and(|rule| rule.create.contains(&user.role));
    if !may_attach {
        return Ok(Err(MaterialRefusal::Forbidden(
            "only the module's department head uploads its materials".into(),
        )));
    }
    if let Err(denied) = daftar_rules::may_write(&user.principal(), &facts) {
        return Ok(Err(MaterialRefusal::Forbidden(denied.0)));
    }
    if let Some(reason) = daftar_rules::materials::refuse_over_limits(&described.all, limits) {
        return Ok(Err(MaterialRefusal::TooLarge(reason)));
    }
    let size = described.value.size;
    tx.lock_material(hash)?;
    let state = material_state_of(tx, hash, size)?;
    if state.complete {
        return Ok(Ok(state));
    }
    if offset != state.received {
        return Ok(Err(MaterialRefusal::WrongOffset {
            received: state.received,
        }));
    }
    if bytes.is_empty() || offset + bytes.len() as u64 > size {
        return Ok(Err(MaterialRefusal::TooLarge(format!(
            "the file is {size} bytes; this part would end at byte {}",
            offset + bytes.len() as u64
        ))));
    }
    if offset == 0 && tx.material(hash)?.is_none() {
        tx.insert_material(hash, size as i64, user.id, now)?;
    }
    tx.insert_material_part(hash, offset as i64, bytes)?;
    let received = offset + bytes.len() as u64;
    if received < size {
        tx.set_material_received(hash, received as i64, false)?;
        return Ok(Ok(MaterialState {
            size,
            received,
            complete: false,
        }));
    }
    // The last part: the bytes must be the ones the hash names.
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for (_, part) in tx.material_parts(hash, 0, size as i64)? {
        hasher.update(&part);
    }
    if hasher.finalize()[..] != hash[..] {
        tracing::info!(doc.id = %doc, user = %user.name, material = %key, "material refused: its bytes do not match its hash");
        tx.delete_material(hash)?;
        return Ok(Err(MaterialRefusal::HashMismatch));
    }
    tx.set_material_received(hash, received as i64, true)?;
    tracing::info!(doc.id = %doc, user = %user.name, material = %key, size, module = described.module_row, "material stored");
    Ok(Ok(MaterialState {
        size,
        received,
        complete: true,
    }))
}

/// A change's device sequence number as stored (SQL integers).
fn actor_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// The key a pushed change would be stored under: from its reading, or, for a change that
/// does not read under today's limits (it may have been stored under looser ones, and be
/// sent again after a lost reply), from the header the reading got as far as.
fn change_key(change: &IncomingChange) -> Option<ChangeKey<'_>> {
    let (actor, seq) = match &change.inspected {
        Ok(inspected) => (inspected.actor.as_slice(), inspected.seq),
        Err(unreadable) => {
            let (actor, seq) = unreadable.device.as_ref()?;
            (actor.as_slice(), *seq)
        }
    };
    Some(ChangeKey {
        actor,
        actor_seq: actor_seq(seq),
        hash: &change.hash,
    })
}

/// Stores what `batch` may store, and says where each newly stored change went in `new`.
fn push(
    tx: &mut dyn Tx,
    user: &User,
    batch: &PushBatch,
    now: i64,
    new: &mut Vec<StoredRow>,
) -> Result<PushOutcome, StoreError> {
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
        let decision = decide_doc(tx, user, doc, kind, submitted, now, &mut meta_written)?;
        if let Err(reason) = &decision {
            tracing::info!(doc.id = %doc, user = %user.name, reason = %reason, "write refused");
        }
        decisions.insert(doc, decision);
    }
    if meta_written {
        // Metadata decides who reads what: every replica re-checks its readable set.
        tx.bump_access()?;
    }

    let mut outcome = PushOutcome::default();
    let day = now.div_euclid(86_400_000);
    // Marking system and final-control codes per journal, looked up once per push.
    let mut journal_rules: HashMap<i64, ScoreRules> = HashMap::new();
    let mut used_today = tx.usage(user.id, day)?;
    let writer = Writer {
        name: &user.name,
        role: user.role,
    };
    // What is stored already. A change's hash covers its device and that device's sequence
    // number, so a change newer than every change its device stored in its document cannot be
    // stored there: a push of new work (nearly every push) needs one look-up per device, not
    // one per change. The rest are looked up in one query; `stored_docs` is kept up to date
    // as this push stores more.
    // (document row, device) → the newest sequence number stored, for every change this push
    // may store.
    let mut newest: HashMap<(i64, &[u8]), i64> = HashMap::new();
    let mut devices = Vec::with_capacity(batch.changes.len());
    for change in &batch.changes {
        let device = match (&change.inspected, decisions.get(change.doc.as_str())) {
            (Ok(inspected), Some(Ok(row))) => {
                Some(((*row, inspected.actor.as_slice()), actor_seq(inspected.seq)))
            }
            _ => None,
        };
        if let Some((key, _)) = device
            && !newest.contains_key(&key)
        {
            newest.insert(key, tx.max_actor_seq(key.0, key.1)?.unwrap_or(0));
        }
        devices.push(device);
    }
    // Newer than anything of its device stored so far (a change repeated within one push is
    // not, once its first copy is stored).
    let is_fresh = |newest: &HashMap<(i64, &[u8]), i64>, device: Option<((i64, &[u8]), i64)>| {
        device.is_some_and(|(key, seq)| newest.get(&key).is_some_and(|stored| seq > *stored))
    };
    // (Bytes that are no change at all cannot be stored; they are refused below.)
    let looked_up: Vec<ChangeKey<'_>> = batch
        .changes
        .iter()
        .zip(&devices)
        .filter(|(_, device)| !is_fresh(&newest, **device))
        .filter_map(|(c, _)| change_key(c))
        .collect();
    let mut stored_docs = tx.change_docs(&looked_up)?;
    // Device owners, looked up once per device (a push's changes mostly share one).
    let mut owners: HashMap<Vec<u8>, Option<UserId>> = HashMap::new();
    for (change, device) in batch.changes.iter().zip(devices) {
        let refuse = |code: ErrorCode, reason: &str| Refused {
            hash: change.hash,
            code,
            reason: reason.to_owned(),
        };
        let fresh = is_fresh(&newest, device);
        match stored_docs.get(&change.hash[..]) {
            Some(doc) if *doc == change.doc => {
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
        // A teacher adds and cancels lessons, but a held lesson stays and an existing lesson
        // is moved or reassigned by the dean's office only: judged on the journal as it stood
        // before this change.
        if change.kind == DocKind::Journal
            && user.role == Role::Teacher
            && daftar_rules::lessons::concerns_lessons(&inspected.writes)
            && let Some(before) = load_document(tx, doc_row, None)?
            && let Some(reason) =
                daftar_rules::lessons::refuse_teacher_lesson_writes(&before, &inspected.writes)
        {
            tracing::info!(doc.id = %change.doc, user = %user.name, %reason, "lesson change refused");
            outcome.refused.push(refuse(ErrorCode::Forbidden, &reason));
            continue;
        }
        // A final-control score needs the student's admission, judged on the journal as it
        // stands with this change (and the module's plan). (Administrators are not held to
        // it: their HEMIS import carries the registrar's record as it is.)
        let scores = if change.kind == DocKind::Journal && user.role != Role::Admin {
            score_rules(tx, doc_row, &inspected.writes, &mut journal_rules)?
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
        // Anything in a retake sitting (a score, an absence) needs the permission; both are
        // judged on one read of the journal.
        let retake = change.kind == DocKind::Journal
            && user.role != Role::Admin
            && daftar_rules::final_control::writes_retake(&inspected.writes);
        if (retake
            || scores
                .as_ref()
                .is_some_and(|r| r.writes_final(&inspected.writes)))
            && let Some(reason) = judge_finals(tx, doc_row, &change.bytes, &inspected.writes)?
        {
            tracing::info!(doc.id = %change.doc, user = %user.name, %reason, "final score refused");
            outcome.refused.push(refuse(ErrorCode::Forbidden, &reason));
            continue;
        }
        // A module's materials, as they stand with this change, stay within this server's
        // limits (each file, and the module's together).
        if change.kind == DocKind::Module
            && inspected
                .writes
                .iter()
                .any(|w| w.map == "materials" && !matches!(w.op, daftar_rules::WriteOp::Delete))
            && let Some(module) = load_document(tx, doc_row, Some(&change.bytes))?
            && let Some(reason) = daftar_rules::materials::refuse_over_limits(
                &daftar_rules::materials::materials_of(&module),
                &batch.materials,
            )
        {
            tracing::info!(doc.id = %change.doc, user = %user.name, %reason, "material refused");
            outcome.refused.push(refuse(ErrorCode::TooLarge, &reason));
            continue;
        }
        let seq = actor_seq(inspected.seq);
        // A fresh change has no stored change at its sequence number.
        if !fresh
            && tx
                .hash_at(doc_row, &inspected.actor, seq)?
                .is_some_and(|h| h != change.hash)
        {
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
            let owner = match owners.get(&inspected.actor) {
                Some(o) => *o,
                None => {
                    let o = tx.actor_owner(&inspected.actor)?;
                    owners.insert(inspected.actor.clone(), o);
                    o
                }
            };
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
                    tx.bind_actor(&inspected.actor, user.id, now)?;
                    owners.insert(inspected.actor.clone(), Some(user.id));
                }
            }
        }
        let inserted = tx.insert_change(NewChange {
            hash: &change.hash,
            doc: doc_row,
            actor: &inspected.actor,
            user: user.id,
            bytes: &change.bytes,
            stored_at: now,
            actor_seq: seq,
            edit_time: inspected.time,
        })?;
        let Some(stored_seq) = inserted else {
            // Only a fresh change gets here with its hash stored: under another document.
            let docs = tx.change_docs(change_key(change).as_slice())?;
            if docs.get(&change.hash[..]) == Some(&change.doc) {
                outcome.acked.push(change.hash);
            } else {
                outcome.refused.push(refuse(
                    ErrorCode::Malformed,
                    "this change is already stored for another document",
                ));
            }
            continue;
        };
        new.push(StoredRow {
            seq: stored_seq,
            doc: doc_row,
        });
        let key = (doc_row, inspected.actor.as_slice());
        let newest_seq = newest.entry(key).or_insert(seq);
        *newest_seq = (*newest_seq).max(seq);
        stored_docs.insert(change.hash.to_vec(), change.doc.clone());
        used_today += len;
        outcome.stored += 1;
        outcome.stored_bytes += len;
        outcome.acked.push(change.hash);
    }
    if outcome.stored > 0 {
        tx.set_usage(user.id, day, used_today)?;
        tx.announce_changes()?;
    }
    Ok(outcome)
}

/// One page for `request`; `own` is what a push just before it in the same transaction
/// stored (not sent back, like every hash in `request.skip`).
fn pull(
    tx: &mut dyn Tx,
    user: &User,
    request: &PullRequest,
    now: i64,
    own: Option<&OwnRun<'_>>,
) -> Result<PullOutcome, StoreError> {
    let access = tx.access_version()?;
    let max_seq = tx.max_seq()?;
    let mut page = Page {
        budget: request.budget.max(1),
        bytes: 0,
        changes: Vec::new(),
    };

    // What earlier pages recorded about this replica counts only once acknowledged.
    let progress = if request.acknowledges {
        tx.settle_pending(
            user.id,
            &request.replica,
            request.ack.and_then(|p| i64::try_from(p).ok()),
        )?;
        if request.cursor > 0 {
            // Past the first pull: a pinned bound has served its purpose.
            tx.unpin_bound(user.id, &request.replica)?;
        }
        // A fresh random id for each page: an id derived from the request (say, ack + 1)
        // would be handed out again to a late copy of an old request, whose records the
        // client's acknowledgement of the first page would then settle although their page
        // never arrived (found by the simulated network, seed 1592590483). Random ids need no
        // counter written on an idle sync; 2^52 of them do not meet.
        Progress::Pending(page_id())
    } else {
        Progress::Direct
    };
    let mut from = request.cursor;
    if request.access != access {
        match pull_whole_docs(tx, user, request, max_seq, &mut page, progress, now)? {
            // Every readable document went out up to `bound` (>= the cursor).
            Some(bound) => from = bound,
            None => {
                let (authors, receipts) = provenance(tx, &page.changes)?;
                let page_id = pending_page(tx, user.id, &request.replica, progress)?;
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
        pull_after_cursor(tx, user, request, from, max_seq, &mut page, progress, own)?
    };
    let (authors, receipts) = provenance(tx, &page.changes)?;
    let page_id = pending_page(tx, user.id, &request.replica, progress)?;
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

/// How long sign-ins for these keys must wait: `Some(ms)` when one has `limit` failures within
/// the window, until the oldest of them leaves it.
fn login_wait<T: Tx + ?Sized>(
    tx: &mut T,
    keys: &[(String, u32)],
    window_ms: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let since = now.saturating_sub(window_ms);
    let mut wait = 0i64;
    for (key, limit) in keys {
        let (count, oldest) = tx.login_failures(key, since)?;
        if count >= i64::from(*limit)
            && let Some(oldest) = oldest
        {
            wait = wait.max(window_ms - (now - oldest));
        }
    }
    Ok((wait > 0).then_some(wait))
}

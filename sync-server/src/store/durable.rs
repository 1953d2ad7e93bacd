//! The SQLite writer's disk syncs, taken off the writer.
//!
//! With `synchronous = FULL` SQLite syncs the WAL inside every `COMMIT`, while it holds the
//! only writer connection: the next commit group cannot start until the disk has answered.
//! Here the writer commits with `synchronous = NORMAL` (the commit's WAL frames are written,
//! not synced) and a [`Syncer`] syncs the WAL file afterwards, once for every commit made
//! before the sync began, while the writer is already building the next group. That is what
//! `FULL` adds to `NORMAL` in WAL mode (one sync of the WAL after the commit), done later and
//! shared: the rule stays that **nothing is answered before the disk holds it**.
//!
//! - A write transaction is answered only after [`Syncer::wait`] for its own commit.
//! - A read transaction on a reader connection may see commits whose sync has not finished;
//!   it is answered only after every commit begun before its read ended is synced (at once
//!   when nothing is being written; under load, after the sync in flight and perhaps the
//!   next). So no one is ever shown a change, a cursor or a session that a power cut could
//!   take back, and seqs handed out are never reused.
//! - Only this process's commits are counted: another process writing the same file (the
//!   `daftar-sync` commands beside the server) commits with `synchronous = FULL`, which syncs
//!   before SQLite shows the commit to anyone.
//! - It relies on SQLite's powersafe-overwrite default (on in the bundled build): with it
//!   off, `FULL` pads a commit's last frame to a sector and `NORMAL` does not, and the next
//!   commit could tear a synced frame.
//! - A failed sync leaves it unknown what the disk holds (Linux may drop the unwritten pages
//!   and report the next sync as a success), so every later wait fails too: the server
//!   answers nothing until it is restarted and SQLite recovers the WAL as the disk has it.

use std::fs::File;
use std::sync::{Condvar, Mutex};

/// Commit generations, counted in the writer's order (one writer connection).
#[derive(Debug, Default)]
struct State {
    /// Commits begun (the writer increments this just before its `COMMIT`).
    begun: u64,
    /// Commits ended, whether or not they succeeded: every commit up to here has written
    /// all it will write.
    ended: u64,
    /// Commits whose WAL frames a finished sync covered.
    synced: u64,
    syncing: bool,
    failed: Option<String>,
}

/// See the module documentation.
#[derive(Debug)]
pub(super) struct Syncer {
    wal: File,
    state: Mutex<State>,
    changed: Condvar,
    /// Tests: a sync waits while this is held, or fails while `fail` is set.
    #[cfg(test)]
    pub(super) hold: Mutex<()>,
    #[cfg(test)]
    pub(super) fail: std::sync::atomic::AtomicBool,
}

/// Why nothing more is answered after a failed sync.
#[derive(Debug, thiserror::Error)]
#[error("the disk did not confirm a write ({0}); restart the server to recover what it holds")]
pub(super) struct SyncFailed(String);

impl Syncer {
    /// Syncs `wal`, an open handle on the writer's WAL file (the kernel syncs a file, not the
    /// handle: SQLite's own writes through its handle are covered).
    pub(super) fn new(wal: File) -> Syncer {
        Syncer {
            wal,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            #[cfg(test)]
            hold: Mutex::new(()),
            #[cfg(test)]
            fail: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer is about to commit: the generation of that commit. Called with the writer
    /// connection held, so generations follow the commits' order.
    pub(super) fn begin(&self) -> u64 {
        let mut s = self.state();
        s.begun += 1;
        s.begun
    }

    /// The commit of generation `generation` returned (successfully or not).
    pub(super) fn end(&self, generation: u64) {
        let mut s = self.state();
        s.ended = s.ended.max(generation);
        drop(s);
        self.changed.notify_all();
    }

    /// The newest generation begun: what a read that just ended may have seen.
    pub(super) fn seen(&self) -> u64 {
        self.state().begun
    }

    /// Returns once every commit up to `generation` is on the disk: at once if a sync
    /// covered it already, after the sync in flight if that covers it, else after a sync this
    /// thread makes (for every commit ended by then, so one sync answers many).
    pub(super) fn wait(&self, generation: u64) -> Result<(), SyncFailed> {
        let mut s = self.state();
        loop {
            if let Some(why) = &s.failed {
                return Err(SyncFailed(why.clone()));
            }
            if s.synced >= generation {
                return Ok(());
            }
            if s.syncing || s.ended < generation {
                s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            s.syncing = true;
            let covers = s.ended;
            drop(s);
            let result = self.sync();
            s = self.state();
            s.syncing = false;
            match result {
                Ok(()) => s.synced = s.synced.max(covers),
                Err(e) => {
                    tracing::error!(error = %e, "syncing the database's WAL failed; the server answers nothing more until restarted");
                    s.failed = Some(e.to_string());
                }
            }
            self.changed.notify_all();
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        #[cfg(test)]
        {
            let _held = self.hold.lock().unwrap_or_else(|p| p.into_inner());
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(std::io::Error::other("injected sync failure"));
            }
        }
        self.wal.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn syncer() -> (tempfile::TempDir, Arc<Syncer>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = File::create(dir.path().join("wal")).expect("file");
        (dir, Arc::new(Syncer::new(file)))
    }

    /// A commit is answered after a sync that began once it had ended, never before; one sync
    /// answers every commit ended before it began.
    #[test]
    fn a_wait_ends_only_after_a_sync_that_covers_it() {
        let (_dir, s) = syncer();
        let first = s.begin();
        s.end(first);
        let held = s.hold.lock().expect("hold");
        let waiter = {
            let s = s.clone();
            std::thread::spawn(move || s.wait(first))
        };
        // The sync is in flight (held): a commit ended meanwhile is not covered by it.
        while !s.state().syncing {
            std::thread::sleep(Duration::from_millis(1));
        }
        let second = s.begin();
        s.end(second);
        assert!(!waiter.is_finished(), "answered before its sync finished");
        drop(held);
        waiter.join().expect("thread").expect("synced");
        assert_eq!(s.state().synced, first);
        s.wait(second).expect("synced");
        assert_eq!(s.state().synced, second);
        // Nothing new: no sync needed, answered at once even with syncs held.
        let _held = s.hold.lock().expect("hold");
        s.wait(second).expect("already synced");
    }

    /// A read that saw a commit still being written waits for that commit to end and for a
    /// sync after it.
    #[test]
    fn a_read_waits_for_a_commit_it_saw_begin() {
        let (_dir, s) = syncer();
        let generation = s.begin();
        let reader = {
            let s = s.clone();
            std::thread::spawn(move || s.wait(s.seen()))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !reader.is_finished(),
            "answered while the commit it saw was being written"
        );
        s.end(generation);
        reader.join().expect("thread").expect("synced");
        assert_eq!(s.state().synced, generation);
    }

    /// After a failed sync nothing is answered again, not even what an earlier sync covered,
    /// and a later sync that reports success is not believed.
    #[test]
    fn after_a_failed_sync_every_wait_fails() {
        let (_dir, s) = syncer();
        let g = s.begin();
        s.end(g);
        s.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let e = s.wait(g).expect_err("a failed sync is not success");
        assert!(e.to_string().contains("restart the server"), "{e}");
        s.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        let next = s.begin();
        s.end(next);
        assert!(
            s.wait(next).is_err(),
            "a sync after a failure is not trusted"
        );
        assert!(s.wait(0).is_err());
    }
}

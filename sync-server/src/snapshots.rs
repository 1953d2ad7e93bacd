//! Keeps the cached document snapshots fresh in the background (`docs/sync-protocol.md`,
//! *Access changes*): after a push, the documents it touched are queued, and one worker on
//! tokio's blocking pool drains the queue through [`crate::store::Store::refresh_snapshots`].
//! A replica then sent a document whole gets the cached snapshot at once instead of waiting
//! while the server builds it, and the push that caused the work never waits for it.
//!
//! Building waits for a quiet moment (issue 14): a build loads a document's every change, and
//! during a burst of pushes it took the CPU the pushes needed (a callgrind profile of B11 put
//! the builds at two fifths of the server's instructions). So the worker starts a build only
//! once no push has finished for [`QUIET`], or once the oldest queued document has waited
//! [`MAX_DEFER`], so a server that is never quiet still builds.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::AppState;
use crate::metrics::Metrics;

/// No push for this long: the server is quiet enough to build snapshots.
pub const QUIET: Duration = Duration::from_millis(150);
/// A queued document is built after this long whatever the load.
pub const MAX_DEFER: Duration = Duration::from_secs(5);

/// The queue and whether a worker is draining it.
#[derive(Debug, Default)]
pub struct Snapshotter {
    pending: Mutex<BTreeSet<String>>,
    running: AtomicBool,
    /// When a push last queued documents (unix ms).
    last_push: AtomicI64,
    /// When the queue last went from empty to not empty (unix ms).
    queued_since: AtomicI64,
}

/// How long to wait before building, given the last push, the oldest queued document and now
/// (unix ms): zero once the server has been quiet for `quiet`, or the oldest document has
/// waited `max_defer`.
fn defer_for(last_push: i64, queued_since: i64, now: i64, quiet: i64, max_defer: i64) -> i64 {
    let quiet_in = quiet - (now - last_push);
    let due_in = max_defer - (now - queued_since);
    quiet_in.min(due_in).max(0)
}

impl Snapshotter {
    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Nothing queued and no worker running.
    pub fn idle(&self) -> bool {
        !self.running.load(Ordering::SeqCst) && self.pending().is_empty()
    }
}

impl AppState {
    /// Queues `docs` for a snapshot refresh and starts the worker if none is running. Must be
    /// called inside the tokio runtime.
    pub(crate) fn refresh_snapshots_later(&self, docs: impl IntoIterator<Item = String>) {
        let snapshotter = self.snapshotter();
        let now = crate::api::now_ms();
        snapshotter.last_push.store(now, Ordering::SeqCst);
        {
            let mut pending = snapshotter.pending();
            if pending.is_empty() {
                snapshotter.queued_since.store(now, Ordering::SeqCst);
            }
            pending.extend(docs);
            if pending.is_empty() {
                return;
            }
        }
        if snapshotter.running.swap(true, Ordering::SeqCst) {
            return; // the running worker will take them
        }
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.drain_snapshot_queue());
    }

    fn drain_snapshot_queue(&self) {
        let snapshotter = self.snapshotter();
        let (quiet, max_defer) = (QUIET.as_millis() as i64, MAX_DEFER.as_millis() as i64);
        loop {
            let wait = defer_for(
                snapshotter.last_push.load(Ordering::SeqCst),
                snapshotter.queued_since.load(Ordering::SeqCst),
                crate::api::now_ms(),
                quiet,
                max_defer,
            );
            if wait > 0 {
                std::thread::sleep(Duration::from_millis(wait as u64));
                continue;
            }
            // One document at a time: a burst that starts meanwhile gets the CPU back after
            // the build under way (each takes milliseconds).
            let next = snapshotter.pending().pop_first();
            let Some(doc) = next else {
                snapshotter.running.store(false, Ordering::SeqCst);
                // A push may have queued more after the take and seen the flag still set.
                if snapshotter.pending().is_empty()
                    || snapshotter.running.swap(true, Ordering::SeqCst)
                {
                    return;
                }
                continue;
            };
            match self
                .store()
                .refresh_snapshots(std::slice::from_ref(&doc), crate::api::now_ms())
            {
                Ok(n) => Metrics::add(&self.metrics().snapshots_built, n as u64),
                // A cache: a failed refresh costs the next reader a build, nothing more.
                Err(e) => tracing::warn!(error = %e, "refreshing document snapshots failed"),
            }
        }
    }

    /// Whether the background snapshot work is done (tests and benchmarks wait for it).
    pub fn snapshots_idle(&self) -> bool {
        self.snapshotter().idle()
    }
}

#[cfg(test)]
mod tests {
    use super::defer_for;

    #[test]
    fn builds_wait_for_a_quiet_moment_but_not_forever() {
        // A push 10 ms ago, the queue 10 ms old: wait out the quiet period.
        assert_eq!(defer_for(990, 990, 1_000, 150, 5_000), 140);
        // Quiet for long enough: build now.
        assert_eq!(defer_for(800, 800, 1_000, 150, 5_000), 0);
        // Pushes never stop, but the oldest document has waited its limit: build now.
        assert_eq!(defer_for(6_000, 1_000, 6_010, 150, 5_000), 0);
        // Pushes never stop, 4.95 s in: only the 50 ms left of the limit.
        assert_eq!(defer_for(5_940, 1_000, 5_950, 150, 5_000), 50);
    }
}

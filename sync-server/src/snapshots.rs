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

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::AppState;
use crate::metrics::Metrics;

/// No push for this long: the server is quiet enough to build snapshots.
pub const QUIET: Duration = Duration::from_millis(150);
/// A queued document is built after this long whatever the load.
pub const MAX_DEFER: Duration = Duration::from_secs(5);

/// Milliseconds on a monotonic clock (a wall-clock step never stalls the worker).
fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The documents waiting for a build, oldest first, each once.
#[derive(Debug, Default)]
struct Queue {
    order: VecDeque<(String, u64)>,
    queued: HashSet<String>,
}

/// The queue and whether a worker is draining it.
#[derive(Debug, Default)]
pub struct Snapshotter {
    pending: Mutex<Queue>,
    running: AtomicBool,
    /// When a push last queued documents ([`mono_ms`]).
    last_push: AtomicU64,
}

/// How long to wait before building, given the last push, when the oldest queued document was
/// queued, and now (ms): zero once the server has been quiet for `quiet`, or once that
/// document has waited `max_defer`.
fn defer_for(last_push: u64, oldest: u64, now: u64, quiet: u64, max_defer: u64) -> u64 {
    let quiet_in = quiet.saturating_sub(now.saturating_sub(last_push));
    let due_in = max_defer.saturating_sub(now.saturating_sub(oldest));
    quiet_in.min(due_in)
}

/// Clears the worker's flag when the worker dies of a panic.
struct Unstick<'a>(&'a AtomicBool);

impl Drop for Unstick<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(false, Ordering::SeqCst);
        }
    }
}

impl Snapshotter {
    fn pending(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Nothing queued and no worker running.
    pub fn idle(&self) -> bool {
        !self.running.load(Ordering::SeqCst) && self.pending().order.is_empty()
    }
}

impl AppState {
    /// Queues `docs` for a snapshot refresh and starts the worker if none is running. Must be
    /// called inside the tokio runtime.
    pub(crate) fn refresh_snapshots_later(&self, docs: impl IntoIterator<Item = String>) {
        let snapshotter = self.snapshotter();
        let now = mono_ms();
        snapshotter.last_push.store(now, Ordering::SeqCst);
        {
            let mut pending = snapshotter.pending();
            for doc in docs {
                // A document already waiting keeps its place and its age.
                if pending.queued.insert(doc.clone()) {
                    pending.order.push_back((doc, now));
                }
            }
            if pending.order.is_empty() {
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
        // Should a build panic, the next push starts a new worker.
        let _unstick = Unstick(&snapshotter.running);
        let (quiet, max_defer) = (QUIET.as_millis() as u64, MAX_DEFER.as_millis() as u64);
        loop {
            let oldest = snapshotter.pending().order.front().map(|(_, at)| *at);
            let Some(oldest) = oldest else {
                snapshotter.running.store(false, Ordering::SeqCst);
                // A push may have queued more after the look and seen the flag still set.
                if snapshotter.pending().order.is_empty()
                    || snapshotter.running.swap(true, Ordering::SeqCst)
                {
                    return;
                }
                continue;
            };
            let wait = defer_for(
                snapshotter.last_push.load(Ordering::SeqCst),
                oldest,
                mono_ms(),
                quiet,
                max_defer,
            );
            if wait > 0 {
                std::thread::sleep(Duration::from_millis(wait));
                continue;
            }
            // One document at a time, oldest first: a burst that starts meanwhile gets the CPU
            // back after the build under way (each takes milliseconds).
            let next = {
                let mut pending = snapshotter.pending();
                let next = pending.order.pop_front();
                if let Some((doc, _)) = &next {
                    pending.queued.remove(doc);
                }
                next
            };
            let Some((doc, _)) = next else { continue };
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
        // A push 10 ms ago, the oldest document queued 10 ms ago: wait out the quiet period.
        assert_eq!(defer_for(990, 990, 1_000, 150, 5_000), 140);
        // Quiet for long enough: build now.
        assert_eq!(defer_for(800, 800, 1_000, 150, 5_000), 0);
        // Pushes never stop, but the oldest queued document has waited its limit: build now.
        assert_eq!(defer_for(6_000, 1_000, 6_010, 150, 5_000), 0);
        // Pushes never stop, 4.95 s in: only the 50 ms left of the limit.
        assert_eq!(defer_for(5_940, 1_000, 5_950, 150, 5_000), 50);
    }
}

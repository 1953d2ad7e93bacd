//! Keeps the cached document snapshots fresh in the background (`docs/sync-protocol.md`,
//! *Access changes*): after a push, the documents it touched are queued, and one worker on
//! tokio's blocking pool drains the queue through [`crate::store::Store::refresh_snapshots`].
//! A replica then sent a document whole gets the cached snapshot at once instead of waiting
//! while the server builds it, and the push that caused the work never waits for it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::AppState;
use crate::metrics::Metrics;

/// The queue and whether a worker is draining it.
#[derive(Debug, Default)]
pub struct Snapshotter {
    pending: Mutex<BTreeSet<String>>,
    running: AtomicBool,
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
        {
            let mut pending = snapshotter.pending();
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
        loop {
            let batch: Vec<String> = std::mem::take(&mut *snapshotter.pending())
                .into_iter()
                .collect();
            if batch.is_empty() {
                snapshotter.running.store(false, Ordering::SeqCst);
                // A push may have queued more after the take and seen the flag still set.
                if snapshotter.pending().is_empty()
                    || snapshotter.running.swap(true, Ordering::SeqCst)
                {
                    return;
                }
                continue;
            }
            match self.store().refresh_snapshots(&batch, crate::api::now_ms()) {
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

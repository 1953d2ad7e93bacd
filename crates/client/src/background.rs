//! The background sync loop: syncs on start, shortly after local edits (debounced), every few
//! minutes while online, and as soon as the server answers again after an outage, with capped
//! exponential backoff and jitter between failed attempts. It publishes a [`SyncStatus`] on a
//! watch channel that the desktop app forwards to the UI and `daftar status` prints.
//!
//! The loop never holds the replica lock across the network, so the UI can always save.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use daftar_core::Replica;
use rand::Rng;
use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::ClientError;
use crate::engine::{SyncProgress, sync_once};
use crate::transport::Transport;

/// What the UI shows about sync, always: the status bar, and the payload of the app's
/// `sync:status-changed` event.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct SyncStatus {
    pub signed_in: bool,
    pub server: Option<String>,
    pub online: bool,
    pub running: bool,
    /// Local changes not yet on the server.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub waiting: i64,
    /// Changes the server refused (kept, retried when access changes).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub refused: i64,
    /// Unix milliseconds of the last successful sync.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_success: Option<i64>,
    pub progress: Option<SyncProgress>,
    /// The last error, in words for people (English; the app translates by its kind).
    pub last_error: Option<String>,
    /// What kind the last error was (`offline`, `unauthorized`, `no_token`…): the vocabulary
    /// of the CLI's `--json` errors too.
    #[cfg_attr(feature = "ts", ts(type = "ErrorKind | null"))]
    pub last_error_kind: Option<crate::ErrorKind>,
    /// The course material moving now, while files go up or come down after a sync.
    pub material: Option<crate::materials::MaterialProgress>,
}

/// Timing of the loop.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Wait after a local edit before syncing (edits in a burst go up together).
    pub debounce: Duration,
    /// Sync this often while online even when nothing happens locally.
    pub periodic: Duration,
    /// First retry delay after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// While offline, how often to check whether the server answers again.
    pub probe: Duration,
    /// While online, wait for news from the server (live updates) this long per request, and
    /// sync as soon as there is some; `periodic` then only backs it up.
    pub live_wait: Option<Duration>,
    /// The periodic sync while live updates work.
    pub periodic_with_live: Duration,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            debounce: Duration::from_millis(1500),
            periodic: Duration::from_secs(120),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            probe: Duration::from_secs(2),
            live_wait: Some(Duration::from_secs(25)),
            periodic_with_live: Duration::from_secs(15 * 60),
        }
    }
}

/// Capped exponential backoff with ±25 % jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            attempt: 0,
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = rand::rng().random_range(0.75..1.25);
        base.mul_f64(jitter).min(self.max)
    }
}

/// Handle to a running loop.
#[derive(Clone)]
pub struct SyncHandle {
    status: watch::Receiver<SyncStatus>,
    nudge: Arc<Notify>,
    now: Arc<Notify>,
    stop: Arc<Notify>,
}

impl SyncHandle {
    pub fn status(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// A local edit happened: sync shortly.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Sync now (the "sync now" button).
    pub fn sync_now(&self) {
        self.now.notify_one();
    }

    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

fn lock(replica: &Mutex<Replica>) -> std::sync::MutexGuard<'_, Replica> {
    replica.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the parts of the status that live in the replica.
pub fn replica_status(replica: &Mutex<Replica>, server: Option<&str>) -> SyncStatus {
    let r = lock(replica);
    let waiting = r.waiting().unwrap_or(0);
    let refused = r.refused().map(|v| v.len() as i64).unwrap_or(0);
    let (last_success, last_error) = match server {
        Some(s) => r.sync_history(s).unwrap_or((None, None)),
        None => (None, None),
    };
    SyncStatus {
        signed_in: server.is_some(),
        server: server.map(str::to_string),
        waiting,
        refused,
        last_success,
        last_error,
        ..SyncStatus::default()
    }
}

/// How a wait for news ended.
enum News {
    /// Something to sync.
    Arrived,
    /// The server has no live updates (an older server): poll instead, for good.
    Unsupported,
    /// The server holds as many waits of this user as it allows (other devices): poll for a
    /// while, then try again.
    Busy,
    /// The wait failed (offline, signed out, a server or proxy error): sync now, so the status
    /// says what is wrong. `worked` when an earlier wait of this run ended normally.
    Failed { worked: bool },
}

/// Failed waits in a row after which live updates rest for a periodic interval.
const LIVE_FAILURES_BEFORE_REST: u32 = 5;

/// Waits for news from the server, asking again each time a wait ends empty; first sleeps
/// until `resume`, when live updates are resting after failures.
async fn wait_for_news(
    replica: &Mutex<Replica>,
    transport: &Transport,
    server: &str,
    wait: Duration,
    resume: Option<tokio::time::Instant>,
) -> News {
    if let Some(at) = resume {
        tokio::time::sleep_until(at).await;
    }
    let mut worked = false;
    loop {
        let state = lock(replica).sync_state(server);
        let Ok((cursor, access)) = state else {
            return News::Failed { worked };
        };
        match transport.wait_for_news(cursor, access, wait).await {
            Ok(Some(true)) => return News::Arrived,
            Ok(Some(false)) => worked = true,
            Ok(None) => return News::Unsupported,
            Err(ClientError::RateLimited) => return News::Busy,
            Err(e) => {
                tracing::debug!(error = e.kind().as_str(), "waiting for live updates failed");
                return News::Failed { worked };
            }
        }
    }
}

async fn wait_until_reachable(transport: &Transport, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if transport.reachable().await {
            return;
        }
    }
}

/// Starts the loop on the current tokio runtime.
pub fn spawn(replica: Arc<Mutex<Replica>>, transport: Transport, config: LoopConfig) -> SyncHandle {
    let server = transport.server().to_string();
    let mut initial = replica_status(&replica, Some(&server));
    initial.last_error = None;
    let (tx, rx) = watch::channel(initial);
    let nudge = Arc::new(Notify::new());
    let now = Arc::new(Notify::new());
    let stop = Arc::new(Notify::new());
    let handle = SyncHandle {
        status: rx,
        nudge: nudge.clone(),
        now: now.clone(),
        stop: stop.clone(),
    };
    // Files move after a sync that worked, on a task of their own: never in the way of marks.
    let moving = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        let mut backoff = Backoff::new(config.min_backoff, config.max_backoff);
        let mut delay = Duration::ZERO; // sync on start
        let mut offline = false;
        // Live updates while the last sync worked and the server offers them.
        let mut live = config.live_wait;
        let mut listening = false;
        // Failed waits back off on their own (a sync that works in between must not make the
        // next wait start at once), and rest for a while after several in a row.
        let mut live_backoff = Backoff::new(config.min_backoff, config.max_backoff);
        let mut live_failures = 0u32;
        let mut live_resume: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                news = wait_for_news(&replica, &transport, &server, live.unwrap_or_default(), live_resume), if listening && live.is_some() => {
                    live_resume = None;
                    match news {
                        News::Unsupported => {
                            tracing::info!("no live updates on this server; syncing every few minutes");
                            live = None;
                            delay = config.periodic;
                            continue;
                        }
                        News::Busy => {
                            tracing::info!("the server holds this user's other live waits; polling for a while");
                            live_resume = Some(tokio::time::Instant::now() + config.periodic);
                            continue;
                        }
                        News::Arrived => {
                            live_failures = 0;
                            live_backoff.reset();
                        }
                        // A sync now: it shows what is wrong (offline, signed out); the next
                        // wait starts only after the wait's own backoff.
                        News::Failed { worked } => {
                            if worked {
                                live_failures = 0;
                                live_backoff.reset();
                            }
                            live_failures += 1;
                            let rest = if live_failures >= LIVE_FAILURES_BEFORE_REST {
                                live_failures = 0;
                                live_backoff.reset();
                                config.periodic
                            } else {
                                live_backoff.next_delay()
                            };
                            live_resume = Some(tokio::time::Instant::now() + rest);
                        }
                    }
                }
                // While offline, a cheap probe notices at once when the server answers again.
                _ = wait_until_reachable(&transport, config.probe), if offline => {}
                _ = now.notified() => {}
                _ = nudge.notified() => {
                    // Let a burst of edits finish, then go.
                    tx.send_modify(|s| s.waiting = lock(&replica).waiting().unwrap_or(s.waiting));
                    tokio::select! {
                        _ = tokio::time::sleep(config.debounce) => {}
                        _ = stop.notified() => break,
                    }
                }
                _ = stop.notified() => break,
            }
            tx.send_modify(|s| {
                s.running = true;
                s.progress = Some(SyncProgress::default());
            });
            let status_tx = tx.clone();
            let result = sync_once(&replica, &transport, |p| {
                status_tx.send_modify(|s| s.progress = Some(p.clone()));
            })
            .await;
            let mut next = replica_status(&replica, Some(&server));
            next.running = false;
            next.progress = None;
            next.material = tx.borrow().material.clone();
            if result.is_ok() && !moving.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let (replica, transport, tx, moving) = (
                    replica.clone(),
                    transport.clone(),
                    tx.clone(),
                    moving.clone(),
                );
                tokio::spawn(async move {
                    let status = tx.clone();
                    let moved = crate::materials::transfer(&replica, &transport, |p| {
                        status.send_modify(|s| s.material = Some(p.clone()));
                    })
                    .await;
                    if let Err(e) = &moved {
                        tracing::info!(
                            error = e.kind().as_str(),
                            "course materials wait for the next sync"
                        );
                    }
                    tx.send_modify(|s| s.material = None);
                    moving.store(false, std::sync::atomic::Ordering::SeqCst);
                });
            }
            offline = matches!(result, Err(ClientError::Offline { .. }));
            listening = result.is_ok();
            match result {
                Ok(_) => {
                    next.online = true;
                    next.last_error = None;
                    next.last_error_kind = None;
                    backoff.reset();
                    delay = if live.is_some() {
                        config.periodic_with_live
                    } else {
                        config.periodic
                    };
                }
                Err(e) => {
                    next.online = !matches!(e, ClientError::Offline { .. });
                    next.last_error = Some(e.for_people());
                    next.last_error_kind = Some(e.kind());
                    delay = match e {
                        ClientError::Unauthorized | ClientError::NotSignedIn => {
                            config.max_backoff * 10
                        }
                        _ => backoff.next_delay(),
                    };
                    // The engine logged the failure; the kind only (a server's message may quote
                    // what it refused).
                    tracing::debug!(
                        error = e.kind().as_str(),
                        retry_in_ms = delay.as_millis() as u64,
                        "next sync after a failure"
                    );
                }
            }
            if tx.send(next).is_err() {
                break;
            }
        }
    });
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(1250));
        assert!(delays[3] >= Duration::from_secs(6)); // 8 s ± 25 %
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1250));
    }
}

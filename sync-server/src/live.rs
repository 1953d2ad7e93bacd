//! Live updates: `GET /v1/changes` waits until a change the user may read is stored, through
//! this instance or any other on the same database.
//!
//! Every stored change bumps a generation counter (a `watch` channel): a push through this
//! instance bumps it directly, and with PostgreSQL a push through any instance sends `NOTIFY`
//! inside its transaction, which each instance's listener turns into a bump
//! ([`crate::store::Store::listen`]). A waiting request wakes on every bump and asks the store
//! whether anything readable came after its cursor; most wake-ups of other users' edits cost
//! one indexed query. Waits per user are bounded, and shutdown answers every waiting request
//! at once so it never holds a restart up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::store::UserId;

/// Concurrent waits one user may hold (their devices, a second window).
pub const MAX_WAITS_PER_USER: u32 = 4;

/// Readability checks one instance runs at once for waiting requests.
pub const CONCURRENT_CHECKS: usize = 4;

/// How long a woken wait lets a burst of pushes land before it checks.
pub const COALESCE: std::time::Duration = std::time::Duration::from_millis(20);

/// The live-update state of one instance.
#[derive(Debug, Clone)]
pub struct Live {
    checks: Arc<tokio::sync::Semaphore>,
    generation: Arc<watch::Sender<u64>>,
    closed: Arc<watch::Sender<bool>>,
    waits: Arc<Mutex<HashMap<UserId, u32>>>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            checks: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CHECKS)),
            generation: Arc::new(watch::channel(0).0),
            closed: Arc::new(watch::channel(false).0),
            waits: Arc::default(),
        }
    }
}

/// A wait slot of one user, given back when dropped.
pub struct WaitSlot {
    live: Live,
    user: UserId,
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut waits = self.live.waits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = waits.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                waits.remove(&self.user);
            }
        }
    }
}

impl Live {
    /// A permit to run one readability check.
    pub async fn check_permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.checks.acquire().await.ok()
    }

    /// Something was stored: wake every waiting request.
    pub fn bump(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A receiver that sees the next bump.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Resolves once the instance is shutting down.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// The instance is shutting down: answer every wait now.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// A wait slot for `user`, or `None` when they hold [`MAX_WAITS_PER_USER`] already.
    pub fn slot(&self, user: UserId) -> Option<WaitSlot> {
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        let n = waits.entry(user).or_insert(0);
        if *n >= MAX_WAITS_PER_USER {
            return None;
        }
        *n += 1;
        Some(WaitSlot {
            live: self.clone(),
            user,
        })
    }

    /// Waits currently held (for `/metrics`).
    pub fn waiting(&self) -> u64 {
        let waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        waits.values().map(|n| u64::from(*n)).sum()
    }
}

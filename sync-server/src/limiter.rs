//! Rate limiting of failed sign-ins, per user name and per peer address.
//!
//! The failures live in the store, so every instance behind a load balancer counts the same
//! failures and a restart forgets nothing. When a key has `max` failures inside the window,
//! sign-ins for it are refused (even with the right password) until the oldest failure leaves
//! the window.
//!
//! A sign-in waits for the writer once (issue 14: the sign-in tail under a 200-client push was
//! its writer turns). Before the password is checked, the limits are read without the writer,
//! and attempts still being checked on this instance count as failures, so parallel guesses
//! cannot all slip under the limit here. After the check, one write transaction checks the
//! limits again (other instances' attempts finished meanwhile) and records the outcome; if a
//! limit was reached by then, nothing is recorded and the attempt is refused with its verdict
//! unsaid. So no more than `max` guesses per window are ever answered, on any number of
//! instances.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::{LoginOutcome, Store, StoreError};

/// How long a sign-in refused only because other attempts for its keys are still being
/// checked is told to wait.
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// The sign-in limits.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    window: Duration,
    max_per_user: u32,
    max_per_ip: u32,
    /// Attempts of this instance between [`LoginLimiter::begin`] and the end of their
    /// [`Attempt`], per key. A key leaves the map when its last attempt ends.
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

/// A sign-in attempt under way: counted against its keys (on this instance) until dropped.
#[must_use]
pub struct Attempt {
    keys: Vec<(String, u32)>,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut map = lock(&self.in_flight);
        for (key, _) in &self.keys {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

fn lock(m: &Mutex<HashMap<String, u32>>) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_user: u32, max_per_ip: u32) -> LoginLimiter {
        LoginLimiter {
            window,
            max_per_user: max_per_user.max(1),
            max_per_ip: max_per_ip.max(1),
            in_flight: Arc::default(),
        }
    }

    fn keys(&self, user: &str, ip: Option<IpAddr>) -> Vec<(String, u32)> {
        let mut keys = vec![(format!("user:{user}"), self.max_per_user)];
        if let Some(ip) = ip {
            keys.push((format!("ip:{ip}"), self.max_per_ip));
        }
        keys
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Starts a sign-in attempt: `Ok(Err(wait))` when sign-ins for this user or address are
    /// refused for now (failures, or attempts still being checked, at the limit); otherwise
    /// the attempt, to [`finish`](LoginLimiter::finish) once the password is checked.
    /// Blocking (it reads the store).
    pub fn begin(
        &self,
        store: &dyn Store,
        user: &str,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        let keys = self.keys(user, ip);
        let window = self.window_ms();
        // The failures recorded so far, read without the writer.
        let failures = store.login_failures(&keys, window, now)?;
        let mut wait = 0i64;
        for ((_, limit), (count, oldest)) in keys.iter().zip(&failures) {
            if *count >= u64::from(*limit)
                && let Some(oldest) = oldest
            {
                wait = wait.max(window - (now - oldest));
            }
        }
        if wait > 0 {
            return Ok(Err(Duration::from_millis(wait as u64)));
        }
        // Attempts still being checked here count too, so a burst of guesses is checked about
        // the limit at a time. (An attempt leaves this count just before its outcome is
        // written, so for that moment it is in neither count: a guess more may be checked
        // then, never answered past the limit. The other order would refuse attempts that
        // should pass.)
        let mut map = lock(&self.in_flight);
        for ((key, limit), (count, _)) in keys.iter().zip(&failures) {
            let busy = map.get(key).copied().unwrap_or(0);
            if count + u64::from(busy) >= u64::from(*limit) {
                return Ok(Err(BUSY_WAIT));
            }
        }
        for (key, _) in &keys {
            *map.entry(key.clone()).or_default() += 1;
        }
        Ok(Ok(Attempt {
            keys,
            in_flight: self.in_flight.clone(),
        }))
    }

    /// Records how the attempt ended and, for the right password to an enabled account,
    /// stores the session, in one write: `Ok(Err(wait))` when a limit was reached meanwhile
    /// (nothing recorded; answer as rate-limited, not with the verdict).
    pub fn finish(
        &self,
        store: &dyn Store,
        attempt: Attempt,
        now: i64,
        outcome: LoginOutcome<'_>,
    ) -> Result<Result<(), Duration>, StoreError> {
        // Out of the in-flight count before the write (see `begin`).
        let keys = attempt.keys.clone();
        drop(attempt);
        let done = store.login_finish(&keys, self.window_ms(), now, outcome)?;
        Ok(done.map_err(|wait_ms| Duration::from_millis(wait_ms.max(1) as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    /// Two instances over one store (as behind a load balancer), a burst of guesses on each:
    /// each instance checks no more than the limit at a time, and the store answers no more
    /// than the limit in all; the rest are refused with their verdicts unsaid.
    #[test]
    fn no_more_than_the_limit_are_answered_across_instances() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("s.db")).expect("store");
        let window = Duration::from_secs(60);
        let (a, b) = (
            LoginLimiter::new(window, 5, 100),
            LoginLimiter::new(window, 5, 100),
        );
        let ip: Option<IpAddr> = Some([10, 0, 0, 7].into());
        let mut attempts = Vec::new();
        for limiter in [&a, &b] {
            for _ in 0..5 {
                let attempt = limiter.begin(&store, "ali", ip, 1_000).expect("begin");
                attempts.push((limiter, attempt.expect("under the limit")));
            }
            let busy = limiter.begin(&store, "ali", ip, 1_000).expect("begin");
            assert_eq!(
                busy.err(),
                Some(BUSY_WAIT),
                "a sixth at once on one instance"
            );
        }
        let mut answered = 0;
        for (limiter, attempt) in attempts {
            match limiter
                .finish(&store, attempt, 1_001, LoginOutcome::Failed)
                .expect("finish")
            {
                Ok(()) => answered += 1,
                Err(wait) => assert!(wait > Duration::ZERO && wait <= window),
            }
        }
        assert_eq!(
            answered, 5,
            "only the limit's worth of guesses is told wrong"
        );
        assert!(
            lock(&a.in_flight).is_empty(),
            "finished attempts leave the map"
        );
        let later = a.begin(&store, "ali", ip, 2_000).expect("begin");
        assert!(
            later.is_err_and(|wait| wait > Duration::from_secs(58)),
            "the recorded failures refuse the next attempt until the oldest leaves the window"
        );
        // The right password after the window: the user's failures are forgotten.
        let attempt = a
            .begin(&store, "ali", ip, 62_000)
            .expect("begin")
            .expect("the window has passed");
        a.finish(&store, attempt, 62_000, LoginOutcome::Succeeded(None))
            .expect("finish")
            .expect("recorded");
        let failures = store
            .login_failures(&a.keys("ali", ip), 60_000, 62_000)
            .expect("failures");
        assert_eq!(
            failures[0].0, 0,
            "the user's failures are forgotten: {failures:?}"
        );
    }
}

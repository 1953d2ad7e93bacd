//! Rate limiting of failed sign-ins, per user name and per peer address.
//!
//! Kept in memory: a restart forgets it, and with several server instances each counts its
//! own failures, which still caps guessing at a few attempts per instance and window. When a
//! key has `max` failures inside the window, sign-ins for it are refused (even with the right
//! password) until the oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys are pruned when the map grows past this, so a flood of made-up names stays bounded.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Ip(IpAddr),
}

/// Failed sign-in counter.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    max_per_user: u32,
    max_per_ip: u32,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_user: u32, max_per_ip: u32) -> LoginLimiter {
        LoginLimiter {
            window,
            max_per_user: max_per_user.max(1),
            max_per_ip: max_per_ip.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(user: &str, ip: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(user.to_owned())).chain(ip.map(Key::Ip))
    }

    fn limit(&self, key: &Key) -> usize {
        match key {
            Key::User(_) => self.max_per_user as usize,
            Key::Ip(_) => self.max_per_ip as usize,
        }
    }

    /// `Err(wait)` when sign-ins for this user or address are refused for now.
    pub fn check(&self, user: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in Self::keys(user, ip) {
            let limit = self.limit(&key);
            if let Some(times) = map.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    times.pop_front();
                }
                if times.len() >= limit
                    && let Some(oldest) = times.front()
                {
                    wait = wait.max(self.window.saturating_sub(now.duration_since(*oldest)));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Count a failed sign-in.
    pub fn record_failure(&self, user: &str, ip: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PRUNE_AT {
            let window = self.window;
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in Self::keys(user, ip) {
            let limit = self.limit(&key);
            let times = map.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
    }

    /// A successful sign-in clears the user's failures (not the address's).
    pub fn record_success(&self, user: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::User(user.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_unlocks_after_window() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.check("a", None, t0).is_ok(), "attempt {i}");
            l.record_failure("a", None, t0);
        }
        assert!(l.check("a", None, t0).is_err());
        assert!(l.check("b", None, t0).is_ok(), "other users unaffected");
        assert!(l.check("a", None, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn per_ip_limit_spans_user_names() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        l.record_failure("a", Some(ip), t0);
        l.record_failure("b", Some(ip), t0);
        assert!(l.check("c", Some(ip), t0).is_err());
        assert!(l.check("c", None, t0).is_ok());
    }

    #[test]
    fn success_clears_user_failures() {
        let l = LoginLimiter::new(Duration::from_secs(60), 2, 100);
        let t0 = Instant::now();
        l.record_failure("a", None, t0);
        l.record_success("a");
        l.record_failure("a", None, t0);
        assert!(l.check("a", None, t0).is_ok());
    }
}

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

    /// Start a sign-in attempt: `Err(wait)` when sign-ins for this user or address are refused
    /// for now; otherwise the attempt is counted as a failure *before* the password is checked,
    /// so parallel guesses cannot all slip under the limit. [`LoginLimiter::succeeded`] takes
    /// it back.
    pub fn begin(&self, user: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
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
        if !wait.is_zero() {
            return Err(wait);
        }
        if map.len() >= PRUNE_AT {
            let window = self.window;
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in Self::keys(user, ip) {
            map.entry(key).or_default().push_back(now);
        }
        Ok(())
    }

    /// The attempt begun with [`LoginLimiter::begin`] had the right password: forget the
    /// user's failures and take this attempt back from the address's count.
    pub fn succeeded(&self, user: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::User(user.to_owned()));
        if let Some(ip) = ip
            && let Some(times) = map.get_mut(&Key::Ip(ip))
        {
            times.pop_back();
        }
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
            assert!(l.begin("a", None, t0).is_ok(), "attempt {i}");
        }
        assert!(l.begin("a", None, t0).is_err());
        assert!(l.begin("b", None, t0).is_ok(), "other users unaffected");
        assert!(l.begin("a", None, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn per_ip_limit_spans_user_names() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(l.begin("a", Some(ip), t0).is_ok());
        assert!(l.begin("b", Some(ip), t0).is_ok());
        assert!(l.begin("c", Some(ip), t0).is_err());
        assert!(l.begin("c", None, t0).is_ok());
    }

    #[test]
    fn success_takes_the_attempt_back() {
        let l = LoginLimiter::new(Duration::from_secs(60), 2, 2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(l.begin("a", Some(ip), t0).is_ok());
            l.succeeded("a", Some(ip));
        }
    }
}

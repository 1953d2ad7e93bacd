//! Rate limiting of failed sign-ins, per user name and per peer address.
//!
//! The attempts live in the store, so every instance behind a load balancer counts the same
//! failures and a restart forgets nothing. When a key has `max` failures inside the window,
//! sign-ins for it are refused (even with the right password) until the oldest failure leaves
//! the window. An attempt is counted *before* the password is checked, so parallel guesses
//! cannot all slip under the limit; the right password takes it back.

use std::net::IpAddr;
use std::time::Duration;

use crate::store::{LoginAttempt, NewSession, Store, StoreError};

/// The sign-in limits.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    window: Duration,
    max_per_user: u32,
    max_per_ip: u32,
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_user: u32, max_per_ip: u32) -> LoginLimiter {
        LoginLimiter {
            window,
            max_per_user: max_per_user.max(1),
            max_per_ip: max_per_ip.max(1),
        }
    }

    fn keys(&self, user: &str, ip: Option<IpAddr>) -> Vec<(String, u32)> {
        let mut keys = vec![(format!("user:{user}"), self.max_per_user)];
        if let Some(ip) = ip {
            keys.push((format!("ip:{ip}"), self.max_per_ip));
        }
        keys
    }

    /// Starts a sign-in attempt: `Ok(Err(wait))` when sign-ins for this user or address are
    /// refused for now; otherwise the attempt, counted as a failure until
    /// [`LoginLimiter::succeeded`] takes it back. Blocking (it asks the store).
    pub fn begin(
        &self,
        store: &dyn Store,
        user: &str,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<LoginAttempt, Duration>, StoreError> {
        let window = i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX);
        Ok(store
            .login_begin(&self.keys(user, ip), window, now)?
            .map_err(|wait_ms| Duration::from_millis(wait_ms.max(1) as u64)))
    }

    /// The attempt had the right password: forget the user's failures, take this attempt back
    /// from the address's count, and store the new session if there is one.
    pub fn succeeded(
        &self,
        store: &dyn Store,
        attempt: &LoginAttempt,
        session: Option<&NewSession>,
    ) -> Result<(), StoreError> {
        store.login_succeeded(attempt, session)
    }
}

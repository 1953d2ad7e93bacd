//! Password hashing (argon2id) and session tokens.
//!
//! Passwords are stored as argon2id PHC strings, which carry their own parameters, so
//! verification works whatever [`PasswordParams`] a hash was made with. Production uses the
//! argon2 crate's defaults (OWASP's recommendation: 19 MiB, 2 passes); tests may pass cheaper
//! parameters through [`crate::Config::password`].
//!
//! Session tokens are 32 random bytes, base64url without padding, handed to the client once;
//! the server keeps only their SHA-256 ([`token_hash`]).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use rand::RngCore as _;
use sha2::Digest as _;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            m_cost: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
        }
    }
}

impl PasswordParams {
    /// The cheapest parameters argon2 allows. For tests only: never use in production.
    pub const INSECURE_FAST: PasswordParams = PasswordParams {
        m_cost: Params::MIN_M_COST,
        t_cost: Params::MIN_T_COST,
        p_cost: Params::MIN_P_COST,
    };

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Hash a password into an argon2id PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = self
            .argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    }
}

/// Whether `password` matches the PHC string `phc`. A malformed stored hash is an error, a
/// wrong password is `Ok(false)`.
pub fn verify(phc: &str, password: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::StoredHash(e.to_string()))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::StoredHash(e.to_string())),
    }
}

/// A new random session token (base64url, 43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the server stores for a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// Hashing failures (argon2's own error type is not `std::error::Error` in every version, so
/// its message is kept).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the stored password hash is unreadable: {0}")]
    StoredHash(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_rejects_wrong_password() {
        let phc = PasswordParams::INSECURE_FAST.hash("s3cret").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(&phc, "s3cret").expect("verify"));
        assert!(!verify(&phc, "nope").expect("verify"));
        assert!(verify("garbage", "x").is_err());
    }

    #[test]
    fn production_defaults_are_argon2_defaults() {
        let p = PasswordParams::default();
        assert_eq!(p.m_cost, 19 * 1024);
        assert_eq!(p.t_cost, 2);
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}

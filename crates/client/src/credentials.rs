//! Where the sign-in token lives: the OS keyring, never a plain file.
//!
//! Stores are tried in order, each with a write probe (a locked or absent Secret Service still
//! answers reads): the Secret Service (GNOME Keyring, KWallet) over pure-Rust zbus, then the
//! Linux kernel keyutils store (kernel memory only, nothing on disk, gone at reboot). Where
//! neither can store, callers get [`ClientError::NoKeyring`] and can pass the token through
//! `DAFTAR_TOKEN`, which always overrides the keyring.
//!
//! Entries are keyed by server, user and replica device, so several replicas on one machine
//! never overwrite each other's tokens.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use crate::{ClientError, Result};

/// Keyring service name of every Daftar entry.
pub const SERVICE: &str = "daftar";

/// Environment variable that carries a token instead of the keyring.
pub const TOKEN_ENV: &str = "DAFTAR_TOKEN";

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    pub server: String,
    pub user: String,
    pub replica: String,
}

impl TokenKey {
    fn account(&self) -> String {
        format!("{}|{}|{}", self.server, self.user, self.replica)
    }
}

/// A credential store with a name for messages.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<CredentialStore>,
    pub name: &'static str,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("name", &self.name).finish()
    }
}

fn probe(store: &Arc<CredentialStore>) -> std::result::Result<(), String> {
    // A name of our own: several processes probing at once must not delete each other's item.
    let account = format!(
        "daftar-probe-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    let entry = Entry::new_in_store(store, SERVICE, &account).map_err(|e| e.to_string())?;
    entry.set_password("probe").map_err(|e| e.to_string())?;
    let _ = entry.delete_credential();
    Ok(())
}

type Open = fn() -> keyring_core::Result<Arc<CredentialStore>>;

/// The stores this machine may have, in order of preference.
const CANDIDATES: [(&str, Open); 2] = [
    ("Secret Service", || {
        zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)
    }),
    ("kernel keyutils", || {
        linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)
    }),
];

impl Keyring {
    /// The first store on this machine that accepts a write.
    pub fn system() -> Result<Keyring> {
        let mut reasons = Vec::new();
        for (name, open) in CANDIDATES {
            match open().map_err(|e| e.to_string()).and_then(|store| {
                probe(&store)?;
                Ok(store)
            }) {
                Ok(store) => return Ok(Keyring { store, name }),
                Err(e) => reasons.push(format!("{name}: {e}")),
            }
        }
        Err(ClientError::NoKeyring(reasons.join("; ")))
    }

    /// A given store (tests pass `keyring_core::mock::Store`).
    pub fn with_store(store: Arc<CredentialStore>, name: &'static str) -> Keyring {
        Keyring { store, name }
    }

    fn entry(&self, key: &TokenKey) -> Result<Entry> {
        Entry::new_in_store(&self.store, SERVICE, &key.account())
            .map_err(|e| ClientError::NoKeyring(e.to_string()))
    }

    pub fn save(&self, key: &TokenKey, token: &str) -> Result<()> {
        self.entry(key)?
            .set_password(token)
            .map_err(|e| ClientError::NoKeyring(e.to_string()))
    }

    pub fn load(&self, key: &TokenKey) -> Result<Option<String>> {
        match self.entry(key)?.get_password() {
            Ok(t) => Ok(Some(t)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(ClientError::NoKeyring(e.to_string())),
        }
    }

    pub fn delete(&self, key: &TokenKey) -> Result<()> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(ClientError::NoKeyring(e.to_string())),
        }
    }
}

/// The token to use: `DAFTAR_TOKEN` if set, else the first keyring that holds one (reading
/// needs no write probe).
pub fn find_token(key: &TokenKey) -> Result<Option<String>> {
    if let Ok(t) = std::env::var(TOKEN_ENV)
        && !t.trim().is_empty()
    {
        return Ok(Some(t.trim().to_string()));
    }
    let mut reasons = Vec::new();
    let mut answered = false;
    for (name, open) in CANDIDATES {
        match open() {
            Ok(store) => match (Keyring { store, name }).load(key) {
                Ok(Some(token)) => return Ok(Some(token)),
                // Not here: the token may be in the next store (if this one failed at login).
                Ok(None) => answered = true,
                Err(e) => reasons.push(format!("{name}: {e}")),
            },
            Err(e) => reasons.push(format!("{name}: {e}")),
        }
    }
    if answered {
        Ok(None)
    } else {
        Err(ClientError::NoKeyring(reasons.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> Keyring {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().expect("mock store");
        Keyring::with_store(store, "mock")
    }

    fn key(replica: &str) -> TokenKey {
        TokenKey {
            server: "http://127.0.0.1:8787".into(),
            user: "teacher".into(),
            replica: replica.into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_delete() {
        let k = mock();
        assert_eq!(k.load(&key("a")).expect("load"), None);
        k.save(&key("a"), "secret-token").expect("save");
        assert_eq!(
            k.load(&key("a")).expect("load").as_deref(),
            Some("secret-token")
        );
        k.delete(&key("a")).expect("delete");
        assert_eq!(k.load(&key("a")).expect("load"), None);
        k.delete(&key("a")).expect("deleting twice is fine");
    }

    #[test]
    fn replicas_never_overwrite_each_others_tokens() {
        let k = mock();
        k.save(&key("replica-1"), "one").expect("save");
        k.save(&key("replica-2"), "two").expect("save");
        assert_eq!(
            k.load(&key("replica-1")).expect("load").as_deref(),
            Some("one")
        );
        assert_eq!(
            k.load(&key("replica-2")).expect("load").as_deref(),
            Some("two")
        );
    }
}

//! Signing in and out, the one sequence the CLI (`daftar login`/`logout`) and the desktop app
//! both run. A sign-in that fails (wrong address, wrong password, a reply cut on the way)
//! leaves the previous sign-in — device, cursor, token, user — exactly as it was: the replica
//! is touched only after the server said yes.
//!
//! ```text
//! let attempt = SignIn::new(&replica, server, user);   // reads the device
//! let resp = attempt.transport()?.login(user, pw).await?;  // the network, no lock held
//! let done = attempt.finish(&mut replica, &resp)?;      // device switch, keyring, meta
//! ```

use daftar_core::Replica;
use daftar_core::replica::meta;
use daftar_protocol::LoginResponse;

use crate::credentials::{Keyring, TokenKey};
use crate::transport::{Transport, normalize_server};

/// A sign-in in progress: the server and user, before the server has answered.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub server: String,
    pub user: String,
    device: String,
}

/// What a finished sign-in did.
#[derive(Debug)]
pub struct SignedIn {
    /// The keyring that holds the token, or why none could (the caller keeps the token for
    /// this session only, or hands it to the user for `DAFTAR_TOKEN`).
    pub keyring: Result<&'static str, String>,
    /// Another user had signed in here: this one writes as a new device and syncs from the
    /// start, so they receive everything they may read.
    pub new_device: bool,
}

impl SignIn {
    pub fn new(replica: &Replica, server: &str, user: &str) -> SignIn {
        SignIn {
            server: normalize_server(server),
            user: user.trim().to_string(),
            device: replica.device_hex(),
        }
    }

    /// An unauthenticated transport to send the password with.
    pub fn transport(&self) -> crate::Result<Transport> {
        Transport::new(&self.server, &self.device, None)
    }

    /// After the server accepted the password: another user's replica gets a new device (the
    /// server binds a device to the first user who syncs from it; their changes keep theirs),
    /// the token goes to the keyring under the device it belongs to, and the replica records
    /// who is signed in (core's `record_sign_in`: the meta, whose unsent changes are whose).
    pub fn finish(
        &self,
        replica: &mut Replica,
        resp: &LoginResponse,
    ) -> daftar_core::error::Result<SignedIn> {
        let owner = meta::device_owner(&self.server, &self.user);
        let new_device = replica
            .meta(meta::DEVICE_OWNER)?
            .is_some_and(|o| o != owner);
        if new_device {
            replica.new_device_for(&self.server)?;
            tracing::info!("another user signs in here: writing as a new device");
        }
        let key = TokenKey {
            server: self.server.clone(),
            user: self.user.clone(),
            replica: replica.device_hex(),
        };
        let keyring = Keyring::system()
            .and_then(|k| k.save(&key, &resp.token).map(|()| k.name))
            .map_err(|e| e.to_string());
        replica.record_sign_in(
            &self.server,
            &self.user,
            resp.user.role,
            resp.user.scope.as_deref(),
        )?;
        Ok(SignedIn {
            keyring,
            new_device,
        })
    }
}

/// The keyring entry of whoever is signed in on `replica`, if anyone is.
pub fn current_key(replica: &Replica) -> daftar_core::error::Result<Option<TokenKey>> {
    let (Some(server), Some(user)) = (
        replica.meta(meta::SERVER)?,
        replica.meta(meta::SERVER_USER)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(TokenKey {
        server,
        user,
        replica: replica.device_hex(),
    }))
}

/// Signs out here, after the caller's best-effort `DELETE /v1/sessions`: the token leaves the
/// keyring and the replica forgets who was signed in (core's `forget_sign_in`). Documents and
/// unsent changes stay, kept for their owner's next sign-in.
pub fn forget(replica: &Replica) -> daftar_core::error::Result<()> {
    if let Some(key) = current_key(replica)?
        && let Ok(k) = Keyring::system()
        && let Err(e) = k.delete(&key)
    {
        // The replica still forgets the sign-in: a token left in a keyring is useless
        // once the server's session is gone, and harmless before.
        tracing::warn!(error = %e, "could not remove the token from the keyring");
    }
    replica.forget_sign_in()
}

//! The state every command shares: one replica behind one mutex (also shared with the
//! background sync loop, which locks it only around database work, never across the network),
//! the data folder, and the running sync session if signed in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use daftar_core::Replica;

use crate::error::{IpcError, IpcResult};
use crate::ipc::AppInfo;
use crate::paths;
use crate::session::Session;

/// Replica meta keys the app reads or writes. The `server*` keys are the CLI's (`daftar login`).
pub mod meta {
    /// The sign-in's keys, core's (the CLI's too).
    pub use daftar_core::replica::meta::{
        DEVICE_OWNER, SERVER, SERVER_ROLE, SERVER_SCOPE, SERVER_USER,
    };
    /// Set when the app generated demo data here (it must never be pushed to a server).
    pub const DEMO: &str = "demo";
    pub const LANGUAGE: &str = "ui_language";
}

pub struct AppState {
    pub replica: Arc<Mutex<Replica>>,
    pub data_dir: PathBuf,
    pub session: Mutex<Option<Session>>,
}

/// A panic while the replica was locked leaves SQLite consistent (its transaction rolled back),
/// so a poisoned lock is safe to keep using.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    pub fn open(data_dir: &Path) -> IpcResult<AppState> {
        let replica = Replica::open(&paths::replica_path(data_dir))?;
        Ok(AppState {
            replica: Arc::new(Mutex::new(replica)),
            data_dir: data_dir.to_path_buf(),
            session: Mutex::new(None),
        })
    }

    pub fn replica(&self) -> MutexGuard<'_, Replica> {
        lock(&self.replica)
    }

    /// Deletes the replica file and starts a fresh, empty one (a new device id too). Used to
    /// drop demo data before signing in, so none of it can reach a server.
    pub fn reset_replica(&self) -> IpcResult<()> {
        let path = paths::replica_path(&self.data_dir);
        let mut guard = self.replica();
        let placeholder = Replica::open(Path::new(":memory:"))?;
        drop(std::mem::replace(&mut *guard, placeholder));
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.clone().into_os_string();
            name.push(suffix);
            match std::fs::remove_file(&name) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(IpcError::internal(format!(
                        "cannot remove the demo data: {e}"
                    )));
                }
            }
        }
        *guard = Replica::open(&path)?;
        tracing::info!("replica reset");
        Ok(())
    }

    pub fn info(&self) -> IpcResult<AppInfo> {
        let r = self.replica();
        info_of(&r, &self.data_dir)
    }
}

/// What the screens offer is what the server's table takes from the signed-in role
/// (everything in a replica no server governs; nothing for a role this build does not know).
/// Commands check it before writing: it reads two meta values, not the whole `AppInfo`.
pub fn capabilities_of(r: &Replica) -> IpcResult<daftar_rules::Capabilities> {
    let signed_in = r.meta(meta::SERVER)?.is_some() && r.meta(meta::SERVER_USER)?.is_some();
    if !signed_in {
        return Ok(daftar_rules::Capabilities::EVERYTHING);
    }
    Ok(r.meta(meta::SERVER_ROLE)?
        .as_deref()
        .and_then(daftar_protocol::Role::parse)
        .map(daftar_rules::Capabilities::of)
        .unwrap_or(daftar_rules::Capabilities::NOTHING))
}

pub fn info_of(r: &Replica, data_dir: &Path) -> IpcResult<AppInfo> {
    let server = r.meta(meta::SERVER)?;
    let signed_in = server.is_some() && r.meta(meta::SERVER_USER)?.is_some();
    let role = if signed_in {
        r.meta(meta::SERVER_ROLE)?
    } else {
        None
    };
    let journals = r.journal_count()?;
    let documents = r.document_count()?;
    let language = r
        .meta(meta::LANGUAGE)?
        .and_then(|l| crate::ipc::UiLanguage::from_code(&l))
        .unwrap_or_default();
    let can = capabilities_of(r)?;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: data_dir.display().to_string(),
        device: r.device_hex().chars().take(8).collect(),
        user: r.user().to_string(),
        signed_in,
        server: if signed_in { server } else { None },
        can_resolve: can.resolve,
        can_edit_modules: can.edit_modules,
        can_write_journals: can.write_journals,
        can_import: can.import,
        role,
        journals: journals.max(0) as u32,
        empty: documents == 0,
        kept_for_others: (r.stored_document_count()? - documents).clamp(0, i64::from(u32::MAX))
            as u32,
        servers_used: {
            let mut used = r.servers_used()?;
            // The demo's own server (`scripts/run.sh` says where it listens).
            if let Ok(demo) = std::env::var("DAFTAR_DEMO_SERVER")
                && !demo.trim().is_empty()
                && !used.iter().any(|s| s == demo.trim())
            {
                used.push(demo.trim().to_string());
            }
            used
        },
        demo: r.meta(meta::DEMO)?.is_some(),
        language,
        export_dir: paths::export_dir(data_dir).display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = AppState::open(dir.path()).expect("open");
        (dir, state)
    }

    #[test]
    fn roles_decide_what_the_screens_offer() {
        let (_dir, state) = state();
        let info = state.info().expect("info");
        assert!(info.empty && !info.signed_in);
        assert!(
            info.can_resolve && info.can_edit_modules && info.can_write_journals,
            "the offline demo shows everything"
        );
        for (role, resolve, modules, journals) in [
            ("teacher", false, false, true),
            // The dean's office changes a mark only by resolving a conflict or adjusting it.
            ("dean", true, false, false),
            ("department_head", false, true, false),
            ("admin", true, true, true),
        ] {
            let r = state.replica();
            r.set_meta(meta::SERVER, "http://127.0.0.1:8787")
                .expect("meta");
            r.set_meta(meta::SERVER_USER, "someone").expect("meta");
            r.set_meta(meta::SERVER_ROLE, role).expect("meta");
            drop(r);
            let info = state.info().expect("info");
            assert!(info.signed_in);
            assert_eq!(
                (
                    info.can_resolve,
                    info.can_edit_modules,
                    info.can_write_journals
                ),
                (resolve, modules, journals),
                "{role}"
            );
        }
    }

    #[test]
    fn reset_starts_an_empty_replica_with_a_new_device() {
        let (dir, state) = state();
        let before = state.replica().device_hex();
        state.replica().set_meta(meta::DEMO, "1").expect("meta");
        state.reset_replica().expect("reset");
        assert!(paths::replica_path(dir.path()).exists());
        assert_ne!(state.replica().device_hex(), before);
        assert!(!state.info().expect("info").demo);
    }
}

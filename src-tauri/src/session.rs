//! The sync session of a signed-in app: the background loop from `daftar-client` (which syncs on
//! start, after edits, periodically, and the moment the server answers again after an outage)
//! and a task that forwards its status to the UI as the `sync:status-changed` event.
//!
//! Nothing here blocks a command on the network: commands save locally, call [`after_edit`]
//! and return; the loop picks the change up after its debounce.

use daftar_client::background::{self, LoopConfig, SyncHandle};
use daftar_client::credentials::{TokenKey, find_token};
use daftar_client::transport::Transport;
use daftar_core::Replica;
use tauri::{AppHandle, Emitter, Manager};

use crate::error::IpcResult;
use crate::ipc::SYNC_STATUS_EVENT;
use crate::ipc::camel::Camel;
use crate::state::{AppState, lock, meta};

pub struct Session {
    pub handle: SyncHandle,
    pub transport: Transport,
    tasks: Vec<tauri::async_runtime::JoinHandle<()>>,
}

impl Session {
    fn stop(self) {
        self.handle.stop();
        for t in self.tasks {
            t.abort();
        }
    }
}

/// The status bar's view of a client status, with the counts read fresh from the replica.
fn to_ipc(s: &background::SyncStatus, r: &Replica) -> Camel<background::SyncStatus> {
    let mut s = s.clone();
    s.waiting = r.waiting().unwrap_or(s.waiting);
    s.refused = r.refused().map(|v| v.len() as i64).unwrap_or(s.refused);
    Camel(s)
}

/// The current status, whether or not a session runs.
pub fn current_status(state: &AppState) -> Camel<background::SyncStatus> {
    let handle_status = lock(&state.session).as_ref().map(|s| s.handle.status());
    let r = state.replica();
    match handle_status {
        Some(s) => to_ipc(&s, &r),
        None => {
            let server = r.meta(meta::SERVER).ok().flatten();
            let signed_in = server.is_some();
            let mut s = background::SyncStatus {
                signed_in,
                server: server.clone(),
                ..background::SyncStatus::default()
            };
            if let Some(server) = &server {
                let (last_success, _) = r.sync_history(server).unwrap_or((None, None));
                s.last_success = last_success;
                // Signed in on this replica, but no token to sync with (no keyring entry and
                // no DAFTAR_TOKEN): the user has to sign in again.
                s.last_error = Some("Sign in again to send your changes to the server.".into());
                s.last_error_kind = Some(daftar_client::ErrorKind::NoToken);
            }
            to_ipc(&s, &r)
        }
    }
}

pub fn emit_status(app: &AppHandle, state: &AppState) {
    let status = current_status(state);
    if let Err(e) = app.emit(SYNC_STATUS_EVENT, status) {
        tracing::warn!(error = %e, "cannot emit the sync status");
    }
}

/// After a local edit: tell the loop (it syncs after a short debounce) and show the new
/// waiting count at once.
pub fn after_edit(app: &AppHandle, state: &AppState) {
    if let Some(s) = lock(&state.session).as_ref() {
        s.handle.nudge();
    }
    emit_status(app, state);
}

/// Starts syncing with `server` using `token`, replacing any running session. Must run inside
/// the async runtime (commands and `async_runtime::spawn` do).
pub fn start(app: &AppHandle, state: &AppState, server: &str, token: String) -> IpcResult<()> {
    stop(state);
    let device = state.replica().device_hex();
    let transport = Transport::new(server, &device, Some(token))?;
    let handle = background::spawn(
        state.replica.clone(),
        transport.clone(),
        LoopConfig::default(),
    );

    let forward = {
        let app = app.clone();
        let mut rx = handle.subscribe();
        let replica = state.replica.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                let status = rx.borrow_and_update().clone();
                let payload = {
                    let mut r = lock(&replica);
                    if !status.running && status.last_error.is_none() {
                        adopt_university(&mut r);
                    }
                    to_ipc(&status, &r)
                };
                if let Err(e) = app.emit(SYNC_STATUS_EVENT, payload) {
                    tracing::warn!(error = %e, "cannot emit the sync status");
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
    };
    tracing::info!(server, "sync session started");
    *lock(&state.session) = Some(Session {
        handle,
        transport,
        tasks: vec![forward],
    });
    Ok(())
}

pub fn stop(state: &AppState) {
    if let Some(s) = lock(&state.session).take() {
        s.stop();
        tracing::info!("sync session stopped");
    }
}

/// A replica filled from a server learns its university from the catalog, so the `daftar` CLI
/// (which requires one) can open the same folder.
fn adopt_university(r: &mut Replica) {
    if !matches!(r.university(), Ok(None)) {
        return;
    }
    let catalog: Option<String> = r.catalog_doc().ok().flatten();
    if let Some(id) = catalog.as_deref().and_then(|c| c.strip_prefix("catalog/")) {
        let _ = r.set_university(id);
    }
}

/// At start: if this replica is signed in, find its token (`DAFTAR_TOKEN`, else the keyring)
/// and start syncing. Keyring calls go over D-Bus, so this runs off the main thread.
pub fn resume(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let key = {
            let r = state.replica();
            match (r.meta(meta::SERVER), r.meta(meta::SERVER_USER)) {
                (Ok(Some(server)), Ok(Some(user))) => Some(TokenKey {
                    server,
                    user,
                    replica: r.device_hex(),
                }),
                _ => None,
            }
        };
        let Some(key) = key else {
            emit_status(&app, &state);
            return;
        };
        let lookup_key = key.clone();
        let token = tauri::async_runtime::spawn_blocking(move || find_token(&lookup_key)).await;
        match token {
            Ok(Ok(Some(token))) => {
                if let Err(e) = start(&app, &state, &key.server, token) {
                    tracing::warn!(error = %e, "cannot start syncing");
                }
            }
            Ok(Ok(None)) => tracing::info!("signed in, but no token is stored; sign in again"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the sign-in token"),
            Err(e) => tracing::warn!(error = %e, "token lookup failed"),
        }
        emit_status(&app, &state);
    });
}

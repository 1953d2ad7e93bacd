//! App-level commands: who and where we are, demo data, language, sign-in and sync.

use daftar_client::signin::SignIn;
use daftar_client::transport::normalize_server;
use daftar_core::demo::{self, DemoSpec, Tier};
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    AppInfo, GetAppInfoRequest, GetSyncStatusRequest, LoadDemoRequest, SetLanguageRequest,
    SignInRequest, SignInResponse, SignOutRequest, SyncNowRequest, SyncStatus,
};
use crate::session;
use crate::state::{AppState, meta};

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_app_info(
    state: State<'_, AppState>,
    req: GetAppInfoRequest,
) -> IpcResult<AppInfo> {
    let GetAppInfoRequest {} = req;
    state.info()
}

/// Fills an empty replica with a small demo university (2 groups, 14 journals) so the app can
/// be tried without a server. Refused when the replica already holds data.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn load_demo(
    app: AppHandle,
    state: State<'_, AppState>,
    req: LoadDemoRequest,
) -> IpcResult<AppInfo> {
    let LoadDemoRequest {} = req;
    let replica = state.replica.clone();
    let started = std::time::Instant::now();
    tauri::async_runtime::spawn_blocking(move || -> IpcResult<()> {
        let mut r = crate::state::lock(&replica);
        // Counted whoever may see them: journals kept here for users now signed out count.
        let documents = r.stored_document_count()?;
        if documents > 0 {
            return Err(IpcError::Conflict {
                message:
                    "this data folder already holds journals; demo data goes only into an empty one"
                        .into(),
            });
        }
        if r.meta(meta::SERVER)?.is_some() {
            return Err(IpcError::Conflict {
                message: "this data folder is signed in to a server; demo data must never reach it"
                    .into(),
            });
        }
        demo::generate(&mut r, &DemoSpec::new(Tier::Xs, 7), |_, _| {})?;
        r.set_meta(meta::DEMO, "1")?;
        Ok(())
    })
    .await
    .map_err(|e| IpcError::internal(format!("demo generation stopped: {e}")))??;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "demo data loaded"
    );
    session::emit_status(&app, &state);
    state.info()
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn set_language(
    state: State<'_, AppState>,
    req: SetLanguageRequest,
) -> IpcResult<AppInfo> {
    state
        .replica()
        .set_meta(meta::LANGUAGE, req.language.code())?;
    state.info()
}

/// Signs in: password → token from the server, token into the OS keyring (or kept in memory
/// for this session when there is none), identity into the replica meta like `daftar login`,
/// then the background sync starts.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    req: SignInRequest,
) -> IpcResult<SignInResponse> {
    let server_input = req.server.trim();
    let user = req.user.trim().to_string();
    if server_input.is_empty() {
        return Err(IpcError::invalid(
            "server",
            "enter the sync server address, e.g. https://daftar.university.uz",
        ));
    }
    if user.is_empty() {
        return Err(IpcError::invalid("user", "enter your user name"));
    }
    if req.password.is_empty() {
        return Err(IpcError::invalid("password", "enter your password"));
    }
    let server = normalize_server(server_input);
    let is_demo = state.replica().meta(meta::DEMO)?.is_some();
    if is_demo {
        if !req.discard_demo {
            return Err(IpcError::Conflict {
                message: "this data folder holds demo data, which must never reach a server; remove it to sign in".into(),
            });
        }
        session::stop(&state);
        state.reset_replica()?;
    }
    // The same steps as `daftar login` (`daftar_client::signin`): the replica changes only
    // after the server said yes; another user signing in here writes as a new device, and
    // changes made before keep their device and owner.
    let attempt = SignIn::new(&state.replica(), &server, &user);
    let resp = attempt.transport()?.login(&user, &req.password).await?;
    let replica = state.replica.clone();
    let finishing = attempt.clone();
    let answer = resp.clone();
    // The keyring may talk to D-Bus: off the async runtime.
    let done = tauri::async_runtime::spawn_blocking(move || {
        finishing.finish(&mut crate::state::lock(&replica), &answer)
    })
    .await
    .map_err(|e| IpcError::internal(format!("keyring call stopped: {e}")))??;
    let keyring = match done.keyring {
        Ok(name) => Some(name.to_string()),
        Err(e) => {
            // No keyring: nothing secret is written in clear; the token lives in memory until
            // the app closes (or comes from DAFTAR_TOKEN next time).
            tracing::warn!(error = %e, "no keyring; the token is kept in memory only");
            None
        }
    };
    session::start(&app, &state, &server, resp.token)?;
    tracing::info!(role = resp.user.role.as_str(), "signed in");
    Ok(SignInResponse {
        info: state.info()?,
        keyring,
    })
}

/// Refuses to sign out while changes wait to be sent, unless the user saw the warning: the
/// changes stay in the replica either way, but only a sign-in sends them.
pub fn check_unsent(state: &AppState, keep_unsent: bool) -> IpcResult<()> {
    let waiting = state.replica().waiting()?;
    if waiting > 0 && !keep_unsent {
        return Err(IpcError::Conflict {
            message: format!(
                "{waiting} changes are not on the server yet; sync first, or sign out and keep them on this computer until the next sign-in"
            ),
        });
    }
    Ok(())
}

/// Signs out: stops syncing, ends the session on the server when it answers, forgets the
/// token. Local data stays (unsent changes go up after the next sign-in).
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn sign_out(
    app: AppHandle,
    state: State<'_, AppState>,
    req: SignOutRequest,
) -> IpcResult<AppInfo> {
    check_unsent(&state, req.keep_unsent)?;
    let transport = crate::state::lock(&state.session)
        .as_ref()
        .map(|s| s.transport.clone());
    session::stop(&state);
    if let Some(t) = transport {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), t.logout()).await;
    }
    // The same steps as `daftar logout`; the keyring may talk to D-Bus: off the runtime.
    let replica = state.replica.clone();
    tauri::async_runtime::spawn_blocking(move || {
        daftar_client::signin::forget(&crate::state::lock(&replica))
    })
    .await
    .map_err(|e| IpcError::internal(format!("keyring call stopped: {e}")))??;
    session::emit_status(&app, &state);
    state.info()
}

#[tauri::command]
pub async fn get_sync_status(
    state: State<'_, AppState>,
    req: GetSyncStatusRequest,
) -> IpcResult<Camel<SyncStatus>> {
    let GetSyncStatusRequest {} = req;
    Ok(session::current_status(&state))
}

/// The "Sync now" button: wakes the loop; the result arrives as a status event.
#[tauri::command]
pub async fn sync_now(
    state: State<'_, AppState>,
    req: SyncNowRequest,
) -> IpcResult<Camel<SyncStatus>> {
    let SyncNowRequest {} = req;
    match crate::state::lock(&state.session).as_ref() {
        Some(s) => s.handle.sync_now(),
        None => {
            return Err(IpcError::Unauthorized {
                message: "sign in to a sync server to send your changes".into(),
            });
        }
    }
    Ok(session::current_status(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_out_with_unsent_changes_needs_a_yes_and_keeps_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = AppState::open(dir.path()).expect("open");
        check_unsent(&state, false).expect("nothing waits on an empty replica");
        demo::generate(&mut state.replica(), &DemoSpec::new(Tier::Xs, 7), |_, _| {}).expect("demo");
        let waiting = state.replica().waiting().expect("waiting");
        assert!(waiting > 0);
        match check_unsent(&state, false) {
            Err(IpcError::Conflict { message }) => {
                assert!(message.starts_with(&waiting.to_string()), "{message}")
            }
            other => panic!("expected a conflict naming the count, got {other:?}"),
        }
        check_unsent(&state, true).expect("the user saw the warning");
        assert_eq!(state.replica().waiting().expect("waiting"), waiting);
    }
}

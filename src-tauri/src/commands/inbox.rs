//! The conflict inbox (dean's office and administrators) and the resolutions teachers see in
//! their journals ("your mark was replaced by the dean's office, because…").

use daftar_core::Replica;
use daftar_core::conflicts::Choice;
use daftar_core::journal::short_id;
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    Conflict, ListConflictsRequest, ListOverruledRequest, ListResolutionsRequest, Overruled,
    Resolution, ResolveConflictRequest,
};
use crate::session;
use crate::state::AppState;

/// The inbox (or one journal's part of it), each entry naming its journal by the short id the
/// app navigates with.
fn conflicts_of(r: &Replica, journal: Option<&str>) -> IpcResult<Camel<Vec<Conflict>>> {
    let journal = match journal {
        Some(j) => Some(r.resolve_journal(j)?),
        None => None,
    };
    let mut list = r.conflicts(journal.as_deref())?;
    for c in &mut list {
        c.journal = short_id(&c.journal).to_string();
    }
    Ok(Camel(list))
}

/// Resolutions recorded in journals (newest first); `journal` is a document id or None for all.
pub fn resolutions_of(r: &Replica, journal: Option<&str>) -> IpcResult<Vec<Resolution>> {
    Ok(r.resolutions(journal)?)
}

/// Values the signed-in user (or this device) wrote that a decision replaced with another one,
/// newest decision first; `journal` is a document id or None for all. Derived by the core from
/// the journal documents, so it is the same on every replica that holds the decision.
pub fn overruled_of(r: &mut Replica, journal: Option<&str>) -> IpcResult<Vec<Overruled>> {
    let user = r.user().to_string();
    Ok(r.overruled(journal, &user)?)
}

/// "Changes to your marks": what the dean's office decided against values you wrote.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_overruled(
    state: State<'_, AppState>,
    req: ListOverruledRequest,
) -> IpcResult<Camel<Vec<Overruled>>> {
    let mut r = state.replica();
    let journal = match req.journal.as_deref() {
        Some(j) => Some(r.resolve_journal(j)?),
        None => None,
    };
    Ok(Camel(overruled_of(&mut r, journal.as_deref())?))
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_conflicts(
    state: State<'_, AppState>,
    req: ListConflictsRequest,
) -> IpcResult<Camel<Vec<Conflict>>> {
    let r = state.replica();
    conflicts_of(&r, req.journal.as_deref())
}

/// Writes the chosen value (superseding every concurrent one) and who resolved it and why, as
/// one change that syncs like any edit. Answers with the inbox that remains.
#[tauri::command]
#[tracing::instrument(skip_all, fields(conflict = %req.id), err(level = "warn"))]
pub async fn resolve_conflict(
    app: AppHandle,
    state: State<'_, AppState>,
    req: ResolveConflictRequest,
) -> IpcResult<Camel<Vec<Conflict>>> {
    if !crate::state::capabilities_of(&state.replica())?.resolve {
        return Err(IpcError::forbidden(
            "only the dean's office or an administrator resolves conflicts",
        ));
    }
    let choice = match (
        req.pick,
        req.value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty()),
    ) {
        (Some(n), None) => Choice::Pick(n as usize),
        (None, Some(v)) => Choice::Value(v.to_string()),
        (Some(_), Some(_)) => {
            return Err(IpcError::invalid(
                "value",
                "pick one of the values or enter a new one, not both",
            ));
        }
        (None, None) => {
            return Err(IpcError::invalid(
                "value",
                "pick one of the values or enter a new one",
            ));
        }
    };
    let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let remaining = {
        let mut r = state.replica();
        r.resolve(&req.id, choice, note)?;
        conflicts_of(&r, None)?
    };
    session::after_edit(&app, &state);
    Ok(remaining)
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_resolutions(
    state: State<'_, AppState>,
    req: ListResolutionsRequest,
) -> IpcResult<Camel<Vec<Resolution>>> {
    let r = state.replica();
    let journal = match req.journal.as_deref() {
        Some(j) => Some(r.resolve_journal(j)?),
        None => None,
    };
    resolutions_of(&r, journal.as_deref()).map(Camel)
}

//! The conflict inbox (dean's office and administrators) and the resolutions teachers see in
//! their journals ("your mark was replaced by the dean's office, because…").

use daftar_core::Replica;
use daftar_core::conflicts::Choice;
use daftar_core::journal::short_id;
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    ConflictEntry, ConflictValue, ListConflictsRequest, ListOverruledRequest,
    ListResolutionsRequest, OverruledEntry, Resolution, ResolveConflictRequest,
};
use crate::session;
use crate::state::AppState;

fn entry_of(c: daftar_core::conflicts::Conflict) -> ConflictEntry {
    ConflictEntry {
        id: c.id,
        journal: short_id(&c.journal).to_string(),
        subject: c.subject,
        group: c.group,
        field: c.field,
        key: c.key,
        kind: c.kind,
        lesson: c.lesson,
        student: c.student,
        student_name: c.student_name,
        lesson_date: c.lesson_date,
        values: c
            .values
            .into_iter()
            .map(|v| ConflictValue {
                value: v.value,
                display: v.display,
                user: v.user,
                verified: v.verified,
                device: v.device,
                edited_at: v.edited_at,
                received_at: v.received_at,
                locked: v.locked,
            })
            .collect(),
    }
}

fn conflicts_of(r: &Replica, journal: Option<&str>) -> IpcResult<Vec<ConflictEntry>> {
    let journal = match journal {
        Some(j) => Some(r.resolve_journal(j)?),
        None => None,
    };
    Ok(r.conflicts(journal.as_deref())?
        .into_iter()
        .map(entry_of)
        .collect())
}

/// Resolutions recorded in journals (newest first); `journal` is a document id or None for all.
pub fn resolutions_of(r: &Replica, journal: Option<&str>) -> IpcResult<Vec<Resolution>> {
    Ok(r.resolutions(journal)?)
}

/// Values the signed-in user (or this device) wrote that a decision replaced with another one,
/// newest decision first; `journal` is a document id or None for all. Derived by the core from
/// the journal documents, so it is the same on every replica that holds the decision.
pub fn overruled_of(r: &mut Replica, journal: Option<&str>) -> IpcResult<Vec<OverruledEntry>> {
    let user = r.user().to_string();
    let found = r.overruled(journal, &user)?;
    let mut out = Vec::with_capacity(found.len());
    for o in found {
        let context = r.cell_context(&o.journal, o.lesson.as_deref(), o.student.as_deref())?;
        let (subject, group, student_name, lesson_date) = (
            context.subject,
            context.group,
            context.student_name,
            context.lesson_date,
        );
        out.push(OverruledEntry {
            journal: short_id(&o.journal).to_string(),
            subject,
            group,
            field: o.field,
            lesson: o.lesson,
            student: o.student,
            student_name,
            lesson_date,
            mine: o.mine,
            mine_display: o.mine_display,
            written_at: o.written_at,
            decided: o.decided,
            decided_display: o.decided_display,
            by_user: o.by,
            resolved_at: o.resolved_at,
            note: o.note,
        });
    }
    Ok(out)
}

/// "Changes to your marks": what the dean's office decided against values you wrote.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_overruled(
    state: State<'_, AppState>,
    req: ListOverruledRequest,
) -> IpcResult<Vec<OverruledEntry>> {
    let mut r = state.replica();
    let journal = match req.journal.as_deref() {
        Some(j) => Some(r.resolve_journal(j)?),
        None => None,
    };
    overruled_of(&mut r, journal.as_deref())
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_conflicts(
    state: State<'_, AppState>,
    req: ListConflictsRequest,
) -> IpcResult<Vec<ConflictEntry>> {
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
) -> IpcResult<Vec<ConflictEntry>> {
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

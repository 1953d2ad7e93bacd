//! Course modules (topics, hours per lesson type, control plan) and groups (rosters), read from
//! the projection. Department heads (and administrators) add and rename a module's topics; each
//! edit is one change to the module document, re-projected by the core.

use daftar_core::Replica;
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    AddTopicRequest, AttachMaterialRequest, ChooseMaterialFileRequest, ChosenPath, GetGroupRequest,
    GetModuleRequest, GroupDetail, GroupSummary, ListGroupsRequest, ListModulesRequest,
    ModuleDetail, ModuleHours, ModuleSummary, OpenMaterialRequest, OpenedMaterial,
    RemoveMaterialRequest, RenameTopicRequest,
};
use crate::session;
use crate::state::AppState;

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_modules(
    state: State<'_, AppState>,
    req: ListModulesRequest,
) -> IpcResult<Camel<Vec<ModuleSummary>>> {
    let ListModulesRequest {} = req;
    Ok(Camel(state.replica().modules()?))
}

fn module_detail(r: &mut Replica, module: &str, editable: bool) -> IpcResult<Camel<ModuleDetail>> {
    let m = r.module(module)?;
    let materials = r.materials(Some(module))?;
    Ok(Camel(ModuleDetail {
        id: m.id,
        subject: m.subject,
        semester: m.semester,
        department: m.department,
        marking_system: m.marking_system,
        hours: m
            .hours
            .into_iter()
            .map(|(lesson_type, hours)| ModuleHours { lesson_type, hours })
            .collect(),
        controls: m.controls,
        topics: m.topics,
        materials,
        editable,
        local_types: r.training_types()?,
    }))
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_module(
    state: State<'_, AppState>,
    req: GetModuleRequest,
) -> IpcResult<Camel<ModuleDetail>> {
    let editable = crate::state::capabilities_of(&state.replica())?.edit_modules;
    let mut r = state.replica();
    module_detail(&mut r, &req.module, editable)
}

fn require_module_editor(state: &AppState) -> IpcResult<()> {
    if crate::state::capabilities_of(&state.replica())?.edit_modules {
        Ok(())
    } else {
        Err(IpcError::forbidden(
            "only the department head or an administrator edits course modules",
        ))
    }
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn add_topic(
    app: AppHandle,
    state: State<'_, AppState>,
    req: AddTopicRequest,
) -> IpcResult<Camel<ModuleDetail>> {
    require_module_editor(&state)?;
    let detail = {
        let mut r = state.replica();
        r.add_topic(&req.module, &req.name, req.lesson_type.as_deref())?;
        module_detail(&mut r, &req.module, true)?
    };
    session::after_edit(&app, &state);
    Ok(detail)
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn rename_topic(
    app: AppHandle,
    state: State<'_, AppState>,
    req: RenameTopicRequest,
) -> IpcResult<Camel<ModuleDetail>> {
    require_module_editor(&state)?;
    let detail = {
        let mut r = state.replica();
        r.rename_topic(&req.module, &req.topic, &req.name)?;
        module_detail(&mut r, &req.module, true)?
    };
    session::after_edit(&app, &state);
    Ok(detail)
}

/// The system's open dialog for a file to attach to a module; answers the chosen path, or null.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn choose_material_file(
    app: AppHandle,
    state: State<'_, AppState>,
    req: ChooseMaterialFileRequest,
) -> IpcResult<ChosenPath> {
    use tauri_plugin_dialog::DialogExt;
    require_module_editor(&state)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_title(req.title.trim()).add_filter(
        "PDF, slides, documents",
        &[
            "pdf", "ppt", "pptx", "doc", "docx", "xls", "xlsx", "odt", "odp", "ods", "rtf", "txt",
            "djvu", "jpg", "jpeg", "png", "mp4", "mp3", "zip",
        ],
    );
    if let Some(window) = tauri::Manager::get_webview_window(&app, "main") {
        dialog = dialog.set_parent(&window);
    }
    dialog.pick_file(move |chosen| {
        let _ = tx.send(chosen);
    });
    let chosen = rx
        .await
        .map_err(|_| IpcError::internal("the open dialog closed without an answer"))?;
    let path = match chosen {
        None => None,
        Some(p) => Some(
            p.into_path()
                .map_err(|e| IpcError::invalid("path", format!("cannot read that file: {e}")))?
                .display()
                .to_string(),
        ),
    };
    Ok(ChosenPath { path })
}

/// Department head: attach a file to a module (saved here at once with its description; the
/// bytes go to the server after the next sync's marks).
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn attach_material(
    app: AppHandle,
    state: State<'_, AppState>,
    req: AttachMaterialRequest,
) -> IpcResult<Camel<ModuleDetail>> {
    require_module_editor(&state)?;
    let detail = {
        let mut r = state.replica();
        r.attach_material(
            &req.module,
            std::path::Path::new(req.path.trim()),
            req.topic.as_deref(),
        )?;
        module_detail(&mut r, &req.module, true)?
    };
    session::after_edit(&app, &state);
    Ok(detail)
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn remove_material(
    app: AppHandle,
    state: State<'_, AppState>,
    req: RemoveMaterialRequest,
) -> IpcResult<Camel<ModuleDetail>> {
    require_module_editor(&state)?;
    let detail = {
        let mut r = state.replica();
        r.remove_material(&req.module, &req.hash)?;
        module_detail(&mut r, &req.module, true)?
    };
    session::after_edit(&app, &state);
    Ok(detail)
}

/// Writes a material's file into the data folder's `materials` and opens it with the system's
/// viewer (`DAFTAR_OPENER` names another program, for tests).
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn open_material(
    state: State<'_, AppState>,
    req: OpenMaterialRequest,
) -> IpcResult<OpenedMaterial> {
    let folder = state.data_dir.join("materials");
    let path = state.replica().save_material(&req.hash, &folder)?;
    crate::paths::open_with_system_viewer(&path)
        .map_err(|e| IpcError::internal(format!("cannot open {}: {e}", path.display())))?;
    Ok(OpenedMaterial {
        path: path.display().to_string(),
    })
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_groups(
    state: State<'_, AppState>,
    req: ListGroupsRequest,
) -> IpcResult<Camel<Vec<GroupSummary>>> {
    let ListGroupsRequest {} = req;
    Ok(Camel(state.replica().groups()?))
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_group(
    state: State<'_, AppState>,
    req: GetGroupRequest,
) -> IpcResult<Camel<GroupDetail>> {
    let r = state.replica();
    let g = r.group(&req.group)?;
    let journals = r
        .journals()?
        .into_iter()
        .filter(|j| g.journals.contains(&j.id))
        .collect();
    Ok(Camel(GroupDetail {
        id: g.id,
        name: g.name,
        faculty: g.faculty,
        year: g.year,
        language: g.language,
        students: g.students,
        journals,
    }))
}

/// Imports from HEMIS (administrators): a folder of pages, or the university's API with a
/// token, pages fetched into a folder first (`daftar_client::hemis`), personal data stripped,
/// each page reported as a `hemis:progress` event; then the same all-or-nothing import as the
/// CLI's.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn import_hemis(
    app: AppHandle,
    state: State<'_, AppState>,
    req: crate::ipc::ImportHemisRequest,
) -> IpcResult<Camel<crate::ipc::HemisImportResult>> {
    use tauri::Emitter;
    if !crate::state::capabilities_of(&state.replica())?.import {
        return Err(IpcError::forbidden(
            "only an administrator imports from HEMIS",
        ));
    }
    let mut pages = 0u32;
    let scratch;
    let folder = match (
        req.path.as_deref().map(str::trim).filter(|p| !p.is_empty()),
        req.url.as_deref().map(str::trim).filter(|u| !u.is_empty()),
    ) {
        (Some(path), _) => std::path::PathBuf::from(path),
        (None, Some(url)) => {
            let token = req
                .token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| IpcError::invalid("token", "paste the HEMIS API token"))?;
            let target = match req
                .save_to
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                Some(dir) => std::path::PathBuf::from(dir),
                None => {
                    scratch = tempfile::tempdir()
                        .map_err(|e| IpcError::internal(format!("no temporary folder: {e}")))?;
                    scratch.path().to_path_buf()
                }
            };
            let report = daftar_client::hemis::fetch(
                url,
                token,
                &daftar_client::hemis::Filters::default(),
                200,
                &target,
                |endpoint, page, of| {
                    pages += 1;
                    let _ = app.emit(
                        "hemis:progress",
                        crate::ipc::HemisProgress {
                            endpoint: endpoint.to_string(),
                            page,
                            pages: of,
                        },
                    );
                },
            )
            .await
            .map_err(|e| match e {
                // HEMIS's own token, not the Daftar sign-in: a field to fix.
                daftar_client::hemis::FetchError::Unauthorized { .. } => {
                    IpcError::invalid("token", e.to_string())
                }
                daftar_client::hemis::FetchError::Unreachable { .. } => IpcError::Offline {
                    message: e.to_string(),
                },
                other => IpcError::invalid("url", other.to_string()),
            })?;
            tracing::info!(retries = report.retries, missing = ?report.missing, "HEMIS pages fetched");
            target
        }
        (None, None) => {
            return Err(IpcError::invalid(
                "url",
                "give the HEMIS API address (https://HOST/rest/v1) or a folder of HEMIS pages",
            ));
        }
    };
    let summary = {
        let mut r = state.replica();
        if r.university()?.is_none() {
            r.set_university("uni")?;
        }
        r.import_hemis(&folder)?
    };
    session::after_edit(&app, &state);
    Ok(Camel(crate::ipc::HemisImportResult { summary, pages }))
}

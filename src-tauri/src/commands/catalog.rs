//! Course modules (topics, hours per lesson type, control plan) and groups (rosters), read from
//! the projection. Department heads (and administrators) add and rename a module's topics; each
//! edit is one change to the module document, re-projected by the core.

use daftar_core::Replica;
use daftar_core::projection::{Refresh, TopicValue};
use rusqlite::OptionalExtension;
use tauri::{AppHandle, State};

use crate::commands::journal::summary_of;
use crate::error::{IpcError, IpcResult};
use crate::ipc::{
    AddTopicRequest, GetGroupRequest, GetModuleRequest, GroupDetail, GroupSummary,
    ListGroupsRequest, ListModulesRequest, ModuleControl, ModuleDetail, ModuleHours, ModuleSummary,
    ModuleTopic, RenameTopicRequest, RosterStudent,
};
use crate::session;
use crate::state::AppState;

fn doc_id(kind: &str, id: &str) -> String {
    let prefix = format!("{kind}/");
    if id.starts_with(&prefix) {
        id.to_string()
    } else {
        format!("{prefix}{id}")
    }
}

fn short(id: &str) -> String {
    daftar_core::journal::short_id(id).to_string()
}

fn count(v: i64) -> u32 {
    v.max(0) as u32
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_modules(
    state: State<'_, AppState>,
    req: ListModulesRequest,
) -> IpcResult<Vec<ModuleSummary>> {
    let ListModulesRequest {} = req;
    let r = state.replica();
    let mut stmt = r.conn().prepare(
        "SELECT m.id, m.subject, m.semester, coalesce(d.name, m.department_id), m.marking_system,
                (SELECT count(*) FROM module_topics t WHERE t.module_id = m.id),
                (SELECT count(*) FROM journals j WHERE j.module_id = m.id)
         FROM modules m LEFT JOIN departments d ON d.id = m.department_id
         ORDER BY m.subject, m.id",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok(ModuleSummary {
                id: short(&row.get::<_, String>(0)?),
                subject: row.get(1)?,
                semester: row.get(2)?,
                department: row.get(3)?,
                marking_system: row.get(4)?,
                topics: count(row.get(5)?),
                journals: count(row.get(6)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn module_detail(r: &Replica, module: &str, editable: bool) -> IpcResult<ModuleDetail> {
    let row: Option<(String, String, Option<String>, String, String)> = r
        .conn()
        .query_row(
            "SELECT m.subject, m.semester, coalesce(d.name, m.department_id), m.marking_system, m.hours
             FROM modules m LEFT JOIN departments d ON d.id = m.department_id WHERE m.id = ?1",
            [module],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
        )
        .optional()?;
    let Some((subject, semester, department, marking_system, hours_json)) = row else {
        return Err(IpcError::NotFound {
            message: format!("course module {} was not found", short(module)),
        });
    };
    let hours_map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&hours_json).unwrap_or_default();
    let mut hours: Vec<ModuleHours> = hours_map
        .into_iter()
        .map(|(lesson_type, h)| ModuleHours {
            lesson_type,
            hours: h.as_u64().unwrap_or(0) as u32,
        })
        .collect();
    hours.sort_by(|a, b| a.lesson_type.cmp(&b.lesson_type));
    let controls = {
        let mut stmt = r.conn().prepare(
            "SELECT code, kind, max, sittings FROM module_controls WHERE module_id = ?1 ORDER BY kind, code",
        )?;
        stmt.query_map([module], |row| {
            Ok(ModuleControl {
                code: row.get(0)?,
                kind: row.get(1)?,
                max: row.get(2)?,
                sittings: count(row.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let topics = {
        let mut stmt = r.conn().prepare(
            "SELECT id, name, lesson_type, position FROM module_topics WHERE module_id = ?1 ORDER BY position, id",
        )?;
        stmt.query_map([module], |row| {
            Ok(ModuleTopic {
                id: row.get(0)?,
                name: row.get(1)?,
                lesson_type: row.get(2)?,
                position: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(ModuleDetail {
        id: short(module),
        subject,
        semester,
        department,
        marking_system,
        hours,
        controls,
        topics,
        editable,
        local_types: r.training_types()?,
    })
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_module(
    state: State<'_, AppState>,
    req: GetModuleRequest,
) -> IpcResult<ModuleDetail> {
    let editable = state.info()?.can_edit_modules;
    let r = state.replica();
    module_detail(&r, &doc_id("module", &req.module), editable)
}

fn require_module_editor(state: &AppState) -> IpcResult<()> {
    if state.info()?.can_edit_modules {
        Ok(())
    } else {
        Err(IpcError::forbidden(
            "only the department head or an administrator edits course modules",
        ))
    }
}

fn check_topic_name(name: &str) -> IpcResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IpcError::invalid("name", "write the topic's name"));
    }
    if name.chars().count() > 300 {
        return Err(IpcError::invalid(
            "name",
            "a topic name is at most 300 characters",
        ));
    }
    Ok(name.to_string())
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn add_topic(
    app: AppHandle,
    state: State<'_, AppState>,
    req: AddTopicRequest,
) -> IpcResult<ModuleDetail> {
    require_module_editor(&state)?;
    let name = check_topic_name(&req.name)?;
    let lesson_type = match req.lesson_type.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(daftar_core::model::LessonType::parse(t)?.code().to_string()),
        None => None,
    };
    let detail = {
        let mut r = state.replica();
        let module = doc_id("module", &req.module);
        let last: Option<f64> = r.conn().query_row(
            "SELECT max(position) FROM module_topics WHERE module_id = ?1",
            [&module],
            |row| row.get(0),
        )?;
        if !r.has_doc(&module)? {
            return Err(IpcError::NotFound {
                message: format!("course module {} was not found", req.module),
            });
        }
        let id = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[..16]);
        let value = TopicValue {
            name,
            lesson_type,
            pos: last.map_or(0.0, |p| p + 1.0),
        };
        let raw = serde_json::to_string(&value).map_err(|e| IpcError::internal(e.to_string()))?;
        r.edit(&module, "add topic", move |doc| {
            doc.put("topics", &id, &raw)?;
            Ok(Refresh::Whole)
        })?;
        module_detail(&r, &module, true)?
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
) -> IpcResult<ModuleDetail> {
    require_module_editor(&state)?;
    let name = check_topic_name(&req.name)?;
    let detail = {
        let mut r = state.replica();
        let module = doc_id("module", &req.module);
        let current: Option<(Option<String>, f64)> = r
            .conn()
            .query_row(
                "SELECT lesson_type, position FROM module_topics WHERE module_id = ?1 AND id = ?2",
                [&module, &req.topic],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((lesson_type, pos)) = current else {
            return Err(IpcError::NotFound {
                message: format!("topic {} is not in this module", req.topic),
            });
        };
        let raw = serde_json::to_string(&TopicValue {
            name,
            lesson_type,
            pos,
        })
        .map_err(|e| IpcError::internal(e.to_string()))?;
        let topic = req.topic.clone();
        r.edit(&module, "rename topic", move |doc| {
            doc.put("topics", &topic, &raw)?;
            Ok(Refresh::Whole)
        })?;
        module_detail(&r, &module, true)?
    };
    session::after_edit(&app, &state);
    Ok(detail)
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_groups(
    state: State<'_, AppState>,
    req: ListGroupsRequest,
) -> IpcResult<Vec<GroupSummary>> {
    let ListGroupsRequest {} = req;
    let r = state.replica();
    let mut stmt = r.conn().prepare(
        "SELECT g.id, g.name, coalesce(f.name, g.faculty_id), g.year, g.language,
                (SELECT count(*) FROM students s WHERE s.group_id = g.id),
                (SELECT count(*) FROM students s WHERE s.group_id = g.id AND s.status = 'active'),
                (SELECT count(*) FROM journals j WHERE j.group_id = g.id)
         FROM groups g LEFT JOIN faculties f ON f.id = g.faculty_id
         ORDER BY g.name, g.id",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok(GroupSummary {
                id: short(&row.get::<_, String>(0)?),
                name: row.get(1)?,
                faculty: row.get(2)?,
                year: row.get(3)?,
                language: row.get(4)?,
                students: count(row.get(5)?),
                active: count(row.get(6)?),
                journals: count(row.get(7)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_group(state: State<'_, AppState>, req: GetGroupRequest) -> IpcResult<GroupDetail> {
    let r = state.replica();
    let group = doc_id("group", &req.group);
    /// Name, faculty, year, language.
    type GroupRow = (String, Option<String>, Option<String>, Option<String>);
    let row: Option<GroupRow> = r
        .conn()
        .query_row(
            "SELECT g.name, coalesce(f.name, g.faculty_id), g.year, g.language
             FROM groups g LEFT JOIN faculties f ON f.id = g.faculty_id WHERE g.id = ?1",
            [&group],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let Some((name, faculty, year, language)) = row else {
        return Err(IpcError::NotFound {
            message: format!("group {} was not found", req.group),
        });
    };
    let students = {
        let mut stmt = r.conn().prepare(
            "SELECT id, number, name, status, subgroup FROM students WHERE group_id = ?1 ORDER BY name, id",
        )?;
        stmt.query_map([&group], |row| {
            Ok(RosterStudent {
                id: row.get(0)?,
                number: row.get(1)?,
                name: row.get(2)?,
                status: row.get(3)?,
                subgroup: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let ids: Vec<String> = {
        let mut stmt = r
            .conn()
            .prepare("SELECT id FROM journals WHERE group_id = ?1")?;
        stmt.query_map([&group], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let journals = r
        .journals()?
        .into_iter()
        .filter(|j| ids.iter().any(|id| short(id) == j.id))
        .map(summary_of)
        .collect();
    Ok(GroupDetail {
        id: short(&group),
        name,
        faculty,
        year,
        language,
        students,
        journals,
    })
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
) -> IpcResult<crate::ipc::HemisImportResult> {
    use tauri::Emitter;
    if !crate::state::info_of(&state.replica(), &state.data_dir)?.can_import {
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
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(crate::ipc::HemisImportResult {
        groups: n(summary.groups),
        students: n(summary.students),
        teachers: n(summary.teachers),
        modules: n(summary.modules),
        journals: n(summary.journals),
        lessons: n(summary.lessons),
        absences: n(summary.absences),
        scores: n(summary.scores),
        changes_written: n(summary.changes_written),
        changes: summary.changes,
        notes: summary.notes,
        pages,
    })
}

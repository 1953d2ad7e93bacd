//! Reports (attendance, hours against the 12/36/74 thresholds, averages, at-risk students) and
//! exports to XLSX/CSV, both computed by the core from the projection.

use std::path::PathBuf;

use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    ChooseExportPathRequest, ChosenPath, DebtorEntry, ExportFormat, ExportJournalRequest,
    ExportResult, ExportStatementRequest, GetDebtorsRequest, GetReportRequest, GetStandingRequest,
    JournalReport, StandingEntry, StandingReport, StandingSubject, StudentReport,
};
use crate::paths;
use crate::state::AppState;

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_report(
    state: State<'_, AppState>,
    req: GetReportRequest,
) -> IpcResult<Camel<JournalReport>> {
    let r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    let rep = r.report(&journal)?;
    let local_types = r.training_types()?;
    let hours_plan = r.delivered_hours(&journal)?;
    Ok(Camel(JournalReport {
        hours_plan,
        local_types,
        journal: rep.journal,
        subject: rep.subject,
        group: rep.group,
        marking_system: rep.marking_system,
        thresholds: rep.thresholds.to_vec(),
        lessons_total: rep.lessons_total as u32,
        lessons_complete: rep.lessons_complete as u32,
        attendance_percent: rep.attendance_percent,
        students: rep
            .students
            .into_iter()
            .map(|s| {
                let attended = s.present + s.late;
                let marked = attended + s.absent;
                StudentReport {
                    attendance_percent: (marked > 0)
                        .then(|| (1000.0 * f64::from(attended) / f64::from(marked)).round() / 10.0),
                    id: s.id,
                    name: s.name,
                    present: s.present,
                    late: s.late,
                    absent: s.absent,
                    excused_hours: s.excused_hours,
                    unexcused_hours: s.unexcused_hours,
                    standing: s.standing,
                    graded: s.graded,
                    average: s.average,
                    five_point: s.five_point,
                    control_points: s.control_points,
                    at_risk: s.at_risk,
                    semester_unexcused_hours: s.semester_unexcused_hours,
                    state: s.state,
                }
            })
            .collect(),
        lessons: rep.lessons,
    }))
}

/// Writes the journal to `path`, or to the export folder as `<group>_<subject>.<ext>`.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn export_journal(
    state: State<'_, AppState>,
    req: ExportJournalRequest,
) -> IpcResult<ExportResult> {
    let format = req.format;
    let ext = match format {
        ExportFormat::Xlsx => "xlsx",
        ExportFormat::Csv => "csv",
        ExportFormat::Hemis => "hemis.csv",
    };
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    let path = export_target(
        req.path.as_deref(),
        &default_name(&r, &journal, ext)?,
        &state,
    )?;
    r.export_journal(&journal, format, None, &path)?;
    tracing::info!(format = ext, "journal exported");
    Ok(ExportResult {
        path: path.display().to_string(),
    })
}

/// Every student's semester standing over all subjects, worst first (the dean's office view).
/// Academic debtors of the semester, by group and subject.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_debtors(
    state: State<'_, AppState>,
    req: GetDebtorsRequest,
) -> IpcResult<Vec<DebtorEntry>> {
    use daftar_rules::assessment::{Debt, Outcome};
    let r = state.replica();
    let scope = daftar_core::standing::Scope {
        semester: req.semester,
        ..Default::default()
    };
    let list = r.debtors(&scope)?;
    let mut per_student: std::collections::HashMap<(String, String), u32> =
        std::collections::HashMap::new();
    for d in &list {
        *per_student
            .entry((d.student.clone(), d.semester.clone()))
            .or_default() += 1;
    }
    Ok(list
        .into_iter()
        .map(|d| {
            let debt = match d.assessment.outcome {
                Outcome::Debtor { debt: Debt::Failed } => "failed",
                Outcome::Debtor { debt: Debt::Absent } => "absent",
                _ => "not_admitted",
            };
            DebtorEntry {
                debts: per_student
                    .get(&(d.student.clone(), d.semester.clone()))
                    .copied()
                    .unwrap_or(1),
                student: d.student,
                name: d.name,
                group: d.group_name,
                journal: d.journal,
                subject: d.subject,
                debt: debt.to_string(),
                sitting: d.assessment.sitting,
                current: d.assessment.totals.current,
                yn: d.assessment.totals.yn,
            }
        })
        .collect())
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_standing(
    state: State<'_, AppState>,
    req: GetStandingRequest,
) -> IpcResult<StandingReport> {
    use daftar_core::report::Standing as CoreStanding;
    use daftar_rules::assessment::{Level, System};
    let level = match req.level.as_deref() {
        None => Level::Warning,
        Some(l) => Level::parse(l).ok_or_else(|| {
            IpcError::invalid(
                "level",
                format!("{l:?}: ok, warning, reprimand or expulsion"),
            )
        })?,
    };
    let r = state.replica();
    let scope = daftar_core::standing::Scope {
        semester: req.semester,
        ..Default::default()
    };
    let list = r.standing(&scope, level)?;
    let t = match list.first() {
        Some(s) => s.thresholds,
        None => r.thresholds(System::Rating100)?,
    };
    Ok(StandingReport {
        thresholds: vec![t.warning, t.reprimand, t.expulsion],
        students: list
            .into_iter()
            .map(|s| StandingEntry {
                student: s.student,
                name: s.name,
                group: s.group_name,
                semester: s.semester,
                unexcused_hours: s.unexcused_hours,
                excused_hours: s.excused_hours,
                standing: CoreStanding::from_level(s.level),
                near_next: s.near_next,
                subjects: s
                    .subjects
                    .into_iter()
                    .map(|h| StandingSubject {
                        subject: h.subject,
                        unexcused_hours: h.unexcused_hours,
                        excused_hours: h.excused_hours,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Writes the statement (qaydnoma) of a journal for a YN sitting to `path` (a file or a
/// folder), or to the export folder as `<group>_<subject>_<form>.xlsx`.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn export_statement(
    state: State<'_, AppState>,
    req: ExportStatementRequest,
) -> IpcResult<ExportResult> {
    let mut r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    let statement = r.statement(&journal, req.sitting)?;
    let script = match req.script.as_deref() {
        Some(s) => daftar_core::statement::Script::parse(s)?,
        None => r.statement_script()?,
    };
    let ext = if req.pdf { "pdf" } else { "xlsx" };
    let name = {
        let base = default_name(&r, &journal, ext)?;
        format!(
            "{}_{}.{ext}",
            base.trim_end_matches(&format!(".{ext}")),
            statement.form
        )
    };
    let mut path = export_target(req.path.as_deref(), &name, &state)?;
    if req.pdf
        && !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
    {
        path.set_extension("pdf");
    }
    daftar_core::statement::write_statement(&statement, script, &path)?;
    tracing::info!(form = %statement.form, "statement written");
    Ok(ExportResult {
        path: path.display().to_string(),
    })
}

/// The system's save dialog for an export, opened in the export folder with
/// `<group>_<subject>.<ext>` filled in. Answers the chosen path, or null when cancelled; the
/// UI then calls `export_journal` with it.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn choose_export_path(
    app: AppHandle,
    state: State<'_, AppState>,
    req: ChooseExportPathRequest,
) -> IpcResult<ChosenPath> {
    let (ext, filter, filter_ext) = match req.format {
        ExportFormat::Xlsx => ("xlsx", "Excel", "xlsx"),
        ExportFormat::Csv => ("csv", "CSV", "csv"),
        ExportFormat::Hemis => ("hemis.csv", "HEMIS CSV", "csv"),
    };
    let name = {
        let r = state.replica();
        let journal = r.resolve_journal(&req.journal)?;
        default_name(&r, &journal, ext)?
    };
    let dir = paths::export_dir(&state.data_dir);
    // The dialog opens in the export folder, so it must exist.
    let _ = std::fs::create_dir_all(&dir);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app
        .dialog()
        .file()
        .set_title(req.title.trim())
        .set_file_name(name)
        .set_directory(&dir)
        .add_filter(filter, &[filter_ext]);
    if let Some(window) = tauri::Manager::get_webview_window(&app, "main") {
        dialog = dialog.set_parent(&window);
    }
    dialog.save_file(move |chosen| {
        let _ = tx.send(chosen);
    });
    let chosen = rx
        .await
        .map_err(|_| IpcError::internal("the save dialog closed without an answer"))?;
    let path = match chosen {
        None => None,
        Some(p) => {
            let mut path = p
                .into_path()
                .map_err(|e| IpcError::invalid("path", format!("cannot save there: {e}")))?;
            if path.extension().is_none() {
                path.set_extension(ext);
            }
            Some(path.display().to_string())
        }
    };
    Ok(ChosenPath { path })
}

/// Where an export goes: the typed file, `name` in a typed folder, or `name` in the export
/// folder; the folder is made if it is missing.
fn export_target(typed: Option<&str>, name: &str, state: &AppState) -> IpcResult<PathBuf> {
    let path = match typed.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_dir() { p.join(name) } else { p }
        }
        None => paths::export_dir(&state.data_dir).join(name),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            IpcError::invalid(
                "path",
                format!("cannot create the folder {}: {e}", dir.display()),
            )
        })?;
    }
    Ok(path)
}

fn default_name(r: &daftar_core::Replica, journal: &str, ext: &str) -> IpcResult<String> {
    let view = r.journal_view(journal)?;
    let name = format!(
        "{}_{}",
        paths::file_name_part(&view.group_name),
        paths::file_name_part(&view.subject)
    );
    Ok(format!("{name}.{ext}"))
}

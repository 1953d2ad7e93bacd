//! Reports (attendance, hours against the 12/36/74 thresholds, averages, at-risk students) and
//! exports to XLSX/CSV, both computed by the core from the projection.

use std::path::PathBuf;

use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{IpcError, IpcResult};
use crate::ipc::camel::Camel;
use crate::ipc::{
    ChooseExportPathRequest, ChosenPath, Debtor, ExportFormat, ExportJournalRequest, ExportResult,
    ExportStatementRequest, GetDebtorsRequest, GetReportRequest, GetStandingRequest, JournalReport,
    StandingReport,
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
    Ok(Camel(r.report(&journal)?))
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
) -> IpcResult<Camel<Vec<Debtor>>> {
    let r = state.replica();
    let scope = daftar_core::standing::Scope {
        semester: req.semester,
        ..Default::default()
    };
    Ok(Camel(r.debtors(&scope)?))
}

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_standing(
    state: State<'_, AppState>,
    req: GetStandingRequest,
) -> IpcResult<Camel<StandingReport>> {
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
    Ok(Camel(StandingReport {
        thresholds: vec![t.warning, t.reprimand, t.expulsion],
        students: list,
    }))
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

//! Reports (attendance, hours against the 12/36/74 thresholds, averages, at-risk students) and
//! exports to XLSX/CSV, both computed by the core from the projection.

use std::path::PathBuf;

use daftar_core::export::ExportFormat as CoreFormat;
use tauri::State;

use crate::commands::journal::standing_of;
use crate::error::{IpcError, IpcResult};
use crate::ipc::{
    ExportFormat, ExportJournalRequest, ExportResult, GetReportRequest, JournalReport,
    LessonReport, StudentReport,
};
use crate::paths;
use crate::state::AppState;

#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_report(
    state: State<'_, AppState>,
    req: GetReportRequest,
) -> IpcResult<JournalReport> {
    let r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    let rep = r.report(&journal)?;
    Ok(JournalReport {
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
                    standing: standing_of(s.standing),
                    graded: s.graded,
                    average: s.average,
                    five_point: s.five_point,
                    control_points: s.control_points,
                    at_risk: s.at_risk,
                }
            })
            .collect(),
        lessons: rep
            .lessons
            .into_iter()
            .map(|l| LessonReport {
                id: l.id,
                date: l.date,
                marked: l.marked,
                present: l.present,
                attendance_percent: l.attendance_percent,
                complete: l.complete,
            })
            .collect(),
    })
}

/// Writes the journal to `path`, or to the export folder as `<group>_<subject>.<ext>`.
#[tauri::command]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn export_journal(
    state: State<'_, AppState>,
    req: ExportJournalRequest,
) -> IpcResult<ExportResult> {
    let (format, ext) = match req.format {
        ExportFormat::Xlsx => (CoreFormat::Xlsx, "xlsx"),
        ExportFormat::Csv => (CoreFormat::Csv, "csv"),
    };
    let r = state.replica();
    let journal = r.resolve_journal(&req.journal)?;
    let path = match req.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_dir() {
                p.join(default_name(&r, &journal, ext)?)
            } else {
                p
            }
        }
        None => paths::export_dir(&state.data_dir).join(default_name(&r, &journal, ext)?),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            IpcError::invalid(
                "path",
                format!("cannot create the folder {}: {e}", dir.display()),
            )
        })?;
    }
    r.export_journal(&journal, format, &path)?;
    tracing::info!(format = ext, "journal exported");
    Ok(ExportResult {
        path: path.display().to_string(),
    })
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

//! Journal exports for upload and printing: CSV (UTF-8 with BOM so spreadsheet programs read
//! Uzbek and Russian letters) and XLSX with formatting (frozen header, NB highlighted,
//! threshold colours on the hours columns), in Uzbek Latin or Cyrillic as the university
//! writes; and the HEMIS hand-over: one row per marked student and lesson, keyed by HEMIS ids
//! (`_subject_schedule`, `_student`, `absent_on`, `absent_off`, grade, topic id), for whoever
//! enters or integrates the journal into HEMIS.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook};

use crate::error::{CoreError, Result};
use crate::journal::JournalView;
use crate::model::{LessonType, display_date};
use crate::replica::Replica;
use crate::report::JournalReport;
use crate::statement::Script;
use daftar_rules::assessment::Level;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Xlsx,
    Csv,
    /// The per-lesson hand-over to HEMIS (CSV keyed by HEMIS ids).
    Hemis,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Result<ExportFormat> {
        match s.to_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" | "excel" => Ok(ExportFormat::Xlsx),
            "hemis" | "hemis-csv" => Ok(ExportFormat::Hemis),
            _ => Err(CoreError::invalid(
                "format",
                format!("unknown format {s:?}: use csv, xlsx or hemis"),
            )),
        }
    }
}

/// The grid as rows of text in `script`: header, then one row per student.
fn grid(
    view: &JournalView,
    report: &JournalReport,
    script: Script,
) -> (Vec<String>, Vec<Vec<String>>) {
    let (header, rows) = grid_latin(view, report);
    let t = |s: &String| crate::statement::in_script(script, s);
    let header = header.iter().map(t).collect();
    let rows = rows
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                // The id column is an identifier: it stays as written.
                .map(|(c, v)| if c == 2 { v.clone() } else { t(v) })
                .collect()
        })
        .collect();
    (header, rows)
}

fn grid_latin(view: &JournalView, report: &JournalReport) -> (Vec<String>, Vec<Vec<String>>) {
    // Headers in Uzbek, as the university hands the file on (the ID is the HEMIS student id).
    let mut header = vec!["№".to_string(), "Talaba".to_string(), "ID".to_string()];
    for l in &view.lessons {
        let t = LessonType::parse(&l.lesson_type)
            .map(|t| t.uzbek_name())
            .unwrap_or("");
        header.push(format!("{} p{} {}", display_date(&l.date), l.pair, t));
    }
    header.extend(
        [
            "Sababli soat",
            "Sababsiz soat",
            "O‘rtacha baho",
            "Baho",
            "Nazorat ballari",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let cells: std::collections::HashMap<(&str, &str), &crate::journal::CellView> = view
        .cells
        .iter()
        .map(|c| ((c.lesson.as_str(), c.student.as_str()), c))
        .collect();
    let mut rows = Vec::new();
    for (i, s) in view.students.iter().enumerate() {
        let mut row = vec![
            (i + 1).to_string(),
            s.name.clone(),
            s.number.clone().unwrap_or_else(|| s.id.clone()),
        ];
        for l in &view.lessons {
            let text = match cells.get(&(l.id.as_str(), s.id.as_str())) {
                Some(c) => cell_text(c),
                None => String::new(),
            };
            row.push(text);
        }
        let r = &report.students[i];
        row.push(r.excused_hours.to_string());
        row.push(r.unexcused_hours.to_string());
        row.push(r.average.map(|a| format!("{a:.1}")).unwrap_or_default());
        row.push(r.five_point.map(|g| g.to_string()).unwrap_or_default());
        row.push(format!("{}", r.control_points));
        rows.push(row);
    }
    (header, rows)
}

/// How a cell prints: the teacher's mark, then the effective value after an adjustment.
pub fn cell_text(c: &crate::journal::CellView) -> String {
    let base = match c.status.as_str() {
        "p" => c.grade.map(|g| g.to_string()).unwrap_or_else(|| "+".into()),
        "a" => "NB".into(),
        "e" => "E".into(),
        "l" => c
            .grade
            .map(|g| format!("L{g}"))
            .unwrap_or_else(|| "L".into()),
        other => other.to_string(),
    };
    if c.effective != c.status {
        let to = match c.effective.as_str() {
            "p" => "+",
            "a" => "NB",
            "e" => "E",
            "l" => "L",
            other => other,
        };
        format!("{base}→{to}")
    } else {
        base
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes the journal as CSV.
pub fn write_csv(
    view: &JournalView,
    report: &JournalReport,
    script: Script,
    path: &Path,
) -> Result<()> {
    let (header, rows) = grid(view, report, script);
    write_csv_rows(&header, &rows, path)
}

/// A header and rows as CSV: UTF-8 with a BOM (spreadsheet programs then read Uzbek and
/// Russian letters), fields quoted where they must be.
fn write_csv_rows(header: &[String], rows: &[Vec<String>], path: &Path) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice("\u{feff}".as_bytes());
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    let _ = writeln!(out, "{}", line(header));
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    std::fs::write(path, out).map_err(|e| CoreError::io(path, e))
}

/// Writes the journal as a formatted XLSX workbook (journal sheet and report sheet).
pub fn write_xlsx(
    view: &JournalView,
    report: &JournalReport,
    script: Script,
    path: &Path,
) -> Result<()> {
    let (header, rows) = grid(view, report, script);
    let t = |s: &str| crate::statement::in_script(script, s);
    let mut wb = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDCE6F1))
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Center);
    let cell = Format::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let nb = Format::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_font_color(Color::RGB(0xC00000))
        .set_bold();
    let warn = Format::new()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xFFF2CC));
    let reprimand = Format::new()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xF8CBAD));
    let expel = Format::new()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xE06666))
        .set_font_color(Color::White);
    let name_fmt = Format::new().set_border(FormatBorder::Thin);

    let sheet = wb.add_worksheet();
    sheet.set_name(t("Jurnal"))?;
    let semester = crate::lessons::semester_number(&view.semester)
        .map(|n| n.to_string())
        .unwrap_or_else(|| view.semester.clone());
    let title = t(&format!(
        "{} — {} ({semester}-semestr)",
        view.group_name, view.subject
    ));
    sheet.write_string_with_format(0, 0, &title, &Format::new().set_bold().set_font_size(13))?;
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(2, c as u16, h, &bold)?;
    }
    sheet.set_row_height(2, 45)?;
    sheet.set_column_width(0, 4)?;
    sheet.set_column_width(1, 28)?;
    sheet.set_column_width(2, 14)?;
    let lessons = view.lessons.len();
    for (r, row) in rows.iter().enumerate() {
        let rr = (r + 3) as u32;
        let standing = report.students[r].standing;
        for (c, v) in row.iter().enumerate() {
            let fmt = if c == 1 || c == 2 {
                &name_fmt
            } else if c >= 3 && c < 3 + lessons && v.starts_with("NB") {
                &nb
            } else if c == 3 + lessons + 1 {
                match standing {
                    Level::Ok => &cell,
                    Level::Warning => &warn,
                    Level::Reprimand => &reprimand,
                    Level::Expulsion => &expel,
                }
            } else {
                &cell
            };
            match v.parse::<f64>() {
                Ok(n) if c != 2 && !v.is_empty() => {
                    sheet.write_number_with_format(rr, c as u16, n, fmt)?;
                }
                _ => {
                    sheet.write_string_with_format(rr, c as u16, v, fmt)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(3, 3)?;

    let rs = wb.add_worksheet();
    rs.set_name(t("Hisobot"))?;
    let cols = [
        "Talaba",
        "Keldi",
        "Kechikdi",
        "Kelmadi",
        "Sababli soat",
        "Sababsiz soat",
        "Holat",
        "O‘rtacha baho",
        "Baho",
        "Xavf guruhida",
    ];
    for (c, h) in cols.iter().enumerate() {
        rs.write_string_with_format(0, c as u16, t(h), &bold)?;
    }
    rs.set_column_width(0, 28)?;
    for (i, s) in report.students.iter().enumerate() {
        let r = (i + 1) as u32;
        rs.write_string_with_format(r, 0, t(&s.name), &name_fmt)?;
        rs.write_number_with_format(r, 1, f64::from(s.present), &cell)?;
        rs.write_number_with_format(r, 2, f64::from(s.late), &cell)?;
        rs.write_number_with_format(r, 3, f64::from(s.absent), &cell)?;
        rs.write_number_with_format(r, 4, f64::from(s.excused_hours), &cell)?;
        rs.write_number_with_format(r, 5, f64::from(s.unexcused_hours), &cell)?;
        rs.write_string_with_format(r, 6, t(Level::hemis_word(s.standing)), &cell)?;
        match s.average {
            Some(a) => rs.write_number_with_format(r, 7, a, &cell)?,
            None => rs.write_string_with_format(r, 7, "", &cell)?,
        };
        match s.five_point {
            Some(g) => rs.write_number_with_format(r, 8, f64::from(g), &cell)?,
            None => rs.write_string_with_format(r, 8, "", &cell)?,
        };
        rs.write_string_with_format(r, 9, t(if s.at_risk { "ha" } else { "" }), &cell)?;
    }
    let tmp = path.with_extension("partial");
    wb.save(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| CoreError::io(path, e))
}

/// The HEMIS hand-over columns, in order.
pub const HEMIS_COLUMNS: [&str; 13] = [
    "_subject_schedule",
    "_student",
    "student_id_number",
    "lesson_date",
    "date",
    "lesson_pair",
    "training_type",
    "absent_on",
    "absent_off",
    "grade",
    "_topic",
    "topic",
    "daftar_lesson",
];

/// Unix seconds of a day's start in Tashkent (UTC+5), as HEMIS writes `lesson_date`.
fn tashkent_midnight(iso: &str) -> Option<i64> {
    let day = crate::model::parse_date(iso).ok()?;
    Some(day.midnight().assume_utc().unix_timestamp() - 5 * 3600)
}

impl Replica {
    /// Exports a journal to a file, in `script` (the catalog's choice when `None`).
    pub fn export_journal(
        &mut self,
        journal: &str,
        format: ExportFormat,
        script: Option<Script>,
        path: &Path,
    ) -> Result<()> {
        let script = match script {
            Some(s) => s,
            None => self.statement_script()?,
        };
        let view = self.journal_view(journal)?;
        if format == ExportFormat::Hemis {
            return self.write_hemis_handover(&view, path);
        }
        // The full report: the semester's standing and the control totals and grades.
        let report = self.report(journal)?;
        match format {
            ExportFormat::Csv => write_csv(&view, &report, script, path),
            ExportFormat::Xlsx | ExportFormat::Hemis => write_xlsx(&view, &report, script, path),
        }
    }

    /// The per-lesson hand-over: a row per mark of a lesson that was not cancelled, with the
    /// effective attendance (after the dean's office's adjustments) as HEMIS counts hours:
    /// `absent_on` excused, `absent_off` unexcused. A lesson imported from HEMIS carries its
    /// schedule id; one added in Daftar has none and is named by `daftar_lesson`.
    fn write_hemis_handover(&self, view: &JournalView, path: &Path) -> Result<()> {
        let topics: std::collections::HashMap<String, String> = match &view.module {
            Some(m) => self
                .module_topics(&format!("module/{m}"))?
                .into_iter()
                .map(|(id, name, _)| {
                    (
                        crate::journal::fold_name(name.trim()),
                        id.strip_prefix('t').unwrap_or(&id).to_string(),
                    )
                })
                .collect(),
            None => Default::default(),
        };
        let students: std::collections::HashMap<&str, &crate::journal::StudentView> =
            view.students.iter().map(|s| (s.id.as_str(), s)).collect();
        let mut rows: Vec<Vec<String>> = Vec::new();
        for l in view.lessons.iter().filter(|l| l.status != "cancelled") {
            let schedule =
                l.id.strip_prefix('h')
                    .filter(|id| id.chars().all(|c| c.is_ascii_digit()));
            let topic_id = l
                .topic
                .as_deref()
                .and_then(|t| topics.get(&crate::journal::fold_name(t.trim())))
                .cloned()
                .unwrap_or_default();
            for c in view.cells.iter().filter(|c| c.lesson == l.id) {
                let (on, off) = match c.effective.as_str() {
                    "e" => (c.hours, 0),
                    "a" => (0, c.hours),
                    _ => (0, 0),
                };
                rows.push(vec![
                    schedule.unwrap_or_default().to_string(),
                    c.student.clone(),
                    students
                        .get(c.student.as_str())
                        .and_then(|s| s.number.clone())
                        .unwrap_or_default(),
                    tashkent_midnight(&l.date)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    display_date(&l.date),
                    (10 + l.pair).to_string(),
                    l.lesson_type.clone(),
                    on.to_string(),
                    off.to_string(),
                    c.grade.map(|g| g.to_string()).unwrap_or_default(),
                    topic_id.clone(),
                    l.topic.clone().unwrap_or_default(),
                    if schedule.is_some() {
                        String::new()
                    } else {
                        l.id.clone()
                    },
                ]);
            }
        }
        let header: Vec<String> = HEMIS_COLUMNS.iter().map(|c| c.to_string()).collect();
        write_csv_rows(&header, &rows, path)
    }
}

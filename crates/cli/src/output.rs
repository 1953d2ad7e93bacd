//! How `daftar` prints: readable tables for people, JSON with `--json`, errors on stderr in
//! the same two shapes, and a progress bar for long work when stderr is a terminal.

use std::io::IsTerminal;

use daftar_core::CoreError;
use daftar_core::conflicts::Conflict;
use daftar_core::history::HistoryEntry;
use daftar_core::journal::{JournalSummary, JournalView};
use daftar_core::model::display_date;
use daftar_core::report::JournalReport;
use serde::Serialize;

pub struct Out {
    json: bool,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out { json }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a result: JSON of `value`, or the human text.
    pub fn value<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        let text = if self.json {
            serde_json::to_string_pretty(value)?
        } else {
            human()
        };
        print_line(&text);
        Ok(())
    }

    pub fn ok(&self, message: &str) -> anyhow::Result<()> {
        self.value(
            &serde_json::json!({ "ok": true, "message": message }),
            || message.to_string(),
        )
    }

    pub fn error(&self, e: &anyhow::Error) {
        let kind = error_kind(e);
        if self.json {
            eprintln!(
                "{}",
                serde_json::json!({ "error": kind, "message": format!("{e:#}") })
            );
        } else {
            eprintln!("error: {e:#}");
        }
    }

    pub fn progress(&self, label: &str) -> Progress {
        let bar = (!self.json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            bar
        });
        Progress { bar }
    }
}

/// Prints to stdout; a closed pipe (`daftar show … | head`) is not an error.
pub fn print_line(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

pub fn error_kind(e: &anyhow::Error) -> &'static str {
    if let Some(core) = e.downcast_ref::<CoreError>() {
        return core.kind().as_str();
    }
    if let Some(client) = e.downcast_ref::<daftar_client::ClientError>() {
        return client.kind().as_str();
    }
    "error"
}

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn set(&self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    }
    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn pad(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        s.chars().take(width).collect()
    } else {
        format!("{s}{}", " ".repeat(width - len))
    }
}

pub fn journals_table(list: &[JournalSummary]) -> String {
    if list.is_empty() {
        return "No journals yet. Run `daftar demo` or `daftar import hemis FOLDER`.".into();
    }
    let mut out = format!(
        "{}  {}  {}  {}  {}  {}\n",
        pad("JOURNAL", 18),
        pad("GROUP", 9),
        pad("SUBJECT", 34),
        pad("SEM", 3),
        pad("DONE", 7),
        "NOTES"
    );
    for j in list {
        let mut notes = Vec::new();
        if j.locked {
            notes.push("locked".to_string());
        }
        if j.unsynced > 0 {
            notes.push(format!("{} unsynced", j.unsynced));
        }
        if j.conflicts > 0 {
            notes.push(format!("{} conflicts", j.conflicts));
        }
        out.push_str(&format!(
            "{}  {}  {}  {}  {}  {}\n",
            pad(&j.id, 18),
            pad(&j.group, 9),
            pad(&j.subject, 34),
            pad(&j.semester, 3),
            pad(&format!("{}/{}", j.complete_lessons, j.lessons), 7),
            notes.join(", ")
        ));
    }
    out.trim_end().to_string()
}

pub fn journal_grid(v: &JournalView, times: &std::collections::BTreeMap<u8, String>) -> String {
    use daftar_rules::assessment::System;
    let system = System::parse(&v.marking_system).unwrap_or(System::Rating100);
    let [five, four, three] = system.borders();
    let admission = match system.admission_share() {
        Some(share) => format!("admitted to YN at {} % of JN + ON", (share * 100.0).round()),
        None => "admitted to YN with JN and ON at 3 or more".to_string(),
    };
    let label = daftar_core::model::MarkingSystem::parse(&v.marking_system)
        .map(|m| m.label())
        .unwrap_or("100-point rating");
    let semester = daftar_core::lessons::semester_number(&v.semester)
        .map(|n| format!("{n}-semestr"))
        .unwrap_or_else(|| format!("semester {}", v.semester));
    let mut out = format!("{} — {} ({semester})\n", v.group_name, v.subject);
    out.push_str(&format!(
        "Marking: {label}: a 5 from {five}, a 4 from {four}, a 3 from {three}; {admission}\n"
    ));
    if !v.controls.is_empty() {
        let controls: Vec<String> = v
            .controls
            .iter()
            .map(|c| {
                if c.sittings > 1 {
                    format!("{} {} ({} sittings)", c.code, c.max, c.sittings)
                } else {
                    format!("{} {}", c.code, c.max)
                }
            })
            .collect();
        out.push_str(&format!("Controls: {}\n", controls.join(", ")));
    }
    if let Some(lock) = &v.lock {
        out.push_str(&format!("Locked: {lock}\n"));
    }
    out.push_str("\nLessons:\n");
    for (i, l) in v.lessons.iter().enumerate() {
        let pair = match u8::try_from(l.pair).ok().and_then(|p| times.get(&p)) {
            Some(t) => format!("{} ({t})", l.pair),
            None => l.pair.to_string(),
        };
        out.push_str(&format!(
            "  #{:<3} {}  {}  pair {}  type {}  {}{}{}\n",
            i + 1,
            l.id,
            display_date(&l.date),
            pair,
            l.lesson_type,
            l.topic.as_deref().unwrap_or("—"),
            if l.complete { "" } else { "  (not filled)" },
            l.lock
                .as_deref()
                .map(|r| format!("  [locked: {r}]"))
                .unwrap_or_default()
        ));
    }
    let cells: std::collections::HashMap<(&str, &str), &daftar_core::journal::CellView> = v
        .cells
        .iter()
        .map(|c| ((c.lesson.as_str(), c.student.as_str()), c))
        .collect();
    out.push_str("\nStudents (columns are lessons #1, #2, …):\n");
    for s in &v.students {
        let mut row = format!("  {}  {} ", pad(&s.id, 8), pad(&s.name, 26));
        for l in &v.lessons {
            let text = match cells.get(&(l.id.as_str(), s.id.as_str())) {
                Some(c) => {
                    let t = daftar_core::export::cell_text(c);
                    if c.conflict.is_some() {
                        format!("{t}!")
                    } else {
                        t
                    }
                }
                None => "·".into(),
            };
            row.push_str(&format!(" {}", pad(&text, 3)));
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    if !v.conflicts.is_empty() {
        out.push_str(&format!(
            "\n{} conflict(s) waiting: see `daftar conflicts`\n",
            v.conflicts.len()
        ));
    }
    out.trim_end().to_string()
}

pub fn conflicts_table(list: &[Conflict]) -> String {
    if list.is_empty() {
        return "The conflict inbox is empty.".into();
    }
    let mut out = String::new();
    for c in list {
        out.push_str(&format!(
            "{}  {} {} — {} {}{}\n",
            c.id,
            c.group.as_deref().unwrap_or(""),
            c.subject.as_deref().unwrap_or(""),
            c.field,
            if c.kind == "amendment" {
                "(late edit to a locked lesson) "
            } else {
                ""
            },
            c.lesson_date
                .as_deref()
                .map(|d| format!("lesson of {}", display_date(d)))
                .unwrap_or_default()
        ));
        if let Some(name) = &c.student_name {
            out.push_str(&format!("    student: {name}\n"));
        }
        for (i, v) in c.values.iter().enumerate() {
            let when = tashkent_time(v.edited_at);
            out.push_str(&format!(
                "    [{}] {:<12} by {}{} on device {} at {}{}{}\n",
                i + 1,
                v.display,
                v.user.as_deref().unwrap_or("?"),
                if v.verified { "" } else { " (unverified)" },
                v.device,
                when,
                v.received_at
                    .map(|r| format!(" (received {})", tashkent_time(r)))
                    .unwrap_or_default(),
                if v.locked { " (value when locked)" } else { "" }
            ));
        }
    }
    out.push_str("\nResolve with: daftar resolve ID --pick N [--note TEXT]");
    out
}

/// `dd.MM.yyyy HH:MM` in Tashkent time (UTC+5) for unix milliseconds.
pub fn tashkent_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let t = t.to_offset(time::UtcOffset::from_hms(5, 0, 0).unwrap_or(time::UtcOffset::UTC));
            format!(
                "{:02}.{:02}.{:04} {:02}:{:02}",
                t.day(),
                u8::from(t.month()),
                t.year(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// `daftar history`: one line per write, oldest first.
pub fn history_table(list: &[HistoryEntry]) -> String {
    if list.is_empty() {
        return "No changes recorded here.".into();
    }
    let mut out = String::new();
    for e in list {
        let what = match (&e.value, &e.display) {
            (None, _) => "cleared".to_string(),
            (Some(_), Some(d)) => d.clone(),
            (Some(v), None) => v.clone(),
        };
        out.push_str(&format!(
            "{}  {:<11} {:<16} {:<24} by {}{} on device {}{}\n",
            tashkent_time(e.edited_at),
            e.map,
            e.key,
            what,
            e.user.as_deref().unwrap_or("?"),
            if e.verified { "" } else { " (unverified)" },
            e.device,
            e.received_at
                .map(|r| format!(" (received {})", tashkent_time(r)))
                .unwrap_or_default(),
        ));
    }
    out
}

pub fn report_table(r: &JournalReport) -> String {
    let mut out = format!(
        "{} — {}: {} of {} lessons filled, attendance {}\n\n",
        r.group,
        r.subject,
        r.lessons_complete,
        r.lessons_total,
        r.attendance_percent
            .map(|a| format!("{a}%"))
            .unwrap_or_else(|| "—".into())
    );
    out.push_str(&format!(
        "  {}  {:>7} {:>9} {:>7} {:>6}  {}\n",
        pad("STUDENT", 28),
        "EXC h",
        "UNEXC h",
        "AVG",
        "GRADE",
        "STANDING"
    ));
    for s in &r.students {
        out.push_str(&format!(
            "  {}  {:>7} {:>9} {:>7} {:>6}  {}{}\n",
            pad(&s.name, 28),
            s.excused_hours,
            s.unexcused_hours,
            s.average
                .map(|a| format!("{a:.1}"))
                .unwrap_or_else(|| "—".into()),
            s.five_point
                .map(|g| g.to_string())
                .unwrap_or_else(|| "—".into()),
            s.standing.as_str(),
            if s.at_risk { "  AT RISK" } else { "" }
        ));
    }
    out.push_str(&format!(
        "\nThresholds (unexcused hours): warning {}, reprimand {}, expulsion {}",
        r.thresholds[0], r.thresholds[1], r.thresholds[2]
    ));
    out
}

/// `daftar standing`: one line per student, the subjects' hours after it.
pub fn standing_table(list: &[daftar_core::standing::StudentStanding]) -> String {
    if list.is_empty() {
        return "No students at this level.".into();
    }
    let mut out = format!(
        "  {}  {:<10} {:>4} {:>9} {:>7}  {}\n",
        pad("STUDENT", 28),
        "GROUP",
        "SEM",
        "UNEXC h",
        "EXC h",
        "LEVEL"
    );
    for s in list {
        out.push_str(&format!(
            "  {}  {:<10} {:>4} {:>9} {:>7}  {}{}\n",
            pad(&s.name, 28),
            s.group_name,
            s.semester,
            s.unexcused_hours,
            s.excused_hours,
            s.level.as_str(),
            if s.near_next {
                " (next level in one missed pair)"
            } else {
                ""
            }
        ));
        let subjects: Vec<String> = s
            .subjects
            .iter()
            .filter(|h| h.unexcused_hours > 0)
            .map(|h| format!("{} {} h", h.subject, h.unexcused_hours))
            .collect();
        if !subjects.is_empty() {
            out.push_str(&format!("      {}\n", subjects.join(", ")));
        }
    }
    out
}

/// `daftar debtors`: one line per student and subject.
pub fn debtors_table(list: &[daftar_core::standing::Debtor]) -> String {
    use daftar_rules::assessment::Debt;
    if list.is_empty() {
        return "No academic debtors.".into();
    }
    let mut out = format!(
        "  {}  {:<10} {}  {:>7} {:>5}  {:<5}  {}\n",
        pad("STUDENT", 28),
        "GROUP",
        pad("SUBJECT", 24),
        "JN+ON",
        "YN",
        "DEBTS",
        "WHY"
    );
    for d in list {
        let t = &d.assessment.totals;
        let why = match d.debt {
            Debt::Failed => format!("failed the final (sitting {})", d.assessment.sitting),
            Debt::Absent => format!("absent from the final (sitting {})", d.assessment.sitting),
            Debt::NotAdmitted => d
                .assessment
                .admission
                .reason()
                .unwrap_or_else(|| "not admitted".into())
                .replace("the student is ", ""),
        };
        let debts = if d.held_back {
            format!("{} held back", d.debts)
        } else {
            d.debts.to_string()
        };
        out.push_str(&format!(
            "  {}  {:<10} {}  {:>7} {:>5}  {:<5}  {}\n",
            pad(&d.name, 28),
            d.group_name,
            pad(&d.subject, 24),
            format!("{:.1}", t.current),
            t.yn.map(|y| format!("{y}")).unwrap_or_else(|| "—".into()),
            debts,
            why
        ));
    }
    out
}

/// `daftar hours`: planned against delivered hours per lesson type.
pub fn hours_table(lines: &[daftar_core::lessons::HoursLine]) -> String {
    if lines.is_empty() {
        return "This journal has no planned hours and no lessons.".into();
    }
    let mut out = format!(
        "  {}  {:>7} {:>9} {:>9} {:>9}\n",
        pad("TYPE", 16),
        "PLANNED",
        "DELIVERED",
        "SCHEDULED",
        "SHORTFALL"
    );
    for l in lines {
        let name = daftar_core::model::LessonType::parse(&l.lesson_type)
            .map(|t| t.short_name().to_string())
            .unwrap_or_else(|_| l.lesson_type.clone());
        out.push_str(&format!(
            "  {}  {:>7} {:>9} {:>9} {:>9}\n",
            pad(&name, 16),
            l.planned,
            l.delivered,
            l.scheduled,
            if l.shortfall > 0 {
                format!("{} h", l.shortfall)
            } else {
                "—".into()
            }
        ));
    }
    out
}

/// `daftar calendar`: semester dates and holidays.
pub fn calendar_text(cal: &daftar_core::lessons::Calendar) -> String {
    use daftar_core::model::display_date;
    let term = |t: &daftar_core::lessons::Term| {
        format!("{} – {}", display_date(&t.from), display_date(&t.to))
    };
    let mut out = String::new();
    match &cal.autumn {
        Some(t) => out.push_str(&format!("Autumn semesters: {}\n", term(t))),
        None => out.push_str("Autumn semesters: not set\n"),
    }
    match &cal.spring {
        Some(t) => out.push_str(&format!("Spring semesters: {}\n", term(t))),
        None => out.push_str("Spring semesters: not set\n"),
    }
    for (n, t) in &cal.semesters {
        out.push_str(&format!("Semester {n}: {}\n", term(t)));
    }
    if cal.holidays.is_empty() {
        out.push_str("Holidays: none\n");
    } else {
        let days: Vec<String> = cal.holidays.iter().map(|d| display_date(d)).collect();
        out.push_str(&format!("Holidays: {}\n", days.join(", ")));
    }
    out
}

//! The statement (qaydnoma) a dean's office prints and signs for one journal and YN sitting:
//! form 12 (rating; 12a and 12b for sittings 2 and 3), the credit form (c-shakl) and the
//! five-point form (5-shakl), as HEMIS prints them (`docs/assessment.md`): header, one row per
//! student with the control totals and the grade, the counts of 5 / 4 / 3 / 2 / absent, and the
//! signature lines, in Uzbek Latin or Cyrillic, on A4.
//!
//! [`Replica::statement`] builds the read model (the numbers come from
//! `daftar_rules::assessment`, as everywhere); [`write_statement_xlsx`] lays it out.

use std::path::Path;

use daftar_rules::assessment::{Admission, Outcome, System};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::replica::Replica;

/// Uzbek in the Latin or the Cyrillic script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    Latin,
    Cyrillic,
}

impl Script {
    pub fn parse(s: &str) -> Result<Script> {
        match s.trim().to_lowercase().as_str() {
            "latn" | "latin" | "uz" | "uz-latn" => Ok(Script::Latin),
            "cyrl" | "cyrillic" | "uz-cyrl" => Ok(Script::Cyrillic),
            other => Err(CoreError::invalid(
                "script",
                format!("{other:?}: write latn (Latin) or cyrl (Cyrillic)"),
            )),
        }
    }
}

/// One row of a statement.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatementRow {
    pub number: usize,
    pub student: String,
    pub name: String,
    pub record_book: Option<String>,
    pub jn: Option<f64>,
    pub on: Option<f64>,
    pub current: f64,
    pub yn: Option<f64>,
    pub total: Option<f64>,
    /// 2–5; `None` when admitted and absent from YN (kelmadi) or not yet sat.
    pub grade: Option<u8>,
    pub admitted: bool,
    /// Admitted and recorded absent from this sitting ("kelmadi").
    pub absent: bool,
}

/// A statement's numbers and words.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Statement {
    pub form: String,
    pub system: System,
    pub sitting: u8,
    pub university: String,
    pub faculty: String,
    pub course: String,
    pub semester: String,
    pub group: String,
    pub subject: String,
    pub teachers: Vec<String>,
    pub hours: u32,
    pub rows: Vec<StatementRow>,
    /// Students with a 5, 4, 3, 2, and admitted but recorded absent from YN (kelmadi).
    pub counts: [usize; 5],
}

impl Replica {
    /// The script the university prints in: the catalog's `settings.script` (`latn` or
    /// `cyrl`), Latin when it names none.
    pub fn statement_script(&mut self) -> Result<Script> {
        let catalogs: Vec<String> = self
            .doc_ids()?
            .into_iter()
            .filter(|d| d.starts_with("catalog/"))
            .collect();
        for id in catalogs {
            if let Some(script) = self.doc(&id)?.get("settings", "script") {
                return Script::parse(&script);
            }
        }
        Ok(Script::Latin)
    }

    /// The statement of `journal` (document id) for YN sitting `sitting` (1–3). A retake
    /// statement lists the students who have not passed at an earlier sitting.
    pub fn statement(&self, journal: &str, sitting: u8) -> Result<Statement> {
        if !(1..=3).contains(&sitting) {
            return Err(CoreError::invalid(
                "sitting",
                "a statement is for sitting 1, 2 or 3",
            ));
        }
        let view = self.journal_view(journal)?;
        let conn = self.conn();
        let (group_id, module, marking): (String, Option<String>, String) = conn.query_row(
            "SELECT group_id, module_id, marking_system FROM journals WHERE id = ?1",
            [journal],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let system = System::parse(&marking).unwrap_or(System::Rating100);
        let university: String = conn
            .query_row("SELECT name FROM catalog LIMIT 1", [], |r| r.get(0))
            .unwrap_or_default();
        let (faculty, year): (String, String) = conn
            .query_row(
                "SELECT COALESCE(f.name, g.faculty_id, ''), COALESCE(g.year, '')
                 FROM groups g LEFT JOIN faculties f ON f.id = g.faculty_id WHERE g.id = ?1",
                [&group_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_default();
        let semester_number = crate::lessons::semester_number(&view.semester).unwrap_or(0);
        // The course (year of study) follows from the semester; `groups.year` is often the
        // year of admission (2026), which is no course.
        let course = if semester_number > 0 {
            semester_number.div_ceil(2).to_string()
        } else if year.len() == 1 {
            year
        } else {
            String::new()
        };
        let hours: u32 = match &module {
            Some(m) => conn
                .query_row("SELECT hours FROM modules WHERE id = ?1", [m], |r| {
                    r.get::<_, String>(0)
                })
                .ok()
                .and_then(|h| {
                    serde_json::from_str::<std::collections::BTreeMap<String, f64>>(&h).ok()
                })
                .map(|h| h.values().sum::<f64>() as u32)
                .unwrap_or(0),
            None => 0,
        };
        let mut teachers = Vec::new();
        for t in &view.teachers {
            let name: Option<String> = conn
                .query_row("SELECT name FROM teachers WHERE id = ?1", [t], |r| r.get(0))
                .ok();
            teachers.push(name.unwrap_or_else(|| t.clone()));
        }
        let plan = self.control_plan(module.as_deref())?;
        let mut scores: std::collections::BTreeMap<String, Vec<daftar_rules::assessment::Score>> =
            std::collections::BTreeMap::new();
        for s in &view.scores {
            scores
                .entry(s.student.clone())
                .or_default()
                .push(daftar_rules::assessment::Score {
                    control: s.control.clone(),
                    sitting: s.sitting.clamp(1, 9) as u8,
                    points: s.points,
                });
        }
        let none = Vec::new();
        let absences = self.final_absences(journal)?;
        let mut rows = Vec::new();
        let mut counts = [0usize; 5];
        for student in view.students.iter().filter(|s| s.status == "active") {
            let mine = scores.get(&student.id).unwrap_or(&none);
            // A retake statement leaves out who passed at an earlier sitting.
            let passed_before = (1..sitting).any(|j| {
                let t = daftar_rules::assessment::totals(system, &plan, mine, j);
                matches!(
                    daftar_rules::assessment::outcome(system, &t),
                    Outcome::Passed { .. }
                )
            });
            if passed_before {
                continue;
            }
            let totals = daftar_rules::assessment::totals(system, &plan, mine, sitting)
                .with_absence(absences.contains(&(student.id.clone(), sitting)));
            let admission = daftar_rules::assessment::admission(system, &totals);
            let outcome = daftar_rules::assessment::outcome(system, &totals);
            let admitted = matches!(admission, Admission::Admitted);
            let absent = matches!(
                outcome,
                Outcome::Debtor {
                    debt: daftar_rules::assessment::Debt::Absent
                }
            );
            let grade = match outcome {
                Outcome::Passed { grade } => Some(grade),
                _ if absent => None,
                Outcome::Debtor { .. } => Some(2),
                // Not admitted: a 2 on the statement (HEMIS counts them with the 2s).
                _ if !admitted => Some(2),
                _ => None,
            };
            match grade {
                Some(5) => counts[0] += 1,
                Some(4) => counts[1] += 1,
                Some(3) => counts[2] += 1,
                Some(_) => counts[3] += 1,
                None if absent => counts[4] += 1,
                None => {}
            }
            rows.push(StatementRow {
                number: rows.len() + 1,
                student: student.id.clone(),
                name: student.name.clone(),
                record_book: student.number.clone(),
                jn: totals.jn,
                on: totals.on,
                current: totals.current,
                yn: totals.yn,
                total: totals.total,
                grade,
                admitted,
                absent,
            });
        }
        let form = match (system, sitting) {
            (System::Rating100, 1) => "12-shakl",
            (System::Rating100, 2) => "12a-shakl",
            (System::Rating100, _) => "12b-shakl",
            (System::CreditModule, _) => "c-shakl",
            (System::FivePoint, _) => "5-shakl",
        }
        .to_string();
        Ok(Statement {
            form,
            system,
            sitting,
            university,
            faculty,
            course,
            semester: view.semester.clone(),
            group: view.group_name.clone(),
            subject: view.subject.clone(),
            teachers,
            hours,
            rows,
            counts,
        })
    }
}

/// Uzbek Latin to Cyrillic, by the official correspondence (sh ш, ch ч, g‘ ғ, o‘ ў, ng stays
/// нг, yo ё, yu ю, ya я, ye е, ’ ъ); text already in Cyrillic passes through.
pub fn to_cyrillic(latin: &str) -> String {
    let s = crate::model::normalize_apostrophes(latin);
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let lower = c.to_lowercase().next().unwrap_or(c);
        let upper = c.is_uppercase();
        let both_upper = upper && next.is_some_and(|n| n.is_uppercase());
        let pair = next.map(|n| (lower, n.to_lowercase().next().unwrap_or(n)));
        let two = match pair {
            Some(('s', 'h')) => Some("ш"),
            Some(('c', 'h')) => Some("ч"),
            Some(('g', '\'')) => Some("ғ"),
            Some(('o', '\'')) => Some("ў"),
            Some(('y', 'o')) => Some("ё"),
            Some(('y', 'u')) => Some("ю"),
            Some(('y', 'a')) => Some("я"),
            Some(('y', 'e')) => Some("е"),
            _ => None,
        };
        if let Some(t) = two {
            let t = if upper {
                let mut u = t.to_uppercase();
                if !both_upper && matches!(pair, Some(('y', _))) {
                    u = t.chars().flat_map(char::to_uppercase).collect();
                }
                u
            } else {
                t.to_string()
            };
            out.push_str(&t);
            i += 2;
            continue;
        }
        let one = match lower {
            'a' => "а",
            'b' => "б",
            'd' => "д",
            'e' => {
                let start = i == 0 || !chars[i - 1].is_alphabetic();
                if start { "э" } else { "е" }
            }
            'f' => "ф",
            'g' => "г",
            'h' => "ҳ",
            'i' => "и",
            'j' => "ж",
            'k' => "к",
            'l' => "л",
            'm' => "м",
            'n' => "н",
            'o' => "о",
            'p' => "п",
            'q' => "қ",
            'r' => "р",
            's' => "с",
            't' => "т",
            'u' => "у",
            'v' => "в",
            'x' => "х",
            'y' => "й",
            'z' => "з",
            'c' => "с",
            'w' => "в",
            '\'' => "ъ",
            _ => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        if upper {
            out.push_str(&one.to_uppercase());
        } else {
            out.push_str(one);
        }
        i += 1;
    }
    out
}

/// Uzbek text as `script` writes it: Latin with the turned-comma apostrophe (o‘, g‘), or
/// Cyrillic by [`to_cyrillic`] (YN, the final control, is ЯН there, not letter by letter).
pub(crate) fn in_script(script: Script, s: &str) -> String {
    match script {
        Script::Latin => crate::model::normalize_apostrophes(s).replace('\'', "‘"),
        Script::Cyrillic => {
            // Whole words only: a name in capitals (ЗАЙНАБ) keeps its letters.
            let c = to_cyrillic(s);
            let mut out = String::with_capacity(c.len());
            let mut word = String::new();
            let flush = |word: &mut String, out: &mut String| {
                out.push_str(if word == "ЙН" { "ЯН" } else { word });
                word.clear();
            };
            for ch in c.chars() {
                if ch.is_alphabetic() {
                    word.push(ch);
                } else {
                    flush(&mut word, &mut out);
                    out.push(ch);
                }
            }
            flush(&mut word, &mut out);
            out
        }
    }
}

/// The statement's fixed words.
struct Words {
    title: &'static str,
    faculty: &'static str,
    course: &'static str,
    semester: &'static str,
    group: &'static str,
    subject: &'static str,
    teachers: &'static str,
    hours: &'static str,
    yn_date: &'static str,
    columns: Vec<&'static str>,
    total_line: &'static str,
    absent: &'static str,
    not_admitted: &'static str,
    signatures: [&'static str; 3],
}

fn words(system: System) -> Words {
    let title = match system {
        System::Rating100 => "REYTING QAYDNOMASI № ______",
        System::CreditModule => "BAHOLASH QAYDNOMASI № ______",
        System::FivePoint => "YAKUNIY NAZORAT QAYDNOMASI № ______",
    };
    let columns = match system {
        System::Rating100 | System::CreditModule => vec![
            "№",
            "Talabaning familiyasi, ismi, sharifi",
            "Reyting daftarchasining raqami",
            "Σ JN",
            "Σ ON",
            "Σ JN + Σ ON",
            "YN",
            "Umumiy ball",
            "Baho",
            "YN o'tkazgan o'qituvchi imzosi",
        ],
        System::FivePoint => vec![
            "№",
            "Talabaning familiyasi, ismi, sharifi",
            "ID raqami",
            "JN",
            "ON",
            "Yakuniy nazorat bahosi",
            "O'qituvchi imzosi",
        ],
    };
    Words {
        title,
        faculty: "Fakultet",
        course: "Kurs",
        semester: "Semestr",
        group: "Guruh",
        subject: "Fan",
        teachers: "O'qituvchi",
        hours: "Soatlar",
        yn_date: "YN sanasi",
        columns,
        total_line: "Jami talabalar soni",
        absent: "Kelmadi",
        not_admitted: "ruxsat etilmagan",
        signatures: ["O'qituvchi", "Kafedra mudiri", "Fakultet dekani"],
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{:.1}", v)
    }
}

/// A statement as printed, in its script: the same words and cells for the XLSX sheet and the
/// PDF page.
pub struct Printed {
    pub form: String,
    pub university: String,
    pub title: String,
    /// Faculty, course / semester / group, subject, teachers, hours and YN date.
    pub lines: Vec<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// "Jami talabalar soni: N, shundan, “5”: …"
    pub footer: String,
    /// "O‘qituvchi: ____   ____", …
    pub signatures: Vec<String>,
}

/// The statement's printed words and cells in `script`.
pub fn printed(st: &Statement, script: Script) -> Printed {
    let t = |s: &str| in_script(script, s);
    let w = words(st.system);
    let sitting_word = match st.sitting {
        1 => "1-qaydnoma",
        2 => "2-qaydnoma",
        _ => "3-qaydnoma",
    };
    let lines = [
        format!("{}: {}", w.faculty, st.faculty),
        format!(
            "{}: {}    {}: {}    {}: {}",
            w.course, st.course, w.semester, st.semester, w.group, st.group
        ),
        format!("{}: {}", w.subject, st.subject),
        format!("{}: {}", w.teachers, st.teachers.join(", ")),
        format!(
            "{}: {}    {}: ______________    ({sitting_word})",
            w.hours, st.hours, w.yn_date
        ),
    ]
    .iter()
    .map(|l| t(l))
    .collect();
    let rows = st
        .rows
        .iter()
        .map(|r| {
            let opt = |v: Option<f64>| v.map(number).unwrap_or_default();
            let mut values: Vec<String> = vec![
                r.number.to_string(),
                t(&r.name),
                r.record_book.clone().unwrap_or_default(),
            ];
            match st.system {
                System::Rating100 | System::CreditModule => {
                    values.push(opt(r.jn));
                    values.push(opt(r.on));
                    values.push(number(r.current));
                    values.push(if r.admitted {
                        opt(r.yn)
                    } else {
                        t(w.not_admitted)
                    });
                    values.push(opt(r.total));
                }
                System::FivePoint => {
                    values.push(opt(r.jn));
                    values.push(opt(r.on));
                }
            }
            values.push(match r.grade {
                Some(g) => g.to_string(),
                None if r.absent => t(w.absent),
                None => String::new(),
            });
            values.push(String::new());
            values
        })
        .collect();
    let [five, four, three, two, absent] = st.counts;
    let footer = t(&format!(
        "{}: {}, shundan, “5”: {five}, “4”: {four}, “3”: {three}, “2”: {two}, “{}”: {absent}",
        w.total_line,
        st.rows.len(),
        w.absent
    ));
    Printed {
        form: t(&st.form),
        university: t(&st.university),
        title: t(w.title),
        lines,
        columns: w.columns.iter().map(|c| t(c)).collect(),
        rows,
        footer,
        signatures: w
            .signatures
            .iter()
            .map(|who| format!("{}: ____________________   ____________", t(who)))
            .collect(),
    }
}

/// Writes the statement to `path`: a PDF when the name ends in `.pdf`, else an XLSX sheet.
pub fn write_statement(st: &Statement, script: Script, path: &Path) -> Result<()> {
    let pdf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    if pdf {
        crate::pdf::write_statement_pdf(st, script, path)
    } else {
        write_statement_xlsx(st, script, path)
    }
}

/// Writes the statement as an A4 XLSX sheet, in `script`.
pub fn write_statement_xlsx(st: &Statement, script: Script, path: &Path) -> Result<()> {
    let p = printed(st, script);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(&st.form)?;
    sheet.set_paper_size(9); // A4
    sheet.set_portrait();
    sheet.set_margins(0.5, 0.4, 0.6, 0.6, 0.3, 0.3);
    sheet.set_print_fit_to_pages(1, 0);
    let bold = Format::new().set_bold();
    let center_bold = Format::new().set_bold().set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let cell = Format::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let name_cell = Format::new().set_border(FormatBorder::Thin);
    let last_col = (p.columns.len() - 1) as u16;

    sheet.write_string_with_format(0, last_col, &p.form, &bold)?;
    sheet.merge_range(1, 0, 1, last_col, &p.university, &center_bold)?;
    sheet.merge_range(2, 0, 2, last_col, &p.title, &center_bold)?;
    for (i, line) in p.lines.iter().enumerate() {
        sheet.merge_range(
            3 + i as u32,
            0,
            3 + i as u32,
            last_col,
            line,
            &Format::new(),
        )?;
    }
    let header_row = 9u32;
    for (c, title) in p.columns.iter().enumerate() {
        sheet.write_string_with_format(header_row, c as u16, title, &head)?;
    }
    sheet.set_row_height(header_row, 48)?;
    sheet.set_repeat_rows(header_row, header_row)?;
    sheet.set_column_width(0, 4)?;
    sheet.set_column_width(1, 34)?;
    sheet.set_column_width(2, 13)?;
    for c in 3..last_col {
        sheet.set_column_width(c, 9)?;
    }
    sheet.set_column_width(last_col, 16)?;
    let mut row = header_row + 1;
    for values in &p.rows {
        for (c, v) in values.iter().enumerate() {
            let format = if c == 1 { &name_cell } else { &cell };
            sheet.write_string_with_format(row, c as u16, v, format)?;
        }
        row += 1;
    }
    row += 1;
    sheet.merge_range(row, 0, row, last_col, &p.footer, &Format::new())?;
    row += 2;
    for line in &p.signatures {
        sheet.merge_range(row, 0, row, last_col, line, &Format::new())?;
        row += 2;
    }
    book.save(path).map_err(|e| CoreError::Xlsx(Box::new(e)))?;
    Ok(())
}

/// The list of students at a threshold, for the dean's order: one row per student with the
/// semester's unexcused and excused hours, the level (HEMIS's words: Ogohlantirish, Hayfsan,
/// Chetlatish) and the subjects, in `script`, on A4.
pub fn write_standing_xlsx(
    list: &[crate::standing::StudentStanding],
    script: Script,
    path: &Path,
) -> Result<()> {
    let t = |s: &str| in_script(script, s);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(t("Davomat"))?;
    sheet.set_paper_size(9);
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let columns = [
        "№",
        "Talabaning familiyasi, ismi, sharifi",
        "Guruh",
        "Semestr",
        "Sababsiz qoldirilgan soatlar",
        "Sababli soatlar",
        "Holat",
        "Fanlar bo'yicha sababsiz soatlar",
    ];
    sheet.merge_range(
        0,
        0,
        0,
        (columns.len() - 1) as u16,
        &t("Sababsiz qoldirilgan dars soatlari bo'yicha talabalar ro'yxati"),
        &Format::new().set_bold().set_align(FormatAlign::Center),
    )?;
    for (c, title) in columns.iter().enumerate() {
        sheet.write_string_with_format(2, c as u16, t(title), &head)?;
    }
    sheet.set_repeat_rows(2, 2)?;
    sheet.set_column_width(0, 4)?;
    sheet.set_column_width(1, 34)?;
    sheet.set_column_width(7, 60)?;
    for (i, s) in list.iter().enumerate() {
        let row = 3 + i as u32;
        let level = s.level.hemis_word();
        let subjects: Vec<String> = s
            .subjects
            .iter()
            .filter(|h| h.unexcused_hours > 0)
            .map(|h| format!("{} — {}", t(&h.subject), h.unexcused_hours))
            .collect();
        sheet.write_number_with_format(row, 0, (i + 1) as f64, &cell)?;
        sheet.write_string_with_format(row, 1, t(&s.name), &cell)?;
        sheet.write_string_with_format(row, 2, &s.group_name, &cell)?;
        sheet.write_string_with_format(row, 3, &s.semester, &cell)?;
        sheet.write_number_with_format(row, 4, f64::from(s.unexcused_hours), &cell)?;
        sheet.write_number_with_format(row, 5, f64::from(s.excused_hours), &cell)?;
        sheet.write_string_with_format(row, 6, t(level), &cell)?;
        sheet.write_string_with_format(row, 7, subjects.join("; "), &cell)?;
    }
    let row = 5 + list.len() as u32;
    sheet.write_string(
        row,
        1,
        format!("{}: ____________________", t("Fakultet dekani")),
    )?;
    book.save(path).map_err(|e| CoreError::Xlsx(Box::new(e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_to_cyrillic() {
        assert_eq!(to_cyrillic("Karimov Jasur"), "Каримов Жасур");
        assert_eq!(to_cyrillic("Shoira G‘ulomova"), "Шоира Ғуломова");
        assert_eq!(to_cyrillic("O‘zbekiston"), "Ўзбекистон");
        assert_eq!(to_cyrillic("Yoqubov"), "Ёқубов");
        assert_eq!(to_cyrillic("Ergash"), "Эргаш");
        assert_eq!(to_cyrillic("reyting"), "рейтинг");
        assert_eq!(to_cyrillic("ma'ruza"), "маъруза");
        assert_eq!(to_cyrillic("Kafedra mudiri"), "Кафедра мудири");
        assert_eq!(to_cyrillic("Фан"), "Фан");
        assert_eq!(
            in_script(Script::Cyrillic, "Σ JN + Σ ON, YN"),
            "Σ ЖН + Σ ОН, ЯН"
        );
        assert_eq!(
            in_script(Script::Cyrillic, "ZAYNAB"),
            "ЗАЙНАБ",
            "a name keeps its letters"
        );
    }
}

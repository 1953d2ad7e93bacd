//! Standing and assessment as a dean's office meets them, through the CLI on a real replica:
//! a student absent in six subjects crosses the 36-hour reprimand line only in the semester
//! total; a student who is not admitted gets no final (YN) score, with the reason; grades come
//! from the control total; academic debtors are listed.

use std::path::Path;

use daftar_tests::cli::{fails, json, ok};
use serde_json::Value;

/// An XS demo university with no lesson marked yet: (replica, journals of one group).
fn empty_semester(dir: &Path) -> Vec<String> {
    ok(
        dir,
        &["demo", "--tier", "XS", "--seed", "5", "--filled", "0"],
    );
    let journals = json(dir, &["journals"]);
    let first_group = journals[0]["group"].clone();
    journals
        .as_array()
        .expect("journals")
        .iter()
        .filter(|j| j["group"] == first_group)
        .map(|j| j["id"].as_str().expect("id").to_string())
        .collect()
}

fn student_row<'a>(list: &'a Value, student: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|s| s["student"] == student)
}

#[test]
fn the_semester_total_decides_the_standing_not_one_subject() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("replica");
    let journals = empty_semester(&dir);
    assert!(journals.len() >= 6, "six subjects in a group: {journals:?}");
    let view = json(&dir, &["show", &journals[0]]);
    let student = view["students"][0]["id"]
        .as_str()
        .expect("student")
        .to_string();

    // Found by name too, in any case and with any apostrophe.
    let name = view["students"][0]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let typed = name.to_uppercase().replace('\'', "ʻ");
    let shown = json(&dir, &["report", &journals[0]]);
    assert!(shown["students"].as_array().is_some_and(|s| !s.is_empty()));
    ok(
        &dir,
        &[
            "mark",
            &journals[6.min(journals.len() - 1)],
            "#4",
            &typed,
            "+",
        ],
    );

    // Three missed pairs (6 h) in each of six subjects: 36 h in the semester, 6 h in each.
    for journal in &journals[..6] {
        for lesson in ["#1", "#2", "#3"] {
            ok(&dir, &["mark", journal, lesson, &student, "nb"]);
        }
    }
    let list = json(&dir, &["standing", "--level", "ok"]);
    let row = student_row(&list, &student).expect("the student is listed");
    assert_eq!(row["unexcused_hours"], 36);
    assert_eq!(row["level"], "reprimand", "{row}");
    let subjects = row["subjects"].as_array().expect("subjects");
    let missed: Vec<&Value> = subjects
        .iter()
        .filter(|s| s["unexcused_hours"].as_u64() != Some(0))
        .collect();
    assert_eq!(missed.len(), 6, "{subjects:?}");
    assert!(
        missed
            .iter()
            .all(|s| s["unexcused_hours"].as_u64() == Some(6)),
        "{subjects:?}"
    );
    // The list for the dean's order, as XLSX.
    let xlsx = tmp.path().join("hayfsan.xlsx");
    ok(
        &dir,
        &[
            "standing",
            "--level",
            "reprimand",
            "-o",
            xlsx.to_str().expect("path"),
        ],
    );
    let cells: Vec<String> = sheet_text(&xlsx).into_iter().flatten().collect();
    for needle in [
        "Sababsiz qoldirilgan soatlar",
        "Hayfsan",
        "36",
        "Fakultet dekani:",
    ] {
        assert!(
            cells.iter().any(|c| c.contains(needle)),
            "{needle} in {cells:?}"
        );
    }

    // The default list (warning and worse) has them, the reprimand list too, not expulsion.
    assert!(student_row(&json(&dir, &["standing"]), &student).is_some());
    assert!(student_row(&json(&dir, &["standing", "--level", "reprimand"]), &student).is_some());
    assert!(student_row(&json(&dir, &["standing", "--level", "expulsion"]), &student).is_none());

    // Each journal's report shows the subject's 6 h beside the semester's 36 h, and the
    // standing of the semester.
    let report = json(&dir, &["report", &journals[0]]);
    let s = report["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| s["id"] == student.as_str())
        .expect("in the report");
    assert_eq!(s["unexcused_hours"], 6);
    assert_eq!(s["semester_unexcused_hours"], 36);
    assert_eq!(s["standing"], "reprimand");
    assert_eq!(s["at_risk"], true);

    // The journal's export speaks Uzbek and carries the HEMIS student id.
    let csv = tmp.path().join("journal.csv");
    ok(
        &dir,
        &[
            "export",
            &journals[0],
            "--format",
            "csv",
            "-o",
            csv.to_str().expect("path"),
        ],
    );
    let text = std::fs::read_to_string(&csv).expect("csv");
    let header = text.lines().next().expect("header");
    for word in ["Talaba", "ID", "Sababsiz soat", "Baho", "Nazorat ballari"] {
        assert!(header.contains(word), "{word} in {header}");
    }
    assert!(
        text.lines().any(|l| l.contains(&student)),
        "the student's HEMIS id is in the export"
    );

    // An excuse from the dean's office takes two hours off the semester.
    ok(
        &dir,
        &[
            "adjust",
            &journals[0],
            "#1",
            &student,
            "--to",
            "excused",
            "--reason",
            "kasallik",
        ],
    );
    let row = student_row(&json(&dir, &["standing", "--level", "ok"]), &student)
        .expect("listed")
        .clone();
    assert_eq!(row["unexcused_hours"], 34);
    assert_eq!(row["excused_hours"], 2);
    assert_eq!(row["level"], "warning");
    assert_eq!(
        row["near_next"], true,
        "one missed pair from a reprimand again"
    );
}

#[test]
fn a_final_score_needs_admission_and_the_grade_comes_from_the_total() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("replica");
    let journals = empty_semester(&dir);
    // A rating journal whose plan is JN 40, ON1 15, ON2 15, YN 30 (70 points before YN).
    let journal = journals
        .iter()
        .find(|j| {
            let v = json(&dir, &["show", j]);
            v["marking_system"] == "rating100"
                && v["controls"].as_array().is_some_and(|c| {
                    c.iter().any(|c| c["code"] == "YN")
                        && c.iter()
                            .filter(|c| c["kind"] != "YN")
                            .map(|c| c["max"].as_f64().unwrap_or(0.0))
                            .sum::<f64>()
                            == 70.0
                })
        })
        .expect("a rating journal with a 70-point JN + ON plan")
        .clone();
    let view = json(&dir, &["show", &journal]);
    let a = view["students"][0]["id"]
        .as_str()
        .expect("student")
        .to_string();
    let b = view["students"][1]["id"]
        .as_str()
        .expect("student")
        .to_string();

    // 38 of 70 is 54.3 %: not admitted; the YN is refused with the reason.
    ok(&dir, &["score", &journal, "JN", &a, "20"]);
    ok(&dir, &["score", &journal, "ON1", &a, "9"]);
    ok(&dir, &["score", &journal, "ON2", &a, "9"]);
    let err = fails(&dir, &["score", &journal, "YN", &a, "25"]);
    assert!(err.contains("not admitted"), "{err}");
    assert!(err.contains("38 of the 38.5 points"), "{err}");
    // Half a point more: 38.5 of 70 is 55 %, admitted.
    ok(&dir, &["score", &journal, "ON2", &a, "9.5"]);
    ok(&dir, &["score", &journal, "YN", &a, "16"]);
    let report = json(&dir, &["report", &journal]);
    let sa = report["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| s["id"] == a.as_str())
        .expect("a")
        .clone();
    // 38.5 + 16 = 54.5: a 2, not rounded up to 55.
    assert_eq!(sa["control_points"], 54.5);
    assert_eq!(sa["five_point"], 2);
    assert_eq!(sa["state"], "debtor");

    // Every JN and ON in at 15 of 70: an academic debtor, listed with the reason.
    ok(&dir, &["score", &journal, "JN", &b, "5"]);
    ok(&dir, &["score", &journal, "ON1", &b, "5"]);
    ok(&dir, &["score", &journal, "ON2", &b, "5"]);
    let debtors = json(&dir, &["debtors"]);
    let listed: Vec<&str> = debtors
        .as_array()
        .expect("debtors")
        .iter()
        .filter(|d| d["journal"].as_str().is_some_and(|j| journal.ends_with(j)))
        .filter_map(|d| d["student"].as_str())
        .collect();
    assert!(
        listed.contains(&a.as_str()),
        "a failed the final: {debtors}"
    );
    assert!(listed.contains(&b.as_str()), "b is not admitted: {debtors}");
    let text = ok(&dir, &["debtors"]);
    assert!(text.contains("not admitted to the final control"), "{text}");
    assert!(text.contains("failed the final"), "{text}");

    // The retake: sitting 2 only with the dean's office's permission; JN and ON carry over.
    let err = fails(&dir, &["score", &journal, "YN:2", &a, "20"]);
    assert!(err.contains("retake permission"), "{err}");
    ok(
        &dir,
        &[
            "retake",
            &journal,
            &a,
            "--sitting",
            "2",
            "--reason",
            "buyruq 12-q",
        ],
    );
    ok(&dir, &["score", &journal, "YN:2", &a, "20"]);
    let report = json(&dir, &["report", &journal]);
    let sa = report["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| s["id"] == a.as_str())
        .expect("a")
        .clone();
    assert_eq!(sa["control_points"], 58.5, "38.5 carried over + 20");
    assert_eq!(sa["five_point"], 3);
    assert_eq!(sa["state"], "passed");
    let debtors = json(&dir, &["debtors"]);
    assert!(
        !debtors
            .as_array()
            .expect("debtors")
            .iter()
            .any(|d| d["student"] == a.as_str()
                && d["journal"].as_str().is_some_and(|j| journal.ends_with(j))),
        "no longer a debtor: {debtors}"
    );
    // b was not admitted: the retake redoes the current controls. Without the permission a
    // sitting-2 JN is refused; with it, the redone JN and ON admit b to YN at sitting 2.
    let err = fails(&dir, &["score", &journal, "JN:2", &b, "35"]);
    assert!(err.contains("retake permission"), "{err}");
    ok(&dir, &["retake", &journal, &b, "--sitting", "2"]);
    for (control, points) in [("JN:2", "35"), ("ON1:2", "12"), ("ON2:2", "12")] {
        ok(&dir, &["score", &journal, control, &b, points]);
    }
    ok(&dir, &["score", &journal, "YN:2", &b, "25"]);
    let report = json(&dir, &["report", &journal]);
    let sb = report["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| s["id"] == b.as_str())
        .expect("b")
        .clone();
    assert_eq!(sb["control_points"], 84.0, "the retake's 59 + 25");
    assert_eq!(sb["state"], "passed");
    // The sitting-2 statement (12a) lists who had not passed before it.
    let out = dir.join("12a.xlsx");
    let st = json(
        &dir,
        &[
            "statement",
            &journal,
            "--sitting",
            "2",
            "-o",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(st["form"], "12a-shakl");
    assert!(
        st["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["student"] == a.as_str() && r["grade"] == 3),
        "{st}"
    );
}

/// Every cell of the first sheet of an XLSX file, row by row.
fn sheet_text(path: &Path) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(path).expect("an XLSX reader opens it");
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).expect("the sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[test]
fn the_statement_has_the_form_s_columns_counts_and_signatures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("replica");
    let journals = empty_semester(&dir);
    let journal = journals
        .iter()
        .find(|j| json(&dir, &["show", j])["marking_system"] == "rating100")
        .expect("a rating journal")
        .clone();
    let view = json(&dir, &["show", &journal]);
    let students: Vec<String> = view["students"]
        .as_array()
        .expect("students")
        .iter()
        .filter(|s| s["status"] == "active")
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    assert!(students.len() >= 3);
    // One passes with a 5 (70 + 25 = 95), one is admitted and did not come to YN (kelmadi),
    // one is admitted and has no YN yet (no grade, not counted), the rest are not admitted (a
    // 2 on the statement).
    for (control, points) in [("JN", "40"), ("ON1", "15"), ("ON2", "15"), ("YN", "25")] {
        ok(&dir, &["score", &journal, control, &students[0], points]);
    }
    for who in [&students[1], &students[2]] {
        for (control, points) in [("JN", "30"), ("ON1", "10"), ("ON2", "10")] {
            ok(&dir, &["score", &journal, control, who, points]);
        }
    }
    ok(&dir, &["score", &journal, "YN", &students[1], "kelmadi"]);
    // Kelmadi makes an admitted student a debtor.
    let debtors = json(&dir, &["debtors"]);
    assert!(
        debtors
            .as_array()
            .expect("debtors")
            .iter()
            .any(|d| d["student"] == students[1].as_str()
                && d["assessment"]["outcome"]["debt"] == "absent"),
        "{debtors}"
    );
    // A score entered for the sitting is what counts; the absence is shown again once cleared.
    ok(&dir, &["score", &journal, "YN", &students[2], "нб"]);
    ok(&dir, &["score", &journal, "YN", &students[2], ""]);
    let out = tmp.path().join("qaydnoma.xlsx");
    let printed = json(
        &dir,
        &["statement", &journal, "-o", out.to_str().expect("path")],
    );
    assert_eq!(printed["form"], "12-shakl");
    let rows = sheet_text(&out);
    let all: Vec<String> = rows.iter().flatten().cloned().collect();
    let has = |needle: &str| all.iter().any(|c| c.contains(needle));
    assert!(has("REYTING QAYDNOMASI"), "{all:?}");
    let header = rows
        .iter()
        .find(|r| r.first().is_some_and(|c| c == "№"))
        .expect("the header row");
    assert_eq!(
        header[..10],
        [
            "№",
            "Talabaning familiyasi, ismi, sharifi",
            "Reyting daftarchasining raqami",
            "Σ JN",
            "Σ ON",
            "Σ JN + Σ ON",
            "YN",
            "Umumiy ball",
            "Baho",
            "YN o‘tkazgan o‘qituvchi imzosi"
        ]
    );
    let n = students.len();
    let footer = format!(
        "Jami talabalar soni: {n}, shundan, “5”: 1, “4”: 0, “3”: 0, “2”: {}, “Kelmadi”: 1",
        n - 3
    );
    assert!(has(&footer), "{footer} in {all:?}");
    for who in ["O‘qituvchi:", "Kafedra mudiri:", "Fakultet dekani:"] {
        assert!(has(who), "a signature line for {who}");
    }
    // In Cyrillic, as a university that writes Cyrillic prints it.
    let out = tmp.path().join("qaydnoma-cyrl.xlsx");
    ok(
        &dir,
        &[
            "statement",
            &journal,
            "--script",
            "cyrl",
            "-o",
            out.to_str().expect("path"),
        ],
    );
    let all: Vec<String> = sheet_text(&out).into_iter().flatten().collect();
    for needle in [
        "РЕЙТИНГ ҚАЙДНОМАСИ",
        "Σ ЖН + Σ ОН",
        "ЯН",
        "Факултет декани:",
        "Келмади",
    ] {
        assert!(
            all.iter().any(|c| c.contains(needle)),
            "{needle} in {all:?}"
        );
    }
    // As a PDF (by the file's name), read back by a real PDF reader (poppler's pdftotext):
    // A4, the same header, names, counts and signature lines, in Latin and in Cyrillic.
    for (script, needles) in [
        (
            "latn",
            vec![
                "REYTING QAYDNOMASI",
                "Umumiy",
                "O‘qituvchi:",
                "Fakultet dekani:",
            ],
        ),
        (
            "cyrl",
            vec![
                "РЕЙТИНГ ҚАЙДНОМАСИ",
                "Умумий",
                "Факултет декани:",
                "Келмади",
            ],
        ),
    ] {
        let pdf = tmp.path().join(format!("qaydnoma-{script}.pdf"));
        ok(
            &dir,
            &[
                "statement",
                &journal,
                "--script",
                script,
                "-o",
                pdf.to_str().expect("path"),
            ],
        );
        let text = pdf_text(&pdf);
        for needle in needles {
            assert!(
                text.contains(needle),
                "{needle} in the {script} PDF:\n{text}"
            );
        }
        let latin_footer = format!("“5”: 1, “4”: 0, “3”: 0, “2”: {}", n - 3);
        assert!(text.contains(&latin_footer), "{latin_footer} in {text}");
        let view = json(&dir, &["show", &journal]);
        let first = view["students"][0]["name"].as_str().expect("a name");
        if script == "latn" {
            let surname = first.split_whitespace().next().expect("a surname");
            assert!(text.contains(surname), "{surname} in {text}");
        }
        let info = std::process::Command::new("pdfinfo")
            .arg(&pdf)
            .output()
            .expect("pdfinfo runs");
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.contains("(A4)"), "an A4 page: {info}");
    }
}

/// The text of a PDF as poppler's `pdftotext` reads it (layout kept).
fn pdf_text(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/deps.sh --test) runs");
    assert!(
        out.status.success(),
        "pdftotext read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// The journal export speaks the university's language and script: Uzbek Latin headers by
/// default, Cyrillic with `--script cyrl`, the HEMIS student id as written either way.
#[test]
fn the_journal_export_is_in_the_university_s_script() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("replica");
    let journals = empty_semester(&dir);
    let journal = &journals[0];
    let view = json(&dir, &["show", journal]);
    let student = view["students"][0].clone();
    ok(
        &dir,
        &[
            "mark-all",
            journal,
            "#1",
            "--absent",
            student["id"].as_str().expect("id"),
        ],
    );
    for (script, talaba, nb, sababsiz) in [
        ("latn", "Talaba", "NB", "Sababsiz soat"),
        ("cyrl", "Талаба", "НБ", "Сабабсиз соат"),
    ] {
        let out = tmp.path().join(format!("jurnal-{script}.xlsx"));
        ok(
            &dir,
            &[
                "export",
                journal,
                "--script",
                script,
                "-o",
                out.to_str().expect("path"),
            ],
        );
        let rows = sheet_text(&out);
        let header = rows
            .iter()
            .find(|r| r.first().is_some_and(|c| c == "№"))
            .expect("the header row");
        assert_eq!(header[1], talaba, "{header:?}");
        assert!(header.iter().any(|h| h == sababsiz), "{header:?}");
        let row = rows
            .iter()
            .find(|r| r.get(2).map(String::as_str) == student["number"].as_str())
            .expect("the student's row, by the record-book number as written");
        assert_eq!(row[3], nb, "{row:?}");
    }
}

//! HEMIS import: the fixture export becomes catalog, groups, modules and journals; importing
//! again duplicates nothing; personal data never reaches the replica; a malformed or partial
//! export is refused whole.

use std::path::{Path, PathBuf};

use daftar_core::Replica;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hemis")
}

fn replica(dir: &Path) -> Replica {
    let mut r = Replica::open(&dir.join("replica.db")).expect("open");
    r.set_university("tatu").expect("university");
    r
}

fn count(r: &Replica, table: &str) -> i64 {
    r.raw_sql()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("count")
}

#[test]
fn imports_the_export_and_reimport_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = replica(tmp.path());
    let summary = r.import_hemis(&fixture()).expect("import");
    assert!(
        summary.changes.is_empty(),
        "a first import changes nothing that was there: {:?}",
        summary.changes
    );
    assert_eq!(summary.groups, 2);
    assert_eq!(summary.students, 8, "two pages of students");
    assert_eq!(summary.teachers, 3);
    assert_eq!(summary.modules, 4);
    assert_eq!(summary.journals, 4);
    assert_eq!(summary.lessons, 13);
    assert_eq!(summary.absences, 3);
    assert!(
        summary
            .assignments
            .contains(&("701".to_string(), "journal/g412-s301-17".to_string()))
    );
    // The computed overall control is not entered, and the import says so.
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("Umumiy") && n.contains("computed")),
        "{:?}",
        summary.notes
    );

    // HEMIS ids are kept; codes are read as HEMIS sends them.
    let journal = r
        .resolve_journal("g412-s301-17")
        .expect("journal by HEMIS ids");
    let view = r.journal_view(&journal).expect("view");
    assert_eq!(view.group_name, "401-23");
    assert_eq!(view.subject, "Ma’lumotlar bazasi");
    assert_eq!(view.semester, "7", "semester code 17 is the 7th semester");
    assert_eq!(view.marking_system, "rating100");
    assert_eq!(view.lessons.len(), 4);
    assert!(view.lessons.iter().all(|l| l.id.starts_with('h')));
    assert_eq!(
        view.lessons[0].date, "2026-09-07",
        "Unix time read in Tashkent time"
    );
    assert_eq!(
        view.lessons.iter().map(|l| l.pair).collect::<Vec<_>>(),
        [1, 1, 1, 3],
        "pair codes 11 and 13 are pairs 1 and 3"
    );
    let local = view.lessons.last().expect("the local-type lesson");
    assert_eq!(
        local.lesson_type, "99",
        "a university's own training type is kept"
    );
    assert_eq!(
        r.training_types()
            .expect("types")
            .get("99")
            .map(String::as_str),
        Some("Mustaqil ta’lim (nazorat)"),
        "with its HEMIS name"
    );
    assert_eq!(
        r.pair_times().expect("pairs").get(&3).map(String::as_str),
        Some("11:30–12:50")
    );
    assert_eq!(view.students.len(), 4);
    assert!(
        view.students
            .iter()
            .any(|s| s.id == "9001" && s.number.as_deref() == Some("321211000001"))
    );
    let codes: Vec<&str> = view.controls.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        ["1-JN", "2-JN", "1-ON", "2-ON", "YN"],
        "the sub-controls"
    );
    let absent = view
        .cells
        .iter()
        .find(|c| c.student == "9001" && c.lesson == "h60001")
        .expect("absence imported");
    assert_eq!((absent.status.as_str(), absent.hours), ("a", 2));
    let excused = view
        .cells
        .iter()
        .find(|c| c.student == "9003" && c.lesson == "h60001")
        .expect("excused imported");
    assert_eq!(excused.status, "e");
    // Attendance taken in HEMIS: held, everyone expected marked, filled; the expelled student
    // (from 16 September) is expected at the lessons before only.
    let first = &view.lessons[0];
    assert!(
        first.complete,
        "a lesson HEMIS took counts as filled: {first:?}"
    );
    assert_eq!(first.status, "held");
    assert!(
        view.cells
            .iter()
            .any(|c| c.lesson == "h60001" && c.student == "9007" && c.status == "p"),
        "9007 was a member on 7 September"
    );
    let expelled = view.students.iter().find(|s| s.id == "9007").expect("9007");
    assert_eq!(expelled.status, "left");
    assert!(
        !view.lessons[1].complete,
        "not taken in HEMIS, not marked here"
    );
    assert_eq!(
        r.lesson_members(&journal, "h60003").expect("members").len(),
        3,
        "9007 is not expected on 21 September"
    );
    // The credit-module group's journal is graded on the credit borders.
    let credit = r.resolve_journal("g413-s301-17").expect("journal");
    let credit_view = r.journal_view(&credit).expect("view");
    assert_eq!(credit_view.marking_system, "credit_module");
    let on_leave = credit_view
        .students
        .iter()
        .find(|s| s.id == "9008")
        .expect("9008");
    assert_eq!(on_leave.status, "academic_leave");
    // Per-lesson grades from student-grade-list.
    let net = r.resolve_journal("g412-s302-17").expect("journal");
    let graded = r
        .journal_view(&net)
        .expect("view")
        .cells
        .into_iter()
        .find(|c| c.lesson == "h60004" && c.student == "9001")
        .expect("a graded mark");
    assert_eq!(graded.grade, Some(85));
    let topics = r.module_topics("module/cs801").expect("topics");
    assert_eq!(topics.len(), 3);
    assert!(topics[0].1.starts_with("1-mavzu"));
    // Semester dates from semester-list, the local type's name, the pairs' times.
    let cal = r.calendar().expect("calendar");
    assert_eq!(
        cal.term_of("7").map(|t| (t.from.as_str(), t.to.as_str())),
        Some(("2026-09-07", "2027-01-16"))
    );

    let before = (
        count(&r, "changes"),
        count(&r, "students"),
        count(&r, "lessons"),
    );
    let again = r.import_hemis(&fixture()).expect("reimport");
    assert_eq!(
        again.changes_written, 0,
        "the same export again writes nothing"
    );
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(
        (
            count(&r, "changes"),
            count(&r, "students"),
            count(&r, "lessons")
        ),
        before
    );
}

/// HEMIS's control results (`student-performance-list`) become the journals' scores as HEMIS
/// graded them: sub-controls, a retake sitting (opened as the dean's office would), both
/// reference shapes; what HEMIS computes or what the journal's rules would refuse is left out
/// with a note; a score entered in Daftar is never overwritten.
#[test]
fn control_results_arrive_as_hemis_graded_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = replica(tmp.path());
    let summary = r.import_hemis(&fixture()).expect("import");
    assert_eq!(
        summary.scores, 13,
        "9 in 401-23's networks journal, 3 in 402-23's, one sub-control: {:?}",
        summary.notes
    );
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("9003") && n.contains("not admitted")),
        "a YN the JN and ON do not admit is noted, not written: {:?}",
        summary.notes
    );
    assert!(
        summary.notes.iter().any(|n| n.starts_with("1 overall")),
        "{:?}",
        summary.notes
    );

    let net = r.resolve_journal("g412-s302-17").expect("journal");
    let first = r.statement(&net, 1).expect("statement");
    let row = |st: &daftar_core::statement::Statement, s: &str| {
        st.rows
            .iter()
            .find(|row| row.student == s)
            .cloned()
            .unwrap_or_else(|| panic!("{s} on the statement"))
    };
    let jasur = row(&first, "9001");
    assert_eq!((jasur.total, jasur.grade), (Some(86.0), Some(5)));
    let sardor = row(&first, "9003");
    assert!(!sardor.admitted, "30 of 70 does not admit");
    assert_eq!(sardor.yn, None);
    let bekzod = row(&first, "9005");
    assert_eq!((bekzod.total, bekzod.grade), (Some(53.0), Some(2)));
    assert!(
        r.retake_permitted(&net, "9005", 2).expect("permission"),
        "the retake HEMIS graded is open"
    );
    let retake = r.statement(&net, 2).expect("statement 12a");
    let bekzod = row(&retake, "9005");
    assert_eq!(
        (bekzod.total, bekzod.grade),
        (Some(75.0), Some(4)),
        "JN and ON carry over to the retake"
    );
    // The switched-off record (JN 5) is not the JN.
    assert_eq!(bekzod.jn, Some(30.0));
    // The credit-module group and the sub-control written as the table's columns.
    let credit = r.resolve_journal("g413-s302-17").expect("journal");
    let nodira = row(&r.statement(&credit, 1).expect("statement"), "9002");
    assert_eq!(nodira.total, Some(93.0));
    let db = r.resolve_journal("g412-s301-17").expect("journal");
    let view = r.journal_view(&db).expect("view");
    assert!(
        view.scores
            .iter()
            .any(|s| s.control == "1-JN" && s.student == "9001" && s.points == 18.0),
        "{:?}",
        view.scores
    );

    // Again: nothing written. A score changed in Daftar stays, and the import says so.
    r.score(&net, "JN", "9001", 36.0).expect("score");
    let again = r.import_hemis(&fixture()).expect("reimport");
    assert_eq!(again.changes_written, 0);
    assert!(
        again
            .notes
            .iter()
            .any(|n| n.contains("9001") && n.contains("Daftar's score was kept")),
        "{:?}",
        again.notes
    );
    assert_eq!(
        row(&r.statement(&net, 1).expect("statement"), "9001").jn,
        Some(36.0)
    );
}

/// A second import is a sync: what changed in HEMIS (a student expelled, a lesson moved, a
/// teacher replaced, a new topic) arrives as changes and is reported; no duplicates, and every
/// mark made in Daftar stays.
#[test]
fn reimport_brings_what_changed_in_hemis_and_keeps_every_mark() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = replica(&tmp.path().join("replica"));
    r.import_hemis(&fixture()).expect("import");
    let journal = r.resolve_journal("g412-s301-17").expect("journal");
    // A teacher's marks in Daftar, on lessons HEMIS will move and hand to another teacher.
    let mark = |r: &mut Replica, lesson: &str, student: &str, status| {
        r.mark(
            &journal,
            lesson,
            student,
            daftar_core::journal::MarkInput {
                status,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect("mark");
    };
    use daftar_core::model::Attendance;
    mark(&mut r, "h60002", "9005", Attendance::Absent);
    mark(&mut r, "h60003", "9001", Attendance::Late);
    // The dean's office splits a lesson by subgroup in Daftar (HEMIS sends none).
    {
        let raw = r
            .doc("group/412")
            .expect("group")
            .get("students", "9003")
            .expect("9003");
        let mut v: daftar_core::projection::StudentValue =
            serde_json::from_str(&raw).expect("value");
        v.subgroup = Some("1".into());
        let text = serde_json::to_string(&v).expect("json");
        r.edit("group/412", "subgroup", move |doc| {
            doc.put("students", "9003", &text)?;
            Ok(daftar_core::projection::Refresh::Whole)
        })
        .expect("subgroup");
    }
    r.set_lesson_subgroup(&journal, "h60013", Some("1"))
        .expect("lesson subgroup");
    let marks_before = count(&r, "marks");

    let dir = tmp.path().join("hemis-2");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for entry in std::fs::read_dir(fixture()).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
    }
    let edit = |file: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let path = dir.join(file);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        for item in v["data"]["items"].as_array_mut().expect("items") {
            f(item);
        }
        std::fs::write(&path, serde_json::to_string(&v).expect("json")).expect("write");
    };
    // 9005 expelled on 1 October; lesson 60003 moved a day on and given to teacher 703; a
    // new topic.
    edit("student-list.json", &|s| {
        if s["id"] == 9005 {
            s["studentStatus"] = serde_json::json!({"code": "12", "name": "Chetlashtirilgan"});
            s["updated_at"] = serde_json::json!(1790794800);
        }
    });
    edit("schedule-list.json", &|l| {
        if l["id"] == 60003 {
            l["lesson_date"] =
                serde_json::json!(l["lesson_date"].as_i64().expect("a lesson date") + 86400);
            l["lessonPair"] = serde_json::json!({"code": "14", "name": "4"});
        }
        if l["id"] == 60002 {
            l["employee"] = serde_json::json!({"id": 703, "name": "Ismoilov Bobur Sobirovich"});
        }
    });
    let topics = dir.join("curriculum-subject-topic-list.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&topics).expect("read")).expect("json");
    let mut extra = v["data"]["items"][0].clone();
    extra["id"] = serde_json::json!(5099);
    extra["name"] = serde_json::json!("4-mavzu: Tranzaksiyalar");
    v["data"]["items"]
        .as_array_mut()
        .expect("items")
        .push(extra);
    v["data"]["pagination"]["totalCount"] = serde_json::json!(8);
    std::fs::write(&topics, serde_json::to_string(&v).expect("json")).expect("write");

    let summary = r.import_hemis(&dir).expect("reimport");
    let said = summary.changes.join("\n");
    assert!(
        said.contains("student 9005") && said.contains("active → left"),
        "{said}"
    );
    assert!(
        said.contains("lesson h60003") && said.contains("moved"),
        "{said}"
    );
    assert!(
        said.contains("lesson h60002") && said.contains("701 → 703"),
        "{said}"
    );
    assert!(said.contains("topic t5099 added"), "{said}");
    assert_eq!(summary.changes.len(), 4, "{said}");
    assert!(
        summary.changes_written > 0 && summary.changes_written <= 6,
        "{}",
        summary.changes_written
    );
    // No duplicates; every mark stays, on the moved lesson too.
    assert_eq!(count(&r, "lessons"), 13);
    assert_eq!(count(&r, "students"), 8);
    assert_eq!(count(&r, "marks"), marks_before);
    let view = r.journal_view(&journal).expect("view");
    let moved = view
        .lessons
        .iter()
        .find(|l| l.id == "h60003")
        .expect("h60003");
    assert_eq!((moved.date.as_str(), moved.pair), ("2026-09-22", 4));
    assert!(
        view.cells
            .iter()
            .any(|c| c.lesson == "h60003" && c.student == "9001" && c.status == "l"),
        "the late mark on the moved lesson stays"
    );
    assert_eq!(
        view.lessons
            .iter()
            .find(|l| l.id == "h60002")
            .and_then(|l| l.teacher.clone())
            .as_deref(),
        Some("703")
    );
    assert!(
        view.teachers.contains(&"703".to_string()),
        "the new teacher may write it"
    );
    assert_eq!(
        view.lessons
            .iter()
            .find(|l| l.id == "h60013")
            .and_then(|l| l.subgroup.clone())
            .as_deref(),
        Some("1"),
        "a subgroup set in Daftar stays through the re-import"
    );
}

#[test]
fn personal_data_never_reaches_the_replica() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = replica(tmp.path());
    r.import_hemis(&fixture()).expect("import");
    r.compact_all().expect("checkpoint");
    drop(r);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(tmp.path()).expect("dir") {
        bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        "AA1234501",
        "30101990000001",
        "AB7654301",
        "Chilonzor",
        "+998901234567",
        "+998935554433",
        "1009929600",
    ] {
        assert!(!text.contains(secret), "{secret} was stored");
    }
}

#[test]
fn malformed_or_partial_exports_are_refused_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = replica(&tmp.path().join("replica"));
    let copy = |name: &str| -> PathBuf {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for entry in std::fs::read_dir(fixture()).expect("fixture") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
        dir
    };

    // A truncated file.
    let broken = copy("truncated");
    let text = std::fs::read_to_string(broken.join("schedule-list.json")).expect("read");
    std::fs::write(broken.join("schedule-list.json"), &text[..text.len() / 2]).expect("write");
    let err = r.import_hemis(&broken).expect_err("refused").to_string();
    assert!(err.contains("schedule-list.json"), "{err}");

    // An item of the wrong shape: the message names the file and the item.
    let bad_item = copy("bad-item");
    let text = std::fs::read_to_string(bad_item.join("student-list-2.json")).expect("read");
    std::fs::write(
        bad_item.join("student-list-2.json"),
        text.replacen("\"group\": {", "\"group\": \"none\", \"x\": {", 1),
    )
    .expect("write");
    let err = r.import_hemis(&bad_item).expect_err("refused").to_string();
    assert!(
        err.contains("student-list-2.json") && err.contains("item 1"),
        "{err}"
    );

    // A missing page.
    let partial = copy("partial");
    std::fs::remove_file(partial.join("student-list-2.json")).expect("rm");
    let err = r.import_hemis(&partial).expect_err("refused").to_string();
    assert!(err.contains("partial"), "{err}");

    // A lesson of an unknown group.
    let orphan = copy("orphan");
    let text = std::fs::read_to_string(orphan.join("schedule-list.json")).expect("read");
    std::fs::write(
        orphan.join("schedule-list.json"),
        text.replace("\"id\": 413", "\"id\": 999"),
    )
    .expect("write");
    let err = r.import_hemis(&orphan).expect_err("refused").to_string();
    assert!(err.contains("999"), "{err}");

    // Nothing of the refused imports was written.
    assert_eq!(count(&r, "documents"), 0);
    assert_eq!(count(&r, "changes"), 0);
    assert_eq!(count(&r, "journals"), 0);
    // And a good import still works afterwards.
    r.import_hemis(&fixture()).expect("import");
    assert_eq!(count(&r, "journals"), 4);
}

/// The hand-over export speaks HEMIS: one row per marked student and lesson, keyed by the
/// schedule item and student ids the import kept, with excused hours in `absent_on`,
/// unexcused in `absent_off`, the pair as its HEMIS code and the topic's HEMIS id. A lesson
/// added in Daftar has no schedule id and says so.
#[test]
fn the_hand_over_export_is_keyed_by_hemis_ids() {
    use daftar_core::export::{ExportFormat, HEMIS_COLUMNS};
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = replica(tmp.path());
    r.import_hemis(&fixture()).expect("import");
    let journal = r.resolve_journal("g412-s301-17").expect("journal");
    let view = r.journal_view(&journal).expect("view");
    // The second lesson: HEMIS did not take it, so it is still to mark.
    let first = view.lessons[1].id.clone();
    assert_eq!(first, "h60002");
    // A topic from the module, and a present mark with a grade by the teacher.
    let topic = r
        .module_topics(&format!(
            "module/{}",
            view.module.clone().expect("a module")
        ))
        .expect("topics")
        .into_iter()
        .next()
        .expect("the module has a topic");
    r.set_topic(&journal, &first, &topic.1).expect("topic");
    let present = view
        .students
        .iter()
        .find(|s| {
            !view
                .cells
                .iter()
                .any(|c| c.lesson == first && c.student == s.id)
        })
        .expect("a student with no mark yet")
        .id
        .clone();
    r.mark(
        &journal,
        &first,
        &present,
        daftar_core::journal::MarkInput {
            status: daftar_core::model::Attendance::Present,
            grade: Some(85),
            note: None,
            hours: None,
        },
    )
    .expect("mark");
    let out = tmp.path().join("handover.csv");
    r.export_journal(&journal, ExportFormat::Hemis, None, &out)
        .expect("export");
    let text = std::fs::read_to_string(&out).expect("read");
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(lines.next(), Some(HEMIS_COLUMNS.join(",").as_str()));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let row_at = |lesson: &str, student: &str| {
        rows.iter()
            .find(|r| r[0] == lesson && r[1] == student)
            .unwrap_or_else(|| panic!("a row for {student} at lesson {lesson}: {rows:?}"))
    };
    let row = |student: &str| row_at("60001", student);
    // From the fixture's attendance: 9001 unexcused 2 h, 9003 excused 2 h.
    let karimov = row("9001");
    assert_eq!((karimov[7].as_str(), karimov[8].as_str()), ("0", "2"));
    let tursunov = row("9003");
    assert_eq!((tursunov[7].as_str(), tursunov[8].as_str()), ("2", "0"));
    let graded = row_at("60002", &present);
    assert_eq!(graded[9], "85");
    assert_eq!(graded[5], "11", "pair 1 as its HEMIS code");
    assert_eq!(graded[6], "13", "a practical");
    assert_eq!(graded[4], "14.09.2026");
    assert_eq!(
        graded[10],
        topic.0.trim_start_matches('t'),
        "the topic's HEMIS id"
    );
    assert!(
        rows.iter()
            .all(|r| r.len() == HEMIS_COLUMNS.len() && r[12].is_empty())
    );
}

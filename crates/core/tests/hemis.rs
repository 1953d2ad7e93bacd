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
    r.conn()
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
    assert_eq!(summary.groups, 2);
    assert_eq!(summary.students, 6);
    assert_eq!(summary.teachers, 2);
    assert_eq!(summary.modules, 2);
    assert_eq!(summary.journals, 4);
    assert_eq!(summary.lessons, 12);
    assert_eq!(summary.absences, 2);
    assert!(
        summary
            .assignments
            .contains(&("701".to_string(), "journal/g412-s301-17".to_string()))
    );

    // HEMIS ids are kept.
    let journal = r
        .resolve_journal("g412-s301-17")
        .expect("journal by HEMIS ids");
    let view = r.journal_view(&journal).expect("view");
    assert_eq!(view.group_name, "401-21");
    assert_eq!(view.subject, "Ma’lumotlar bazasi");
    assert_eq!(view.lessons.len(), 3);
    assert!(view.lessons.iter().all(|l| l.id.starts_with('h')));
    assert_eq!(
        view.lessons[0].date, "2026-09-07",
        "Unix time read in Tashkent time"
    );
    assert_eq!(view.students.len(), 3);
    assert!(
        view.students
            .iter()
            .any(|s| s.id == "9001" && s.number.as_deref() == Some("321211000000"))
    );
    let codes: Vec<&str> = view.controls.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["JN", "ON1", "YN"]);
    let absent = view
        .cells
        .iter()
        .find(|c| c.student == "9001")
        .expect("absence imported");
    assert_eq!((absent.status.as_str(), absent.hours), ("a", 2));
    let excused = view
        .cells
        .iter()
        .find(|c| c.student == "9003")
        .expect("excused imported");
    assert_eq!(excused.status, "e");
    let topics = r.module_topics("module/cs801").expect("topics");
    assert_eq!(topics.len(), 4);
    assert!(topics[0].1.starts_with("1-mavzu"));

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
    assert_eq!(
        (
            count(&r, "changes"),
            count(&r, "students"),
            count(&r, "lessons")
        ),
        before
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
        "AA1234567",
        "30101990000000",
        "AB7654321",
        "Chilonzor",
        "+998901234567",
        "1009843200",
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
    let first = view.lessons[0].id.clone();
    assert_eq!(first, "h60001");
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
    let row = |student: &str| {
        rows.iter()
            .find(|r| r[0] == "60001" && r[1] == student)
            .unwrap_or_else(|| panic!("a row for {student} at lesson 60001: {rows:?}"))
    };
    // From the fixture's attendance: 9001 unexcused 2 h, 9003 excused 2 h.
    let karimov = row("9001");
    assert_eq!((karimov[7].as_str(), karimov[8].as_str()), ("0", "2"));
    let tursunov = row("9003");
    assert_eq!((tursunov[7].as_str(), tursunov[8].as_str()), ("2", "0"));
    let graded = row(&present);
    assert_eq!(graded[9], "85");
    assert_eq!(graded[5], "11", "pair 1 as its HEMIS code");
    assert_eq!(graded[6], "11", "a lecture");
    assert_eq!(graded[4], "07.09.2026");
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

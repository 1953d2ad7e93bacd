//! Adjustments keep their history (issue 9): each is its own entry of the cell, a second one
//! never hides the first, the effective value follows the latest approved one, and two offices
//! adjusting the same cell offline make two entries, not a conflict.

use daftar_core::Replica;
use daftar_core::demo::{DemoSpec, Tier, generate};
use daftar_core::model::{AdjustmentValue, Attendance};

fn replica(dir: &std::path::Path, name: &str) -> Replica {
    let mut r = Replica::open(&dir.join(name)).expect("open");
    r.set_university("demo").expect("university");
    r
}

fn cell(r: &Replica, journal: &str, lesson: &str, student: &str) -> serde_json::Value {
    let view = serde_json::to_value(r.journal_view(journal).expect("view")).expect("json");
    view["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["lesson"] == lesson && c["student"] == student)
        .cloned()
        .expect("cell")
}

#[test]
fn every_adjustment_is_kept_and_the_latest_approved_counts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut a = replica(tmp.path(), "a.db");
    generate(&mut a, &DemoSpec::new(Tier::Xs, 3), |_, _| {}).expect("demo");
    let journal = a
        .resolve_journal(&a.journals().expect("journals")[0].id)
        .expect("journal");
    let view = a.journal_view(&journal).expect("view");
    let marked = view
        .cells
        .iter()
        .find(|c| c.status == "a")
        .expect("an absence");
    let (lesson, student) = (marked.lesson.clone(), marked.student.clone());

    a.adjust(
        &journal,
        &lesson,
        &student,
        Attendance::Excused,
        "tibbiy ma'lumotnoma 0412",
        Some("086/u"),
    )
    .expect("excused");
    assert_eq!(cell(&a, &journal, &lesson, &student)["effective"], "e");
    a.record_adjustment(
        &journal,
        &lesson,
        &student,
        AdjustmentValue {
            to: Attendance::Absent,
            reason: "the certificate is for another date".into(),
            document: None,
            status: "approved".into(),
            kind: Some("12".into()),
            deadline: Some("2026-12-20".into()),
        },
    )
    .expect("correction");
    let c = cell(&a, &journal, &lesson, &student);
    assert_eq!(c["effective"], "a", "the latest approved entry counts: {c}");
    assert_eq!(c["status"], "a", "the teacher's mark is untouched");
    let history = a
        .history(&journal, Some(&lesson), Some(&student))
        .expect("history");
    let entries: Vec<_> = history.iter().filter(|e| e.map == "adjustments").collect();
    assert_eq!(entries.len(), 2, "the first is not hidden: {history:?}");

    // Two offices (here two replicas) adjust the same cell without seeing each other: two
    // entries, no inbox entry, and both replicas agree on the effective one.
    let mut b = replica(tmp.path(), "b.db");
    b.import_bundle(a.export_bundle().expect("bundle"))
        .expect("import");
    a.adjust(
        &journal,
        &lesson,
        &student,
        Attendance::Excused,
        "second certificate",
        None,
    )
    .expect("a");
    b.adjust(
        &journal,
        &lesson,
        &student,
        Attendance::Late,
        "came at 9:10",
        None,
    )
    .expect("b");
    b.import_bundle(a.export_bundle().expect("bundle"))
        .expect("a → b");
    a.import_bundle(b.export_bundle().expect("bundle"))
        .expect("b → a");
    assert_eq!(
        cell(&a, &journal, &lesson, &student),
        cell(&b, &journal, &lesson, &student)
    );
    assert!(a.conflicts(Some(&journal)).expect("inbox").is_empty());
    let history = b
        .history(&journal, Some(&lesson), Some(&student))
        .expect("history");
    assert_eq!(history.iter().filter(|e| e.map == "adjustments").count(), 4);
}

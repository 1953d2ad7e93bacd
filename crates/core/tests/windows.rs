//! Entry windows (issue 9): a mark written after the lesson's window closed, by a device that
//! had not heard of the window, is kept but waits as an amendment; the value before it stays
//! in effect on every replica until the office decides.

use daftar_core::Replica;
use daftar_core::conflicts::Choice;
use daftar_core::demo::{DemoSpec, Tier, generate};
use daftar_core::journal::MarkInput;
use daftar_core::model::Attendance;

fn replica(dir: &std::path::Path, name: &str) -> Replica {
    let mut r = Replica::open(&dir.join(name)).expect("open");
    r.set_university("demo").expect("university");
    r
}

fn status(r: &Replica, journal: &str, lesson: &str, student: &str) -> String {
    r.journal_view(journal)
        .expect("view")
        .cells
        .into_iter()
        .find(|c| c.lesson == lesson && c.student == student)
        .map(|c| c.status)
        .unwrap_or_default()
}

#[test]
fn a_late_mark_waits_and_the_earlier_value_stays_in_effect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut office = replica(tmp.path(), "office.db");
    generate(&mut office, &DemoSpec::new(Tier::Xs, 5), |_, _| {}).expect("demo");
    let journal = office
        .resolve_journal(&office.journals().expect("journals")[0].id)
        .expect("journal");
    let view = office.journal_view(&journal).expect("view");
    let cell = view
        .cells
        .iter()
        .find(|c| c.status == "p")
        .expect("a present mark");
    let (lesson, student) = (cell.lesson.clone(), cell.student.clone());

    // The teacher's laptop has the journal, not yet the window.
    let mut laptop = replica(tmp.path(), "laptop.db");
    laptop
        .import_bundle(office.export_bundle().expect("bundle"))
        .expect("import");
    office.set_entry_window(Some(0)).expect("window");

    // Months after the lesson, the laptop marks it absent.
    laptop.set_clock(|| 1_798_000_000_000); // 2026-12-23
    laptop
        .mark(
            &journal,
            &lesson,
            &student,
            MarkInput {
                status: Attendance::Absent,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect("the laptop knows no window");
    office
        .import_bundle(laptop.export_bundle().expect("bundle"))
        .expect("laptop → office");
    laptop
        .import_bundle(office.export_bundle().expect("bundle"))
        .expect("office → laptop");

    for r in [&office, &laptop] {
        assert_eq!(
            status(r, &journal, &lesson, &student),
            "p",
            "the value before stays"
        );
        let inbox = r.conflicts(Some(&journal)).expect("inbox");
        assert_eq!(inbox.len(), 1, "{inbox:?}");
        assert_eq!(inbox[0].kind, "amendment");
        assert!(inbox[0].values.iter().any(|v| v.locked));
    }
    // With the window known, the laptop itself now refuses such a mark on the spot.
    let err = laptop
        .mark(
            &journal,
            &lesson,
            &student,
            MarkInput {
                status: Attendance::Late,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect_err("late");
    assert!(err.to_string().contains("entry window closed"), "{err}");

    // The office accepts the late value: in effect everywhere, the inbox empty.
    let entry = office.conflicts(Some(&journal)).expect("inbox").remove(0);
    let pick = entry.values.iter().position(|v| !v.locked).expect("late") + 1;
    office
        .resolve(&entry.id, Choice::Pick(pick), Some("checked"))
        .expect("resolve");
    laptop
        .import_bundle(office.export_bundle().expect("bundle"))
        .expect("office → laptop");
    for r in [&office, &laptop] {
        assert_eq!(status(r, &journal, &lesson, &student), "a");
        assert!(r.conflicts(Some(&journal)).expect("inbox").is_empty());
    }
}

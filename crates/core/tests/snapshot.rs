//! A document that arrives whole (a server snapshot, a full bundle) into a replica that never
//! had it is stored as that snapshot, not as a row per change, and behaves like any other
//! document afterwards: it reopens, takes local edits, compacts and travels on in bundles.

use daftar_core::Replica;
use daftar_core::demo::{DemoSpec, Tier, generate};
use daftar_core::journal::MarkInput;
use daftar_core::model::Attendance;

fn count(r: &Replica, sql: &str) -> i64 {
    r.raw_sql().query_row(sql, [], |row| row.get(0)).expect(sql)
}

fn views(r: &mut Replica) -> Vec<String> {
    let mut ids = r
        .journals()
        .expect("journals")
        .into_iter()
        .map(|j| r.resolve_journal(&j.id).expect("journal id"))
        .collect::<Vec<_>>();
    ids.sort();
    ids.iter()
        .map(|id| serde_json::to_string(&r.journal_view(id).expect("view")).expect("json"))
        .collect()
}

#[test]
fn whole_documents_are_kept_as_snapshots_and_stay_editable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut a = Replica::open(&tmp.path().join("a.db")).expect("open a");
    a.set_university("demo").expect("university");
    generate(&mut a, &DemoSpec::new(Tier::Xs, 7), |_, _| {}).expect("demo");
    let bundle = a.export_bundle().expect("bundle");
    let documents = a.doc_ids().expect("ids").len() as i64;

    let b_path = tmp.path().join("b.db");
    let mut b = Replica::open(&b_path).expect("open b");
    b.set_university("demo").expect("university");
    let report = b.import_bundle(bundle).expect("import");
    assert_eq!(report.documents as i64, documents);
    assert_eq!(
        report.new_changes as i64,
        count(&a, "SELECT count(*) FROM changes"),
        "every change of every document counted"
    );
    assert_eq!(
        count(&b, "SELECT count(*) FROM changes"),
        0,
        "no row per change"
    );
    assert_eq!(
        count(
            &b,
            "SELECT count(*) FROM documents WHERE snapshot IS NOT NULL"
        ),
        documents
    );
    assert_eq!(views(&mut a), views(&mut b), "same journals");

    // Reopened, edited: the edit sits on top of the snapshot.
    drop(b);
    let mut b = Replica::open(&b_path).expect("reopen b");
    assert_eq!(
        views(&mut a),
        views(&mut b),
        "same journals after reopening"
    );
    let view = {
        let id = b.journals().expect("journals")[0].id.clone();
        let id = b.resolve_journal(&id).expect("journal id");
        b.journal_view(&id).expect("view")
    };
    let (journal, lesson, student) = (
        b.resolve_journal(&view.id).expect("journal id"),
        view.lessons[0].id.clone(),
        view.students[0].id.clone(),
    );
    b.mark(
        &journal,
        &lesson,
        &student,
        MarkInput {
            status: Attendance::Excused,
            grade: None,
            note: Some("spravka".into()),
            hours: None,
        },
    )
    .expect("mark on b");
    assert_eq!(count(&b, "SELECT count(*) FROM changes WHERE local = 1"), 1);

    // Back to a with only what a lacks; a and b agree.
    let heads = a.heads().expect("heads");
    let back = b.export_for(&heads).expect("export for a");
    a.import_bundle(back).expect("import on a");
    assert_eq!(views(&mut a), views(&mut b), "converged");

    // Compaction folds the snapshot and the edit into one; the journals do not change.
    let before = views(&mut b);
    b.compact_all().expect("compact");
    drop(b);
    let mut b = Replica::open(&b_path).expect("reopen b");
    assert_eq!(views(&mut b), before);
}

#[test]
fn a_snapshot_with_later_changes_keeps_the_changes_as_rows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut a = Replica::open(&tmp.path().join("a.db")).expect("open a");
    a.set_university("demo").expect("university");
    generate(&mut a, &DemoSpec::new(Tier::Xs, 11), |_, _| {}).expect("demo");
    let journal = {
        let id = a.journals().expect("journals")[0].id.clone();
        a.resolve_journal(&id).expect("journal id")
    };
    // Every document saved whole now; the journal then gets two more edits.
    let mut incoming: Vec<daftar_core::Incoming> = a
        .export_bundle()
        .expect("bundle")
        .chunks
        .into_iter()
        .collect();
    let heads = a.doc(&journal).expect("doc").am.get_heads();
    let view = a.journal_view(&journal).expect("view");
    for (i, student) in view.students.iter().take(2).enumerate() {
        a.mark(
            &journal,
            &view.lessons[i].id,
            &student.id,
            MarkInput {
                status: Attendance::Late,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect("mark");
    }
    for change in a.doc(&journal).expect("doc").am.get_changes(&heads) {
        incoming.push(daftar_core::Incoming::Change {
            doc: journal.clone(),
            bytes: change.raw_bytes().to_vec(),
        });
    }

    let mut c = Replica::open(&tmp.path().join("c.db")).expect("open c");
    c.set_university("demo").expect("university");
    c.apply_remote(incoming).expect("apply");
    assert_eq!(
        count(&c, "SELECT count(*) FROM changes"),
        2,
        "the two later changes are rows; the rest is in the snapshots"
    );
    assert_eq!(views(&mut a), views(&mut c), "same journals");
    drop(c);
    let mut c = Replica::open(&tmp.path().join("c.db")).expect("reopen c");
    assert_eq!(
        views(&mut a),
        views(&mut c),
        "same journals after reopening"
    );
}

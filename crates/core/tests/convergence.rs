//! The CRDT law that matters here: replicas that edit the same journal concurrently (the same
//! cells too), and exchange bundles in any order, partially and repeatedly, end with the same
//! projection, the same `show` output and the same conflict inbox once they have seen each
//! other's changes.
//!
//! `PROPTEST_CASES` overrides the number of cases (500 by default, as CI runs it).

use std::sync::OnceLock;

use daftar_core::Replica;
use daftar_core::bundle::Bundle;
use daftar_core::conflicts::Choice;
use daftar_core::demo::{DemoSpec, Tier};
use daftar_core::journal::MarkInput;
use daftar_core::model::Attendance;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

const REPLICAS: usize = 3;
const LESSONS: usize = 3;
const STUDENTS: usize = 3;

/// Bundle bytes, journal id, its lesson ids, the students edited.
type Origin = (Vec<u8>, String, Vec<String>, Vec<String>);

/// The origin's bundle, made once: a tiny demo university with empty lessons.
fn origin() -> &'static Origin {
    static ORIGIN: OnceLock<Origin> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let mut r = Replica::open(std::path::Path::new(":memory:")).expect("open");
        let mut spec = DemoSpec::new(Tier::Xs, 42);
        spec.subjects_per_group = 1;
        spec.lessons = LESSONS;
        spec.filled = 0.0;
        daftar_core::demo::generate(&mut r, &spec, |_, _| {}).expect("demo");
        let journal = r
            .resolve_journal(&r.journals().expect("journals")[0].id)
            .expect("journal");
        let view = r.journal_view(&journal).expect("view");
        let lessons = view.lessons.iter().map(|l| l.id.clone()).collect();
        let students = view
            .students
            .iter()
            .take(STUDENTS)
            .map(|s| s.id.clone())
            .collect();
        (
            r.export_bundle().expect("bundle").encode(),
            journal,
            lessons,
            students,
        )
    })
}

#[derive(Debug, Clone)]
enum Op {
    Mark {
        r: usize,
        lesson: usize,
        student: usize,
        status: usize,
        grade: Option<u32>,
    },
    MarkAll {
        r: usize,
        lesson: usize,
        absent: Vec<usize>,
    },
    Score {
        r: usize,
        student: usize,
        points: u8,
    },
    Topic {
        r: usize,
        lesson: usize,
        topic: u8,
    },
    Adjust {
        r: usize,
        lesson: usize,
        student: usize,
    },
    Lock {
        r: usize,
        lesson: usize,
    },
    Resolve {
        r: usize,
        pick: usize,
    },
    Exchange {
        from: usize,
        to: usize,
        partial: Option<u64>,
        twice: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let r = 0..REPLICAS;
    prop_oneof![
        6 => (r.clone(), 0..LESSONS, 0..STUDENTS, 0..4usize, proptest::option::of(55u32..=100))
            .prop_map(|(r, lesson, student, status, grade)| Op::Mark { r, lesson, student, status, grade }),
        2 => (r.clone(), 0..LESSONS, proptest::collection::vec(0..STUDENTS, 0..2))
            .prop_map(|(r, lesson, absent)| Op::MarkAll { r, lesson, absent }),
        2 => (r.clone(), 0..STUDENTS, 0u8..=15).prop_map(|(r, student, points)| Op::Score { r, student, points }),
        1 => (r.clone(), 0..LESSONS, 0u8..3).prop_map(|(r, lesson, topic)| Op::Topic { r, lesson, topic }),
        1 => (r.clone(), 0..LESSONS, 0..STUDENTS).prop_map(|(r, lesson, student)| Op::Adjust { r, lesson, student }),
        1 => (r.clone(), 0..LESSONS).prop_map(|(r, lesson)| Op::Lock { r, lesson }),
        2 => (r.clone(), 1usize..3).prop_map(|(r, pick)| Op::Resolve { r, pick }),
        5 => (r.clone(), r, proptest::option::of(any::<u64>()), any::<bool>())
            .prop_map(|(from, to, partial, twice)| Op::Exchange { from, to, partial, twice }),
    ]
}

/// Everything the projection and the screens show, as text.
fn dump(r: &Replica, journal: &str) -> String {
    let mut out = String::new();
    for (table, order) in [
        ("catalog", "id"),
        ("faculties", "id"),
        ("departments", "id"),
        ("teachers", "id"),
        ("groups", "id"),
        ("students", "group_id, id"),
        ("modules", "id"),
        ("module_topics", "module_id, id"),
        ("module_controls", "module_id, code"),
        ("journals", "id"),
        ("lessons", "journal_id, id"),
        ("marks", "journal_id, lesson_id, student_id"),
        ("scores", "journal_id, control, sitting, student_id"),
        ("adjustments", "journal_id, lesson_id, student_id"),
        ("conflicts", "id"),
        ("resolutions", "doc_id, key"),
    ] {
        let mut stmt = r
            .raw_sql()
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .expect("prepare");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let mut cells = Vec::with_capacity(n);
                for i in 0..n {
                    let v: rusqlite::types::Value = row.get(i)?;
                    cells.push(format!("{v:?}"));
                }
                Ok(cells.join("|"))
            })
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        out.push_str(&format!("## {table}\n{}\n", rows.join("\n")));
    }
    out.push_str(&serde_json::to_string(&r.journal_view(journal).expect("view")).expect("json"));
    out.push_str(&serde_json::to_string(&r.conflicts(None).expect("inbox")).expect("json"));
    out
}

/// The first differing line of two dumps, for a readable failure.
fn first_diff(a: &str, b: &str) -> String {
    for (x, y) in a.lines().zip(b.lines()) {
        if x != y {
            let cut = |s: &str| s.chars().take(400).collect::<String>();
            return format!("\n  left:  {}\n  right: {}", cut(x), cut(y));
        }
    }
    format!("lengths differ ({} vs {} bytes)", a.len(), b.len())
}

fn exchange(replicas: &mut [Replica], from: usize, to: usize, partial: Option<u64>) {
    let bundle = match partial {
        None => replicas[from].export_bundle().expect("export"),
        Some(seed) => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            replicas[from]
                .export_changes(|_, _| rng.random_bool(0.5))
                .expect("export changes")
        }
    };
    // Through bytes, as a file would carry it.
    let bundle = Bundle::decode(&bundle.encode()).expect("decode");
    replicas[to].import_bundle(bundle).expect("import");
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let (bytes, journal, lessons, students) = origin();
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|i| {
            let mut r = Replica::open(std::path::Path::new(":memory:")).expect("open");
            r.set_user(&format!("user{i}")).expect("user");
            r.import_bundle(Bundle::decode(bytes).expect("decode"))
                .expect("seed");
            r
        })
        .collect();
    let statuses = [
        Attendance::Present,
        Attendance::Absent,
        Attendance::Excused,
        Attendance::Late,
    ];
    for op in ops {
        // Refusals (locked lesson, no mark to adjust…) are fine; panics and damage are not.
        let _ = match op.clone() {
            Op::Mark {
                r,
                lesson,
                student,
                status,
                grade,
            } => replicas[r].mark(
                journal,
                &lessons[lesson],
                &students[student],
                MarkInput {
                    status: statuses[status],
                    grade,
                    note: None,
                    hours: None,
                },
            ),
            Op::MarkAll { r, lesson, absent } => {
                let absent: Vec<String> = absent.iter().map(|i| students[*i].clone()).collect();
                replicas[r]
                    .mark_all(journal, &lessons[lesson], &absent)
                    .map(|_| ())
            }
            Op::Score { r, student, points } => {
                replicas[r].score(journal, "ON1", &students[student], f64::from(points))
            }
            Op::Topic { r, lesson, topic } => {
                replicas[r].set_topic(journal, &lessons[lesson], &format!("Mavzu {topic}"))
            }
            Op::Adjust { r, lesson, student } => replicas[r].adjust(
                journal,
                &lessons[lesson],
                &students[student],
                Attendance::Excused,
                "medical certificate",
                None,
            ),
            Op::Lock { r, lesson } => replicas[r].lock(journal, Some(&lessons[lesson]), "deadline"),
            Op::Resolve { r, pick } => match replicas[r].conflicts(None).expect("inbox").first() {
                Some(c) => {
                    let id = c.id.clone();
                    replicas[r].resolve(
                        &id,
                        Choice::Pick(pick.min(c.values.len())),
                        Some("decided"),
                    )
                }
                None => Ok(()),
            },
            Op::Exchange {
                from,
                to,
                partial,
                twice,
            } => {
                if from != to {
                    exchange(&mut replicas, from, to, partial);
                    if twice {
                        exchange(&mut replicas, from, to, partial);
                    }
                }
                Ok(())
            }
        };
    }
    // Everyone meets everyone (twice, so changes relayed through a third replica arrive too).
    for _ in 0..2 {
        for from in 0..REPLICAS {
            for to in 0..REPLICAS {
                if from != to {
                    exchange(&mut replicas, from, to, None);
                }
            }
        }
    }
    let first = dump(&replicas[0], journal);
    for (i, r) in replicas.iter().enumerate().skip(1) {
        let other = dump(r, journal);
        prop_assert!(
            first == other,
            "replica {} differs from replica 0: {}",
            i,
            first_diff(&first, &other)
        );
    }
    // The projection equals a rebuild from the documents (no drift from incremental updates).
    let mut rebuilt = Replica::open(std::path::Path::new(":memory:")).expect("open");
    rebuilt
        .import_bundle(replicas[0].export_bundle().expect("export"))
        .expect("import");
    let again = dump(&rebuilt, journal);
    prop_assert!(
        first == again,
        "incremental projection drifted from a rebuild: {}",
        first_diff(&first, &again)
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn replicas_converge_whatever_the_exchange_order(ops in proptest::collection::vec(op(), 1..30)) {
        run(&ops)?;
    }
}

/// Concurrent marks on one cell from three replicas give one inbox entry with three values.
#[test]
fn three_way_conflict_keeps_every_value() {
    let (bytes, journal, lessons, students) = origin();
    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| {
            let mut r = Replica::open(std::path::Path::new(":memory:")).expect("open");
            r.set_user(&format!("user{i}")).expect("user");
            r.import_bundle(Bundle::decode(bytes).expect("decode"))
                .expect("seed");
            r
        })
        .collect();
    for (i, r) in replicas.iter_mut().enumerate() {
        r.mark(
            journal,
            &lessons[0],
            &students[0],
            MarkInput {
                status: Attendance::Present,
                grade: Some(60 + i as u32),
                note: None,
                hours: None,
            },
        )
        .expect("mark");
    }
    for from in 0..3 {
        for to in 0..3 {
            if from != to {
                exchange(&mut replicas, from, to, None);
            }
        }
    }
    for r in &replicas {
        let inbox = r.conflicts(None).expect("inbox");
        assert_eq!(inbox.len(), 1);
        let users: Vec<_> = inbox[0]
            .values
            .iter()
            .filter_map(|v| v.user.clone())
            .collect();
        assert_eq!(users.len(), 3, "{users:?}");
        for u in ["user0", "user1", "user2"] {
            assert!(users.iter().any(|x| x == u), "{u} missing from {users:?}");
        }
    }
}

/// A mark made offline on a device that had not seen the lock becomes an amendment.
#[test]
fn late_edit_to_locked_lesson_is_an_amendment_not_lost() {
    let (bytes, journal, lessons, students) = origin();
    let mut replicas: Vec<Replica> = (0..2)
        .map(|i| {
            let mut r = Replica::open(std::path::Path::new(":memory:")).expect("open");
            r.set_user(if i == 0 { "dean" } else { "teacher" })
                .expect("user");
            r.import_bundle(Bundle::decode(bytes).expect("decode"))
                .expect("seed");
            r
        })
        .collect();
    replicas[0]
        .lock(journal, Some(&lessons[1]), "deadline passed")
        .expect("lock");
    replicas[1]
        .mark(
            journal,
            &lessons[1],
            &students[1],
            MarkInput {
                status: Attendance::Absent,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect("offline mark before seeing the lock");
    exchange(&mut replicas, 1, 0, None);
    exchange(&mut replicas, 0, 1, None);
    for r in &replicas {
        let inbox = r.conflicts(None).expect("inbox");
        assert_eq!(inbox.len(), 1, "{inbox:?}");
        assert_eq!(inbox[0].kind, "amendment");
        assert!(
            inbox[0]
                .values
                .iter()
                .any(|v| v.display == "NB" && v.user.as_deref() == Some("teacher"))
        );
    }
    // Once the lesson is locked here, a local edit is refused with the reason…
    let err = replicas[1]
        .mark(
            journal,
            &lessons[1],
            &students[2],
            MarkInput {
                status: Attendance::Present,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect_err("locked");
    assert!(err.to_string().contains("deadline passed"));
    // …and the dean accepts the amendment, which clears it everywhere.
    let id = replicas[0].conflicts(None).expect("inbox")[0].id.clone();
    let pick = replicas[0].conflicts(None).expect("inbox")[0]
        .values
        .iter()
        .position(|v| v.display == "NB")
        .expect("NB")
        + 1;
    replicas[0]
        .resolve(&id, Choice::Pick(pick), Some("accepted late mark"))
        .expect("resolve");
    assert_eq!(
        replicas[0].conflicts(None).expect("inbox"),
        vec![],
        "resolved on the dean's replica"
    );
    exchange(&mut replicas, 0, 1, None);
    for r in &replicas {
        assert_eq!(r.conflicts(None).expect("inbox"), vec![]);
    }
}

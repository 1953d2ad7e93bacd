//! The start of a pair on a real replica with demo data: the lesson a journal opens at, the
//! topic each lesson is offered first, and a roll call typed as row numbers or names.

use daftar_core::Replica;
use daftar_core::demo::{DemoSpec, Tier, generate};
use daftar_core::journal::NewLesson;
use daftar_core::model::LessonType;
use daftar_core::today::roll_call;

fn demo(dir: &std::path::Path) -> (Replica, String) {
    let mut r = Replica::open(&dir.join("replica.db")).expect("open");
    r.set_university("demo").expect("university");
    generate(&mut r, &DemoSpec::new(Tier::Xs, 5), |_, _| {}).expect("demo");
    let journal = r
        .journals()
        .expect("journals")
        .into_iter()
        .find(|j| j.students == 25)
        .expect("a 25-student journal")
        .id;
    let journal = r.resolve_journal(&journal).expect("the journal");
    (r, journal)
}

/// Unix ms of noon in Tashkent on `date`.
fn noon(date: &str) -> i64 {
    daftar_rules::window::end_of_day(date, 0).expect("date") - 12 * 3600 * 1000
}

#[test]
fn a_journal_opens_on_todays_lesson_else_the_next_to_fill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut r, journal) = demo(tmp.path());
    let lesson = r
        .add_lesson(
            &journal,
            NewLesson {
                date: "2026-12-01".into(),
                pair: 6,
                lesson_type: LessonType::parse("13").expect("type"),
                topic: None,
                teacher: None,
                subgroup: None,
            },
        )
        .expect("add today's lesson");
    r.set_clock(|| noon("2026-12-01"));
    let view = r.journal_view(&journal).expect("view");
    let plan = r.lesson_plan(&journal, &view).expect("plan");
    let focus = plan.focus.clone().expect("a lesson to open at");
    let focused = view
        .lessons
        .iter()
        .find(|l| l.id == focus)
        .expect("the focus");
    assert_eq!(focused.date, "2026-12-01", "today's lesson first");

    // Marked and with a topic, today's lesson is done: the journal opens at the next one.
    r.mark_all(&journal, &lesson, &[]).expect("roll call");
    let topic = plan
        .next_topics
        .get(&lesson)
        .cloned()
        .expect("a next topic for it");
    r.set_topic(&journal, &lesson, &topic).expect("topic");
    let view = r.journal_view(&journal).expect("view");
    let plan = r.lesson_plan(&journal, &view).expect("plan");
    if let Some(f) = &plan.focus {
        let l = view.lessons.iter().find(|l| &l.id == f).expect("the focus");
        assert_ne!(
            l.id, lesson,
            "a finished lesson is not where the journal opens"
        );
        assert!(l.unmarked > 0 || l.topic.is_none());
    }
}

#[test]
fn each_lesson_without_a_topic_is_offered_the_next_unused_one_of_its_type() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (r, journal) = demo(tmp.path());
    let view = r.journal_view(&journal).expect("view");
    let plan = r.lesson_plan(&journal, &view).expect("plan");
    let module = view.module.clone().expect("a module");
    let topics = r
        .module_topics(&daftar_core::catalog::doc_id("module", &module))
        .expect("topics");
    let used: Vec<String> = view
        .lessons
        .iter()
        .filter_map(|l| l.topic.clone())
        .collect();
    assert!(
        !plan.next_topics.is_empty(),
        "the demo leaves lessons without topics"
    );
    let mut offered: Vec<&String> = plan.next_topics.values().collect();
    offered.sort();
    offered.dedup();
    assert_eq!(
        offered.len(),
        plan.next_topics.len(),
        "no topic offered twice"
    );
    // In lesson order too: the earlier of two topicless lessons of a type gets the earlier
    // topic.
    let position = |name: &str| topics.iter().position(|(_, n, _)| n == name).expect("pos");
    let mut by_type: std::collections::BTreeMap<&str, Vec<(String, i64, usize)>> =
        Default::default();
    for (lesson, topic) in &plan.next_topics {
        let l = view
            .lessons
            .iter()
            .find(|l| &l.id == lesson)
            .expect("lesson");
        assert!(l.topic.is_none());
        assert!(!used.contains(topic), "{topic} is already used");
        let (_, _, ty) = topics
            .iter()
            .find(|(_, n, _)| n == topic)
            .expect("a module topic");
        assert!(ty.is_none() || ty.as_deref() == Some(l.lesson_type.as_str()));
        by_type.entry(l.lesson_type.as_str()).or_default().push((
            l.date.clone(),
            l.pair,
            position(topic),
        ));
    }
    for list in by_type.values_mut() {
        list.sort();
        assert!(list.windows(2).all(|w| w[0].2 < w[1].2), "{list:?}");
    }
}

#[test]
fn a_roll_call_reads_rows_and_names_and_refuses_what_it_cannot_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (r, journal) = demo(tmp.path());
    let view = r.journal_view(&journal).expect("view");
    let id = |row: usize| view.students[row - 1].id.clone();
    assert_eq!(roll_call(&view, "5 17").expect("rows"), vec![id(5), id(17)]);
    assert_eq!(
        roll_call(&view, " 5,17;5 ").expect("rows"),
        vec![id(5), id(17)]
    );
    assert_eq!(roll_call(&view, "").expect("nothing"), Vec::<String>::new());

    // A whole surname typed with another apostrophe finds its student.
    let (row, student) = view
        .students
        .iter()
        .enumerate()
        .find(|(_, s)| {
            let surname = s
                .name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase();
            view.students
                .iter()
                .filter(|o| {
                    o.name
                        .to_lowercase()
                        .split_whitespace()
                        .any(|w| w.starts_with(&surname))
                })
                .count()
                == 1
        })
        .expect("a student with a surname of their own");
    let surname = student.name.split_whitespace().next().unwrap_or_default();
    let typed = surname.replace('\'', "ʻ").replace('‘', "’").to_uppercase();
    assert_eq!(
        roll_call(&view, &typed).expect("a name"),
        vec![id(row + 1)],
        "{typed}"
    );

    let err = roll_call(&view, "26").expect_err("no row 26").to_string();
    assert!(
        err.contains("no row 26") && err.contains("25 students"),
        "{err}"
    );
    let err = roll_call(&view, "zzzz").expect_err("nobody").to_string();
    assert!(err.contains("zzzz"), "{err}");
    // One letter fits several students: refused, with their rows.
    let letter = view.students[0]
        .name
        .chars()
        .next()
        .expect("a letter")
        .to_string();
    if view
        .students
        .iter()
        .filter(|s| s.name.starts_with(&letter))
        .count()
        > 1
    {
        let err = roll_call(&view, &letter)
            .expect_err("ambiguous")
            .to_string();
        assert!(err.contains("rows"), "{err}");
    }
}

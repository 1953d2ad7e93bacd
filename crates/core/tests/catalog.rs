//! Core's read models of modules and groups, and the topic edits department heads make, on a
//! real replica file with demo data.

use daftar_core::Replica;
use daftar_core::demo::{DemoSpec, Tier, generate};
use daftar_core::error::CoreError;

fn demo(dir: &std::path::Path) -> Replica {
    let mut r = Replica::open(&dir.join("replica.db")).expect("open");
    r.set_university("demo").expect("university");
    generate(&mut r, &DemoSpec::new(Tier::Xs, 5), |_, _| {}).expect("demo");
    r
}

#[test]
fn modules_and_groups_read_as_the_screens_show_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = demo(tmp.path());

    let modules = r.modules().expect("modules");
    assert!(!modules.is_empty());
    let subjects: Vec<&str> = modules.iter().map(|m| m.subject.as_str()).collect();
    let mut sorted = subjects.clone();
    sorted.sort();
    assert_eq!(subjects, sorted, "by subject");
    let with_topics = modules
        .iter()
        .find(|m| m.topics > 0)
        .expect("a module with topics");
    assert!(
        !with_topics.id.contains('/'),
        "short ids: {}",
        with_topics.id
    );

    // Short and whole ids alike; the topics in their order, as many as the list says.
    let short = r.module(&with_topics.id).expect("module");
    let whole = r
        .module(&format!("module/{}", with_topics.id))
        .expect("module by document id");
    assert_eq!(short, whole);
    assert_eq!(short.topics.len() as u32, with_topics.topics);
    assert!(
        short
            .topics
            .windows(2)
            .all(|w| w[0].position <= w[1].position),
        "{:?}",
        short.topics
    );
    assert!(matches!(
        r.module("no-such-module"),
        Err(CoreError::NotFound { .. })
    ));

    let groups = r.groups().expect("groups");
    assert!(!groups.is_empty());
    let g = r.group(&groups[0].id).expect("group");
    assert_eq!(g.students.len() as u32, groups[0].students);
    assert_eq!(g.journals.len() as u32, groups[0].journals);
    let names: Vec<&str> = g.students.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "the roster by name");
}

#[test]
fn a_topic_is_added_at_the_end_and_renamed_in_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut r = demo(tmp.path());
    let module = r
        .modules()
        .expect("modules")
        .into_iter()
        .find(|m| m.topics > 0)
        .expect("a module with topics")
        .id;
    let before = r.module(&module).expect("module").topics;
    let last = before.last().expect("a topic").position;

    let id = r
        .add_topic(&module, "  Amaliy mashg'ulot: takrorlash  ", Some("lab"))
        .expect("add");
    let after = r.module(&module).expect("module").topics;
    assert_eq!(after.len(), before.len() + 1);
    let added = after.last().expect("the new topic");
    assert_eq!(added.id, id);
    assert_eq!(added.name, "Amaliy mashg'ulot: takrorlash", "trimmed");
    assert_eq!(added.position, last + 1.0);
    let lesson_type = added.lesson_type.clone();
    assert!(lesson_type.is_some(), "the lesson type is kept");

    r.rename_topic(&module, &id, "Takrorlash").expect("rename");
    let renamed = r.module(&module).expect("module").topics;
    let t = renamed.iter().find(|t| t.id == id).expect("still there");
    assert_eq!(t.name, "Takrorlash");
    assert_eq!(
        (t.position, t.lesson_type.clone()),
        (last + 1.0, lesson_type)
    );

    for bad in ["", "   ", &"x".repeat(301)] {
        assert!(
            matches!(
                r.add_topic(&module, bad, None),
                Err(CoreError::InvalidInput { field: "name", .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        r.rename_topic(&module, "t-none", "X"),
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        r.add_topic("no-such-module", "X", None),
        Err(CoreError::NotFound { .. })
    ));
}

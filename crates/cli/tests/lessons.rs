//! Lessons as they happen, through the CLI on a real replica: a lesson is filled when every
//! student expected at it is marked and its topic is set; a subgroup's lesson expects only the
//! subgroup; a student who left is expected only before the day they left; the university's
//! calendar asks before a lesson on a holiday, a Sunday or outside the semester; a lesson not
//! yet held moves, a held one keeps its day; hours delivered are set against the plan; journals
//! are found by group and subject as people type them.

use std::path::Path;

use daftar_tests::cli::{fails, json, ok};
use serde_json::Value;

fn lesson<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .find(|l| l["id"] == id)
        .expect("the lesson")
}

fn nth_lesson(view: &Value, n: usize) -> String {
    view["lessons"][n]["id"].as_str().expect("id").to_string()
}

fn cells_at(view: &Value, lesson: &str) -> Vec<String> {
    view["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["lesson"] == lesson)
        .map(|c| c["student"].as_str().expect("student").to_string())
        .collect()
}

fn complete_lessons(dir: &Path, journal: &str) -> u64 {
    json(dir, &["journals"])
        .as_array()
        .expect("journals")
        .iter()
        .find(|j| j["id"] == journal)
        .expect("the journal")["complete_lessons"]
        .as_u64()
        .expect("a count")
}

#[test]
fn lessons_follow_subgroups_membership_the_calendar_and_the_plan() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("replica");
    ok(
        &dir,
        &["demo", "--tier", "XS", "--seed", "3", "--filled", "0"],
    );
    let journal = json(&dir, &["journals"])[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let view = json(&dir, &["show", &journal]);
    let students: Vec<Value> = view["students"].as_array().expect("students").clone();
    let first = nth_lesson(&view, 0);

    // Marked, but a lesson is filled only with its topic too.
    let before = complete_lessons(&dir, &journal);
    // A roll call by row numbers, as the grid takes it: rows 2 and 3 absent.
    ok(&dir, &["mark-all", &journal, &first, "--roll", "2 3"]);
    let shown = json(&dir, &["show", &journal]);
    assert_eq!(cells_at(&shown, &first).len(), students.len());
    for (r, s) in students.iter().enumerate() {
        let status = shown["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .find(|c| c["lesson"] == first.as_str() && c["student"] == s["id"])
            .map(|c| c["status"].clone());
        let want = if r == 1 || r == 2 { "a" } else { "p" };
        assert_eq!(status, Some(Value::from(want)), "row {}", r + 1);
    }
    let refused = fails(&dir, &["mark-all", &journal, &first, "--roll", "999"]);
    assert!(refused.contains("no row 999"), "{refused}");
    if lesson(&view, &first)["topic"].is_null() {
        assert_eq!(complete_lessons(&dir, &journal), before, "no topic yet");
        ok(&dir, &["topic", &journal, &first, "1-mavzu. Kirish"]);
    }
    assert_eq!(complete_lessons(&dir, &journal), before + 1);

    // A subgroup's lesson expects only the subgroup.
    let second = nth_lesson(&view, 1);
    ok(&dir, &["lesson", "subgroup", &journal, &second, "1"]);
    ok(&dir, &["mark-all", &journal, &second]);
    let shown = json(&dir, &["show", &journal]);
    let in_one: Vec<&Value> = students.iter().filter(|s| s["subgroup"] == "1").collect();
    assert!(!in_one.is_empty() && in_one.len() < students.len());
    assert_eq!(cells_at(&shown, &second).len(), in_one.len());
    assert_eq!(lesson(&shown, &second)["subgroup"], "1");
    let other = students
        .iter()
        .find(|s| s["subgroup"] != "1")
        .expect("a student of subgroup 2");
    let err = fails(
        &dir,
        &[
            "mark",
            &journal,
            &second,
            other["id"].as_str().expect("id"),
            "nb",
        ],
    );
    assert!(err.contains("not expected at this lesson"), "{err}");

    // A student who left on the fifth lesson's day is expected before it, not from it.
    let fifth = nth_lesson(&view, 4);
    let fifth_date = lesson(&view, &fifth)["date"]
        .as_str()
        .expect("date")
        .to_string();
    let leaver = students[0]["id"].as_str().expect("id").to_string();
    let shown = ok(
        &dir,
        &[
            "student",
            &journal,
            &leaver,
            "--status",
            "left",
            "--from",
            &fifth_date,
        ],
    );
    assert!(shown.contains("left from"), "{shown}");
    ok(&dir, &["mark-all", &journal, &fifth]);
    let third = nth_lesson(&view, 2);
    ok(&dir, &["mark", &journal, &third, &leaver, "nb"]);
    let shown = json(&dir, &["show", &journal]);
    assert!(!cells_at(&shown, &fifth).contains(&leaver));
    assert_eq!(cells_at(&shown, &fifth).len(), students.len() - 1);
    let err = fails(&dir, &["mark", &journal, &fifth, &leaver, "+"]);
    assert!(err.contains("not expected at this lesson"), "{err}");

    // The calendar: a holiday and a Sunday need --confirm; so does a day after the semester.
    ok(
        &dir,
        &[
            "calendar",
            "--autumn",
            "07.09.2026..26.12.2026",
            "--holiday",
            "01.10.2026",
        ],
    );
    let cal = json(&dir, &["calendar"]);
    assert_eq!(cal["autumn"]["from"], "2026-09-07");
    for (day, why) in [
        ("01.10.2026", "holiday"),
        ("13.09.2026", "Sunday"),
        (
            "05.01.2027",
            "outside the semester (07.09.2026 – 26.12.2026)",
        ),
    ] {
        let err = fails(
            &dir,
            &[
                "lesson",
                "add",
                &journal,
                "--date",
                day,
                "--pair",
                "7",
                "--type",
                "practical",
            ],
        );
        assert!(err.contains(why) && err.contains("anyway"), "{day}: {err}");
    }
    let added = json(
        &dir,
        &[
            "lesson",
            "add",
            &journal,
            "--date",
            "01.10.2026",
            "--pair",
            "7",
            "--type",
            "practical",
            "--confirm",
        ],
    );
    let added = added["lesson"].as_str().expect("new lesson").to_string();

    // A lesson not yet held moves; a held one keeps its day.
    let moved = json(
        &dir,
        &[
            "lesson",
            "move",
            &journal,
            &added,
            "--date",
            "02.10.2026",
            "--pair",
            "8",
        ],
    );
    let new = moved["lesson"].as_str().expect("moved lesson").to_string();
    let shown = json(&dir, &["show", &journal]);
    assert_eq!(lesson(&shown, &added)["status"], "cancelled");
    assert_eq!(lesson(&shown, &new)["date"], "2026-10-02");
    assert_eq!(lesson(&shown, &new)["pair"], 8);
    let err = fails(
        &dir,
        &["lesson", "move", &journal, &first, "--date", "03.10.2026"],
    );
    assert!(err.contains("held") && err.contains("marks stay"), "{err}");

    // Hours per type: the plan against delivered (held) and scheduled lessons.
    let hours = json(&dir, &["hours", &journal]);
    let lines = hours.as_array().expect("lines");
    let shown = json(&dir, &["show", &journal]);
    let marked: std::collections::BTreeSet<&str> = shown["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| c["lesson"].as_str().expect("lesson"))
        .collect();
    for line in lines {
        let code = line["lesson_type"].as_str().expect("type");
        let of_type: Vec<&Value> = shown["lessons"]
            .as_array()
            .expect("lessons")
            .iter()
            .filter(|l| l["type"] == code && l["status"] != "cancelled")
            .collect();
        let held = of_type
            .iter()
            .filter(|l| l["status"] == "held" || marked.contains(l["id"].as_str().unwrap_or("")))
            .count() as u64;
        assert_eq!(line["delivered"], held * 2, "{line}");
        assert_eq!(
            line["scheduled"],
            (of_type.len() as u64 - held) * 2,
            "{line}"
        );
        let planned = line["planned"].as_u64().expect("planned");
        let want = planned.saturating_sub(of_type.len() as u64 * 2);
        assert_eq!(line["shortfall"], want, "{line}");
    }
    assert!(lines.iter().any(|l| l["planned"].as_u64() > Some(0)));
    let table = ok(&dir, &["hours", &journal]);
    assert!(
        table.contains("PLANNED") && table.contains("practical"),
        "{table}"
    );

    // A pair taught to each subgroup in turn is one pair for each student: the second
    // subgroup's lesson of the same type adds no delivered hours.
    let second_type = lesson(&shown, &second)["type"]
        .as_str()
        .expect("type")
        .to_string();
    let delivered = |dir: &Path| -> u64 {
        json(dir, &["hours", &journal])
            .as_array()
            .expect("lines")
            .iter()
            .find(|l| l["lesson_type"] == second_type.as_str())
            .and_then(|l| l["delivered"].as_u64())
            .unwrap_or(0)
    };
    let before = delivered(&dir);
    let other_half = json(
        &dir,
        &[
            "lesson",
            "add",
            &journal,
            "--date",
            "06.10.2026",
            "--pair",
            "7",
            "--type",
            &second_type,
            "--subgroup",
            "2",
            "--confirm",
        ],
    )["lesson"]
        .as_str()
        .expect("lesson")
        .to_string();
    ok(&dir, &["mark-all", &journal, &other_half]);
    assert_eq!(
        delivered(&dir),
        before,
        "subgroup 2's pair counts with subgroup 1's"
    );

    // Found by its group and subject, in any case and with any apostrophe.
    let group = shown["group_name"].as_str().expect("group").to_string();
    let subject = shown["subject"].as_str().expect("subject").to_string();
    let first_word = subject.split_whitespace().next().expect("a word");
    let typed = format!("{} {group}", first_word.to_uppercase().replace('\'', "ʻ"));
    assert_eq!(json(&dir, &["show", &typed])["id"], journal.as_str());
}

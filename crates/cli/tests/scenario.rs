//! Two replicas, no server: concurrent offline edits to the same cell meet through bundles,
//! land in the conflict inbox on both, are resolved on one, and both converge.

use daftar_tests::cli::{demo, json, ok};

#[test]
fn concurrent_marks_surface_in_inbox_and_resolution_converges() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let bundle = |name: &str| tmp.path().join(name).to_string_lossy().into_owned();

    let journal = demo(&a, 11);
    ok(&a, &["bundle", "export", &bundle("a0.bundle")]);
    ok(&b, &["bundle", "import", &bundle("a0.bundle")]);
    assert_eq!(json(&a, &["show", &journal]), json(&b, &["show", &journal]));

    let view = json(&a, &["show", &journal]);
    let lesson = view["lessons"][0]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    let student = view["students"][0]["id"]
        .as_str()
        .expect("student")
        .to_string();

    // Offline on both sides: the teacher says absent, the dean's office says present with 90.
    ok(&a, &["mark", &journal, &lesson, &student, "nb"]);
    ok(
        &b,
        &["mark", &journal, &lesson, &student, "+", "--grade", "90"],
    );

    ok(&a, &["bundle", "export", &bundle("a1.bundle")]);
    ok(&b, &["bundle", "export", &bundle("b1.bundle")]);
    ok(&b, &["bundle", "import", &bundle("a1.bundle")]);
    ok(&a, &["bundle", "import", &bundle("b1.bundle")]);

    let inbox_a = json(&a, &["conflicts"]);
    let inbox_b = json(&b, &["conflicts"]);
    assert_eq!(
        inbox_a.as_array().map(Vec::len),
        Some(1),
        "one inbox entry on A: {inbox_a}"
    );
    assert_eq!(inbox_a, inbox_b, "the same inbox on both replicas");
    let entry = &inbox_a[0];
    assert_eq!(entry["field"], "mark");
    assert_eq!(entry["student"], student.as_str());
    let displays: Vec<&str> = entry["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["display"].as_str().unwrap_or(""))
        .collect();
    assert!(
        displays.contains(&"NB") && displays.contains(&"90"),
        "both values kept: {displays:?}"
    );
    assert!(entry["lesson_date"].is_string());
    assert!(
        entry["values"][0]["device"]
            .as_str()
            .is_some_and(|d| d.len() == 8)
    );

    // Show marks the cell as conflicted, identically on both.
    assert_eq!(json(&a, &["show", &journal]), json(&b, &["show", &journal]));

    // Resolve on A (keep the dean's value), then send it to B.
    let id = entry["id"].as_str().expect("id").to_string();
    let pick = displays.iter().position(|d| *d == "90").expect("90 listed") + 1;
    ok(
        &a,
        &[
            "resolve",
            &id,
            "--pick",
            &pick.to_string(),
            "--note",
            "checked with the dean",
        ],
    );
    assert_eq!(json(&a, &["conflicts"]), serde_json::json!([]));
    ok(&a, &["bundle", "export", &bundle("a2.bundle")]);
    ok(&b, &["bundle", "import", &bundle("a2.bundle")]);

    assert_eq!(json(&b, &["conflicts"]), serde_json::json!([]));
    let show_a = ok(&a, &["--json", "show", &journal]);
    let show_b = ok(&b, &["--json", "show", &journal]);
    assert_eq!(
        show_a, show_b,
        "byte-identical show --json after converging"
    );
    let view: serde_json::Value = serde_json::from_str(&show_a).expect("json");
    let cell = view["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["lesson"] == lesson.as_str() && c["student"] == student.as_str())
        .expect("the cell");
    assert_eq!(cell["status"], "p");
    assert_eq!(cell["grade"], 90);

    // A bundle for a known peer carries only what it lacks.
    ok(&b, &["mark", &journal, &lesson, &student, "l"]);
    ok(&a, &["bundle", "heads", &bundle("a.heads")]);
    ok(
        &b,
        &[
            "bundle",
            "export",
            &bundle("b-for-a.bundle"),
            "--for",
            &bundle("a.heads"),
        ],
    );
    ok(&b, &["bundle", "export", &bundle("b-all.bundle")]);
    let small = std::fs::metadata(bundle("b-for-a.bundle"))
        .expect("size")
        .len();
    let all = std::fs::metadata(bundle("b-all.bundle"))
        .expect("size")
        .len();
    assert!(
        small * 10 < all,
        "a peer bundle is small: {small} vs {all} bytes"
    );
    ok(&a, &["bundle", "import", &bundle("b-for-a.bundle")]);
    let show_a = ok(&a, &["--json", "show", &journal]);
    assert_eq!(show_a, ok(&b, &["--json", "show", &journal]));

    // Importing the same bundles again changes nothing.
    ok(&b, &["bundle", "import", &bundle("a1.bundle")]);
    ok(&b, &["bundle", "import", &bundle("a2.bundle")]);
    assert_eq!(ok(&b, &["--json", "show", &journal]), show_a);
}

/// The inbox takes a typed value in the grid's grammar (`нб`, `л70`, a grade), and the CLI's
/// `mark` does too: one grammar everywhere.
#[test]
fn the_inbox_and_the_cli_read_marks_as_the_grid_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let bundle = |name: &str| tmp.path().join(name).to_string_lossy().into_owned();
    let journal = demo(&a, 12);
    ok(&a, &["bundle", "export", &bundle("a0.bundle")]);
    ok(&b, &["bundle", "import", &bundle("a0.bundle")]);
    let view = json(&a, &["show", &journal]);
    let lesson = view["lessons"][0]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    let students: Vec<String> = (0..2)
        .map(|i| {
            view["students"][i]["id"]
                .as_str()
                .expect("student")
                .to_string()
        })
        .collect();
    // A grade alone means present with it; a Cyrillic `л` with a grade, late with it.
    for (replica, typed) in [(&a, ["85", "л70"]), (&b, ["нб", "90"])] {
        for (student, t) in students.iter().zip(typed) {
            ok(replica, &["mark", &journal, &lesson, student, t]);
        }
    }
    ok(&a, &["bundle", "export", &bundle("a1.bundle")]);
    ok(&b, &["bundle", "import", &bundle("a1.bundle")]);
    let inbox = json(&b, &["conflicts"]);
    let entries = inbox.as_array().expect("entries");
    assert_eq!(entries.len(), 2, "two conflicted cells: {inbox}");
    let id_of = |student: &str| {
        entries
            .iter()
            .find(|e| e["student"] == student)
            .and_then(|e| e["id"].as_str())
            .expect("an entry per student")
            .to_string()
    };
    let refused = daftar_tests::cli::fails(&b, &["resolve", &id_of(&students[0]), "--value", "x"]);
    assert!(refused.contains("is not a mark"), "{refused}");
    ok(&b, &["resolve", &id_of(&students[0]), "--value", "нб"]);
    ok(&b, &["resolve", &id_of(&students[1]), "--value", "Л70"]);
    assert_eq!(json(&b, &["conflicts"]), serde_json::json!([]));
    let shown = json(&b, &["show", &journal]);
    let cell = |student: &str| {
        shown["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .find(|c| c["lesson"] == lesson.as_str() && c["student"] == student)
            .cloned()
            .expect("the cell")
    };
    assert_eq!(cell(&students[0])["status"], "a");
    assert_eq!(cell(&students[1])["status"], "l");
    assert_eq!(cell(&students[1])["grade"], 70);
}

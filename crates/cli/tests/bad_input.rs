//! Bad input gets a clear message, a non-zero exit, and leaves the replica as it was.

use std::path::Path;

use daftar_tests::cli::{demo, fails, json, ok, run};

/// Everything a user could notice about a replica.
fn snapshot(dir: &Path, journal: &str) -> (String, String, String) {
    (
        ok(dir, &["--json", "show", journal]),
        ok(dir, &["--json", "conflicts"]),
        ok(dir, &["--json", "journals"]),
    )
}

#[test]
fn refuses_bad_input_and_keeps_the_replica() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    let journal = demo(&a, 5);
    let view = json(&a, &["show", &journal]);
    let lesson = view["lessons"][0]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    let student = view["students"][0]["id"]
        .as_str()
        .expect("student")
        .to_string();
    let before = snapshot(&a, &journal);

    // A truncated bundle.
    let good = tmp.path().join("good.bundle");
    ok(&a, &["bundle", "export", good.to_str().expect("path")]);
    let bytes = std::fs::read(&good).expect("read");
    let cut = tmp.path().join("cut.bundle");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = fails(&a, &["bundle", "import", cut.to_str().expect("path")]);
    assert!(err.contains("truncated or damaged"), "{err}");

    // Not a bundle at all.
    let junk = tmp.path().join("junk.bundle");
    std::fs::write(&junk, b"hello").expect("write");
    let err = fails(&a, &["bundle", "import", junk.to_str().expect("path")]);
    assert!(err.contains("not a Daftar bundle"), "{err}");

    // A bundle from another university.
    let other = tmp.path().join("other");
    ok(&other, &["init", "--university", "samdu"]);
    ok(&other, &["demo", "--tier", "XS", "--seed", "9"]);
    let foreign = tmp.path().join("foreign.bundle");
    ok(
        &other,
        &["bundle", "export", foreign.to_str().expect("path")],
    );
    let err = fails(&a, &["bundle", "import", foreign.to_str().expect("path")]);
    assert!(err.contains("another university"), "{err}");

    // Unknown journal and student ids.
    let err = fails(&a, &["show", "no-such-journal"]);
    assert!(err.contains("not found"), "{err}");
    let err = fails(&a, &["mark", &journal, &lesson, "999999999", "nb"]);
    assert!(err.contains("not found"), "{err}");
    let err = fails(&a, &["mark", &journal, "#999", &student, "nb"]);
    assert!(err.contains("not found"), "{err}");

    // A grade outside the marking system, an unknown status, a bad date.
    let err = fails(
        &a,
        &["mark", &journal, &lesson, &student, "+", "--grade", "150"],
    );
    assert!(err.contains("outside"), "{err}");
    let err = fails(&a, &["mark", &journal, &lesson, &student, "maybe"]);
    assert!(err.contains("is not a mark"), "{err}");
    let err = fails(
        &a,
        &[
            "lesson",
            "add",
            &journal,
            "--date",
            "2026-02-30",
            "--pair",
            "1",
            "--type",
            "11",
        ],
    );
    assert!(err.contains("not a date"), "{err}");
    let err = fails(&a, &["score", &journal, "ON1", &student, "500"]);
    assert!(err.contains("outside"), "{err}");

    // Malformed HEMIS export.
    let hemis = tmp.path().join("hemis");
    std::fs::create_dir_all(&hemis).expect("mkdir");
    std::fs::write(
        hemis.join("group-list.json"),
        r#"{"success":true,"data":{"items":[{"id":1,"name":"101-25"},{"id":2}],"pagination":{"totalCount":2,"pageCount":1}}}"#,
    )
    .expect("write");
    let err = fails(&a, &["import", "hemis", hemis.to_str().expect("path")]);
    assert!(
        err.contains("group-list.json") && err.contains("item 2"),
        "{err}"
    );

    // JSON errors are JSON, on stderr.
    let out = run(&a, &["--json", "show", "nope"]);
    assert!(!out.status.success());
    let e: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(e["error"], "not_found");

    assert_eq!(snapshot(&a, &journal), before, "nothing changed");

    // Before any data exists, commands say how to start.
    let empty = tmp.path().join("empty");
    let err = fails(&empty, &["journals"]);
    assert!(err.contains("daftar init"), "{err}");
}

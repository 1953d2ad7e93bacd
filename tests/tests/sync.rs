//! Sync end to end: the real `daftar-sync` on 127.0.0.1, real `daftar` clients with their own
//! data folders, HEMIS data imported by an administrator, teachers and the dean's office
//! signing in, the server stopped, restarted and killed.

use std::path::Path;

use daftar_tests::{Client, Server};
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hemis");
const J301_412: &str = "g412-s301-17";
const J301_413: &str = "g413-s301-17";
const J302_412: &str = "g412-s302-17";

/// A server with an admin (who imported the HEMIS fixture and synced), two teachers (HEMIS
/// employees 701 and 702) and the dean's office of faculty 7.
fn university(tmp: &Path) -> (Server, Client) {
    let server = Server::start(tmp).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    server
        .add_user("anvar", "anvar-pw", "teacher", &["--employee", "701"])
        .expect("teacher 1");
    server
        .add_user("gulnora", "gulnora-pw", "teacher", &["--employee", "702"])
        .expect("teacher 2");
    server
        .add_user("dekanat", "dekanat-pw", "dean", &["--scope", "f7"])
        .expect("dean");
    let mut admin = Client::new(tmp.join("admin"));
    admin.ok(&["init", "--university", "tatu"]);
    admin.ok(&["import", "hemis", FIXTURE]);
    admin.login(&server, "admin", "admin-pw");
    let s = admin.sync();
    assert!(
        s["pushed"].as_u64().unwrap_or(0) > 10,
        "the admin's import went up: {s}"
    );
    assert_eq!(s["refused"], 0);
    (server, admin)
}

fn client(tmp: &Path, name: &str, server: &Server, user: &str, password: &str) -> Client {
    let mut c = Client::new(tmp.join(name));
    c.ok(&["init", "--university", "tatu"]);
    c.login(server, user, password);
    c
}

fn inbox(c: &Client) -> Value {
    c.json(&["conflicts"])
}

#[test]
fn each_role_gets_exactly_the_documents_it_may_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());

    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    teacher.sync();
    assert_eq!(teacher.journal_ids(), [J301_412, J301_413]);
    assert_eq!(
        teacher.documents(),
        [
            "catalog/tatu",
            "group/412",
            "group/413",
            &format!("journal/{J301_412}"),
            &format!("journal/{J301_413}"),
            "module/cs801",
            "module/cs803",
        ]
    );
    let view = teacher.json(&["show", J301_412]);
    assert_eq!(view["students"].as_array().map(Vec::len), Some(4));
    assert_eq!(view["lessons"].as_array().map(Vec::len), Some(4));

    let other = client(tmp.path(), "gulnora", &server, "gulnora", "gulnora-pw");
    other.sync();
    assert_eq!(other.journal_ids(), [J302_412, "g413-s302-17"]);
    assert!(!other.documents().iter().any(|d| d.contains("s301")));

    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    dean.sync();
    assert_eq!(dean.journal_ids().len(), 4);
    assert_eq!(dean.documents().len(), 1 + 2 + 4 + 4);

    // Wrong password: a clear error, nothing stored.
    let mut intruder = Client::new(tmp.path().join("intruder"));
    intruder.ok(&["init", "--university", "tatu"]);
    let out = intruder.run(&[
        "--json",
        "login",
        "--server",
        &server.url(),
        "--user",
        "anvar",
    ]);
    assert!(!out.status.success());
    let _ = &mut intruder;
}

#[test]
fn offline_edits_to_one_cell_meet_in_the_inbox_and_converge_after_resolution() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut server, admin) = university(tmp.path());
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    teacher.sync();
    dean.sync();
    let view = teacher.json(&["show", J301_412]);
    let lesson = view["lessons"][1]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    let student = "9005";

    server.stop();
    teacher.ok(&["mark", J301_412, &lesson, student, "nb"]);
    let out = teacher.run(&["--json", "sync"]);
    assert!(!out.status.success(), "no server: sync fails");
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"], "offline");
    let status = teacher.json(&["status"]);
    assert_eq!(status["waiting"], 1, "the mark waits: {status}");
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach"))
    );
    // Meanwhile the registrar (an administrator; the dean's office writes no marks) corrects
    // the same cell on a replica that cannot reach the server either.
    admin.ok(&["mark", J301_412, &lesson, student, "+", "--grade", "90"]);

    server.restart().expect("restart");
    teacher.sync();
    admin.sync();
    dean.sync();
    teacher.sync();
    assert_eq!(
        teacher.ok(&["--json", "show", J301_412]),
        dean.ok(&["--json", "show", J301_412])
    );
    let (ti, di) = (inbox(&teacher), inbox(&dean));
    assert_eq!(ti.as_array().map(Vec::len), Some(1), "{ti}");
    assert_eq!(ti, di);
    let users: Vec<&str> = ti[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v["user"].as_str())
        .collect();
    assert!(
        users.contains(&"anvar") && users.contains(&"admin"),
        "{users:?}"
    );
    // Who wrote each value is the server's record of the device, on both replicas.
    for inbox in [&ti, &di] {
        assert!(
            inbox[0]["values"]
                .as_array()
                .expect("values")
                .iter()
                .all(|v| v["verified"] == true),
            "{inbox}"
        );
    }

    let id = ti[0]["id"].as_str().expect("id").to_string();
    dean.ok(&[
        "resolve",
        &id,
        "--value",
        "excused",
        "--note",
        "certificate brought",
    ]);
    dean.sync();
    teacher.sync();
    assert_eq!(inbox(&teacher), serde_json::json!([]));
    assert_eq!(inbox(&dean), serde_json::json!([]));
    let show = teacher.ok(&["--json", "show", J301_412]);
    assert_eq!(show, dean.ok(&["--json", "show", J301_412]));
    let view: Value = serde_json::from_str(&show).expect("json");
    let cell = view["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["lesson"] == lesson.as_str() && c["student"] == student)
        .expect("cell");
    assert_eq!(cell["status"], "e");
}

#[test]
fn refused_changes_stay_local_and_go_up_after_assignment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, admin) = university(tmp.path());
    let anvar = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    anvar.sync();
    let bundle = tmp.path().join("anvar.bundle");
    anvar.ok(&["bundle", "export", bundle.to_str().expect("path")]);

    // Gulnora is not assigned to Anvar's journal, gets it on a USB stick and marks offline.
    let gulnora = client(tmp.path(), "gulnora", &server, "gulnora", "gulnora-pw");
    gulnora.ok(&["bundle", "import", bundle.to_str().expect("path")]);
    let lesson = gulnora.json(&["show", J301_412])["lessons"][2]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    gulnora.ok(&["mark", J301_412, &lesson, "9001", "+", "--grade", "77"]);
    let stored_before = server
        .metric("daftar_changes_stored_total")
        .expect("metric");
    let s = gulnora.sync();
    assert_eq!(s["refused"], 1, "{s}");
    assert_eq!(s["pushed"], 0);
    let reason = s["refusals"][0].as_str().expect("a reason").to_string();
    assert!(
        reason.contains("journal") || reason.contains("assign"),
        "a clear reason: {reason}"
    );
    let status = gulnora.json(&["status"]);
    assert_eq!(status["waiting"], 1, "the change is kept: {status}");
    assert_eq!(status["refused"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        server
            .metric("daftar_changes_stored_total")
            .expect("metric"),
        stored_before
    );
    admin.sync();
    let cell_77 = |c: &Client| {
        c.json(&["show", J301_412])["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .any(|c| c["grade"] == 77)
    };
    assert!(!cell_77(&admin), "nothing reached the server");
    // A sync with nothing new does not resend the refused change.
    assert_eq!(gulnora.sync()["round_trips"], 1);

    server
        .admin(&["assign", "gulnora", &format!("journal/{J301_412}")], None)
        .expect("assign");
    let s = gulnora.sync();
    assert_eq!(s["pushed"], 1, "{s}");
    assert_eq!(s["refused"], 0);
    assert_eq!(gulnora.json(&["status"])["waiting"], 0);
    admin.sync();
    assert!(
        cell_77(&admin),
        "the kept change arrived after the assignment"
    );
}

#[test]
fn a_sync_with_nothing_to_do_is_one_request() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, admin) = university(tmp.path());
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    dean.sync();
    for c in [&admin, &dean] {
        let before = server.requests().expect("metrics");
        let s = c.sync();
        let after = server.requests().expect("metrics");
        assert_eq!(after - before, 1, "one HTTP request");
        assert_eq!(s["round_trips"], 1);
        assert_eq!(s["pushed"], 0);
        assert_eq!(s["pulled"], 0);
        assert!(s["bytes_up"].as_u64().unwrap_or(u64::MAX) < 512, "{s}");
        assert!(s["bytes_down"].as_u64().unwrap_or(u64::MAX) < 512, "{s}");
    }
}

#[test]
fn server_killed_mid_push_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(tmp.path()).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    let mut admin = Client::new(tmp.path().join("admin"));
    admin.ok(&["init", "--university", "demo"]);
    admin.ok(&["demo", "--tier", "XS", "--seed", "3", "--filled", "1"]);
    admin.login(&server, "admin", "admin-pw");
    let total = admin.json(&["status"])["waiting"]
        .as_i64()
        .expect("waiting");
    assert!(total > 100, "a large push: {total} changes");

    // Kill the server while the push is in flight, several times.
    let mut killed_during_push = 0;
    for delay in [5u64, 30, 80] {
        let mut child = std::process::Command::new(daftar_tests::bin_dir().join("daftar"))
            .arg("--data-dir")
            .arg(&admin.dir)
            .args(["sync"])
            .envs(admin.token().map(|t| ("DAFTAR_TOKEN", t.to_string())))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sync");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        server.kill();
        let status = child.wait().expect("wait");
        if !status.success() {
            killed_during_push += 1;
        }
        server.restart().expect("restart");
    }
    let s = admin.sync();
    assert_eq!(
        admin.json(&["status"])["waiting"],
        0,
        "everything went up: {s}"
    );
    assert!(
        killed_during_push > 0,
        "at least one sync was cut by the kill"
    );

    // A fresh replica pulls exactly what the admin made: nothing lost, nothing twice.
    let mut fresh = Client::new(tmp.path().join("fresh"));
    fresh.ok(&["init", "--university", "demo"]);
    fresh.login(&server, "admin", "admin-pw");
    let pulled = fresh.sync()["pulled"].as_i64().expect("pulled");
    assert_eq!(pulled, total, "the server holds each change once");
    for j in admin.journal_ids() {
        assert_eq!(
            admin.ok(&["--json", "show", &j]),
            fresh.ok(&["--json", "show", &j])
        );
    }
}

#[test]
fn no_token_or_password_in_clear_in_the_data_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, admin) = university(tmp.path());
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    teacher.sync();
    let token = teacher.session_token(&server, "anvar");
    assert!(token.len() >= 32);
    for dir in [&teacher.dir, &admin.dir] {
        for entry in std::fs::read_dir(dir).expect("dir") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            for secret in [token.as_str(), "anvar-pw", "admin-pw"] {
                assert!(
                    !text.contains(secret),
                    "a secret was written to {}",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn the_token_lives_in_a_real_secret_service() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the tests inside dbus-run-session with gnome-keyring"
        );
        eprintln!("skipped: no D-Bus session (run under scripts/test.sh)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let mut teacher = Client::new(tmp.path().join("anvar"));
    teacher.ok(&["init", "--university", "tatu"]);
    let v = teacher.login(&server, "anvar", "anvar-pw");
    assert_eq!(v["keyring"], "Secret Service", "{v}");
    assert!(
        v.get("token").is_none_or(Value::is_null),
        "the token is not printed"
    );
    teacher.sync();
    assert_eq!(teacher.journal_ids().len(), 2);
    // Two replicas of the same user on one machine keep separate tokens.
    let mut second = Client::new(tmp.path().join("anvar-2"));
    second.ok(&["init", "--university", "tatu"]);
    second.login(&server, "anvar", "anvar-pw");
    second.sync();
    teacher.ok(&["logout"]);
    second.sync();
    assert!(!teacher.run(&["sync"]).status.success(), "signed out");
}

#[test]
fn another_user_signing_in_on_a_shared_replica_writes_as_a_new_device() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let mut shared = client(tmp.path(), "lab-pc", &server, "anvar", "anvar-pw");
    shared.sync();
    let lesson = shared.json(&["show", J301_412])["lessons"][0]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    shared.ok(&["mark", J301_412, &lesson, "9001", "l"]);
    let s = shared.sync();
    assert_eq!(s["pushed"], 1, "{s}");
    let first_device = shared.device();
    shared.ok(&["logout"]);

    // Signed out: the teacher's journals stay stored but are not shown.
    assert_eq!(shared.journal_ids().len(), 0, "signed out, nothing shown");
    // The dean's office uses the same computer and replica.
    shared.login(&server, "dekanat", "dekanat-pw");
    assert_ne!(shared.device(), first_device, "a new device for a new user");
    // What the office may read, it learns from the server: nothing shows before its sync.
    assert_eq!(shared.journal_ids().len(), 0);
    shared.sync();
    shared.ok(&[
        "adjust",
        J301_412,
        &lesson,
        "9001",
        "--to",
        "excused",
        "--reason",
        "tibbiy ma'lumotnoma 0412",
    ]);
    let s = shared.sync();
    assert_eq!(s["refused"], 0, "not refused as another user's device: {s}");
    assert_eq!(s["pushed"], 1);
    // The new device syncs from the start: everything the dean's office may read arrives.
    assert_eq!(shared.journal_ids().len(), 4, "the faculty's four journals");
}

/// Issue 16: teacher A syncs, marks offline and signs out; teacher B signs in on the same
/// replica and sees, exports and sends only B's journals; A signs in again and finds the
/// unsent mark intact, and it goes up under A.
#[test]
fn a_shared_computer_keeps_each_teachers_journals_and_unsent_work_apart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, admin) = university(tmp.path());
    let mut shared = client(tmp.path(), "lab-pc", &server, "anvar", "anvar-pw");
    shared.sync();
    assert_eq!(shared.journal_ids(), [J301_412, J301_413]);
    let lesson = shared.json(&["show", J301_412])["lessons"][1]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    shared.ok(&[
        "mark",
        J301_412,
        &lesson,
        "9005",
        "nb",
        "--note",
        "A's unsent",
    ]);
    assert_eq!(shared.json(&["status"])["waiting"], 1);
    shared.ok(&["logout"]);
    assert_eq!(shared.journal_ids().len(), 0, "signed out: nothing shown");

    shared.login(&server, "gulnora", "gulnora-pw");
    let s = shared.sync();
    assert_eq!(s["pushed"], 0, "A's mark is not sent under B: {s}");
    assert_eq!(s["refused"], 0, "{s}");
    assert_eq!(
        shared.journal_ids(),
        [J302_412, "g413-s302-17"],
        "only B's journals"
    );
    assert_eq!(
        shared.json(&["status"])["waiting"],
        0,
        "B has nothing to send"
    );
    let err = String::from_utf8_lossy(&shared.run(&["show", J301_412]).stderr).to_string();
    assert!(
        err.contains("not found"),
        "A's journal is not found under B: {err}"
    );
    let out = tmp.path().join("b.bundle");
    shared.ok(&["bundle", "export", out.to_str().expect("path")]);
    let reader = Client::new(tmp.path().join("reader"));
    reader.ok(&["init", "--university", "tatu"]);
    reader.ok(&["bundle", "import", out.to_str().expect("path")]);
    assert!(
        !reader
            .journal_ids()
            .iter()
            .any(|j| j.starts_with("g412-s301") || j.starts_with("g413-s301")),
        "B's bundle carries none of A's journals: {:?}",
        reader.journal_ids()
    );
    // The server never saw A's mark.
    admin.sync();
    let cell = admin.json(&["show", J301_412])["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["lesson"] == lesson.as_str() && c["student"] == "9005")
        .cloned();
    assert!(
        cell.is_none_or(|c| c["note"] != "A's unsent"),
        "A's unsent mark stayed on the computer"
    );
    shared.ok(&["logout"]);

    shared.login(&server, "anvar", "anvar-pw");
    assert_eq!(
        shared.json(&["status"])["waiting"],
        1,
        "A's unsent mark is intact"
    );
    let s = shared.sync();
    assert_eq!(s["pushed"], 1, "and goes up under A: {s}");
    assert_eq!(s["refused"], 0, "{s}");
    assert_eq!(shared.journal_ids(), [J301_412, J301_413]);
    admin.sync();
    let cell = admin.json(&["show", J301_412])["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["lesson"] == lesson.as_str() && c["student"] == "9005")
        .cloned()
        .expect("the mark on the server");
    assert_eq!(cell["note"], "A's unsent");
}

fn cell_of(c: &Client, lesson: &str, student: &str) -> Value {
    let view = c.json(&["show", J301_412]);
    view["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|x| x["lesson"] == lesson && x["student"] == student)
        .cloned()
        .expect("cell")
}

/// Issue 9 with the stock CLI: a teacher's CLI refuses what only the dean's office does, with
/// the server's words; a mark changed offline while the dean's office closed the lesson waits
/// as an amendment with the frozen value in effect until the office accepts it; the history
/// of the cell names each author as the server recorded them.
#[test]
fn late_edits_stay_late_and_history_names_the_real_authors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_server, _admin) = university(tmp.path());
    let server = &_server;
    let teacher = client(tmp.path(), "anvar", server, "anvar", "anvar-pw");
    let dean = client(tmp.path(), "dekanat", server, "dekanat", "dekanat-pw");
    teacher.sync();
    let lesson = teacher.json(&["show", J301_412])["lessons"][2]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    let student = "9005";
    teacher.ok(&["mark", J301_412, &lesson, student, "nb"]);
    teacher.sync();

    for args in [
        vec![
            "adjust", J301_412, &lesson, student, "--to", "excused", "--reason", "x",
        ],
        vec!["lock", J301_412, "--lesson", &lesson],
    ] {
        let out = teacher.run(&args);
        assert!(!out.status.success(), "{args:?} went through");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only the dean's office"), "{args:?}: {err}");
    }
    assert_eq!(teacher.json(&["status"])["waiting"], 0, "nothing was saved");

    // The dean's office excuses the absence and closes the lesson.
    dean.sync();
    dean.ok(&[
        "adjust",
        J301_412,
        &lesson,
        student,
        "--to",
        "excused",
        "--reason",
        "tibbiy ma'lumotnoma 0412",
    ]);
    dean.ok(&["lock", J301_412, "--lesson", &lesson, "--reason", "checked"]);
    assert_eq!(dean.sync()["refused"], 0);

    // The teacher, not having seen the lock, changes the mark: it goes up, and waits.
    teacher.ok(&["mark", J301_412, &lesson, student, "+"]);
    assert_eq!(teacher.sync()["refused"], 0);
    dean.sync();
    for c in [&teacher, &dean] {
        assert_eq!(
            cell_of(c, &lesson, student)["status"],
            "a",
            "the frozen value holds"
        );
        let i = inbox(c);
        assert_eq!(i[0]["kind"], "amendment", "{i}");
    }

    // Now the teacher knows the lock; lifting it is the dean's office's.
    let out = teacher.run(&["unlock", J301_412, "--lesson", &lesson]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only the dean's office"));

    // The cell's history, read on the teacher's replica, names the dean's office for the
    // adjustment and the teacher for the marks, from the server's record.
    let history = teacher.json(&["history", J301_412, &lesson, student]);
    let entries = history.as_array().expect("entries");
    let adjustment = entries
        .iter()
        .find(|e| e["map"] == "adjustments")
        .expect("the adjustment");
    assert_eq!(adjustment["user"], "dekanat");
    assert_eq!(adjustment["verified"], true);
    let marks: Vec<&Value> = entries.iter().filter(|e| e["map"] == "marks").collect();
    assert_eq!(marks.len(), 2, "{history}");
    assert!(
        marks
            .iter()
            .all(|m| m["user"] == "anvar" && m["verified"] == true)
    );

    // The office accepts the amendment: the teacher's value takes effect everywhere.
    let i = inbox(&dean);
    let pick = i[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .position(|v| v["locked"] != true)
        .expect("the late value")
        + 1;
    let id = i[0]["id"].as_str().expect("id").to_string();
    dean.ok(&["resolve", &id, "--pick", &pick.to_string()]);
    dean.sync();
    teacher.sync();
    for c in [&teacher, &dean] {
        assert_eq!(cell_of(c, &lesson, student)["status"], "p");
        assert_eq!(inbox(c), serde_json::json!([]));
    }
}

/// Entry windows (issue 9): with the lesson day as the window, a teacher cannot mark a past
/// lesson (refused on the spot, with the way out), asks the dean's office to open it, and
/// marks it once the opening arrives; the office sees who asked.
#[test]
fn a_closed_window_needs_an_opening_from_the_dean_s_office() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, admin) = university(tmp.path());
    let out = admin.ok(&["entry-window", "0"]);
    assert!(out.contains("lesson day"), "{out}");
    assert_eq!(admin.sync()["refused"], 0);
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    teacher.sync();
    let lesson = teacher.json(&["show", J301_412])["lessons"][0]["id"]
        .as_str()
        .expect("lesson")
        .to_string();

    let out = teacher.run(&["mark", J301_412, &lesson, "9005", "nb"]);
    assert!(
        !out.status.success(),
        "a lesson of September marked in December"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entry window closed") && err.contains("request-opening"),
        "{err}"
    );

    teacher.ok(&[
        "request-opening",
        J301_412,
        &lesson,
        "--reason",
        "the group was on practice; marks on paper",
    ]);
    assert_eq!(teacher.sync()["refused"], 0);
    dean.sync();
    let requests = dean.json(&["openings"]);
    assert_eq!(requests[0]["lesson"], lesson.as_str(), "{requests}");
    assert_eq!(requests[0]["by"], "anvar");
    // Today in Tashkent (UTC+5), where the window's days are counted.
    let today = (time::OffsetDateTime::now_utc() + time::Duration::hours(5))
        .date()
        .to_string();
    dean.ok(&["open-lesson", J301_412, &lesson, "--until", &today]);
    assert_eq!(dean.sync()["refused"], 0);

    teacher.sync();
    teacher.ok(&["mark", J301_412, &lesson, "9005", "nb"]);
    assert_eq!(teacher.sync()["refused"], 0);
    dean.sync();
    assert_eq!(cell_of(&dean, &lesson, "9005")["status"], "a");
    assert_eq!(
        inbox(&dean),
        serde_json::json!([]),
        "on time inside the opening"
    );
}

/// The attack on version one with the stock CLI: signed out (so nothing judges locally), a
/// teacher names the replica after the dean's office, unlocks the lesson the office closed,
/// changes a mark in it, locks it again and excuses an absence, then signs in and syncs.
/// Every change is refused with its reason and the office's replica shows none of it.
#[test]
fn a_teacher_cannot_write_as_the_dean_s_office_with_the_stock_cli() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let mut teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    teacher.sync();
    let lesson = teacher.json(&["show", J301_412])["lessons"][1]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    teacher.ok(&["mark", J301_412, &lesson, "9005", "nb"]);
    teacher.sync();
    dean.sync();
    dean.ok(&["lock", J301_412, "--lesson", &lesson, "--reason", "checked"]);
    dean.sync();
    teacher.sync();

    // Signed out, the teacher's own replica shows nothing; a replica of their journal that
    // was never signed in (a bundle of it) names its author freely, and nothing on it judges
    // an edit. The teacher writes as "dekanat" there, then signs in and pushes.
    let bundle = tmp.path().join("journal.bundle");
    teacher.ok(&["bundle", "export", bundle.to_str().expect("path")]);
    teacher.ok(&["logout"]);
    teacher = Client::new(tmp.path().join("forged"));
    teacher.ok(&["init", "--university", "tatu", "--user", "dekanat"]);
    teacher.ok(&["bundle", "import", bundle.to_str().expect("path")]);
    teacher.ok(&["unlock", J301_412, "--lesson", &lesson]);
    teacher.ok(&["mark", J301_412, &lesson, "9005", "+", "--grade", "95"]);
    teacher.ok(&["lock", J301_412, "--lesson", &lesson, "--reason", "checked"]);
    teacher.ok(&[
        "adjust", J301_412, &lesson, "9005", "--to", "excused", "--reason", "x",
    ]);
    teacher.login(&server, "anvar", "anvar-pw");
    let s = teacher.sync();
    assert_eq!(s["pushed"], 0, "{s}");
    assert_eq!(s["refused"], 4, "{s}");
    let status = teacher.json(&["status"]);
    let reasons: Vec<&str> = status["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("says it was made by \"dekanat\"")),
        "{reasons:?}"
    );

    dean.sync();
    let cell = cell_of(&dean, &lesson, "9005");
    assert_eq!(cell["status"], "a", "{cell}");
    assert_eq!(cell["adjusted_to"], Value::Null, "{cell}");
    let view = dean.json(&["show", J301_412]);
    let closed = view["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .find(|l| l["id"] == lesson.as_str())
        .expect("the lesson");
    assert_eq!(closed["lock"], "checked", "{closed}");
    assert_eq!(inbox(&dean), serde_json::json!([]));
}

/// Hand-made changes (core's own edit door, with nothing judging them on the device): one
/// writes a mark into a lesson the dean's office closed, after seeing the lock; another writes
/// a mark with a resolution "by admin". The server refuses the forged resolution; the late mark
/// is stored, and the office's replica shows it as an amendment by the real teacher, with the
/// value the lock froze still in effect.
#[test]
fn a_hand_made_mark_after_a_lock_is_an_amendment_by_the_real_teacher() {
    use daftar_core::projection::Refresh;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    teacher.sync();
    let lesson = teacher.json(&["show", J301_412])["lessons"][2]["id"]
        .as_str()
        .expect("lesson")
        .to_string();
    teacher.ok(&["mark", J301_412, &lesson, "9005", "nb"]);
    teacher.ok(&["mark", J301_412, &lesson, "9003", "nb"]);
    teacher.sync();
    dean.sync();
    dean.ok(&["lock", J301_412, "--lesson", &lesson, "--reason", "checked"]);
    dean.sync();
    teacher.sync();

    bypassing_local_rules(&tmp.path().join("anvar"), |r| {
        let journal = r.resolve_journal(J301_412).expect("journal");
        let late = format!("{lesson}/9005");
        r.edit(&journal, "mark", |doc| {
            doc.put("marks", &late, r#"{"s":"p","g":99}"#)?;
            Ok(Refresh::Keys(vec![("marks".into(), late.clone())]))
        })
        .expect("a hand-made late mark");
        let forged = format!("{lesson}/9003");
        r.edit(&journal, "resolve", |doc| {
            doc.put("marks", &forged, r#"{"s":"e","h":2}"#)?;
            doc.put(
                "resolutions",
                &format!("mark:{forged}"),
                r#"{"by":"admin","value":"{\"s\":\"e\",\"h\":2}","note":"2023"}"#,
            )?;
            Ok(Refresh::Whole)
        })
        .expect("a hand-made resolution");
    });
    let s = teacher.sync();
    assert_eq!(
        (s["pushed"].as_u64(), s["refused"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );

    dean.sync();
    assert_eq!(
        cell_of(&dean, &lesson, "9005")["status"],
        "a",
        "the frozen NB holds"
    );
    assert_eq!(
        cell_of(&dean, &lesson, "9003")["status"],
        "a",
        "no forged excuse"
    );
    let i = inbox(&dean);
    let entries = i.as_array().expect("inbox");
    assert_eq!(entries.len(), 1, "{i}");
    assert_eq!(entries[0]["kind"], "amendment");
    let late = entries[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|v| v["locked"] != true)
        .cloned()
        .expect("the late value");
    assert_eq!(late["user"], "anvar", "{late}");
    assert_eq!(late["verified"], true, "{late}");
}

/// Issue 10: a failed sign-in (a wrong address, a wrong password, another user's wrong
/// password) leaves the working one exactly as it was: same device, and the next sync works.
#[test]
fn a_failed_sign_in_keeps_the_working_session() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    teacher.sync();
    let device = teacher.device();
    let attempts: [(&str, &str, &str); 3] = [
        ("http://127.0.0.1:9", "anvar", "anvar-pw"),
        (&server.url(), "anvar", "wrong"),
        (&server.url(), "dekanat", "wrong"),
    ];
    for (url, user, password) in attempts {
        let out = std::process::Command::new(daftar_tests::bin_dir().join("daftar"))
            .arg("--data-dir")
            .arg(&teacher.dir)
            .args(["login", "--server", url, "--user", user])
            .env("DAFTAR_PASSWORD", password)
            .output()
            .expect("run login");
        assert!(!out.status.success(), "{url} {user} signed in");
        assert_eq!(
            teacher.device(),
            device,
            "after {url} {user}: the device changed"
        );
        let s = teacher.sync();
        assert_eq!(s["refused"], 0, "after {url} {user}: {s}");
        let status = teacher.json(&["status"]);
        assert_eq!(status["user"], "anvar", "{status}");
    }
}

/// A hand-made score written after the dean's office closed the whole journal is an amendment
/// like a late mark: stored, shown in the office's inbox, and not in effect until accepted.
#[test]
fn a_hand_made_score_after_a_journal_lock_does_not_take_effect() {
    use daftar_core::projection::Refresh;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    teacher.sync();
    dean.sync();
    // Admitted to the final: 50 of the 70 JN + ON points.
    // (The journal's module plans HEMIS's sub-controls: 1-JN, 2-JN, 1-ON, 2-ON.)
    for (control, points) in [
        ("1-JN", "20"),
        ("2-JN", "10"),
        ("1-ON", "15"),
        ("2-ON", "5"),
    ] {
        teacher.ok(&["score", J301_412, control, "9005", points]);
    }
    teacher.sync();
    dean.sync();
    dean.ok(&["lock", J301_412, "--reason", "semester closed"]);
    dean.sync();
    teacher.sync();
    bypassing_local_rules(&tmp.path().join("anvar"), |r| {
        let journal = r.resolve_journal(J301_412).expect("journal");
        r.edit(&journal, "score", |doc| {
            doc.put("scores", "YN/1/9005", "30")?;
            Ok(Refresh::Keys(vec![("scores".into(), "YN/1/9005".into())]))
        })
        .expect("a hand-made score");
    });
    assert_eq!(teacher.sync()["refused"], 0, "a teacher may write scores");
    dean.sync();
    let view = dean.json(&["show", J301_412]);
    let scores = view["scores"].as_array().expect("scores");
    assert!(
        !scores
            .iter()
            .any(|s| s["student"] == "9005" && s["control"] == "YN"),
        "the late score is not in effect: {scores:?}"
    );
    let i = inbox(&dean);
    assert_eq!(i[0]["kind"], "amendment", "{i}");
    assert_eq!(i[0]["field"], "score", "{i}");
}

/// A final (YN) score for a student who is not admitted is refused by the server too, with
/// the reason, when a hand-made client skips the replica's own check; once the student is
/// admitted, the score goes in.
#[test]
fn the_server_refuses_a_final_score_for_a_student_not_admitted() {
    use daftar_core::projection::Refresh;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let teacher = client(tmp.path(), "anvar", &server, "anvar", "anvar-pw");
    teacher.sync();
    // 20 of the 38.5 points JN + ON needs (55 % of 70).
    teacher.ok(&["score", J301_412, "1-JN", "9001", "10"]);
    teacher.ok(&["score", J301_412, "1-ON", "9001", "10"]);
    let err = teacher.run(&["score", J301_412, "YN", "9001", "25"]);
    assert!(!err.status.success(), "the replica refuses it first");
    assert!(String::from_utf8_lossy(&err.stderr).contains("not admitted"));
    teacher.sync();
    bypassing_local_rules(&tmp.path().join("anvar"), |r| {
        let journal = r.resolve_journal(J301_412).expect("journal");
        r.edit(&journal, "score", |doc| {
            doc.put("scores", "YN/1/9001", "25")?;
            Ok(Refresh::Keys(vec![("scores".into(), "YN/1/9001".into())]))
        })
        .expect("a hand-made final score");
    });
    let s = teacher.sync();
    let status = teacher.json(&["status"]);
    assert_eq!(
        status["waiting"], 1,
        "the final waits on the teacher's computer: {s}"
    );
    let refused = status["refused"].to_string();
    assert!(
        refused.contains("not admitted to the final control: 20 of the 38.5 points"),
        "the server's reason is kept with the change: {refused} (sync: {s})"
    );
    // A fresh replica of the teacher never sees it.
    let fresh = client(tmp.path(), "anvar-2", &server, "anvar", "anvar-pw");
    fresh.sync();
    let view = fresh.json(&["show", J301_412]);
    assert!(
        !view["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .any(|s| s["student"] == "9001" && s["control"] == "YN"),
        "{view}"
    );
    // Admitted now (45 of 70): the final goes in.
    teacher.ok(&["score", J301_412, "1-JN", "9001", "20"]);
    teacher.ok(&["score", J301_412, "2-JN", "9001", "15"]);
    teacher.ok(&["score", J301_412, "YN", "9001", "25"]);
    let s = teacher.sync();
    assert!(s["pushed"].as_u64().unwrap_or(0) >= 2, "{s}");
    fresh.sync();
    let report = fresh.json(&["report", J301_412]);
    let row = report["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| s["id"] == "9001")
        .expect("9001")
        .clone();
    assert_eq!(row["control_points"], 70.0, "{row}");
    assert_eq!(row["five_point"], 3);

    // A retake sitting without the dean's office's permission: refused by the server too.
    bypassing_local_rules(&tmp.path().join("anvar"), |r| {
        let journal = r.resolve_journal(J301_412).expect("journal");
        r.edit(&journal, "score", |doc| {
            doc.put("scores", "YN/2/9001", "28")?;
            Ok(Refresh::Keys(vec![("scores".into(), "YN/2/9001".into())]))
        })
        .expect("a hand-made retake score");
    });
    teacher.sync();
    let refused = teacher.json(&["status"])["refused"].to_string();
    assert!(refused.contains("retake permission"), "{refused}");
    // The dean's office permits it; the teacher's next sync brings the permission down and the
    // waiting score goes up with it.
    let dean = client(tmp.path(), "dekanat", &server, "dekanat", "dekanat-pw");
    dean.sync();
    dean.ok(&["retake", J301_412, "9001", "--sitting", "2"]);
    assert_eq!(dean.sync()["refused"], 0);
    let s = teacher.sync();
    assert_eq!(teacher.json(&["status"])["waiting"], 0, "{s}");
    fresh.sync();
    let view = fresh.json(&["show", J301_412]);
    assert!(
        view["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .any(|s| s["student"] == "9001" && s["control"] == "YN" && s["sitting"] == 2),
        "{view}"
    );
}

/// Runs `f` on a replica as a hand-made client would: without the replica's own judgement of
/// its edits (the signed-in role is put aside meanwhile), so only the server judges them.
fn bypassing_local_rules(dir: &Path, f: impl FnOnce(&mut daftar_core::Replica)) {
    let mut r = daftar_core::Replica::open(&dir.join("replica.db")).expect("open the replica");
    let role = r.meta("server_role").expect("meta").expect("signed in");
    r.set_meta("server_role", "").expect("meta");
    f(&mut r);
    r.set_meta("server_role", &role).expect("meta");
}

/// Group commit under a crash: a dozen devices push at once (their pushes share commit
/// groups), the server is SIGKILLed with them in flight, then restarted (again, with new
/// marks, until a kill has cut syncs in flight). Every change a device holds as acknowledged
/// is in the server's database; none is stored twice when the devices push again; in the end
/// the server holds each change exactly once.
#[test]
fn grouped_pushes_killed_in_flight_keep_every_acknowledged_change() {
    const DEVICES: usize = 12;
    const MARKS: usize = 15;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(tmp.path()).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    let mut office = Client::new(tmp.path().join("office"));
    office.ok(&["init", "--university", "demo"]);
    office.ok(&["demo", "--tier", "XS", "--seed", "3"]);
    office.login(&server, "admin", "admin-pw");
    let published = office.sync()["pushed"].as_u64().expect("pushed");
    let journals = office.journal_ids();

    let mut devices = Vec::new();
    for d in 0..DEVICES {
        let mut c = Client::new(tmp.path().join(format!("device-{d}")));
        c.ok(&["init", "--university", "demo"]);
        c.login(&server, "admin", "admin-pw");
        c.sync();
        devices.push(c);
    }

    // A kill can land after every sync in flight was already answered (a quick server
    // answers a whole commit group at once): then the devices mark again and the round is
    // repeated, until a kill has cut syncs in flight.
    const ROUNDS: usize = 5;
    let mut rounds = 0;
    let mut cut = 0;
    while cut == 0 {
        assert!(
            rounds < ROUNDS,
            "no kill in {ROUNDS} rounds met pushes in flight"
        );
        if rounds > 0 {
            server.restart().expect("restart");
        }
        for (d, c) in devices.iter().enumerate() {
            let journal = &journals[d % journals.len()];
            let view = c.json(&["show", journal]);
            for k in 0..MARKS {
                let lesson = view["lessons"][k]["id"]
                    .as_str()
                    .expect("lesson")
                    .to_string();
                let student = view["students"][d / journals.len()]["id"]
                    .as_str()
                    .expect("student")
                    .to_string();
                c.ok(&[
                    "mark",
                    journal,
                    &lesson,
                    &student,
                    "nb",
                    "--note",
                    &format!("r{rounds} d{d} k{k}"),
                ]);
            }
        }
        rounds += 1;

        // All at once, a few milliseconds apart (so they meet the server in several
        // commit groups); the server dies while their pushes are in flight.
        // (Changes only: a device's exit must follow its push, not a look for course materials.)
        let before = stored_rows(&rusqlite::Connection::open(&server.db).expect("server db"));
        let mut children = Vec::new();
        for c in &devices {
            children.push(c.spawn(&["sync", "--no-materials"]));
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        // Frozen as soon as the server has stored the first of them (or a device is done):
        // the others are still on their way, and requests already sent stay in flight; then
        // SIGKILLed. (Waiting for a device to finish was too late on a quick run: the server
        // had answered every push while the devices were still applying what they pulled.)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let server_db = rusqlite::Connection::open(&server.db).expect("server db");
        while stored_rows(&server_db) == before
            && !children
                .iter_mut()
                .any(|c: &mut std::process::Child| c.try_wait().ok().flatten().is_some())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the server stored nothing and no device finished its sync"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(server_db);
        server.freeze();
        std::thread::sleep(std::time::Duration::from_millis(200));
        server.kill();
        for mut child in children {
            if !child.wait().expect("wait").success() {
                cut += 1;
            }
        }

        // What the devices hold as acknowledged is stored.
        let stored: std::collections::HashSet<String> = {
            let db = rusqlite::Connection::open(&server.db).expect("server db");
            let mut stmt = db.prepare("SELECT hash FROM changes").expect("query");
            stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
                .expect("rows")
                .map(|h| hex::encode(h.expect("hash")))
                .collect()
        };
        let mut acked = 0;
        for c in &devices {
            let r = rusqlite::Connection::open(c.dir.join("replica.db")).expect("replica");
            let mut stmt = r
                .prepare("SELECT hash FROM changes WHERE local = 1 AND pushed = 1")
                .expect("query");
            for hash in stmt
                .query_map([], |row| row.get::<_, String>(0))
                .expect("rows")
            {
                let hash = hash.expect("hash");
                assert!(
                    stored.contains(&hash),
                    "{} holds {hash} as acknowledged, but the server lost it",
                    c.dir.display()
                );
                acked += 1;
            }
        }
        eprintln!(
            "round {rounds}: kill cut {cut} of {DEVICES} syncs; {acked} changes acknowledged"
        );
    }

    // Back up: everything goes, nothing twice.
    server.restart().expect("restart");
    for c in &devices {
        c.sync();
        assert_eq!(c.json(&["status"])["waiting"], 0);
    }
    let rows = stored_rows(&rusqlite::Connection::open(&server.db).expect("server db"));
    assert_eq!(rows, published + (rounds * DEVICES * MARKS) as u64);
}

/// The changes a server's database holds.
fn stored_rows(db: &rusqlite::Connection) -> u64 {
    db.query_row("SELECT count(*) FROM changes", [], |r| r.get(0))
        .expect("count")
}

/// A teacher marks one lesson on two devices while neither reaches the other (laptop in
/// class, phone in the corridor): both set the lesson held, so its status holds two equal
/// values from two devices. Marking that lesson again must work (CI once found it refused
/// with "A teacher may not delete lesson status"), go up, and reach the other device.
#[test]
fn a_lesson_marked_on_two_devices_offline_can_be_marked_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _admin) = university(tmp.path());
    let laptop = client(tmp.path(), "laptop", &server, "anvar", "anvar-pw");
    let phone = client(tmp.path(), "phone", &server, "anvar", "anvar-pw");
    laptop.sync();
    phone.sync();
    let view = laptop.json(&["show", J301_412]);
    let lesson = view["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .find(|l| l["status"] == "planned")
        .and_then(|l| l["id"].as_str())
        .expect("a lesson not held yet")
        .to_string();
    laptop.ok(&["mark", J301_412, &lesson, "9001", "+"]);
    phone.ok(&["mark", J301_412, &lesson, "9005", "nb"]);
    for c in [&laptop, &phone, &laptop] {
        assert_eq!(c.sync()["refused"], 0);
    }
    laptop.ok(&["mark", J301_412, &lesson, "9003", "+", "--grade", "90"]);
    assert_eq!(laptop.sync()["refused"], 0);
    assert_eq!(phone.sync()["refused"], 0);
    // The whole lesson at once, from the other device (the grade stays).
    phone.ok(&["mark-all", J301_412, &lesson, "--absent", "9005"]);
    for c in [&phone, &laptop] {
        assert_eq!(c.sync()["refused"], 0);
    }
    assert_eq!(
        laptop.ok(&["--json", "show", J301_412]),
        phone.ok(&["--json", "show", J301_412]),
        "both devices show the same journal"
    );
    let marked = cell_of(&phone, &lesson, "9003");
    assert_eq!(marked["grade"], 90, "{marked}");
    let held = laptop.json(&["show", J301_412])["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .find(|l| l["id"] == lesson.as_str())
        .map(|l| l["status"].clone());
    assert_eq!(held, Some(Value::from("held")));
    assert_eq!(inbox(&laptop), serde_json::json!([]), "nothing to resolve");
}

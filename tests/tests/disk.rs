//! A full disk and a read-only disk, under the client's replica and under the server's
//! database: a small tmpfs mounted for the test (root only; the test says so and stops when
//! it cannot mount). Each time: a clear error, the edit not acknowledged, nothing earlier lost,
//! and work goes on once there is room again.

use std::path::{Path, PathBuf};
use std::process::Command;

use daftar_tests::{Client, Server};
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hemis");
const JOURNAL: &str = "g412-s301-17";

/// A tmpfs of `size` mounted on `dir` for the test's lifetime.
struct Mount {
    dir: PathBuf,
}

impl Mount {
    fn new(dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).expect("mount point");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Only root may mount; everywhere this suite runs in CI it is root.
            let root = Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
            assert!(
                !root,
                "running as root but cannot mount a tmpfs on {}",
                dir.display()
            );
            eprintln!("not root: cannot mount a tmpfs, the disk tests do not run here");
            return None;
        }
        Some(Mount {
            dir: dir.to_path_buf(),
        })
    }

    fn remount(&self, mode: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {mode}");
    }

    /// Fills the file system to the last byte; returns the filler to delete.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if f.write_all(&chunk).and_then(|()| f.sync_all()).is_err() {
                break;
            }
        }
        // What is left after the last whole chunk, down to single bytes.
        for size in [4096usize, 512, 64, 1] {
            while f
                .write_all(&chunk[..size])
                .and_then(|()| f.sync_all())
                .is_ok()
            {}
        }
        path
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn show(c: &Client) -> Value {
    c.json(&["show", JOURNAL])
}

fn lesson_and_student(view: &Value, i: usize) -> (String, String) {
    (
        view["lessons"][i % 3]["id"]
            .as_str()
            .expect("lesson")
            .to_string(),
        view["students"]
            .as_array()
            .expect("students")
            .iter()
            .filter(|s| s["status"] == "active")
            .nth(i / 3 % 3)
            .and_then(|s| s["id"].as_str())
            .expect("a student studying now")
            .to_string(),
    )
}

fn note_at(view: &Value, lesson: &str, student: &str) -> Option<String> {
    view["cells"]
        .as_array()?
        .iter()
        .find(|c| c["lesson"] == lesson && c["student"] == student)
        .and_then(|c| c["note"].as_str().map(str::to_string))
}

fn integrity(db: &Path) {
    let r = daftar_core::Replica::open(db).expect("the replica opens");
    let check: String = r
        .raw_sql()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
}

#[test]
fn a_full_or_read_only_disk_under_the_replica_refuses_the_edit_and_loses_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(disk) = Mount::new(&tmp.path().join("disk"), "6m") else {
        return;
    };
    let c = Client::new(disk.dir.join("replica"));
    c.ok(&["init", "--university", "tatu", "--user", "anvar"]);
    c.ok(&["import", "hemis", FIXTURE]);
    let view = show(&c);
    let (l0, s0) = lesson_and_student(&view, 0);
    c.ok(&["mark", JOURNAL, &l0, &s0, "+", "--note", "before"]);
    let before = show(&c);

    // Full: the mark fails with words for people, and is not there afterwards.
    let filler = disk.fill();
    let (l1, s1) = lesson_and_student(&view, 4);
    let out = c.run(&["--json", "mark", JOURNAL, &l1, &s1, "nb", "--note", "lost"]);
    assert!(
        !out.status.success(),
        "a mark on a full disk says it failed"
    );
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("disk is full"), "a clear error: {err}");
    std::fs::remove_file(&filler).expect("free the space");
    let after = show(&c);
    assert_eq!(
        note_at(&after, &l1, &s1),
        None,
        "the refused mark is not half there"
    );
    assert_eq!(after, before, "nothing saved before is lost");
    integrity(&c.dir.join("replica.db"));
    c.ok(&["mark", JOURNAL, &l1, &s1, "nb", "--note", "with room"]);
    assert_eq!(note_at(&show(&c), &l1, &s1).as_deref(), Some("with room"));

    // Read-only: the same.
    let before = show(&c);
    disk.remount("ro");
    let (l2, s2) = lesson_and_student(&view, 8);
    let out = c.run(&["--json", "mark", JOURNAL, &l2, &s2, "nb", "--note", "lost"]);
    assert!(
        !out.status.success(),
        "a mark on a read-only disk says it failed"
    );
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("cannot be written") || err.contains("read-only"),
        "a clear error: {err}"
    );
    disk.remount("rw");
    let after = show(&c);
    assert_eq!(after, before, "nothing saved before is lost");
    integrity(&c.dir.join("replica.db"));
    c.ok(&["mark", JOURNAL, &l2, &s2, "nb", "--note", "writable"]);
    assert_eq!(note_at(&show(&c), &l2, &s2).as_deref(), Some("writable"));
}

#[test]
fn a_full_or_read_only_disk_under_the_server_keeps_changes_waiting_and_loses_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(disk) = Mount::new(&tmp.path().join("disk"), "8m") else {
        return;
    };
    let mut server = Server::start(&disk.dir).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    server
        .add_user("anvar", "anvar-pw", "teacher", &["--employee", "701"])
        .expect("teacher");
    let mut admin = Client::new(tmp.path().join("admin"));
    admin.ok(&["init", "--university", "tatu"]);
    admin.ok(&["import", "hemis", FIXTURE]);
    admin.login(&server, "admin", "admin-pw");
    assert_eq!(admin.sync()["refused"], 0);
    let mut teacher = Client::new(tmp.path().join("anvar"));
    teacher.ok(&["init", "--university", "tatu"]);
    teacher.login(&server, "anvar", "anvar-pw");
    teacher.sync();
    let view = show(&teacher);

    // Full while it runs. The server's WAL is checkpointed off the writer and reused, so a
    // small push may still be stored in the room the WAL already has (durably: a commit is
    // its synced WAL frames). Marks keep coming until the server needs room it cannot get:
    // then the push is refused with the reason and the marks wait, none lost.
    let filler = disk.fill();
    let mut made = 0usize;
    let mut refused = None;
    for round in 0..60 {
        let (l, s) = lesson_and_student(&view, 1 + round % 6);
        let note = format!("server disk full {round} {}", "x".repeat(400));
        teacher.ok(&["mark", JOURNAL, &l, &s, "+", "--note", &note]);
        made += 1;
        let out = teacher.run(&["--json", "sync"]);
        if !out.status.success() {
            refused = Some(String::from_utf8_lossy(&out.stderr).to_string());
            break;
        }
    }
    let err = refused.expect("a full disk refuses a push before 60 rounds");
    assert!(
        err.contains("cannot store anything now"),
        "the server says why: {err}"
    );
    assert_eq!(
        teacher.json(&["status"])["waiting"],
        1,
        "the refused mark waits on the teacher's computer"
    );
    assert!(
        daftar_tests::http_get(server.port, "/healthz").is_ok(),
        "the server still answers"
    );
    std::fs::remove_file(filler).expect("free the space");
    let s2 = teacher.sync();
    assert_eq!(s2["pushed"], 1, "it goes up once there is room: {s2}");
    assert_eq!(teacher.json(&["status"])["waiting"], 0);
    assert!(made >= 1);

    // Read-only (a disk the kernel remounted after errors): the server will not start on it
    // and says why; the teacher's mark waits until it is back.
    let (l, s) = lesson_and_student(&view, 5);
    teacher.ok(&[
        "mark",
        JOURNAL,
        &l,
        &s,
        "+",
        "--note",
        "server disk read-only",
    ]);
    server.stop();
    disk.remount("ro");
    let out = Command::new(daftar_tests::bin_dir().join("daftar-sync"))
        .arg("--database")
        .arg(&server.db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("daftar-sync runs");
    assert!(!out.status.success(), "no server on a read-only database");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open the database"),
        "it says why: {err}"
    );
    let out = teacher.run(&["--json", "sync"]);
    assert!(!out.status.success());
    assert_eq!(teacher.json(&["status"])["waiting"], 1);
    disk.remount("rw");
    server.restart().expect("restart on a writable disk");
    let s3 = teacher.sync();
    assert_eq!(
        s3["pushed"], 1,
        "it goes up once the disk is writable: {s3}"
    );

    // Nothing the server had is lost: a fresh replica gets the import and both marks.
    server.stop();
    server.restart().expect("restart");
    let mut fresh = Client::new(tmp.path().join("fresh"));
    fresh.ok(&["init", "--university", "tatu"]);
    fresh.login(&server, "anvar", "anvar-pw");
    fresh.sync();
    assert_eq!(show(&fresh), show(&teacher), "the server holds everything");
    let _ = &mut teacher;
}

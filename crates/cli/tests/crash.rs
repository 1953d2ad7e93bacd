//! Durability: a child process marks cells in a loop and reports each edit once `mark`
//! returned; it is killed with SIGKILL at random moments, again and again. Every acknowledged
//! edit must be on disk afterwards, and the database must pass `PRAGMA integrity_check`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daftar_tests::cli::{bin, demo, json, ok};
use rand::{Rng, SeedableRng};

/// SIGKILLs in a run: 50 by default (as CI runs it), `DAFTAR_CRASH_KILLS` for a soak.
fn kills() -> usize {
    std::env::var("DAFTAR_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
}

#[test]
fn acknowledged_edits_survive_sigkill() {
    let seed: u64 = std::env::var("DAFTAR_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test seed {seed} (rerun with DAFTAR_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = tmp.path().join("replica");
    let mut journal = demo(&dir, 21);
    // Last acknowledged counter per cell.
    let mut acked: HashMap<(String, String), u64> = HashMap::new();
    let mut next = 0u64;
    let mut total_acks = 0usize;

    let kills = kills();
    let started = Instant::now();
    for round in 0..kills {
        let round_started = Instant::now();
        // A long soak starts a fresh replica every 100 kills (a journal's history grows with
        // every edit, and so does each restart).
        if round > 0 && round % 100 == 0 {
            check_rebuild(&dir, &journal);
            dir = tmp.path().join(format!("replica-{round}"));
            journal = demo(&dir, 21 + round as u64);
            acked.clear();
            next = 0;
        }
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(&dir)
            .args(["debug-mark-loop", &journal, "--start", &next.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the marking loop");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until it is marking (start-up is slow on a loaded machine), then kill it at a
        // random moment while it works.
        let mut lines = Vec::new();
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
            lines.push(line);
        }
        let deadline = Instant::now() + Duration::from_millis(rng.random_range(0..300));
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(2)) {
                lines.push(line);
            }
        }
        // Child::kill sends SIGKILL on Unix.
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let _ = reader.join();
        lines.extend(rx.try_iter());
        for line in lines {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["ack", lesson, student, n] = parts.as_slice() {
                let n: u64 = n.parse().expect("counter");
                acked.insert((lesson.to_string(), student.to_string()), n);
                next = next.max(n + 1);
                total_acks += 1;
            }
        }
        // A killed run may have written one more edit than it acknowledged.
        next += 1;

        // Check the replica after every kill.
        let db = rusqlite::Connection::open(dir.join("replica.db")).expect("open");
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(integrity, "ok", "round {round}: integrity");
        drop(db);
        let view = json(&dir, &["show", &journal]);
        let notes: HashMap<(String, String), u64> = view["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .filter_map(|c| {
                let n = c["note"].as_str()?.strip_prefix('n')?.parse().ok()?;
                Some((
                    (
                        c["lesson"].as_str()?.to_string(),
                        c["student"].as_str()?.to_string(),
                    ),
                    n,
                ))
            })
            .collect();
        for (cell, n) in &acked {
            let stored = notes.get(cell).copied();
            assert!(
                stored.is_some_and(|s| s >= *n),
                "round {round}: acknowledged edit n{n} on {cell:?} is missing (found {stored:?}, seed {seed})"
            );
        }
        if std::env::var_os("DAFTAR_CRASH_TIMING").is_some() {
            eprintln!("round {round}: {:?}", round_started.elapsed());
        }
    }
    assert!(
        total_acks > 100,
        "the loop made too little progress to prove anything: {total_acks} acks"
    );

    check_rebuild(&dir, &journal);
    eprintln!(
        "crash: {total_acks} acknowledged edits survived {kills} client SIGKILLs, 0 lost, in {:.0} s (seed {seed})",
        started.elapsed().as_secs_f64()
    );
}

/// The documents on disk agree with the projection (rebuild from automerge and compare).
fn check_rebuild(dir: &std::path::Path, journal: &str) {
    let before = ok(dir, &["--json", "show", journal]);
    let mut replica = daftar_core::Replica::open(&dir.join("replica.db")).expect("open replica");
    replica.rebuild_projection().expect("rebuild");
    drop(replica);
    assert_eq!(ok(dir, &["--json", "show", journal]), before);
}

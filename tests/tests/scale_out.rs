//! Scale-out: three `daftar-sync` instances on one PostgreSQL database behind nginx
//! (round-robin), 50 devices syncing a day's work through it while one instance is SIGKILLed
//! with requests in flight and later restarted. 40 devices are the office's (administrator)
//! and mark cells; 10 are the dean's office of faculty f1 and only read. Every change is
//! stored exactly once, every replica converges, and the journals read exactly as after the
//! same day on one SQLite server.
//!
//! Needs the PostgreSQL test cluster (`DAFTAR_TEST_POSTGRES`, started by `scripts/test.sh`)
//! and nginx; without the cluster it says so and stops.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use daftar_core::Replica;
use daftar_tests::{Client, Nginx, Server, postgres_database, psql};

const DEVICES: usize = 50;
/// Devices 0..MARKING belong to the office and mark; the rest are the dean's office's.
const MARKING: usize = 40;
/// Marks each device makes, in three rounds with a sync after each.
const MARKS_PER_ROUND: usize = 4;
const ROUNDS: usize = 3;
/// Devices working at once.
const PARALLEL: usize = 10;

/// What the journals say, cell by cell: (journal, lesson, student) → (status, note).
type Cells = BTreeMap<(String, String, String), (String, Option<String>)>;

fn cells_of(dir: &Path) -> Cells {
    let r = Replica::open(&dir.join("replica.db")).expect("replica");
    let mut out = Cells::new();
    for j in r.journals().expect("journals") {
        let id = r.resolve_journal(&j.id).expect("journal");
        for c in r.journal_view(&id).expect("view").cells {
            out.insert(
                (j.id.clone(), c.lesson.clone(), c.student.clone()),
                (c.status.clone(), c.note.clone()),
            );
        }
    }
    out
}

/// `daftar sync` until it succeeds: a request to an instance that dies answers 502 or loses
/// its connection, and the retry goes through nginx to another. Returns the failed tries.
fn sync_until_done(c: &Client) -> usize {
    for failed in 0..30 {
        if c.run(&["--json", "sync"]).status.success() {
            return failed;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} could not sync in 30 tries", c.dir.display());
}

/// Runs `work` for every device, `PARALLEL` at a time.
fn each_device(work: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                loop {
                    let d = next.fetch_add(1, Ordering::SeqCst);
                    if d >= DEVICES {
                        break;
                    }
                    work(d);
                }
            });
        }
    });
}

/// One day: the office imports the university (demo XS) and publishes it; each device signs
/// in and takes everything, then marks its own cells in rounds with a sync after each
/// (`round` runs beside each round: the kill and the restart). At the end everyone syncs until
/// nothing is left. Returns the office's and the devices' folders, the failed syncs and the
/// changes the office published.
fn the_day(
    root: &Path,
    url: &str,
    round: impl Fn(usize) + Sync,
) -> (PathBuf, Vec<PathBuf>, usize, u64) {
    let mut office = Client::new(root.join("office"));
    office.ok(&["init", "--university", "demo"]);
    office.ok(&["demo", "--tier", "XS", "--seed", "4"]);
    office.login_at(url, "admin", "admin-pw");
    let published = office.sync()["pushed"].as_u64().expect("pushed");
    let failed = AtomicUsize::new(0);
    let dirs: Vec<PathBuf> = (0..DEVICES)
        .map(|d| root.join(format!("device-{d:02}")))
        .collect();
    let clients: Vec<std::sync::Mutex<Client>> = dirs
        .iter()
        .map(|dir| std::sync::Mutex::new(Client::new(dir.clone())))
        .collect();
    // Sign-ins one after another: attempts in flight count against the name's limit until
    // their password is checked (parallel guesses cannot slip under it).
    for (d, c) in clients.iter().enumerate() {
        let mut c = c.lock().expect("client");
        c.ok(&["init", "--university", "demo"]);
        if d < MARKING {
            c.login_at(url, "admin", "admin-pw");
        } else {
            c.login_at(url, "dekanat", "dekanat-pw");
        }
    }
    each_device(|d| {
        let c = clients[d].lock().expect("client");
        failed.fetch_add(sync_until_done(&c), Ordering::SeqCst);
    });
    // Each device's cells: one student of one journal, its own lessons.
    let cells: Vec<(String, String, Vec<String>)> = (0..MARKING)
        .map(|d| {
            let r = Replica::open(&dirs[d].join("replica.db")).expect("replica");
            let journals = r.journals().expect("journals");
            let j = &journals[d % journals.len()];
            let view = r
                .journal_view(&r.resolve_journal(&j.id).expect("journal"))
                .expect("view");
            let student = view.students[d / journals.len()].id.clone();
            let lessons = view
                .lessons
                .iter()
                .take(MARKS_PER_ROUND * ROUNDS)
                .map(|l| l.id.clone())
                .collect();
            (j.id.clone(), student, lessons)
        })
        .collect();
    for r in 0..ROUNDS {
        std::thread::scope(|s| {
            s.spawn(|| round(r));
            each_device(|d| {
                let c = clients[d].lock().expect("client");
                let Some((journal, student, lessons)) = cells.get(d) else {
                    // The dean's office only reads, and syncs as often.
                    failed.fetch_add(sync_until_done(&c), Ordering::SeqCst);
                    return;
                };
                for (k, lesson) in lessons
                    .iter()
                    .enumerate()
                    .skip(r * MARKS_PER_ROUND)
                    .take(MARKS_PER_ROUND)
                {
                    let status = ["nb", "+", "late"][(d + k) % 3];
                    let note = format!("device {d} mark {k}");
                    c.ok(&["mark", journal, lesson, student, status, "--note", &note]);
                }
                failed.fetch_add(sync_until_done(&c), Ordering::SeqCst);
            });
        });
    }
    // Everyone takes everyone else's day.
    for _ in 0..2 {
        each_device(|d| {
            let c = clients[d].lock().expect("client");
            failed.fetch_add(sync_until_done(&c), Ordering::SeqCst);
        });
    }
    sync_until_done(&office);
    (
        root.join("office"),
        dirs,
        failed.load(Ordering::SeqCst),
        published,
    )
}

#[test]
fn three_instances_behind_nginx_lose_nothing_when_one_is_killed() {
    let Some(database) = postgres_database("scale_out") else {
        eprintln!("no PostgreSQL test cluster (DAFTAR_TEST_POSTGRES): scripts/test.sh starts one");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();

    // The same day on one SQLite server: what the journals must read.
    let single = Server::start(&tmp.path().join("sqlite")).expect("server");
    single
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    single
        .add_user("dekanat", "dekanat-pw", "dean", &["--scope", "f1"])
        .expect("dean");
    let (expected_office, _, _, _) = the_day(&tmp.path().join("sqlite-day"), &single.url(), |_| {});
    let expected = cells_of(&expected_office);
    drop(single);
    let sqlite_took = started.elapsed();

    // Three instances on PostgreSQL behind nginx; the second dies mid-round and comes back.
    let mut instances: Vec<Server> = (0..3)
        .map(|_| Server::start_on(&database).expect("instance"))
        .collect();
    instances[0]
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    instances[0]
        .add_user("dekanat", "dekanat-pw", "dean", &["--scope", "f1"])
        .expect("dean");
    let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
    let nginx = Nginx::start(&tmp.path().join("nginx"), &ports).expect("nginx");
    let victim = std::sync::Mutex::new(instances.remove(1));
    let killed_at = std::sync::Mutex::new(None);
    let (office, devices, failed, published) =
        the_day(&tmp.path().join("pg-day"), &nginx.url(), |round| {
            let mut v = victim.lock().expect("victim");
            match round {
                // In the middle of the first round's pushes: frozen, so the requests nginx
                // sends it hang there, then SIGKILLed with them in flight, as a crash would.
                0 => {
                    std::thread::sleep(Duration::from_millis(300));
                    v.freeze();
                    std::thread::sleep(Duration::from_millis(500));
                    v.kill();
                    *killed_at.lock().expect("time") = Some(Instant::now());
                }
                // The next round: it comes back on the same port and database.
                1 => v.restart().expect("restart"),
                _ => {}
            }
        });
    assert!(killed_at.lock().expect("time").is_some());

    assert!(
        failed > 0,
        "the kill met requests in flight (their devices retried through another instance)"
    );
    // Every change stored exactly once: the office's import and every mark, nothing lost and
    // nothing twice (a retried push that was stored before the kill is acknowledged, not
    // stored again).
    let rows: u64 = psql(&database, "SELECT count(*) FROM changes")[0]
        .parse()
        .expect("count");
    let marks = MARKING * MARKS_PER_ROUND * ROUNDS;
    assert_eq!(rows, published + marks as u64);

    // Every replica converged, and to what one SQLite server gives.
    let got = cells_of(&office);
    for d in &devices[..MARKING] {
        assert!(
            cells_of(d) == got,
            "{} differs from the office",
            d.display()
        );
    }
    // The dean's office reads its faculty's journals, exactly as the office has them.
    for d in &devices[MARKING..] {
        let dean = cells_of(d);
        assert!(!dean.is_empty(), "the dean's office reads journals");
        assert!(
            dean.iter().all(|(k, v)| got.get(k) == Some(v)),
            "{} differs from the office",
            d.display()
        );
        let journals: std::collections::BTreeSet<&String> = dean.keys().map(|k| &k.0).collect();
        let office_cells = got.keys().filter(|k| journals.contains(&k.0)).count();
        assert_eq!(dean.len(), office_cells, "{} has every cell", d.display());
    }
    let differing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .take(5)
        .collect();
    assert!(
        differing.is_empty() && got.len() == expected.len(),
        "the day on three instances differs from one SQLite server: {differing:?}"
    );
    for d in 0..MARKING {
        let mine = got
            .values()
            .filter(|(_, n)| {
                n.as_deref()
                    .is_some_and(|n| n.starts_with(&format!("device {d} mark ")))
            })
            .count();
        assert_eq!(mine, MARKS_PER_ROUND * ROUNDS, "device {d}'s marks");
    }
    eprintln!(
        "scale-out: {DEVICES} devices, {marks} marks, {rows} changes stored once each; {failed} syncs retried after the kill; \
         SQLite day {:.1?}, three-instance day {:.1?}",
        sqlite_took,
        started.elapsed() - sqlite_took
    );
    drop(nginx);
}

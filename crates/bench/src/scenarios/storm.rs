//! B9: a conflict storm. Thirty devices (a teacher's and the registrar's, an administrator;
//! the dean's office writes no marks) edit one journal offline, a fifth of the edits on a few shared cells, then all sync. Every
//! device must end with the same journal and the same conflict inbox.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use daftar_client::engine::sync_once;
use daftar_client::transport::Transport;
use daftar_core::Replica;
use daftar_core::journal::MarkInput;
use daftar_core::model::{Attendance, MarkValue};
use daftar_protocol::Role;
use rand::seq::IndexedRandom;

use super::{checks, finish, ms};
use crate::Ctx;
use crate::fixture::{self, FloorDb, Shape};
use crate::measure::Samples;
use crate::report::{Row, ScenarioReport, Unit};
use crate::server::{Cluster, lock};

/// Syncs every device, one after another; returns each device's time.
fn sync_each(
    cluster: &Cluster,
    devices: &[(Arc<Mutex<Replica>>, Transport)],
) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(devices.len());
    for (r, t) in devices {
        let t0 = Instant::now();
        cluster.client_rt.block_on(sync_once(r, t, |_| {}))?;
        out.push(t0.elapsed());
    }
    Ok(out)
}

pub fn b9(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b9")?;
    let cluster = Cluster::start(&dir)?;
    let users = ["ustoz", "admin"];
    cluster.add_user("admin", Role::Admin, None, None)?;
    cluster.add_user("ustoz", Role::Teacher, None, Some("7001"))?;
    let mut admin = Replica::open(&dir.join("admin.db"))?;
    let mut rng = fixture::rng(ctx.opts.seed + 90);
    let fx = fixture::bulk(&mut admin, |r| {
        fixture::build_journal(
            r,
            &Shape {
                tag: "b9".into(),
                students: 25,
                lessons: 36,
                marked: 20,
                teachers: vec!["7001".into()],
            },
            &mut rng,
        )
    })?;
    let admin_t = cluster.login("admin", &admin)?;
    let admin = Mutex::new(admin);
    cluster.sync(&admin, &admin_t)?;

    let n = ctx.sizes.b9_devices;
    let edits = ctx.sizes.b9_edits;
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let r = Replica::open(std::path::Path::new(":memory:"))?;
        let t = cluster.login(users[i % users.len()], &r)?;
        let r = Arc::new(Mutex::new(r));
        cluster.sync(&r, &t)?;
        devices.push((r, t));
    }

    // Offline: 80 % of each device's edits on cells of its own, 20 % on ten shared cells.
    let all_cells: Vec<(String, String)> = fx
        .lessons
        .iter()
        .take(20)
        .flat_map(|l| fx.students.iter().map(move |s| (l.clone(), s.clone())))
        .collect();
    let hot: Vec<(String, String)> = all_cells[all_cells.len() - 10..].to_vec();
    let own_per = edits - edits / 5;
    let mut expected: BTreeMap<(String, String), MarkValue> = fx.marks.clone();
    let mut hot_writers: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
    let mut floor_cells = Vec::new();
    for (d, (r, _)) in devices.iter().enumerate() {
        let mut g = lock(r);
        for k in 0..edits {
            let (cell, own) = if k < own_per {
                (
                    all_cells[(d * own_per + k) % (all_cells.len() - 10)].clone(),
                    true,
                )
            } else {
                (
                    hot.choose(&mut rng)
                        .cloned()
                        .unwrap_or_else(|| hot[0].clone()),
                    false,
                )
            };
            let grade = 50 + d as u32;
            g.mark(
                &fx.journal,
                &cell.0,
                &cell.1,
                MarkInput {
                    status: Attendance::Present,
                    grade: Some(grade),
                    note: None,
                    hours: None,
                },
            )?;
            let mut m = MarkValue::new(Attendance::Present);
            m.grade = Some(grade);
            floor_cells.push((cell.clone(), m.clone()));
            if own {
                expected.insert(cell, m);
            } else {
                hot_writers.entry(cell).or_default().insert(d);
            }
        }
    }
    // Changes actually made (a repeated put of the value a cell already holds writes none).
    let mut made = 0i64;
    for (r, _) in &devices {
        made += lock(r).waiting()?;
    }
    // Each device's offline document, for the stock-automerge merge baseline.
    let mut docs: Vec<automerge::AutoCommit> = Vec::new();
    for (r, _) in &devices {
        docs.push(lock(r).doc(&fx.journal)?.am.fork());
    }

    // Two rounds, each device on its own as it would be on its own machine: everyone pushes
    // (and pulls what is there), then everyone pulls the rest. (B7 covers a server under many
    // clients at once.)
    let before = cluster.metrics();
    let round1 = sync_each(&cluster, &devices)?;
    let round2 = sync_each(&cluster, &devices)?;
    let server = cluster.metrics() - before;
    let mut merge = Samples::new();
    for (a, b) in round1.iter().zip(&round2) {
        merge.push(*a + *b);
    }

    // Checks: the same journal and inbox everywhere; own cells as written; a conflict for
    // every shared cell written by two or more devices; winners agree with automerge.
    let mut results = Vec::new();
    let first = lock(&devices[0].0).journal_view(&fx.journal)?;
    let inbox = lock(&devices[0].0).conflicts(None)?;
    for (i, (r, _)) in devices.iter().enumerate().skip(1) {
        let g = lock(r);
        if g.journal_view(&fx.journal)? != first {
            results.push((
                format!("device {i}"),
                Err("journal differs from device 0".to_string()),
            ));
        }
        if g.conflicts(None)? != inbox {
            results.push((
                format!("device {i}"),
                Err("inbox differs from device 0".to_string()),
            ));
        }
    }
    let contested: BTreeSet<String> = hot_writers
        .iter()
        .filter(|(_, w)| w.len() >= 2)
        .map(|((l, s), _)| format!("{l}/{s}"))
        .collect();
    let inbox_keys: BTreeSet<String> = inbox
        .iter()
        .filter(|c| c.field == "mark")
        .map(|c| c.key.clone())
        .collect();
    results.push((
        "inbox".into(),
        if inbox_keys == contested {
            Ok(())
        } else {
            Err(format!(
                "{} conflicts in the inbox, {} cells contested",
                inbox_keys.len(),
                contested.len()
            ))
        },
    ));
    let mut plain = first.clone();
    plain
        .cells
        .retain(|c| !hot_writers.contains_key(&(c.lesson.clone(), c.student.clone())));
    let mut exp = expected.clone();
    exp.retain(|k, _| !hot_writers.contains_key(k));
    results.push(("own cells".into(), fixture::view_matches(&plain, &exp)));
    {
        let mut g = lock(&devices[0].0);
        let doc = g.doc(&fx.journal)?;
        for (l, s) in hot_writers.keys() {
            let winner = doc
                .get("marks", &format!("{l}/{s}"))
                .and_then(|v| serde_json::from_str::<MarkValue>(&v).ok());
            let shown = first
                .cells
                .iter()
                .find(|c| &c.lesson == l && &c.student == s)
                .and_then(|c| c.grade);
            if winner.and_then(|w| w.grade) != shown {
                results.push((
                    format!("{l}/{s}"),
                    Err("the grid does not show automerge's winner".into()),
                ));
            }
        }
    }
    let expected_changes = made as u64;
    results.push((
        "server".into(),
        if server.changes_stored == expected_changes {
            Ok(())
        } else {
            Err(format!(
                "{} changes stored, {expected_changes} made",
                server.changes_stored
            ))
        },
    ));

    // Baselines: floor-sql applies the same cell writes (last writer wins, no inbox) in one
    // transaction; stock-automerge merges the 30 documents in memory.
    let floor = FloorDb::create(&dir.join("floor.db"))?;
    floor.copy_projection(&dir.join("admin.db"))?;
    let others = floor_cells.len() - edits;
    let t0 = Instant::now();
    {
        let tx = floor.conn.unchecked_transaction()?;
        for ((l, s), m) in floor_cells.iter().skip(edits) {
            fixture::upsert_mark(&tx, &fx.journal, l, s, m)?;
        }
        tx.commit()?;
    }
    let floor_time = t0.elapsed();
    let t0 = Instant::now();
    let mut merged = docs[0].fork();
    for d in docs.iter_mut().skip(1) {
        merged.merge(d).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let stock_merge = t0.elapsed();

    let m = merge.stats();
    let rows = vec![
        Row::new(
            format!("merge per device p50 ({others} others' changes: push, pull, apply, inbox)"),
            Unit::Ms,
            m.p50_ms,
        )
        .vs("floor-sql (same writes, no inbox)", ms(floor_time))
        .target("≤ 200 ms", m.p50_ms <= 200.0),
        Row::new("merge per device max", Unit::Ms, m.max_ms).target("≤ 200 ms", m.max_ms <= 200.0),
        Row::new("merge per device p50", Unit::Ms, m.p50_ms).vs(
            "stock-automerge: in-memory merge of all 30 offline documents",
            ms(stock_merge),
        ),
        Row::new("conflicts in every inbox", Unit::Count, inbox.len() as f64)
            .vs("contested cells", contested.len() as f64),
        Row::new(
            "HTTP requests (both rounds, all devices)",
            Unit::Count,
            server.sync_requests as f64,
        )
        .vs("devices × 2", (n * 2) as f64),
        Row::new("changes stored", Unit::Count, server.changes_stored as f64),
        Row::new(
            "changes sent to devices",
            Unit::Count,
            server.changes_sent as f64,
        ),
    ];
    let notes = vec![format!(
        "{n} devices (users {}) each make {edits} one-cell edits offline, {} on cells of their own and {} on ten shared cells; then each syncs twice, one device at a time (the second round brings what others pushed after one's first). Merge time per device is both its syncs together. Checked: identical journal view and inbox on all {n}, own cells as written, one inbox entry per shared cell written by two or more devices, the grid showing automerge's winner.",
        users.join(", "),
        own_per,
        edits - own_per
    )];
    Ok(finish(checks(results), rows, notes, Vec::new()))
}

//! B7: many teachers, each with a day's work in their own replica, sync at the same time
//! against one server on this machine.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use daftar_core::Replica;
use daftar_core::model::{Attendance, MarkValue};
use daftar_protocol::Role;
use rand::Rng;

use super::{checks, finish, ms};
use crate::Ctx;
use crate::fixture::{self, FloorDb, Shape};
use crate::measure::Samples;
use crate::report::{Row, ScenarioReport, Unit};
use crate::server::{Cluster, lock};

pub fn b7(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b7")?;
    let cluster = Cluster::start_on(&dir, &ctx.backend)?;
    let n = ctx.sizes.b7_clients;
    let lessons = ctx.sizes.b7_lessons;
    cluster.add_user("admin", Role::Admin, None, None)?;
    for i in 0..n {
        cluster.add_user(
            &format!("t{i:03}"),
            Role::Teacher,
            None,
            Some(&format!("e{i:03}")),
        )?;
    }
    let mut admin = Replica::open(&dir.join("admin.db"))?;
    let mut rng = fixture::rng(ctx.opts.seed + 70);
    let mut fixtures = fixture::bulk(&mut admin, |r| {
        (0..n)
            .map(|i| {
                let shape = Shape {
                    tag: format!("b7t{i:03}"),
                    students: 25,
                    lessons,
                    marked: 0,
                    teachers: vec![format!("e{i:03}")],
                };
                fixture::build_journal(r, &shape, &mut rng)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let admin_t = cluster.login("admin", &admin)?;
    let admin = Mutex::new(admin);
    cluster.sync(&admin, &admin_t)?;

    // Each teacher: an in-memory replica, first sync, then a day's marks offline.
    let mut clients = Vec::with_capacity(n);
    let mut cells = 0usize;
    for (i, fx) in fixtures.iter_mut().enumerate() {
        let r = Replica::open(std::path::Path::new(":memory:"))?;
        let t = cluster.login(&format!("t{i:03}"), &r)?;
        let r = Arc::new(Mutex::new(r));
        cluster.sync(&r, &t)?;
        {
            let mut g = lock(&r);
            for lesson in fx.lessons.clone() {
                let absent: Vec<String> = (0..2)
                    .map(|_| fx.students[rng.random_range(0..25)].clone())
                    .collect();
                cells += g.mark_all(&fx.journal, &lesson, &absent)?;
                for s in &fx.students {
                    let st = if absent.contains(s) {
                        Attendance::Absent
                    } else {
                        Attendance::Present
                    };
                    fx.marks
                        .insert((lesson.clone(), s.clone()), MarkValue::new(st));
                }
            }
        }
        clients.push((r, t));
    }

    // All at once.
    let before = cluster.metrics();
    cluster.take_sync_times();
    let start = Instant::now();
    let outcomes: Vec<(Duration, Result<daftar_client::engine::SyncSummary, String>)> = cluster
        .client_rt
        .block_on(crate::server::sync_all_at_once(&clients));
    let wall = start.elapsed();
    let server = cluster.metrics() - before;
    let server_times = cluster.take_sync_times();

    let load = crate::server::LoadOutcome::of(&outcomes, lessons);
    let (latency, pushed, trips) = (&load.latency, load.pushed, load.round_trips);
    let mut results = Vec::new();
    let expected = n * lessons;
    let lost = expected.saturating_sub(server.changes_stored as usize);
    let duplicated = (server.changes_stored as usize).saturating_sub(expected);
    results.push(("clients".to_string(), load.check()));
    results.push((
        "server".into(),
        if lost == 0 && duplicated == 0 && pushed == expected {
            Ok(())
        } else {
            Err(format!(
                "{} changes stored, {pushed} acknowledged, {expected} made",
                server.changes_stored
            ))
        },
    ));
    // The admin pulls everything and sees every teacher's marks, once.
    let pull = cluster.sync(&admin, &admin_t)?;
    results.push((
        "admin pull".into(),
        if pull.pulled == expected {
            Ok(())
        } else {
            Err(format!(
                "admin pulled {} changes, {expected} expected",
                pull.pulled
            ))
        },
    ));
    {
        let a = lock(&admin);
        for fx in &fixtures {
            results.push((
                fx.journal.clone(),
                fixture::view_matches(&a.journal_view(&fx.journal)?, &fx.marks),
            ));
        }
    }
    if results.iter().any(|(_, r)| r.is_err()) {
        return Ok(finish(checks(results), Vec::new(), Vec::new(), Vec::new()));
    }

    // floor-sql: the same cells upserted by one plain-SQL server, one transaction per client.
    let floor = FloorDb::create(&dir.join("floor.db"))?;
    let admin_path = dir.join("admin.db");
    floor.copy_projection(&admin_path)?;
    floor.conn.execute_batch("DELETE FROM marks")?;
    let t0 = Instant::now();
    for fx in &fixtures {
        let tx = floor.conn.unchecked_transaction()?;
        for ((l, s), m) in &fx.marks {
            fixture::upsert_mark(&tx, &fx.journal, l, s, m)?;
        }
        tx.commit()?;
    }
    let floor_time = t0.elapsed();

    let rate = cells as f64 / wall.as_secs_f64();
    let floor_rate = cells as f64 / floor_time.as_secs_f64();
    let l = latency.stats();
    let mut server_s = Samples::new();
    for t in server_times {
        server_s.push(t);
    }
    let sv = server_s.stats();
    let rows = vec![
        Row::new(
            format!("{n} clients × {} cells: ingest rate", cells / n.max(1)),
            Unit::PerSecond,
            rate,
        )
        .vs(
            "floor-sql (one plain-SQL writer, same transactions)",
            floor_rate,
        )
        .target("≥ 12k cell edits/s", rate >= 12_000.0),
        Row::new("per-client sync p99", Unit::Ms, l.p99_ms).target("≤ 1 s", l.p99_ms <= 1000.0),
        Row::new("per-client sync p50", Unit::Ms, l.p50_ms),
        Row::new("wall time, first start to last finish", Unit::Ms, ms(wall))
            .vs("floor-sql", ms(floor_time)),
        Row::new("lost changes", Unit::Count, lost as f64).target("= 0", lost == 0),
        Row::new("duplicated changes", Unit::Count, duplicated as f64)
            .target("= 0", duplicated == 0),
        Row::new(
            "HTTP requests (server /v1/sync)",
            Unit::Count,
            server.sync_requests as f64,
        )
        .vs("clients", n as f64),
        Row::new(
            "round trips per client (mean)",
            Unit::Count,
            trips as f64 / n as f64,
        ),
        Row::new("server time per request p50", Unit::Ms, sv.p50_ms),
        Row::new("server time per request p99", Unit::Ms, sv.p99_ms),
        Row::new(
            "change bytes stored",
            Unit::Bytes,
            server.change_bytes_in as f64,
        ),
    ];
    let notes = vec![format!(
        "{n} teachers (one journal of 25 students each) mark {lessons} lessons offline in in-memory replicas, then all sync at once from {} client tasks on a 2-thread runtime; the server (2 worker threads, one SQLite writer, the WAL synced before any answer) shares the same 2 cores. Checked: every change stored exactly once (server counters), every client acknowledged and empty, and an admin replica pulling everything shows every teacher's marks.",
        n
    )];
    if rate.is_nan() {
        return Err(anyhow!("no time elapsed"));
    }
    Ok(finish(checks(results), rows, notes, Vec::new()))
}

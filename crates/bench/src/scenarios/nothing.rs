//! B6: a sync when nothing changed, as the replica grows from 42 to 4,200 documents. Daftar
//! sends one request whatever the count; stock-automerge needs a session per document.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use daftar_core::Replica;
use daftar_core::model::{Attendance, LessonStatus, LessonType, LessonValue, MarkValue};
use daftar_protocol::Role;

use super::{checks, finish, fork_docs, stock_converged, stock_sync_all};
use crate::Ctx;
use crate::fixture::{self, Shape};
use crate::measure::{Samples, log_log_slope};
use crate::report::{Row, ScenarioReport, Series, Unit};
use crate::server::{Cluster, lock};

/// Adds small journals (one marked lesson each) to the group of `base` until there are `n`.
fn grow(
    r: &mut Replica,
    base: &fixture::JournalFixture,
    have: usize,
    n: usize,
) -> Result<Vec<String>> {
    let header = serde_json::to_string(&LessonValue {
        date: fixture::semester_day(0),
        pair: 1,
        lesson_type: LessonType::Practical.code().into(),
        teacher: Some("5001".into()),
        subgroup: None,
        taken: false,
    })?;
    let marks: Vec<(String, String)> = base
        .students
        .iter()
        .map(|s| {
            Ok((
                format!("L001/{s}"),
                serde_json::to_string(&MarkValue::new(Attendance::Present))?,
            ))
        })
        .collect::<Result<_>>()?;
    let mut ids = Vec::new();
    for i in have..n {
        let id = format!("journal/b6-{i:05}");
        let (group, module) = (base.group.clone(), base.module.clone());
        r.create_doc(&id, "bench journal", |doc| {
            doc.put("meta", "group", &group)?;
            doc.put("meta", "module", &module)?;
            doc.put("meta", "subject", "Fizika")?;
            doc.put("meta", "semester", "3")?;
            doc.put("meta", "marking", "rating100")?;
            doc.put("meta", "teachers", "[\"5001\"]")?;
            doc.put("lessons", "L001", &header)?;
            doc.put("status", "L001", LessonStatus::Held.as_str())?;
            for (k, v) in &marks {
                doc.put("marks", k, v)?;
            }
            Ok(())
        })?;
        ids.push(id);
    }
    Ok(ids)
}

pub fn b6(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b6")?;
    let cluster = Cluster::start_on(&dir, &ctx.backend)?;
    cluster.add_user("admin", Role::Admin, None, None)?;
    cluster.add_user("dekanat", Role::Dean, Some(fixture::FACULTY), None)?;
    let mut admin = Replica::open(&dir.join("admin.db"))?;
    let mut rng = fixture::rng(ctx.opts.seed + 60);
    let base = fixture::bulk(&mut admin, |r| {
        fixture::build_journal(
            r,
            &Shape {
                tag: "b6base".into(),
                students: 25,
                lessons: 1,
                marked: 1,
                teachers: vec!["5001".into()],
            },
            &mut rng,
        )
    })?;
    let admin_t = cluster.login("admin", &admin)?;
    let admin = Mutex::new(admin);
    let dean = Replica::open(&dir.join("dean.db"))?;
    let dean_t = cluster.login("dekanat", &dean)?;
    let dean = Mutex::new(dean);
    let mut peer = cluster.stock_peer("dean")?;
    let mut stock_docs: Vec<(String, automerge::AutoCommit)> = Vec::new();

    let mut rows = Vec::new();
    let mut results = Vec::new();
    let (mut s_bytes, mut s_server, mut s_client, mut s_stock_bytes, mut s_stock_time) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut have = 1usize; // the base journal
    let mut first_bytes: Option<(u64, u64)> = None;
    let mut max_bytes = (0u64, 0u64);
    for &n in &ctx.sizes.b6_docs {
        // Grow to n journals (plus the catalog, group and module), upload, replicate.
        let new_ids = fixture::bulk(&mut lock(&admin), |r| grow(r, &base, have, n))?;
        have = n;
        cluster.sync(&admin, &admin_t)?;
        cluster.sync(&dean, &dean_t)?;
        let docs = lock(&dean).doc_ids()?.len();
        // stock-automerge: sessions for the new documents, established, then persisted.
        let mut added = fork_docs(&mut lock(&dean), &new_ids)?;
        if stock_docs.is_empty() {
            let all = lock(&dean).doc_ids()?;
            added = fork_docs(&mut lock(&dean), &all)?;
        }
        for (id, doc) in added.iter_mut() {
            cluster.baseline.put_doc(id, doc.fork());
        }
        stock_sync_all(&cluster, &mut peer, &mut added)?;
        stock_docs.extend(added);

        // Daftar: syncs with nothing to do.
        cluster.take_sync_times();
        let mut client = Samples::new();
        let mut trips = Vec::new();
        let mut bytes = Vec::new();
        let mut moved = 0;
        for i in 0..ctx.sizes.warmup + ctx.sizes.samples {
            let t0 = Instant::now();
            let s = cluster.sync(&dean, &dean_t)?;
            let d = t0.elapsed();
            moved += s.pushed + s.pulled;
            if i >= ctx.sizes.warmup {
                client.push(d);
                trips.push(s.round_trips);
                bytes.push((s.bytes_up, s.bytes_down));
            }
        }
        let times = cluster.take_sync_times();
        let mut server = Samples::new();
        for t in &times[ctx.sizes.warmup.min(times.len())..] {
            server.push(*t);
        }
        let (up, down) = bytes.iter().copied().max().unwrap_or_default();
        first_bytes.get_or_insert((up, down));
        max_bytes = max_bytes.max((up, down));
        let max_trips = trips.iter().copied().max().unwrap_or(0);
        results.push((
            format!("{docs} documents"),
            if moved == 0 && max_trips == 1 && docs == n + 3 {
                Ok(())
            } else {
                Err(format!("{docs} documents (expected {}), {moved} changes moved, up to {max_trips} round trips", n + 3))
            },
        ));

        // stock-automerge: a new session per document, as a poll over HTTP must.
        let mut stock_time = Samples::new();
        let (mut stock_req, mut stock_b) = (0u64, 0u64);
        for _ in 0..ctx.sizes.b6_stock_samples {
            peer.new_sessions();
            peer.reset_counters();
            let (_, t) = stock_sync_all(&cluster, &mut peer, &mut stock_docs)?;
            stock_time.push(t);
            let (r, u, d) = peer.counters();
            stock_req = r;
            stock_b = u + d;
        }
        results.push((
            format!("stock-automerge at {docs} documents"),
            stock_converged(&cluster, &mut stock_docs),
        ));

        let (c, sv, st) = (client.stats(), server.stats(), stock_time.stats());
        let d = docs as f64;
        rows.push(
            Row::new(
                format!("{docs} docs: requests per sync"),
                Unit::Count,
                max_trips as f64,
            )
            .vs("stock-automerge", stock_req as f64)
            .target("= 1", max_trips == 1),
        );
        rows.push(
            Row::new(format!("{docs} docs: bytes up"), Unit::Bytes, up as f64)
                .target("≤ 512 B", up <= 512),
        );
        rows.push(
            Row::new(format!("{docs} docs: bytes down"), Unit::Bytes, down as f64)
                .target("≤ 512 B", down <= 512),
        );
        rows.push(
            Row::new(
                format!("{docs} docs: bytes up + down"),
                Unit::Bytes,
                (up + down) as f64,
            )
            .vs("stock-automerge", stock_b as f64),
        );
        rows.push(
            Row::new(format!("{docs} docs: server p50"), Unit::Ms, sv.p50_ms)
                .target("≤ 1 ms", sv.p50_ms <= 1.0),
        );
        rows.push(Row::new(
            format!("{docs} docs: server p99"),
            Unit::Ms,
            sv.p99_ms,
        ));
        rows.push(
            Row::new(
                format!("{docs} docs: client p50 (round trip + local work)"),
                Unit::Ms,
                c.p50_ms,
            )
            .vs("stock-automerge", st.p50_ms),
        );
        s_bytes.push((d, (up + down) as f64));
        s_server.push((d, sv.p50_ms));
        s_client.push((d, c.p50_ms));
        s_stock_bytes.push((d, stock_b as f64));
        s_stock_time.push((d, st.p50_ms));
    }
    let slope = log_log_slope(&s_server);
    let client_slope = log_log_slope(&s_client);
    let first = first_bytes.unwrap_or_default();
    let bytes_flat = max_bytes.0 <= first.0 + 16 && max_bytes.1 <= first.1 + 16;
    rows.push(
        Row::new(
            "server p50 growth (log-log slope over document counts)",
            Unit::Ratio,
            slope,
        )
        .target("≤ 0.2 (flat)", slope <= 0.2),
    );
    rows.push(
        Row::new(
            "client p50 growth (log-log slope)",
            Unit::Ratio,
            client_slope,
        )
        .target("≤ 0.2 (flat)", client_slope <= 0.2),
    );
    rows.push(
        Row::new(
            "bytes at the largest count vs the smallest",
            Unit::Bytes,
            (max_bytes.0 + max_bytes.1) as f64,
        )
        .vs("smallest count", (first.0 + first.1) as f64)
        .target("flat (± 16 B each way)", bytes_flat),
    );
    let series = vec![
        Series {
            panel: "B6: bytes per no-change sync".into(),
            name: "Daftar (up + down)".into(),
            x_label: "documents".into(),
            y_label: "bytes".into(),
            points: s_bytes,
        },
        Series {
            panel: "B6: bytes per no-change sync".into(),
            name: "stock-automerge".into(),
            x_label: "documents".into(),
            y_label: "bytes".into(),
            points: s_stock_bytes,
        },
        Series {
            panel: "B6: time per no-change sync".into(),
            name: "Daftar server p50".into(),
            x_label: "documents".into(),
            y_label: "ms".into(),
            points: s_server,
        },
        Series {
            panel: "B6: time per no-change sync".into(),
            name: "Daftar client p50".into(),
            x_label: "documents".into(),
            y_label: "ms".into(),
            points: s_client,
        },
        Series {
            panel: "B6: time per no-change sync".into(),
            name: "stock-automerge (all sessions)".into(),
            x_label: "documents".into(),
            y_label: "ms".into(),
            points: s_stock_time,
        },
    ];
    let notes = vec![format!(
        "The dean's office replica holds the journals plus a catalog, a group and a module. Server time is measured by a layer around the server's router (handler, store and JSON, no network); {} samples after {} warm-up per count. stock-automerge: one new session per document per sync (what polling over HTTP needs: the server cannot push), {} sample(s) per count.",
        ctx.sizes.samples, ctx.sizes.warmup, ctx.sizes.b6_stock_samples
    )];
    Ok(finish(checks(results), rows, notes, series))
}

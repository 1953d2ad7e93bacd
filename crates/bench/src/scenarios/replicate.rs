//! B5: a dean's office builds its first full replica of a faculty (demo data of a tier) from
//! the server. The client runs in a process of its own when the `daftar-bench` executable is
//! known, so its peak RSS is its own.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use daftar_client::engine::sync_once;
use daftar_client::transport::Transport;
use daftar_core::Replica;
use daftar_core::demo::{DemoSpec, generate};
use daftar_protocol::Role;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use super::{checks, finish, fork_docs, ms, stock_converged, stock_sync_all};
use crate::Ctx;
use crate::fixture::{self, FloorDb, PROJECTION_TABLES};
use crate::measure::{CommitCounter, CpuScope, cpu_time, memory_mib};
use crate::report::{Row, ScenarioReport, Unit};
use crate::server::{Cluster, lock};
use crate::wire::{self, Interner};

/// What B5 leaves for B10.
#[derive(Debug, Clone)]
pub struct Replicated {
    pub dean: PathBuf,
    pub admin: PathBuf,
}

/// What the replicating client measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplicateOutcome {
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub pulled: u64,
    pub commits: u64,
    pub cells: u64,
    pub documents: u64,
    pub vm_hwm_mib: f64,
    /// Whether the RSS figure is the client's alone (its own process).
    pub own_process: bool,
}

async fn replicate(server: &str, user: &str, db: &Path) -> Result<ReplicateOutcome> {
    let replica = Replica::open(db)?;
    let commits = CommitCounter::install(replica.raw_sql());
    let device = replica.device_hex();
    let token = Transport::new(server, &device, None)?
        .login(user, user)
        .await?
        .token;
    let transport = Transport::new(server, &device, Some(token))?;
    let replica = Mutex::new(replica);
    let (c0, t0) = (cpu_time(CpuScope::Process), Instant::now());
    let summary = sync_once(&replica, &transport, |_| {}).await?;
    let seconds = t0.elapsed().as_secs_f64();
    let cpu_seconds = (cpu_time(CpuScope::Process) - c0).as_secs_f64();
    let r = lock(&replica);
    let count = |sql: &str| -> Result<u64> {
        Ok(r.raw_sql().query_row(sql, [], |x| x.get::<_, i64>(0))? as u64)
    };
    let (requests, bytes_up, bytes_down) = transport.counters.snapshot();
    Ok(ReplicateOutcome {
        seconds,
        cpu_seconds,
        requests,
        bytes_up,
        bytes_down,
        pulled: summary.pulled as u64,
        commits: commits.get(),
        cells: count("SELECT count(*) FROM marks")?,
        documents: count("SELECT count(*) FROM documents")?,
        vm_hwm_mib: memory_mib().0,
        own_process: true,
    })
}

/// `daftar-bench replicate`: the client side of B5, in its own process.
pub fn replicate_helper(server: &str, user: &str, db: &Path) -> Result<ReplicateOutcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(replicate(server, user, db))
}

/// All rows of the projection tables, to load into floor-sql.
fn projection_rows(conn: &rusqlite::Connection) -> Result<Vec<(&'static str, usize, Vec<Value>)>> {
    let mut out = Vec::new();
    for t in PROJECTION_TABLES {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {t}"))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let values = (0..n)
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.push((*t, n, values));
        }
    }
    Ok(out)
}

/// Inserts `rows` into floor-sql in `transactions` transactions (Daftar commits one per page).
fn floor_load(
    floor: &FloorDb,
    rows: &[(&'static str, usize, Vec<Value>)],
    transactions: usize,
) -> Result<Duration> {
    let per = rows.len().div_ceil(transactions.max(1)).max(1);
    let t0 = Instant::now();
    for chunk in rows.chunks(per) {
        let tx = floor.conn.unchecked_transaction()?;
        for (table, n, values) in chunk {
            let marks = vec!["?"; *n].join(",");
            tx.prepare_cached(&format!("INSERT INTO {table} VALUES ({marks})"))?
                .execute(rusqlite::params_from_iter(values.iter()))?;
        }
        tx.commit()?;
    }
    Ok(t0.elapsed())
}

pub fn b5(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b5")?;
    let cluster = Cluster::start(&dir)?;
    cluster.add_user("admin", Role::Admin, None, None)?;
    cluster.add_user("dekanat", Role::Dean, Some(fixture::FACULTY), None)?;

    let admin_path = dir.join("admin.db");
    let mut admin = Replica::open(&admin_path)?;
    let mut spec = DemoSpec::new(ctx.sizes.b5_tier, ctx.opts.seed);
    spec.filled = ctx.sizes.b5_filled;
    let t0 = Instant::now();
    let demo = generate(&mut admin, &spec, |_, _| {})?;
    let generate_s = t0.elapsed().as_secs_f64();
    let admin_t = cluster.login("admin", &admin)?;
    let admin = Mutex::new(admin);
    let t0 = Instant::now();
    let upload = cluster.sync(&admin, &admin_t)?;
    let upload_s = t0.elapsed().as_secs_f64();
    // The server compacts what was uploaded into snapshots in the background; a faculty's
    // first replica is made long after its data was uploaded, so wait for that work.
    let compact_s = cluster.wait_snapshots_idle().as_secs_f64();

    // The client.
    let dean_path = dir.join("dean.db");
    cluster.take_wire_bytes();
    let outcome = match &ctx.opts.helper_exe {
        Some(exe) => {
            let out = std::process::Command::new(exe)
                .args([
                    "replicate",
                    "--server",
                    &cluster.url,
                    "--user",
                    "dekanat",
                    "--db",
                ])
                .arg(&dean_path)
                .env("RUST_LOG", "warn")
                .output()
                .with_context(|| format!("run {}", exe.display()))?;
            if !out.status.success() {
                return Err(anyhow!(
                    "the replicating client failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            serde_json::from_slice::<ReplicateOutcome>(&out.stdout)
                .context("read the client's figures")?
        }
        None => {
            let mut o =
                cluster
                    .client_rt
                    .block_on(replicate(&cluster.url, "dekanat", &dean_path))?;
            o.own_process = false;
            o
        }
    };

    let (_, raw_down) = cluster.take_wire_bytes();

    // Baselines.
    let floor = FloorDb::create(&dir.join("floor.db"))?;
    let (rows, tuples) = {
        let a = lock(&admin);
        let rows = projection_rows(a.raw_sql())?;
        let mut ids = Interner::default();
        let mut stmt = a
            .raw_sql()
            .prepare("SELECT journal_id, lesson_id, student_id, status, hours, grade FROM marks")?;
        let tuples = stmt
            .query_map([], |r| {
                let (j, l, s): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let status: String = r.get(3)?;
                let hours: i64 = r.get(4)?;
                let grade: Option<i64> = r.get(5)?;
                Ok((j, l, s, status, hours, grade))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(|(j, l, s, status, hours, grade)| wire::Cell {
                journal: ids.id(&j) as u16,
                lesson: ids.id(&l) as u16,
                student: ids.id(&s),
                status: match status.as_str() {
                    "p" => 0,
                    "a" => 1,
                    "e" => 2,
                    _ => 3,
                },
                grade: grade.unwrap_or(0) as u8,
                hours: hours as u8,
            })
            .collect::<Vec<_>>();
        (rows, tuples)
    };
    let floor_sql = floor_load(&floor, &rows, outcome.requests as usize)?;
    let blob = wire::compress(&tuples)?;
    let floor_wire_bytes = blob.len() as f64;
    cluster.blob_put("faculty", blob)?;
    let t0 = Instant::now();
    let back = wire::decompress(&cluster.blob_get("faculty")?)?;
    let floor_wire = t0.elapsed();
    let floor_total = (floor_sql + floor_wire).as_secs_f64();

    let doc_ids = lock(&admin).doc_ids()?;
    let mut naive = 0usize;
    for (id, mut doc) in fork_docs(&mut lock(&admin), &doc_ids)? {
        naive += doc.save().len();
        cluster.baseline.put_doc(&id, doc);
    }
    let mut stock_docs: Vec<(String, automerge::AutoCommit)> = doc_ids
        .iter()
        .map(|id| (id.clone(), automerge::AutoCommit::new()))
        .collect();
    let mut peer = cluster.stock_peer("dean")?;
    let (stock_trips, stock_time) = stock_sync_all(&cluster, &mut peer, &mut stock_docs)?;
    let (_, stock_up, stock_down) = peer.counters();

    // Checks: the dean's replica shows every journal exactly as the admin's does.
    let dean = Replica::open(&dean_path)?;
    let mut results = vec![
        (
            "body accounting".to_string(),
            if raw_down == outcome.bytes_down {
                Ok(())
            } else {
                Err(format!(
                    "client counted {} bytes down, server sent {raw_down}",
                    outcome.bytes_down
                ))
            },
        ),
        (
            "cells".to_string(),
            if outcome.cells as usize == demo.cells && back.len() == demo.cells {
                Ok(())
            } else {
                Err(format!(
                    "{} cells replicated, {} in floor-wire, {} generated",
                    outcome.cells,
                    back.len(),
                    demo.cells
                ))
            },
        ),
        (
            "stock-automerge".into(),
            stock_converged(&cluster, &mut stock_docs),
        ),
    ];
    {
        let a = lock(&admin);
        let mut differing = 0;
        for j in a.journals()? {
            let id = format!("journal/{}", j.id);
            if a.journal_view(&id)? != dean.journal_view(&id)? {
                differing += 1;
            }
        }
        results.push((
            "journal views".into(),
            if differing == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{differing} of {} journals differ from the admin's",
                    demo.journals
                ))
            },
        ));
    }
    drop(dean);
    ctx.b5_replica = Some(Replicated {
        dean: dean_path,
        admin: admin_path,
    });

    let cells_per_s = outcome.cells as f64 / outcome.seconds.max(1e-9);
    let rows_out = vec![
        Row::new(
            format!(
                "first replica: {} journals, {} cells",
                demo.journals, demo.cells
            ),
            Unit::Ms,
            outcome.seconds * 1e3,
        )
        .vs("floor-sql load + floor-wire transfer", floor_total * 1e3)
        .ratio_at_most(3.0),
        Row::new("cells per second", Unit::PerSecond, cells_per_s)
            .target("≥ 150k/s", cells_per_s >= 150_000.0),
        Row::new(
            if outcome.own_process {
                "client peak RSS (VmHWM, own process)"
            } else {
                "peak RSS (VmHWM, whole bench process)"
            },
            Unit::MiB,
            outcome.vm_hwm_mib,
        )
        .target("≤ 300 MB", outcome.vm_hwm_mib <= 300.0 * 1e6 / 1048576.0),
        Row::new("bytes down", Unit::Bytes, outcome.bytes_down as f64)
            .vs("floor-wire", floor_wire_bytes),
        Row::new("bytes down", Unit::Bytes, outcome.bytes_down as f64).vs("naive", naive as f64),
        Row::new("bytes down", Unit::Bytes, outcome.bytes_down as f64)
            .vs("stock-automerge", stock_down as f64),
        Row::new("bytes up", Unit::Bytes, outcome.bytes_up as f64)
            .vs("stock-automerge", stock_up as f64),
        Row::new("HTTP requests", Unit::Count, outcome.requests as f64)
            .vs("stock-automerge", stock_trips as f64),
        Row::new("time", Unit::Ms, outcome.seconds * 1e3).vs("stock-automerge", ms(stock_time)),
        Row::new("client CPU", Unit::Ms, outcome.cpu_seconds * 1e3),
        Row::new("client SQLite commits", Unit::Count, outcome.commits as f64)
            .vs("floor-sql", floor.commits.get() as f64),
        Row::new("floor-sql load", Unit::Ms, ms(floor_sql)),
        Row::new(
            "floor-wire transfer (one request, decompress, unpack)",
            Unit::Ms,
            ms(floor_wire),
        ),
        Row::new("changes pulled", Unit::Count, outcome.pulled as f64),
    ];
    let notes = vec![
        format!(
            "Demo tier {:?} (seed {}): {} groups, {} students, {} journals, {} lessons, {} cells, generated in {:.1} s and uploaded by the admin in {:.1} s ({} round trips, {} changes); the server's background compaction of the upload into document snapshots finished {:.1} s after the upload (the measured replica starts after it).",
            ctx.sizes.b5_tier, ctx.opts.seed, demo.groups, demo.students, demo.journals, demo.lessons, demo.cells, generate_s, upload_s, upload.round_trips, upload.pushed, compact_s
        ),
        "floor-sql: the same projection rows inserted into the same schema with the same number of transactions as Daftar's pages; floor-wire: every cell as an 11-byte tuple, zstd, fetched in one request and unpacked. stock-automerge: one session per document from an empty document, sequential.".into(),
    ];
    Ok(finish(checks(results), rows_out, notes, Vec::new()))
}

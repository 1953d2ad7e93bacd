//! B12: scale-out. B6 (the nothing-changed sync as documents grow) and B7 (many clients sync
//! a day's work at once) run again with the server on PostgreSQL: one instance, then three
//! instances on one database behind nginx. Each row reads against the same scenario on
//! SQLite measured in this run.
//!
//! On this 2-core machine everything shares two cores: the clients, every instance, nginx
//! and PostgreSQL. Three instances cannot be faster here. The figures show what an instance
//! and the database spend, and the notes say what changes on real hosts.

use std::time::Instant;

use anyhow::{Result, anyhow};

use super::finish;
use crate::Ctx;
use crate::report::{Row, ScenarioReport, Unit};
use crate::server::{ServerBackend, postgres_cpu_seconds};

/// The rows of B6 and B7 that B12 compares.
const COMPARED: [&str; 6] = [
    "docs: server p50",
    "docs: bytes up",
    "ingest rate",
    "per-client sync p99",
    "server time per request p50",
    "lost changes",
];

struct Run {
    label: String,
    rows: Vec<Row>,
    passed: Result<(), String>,
    postgres_cpu: f64,
    server_cpu: f64,
    seconds: f64,
}

fn run_on(ctx: &mut Ctx, backend: ServerBackend) -> Result<Run> {
    ctx.backend = backend.clone();
    ctx.prefix = format!(
        "b12-{}-",
        match &backend {
            ServerBackend::Sqlite => "sqlite".to_string(),
            ServerBackend::Postgres { instances, .. } => format!("pg{instances}"),
        }
    );
    let cpu0 = postgres_cpu_seconds();
    let mut server_cpu = 0.0;
    let t0 = Instant::now();
    let mut rows = Vec::new();
    let mut passed = Ok(());
    for (id, f) in [
        (
            "B6",
            super::nothing::b6 as fn(&mut Ctx) -> Result<ScenarioReport>,
        ),
        ("B7", super::many::b7),
    ] {
        // Each scenario starts its own servers; their threads' CPU is read as they stop.
        let report = f(ctx)?;
        server_cpu += crate::server::last_server_cpu();
        if !report.check.passed && passed.is_ok() {
            passed = Err(format!(
                "{id} on {}: {}",
                backend.label(),
                report.check.detail
            ));
        }
        for mut r in report.rows {
            r.metric = format!("{id} {}", r.metric);
            rows.push(r);
        }
    }
    ctx.backend = ServerBackend::Sqlite;
    ctx.prefix.clear();
    Ok(Run {
        label: backend.label(),
        rows,
        passed,
        postgres_cpu: postgres_cpu_seconds() - cpu0,
        server_cpu,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

pub fn b12(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let Some(admin_url) = ctx.opts.postgres.clone() else {
        return Err(anyhow!(
            "B12 needs a PostgreSQL cluster: --postgres postgres://USER@HOST:PORT/postgres (scripts/pg.sh starts one)"
        ));
    };
    let sqlite = run_on(ctx, ServerBackend::Sqlite)?;
    let one = run_on(
        ctx,
        ServerBackend::Postgres {
            admin_url: admin_url.clone(),
            instances: 1,
        },
    )?;
    let three = run_on(
        ctx,
        ServerBackend::Postgres {
            admin_url,
            instances: 3,
        },
    )?;
    let mut rows = Vec::new();
    for run in [&one, &three] {
        for r in &run.rows {
            if !COMPARED.iter().any(|c| r.metric.contains(c)) {
                continue;
            }
            let base = sqlite.rows.iter().find(|b| b.metric == r.metric);
            let mut row = Row::new(format!("{}: {}", run.label, r.metric), r.unit, r.value);
            if let Some(b) = base {
                row = row.vs("same on SQLite", b.value);
            }
            if let (Some(t), Some(m)) = (&r.target, r.met) {
                row = row.target(t.clone(), m);
            }
            rows.push(row);
        }
        rows.push(Row::new(
            format!("{}: PostgreSQL CPU during B6 + B7", run.label),
            Unit::Ms,
            run.postgres_cpu * 1e3,
        ));
        rows.push(
            Row::new(
                format!("{}: server instances' CPU during B6 + B7", run.label),
                Unit::Ms,
                run.server_cpu * 1e3,
            )
            .vs("same on SQLite", sqlite.server_cpu * 1e3),
        );
        rows.push(
            Row::new(
                format!("{}: B6 + B7 wall time", run.label),
                Unit::Ms,
                run.seconds * 1e3,
            )
            .vs("same on SQLite", sqlite.seconds * 1e3),
        );
    }
    let check = sqlite
        .passed
        .clone()
        .and(one.passed.clone())
        .and(three.passed.clone());
    let notes = vec![
        "Each run builds the same documents and the same day's marks from the same seed; B6 and B7 check their results on every backend (every change stored once, every client converged).".into(),
        "Three instances share this machine's 2 cores with the clients, nginx and PostgreSQL, so they cannot be faster here: every extra process takes CPU from the others. On real hosts each instance has its own cores: sign-ins (argon2), pulls, snapshots and live-update waits scale with the instances; pushes are serialised by one advisory lock (the pull cursor's rule), so write throughput is PostgreSQL's one-writer commit rate, which a dedicated database host with a fast disk raises well above this machine's.".into(),
    ];
    Ok(finish(check, rows, notes, Vec::new()))
}

//! # daftar-bench
//!
//! Daftar's benchmarks B1–B12 (`docs/BENCHMARKS.md`, the spec is the project's benchmarks
//! brief): each scenario runs on seeded generated data, measures Daftar and its baselines in
//! the same process and the same run, checks that the final state is the one expected from all
//! edits, and only then reports figures, as ratios next to absolute values.
//!
//! Baselines:
//! - **floor-sql**: plain rusqlite with the replica's schema, PRAGMAs and transaction
//!   boundaries, no CRDT ([`fixture::FloorDb`]);
//! - **floor-sync**: a 4 KiB write + `sync_data` on the same filesystem;
//! - **floor-wire**: the changed cells as packed tuples, zstd-compressed, one request
//!   ([`wire`]);
//! - **naive**: every touched document whole (automerge `save()`);
//! - **stock-automerge**: automerge's per-document sync protocol over the same HTTP stack
//!   ([`server::StockPeer`] against [`server::BaselineState`]).
//!
//! Servers run in-process on 127.0.0.1 ([`server::Cluster`]); clients are real
//! [`daftar_core::Replica`]s syncing through [`daftar_client::engine::sync_once`] over
//! [`daftar_client::transport::Transport`], whose counters give requests and bytes each way.
//!
//! ```no_run
//! let report = daftar_bench::run(&daftar_bench::Options::new(daftar_bench::BenchTier::Fast))?;
//! assert!(report.all_checks_passed());
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod fixture;
pub mod machine;
pub mod measure;
pub mod peer;
pub mod plot;
pub mod report;
pub mod scenarios;
pub mod server;
pub mod wire;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

pub use report::{Report, Row, ScenarioReport, Unit};

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchTier {
    /// Reduced sizes: under a minute in a debug build on 2 cores.
    Fast,
    /// The sizes of the brief (tier M for B5/B10, 4,200 documents for B6, 200 clients for
    /// B7, 10⁵ prior changes for B8). Meant for a release build.
    Full,
}

impl BenchTier {
    pub fn parse(s: &str) -> Option<BenchTier> {
        match s {
            "fast" => Some(BenchTier::Fast),
            "full" => Some(BenchTier::Full),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BenchTier::Fast => "fast",
            BenchTier::Full => "full",
        }
    }
}

/// Sizes of every scenario for a tier.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Timed samples after warm-up (the brief asks for ≥ 31).
    pub samples: usize,
    pub warmup: usize,
    /// B4: journals the teacher works in, and the dean's concurrent edits.
    pub b4_journals: usize,
    pub b4_dean_edits: usize,
    /// B5/B10: the demo tier replicated, and the share of lessons held.
    pub b5_tier: daftar_core::demo::Tier,
    pub b5_filled: f64,
    /// B6: document counts.
    pub b6_docs: Vec<usize>,
    /// B6: samples of the stock-automerge no-change sync (one request per document each).
    pub b6_stock_samples: usize,
    /// B7: clients, and lessons each marks (≈ 25 cells each).
    pub b7_clients: usize,
    pub b7_lessons: usize,
    /// B8: prior changes spread over a journal's cells, and on one cell.
    pub b8_history: Vec<usize>,
    pub b8_same_cell: Vec<usize>,
    pub b8_samples: usize,
    /// B9: devices and edits per device.
    pub b9_devices: usize,
    pub b9_edits: usize,
    /// B10: journals of the simulated semester.
    pub b10_journals: usize,
    /// B11: client counts, each client pushing 100 one-edit changes.
    pub b11_clients: Vec<usize>,
}

impl Sizes {
    pub fn of(tier: BenchTier) -> Sizes {
        match tier {
            BenchTier::Fast => Sizes {
                samples: 31,
                warmup: 3,
                b4_journals: 5,
                b4_dean_edits: 10,
                b5_tier: daftar_core::demo::Tier::Xs,
                b5_filled: 1.0,
                b6_docs: vec![42, 420],
                b6_stock_samples: 1,
                b7_clients: 20,
                b7_lessons: 4,
                b8_history: vec![100, 1_000],
                b8_same_cell: vec![100, 1_000],
                b8_samples: 31,
                b9_devices: 10,
                b9_edits: 20,
                b10_journals: 2,
                b11_clients: vec![1, 4, 16],
            },
            BenchTier::Full => Sizes {
                samples: 51,
                warmup: 5,
                b4_journals: 5,
                b4_dean_edits: 20,
                b5_tier: daftar_core::demo::Tier::M,
                b5_filled: 1.0,
                b6_docs: vec![42, 420, 4_200],
                b6_stock_samples: 3,
                b7_clients: 200,
                b7_lessons: 4,
                b8_history: vec![1_000, 10_000, 100_000],
                b8_same_cell: vec![1_000, 10_000],
                b8_samples: 31,
                b9_devices: 30,
                b9_edits: 20,
                b10_journals: 84,
                b11_clients: vec![1, 4, 16, 64, 200],
            },
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub tier: BenchTier,
    /// Where `report.md`, `report.json` and `growth.svg` go (nothing is written when `None`).
    pub out: Option<PathBuf>,
    /// Where databases are made (a temp folder under it); default: the system temp folder.
    pub work_dir: Option<PathBuf>,
    /// The `daftar-bench` executable, to measure B5's client in a process of its own (its
    /// peak RSS then is the client's alone). Without it B5's client runs in this process and
    /// the RSS figure includes the server and the generator.
    pub helper_exe: Option<PathBuf>,
    /// Only these scenarios (`B1`…`B10`); all when empty.
    pub only: Vec<String>,
    /// How the run was started, for the report.
    pub command: String,
    /// Seed of every generator.
    pub seed: u64,
    /// Admin URL of a PostgreSQL cluster for B12 (`--postgres`, or `DAFTAR_BENCH_POSTGRES`).
    pub postgres: Option<String>,
    /// B11's reference peer, run beside Daftar on the same documents (`--peer`).
    pub peer: Option<peer::Peer>,
}

impl Options {
    pub fn new(tier: BenchTier) -> Options {
        Options {
            tier,
            out: None,
            work_dir: None,
            helper_exe: None,
            only: Vec::new(),
            command: format!("daftar-bench --tier {}", tier.name()),
            seed: 2026,
            postgres: None,
            peer: None,
        }
    }
}

/// Everything a scenario gets.
pub struct Ctx {
    pub opts: Options,
    pub sizes: Sizes,
    /// A fresh folder for this run's databases (deleted at the end).
    pub dir: tempfile::TempDir,
    /// B5 leaves its replica's sizes here for B10.
    pub b5_replica: Option<scenarios::replicate::Replicated>,
    /// The store B6 and B7 run their server on (B12 changes it).
    pub backend: server::ServerBackend,
    /// Prefix of scenario folders (B12 runs B6 and B7 once per backend).
    pub prefix: String,
}

impl Ctx {
    /// A new subfolder for one scenario.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let p = self.dir.path().join(format!("{}{name}", self.prefix));
        std::fs::create_dir_all(&p).with_context(|| format!("create {}", p.display()))?;
        Ok(p)
    }
}

type ScenarioFn = fn(&mut Ctx) -> Result<ScenarioReport>;

/// Runs the scenarios, writes the outputs, returns the report.
pub fn run(opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let started_utc = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let base = opts.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::Builder::new()
        .prefix("daftar-bench-")
        .tempdir_in(&base)
        .context("create the work folder")?;
    let pragmas = {
        let r = daftar_core::Replica::open(&dir.path().join("pragmas.db"))?;
        machine::pragmas(r.raw_sql())
    };
    let machine = machine::Machine::describe(dir.path(), pragmas);
    let mut ctx = Ctx {
        opts: opts.clone(),
        sizes: Sizes::of(opts.tier),
        dir,
        b5_replica: None,
        backend: server::ServerBackend::Sqlite,
        prefix: String::new(),
    };
    let all: [(&str, &str, &str, ScenarioFn); 12] = [
        (
            "B1",
            "open a journal and build the grid view",
            "≤ 1.5× floor-sql; p50 ≤ 5 ms warm",
            scenarios::local::b1,
        ),
        (
            "B2",
            "one durable cell edit",
            "≤ floor-sync + 0.2 ms and ≤ 1.2× floor-sql; one disk sync per edit",
            scenarios::local::b2,
        ),
        (
            "B3",
            "mark a whole lesson (one action)",
            "≤ 1.3× floor-sql durable, ≤ 2× on the CPU path; ≤ 40 bytes per cell on the wire",
            scenarios::local::b3,
        ),
        (
            "B4",
            "a teacher's offline day, then sync",
            "≤ 2 round trips; bytes ≤ 2× floor-wire + 1 KB and ≤ 0.2× naive; stock-automerge ≥ 2 round trips per document",
            scenarios::day::b4,
        ),
        (
            "B5",
            "first full replica of a faculty",
            "≤ 3× (floor-sql load + floor-wire transfer); ≥ 150k cells/s; client peak RSS ≤ 300 MB",
            scenarios::replicate::b5,
        ),
        (
            "B6",
            "sync when nothing changed",
            "one request, ≤ 512 bytes each way, server p50 ≤ 1 ms, flat as documents grow",
            scenarios::nothing::b6,
        ),
        (
            "B7",
            "many clients sync a day's work against one server",
            "≥ 12k cell edits/s, per-client p99 ≤ 1 s, zero lost or duplicated changes",
            scenarios::many::b7,
        ),
        (
            "B8",
            "growth with history",
            "bytes flat, time slope ≤ 0.2 on log-log; per-edit cost at the largest history ≤ 2× the smallest",
            scenarios::growth::b8,
        ),
        (
            "B9",
            "conflict storm: 30 devices, 20 % on the same cells",
            "identical state and inbox on all devices; merge ≤ 200 ms",
            scenarios::storm::b9,
        ),
        (
            "B10",
            "on-disk size",
            "≤ 3× floor-sql database size after compaction",
            scenarios::size::b10,
        ),
        (
            "B11",
            "ingest with one change per edit: N clients × 100 one-edit changes at once",
            "≥ 26k edits/s at 200 clients (10× automerge-repo's 2,609); per-client p99 ≤ 1 s; idle sync and sign-in p99 ≤ 100 ms during the load",
            scenarios::ingest::b11,
        ),
        (
            "B12",
            "scale-out: B6 and B7 on PostgreSQL with 1 and 3 instances behind nginx",
            "same results as SQLite; the ratios and the CPU each part spends",
            scenarios::scale::b12,
        ),
    ];
    let mut reports = Vec::new();
    for (id, title, target, f) in all {
        if !opts.only.is_empty() && !opts.only.iter().any(|o| o.eq_ignore_ascii_case(id)) {
            continue;
        }
        tracing::info!(scenario = id, "running");
        let t0 = Instant::now();
        let result = f(&mut ctx);
        let seconds = t0.elapsed().as_secs_f64();
        let mut report = match result {
            Ok(r) => r,
            Err(e) => ScenarioReport::failed(id, title, target, format!("{e:#}"), seconds),
        };
        report.id = id.into();
        report.title = title.into();
        report.target = target.into();
        report.seconds = seconds;
        if !report.check.passed {
            // A failed check reports a failure, never a number.
            report.rows.clear();
            report.series.clear();
        }
        tracing::info!(scenario = id, seconds, passed = report.check.passed, "done");
        reports.push(report);
    }
    let report = Report {
        tier: opts.tier.name().into(),
        command: opts.command.clone(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        started_utc,
        seconds: started.elapsed().as_secs_f64(),
        machine,
        scenarios: reports,
    };
    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
        std::fs::write(out.join("report.md"), report.to_markdown())?;
        std::fs::write(out.join("report.json"), report.to_json())?;
        if let Some(svg) = plot::growth_figure(&report) {
            std::fs::write(out.join("growth.svg"), svg)?;
        }
    }
    Ok(report)
}

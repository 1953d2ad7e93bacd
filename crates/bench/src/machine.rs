//! The machine and software a run measured: cores, CPU model, memory, kernel, the filesystem
//! the databases live on, compiler and crate versions, and the SQLite PRAGMAs in force.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub ram_gib: f64,
    pub kernel: String,
    /// Filesystem type and device of the folder the databases live in.
    pub filesystem: String,
    pub rustc: String,
    pub daftar: String,
    pub automerge: String,
    pub rusqlite: String,
    pub sqlite: String,
    pub axum: String,
    pub reqwest: String,
    pub zstd: String,
    pub pragmas: String,
}

impl Machine {
    /// Describes this machine; `work_dir` is where the databases are written and `pragmas`
    /// what the replica's connection reports.
    pub fn describe(work_dir: &Path, pragmas: String) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_string(), |(_, v)| v.trim().to_string());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_gib = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            ram_gib,
            kernel,
            filesystem: filesystem_of(work_dir),
            rustc: env!("DAFTAR_BENCH_RUSTC").to_string(),
            daftar: env!("CARGO_PKG_VERSION").to_string(),
            automerge: env!("DAFTAR_BENCH_AUTOMERGE").to_string(),
            rusqlite: env!("DAFTAR_BENCH_RUSQLITE").to_string(),
            sqlite: rusqlite::version().to_string(),
            axum: env!("DAFTAR_BENCH_AXUM").to_string(),
            reqwest: env!("DAFTAR_BENCH_REQWEST").to_string(),
            zstd: env!("DAFTAR_BENCH_ZSTD").to_string(),
            pragmas,
        }
    }
}

/// The PRAGMAs that matter for speed and durability, as a connection reports them.
pub fn pragmas(conn: &rusqlite::Connection) -> String {
    let mut parts = Vec::new();
    for name in [
        "journal_mode",
        "synchronous",
        "foreign_keys",
        "page_size",
        "cache_size",
        "wal_autocheckpoint",
        "busy_timeout",
    ] {
        let value: String = conn
            .query_row(&format!("PRAGMA {name}"), [], |r| {
                let v: rusqlite::types::Value = r.get(0)?;
                Ok(match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .unwrap_or_else(|_| "?".into());
        let value = match (name, value.as_str()) {
            ("synchronous", "2") => "FULL".to_string(),
            ("synchronous", "1") => "NORMAL".to_string(),
            ("synchronous", "0") => "OFF".to_string(),
            _ => value,
        };
        parts.push(format!("{name}={value}"));
    }
    parts.join(", ")
}

fn filesystem_of(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let mount = Path::new(f[1]);
        if dir.starts_with(mount) {
            let len = f[1].len();
            if best.as_ref().is_none_or(|(l, _)| len > *l) {
                best = Some((len, format!("{} ({})", f[2], f[0])));
            }
        }
    }
    best.map_or_else(|| "unknown".into(), |(_, s)| s)
}

//! Instruments: latency samples with percentiles, CPU time from `getrusage`, resident memory
//! from `/proc/self/status`, SQLite commits counted by a commit hook on the connection under
//! test, and file sizes. Everything a scenario reports comes from here, so every scenario
//! measures the same way.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Latency samples of one operation.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<Duration>,
}

/// Percentiles of a sample set, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Samples {
    pub fn new() -> Samples {
        Samples::default()
    }

    pub fn push(&mut self, d: Duration) {
        self.values.push(d);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Times `f` once and records it; returns what `f` returned.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.values.push(start.elapsed());
        out
    }

    pub fn stats(&self) -> Stats {
        if self.values.is_empty() {
            return Stats::default();
        }
        let mut v: Vec<f64> = self.values.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            // Nearest rank: the smallest value with at least q of the samples at or below it.
            let rank = (q * v.len() as f64).ceil() as usize;
            v[rank.clamp(1, v.len()) - 1]
        };
        Stats {
            n: v.len(),
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
            max_ms: v[v.len() - 1],
            mean_ms: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// CPU time (user + system) of the calling thread or of the whole process.
#[derive(Debug, Clone, Copy)]
pub enum CpuScope {
    Thread,
    Process,
}

/// CPU time used so far, from `getrusage(2)`.
#[allow(unsafe_code)]
pub fn cpu_time(scope: CpuScope) -> Duration {
    let who = match scope {
        CpuScope::Thread => libc::RUSAGE_THREAD,
        CpuScope::Process => libc::RUSAGE_SELF,
    };
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory the size of `rusage`; getrusage only writes
    // into it, and it is read only when the call reports success.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage returned 0, so it filled the whole struct (it was zeroed before anyway).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Peak and current resident memory of this process, in MiB (`VmHWM`, `VmRSS`).
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0: write 5 to `clear_refs`), so a peak can be
/// measured for one phase. Returns whether the kernel accepted it.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Bytes this process caused to be written to storage, from `/proc/self/io`.
pub fn io_write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Counts commits on one SQLite connection (a commit hook that never vetoes).
#[derive(Debug, Clone, Default)]
pub struct CommitCounter {
    count: Arc<AtomicU64>,
}

impl CommitCounter {
    /// Installs the hook on `conn` (replacing any other commit hook).
    pub fn install(conn: &rusqlite::Connection) -> CommitCounter {
        let counter = CommitCounter::default();
        let count = counter.count.clone();
        conn.commit_hook(Some(move || {
            count.fetch_add(1, Ordering::Relaxed);
            false
        }));
        counter
    }

    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Size of a SQLite database on disk: the file plus its `-wal`, and the bytes in use
/// ((page_count − freelist_count) × page_size), which is what `VACUUM` would shrink it to.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DbSize {
    pub file_bytes: u64,
    pub wal_bytes: u64,
    pub used_bytes: u64,
}

pub fn db_size(conn: &rusqlite::Connection, path: &Path) -> rusqlite::Result<DbSize> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    Ok(DbSize {
        file_bytes: len(path),
        wal_bytes: len(Path::new(&wal)),
        used_bytes: ((pages - free).max(0) * page_size) as u64,
    })
}

/// Least-squares slope of log(y) against log(x): the growth exponent (0 = flat, 1 = linear).
pub fn log_log_slope(points: &[(f64, f64)]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return 0.0;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s = Samples::new();
        for ms in 1..=100u64 {
            s.push(Duration::from_millis(ms));
        }
        let st = s.stats();
        assert_eq!(st.n, 100);
        assert!((st.p50_ms - 50.0).abs() < 1e-9);
        assert!((st.p99_ms - 99.0).abs() < 1e-9);
        assert!((st.max_ms - 100.0).abs() < 1e-9);
    }

    #[test]
    fn slope_of_a_power_law() {
        let pts: Vec<(f64, f64)> = [1e3, 1e4, 1e5]
            .iter()
            .map(|x: &f64| (*x, 3.0 * x.powf(0.5)))
            .collect();
        assert!((log_log_slope(&pts) - 0.5).abs() < 1e-9);
        let flat: Vec<(f64, f64)> = [1e3, 1e4, 1e5].iter().map(|x: &f64| (*x, 7.0)).collect();
        assert!(log_log_slope(&flat).abs() < 1e-9);
    }

    #[test]
    fn commit_counter_counts_transactions() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let c = CommitCounter::install(&conn);
        conn.execute_batch("CREATE TABLE t (x); BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); COMMIT;")
            .expect("sql");
        // CREATE TABLE autocommits, then one explicit transaction.
        assert_eq!(c.get(), 2);
    }

    #[test]
    fn cpu_time_advances() {
        let a = cpu_time(CpuScope::Thread);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_time(CpuScope::Thread) >= a);
    }
}

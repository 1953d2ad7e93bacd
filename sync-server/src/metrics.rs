//! Counters for `GET /metrics`, in the Prometheus text exposition format.
//!
//! Hand-written rather than a metrics crate: a handful of counters, no histograms. Request
//! counts are keyed by matched route (never the raw path, so made-up URLs cannot grow the map),
//! method and status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    pub changes_stored: AtomicU64,
    pub changes_refused: AtomicU64,
    pub changes_sent: AtomicU64,
    /// Newly readable documents sent as one compacted snapshot.
    pub snapshots_sent: AtomicU64,
    /// Document snapshots rebuilt in the background after pushes.
    pub snapshots_built: AtomicU64,
    /// Raw change bytes newly stored.
    pub bytes_in: AtomicU64,
    /// Raw change bytes sent to clients.
    pub bytes_out: AtomicU64,
    pub logins_failed: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_request(&self, route: &str, method: &str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP daftar_http_requests_total HTTP requests by matched route, method and status.\n");
        out.push_str("# TYPE daftar_http_requests_total counter\n");
        {
            let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            for ((route, method, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "daftar_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape(route),
                    escape(method)
                );
            }
        }
        let counters: [(&str, &str, &AtomicU64); 8] = [
            (
                "daftar_changes_stored_total",
                "Changes newly stored.",
                &self.changes_stored,
            ),
            (
                "daftar_changes_refused_total",
                "Pushed changes refused.",
                &self.changes_refused,
            ),
            (
                "daftar_changes_sent_total",
                "Changes sent to clients (a snapshot counts once).",
                &self.changes_sent,
            ),
            (
                "daftar_snapshots_sent_total",
                "Newly readable documents sent as one compacted snapshot.",
                &self.snapshots_sent,
            ),
            (
                "daftar_snapshots_built_total",
                "Document snapshots rebuilt in the background after pushes.",
                &self.snapshots_built,
            ),
            (
                "daftar_change_bytes_in_total",
                "Raw change bytes newly stored.",
                &self.bytes_in,
            ),
            (
                "daftar_change_bytes_out_total",
                "Raw change and snapshot bytes sent to clients.",
                &self.bytes_out,
            ),
            (
                "daftar_logins_failed_total",
                "Failed or refused sign-ins.",
                &self.logins_failed,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_requests() {
        let m = Metrics::default();
        m.record_request("/v1/sync", "POST", 200);
        m.record_request("/v1/sync", "POST", 200);
        Metrics::add(&m.changes_stored, 3);
        let text = m.render();
        assert!(text.contains(
            "daftar_http_requests_total{route=\"/v1/sync\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains("daftar_changes_stored_total 3"));
    }
}

//! The fast tier of the benchmarks, as CI runs it: every scenario's correctness check must
//! pass, and the counts that do not depend on the machine must hold (round trips, requests,
//! commits). Times are printed, never asserted: CI machines are shared and noisy.
//!
//! `cargo test -p daftar-bench --test fast_tier_runs -- --nocapture` shows the table.

use daftar_bench::{BenchTier, Options, Report};

fn value(report: &Report, scenario: &str, metric: &str) -> f64 {
    report
        .scenario(scenario)
        .and_then(|s| s.row(metric))
        .map(|r| r.value)
        .unwrap_or_else(|| panic!("{scenario} has no row {metric:?}"))
}

#[test]
fn fast_tier_checks_pass_and_counts_hold() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut opts = Options::new(BenchTier::Fast);
    opts.out = Some(out.path().to_path_buf());
    opts.helper_exe = Some(env!("CARGO_BIN_EXE_daftar-bench").into());
    opts.command = "cargo test -p daftar-bench --test fast_tier_runs".into();
    // B12 needs the PostgreSQL test cluster (scripts/test.sh starts one).
    opts.postgres = std::env::var("DAFTAR_TEST_POSTGRES").ok();
    let expected = if opts.postgres.is_some() {
        12
    } else {
        opts.only = (1..=11).map(|i| format!("B{i}")).collect();
        11
    };
    let report = daftar_bench::run(&opts).expect("the fast tier runs");
    println!("{}", report.to_markdown());

    assert_eq!(report.scenarios.len(), expected, "every scenario ran");
    if let Some(b12) = report.scenario("B12") {
        for label in [
            "PostgreSQL, one instance",
            "PostgreSQL, 3 instances behind nginx",
        ] {
            assert_eq!(
                value(&report, "B12", &format!("{label}: B7 lost changes")),
                0.0
            );
            let bytes = b12
                .row(&format!("{label}: B6 45 docs: bytes up"))
                .or_else(|| {
                    b12.rows.iter().find(|r| {
                        r.metric.starts_with(&format!("{label}: B6"))
                            && r.metric.ends_with("bytes up")
                    })
                })
                .expect("B6 bytes on PostgreSQL");
            assert_eq!(
                bytes.ratio,
                Some(1.0),
                "the same bytes as on SQLite: {label}"
            );
        }
    }
    for s in &report.scenarios {
        assert!(s.check.passed, "{} {}: {}", s.id, s.title, s.check.detail);
        assert!(!s.rows.is_empty(), "{} reported figures", s.id);
    }
    // One transaction, one commit per user action.
    assert_eq!(value(&report, "B2", "SQLite commits per edit"), 1.0);
    assert_eq!(value(&report, "B3", "SQLite commits per action"), 1.0);
    // A teacher's offline day goes up in at most two round trips.
    assert!(value(&report, "B4", "HTTP round trips (teacher's sync)") <= 2.0);
    // A sync when nothing changed is one request, at every document count.
    let b6 = report.scenario("B6").expect("B6");
    let requests: Vec<f64> = b6
        .rows
        .iter()
        .filter(|r| r.metric.ends_with("requests per sync"))
        .map(|r| r.value)
        .collect();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|&r| r == 1.0),
        "no-change syncs: {requests:?}"
    );
    // Many clients: nothing lost, nothing duplicated.
    assert_eq!(value(&report, "B7", "lost changes"), 0.0);
    assert_eq!(value(&report, "B7", "duplicated changes"), 0.0);
    // The outputs for people and machines were written from the same run.
    for f in ["report.md", "report.json", "growth.svg"] {
        assert!(out.path().join(f).exists(), "{f} written");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("report.json")).expect("json"),
    )
    .expect("valid JSON");
    assert_eq!(json["tier"], "fast");
    assert!(json["machine"]["nproc"].as_u64().unwrap_or(0) >= 1);
}

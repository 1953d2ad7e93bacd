//! Helpers for driving the real `daftar` binary against real data folders.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_daftar")
}

/// Runs `daftar --data-dir DIR ARGS…` and returns its output.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DAFTAR_TOKEN")
        .output()
        .expect("the daftar binary runs")
}

/// Runs a command that must succeed; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "daftar {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must fail; returns stderr.
pub fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        !out.status.success(),
        "daftar {args:?} should have failed but printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).expect("utf-8 output")
}

pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(dir, &all)).expect("valid JSON on stdout")
}

/// A small demo replica; returns the id of its first journal.
pub fn demo(dir: &Path, seed: u64) -> String {
    ok(dir, &["demo", "--tier", "XS", "--seed", &seed.to_string()]);
    let journals = json(dir, &["journals"]);
    journals[0]["id"]
        .as_str()
        .expect("a journal id")
        .to_string()
}

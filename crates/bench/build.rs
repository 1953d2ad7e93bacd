//! Records the compiler and the locked versions of the crates the benchmarks exercise, so every
//! report says what it measured.

use std::path::Path;
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DAFTAR_BENCH_RUSTC={version}");

    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock_path = Path::new(&manifest).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    for (name, series, var) in [
        ("automerge", "0.12", "AUTOMERGE"),
        ("rusqlite", "0.37", "RUSQLITE"),
        ("axum", "0.8", "AXUM"),
        ("reqwest", "0.12", "REQWEST"),
        ("zstd", "0.13", "ZSTD"),
    ] {
        let needle = format!("name = \"{name}\"\nversion = \"");
        let found = lock
            .match_indices(&needle)
            .filter_map(|(i, _)| {
                let rest = &lock[i + needle.len()..];
                rest.split('"').next()
            })
            .find(|v| v.starts_with(series))
            .unwrap_or("unknown");
        println!("cargo:rustc-env=DAFTAR_BENCH_{var}={found}");
    }
}

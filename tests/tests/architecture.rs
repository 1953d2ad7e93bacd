//! The code's homes, enforced (`docs/architecture.md`, *Crates*): SQL lives in core and the
//! server's store only; the UI reaches Tauri only through `ui/src/ipc`; the crates below the
//! desktop shell never pull in the shell's or the server's stacks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !p.ends_with("node_modules") && !p.ends_with("bindings") {
                files(&p, exts, out);
            }
        } else if exts.iter().any(|x| p.extension().is_some_and(|e| e == *x)) {
            out.push(p);
        }
    }
}

/// SQL statements as string literals: a quote, then an upper-case statement keyword.
fn sql_in(text: &str) -> Vec<(usize, String)> {
    const KEYWORDS: [&str; 7] = [
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "UPDATE ",
        "CREATE TABLE",
        "CREATE INDEX",
        "WITH ",
    ];
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for (i, _) in line.match_indices('"') {
            let rest = line[i + 1..].trim_start();
            if KEYWORDS.iter().any(|k| rest.starts_with(k))
                && (rest.contains(" FROM ")
                    || rest.starts_with("INSERT")
                    || rest.starts_with("DELETE")
                    || rest.starts_with("CREATE")
                    || rest.contains(" SET ")
                    || rest.contains(" AS ("))
            {
                found.push((n + 1, line.trim().to_string()));
            }
        }
        for call in [".raw_sql()", ".prepare(", ".execute_batch("] {
            if line.contains(call) {
                found.push((n + 1, line.trim().to_string()));
            }
        }
    }
    found
}

#[test]
fn no_sql_outside_core_and_the_server_store() {
    let root = root();
    let mut sources = Vec::new();
    for dir in [
        "src-tauri/src",
        "crates/cli/src",
        "crates/client/src",
        "crates/protocol/src",
        "crates/rules/src",
        "sync-server/src",
    ] {
        files(&root.join(dir), &["rs"], &mut sources);
    }
    let store = root.join("sync-server/src/store");
    let mut offences = Vec::new();
    for f in sources.iter().filter(|f| !f.starts_with(&store)) {
        let text = std::fs::read_to_string(f).expect("read a source file");
        for (line, code) in sql_in(&text) {
            offences.push(format!(
                "{}:{line}: {code}",
                f.strip_prefix(&root).unwrap_or(f).display()
            ));
        }
    }
    assert!(
        offences.is_empty(),
        "SQL belongs in core (a typed query on Replica) or the server's store:\n{}",
        offences.join("\n")
    );
    // The check itself sees SQL.
    assert_eq!(sql_in("let q = \"SELECT id FROM journals\";").len(), 1);
    assert_eq!(sql_in("r.raw_sql().execute(x)").len(), 1);
    assert!(sql_in("\"Select a journal from the list\"").is_empty());
}

#[test]
fn the_ui_reaches_tauri_only_through_its_ipc_folder() {
    let root = root();
    let ui = root.join("ui/src");
    let mut sources = Vec::new();
    files(&ui, &["ts", "tsx", "js", "svelte"], &mut sources);
    assert!(!sources.is_empty(), "the UI's sources are there");
    let ipc = ui.join("ipc");
    let offences: Vec<String> = sources
        .iter()
        .filter(|f| !f.starts_with(&ipc))
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("read a UI file");
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("@tauri-apps/"))
                .map(|(n, l)| format!("{}:{}: {}", f.display(), n + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offences.is_empty(),
        "import Tauri only in ui/src/ipc:\n{}",
        offences.join("\n")
    );
}

/// Every package a workspace package depends on at run time (normal dependencies,
/// transitively), from `cargo metadata`.
fn runtime_deps() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: BTreeMap<String, String> = v["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_string(),
                p["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().expect("nodes") {
        let id = node["id"].as_str().expect("id").to_string();
        let deps = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()))
            })
            .map(|d| d["pkg"].as_str().expect("pkg").to_string())
            .collect();
        edges.insert(id, deps);
    }
    let mut out = BTreeMap::new();
    for member in v["workspace_members"].as_array().expect("members") {
        let start = member.as_str().expect("member").to_string();
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(id) = stack.pop() {
            for d in edges.get(&id).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        out.insert(
            names[&start].clone(),
            seen.iter().map(|id| names[id].clone()).collect(),
        );
    }
    out
}

#[test]
fn crates_below_the_shell_stay_free_of_its_stacks() {
    let deps = runtime_deps();
    let forbidden: [(&str, &[&str]); 4] = [
        ("daftar-core", &["tauri", "axum", "reqwest", "tokio"]),
        (
            "daftar-rules",
            &["tauri", "axum", "reqwest", "tokio", "rusqlite"],
        ),
        ("daftar-protocol", &["tauri", "axum", "reqwest", "rusqlite"]),
        ("daftar-client", &["tauri", "axum"]),
    ];
    let mut offences = Vec::new();
    for (krate, banned) in forbidden {
        let have = deps
            .get(krate)
            .unwrap_or_else(|| panic!("{krate} is a workspace member"));
        for b in banned {
            if have.contains(*b) {
                offences.push(format!("{krate} depends on {b}"));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
    // The walk sees the shell's own stack.
    assert!(deps["daftar-desktop"].contains("tauri"));
}

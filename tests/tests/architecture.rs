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

/// SQL: a string literal that starts a statement (in either case, whatever the next lines
/// hold), or a call that runs one on a connection.
fn sql_in(text: &str) -> Vec<(usize, String)> {
    const KEYWORDS: [&str; 12] = [
        "select ",
        "insert ",
        "delete from",
        "update ",
        "replace into",
        "create table",
        "create index",
        "alter table",
        "drop table",
        "pragma ",
        "with ",
        "with recursive",
    ];
    const CALLS: [&str; 8] = [
        ".raw_sql()",
        ".prepare(",
        ".prepare_cached(",
        ".execute(",
        ".execute_batch(",
        ".query_row(",
        ".query_map(",
        ".pragma_update(",
    ];
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut starts = Vec::new();
        for (i, _) in line.match_indices('"') {
            starts.push(&line[i + 1..]);
        }
        for rest in starts {
            let rest = rest.trim_start().to_lowercase();
            // "with " alone is English too: a CTE names itself and says AS.
            let statement = KEYWORDS.iter().any(|k| rest.starts_with(k))
                && (!rest.starts_with("with ") || rest.contains(" as"))
                && (!rest.starts_with("select ") || looks_like_select(&rest))
                && (!rest.starts_with("update ") || rest.contains(" set "))
                && (!rest.starts_with("insert ") || rest.contains("into"));
            if statement {
                found.push((n + 1, line.trim().to_string()));
            }
        }
        if CALLS.iter().any(|c| line.contains(c)) {
            found.push((n + 1, line.trim().to_string()));
        }
    }
    found.dedup_by_key(|f| f.0);
    found
}

/// "select id, name" / "select count(*)" / "select * from", not "Select a journal".
fn looks_like_select(rest: &str) -> bool {
    let words: Vec<&str> = rest.split_whitespace().take(3).collect();
    match words.get(1) {
        Some(w) => {
            w.ends_with(',')
                || w.contains('(')
                || w.contains('.')
                || *w == "*"
                || *w == "1"
                || words
                    .get(2)
                    .is_some_and(|x| *x == "from" || x.ends_with(','))
                || words.len() == 2
        }
        None => true,
    }
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
    // The check itself sees SQL, in the forms the shell once held.
    assert_eq!(sql_in("let q = \"SELECT id FROM journals\";").len(), 1);
    assert_eq!(sql_in("r.raw_sql().execute(x)").len(), 1);
    assert_eq!(sql_in("conn.query_row(\"select max(position)\",").len(), 1);
    assert_eq!(
        sql_in("let mut stmt = r.conn().prepare_cached(\n    \"SELECT r.doc_id, j.subject").len(),
        2
    );
    assert_eq!(
        sql_in("    \"SELECT m.subject, m.semester, coalesce(d.name, m.department_id)").len(),
        1
    );
    assert_eq!(
        sql_in("\"INSERT OR REPLACE INTO meta VALUES (?1)\"").len(),
        1
    );
    assert!(sql_in("\"Select a journal from the list\"").is_empty());
    assert!(sql_in("\"update the app, then sign in\"").is_empty());
    assert!(sql_in("\"with the dean's office\"").is_empty());
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

/// `cargo metadata` of the workspace for this host, from the lock file as it is.
fn metadata() -> serde_json::Value {
    let host = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .unwrap_or_else(|| format!("{}-unknown-linux-gnu", std::env::consts::ARCH));
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
        ])
        .arg(host)
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Every package a workspace package depends on at run time (normal dependencies,
/// transitively).
fn runtime_deps(v: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
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
    let v = metadata();
    // Direct run-time dependencies: the shell, the CLI and the client reach SQLite only
    // through core.
    for (krate, banned) in [
        ("daftar-desktop", "rusqlite"),
        ("daftar-cli", "rusqlite"),
        ("daftar-client", "rusqlite"),
    ] {
        let package = v["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == krate)
            .unwrap_or_else(|| panic!("{krate} is a workspace member"));
        let direct = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .any(|d| d["name"] == banned && d["kind"].is_null());
        assert!(
            !direct,
            "{krate} depends on {banned} itself: go through core"
        );
    }
    let deps = runtime_deps(&v);
    let forbidden: [(&str, &[&str]); 5] = [
        ("daftar-core", &["tauri", "axum", "reqwest", "tokio"]),
        (
            "daftar-rules",
            &["tauri", "axum", "reqwest", "tokio", "rusqlite"],
        ),
        ("daftar-protocol", &["tauri", "axum", "reqwest", "rusqlite"]),
        ("daftar-client", &["tauri", "axum"]),
        // The IPC contract compiles without the shell's stack.
        ("daftar-ipc", &["tauri", "axum"]),
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

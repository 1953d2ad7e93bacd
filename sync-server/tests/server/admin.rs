//! The `daftar-sync` binary: user and assignment administration, serving and stopping.

use super::*;

#[test]
fn cli_manages_users_and_assignments_on_the_same_database() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_database_now(dir.path()).to_string();
    let bin = env!("CARGO_BIN_EXE_daftar-sync");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(bin)
            .arg("--database")
            .arg(&db)
            .args(args)
            .env_remove("DAFTAR_SYNC_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    };
    let out = run(
        &[
            "user",
            "add",
            "ali",
            "--role",
            "teacher",
            "--employee",
            "E1",
        ],
        "secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["user", "add", "dean1", "--role", "dean"], "secret\n");
    assert!(!out.status.success(), "a dean needs a scope");
    let out = run(&["user", "add", "empty", "--role", "admin"], "\n");
    assert!(!out.status.success(), "empty password refused");
    let out = run(&["assign", "ali", "j7"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["assign", "ghost", "j7"], "");
    assert!(!out.status.success(), "unknown user");
    let out = run(&["user", "disable", "ali"], "");
    assert!(out.status.success());
    let out = run(&["user", "list", "--json"], "");
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json list");
    assert_eq!(list[0]["name"], "ali");
    assert_eq!(list[0]["role"], "teacher");
    assert_eq!(list[0]["employee"], "E1");
    assert_eq!(list[0]["disabled"], true);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

/// The binary serves an SQLite file with zero setup, `user add` works while it runs, and
/// SIGTERM stops it cleanly.
#[tokio::test]
async fn binary_serves_and_stops_on_sigterm() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::process::Command;

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("nested").join("server.db");
    let bin = env!("CARGO_BIN_EXE_daftar-sync");
    let mut server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        .env("RUST_LOG", "info")
        .env_remove("DAFTAR_SYNC_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            if let Some(rest) = line.split("listen=").nth(1) {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .expect("server announces its address")
    .expect("a listen= field");
    // Keep draining the log so the server never blocks on a full pipe.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let mut add = Command::new(bin)
        .args(["user", "add", "root", "--role", "admin", "--database"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"hunter2\n")
        .await
        .expect("password");
    let out = add.wait_with_output().await.expect("user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://{addr}/v1/sessions"))
        .json(&LoginRequest {
            user: "root".into(),
            password: "hunter2".into(),
        })
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);

    let pid = server.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("stops within 10 s")
        .expect("wait");
    assert!(status.success(), "clean exit: {status:?}");
    drain.abort();
}

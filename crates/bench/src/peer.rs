//! B11's optional reference peer (`--peer automerge-repo`): automerge-repo's own sync server,
//! run unchanged from its npm package (`@automerge/automerge-repo-sync-server`, Node, NodeFS
//! storage, its WebSocket protocol), fed the very documents and change bytes Daftar's clients
//! push. The Node side lives in `crates/bench/peer/automerge-repo/` (`clients.mjs`); its
//! packages are installed there with `npm ci` on first use. Not run in CI (it needs Node).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use serde::Deserialize;

use crate::measure::Samples;

/// The reference peers `--peer` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    AutomergeRepo,
}

impl Peer {
    pub fn parse(s: &str) -> Option<Peer> {
        (s == "automerge-repo").then_some(Peer::AutomergeRepo)
    }
}

/// One client's document for the peer: as the server already has it, then its offline
/// changes, one per edit.
pub struct PeerDoc {
    pub base: Vec<u8>,
    pub changes: Vec<Vec<u8>>,
}

/// What the reference did with one load.
pub struct PeerLevel {
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub cpu_per_edit_ms: f64,
    pub client_cpu_per_edit_ms: f64,
    pub rss_mib: f64,
}

#[derive(Deserialize)]
struct RunOut {
    wall_ms: f64,
    latencies_ms: Vec<f64>,
    server_cpu_s: f64,
    client_cpu_s: f64,
    server_hwm_mib: f64,
}

#[derive(Deserialize)]
struct VerifyOut {
    /// Documents found in the server's storage.
    found: usize,
    missing: Vec<String>,
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/automerge-repo")
}

/// Installs the pinned packages (package-lock.json) once.
fn ensure_installed(dir: &Path) -> Result<()> {
    if dir
        .join("node_modules/@automerge/automerge-repo-sync-server")
        .exists()
    {
        return Ok(());
    }
    let npm = |args: &[&str]| {
        Command::new("npm")
            .args(args)
            .current_dir(dir)
            .status()
            .context("run npm for the automerge-repo peer (is Node installed?)")
    };
    if npm(&["ci", "--no-audit", "--no-fund"])?.success() {
        return Ok(());
    }
    // Some npm 11–12 releases refuse a lock file without entries for every platform's build of
    // an optional package, even one they wrote themselves (npm/cli#9846). `install --no-save`
    // takes the same locked versions and leaves the lock file as it is.
    if !npm(&["install", "--no-save", "--no-audit", "--no-fund"])?.success() {
        bail!("npm ci and npm install in {} failed", dir.display());
    }
    Ok(())
}

/// A step of the reference's clients may take this long at most (a hung step is killed).
const NODE_STEP_LIMIT: Duration = Duration::from_secs(600);

fn node(dir: &Path, args: &[&str]) -> Result<String> {
    let out_path = tempfile::NamedTempFile::new()?;
    let mut child = Command::new("node")
        .args(args)
        .current_dir(dir)
        .stdout(out_path.reopen()?)
        .stderr(Stdio::inherit())
        .spawn()
        .context("run node")?;
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if t0.elapsed() > NODE_STEP_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("node {} took over {NODE_STEP_LIMIT:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        bail!("node {} failed ({status})", args.join(" "));
    }
    Ok(std::fs::read_to_string(out_path.path())?.trim().to_string())
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the load against the reference: every client's document synced up first (as the
/// server had it before the edits), the edits applied offline, then all clients at once.
pub fn automerge_repo(work: &Path, docs: &[PeerDoc]) -> Result<PeerLevel> {
    let dir = peer_dir();
    ensure_installed(&dir)?;
    let work = work.join("automerge-repo");
    let (data, clients) = (work.join("server-data"), work.join("clients"));
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&clients)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let json: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| {
            serde_json::json!({
                "base": b64.encode(&d.base),
                "changes": d.changes.iter().map(|c| b64.encode(c)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let docs_file = work.join("docs.json");
    std::fs::File::create(&docs_file)?.write_all(serde_json::to_string(&json)?.as_bytes())?;

    let port = crate::server::free_port()?;
    let server = Command::new("node")
        .arg("node_modules/@automerge/automerge-repo-sync-server/src/index.js")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("start the automerge-repo sync server")?;
    let mut server = Server(server);
    crate::server::wait_for_port(
        &mut server.0,
        port,
        Duration::from_secs(20),
        "the automerge-repo sync server",
    )?;
    let (docs_s, clients_s, port_s) = (
        docs_file.to_string_lossy().to_string(),
        clients.to_string_lossy().to_string(),
        port.to_string(),
    );
    node(
        &dir,
        &[
            "clients.mjs",
            "prepare",
            "--docs",
            &docs_s,
            "--port",
            &port_s,
            "--dir",
            &clients_s,
        ],
    )?;
    let pid = server.0.id().to_string();
    let out: RunOut = serde_json::from_str(&node(
        &dir,
        &[
            "clients.mjs",
            "run",
            "--port",
            &port_s,
            "--dir",
            &clients_s,
            "--server-pid",
            &pid,
        ],
    )?)
    .context("read the reference clients' result")?;
    // The reference writes its storage after a 100 ms debounce (without fsync): give it a
    // moment, stop it as its operator would, then read what it stored.
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status();
    let _ = server.0.wait();
    let data_s = data.to_string_lossy().to_string();
    let v: VerifyOut = serde_json::from_str(&node(
        &dir,
        &[
            "clients.mjs",
            "verify",
            "--docs",
            &docs_s,
            "--dir",
            &clients_s,
            "--data",
            &data_s,
        ],
    )?)?;
    if v.found != docs.len() || !v.missing.is_empty() {
        return Err(anyhow!(
            "the reference server lost changes: {}",
            v.missing.join("; ")
        ));
    }
    let edits: usize = docs.iter().map(|d| d.changes.len()).sum();
    let mut lat = Samples::new();
    for ms in &out.latencies_ms {
        lat.push(Duration::from_secs_f64(ms / 1e3));
    }
    let s = lat.stats();
    Ok(PeerLevel {
        rate: edits as f64 / (out.wall_ms / 1e3),
        p50: s.p50_ms,
        p99: s.p99_ms,
        cpu_per_edit_ms: out.server_cpu_s * 1e3 / edits as f64,
        client_cpu_per_edit_ms: out.client_cpu_s * 1e3 / edits as f64,
        rss_mib: out.server_hwm_mib,
    })
}

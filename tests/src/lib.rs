//! Helpers for tests across crates: the real `daftar-sync` server as a process on a loopback
//! port, and real `daftar` clients each with its own data folder. No mocks of the server or the
//! network.
//!
//! The binaries come from the same target folder as the test executable; `scripts/test.sh`
//! builds the whole workspace before running tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The folder holding the workspace's binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> → target/debug
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf();
    for name in ["daftar", "daftar-sync"] {
        assert!(
            dir.join(name).exists(),
            "{} is missing: build the workspace first (scripts/build.sh or cargo build --workspace)",
            dir.join(name).display()
        );
    }
    dir
}

/// The first line `child` writes on standard output, read until `deadline`; `None` when it
/// closes its output (exits) or says nothing in time. The rest of the output is drained on a
/// thread of its own, so the process never blocks on a full pipe.
fn first_line(child: &mut Child, deadline: Instant) -> Option<String> {
    use std::io::BufRead as _;
    let out = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(out).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// The port of `daftar-sync listening on http://127.0.0.1:PORT`.
fn listening_port(line: &str) -> Option<u16> {
    line.strip_prefix("daftar-sync listening on http://")?
        .rsplit(':')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A `daftar-sync` process on 127.0.0.1: with its own SQLite database, or one instance of
/// several on a PostgreSQL database.
pub struct Server {
    /// The SQLite file (for a PostgreSQL instance, not used).
    pub db: PathBuf,
    /// What `--database` says: the SQLite file or a `postgres://` URL.
    pub database: String,
    pub port: u16,
    child: Option<Child>,
    /// `DAFTAR_SYNC_*` settings the process starts with (its configuration).
    env: Vec<(String, String)>,
}

impl Server {
    pub fn start(dir: &Path) -> Result<Server> {
        let db = dir.join("server.db");
        Server::start_on(&db.display().to_string())
    }

    /// [`Server::start`] with settings (`("DAFTAR_SYNC_MAX_MATERIAL_MIB", "1")`).
    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Result<Server> {
        let mut s = Server {
            db: dir.join("server.db"),
            database: dir.join("server.db").display().to_string(),
            port: 0,
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.restart()?;
        Ok(s)
    }

    /// An instance on `database` (a path or a `postgres://` URL) on a port of its own.
    pub fn start_on(database: &str) -> Result<Server> {
        let mut s = Server {
            db: PathBuf::from(database),
            database: database.to_string(),
            port: 0,
            child: None,
            env: Vec::new(),
        };
        s.restart()?;
        Ok(s)
    }

    /// The pid of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and database; the first start lets the system choose
    /// the port (`--listen 127.0.0.1:0`).
    ///
    /// The process is ready when it says on standard output which address it bound. Probing
    /// the port instead once let a test run on another test's server: the port picked free
    /// had been taken by the other test's proxy before `daftar-sync` could bind it, the bind
    /// failed, and the probe reached the proxy. A restart on a port something else holds for
    /// a moment tries again until the deadline, then fails saying so.
    pub fn restart(&mut self) -> Result<()> {
        self.restart_within(Duration::from_secs(20))
    }

    fn restart_within(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let mut child = Command::new(bin_dir().join("daftar-sync"))
                .arg("--database")
                .arg(&self.database)
                .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
                .env("RUST_LOG", "warn")
                .env("DAFTAR_SYNC_TRUSTED_PROXIES", "127.0.0.1")
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("start daftar-sync")?;
            let listening = first_line(&mut child, deadline);
            match listening.as_deref().and_then(listening_port) {
                Some(port) => {
                    self.port = port;
                    self.child = Some(child);
                    return Ok(());
                }
                None => {
                    // Out of time: it said nothing; otherwise it closed its output (exited).
                    let silent = Instant::now() >= deadline;
                    let _ = child.kill();
                    let status = child.wait().ok();
                    if silent {
                        bail!(
                            "daftar-sync did not start listening on 127.0.0.1:{} (its last try ended: {})",
                            self.port,
                            status.map_or("could not be waited for".into(), |s| s.to_string())
                        );
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// SIGSTOP: the process stays, its connections hang (requests sent to it wait).
    pub fn freeze(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-STOP", &c.id().to_string()])
                .status();
        }
    }

    /// SIGKILL, as a power cut or the OOM killer would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c);
        }
    }

    /// Runs `daftar-sync --database DB ARGS…` (works while the server runs).
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        use std::io::Write;
        let mut child = Command::new(bin_dir().join("daftar-sync"))
            .arg("--database")
            .arg(&self.database)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(mut i), Some(text)) = (child.stdin.take(), stdin) {
            i.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "daftar-sync {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    }

    pub fn add_user(&self, name: &str, password: &str, role: &str, extra: &[&str]) -> Result<()> {
        let mut args = vec!["user", "add", name, "--role", role];
        args.extend_from_slice(extra);
        self.admin(&args, Some(&format!("{password}\n")))?;
        Ok(())
    }

    /// Sum of HTTP requests the server counted, except scrapes of /metrics itself.
    pub fn requests(&self) -> Result<u64> {
        let text = http_get(self.port, "/metrics")?;
        Ok(text
            .lines()
            .filter(|l| {
                l.starts_with("daftar_http_requests_total{") && !l.contains("route=\"/metrics\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum())
    }

    /// A counter from /metrics.
    pub fn metric(&self, name: &str) -> Result<u64> {
        let text = http_get(self.port, "/metrics")?;
        Ok(text
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP GET over a raw socket (keeps the tests free of an HTTP client).
pub fn http_get(port: u16, path: &str) -> Result<String> {
    http_request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

/// `POST path` with a JSON body; the response body.
pub fn http_post_json(port: u16, path: &str, body: &str) -> Result<String> {
    http_request(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Sends a whole HTTP/1.1 request and returns the response body.
fn http_request(port: u16, request: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request.as_bytes())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    Ok(buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes both ways.
    Pass,
    /// Accepts and closes at once (a dropped connection).
    Refuse,
    /// Passes the first N bytes of the request, then closes.
    CutRequest(usize),
    /// Passes the request, then the first N bytes of the reply, then closes.
    CutReply(usize),
    /// Holds every chunk back this many milliseconds (a slow link).
    Delay(u64),
    /// Takes the request, answers nothing, and closes after this many milliseconds (a
    /// half-open link: the request may or may not have reached the server).
    Stall(u64),
    /// Passes both ways, but flips the bits of the reply's byte at this position (a link that
    /// damages what it carries and no checksum below noticed).
    Corrupt(usize),
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Pass => "passed",
            Fault::Refuse => "refused",
            Fault::CutRequest(_) => "requests cut",
            Fault::CutReply(_) => "replies cut",
            Fault::Delay(_) => "delayed",
            Fault::Stall(_) => "stalled",
            Fault::Corrupt(_) => "corrupted",
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of a server. Armed once, it cuts the reply of the next
/// connection after a number of bytes; in chaos mode every connection gets a fault drawn from
/// a seeded generator (drops, cut requests and replies, delays, half-open stalls). Loopback
/// only; every connection is a thread that ends when either side closes, and every wait is
/// bounded.
pub struct FaultProxy {
    pub port: u16,
    cut: std::sync::Arc<std::sync::Mutex<Option<Fault>>>,
    chaos: std::sync::Arc<std::sync::Mutex<Option<rand_chacha::ChaCha8Rng>>>,
    /// Connections per fault, for the figures.
    pub counts: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>>,
    /// Bytes the server sent on the last connection (all of them, also when the reply was cut).
    last_reply: std::sync::Arc<std::sync::Mutex<usize>>,
    /// Connections finished (their `last_reply` recorded).
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> Result<FaultProxy> {
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let proxy = FaultProxy {
            port,
            cut: Arc::new(Mutex::new(None)),
            chaos: Arc::new(Mutex::new(None)),
            counts: Arc::default(),
            last_reply: Arc::new(Mutex::new(0usize)),
            done: Arc::default(),
        };
        let (cut, chaos, counts, last, done) = (
            proxy.cut.clone(),
            proxy.chaos.clone(),
            proxy.counts.clone(),
            proxy.last_reply.clone(),
            proxy.done.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let fault = match cut.lock().map(|mut c| c.take()).unwrap_or(None) {
                    Some(f) => f,
                    None => chaos
                        .lock()
                        .ok()
                        .and_then(|mut c| c.as_mut().map(pick_fault))
                        .unwrap_or(Fault::Pass),
                };
                if let Ok(mut c) = counts.lock() {
                    *c.entry(fault.name()).or_default() += 1;
                }
                let (last, done) = (last.clone(), done.clone());
                std::thread::spawn(move || {
                    let _ = Self::relay(client, upstream, fault, last);
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        Ok(proxy)
    }

    fn relay(
        client: std::net::TcpStream,
        upstream: u16,
        fault: Fault,
        last: std::sync::Arc<std::sync::Mutex<usize>>,
    ) -> std::io::Result<()> {
        use std::io::{Read, Write};
        let both = std::net::Shutdown::Both;
        client.set_read_timeout(Some(Duration::from_secs(30)))?;
        match fault {
            Fault::Refuse => return client.shutdown(both),
            Fault::Stall(ms) => {
                let mut buf = [0u8; 16 * 1024];
                let mut c = client.try_clone()?;
                c.set_read_timeout(Some(Duration::from_millis(ms)))?;
                let deadline = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < deadline {
                    match c.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                return client.shutdown(both);
            }
            _ => {}
        }
        let server = std::net::TcpStream::connect(("127.0.0.1", upstream))?;
        server.set_read_timeout(Some(Duration::from_secs(30)))?;
        let delay = match fault {
            Fault::Delay(ms) => Some(Duration::from_millis(ms)),
            _ => None,
        };
        let request_budget = match fault {
            Fault::CutRequest(n) => Some(n),
            _ => None,
        };
        let (mut c_read, mut s_write) = (client.try_clone()?, server.try_clone()?);
        let c_close = client.try_clone()?;
        let up = std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            let mut sent = 0usize;
            while let Ok(n) = c_read.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Some(d) = delay {
                    std::thread::sleep(d);
                }
                let allowed = request_budget.map_or(n, |b| n.min(b.saturating_sub(sent)));
                if s_write.write_all(&buf[..allowed]).is_err() {
                    break;
                }
                sent += allowed;
                if request_budget.is_some_and(|b| sent >= b) {
                    // The request stops part way: both sides see the connection drop.
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                    let _ = c_close.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
            let _ = s_write.shutdown(std::net::Shutdown::Write);
        });
        let budget = match fault {
            Fault::CutReply(n) => Some(n),
            _ => None,
        };
        let (mut s_read, mut c_write) = (server, client);
        let mut sent = 0usize;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match s_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            if let Fault::Corrupt(at) = fault
                && (sent..sent + n).contains(&at)
            {
                buf[at - sent] ^= 0xff;
            }
            let allowed = match budget {
                Some(b) => n.min(b.saturating_sub(sent)),
                None => n,
            };
            if c_write.write_all(&buf[..allowed]).is_err() {
                break;
            }
            sent += allowed;
            if budget.is_some_and(|b| sent >= b) {
                // The connection drops mid-reply, as a weak link does.
                let _ = c_write.shutdown(both);
                // Count what the server had to say (it waits on the kept-alive connection
                // after its reply), so a test knows whether the cut fell inside the reply.
                let mut total = sent + (n - allowed);
                let _ = s_read.set_read_timeout(Some(Duration::from_millis(300)));
                while let Ok(m) = s_read.read(&mut buf) {
                    if m == 0 {
                        break;
                    }
                    total += m;
                }
                sent = total;
                let _ = s_read.shutdown(both);
                break;
            }
        }
        if let Ok(mut l) = last.lock() {
            *l = sent;
        }
        // The server side is done (it answered, closed or died): close the client's side too,
        // or a client still waiting for an answer would hold the other thread until its own
        // timeout (60 s).
        let _ = c_write.shutdown(both);
        let _ = up.join();
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts the reply of the next connection after `bytes` bytes.
    pub fn cut_next_reply(&self, bytes: usize) {
        if let Ok(mut c) = self.cut.lock() {
            *c = Some(Fault::CutReply(bytes));
        }
    }

    /// Cuts the next connection after the client has sent `bytes` bytes of its requests (both
    /// sides see the connection drop; the server gets the request only part way).
    pub fn cut_next_request(&self, bytes: usize) {
        if let Ok(mut c) = self.cut.lock() {
            *c = Some(Fault::CutRequest(bytes));
        }
    }

    /// Damages the reply of the next connection at byte `at` (one byte, bits flipped).
    pub fn corrupt_next_reply(&self, at: usize) {
        if let Ok(mut c) = self.cut.lock() {
            *c = Some(Fault::Corrupt(at));
        }
    }

    /// Chaos mode on (faults drawn from `seed`) or off (`None`: every connection passes).
    pub fn chaos(&self, seed: Option<u64>) {
        use rand::SeedableRng as _;
        if let Ok(mut c) = self.chaos.lock() {
            *c = seed.map(rand_chacha::ChaCha8Rng::seed_from_u64);
        }
    }

    /// Bytes the server sent back on the last connection (also when the proxy cut it short).
    pub fn last_reply_bytes(&self) -> usize {
        self.last_reply.lock().map(|l| *l).unwrap_or(0)
    }

    /// Connections finished so far (the relay of each ends a little after its client).
    pub fn connections_done(&self) -> usize {
        self.done.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (up to 10 s) until `n` connections have finished, so what they recorded is read.
    pub fn wait_done(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.connections_done() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One connection's fault in chaos mode: half pass, the rest spread over the kinds.
fn pick_fault(rng: &mut rand_chacha::ChaCha8Rng) -> Fault {
    use rand::Rng as _;
    match rng.random_range(0..100) {
        0..50 => Fault::Pass,
        50..60 => Fault::Refuse,
        60..67 => Fault::CutRequest(rng.random_range(0..2048)),
        67..82 => Fault::CutReply(rng.random_range(0..8192)),
        82..92 => Fault::Delay(rng.random_range(5..120)),
        _ => Fault::Stall(rng.random_range(200..1500)),
    }
}

/// The `daftar` CLI on a data folder, as free functions: the one harness every test crate
/// drives the CLI with (the CLI's own tests, these, the E2E's other clients).
pub mod cli {
    use std::path::{Path, PathBuf};
    use std::process::Output;

    use super::Client;

    /// The `daftar` binary.
    pub fn bin() -> PathBuf {
        super::bin_dir().join("daftar")
    }

    /// Runs `daftar --data-dir DIR ARGS…` and returns its output.
    pub fn run(dir: &Path, args: &[&str]) -> Output {
        Client::new(dir.to_path_buf()).run(args)
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(dir: &Path, args: &[&str]) -> String {
        Client::new(dir.to_path_buf()).ok(args)
    }

    /// Runs a command that must fail; returns stderr.
    pub fn fails(dir: &Path, args: &[&str]) -> String {
        Client::new(dir.to_path_buf()).fails(args)
    }

    /// `daftar --json ARGS…`, parsed.
    pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
        Client::new(dir.to_path_buf()).json(args)
    }

    /// A small demo replica; returns the id of its first journal.
    pub fn demo(dir: &Path, seed: u64) -> String {
        ok(dir, &["demo", "--tier", "XS", "--seed", &seed.to_string()]);
        json(dir, &["journals"])[0]["id"]
            .as_str()
            .expect("a journal id")
            .to_string()
    }
}

/// A `daftar` client with its own data folder (and its own token).
pub struct Client {
    pub dir: PathBuf,
    token: Option<String>,
}

impl Client {
    pub fn new(dir: PathBuf) -> Client {
        Client { dir, token: None }
    }

    /// Syncs with this token (as `DAFTAR_TOKEN`), without signing in here.
    pub fn with_token(mut self, token: &str) -> Client {
        self.token = Some(token.to_string());
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin_dir().join("daftar"));
        c.arg("--data-dir").arg(&self.dir).args(args);
        c.env_remove("DAFTAR_TOKEN").env_remove("DAFTAR_PASSWORD");
        if let Some(t) = &self.token {
            c.env("DAFTAR_TOKEN", t);
        }
        c
    }

    /// Starts `daftar ARGS…` without waiting (its output is discarded).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("daftar starts")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("daftar runs")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "daftar {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "daftar {args:?} should have failed but printed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("JSON output")
    }

    /// Signs in (password through DAFTAR_PASSWORD). When no keyring is available the CLI hands
    /// the token back, and this client passes it as DAFTAR_TOKEN from then on.
    pub fn login(&mut self, server: &Server, user: &str, password: &str) -> Value {
        self.login_at(&server.url(), user, password)
    }

    /// [`Client::login`] at a URL (a load balancer's).
    pub fn login_at(&mut self, url: &str, user: &str, password: &str) -> Value {
        let out = self
            .command(&["--json", "login", "--server", url, "--user", user])
            .env("DAFTAR_PASSWORD", password)
            .output()
            .expect("daftar login runs");
        assert!(
            out.status.success(),
            "login as {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        self.token = v["token"].as_str().map(str::to_string);
        v
    }

    pub fn sync(&self) -> Value {
        self.json(&["sync"])
    }

    /// Document ids whose journals this replica shows.
    pub fn journal_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .json(&["journals"])
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|j| j["id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// Every document id in the replica.
    pub fn documents(&self) -> Vec<String> {
        daftar_core::Replica::open(&self.dir.join("replica.db"))
            .and_then(|r| r.doc_ids())
            .expect("read the replica's documents")
    }

    /// The replica's device (automerge actor) id.
    pub fn device(&self) -> String {
        self.json(&["status"])["replica"]["device"]
            .as_str()
            .expect("device")
            .to_string()
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The session token `user` got at `server`: as `login` printed it, or (when the CLI kept
    /// it in the OS keyring and printed none) from the keyring, as the CLI itself finds it.
    pub fn session_token(&self, server: &Server, user: &str) -> String {
        if let Some(t) = self.token() {
            return t.to_string();
        }
        let key = daftar_client::credentials::TokenKey {
            server: server.url(),
            user: user.into(),
            replica: self.device(),
        };
        daftar_client::credentials::Keyring::system()
            .and_then(|k| k.load(&key))
            .expect("keyring")
            .expect("the token is in the keyring")
    }
}

/// Stops a child process gracefully: SIGTERM, up to 10 s to exit, then SIGKILL.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// nginx (from Debian) on a loopback port, balancing round-robin over `daftar-sync`
/// instances, with its own prefix folder and no system configuration.
pub struct Nginx {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Nginx {
    /// Starts nginx in `dir` in front of the instances on `upstreams` (ports).
    ///
    /// nginx cannot be told to choose its own port, so a port found free may be taken again
    /// before nginx binds it (by another test's nginx, even). Readiness is therefore this
    /// nginx answering its own probe (`/.daftar-test-probe` returns its folder), and a failed
    /// start tries another port.
    pub fn start(dir: &Path, upstreams: &[u16]) -> Result<Nginx> {
        std::fs::create_dir_all(dir.join("logs"))?;
        let token = dir.display().to_string();
        for _ in 0..5 {
            let port = free_port();
            let mut n = Nginx::spawn(dir, upstreams, port)?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if http_get(port, "/.daftar-test-probe").is_ok_and(|body| body.contains(&token)) {
                    return Ok(n);
                }
                if n.child
                    .as_mut()
                    .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            n.stop();
        }
        bail!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
        )
    }

    fn spawn(dir: &Path, upstreams: &[u16], port: u16) -> Result<Nginx> {
        let servers: String = upstreams
            .iter()
            .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
            .collect();
        // As root, workers would run as `nobody` and could not write the temp folders here.
        let user = if is_root() { "user root;\n" } else { "" };
        let conf = format!(
            "{user}worker_processes 1;\nerror_log {dir}/logs/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_max_body_size 64m;\n\
               client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;\n\
               upstream daftar {{\n{servers}    keepalive 16;\n  }}\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 location = /.daftar-test-probe {{ return 200 \"{dir}\"; }}\n    location / {{\n\
                 proxy_pass http://daftar;\n      proxy_http_version 1.1;\n\
                 proxy_set_header Connection \"\";\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 proxy_read_timeout 75s;\n      proxy_next_upstream error timeout;\n    }}\n  }}\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-g")
            .arg(format!("daemon off; pid {}/nginx.pid;", dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start nginx (apt install nginx-light)")?;
        Ok(Nginx {
            port,
            dir: dir.to_path_buf(),
            child: Some(child),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c);
        }
        let _ = &self.dir;
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Creates a database of its own on the PostgreSQL test cluster (`DAFTAR_TEST_POSTGRES`, an
/// admin URL) and returns its URL; `None` when no cluster is configured.
pub fn postgres_database(name: &str) -> Option<String> {
    let admin = std::env::var("DAFTAR_TEST_POSTGRES").ok()?;
    let db = format!("daftar_{name}_{}", std::process::id());
    let ok = Command::new("psql")
        .arg(&admin)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("DROP DATABASE IF EXISTS {db}"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {db}"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot create a database on the test cluster {admin}");
    let base = &admin[..admin.rfind('/').expect("a database in the URL") + 1];
    Some(format!("{base}{db}"))
}

/// Runs SQL on a PostgreSQL database and returns the output's lines (`psql -At`).
pub fn psql(url: &str, sql: &str) -> Vec<String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a port something else listens on is not taken for the server's. The old
    /// readiness probe (connect to the port) said yes to whoever listened there.
    #[test]
    fn a_server_is_ready_only_when_it_listens_itself() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let stranger = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut s = Server::start(tmp.path()).expect("server");
        assert_ne!(s.port, 0, "the port the server chose");
        assert!(
            http_get(s.port, "/metrics").is_ok(),
            "it answers on its port"
        );
        s.kill();
        let taken = stranger.local_addr().expect("addr").port();
        s.port = taken;
        let err = s
            .restart_within(Duration::from_millis(800))
            .expect_err("a port held by another listener is not the server's");
        assert!(
            err.to_string().contains(&taken.to_string()),
            "the error names the port: {err}"
        );
        drop(stranger);
        s.restart()
            .expect("the port free again: the server starts on it");
        assert_eq!(s.port, taken);
        assert!(http_get(s.port, "/metrics").is_ok());
    }
}

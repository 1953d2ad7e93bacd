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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A `daftar-sync` process on 127.0.0.1 with its own SQLite database.
pub struct Server {
    pub db: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Server {
    pub fn start(dir: &Path) -> Result<Server> {
        let mut s = Server {
            db: dir.join("server.db"),
            port: free_port(),
            child: None,
        };
        s.restart()?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and database.
    pub fn restart(&mut self) -> Result<()> {
        let child = Command::new(bin_dir().join("daftar-sync"))
            .arg("--database")
            .arg(&self.db)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start daftar-sync")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("daftar-sync did not start listening on {}", self.port)
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
            .arg(&self.db)
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

/// A TCP proxy on 127.0.0.1 in front of a server that, when armed, cuts the reply of the next
/// connection after a number of bytes (and then passes everything again). Loopback only; every
/// connection is a thread that ends when either side closes.
pub struct FaultProxy {
    pub port: u16,
    cut: std::sync::Arc<std::sync::Mutex<Option<usize>>>,
    /// Bytes the server sent on the last connection (all of them, also when the reply was cut).
    last_reply: std::sync::Arc<std::sync::Mutex<usize>>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> Result<FaultProxy> {
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let cut: Arc<Mutex<Option<usize>>> = Arc::new(Mutex::new(None));
        let last_reply = Arc::new(Mutex::new(0usize));
        let (cut2, last2) = (cut.clone(), last_reply.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let budget = cut2.lock().map(|mut c| c.take()).unwrap_or(None);
                let last = last2.clone();
                std::thread::spawn(move || {
                    let _ = Self::relay(client, upstream, budget, last);
                });
            }
        });
        Ok(FaultProxy {
            port,
            cut,
            last_reply,
        })
    }

    fn relay(
        client: std::net::TcpStream,
        upstream: u16,
        budget: Option<usize>,
        last: std::sync::Arc<std::sync::Mutex<usize>>,
    ) -> std::io::Result<()> {
        use std::io::{Read, Write};
        let server = std::net::TcpStream::connect(("127.0.0.1", upstream))?;
        for s in [&client, &server] {
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
        }
        let (mut c_read, mut s_write) = (client.try_clone()?, server.try_clone()?);
        let up = std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = c_read.read(&mut buf) {
                if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = s_write.shutdown(std::net::Shutdown::Write);
        });
        let (mut s_read, mut c_write) = (server, client);
        let mut sent = 0usize;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match s_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
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
                let _ = c_write.shutdown(std::net::Shutdown::Both);
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
                let _ = s_read.shutdown(std::net::Shutdown::Both);
                break;
            }
        }
        if let Ok(mut l) = last.lock() {
            *l = sent;
        }
        let _ = up.join();
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts the reply of the next connection after `bytes` bytes.
    pub fn cut_next_reply(&self, bytes: usize) {
        if let Ok(mut c) = self.cut.lock() {
            *c = Some(bytes);
        }
    }

    /// Bytes the server sent back on the last connection (also when the proxy cut it short).
    pub fn last_reply_bytes(&self) -> usize {
        self.last_reply.lock().map(|l| *l).unwrap_or(0)
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

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("JSON output")
    }

    /// Signs in (password through DAFTAR_PASSWORD). When no keyring is available the CLI hands
    /// the token back, and this client passes it as DAFTAR_TOKEN from then on.
    pub fn login(&mut self, server: &Server, user: &str, password: &str) -> Value {
        let out = self
            .command(&["--json", "login", "--server", &server.url(), "--user", user])
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

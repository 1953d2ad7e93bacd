//! The servers a scenario talks to, in this process, on 127.0.0.1 ports of their own:
//!
//! - the Daftar sync-server: `daftar_sync_server::router` over a temp-file [`SqliteStore`]
//!   with `PasswordParams::INSECURE_FAST`, served exactly as `daftar_sync_server::serve` does
//!   (`into_make_service_with_connect_info`) plus one outermost layer that records how long
//!   the server spent on each `/v1/sync` request (server-side latency, without the network);
//! - the baseline server: automerge's own sync protocol, one session per (peer, document),
//!   and a blob store for floor-wire uploads and downloads. Same HTTP stack (axum + hyper on
//!   the server, reqwest on the client), so transports match.
//!
//! Each server runs on its own tokio runtime, separate from the clients', so a client blocking
//! on SQLite never holds up the server's accept loop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use automerge::AutoCommit;
use automerge::sync::{Message, State, SyncDoc};
use axum::body::Bytes;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use daftar_client::engine::{SyncSummary, sync_once};
use daftar_client::transport::Transport;
use daftar_core::Replica;
use daftar_protocol::Role;
use daftar_sync_server::{AppState, Config, PasswordParams, SqliteStore, UserSpec, add_user};

/// What the layer around the Daftar router records about `/v1/sync` requests.
#[derive(Default)]
pub struct SyncProbe {
    times: Mutex<Vec<Duration>>,
    /// Body bytes of `/v1/sync` as they travel (compressed when compressed): (up, down).
    wire: Mutex<(u64, u64)>,
}

type Times = Arc<SyncProbe>;

/// Locks a mutex, ignoring poisoning (a panicked scenario is reported, not propagated).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which store the Daftar server runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ServerBackend {
    /// One server on an SQLite file (the default).
    #[default]
    Sqlite,
    /// `instances` servers on one PostgreSQL database of the cluster at `admin_url` (a fresh
    /// database each time), behind nginx when there are several.
    Postgres { admin_url: String, instances: usize },
}

impl ServerBackend {
    pub fn label(&self) -> String {
        match self {
            ServerBackend::Sqlite => "SQLite, one server".into(),
            ServerBackend::Postgres { instances: 1, .. } => "PostgreSQL, one instance".into(),
            ServerBackend::Postgres { instances, .. } => {
                format!("PostgreSQL, {instances} instances behind nginx")
            }
        }
    }
}

/// nginx in front of several instances (its own prefix folder, no system configuration).
struct Balancer {
    child: std::process::Child,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now (for a child process to listen on).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `child` listens on `port`: an error when it exits first or `limit` passes.
pub fn wait_for_port(
    child: &mut std::process::Child,
    port: u16,
    limit: Duration,
    what: &str,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait()? {
            return Err(anyhow!("{what} exited before it listened ({status})"));
        }
        if Instant::now() > deadline {
            return Err(anyhow!("{what} did not listen on {port} within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn start_nginx(dir: &Path, ports: &[u16]) -> Result<(Balancer, u16)> {
    let dir = dir.join("nginx");
    std::fs::create_dir_all(dir.join("logs"))?;
    let port = free_port()?;
    let servers: String = ports
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p};\n"))
        .collect();
    let root = if unsafe_is_root() { "user root;\n" } else { "" };
    let d = dir.display();
    let conf = format!(
        "{root}worker_processes 1;\nerror_log {d}/logs/error.log warn;\nevents {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_max_body_size 64m;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         upstream daftar {{\n{servers}    keepalive 64;\n  }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://daftar;\n\
         proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_read_timeout 600s;\n\
         proxy_buffering off;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let child = std::process::Command::new("nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-g")
        .arg(format!("daemon off; pid {d}/nginx.pid;"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("start nginx (apt install nginx-light)")?;
    let mut balancer = Balancer { child };
    wait_for_port(&mut balancer.child, port, Duration::from_secs(10), "nginx")?;
    Ok((balancer, port))
}

fn unsafe_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A fresh database on the PostgreSQL cluster at `admin_url`.
fn fresh_postgres(admin_url: &str, dir: &Path) -> Result<String> {
    let name = format!(
        "daftar_bench_{}_{}",
        std::process::id(),
        dir.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().replace('-', "_"))
    );
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let ok = std::process::Command::new("psql")
            .args([admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", &sql])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(anyhow!("psql could not run {sql:?} on {admin_url}"));
        }
    }
    let base = &admin_url[..admin_url
        .rfind('/')
        .ok_or_else(|| anyhow!("no database in {admin_url}"))?
        + 1];
    Ok(format!("{base}{name}"))
}

/// CPU seconds (user + system) of every process named `postgres`, from /proc.
pub fn postgres_cpu_seconds() -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.split_once(") ") else {
            continue;
        };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: utime, stime, cutime, cstime are fields 14–17 of stat. A backend
        // that exited is counted in the postmaster's cutime/cstime, so the sum only grows.
        for i in 11..=14 {
            total += fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / tick;
        }
    }
    total
}

/// CPU seconds of this process's threads whose name starts with one of `prefixes` (the
/// server's runtime and blocking threads are `bench-server`, the PostgreSQL driver's
/// `daftar-postgres`), from /proc/self/task. Threads that already ended are not counted.
pub fn thread_cpu_seconds(prefixes: &[&str]) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut total = 0.0;
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        // Nanoseconds on the CPU (schedstat), else user + system clock ticks (10 ms each).
        if let Some(ns) = std::fs::read_to_string(t.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        {
            total += ns / 1e9;
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        for i in 11..=12 {
            total += fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 100.0;
        }
    }
    total
}

/// The Daftar server, the baseline server and a client runtime.
pub struct Cluster {
    server_rt: tokio::runtime::Runtime,
    /// Runtime the clients run on.
    pub client_rt: tokio::runtime::Runtime,
    pub url: String,
    pub state: AppState,
    /// Every instance's state (one unless several run on PostgreSQL).
    states: Vec<AppState>,
    _balancer: Option<Balancer>,
    sync_times: Times,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub baseline: Arc<BaselineState>,
    pub baseline_url: String,
}

/// Server counters read from `/metrics` (its text exposition, rendered in-process).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerMetrics {
    pub sync_requests: u64,
    pub changes_stored: u64,
    pub changes_sent: u64,
    pub change_bytes_in: u64,
    pub change_bytes_out: u64,
}

impl std::ops::Sub for ServerMetrics {
    type Output = ServerMetrics;
    fn sub(self, o: ServerMetrics) -> ServerMetrics {
        ServerMetrics {
            sync_requests: self.sync_requests - o.sync_requests,
            changes_stored: self.changes_stored - o.changes_stored,
            changes_sent: self.changes_sent - o.changes_sent,
            change_bytes_in: self.change_bytes_in - o.change_bytes_in,
            change_bytes_out: self.change_bytes_out - o.change_bytes_out,
        }
    }
}

fn runtime(threads: usize, name: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .context("start a tokio runtime")
}

impl Cluster {
    /// Starts both servers; the Daftar server keeps its database in `dir`.
    pub fn start(dir: &Path) -> Result<Cluster> {
        Cluster::start_on(dir, &ServerBackend::Sqlite)
    }

    /// Starts both servers, the Daftar server on `backend`.
    pub fn start_on(dir: &Path, backend: &ServerBackend) -> Result<Cluster> {
        let server_rt = runtime(2, "bench-server")?;
        let client_rt = runtime(2, "bench-client")?;
        let config = Config {
            password: PasswordParams::INSECURE_FAST,
            // Big first syncs (B5) must not hit the request timeout on a loaded 2-core machine.
            request_timeout: Duration::from_secs(600),
            ..Config::default()
        };
        let stores: Vec<Arc<dyn daftar_sync_server::Store>> = match backend {
            ServerBackend::Sqlite => vec![Arc::new(
                SqliteStore::open_to_serve(&dir.join("server.db"))
                    .context("open the server store")?,
            )],
            ServerBackend::Postgres {
                admin_url,
                instances,
            } => {
                let url = fresh_postgres(admin_url, dir)?;
                (0..(*instances).max(1))
                    .map(|_| {
                        Ok(Arc::new(
                            daftar_sync_server::PostgresStore::connect(
                                &url,
                                daftar_sync_server::POSTGRES_POOL,
                            )
                            .context("connect to PostgreSQL")?,
                        )
                            as Arc<dyn daftar_sync_server::Store>)
                    })
                    .collect::<Result<_>>()?
            }
        };
        let sync_times: Times = Arc::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut states = Vec::new();
        let mut ports = Vec::new();
        let mut tasks = Vec::new();
        for store in stores {
            let state = AppState::new(store, config.clone());
            let app = daftar_sync_server::router(state.clone())
                .layer(from_fn_with_state(sync_times.clone(), time_sync_requests))
                .into_make_service_with_connect_info::<SocketAddr>();
            let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
            ports.push(listener.local_addr()?.port());
            let mut stopped = stopped.clone();
            tasks.push(server_rt.spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.changed().await;
                    })
                    .await
            }));
            states.push(state);
        }
        let (balancer, addr) = if ports.len() > 1 {
            let (b, port) = start_nginx(dir, &ports)?;
            (Some(b), SocketAddr::from(([127, 0, 0, 1], port)))
        } else {
            (None, SocketAddr::from(([127, 0, 0, 1], ports[0])))
        };
        let state = states[0].clone();
        let task = server_rt.spawn(async move {
            for t in tasks {
                t.await.map_err(std::io::Error::other)??;
            }
            Ok(())
        });

        let baseline = Arc::new(BaselineState::default());
        let base_app = axum::Router::new()
            .route("/am", post(am_sync))
            .route("/blob/{name}", get(blob_get).put(blob_put))
            .layer(axum::extract::DefaultBodyLimit::max(512 * 1024 * 1024))
            .with_state(baseline.clone());
        let base_listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let base_addr = base_listener.local_addr()?;
        server_rt.spawn(async move {
            let _ = axum::serve(base_listener, base_app).await;
        });

        Ok(Cluster {
            server_rt,
            client_rt,
            url: format!("http://{addr}"),
            state,
            states,
            _balancer: balancer,
            sync_times,
            stop: Some(stop),
            task: Some(task),
            baseline,
            baseline_url: format!("http://{base_addr}"),
        })
    }

    /// Creates a user whose password is their name.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        scope: Option<&str>,
        employee: Option<&str>,
    ) -> Result<()> {
        add_user(
            self.state.store().as_ref(),
            &UserSpec {
                name: name.into(),
                role,
                scope: scope.map(str::to_string),
                employee: employee.map(str::to_string),
                password: name.into(),
            },
            &PasswordParams::INSECURE_FAST,
        )
        .map_err(|e| anyhow!("add user {name}: {e}"))?;
        Ok(())
    }

    /// Signs `user` in for `replica` and returns its transport.
    pub fn login(&self, user: &str, replica: &Replica) -> Result<Transport> {
        let device = replica.device_hex();
        let anon = Transport::new(&self.url, &device, None)?;
        let resp = self
            .client_rt
            .block_on(anon.login(user, user))
            .with_context(|| format!("sign in as {user}"))?;
        Ok(Transport::new(&self.url, &device, Some(resp.token))?)
    }

    /// One complete sync of `replica`.
    pub fn sync(&self, replica: &Mutex<Replica>, transport: &Transport) -> Result<SyncSummary> {
        Ok(self
            .client_rt
            .block_on(sync_once(replica, transport, |_| {}))?)
    }

    /// The server's counters, parsed from its `/metrics` text (summed over the instances).
    pub fn metrics(&self) -> ServerMetrics {
        let text: String = self
            .states
            .iter()
            .map(|s| s.metrics().render())
            .collect::<Vec<_>>()
            .join("\n");
        let mut m = ServerMetrics::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let v: u64 = value.parse().unwrap_or(0);
            if name.starts_with("daftar_http_requests_total{route=\"/v1/sync\"") {
                m.sync_requests += v;
            }
            match name {
                "daftar_changes_stored_total" => m.changes_stored += v,
                "daftar_changes_sent_total" => m.changes_sent += v,
                "daftar_change_bytes_in_total" => m.change_bytes_in += v,
                "daftar_change_bytes_out_total" => m.change_bytes_out += v,
                _ => {}
            }
        }
        m
    }

    /// Server-side handling times of `/v1/sync` requests since the last call.
    pub fn take_sync_times(&self) -> Vec<Duration> {
        std::mem::take(&mut *lock(&self.sync_times.times))
    }

    /// Waits until the server's background snapshot refresh (queued by pushes) is done, so
    /// that a measured sync does not share the cores with it; returns how long that took.
    pub fn wait_snapshots_idle(&self) -> Duration {
        let t0 = Instant::now();
        while !self.states.iter().all(AppState::snapshots_idle)
            && t0.elapsed() < Duration::from_secs(600)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        t0.elapsed()
    }

    /// `/v1/sync` body bytes (up, down) the server received and sent since the last call.
    pub fn take_wire_bytes(&self) -> (u64, u64) {
        std::mem::take(&mut *lock(&self.sync_times.wire))
    }

    /// A client for the baseline server, as peer `peer`.
    pub fn stock_peer(&self, peer: &str) -> Result<StockPeer> {
        Ok(StockPeer {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(60))
                .build()?,
            url: self.baseline_url.clone(),
            peer: peer.to_string(),
            states: HashMap::new(),
            requests: 0,
            bytes_up: 0,
            bytes_down: 0,
        })
    }

    /// Uploads `body` to the blob store in one request; returns the response's body size.
    pub fn blob_put(&self, name: &str, body: Vec<u8>) -> Result<u64> {
        let url = format!("{}/blob/{name}", self.baseline_url);
        self.client_rt.block_on(async {
            let resp = reqwest::Client::new().put(url).body(body).send().await?;
            let status = resp.status();
            let bytes = resp.bytes().await?;
            if !status.is_success() {
                return Err(anyhow!("blob upload answered {status}"));
            }
            Ok(bytes.len() as u64)
        })
    }

    /// Downloads a blob in one request.
    pub fn blob_get(&self, name: &str) -> Result<Vec<u8>> {
        let url = format!("{}/blob/{name}", self.baseline_url);
        self.client_rt.block_on(async {
            let resp = reqwest::Client::new().get(url).send().await?;
            if !resp.status().is_success() {
                return Err(anyhow!("blob download answered {}", resp.status()));
            }
            Ok(resp.bytes().await?.to_vec())
        })
    }
}

static LAST_SERVER_CPU: std::sync::Mutex<f64> = std::sync::Mutex::new(0.0);

/// CPU seconds the server threads of the last cluster that stopped had spent.
pub fn last_server_cpu() -> f64 {
    *lock(&LAST_SERVER_CPU)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Read while the server's threads still run.
        // The server's threads: every instance's runtime and blocking pool, and the PostgreSQL
        // driver's runtime.
        *lock(&LAST_SERVER_CPU) = thread_cpu_seconds(&["bench-server", "daftar-postgres"]);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = self
                .server_rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
        }
    }
}

async fn time_sync_requests(AxState(probe): AxState<Times>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/v1/sync" {
        return next.run(req).await;
    }
    // Weigh the bodies as they travel; the timing covers the server's own work only.
    let (parts, body) = req.into_parts();
    let up = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    lock(&probe.wire).0 += up.len() as u64;
    let req = Request::from_parts(parts, axum::body::Body::from(up));
    let start = Instant::now();
    let response = next.run(req).await;
    lock(&probe.times).push(start.elapsed());
    let (parts, body) = response.into_parts();
    let down = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    lock(&probe.wire).1 += down.len() as u64;
    Response::from_parts(parts, axum::body::Body::from(down))
}

/// The baseline server's data: automerge documents with a sync state per (peer, document),
/// and blobs.
#[derive(Default)]
pub struct BaselineState {
    docs: Mutex<HashMap<String, AutoCommit>>,
    states: Mutex<HashMap<(String, String), State>>,
    blobs: Mutex<HashMap<String, Vec<u8>>>,
}

impl BaselineState {
    /// Puts (replaces) a document the server holds.
    pub fn put_doc(&self, id: &str, doc: AutoCommit) {
        lock(&self.docs).insert(id.to_string(), doc);
    }

    pub fn heads(&self, id: &str) -> Option<Vec<automerge::ChangeHash>> {
        lock(&self.docs).get_mut(id).map(|d| d.get_heads())
    }

    /// Forgets everything but what a peer would persist (`State::encode`): a new session.
    pub fn new_sessions(&self) {
        for state in lock(&self.states).values_mut() {
            if let Ok(s) = State::decode(&state.encode()) {
                *state = s;
            }
        }
    }

    pub fn clear(&self) {
        lock(&self.docs).clear();
        lock(&self.states).clear();
        lock(&self.blobs).clear();
    }
}

async fn am_sync(
    AxState(base): AxState<Arc<BaselineState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(peer), Some(doc_id)) = (header("x-peer"), header("x-doc")) else {
        return (StatusCode::BAD_REQUEST, "x-peer and x-doc are required").into_response();
    };
    let mut docs = lock(&base.docs);
    let doc = docs.entry(doc_id.clone()).or_default();
    let mut states = lock(&base.states);
    let state = states.entry((peer, doc_id)).or_default();
    if !body.is_empty() {
        let message = match Message::decode(&body) {
            Ok(m) => m,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        };
        if let Err(e) = doc.sync().receive_sync_message(state, message) {
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    }
    match doc.sync().generate_sync_message(state) {
        Some(m) => m.encode().into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn blob_put(
    AxState(base): AxState<Arc<BaselineState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    body: Bytes,
) -> StatusCode {
    lock(&base.blobs).insert(name, body.to_vec());
    StatusCode::NO_CONTENT
}

async fn blob_get(
    AxState(base): AxState<Arc<BaselineState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match lock(&base.blobs).get(&name) {
        Some(b) => b.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A client of automerge's per-document sync protocol, one session per document, over HTTP.
pub struct StockPeer {
    http: reqwest::Client,
    url: String,
    peer: String,
    states: HashMap<String, State>,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

impl StockPeer {
    /// Runs the sync protocol for one document until neither side has anything to say.
    /// Returns the number of round trips (HTTP requests).
    pub async fn sync_doc(&mut self, doc_id: &str, doc: &mut AutoCommit) -> Result<u64> {
        let state = self.states.entry(doc_id.to_string()).or_default();
        let mut trips = 0u64;
        loop {
            let message = doc.sync().generate_sync_message(state);
            let Some(message) = message else { break };
            let body = message.encode();
            self.bytes_up += body.len() as u64;
            let resp = self
                .http
                .post(format!("{}/am", self.url))
                .header("x-peer", &self.peer)
                .header("x-doc", doc_id)
                .body(body)
                .send()
                .await?;
            let status = resp.status();
            let bytes = resp.bytes().await?;
            self.requests += 1;
            trips += 1;
            self.bytes_down += bytes.len() as u64;
            if !status.is_success() {
                return Err(anyhow!(
                    "stock sync of {doc_id} answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
            if !bytes.is_empty() {
                let reply = Message::decode(&bytes).map_err(|e| anyhow!("stock reply: {e}"))?;
                doc.sync()
                    .receive_sync_message(state, reply)
                    .map_err(|e| anyhow!("stock receive: {e}"))?;
            }
            if trips > 100 {
                return Err(anyhow!(
                    "stock sync of {doc_id} did not converge in 100 round trips"
                ));
            }
        }
        Ok(trips)
    }

    /// Keeps only what a peer persists between sessions (`State::encode`).
    pub fn new_sessions(&mut self) {
        for state in self.states.values_mut() {
            if let Ok(s) = State::decode(&state.encode()) {
                *state = s;
            }
        }
    }

    pub fn counters(&self) -> (u64, u64, u64) {
        (self.requests, self.bytes_up, self.bytes_down)
    }
}

impl StockPeer {
    pub fn reset_counters(&mut self) {
        self.requests = 0;
        self.bytes_up = 0;
        self.bytes_down = 0;
    }
}

/// What a load of simultaneous syncs did, summed: each client's time, the changes the server
/// acknowledged, the round trips, and a line for each client that did not push exactly
/// `expected` changes and end with nothing waiting or refused.
pub struct LoadOutcome {
    pub latency: crate::measure::Samples,
    pub pushed: usize,
    pub round_trips: usize,
    pub failed: Vec<String>,
}

impl LoadOutcome {
    pub fn of(outcomes: &[(Duration, Result<SyncSummary, String>)], expected: usize) -> Self {
        let mut o = LoadOutcome {
            latency: crate::measure::Samples::new(),
            pushed: 0,
            round_trips: 0,
            failed: Vec::new(),
        };
        for (i, (d, s)) in outcomes.iter().enumerate() {
            o.latency.push(*d);
            match s {
                Ok(s) => {
                    o.pushed += s.pushed;
                    o.round_trips += s.round_trips;
                    if s.pushed != expected || s.waiting != 0 || s.refused != 0 {
                        o.failed.push(format!(
                            "client {i}: pushed {}, waiting {}, refused {}",
                            s.pushed, s.waiting, s.refused
                        ));
                    }
                }
                Err(e) => o.failed.push(format!("client {i}: {e}")),
            }
        }
        o
    }

    /// The clients' check: passed when every client did as expected.
    pub fn check(&self) -> Result<(), String> {
        if self.failed.is_empty() {
            Ok(())
        } else {
            Err(self.failed.join("; "))
        }
    }
}

/// Syncs every client at once (one task each) and returns, in client order, how long each
/// took and what it did.
pub async fn sync_all_at_once(
    clients: &[(Arc<Mutex<Replica>>, Transport)],
) -> Vec<(Duration, Result<SyncSummary, String>)> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (r, t)) in clients.iter().enumerate() {
        let (r, t) = (r.clone(), t.clone());
        set.spawn(async move {
            let t0 = Instant::now();
            let s = sync_once(&r, &t, |_| {}).await.map_err(|e| e.to_string());
            (i, t0.elapsed(), s)
        });
    }
    let mut out: Vec<(usize, Duration, Result<SyncSummary, String>)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(o) => out.push(o),
            Err(e) => out.push((usize::MAX, Duration::ZERO, Err(e.to_string()))),
        }
    }
    out.sort_by_key(|o| o.0);
    out.into_iter().map(|(_, d, s)| (d, s)).collect()
}

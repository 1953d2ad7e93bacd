//! Integration tests: a real sync-server on 127.0.0.1:0, driven over real HTTP with reqwest,
//! pushing real automerge changes. The whole suite runs on either backend: an SQLite file
//! (the default), or with `DAFTAR_TEST_BACKEND=postgres` a fresh database of the PostgreSQL
//! cluster at `DAFTAR_TEST_POSTGRES` (an admin URL; `scripts/test.sh` starts a private one).
//!
//! One test binary (faster to link than one per file). Each test starts its own server on its
//! own database.
//! Passwords use the cheapest argon2 parameters through `Config::password`; production
//! defaults are untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use automerge::transaction::Transactable as _;
use automerge::{ActorId, AutoCommit, ROOT, ReadDoc as _};
use daftar_protocol::{
    AssignRequest, AssignResponse, Assignment, Bytes, DocKind, DocMeta, ErrorBody, ErrorCode,
    LoginRequest, LoginResponse, PushChange, REPLICA_HEADER, Role, SyncRequest, SyncResponse,
    genesis_actor,
};
use daftar_sync_server::{
    AppState, Config, DatabaseUrl, PasswordParams, UserSpec, add_user, open_store, serve,
};
use reqwest::StatusCode;

mod access;
mod admin;
mod materials;
mod paging;
mod sessions;
mod trust;
mod wire;

struct Server {
    url: String,
    http: reqwest::Client,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    database: DatabaseUrl,
    _dir: tempfile::TempDir,
}

/// Whether this run is on PostgreSQL (`DAFTAR_TEST_BACKEND=postgres`).
fn on_postgres() -> bool {
    match std::env::var("DAFTAR_TEST_BACKEND").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("DAFTAR_TEST_BACKEND={other:?}: say sqlite or postgres"),
    }
}

/// The admin URL of the test cluster; a PostgreSQL run without one fails (it must never pass
/// by testing SQLite again).
fn postgres_admin_url() -> String {
    std::env::var("DAFTAR_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!("DAFTAR_TEST_BACKEND=postgres needs DAFTAR_TEST_POSTGRES=postgres://USER@HOST:PORT/postgres")
    })
}

/// Runs SQL on the test cluster's database `db` (the admin URL's database when `None`).
async fn postgres_sql(db: Option<&str>, sql: &str) {
    let mut url = postgres_admin_url();
    if let Some(db) = db
        && let Some(slash) = url.rfind('/')
    {
        url.truncate(slash + 1);
        url.push_str(db);
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test cluster at {url}: {e}"));
    let drive = tokio::spawn(connection);
    client.batch_execute(sql).await.expect("test SQL");
    drop(client);
    let _ = drive.await;
}

/// A database of its own for one test: a new SQLite file in `dir`, or a new database on the
/// PostgreSQL test cluster.
async fn fresh_database(dir: &std::path::Path) -> DatabaseUrl {
    if !on_postgres() {
        return DatabaseUrl::Sqlite(dir.join("server.db"));
    }
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "daftar_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        rand_suffix()
    );
    postgres_sql(None, &format!("CREATE DATABASE {name}")).await;
    let admin = postgres_admin_url();
    let base = &admin[..admin.rfind('/').expect("a database in the URL") + 1];
    DatabaseUrl::Postgres(format!("{base}{name}"))
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// [`fresh_database`] for a test without a runtime.
fn fresh_database_now(dir: &std::path::Path) -> DatabaseUrl {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(fresh_database(dir))
}

/// The database name of a PostgreSQL URL.
fn postgres_db(url: &DatabaseUrl) -> Option<String> {
    match url {
        DatabaseUrl::Postgres(u) => u.rsplit('/').next().map(str::to_owned),
        DatabaseUrl::Sqlite(_) => None,
    }
}

fn test_config() -> Config {
    Config {
        password: PasswordParams::INSECURE_FAST,
        ..Config::default()
    }
}

async fn start() -> Server {
    start_with(test_config()).await
}

async fn start_with(config: Config) -> Server {
    start_on(config, None).await
}

/// A server on `database` (another instance of a server already running on it), or on a
/// fresh database.
async fn start_on(config: Config, database: Option<DatabaseUrl>) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = match database {
        Some(d) => d,
        None => fresh_database(dir.path()).await,
    };
    let url = database.clone();
    let store = tokio::task::spawn_blocking(move || open_store(&url))
        .await
        .expect("open")
        .expect("open store");
    let state = AppState::new(store, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        url: format!("http://{addr}"),
        http: reqwest::Client::new(),
        state,
        stop: Some(stop),
        task: Some(task),
        database,
        _dir: dir,
    }
}

fn password_of(name: &str) -> String {
    format!("pw-{name}")
}

impl Server {
    fn user(&self, name: &str, role: Role, scope: Option<&str>, employee: Option<&str>) {
        add_user(
            self.state.store().as_ref(),
            &UserSpec {
                name: name.into(),
                role,
                scope: scope.map(Into::into),
                employee: employee.map(Into::into),
                password: password_of(name),
            },
            &self.state.config().password,
        )
        .expect("add user");
    }

    async fn login_raw(&self, user: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/sessions", self.url))
            .json(&LoginRequest {
                user: user.into(),
                password: password.into(),
            })
            .send()
            .await
            .expect("send login")
    }

    async fn login_forwarded(&self, user: &str, password: &str, forwarded: &str) -> StatusCode {
        self.http
            .post(format!("{}/v1/sessions", self.url))
            .header("x-forwarded-for", forwarded)
            .json(&LoginRequest {
                user: user.into(),
                password: password.into(),
            })
            .send()
            .await
            .expect("send login")
            .status()
    }

    /// A live-update wait: its status and, when answered, whether there is news.
    async fn live(
        &self,
        token: &str,
        after: u64,
        access: u64,
        wait: u64,
    ) -> (StatusCode, Option<bool>) {
        let r = self
            .http
            .get(format!(
                "{}{}?after={after}&access={access}&wait={wait}",
                self.url,
                daftar_protocol::LIVE_PATH
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("send live");
        let status = r.status();
        let body: Option<daftar_protocol::LiveResponse> = r.json().await.ok();
        (status, body.map(|b| b.changed))
    }

    async fn token(&self, user: &str) -> String {
        let r = self.login_raw(user, &password_of(user)).await;
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        r.json::<LoginResponse>().await.expect("login body").token
    }

    async fn sync_raw(&self, token: &str, replica: &str, req: &SyncRequest) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/sync", self.url))
            .bearer_auth(token)
            .header(REPLICA_HEADER, replica)
            .json(req)
            .send()
            .await
            .expect("send sync")
    }

    async fn sync(&self, token: &str, replica: &str, req: &SyncRequest) -> SyncResponse {
        let r = self.sync_raw(token, replica, req).await;
        let status = r.status();
        let text = r.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "sync failed: {text}");
        serde_json::from_str(&text).expect("sync response")
    }

    /// A sync that only pushes `changes` (cursor 0, nothing else asked).
    async fn push_only(
        &self,
        token: &str,
        replica: &str,
        changes: Vec<PushChange>,
    ) -> SyncResponse {
        self.sync(
            token,
            replica,
            &SyncRequest {
                push: changes,
                ..SyncRequest::default()
            },
        )
        .await
    }

    async fn assign(&self, token: &str, teacher: &str, journal: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/assignments", self.url))
            .bearer_auth(token)
            .json(&AssignRequest {
                assignments: vec![Assignment {
                    teacher: teacher.into(),
                    journal: journal.into(),
                }],
            })
            .send()
            .await
            .expect("send assign")
    }

    async fn healthy(&self) {
        let r = self
            .http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server result");
        }
    }
}

/// Where a test change of a `kind` document by `role` goes, and the value it writes there:
/// a part of the document that role may write (`daftar_rules::table`), so the change is
/// judged on the document-level rules the test is about.
fn target(kind: DocKind, role: Role, value: &str) -> (&'static str, String) {
    match (kind, role) {
        (DocKind::Journal, Role::Dean) => ("locks", format!(r#"{{"reason":"{value}"}}"#)),
        (DocKind::Journal, _) => ("topics", value.to_owned()),
        (DocKind::Group, _) => ("students", value.to_owned()),
        (DocKind::Module, _) => ("topics", value.to_owned()),
        (DocKind::Catalog, _) => ("settings", value.to_owned()),
    }
}

/// The document as a replica starts it: its genesis, then writes as `actor`.
fn started(doc: &str, actor: &[u8]) -> AutoCommit {
    let kind = DocKind::of_doc_id(doc).expect("a document id");
    let mut am = daftar_rules::genesis::genesis_doc(doc, kind);
    am.set_actor(ActorId::from(actor));
    am
}

/// Commits `am`'s pending ops and returns the change's raw bytes.
fn commit(am: &mut AutoCommit, message: Option<&str>) -> Vec<u8> {
    let mut options = automerge::transaction::CommitOptions::default().with_time(1_700_000_000_000);
    if let Some(m) = message {
        options = options.with_message(m.to_owned());
    }
    am.commit_with(options);
    am.get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec()
}

/// One change of `doc` by `actor` as `role` would write it, on top of the genesis only.
fn change(doc: &str, actor: &[u8], role: Role, key: &str, value: &str) -> Vec<u8> {
    let kind = DocKind::of_doc_id(doc).expect("a document id");
    let mut am = started(doc, actor);
    let (map, value) = target(kind, role, value);
    let (_, obj) = am.get(ROOT, map).expect("read").expect("map");
    am.put(&obj, key, value).expect("put");
    commit(&mut am, None)
}

fn hash_of(bytes: &[u8]) -> String {
    automerge::Change::from_bytes(bytes.to_vec())
        .expect("decode")
        .hash()
        .to_string()
}

fn push(doc: &str, bytes: &[u8]) -> PushChange {
    PushChange {
        doc: doc.into(),
        change: Bytes(bytes.to_vec()),
    }
}

/// A client replica: its actor, cursor and access version, and what it has received.
struct Replica {
    id: String,
    actor: Vec<u8>,
    role: Role,
    cursor: u64,
    access: u64,
    received: Vec<(String, String)>,
    page_bytes: Option<u64>,
    /// Each document this replica wrote, so its changes chain (seq 1, 2, …).
    written: std::collections::HashMap<String, AutoCommit>,
}

impl Replica {
    /// A replica named for its user's role: `admin…`, `dean…`, `head…`, else a teacher's.
    fn new(id: &str) -> Replica {
        let mut actor = id.as_bytes().to_vec();
        actor.resize(16, 0);
        let role = if id.starts_with("admin") || id == "writer" {
            Role::Admin
        } else if id.starts_with("dean") {
            Role::Dean
        } else if id.starts_with("head") {
            Role::DepartmentHead
        } else {
            Role::Teacher
        };
        Replica {
            id: id.into(),
            actor,
            role,
            cursor: 0,
            access: 0,
            received: Vec::new(),
            page_bytes: None,
            written: std::collections::HashMap::new(),
        }
    }

    /// The next change of `doc` from this replica, writing `key` where its role may.
    fn change(&mut self, doc: &str, key: &str, value: &str) -> Vec<u8> {
        let kind = DocKind::of_doc_id(doc).expect("a document id");
        let actor = self.actor.clone();
        let am = self
            .written
            .entry(doc.to_owned())
            .or_insert_with(|| started(doc, &actor));
        let (map, value) = target(kind, self.role, value);
        let (_, obj) = am.get(ROOT, map).expect("read").expect("map");
        am.put(&obj, key, value).expect("put");
        commit(am, None)
    }

    /// Push once, then pull until nothing more; returns the first response.
    async fn sync(
        &mut self,
        server: &Server,
        token: &str,
        docs: Vec<(String, DocMeta)>,
        pushes: Vec<PushChange>,
    ) -> SyncResponse {
        let mut first = None;
        let mut req = SyncRequest {
            cursor: self.cursor,
            access: self.access,
            docs,
            push: pushes,
            page_bytes: self.page_bytes,
            ..SyncRequest::default()
        };
        for _ in 0..1000 {
            let resp = server.sync(token, &self.id, &req).await;
            for c in &resp.changes {
                self.received.push((c.doc.clone(), hash_of(&c.change.0)));
            }
            self.cursor = resp.cursor;
            self.access = resp.access;
            let more = resp.more;
            if first.is_none() {
                first = Some(resp);
            }
            if !more {
                return first.expect("a response");
            }
            req = SyncRequest {
                cursor: self.cursor,
                access: self.access,
                page_bytes: self.page_bytes,
                ..SyncRequest::default()
            };
        }
        panic!("sync never finished");
    }

    fn docs(&self) -> BTreeSet<String> {
        self.received.iter().map(|(d, _)| d.clone()).collect()
    }
}

fn meta_group(faculty: &str) -> DocMeta {
    DocMeta {
        faculty: Some(faculty.into()),
        ..DocMeta::default()
    }
}

fn meta_module(department: &str) -> DocMeta {
    DocMeta {
        department: Some(department.into()),
        ..DocMeta::default()
    }
}

fn meta_journal(group: &str, module: &str, teachers: &[&str]) -> DocMeta {
    DocMeta {
        group: Some(group.into()),
        module: Some(module.into()),
        teachers: teachers.iter().map(|t| t.to_string()).collect(),
        ..DocMeta::default()
    }
}

/// Admin seeds: catalog; faculties F1 (group g1) and F2 (group g2); modules m1 (dept D1),
/// m2 (dept D2); journals j1 (g1, m1, teacher E1), j2 (g2, m2, teacher E2), j3 (g1, m2).
/// Returns the admin's token and replica.
async fn seed(server: &Server) -> (String, Replica) {
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let mut admin = Replica::new("admin-pc");
    let docs: Vec<(String, DocMeta)> = vec![
        ("group/g1".into(), meta_group("F1")),
        ("group/g2".into(), meta_group("F2")),
        ("module/m1".into(), meta_module("D1")),
        ("module/m2".into(), meta_module("D2")),
        (
            "journal/j1".into(),
            meta_journal("group/g1", "module/m1", &["E1"]),
        ),
        (
            "journal/j2".into(),
            meta_journal("group/g2", "module/m2", &["E2"]),
        ),
        (
            "journal/j3".into(),
            meta_journal("group/g1", "module/m2", &[]),
        ),
    ];
    let mut pushes: Vec<PushChange> = docs
        .iter()
        .map(|(doc, _)| {
            let c = admin.change(doc, "name", doc);
            push(doc, &c)
        })
        .collect();
    pushes.push(push(
        "catalog/uni",
        &admin.change("catalog/uni", "name", "University"),
    ));
    let resp = admin.sync(server, &token, docs, pushes).await;
    assert!(resp.refused.is_empty(), "seed refused: {:?}", resp.refused);
    assert_eq!(resp.acked.len(), 8);
    (token, admin)
}

fn set(docs: &[&str]) -> BTreeSet<String> {
    docs.iter().map(|d| d.to_string()).collect()
}

/// `n` changes of one document in a chain (each depends on the one before): its genesis,
/// then writes by `actor` as an administrator.
fn chain(doc_id: &str, actor: &[u8], n: usize) -> (AutoCommit, Vec<Vec<u8>>) {
    let kind = DocKind::of_doc_id(doc_id).expect("a document id");
    let (_, genesis) = daftar_rules::genesis::genesis_change(doc_id, kind);
    let mut doc = started(doc_id, actor);
    let mut out = vec![genesis];
    for i in 1..n {
        let (map, value) = target(kind, Role::Admin, &i.to_string());
        let (_, obj) = doc.get(ROOT, map).expect("read").expect("map");
        doc.put(&obj, format!("k{}", i % 7), value).expect("put");
        out.push(commit(&mut doc, None));
    }
    (doc, out)
}

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

mod materials;
mod trust;

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

#[tokio::test]
async fn login_succeeds_and_wrong_password_is_refused() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let ok = server.login_raw("ali", "pw-ali").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: LoginResponse = ok.json().await.expect("body");
    assert_eq!(body.user.name, "ali");
    assert_eq!(body.user.role, Role::Teacher);
    assert_eq!(body.user.employee.as_deref(), Some("E1"));
    assert!(body.token.len() >= 40);
    assert!(body.expires_at > 0);

    for (user, password) in [("ali", "wrong"), ("nobody", "pw-ali")] {
        let r = server.login_raw(user, password).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let err: ErrorBody = r.json().await.expect("error body");
        assert_eq!(err.error, ErrorCode::BadCredentials);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_rate_limited() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    for _ in 0..5 {
        let r = server.login_raw("ali", "wrong").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused while the limit holds.
    let r = server.login_raw("ali", "pw-ali").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::RateLimited);
    server.shutdown().await;
}

/// Two instances on one database (as behind a load balancer) share what they know: a
/// session made through one works through the other, and wrong passwords counted by one
/// lock the name out on the other.
#[tokio::test]
async fn instances_on_one_database_share_sessions_and_sign_in_limits() {
    let a = start().await;
    let b = start_on(test_config(), Some(a.database.clone())).await;
    a.user("ali", Role::Teacher, None, None);
    a.user("vali", Role::Teacher, None, None);
    let token = a.token("vali").await;
    let r = b.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a session from instance A works on B"
    );
    for _ in 0..5 {
        assert_eq!(
            a.login_raw("ali", "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        b.login_raw("ali", "pw-ali").await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "failures counted on A hold on B"
    );
    b.shutdown().await;
    a.shutdown().await;
}

/// `X-Forwarded-For` names the client only when the request comes from a trusted proxy:
/// anyone else would pick a fresh address for every guess.
#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let limits = Config {
        login_max_failures: 100,
        login_max_failures_per_ip: 2,
        ..test_config()
    };
    // Not trusted: the header is ignored, every guess counts against 127.0.0.1.
    let direct = start_with(limits.clone()).await;
    assert_eq!(
        direct.login_forwarded("a", "x", "10.0.0.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        direct.login_forwarded("b", "x", "10.0.0.2").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        direct.login_forwarded("c", "x", "10.0.0.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    direct.shutdown().await;

    // Behind a trusted proxy on 127.0.0.1: each client address has its own count, read from
    // the right of the chain, so a forged first hop does not help.
    let proxied = start_with(Config {
        trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
        ..limits
    })
    .await;
    assert_eq!(
        proxied.login_forwarded("a", "x", "10.0.0.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        proxied.login_forwarded("b", "x", "10.0.0.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        proxied.login_forwarded("c", "x", "10.0.0.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        proxied.login_forwarded("c", "x", "10.0.0.2").await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is not locked out"
    );
    assert_eq!(
        proxied
            .login_forwarded("d", "x", "10.9.9.9, 10.0.0.1")
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address the proxy saw counts, not one the client wrote"
    );
    assert_eq!(
        proxied
            .login_forwarded("e", "x", "not-an-address, 10.0.0.1")
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "junk the client wrote does not move it to the proxy's count"
    );
    proxied.shutdown().await;
}

#[tokio::test]
async fn disabled_user_cannot_sign_in_and_their_token_stops_working() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    let token = server.token("ali").await;
    server.sync(&token, "r1", &SyncRequest::default()).await;

    assert!(
        server
            .state
            .store()
            .set_disabled("ali", true)
            .expect("disable")
    );
    let r = server.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::Unauthorized);

    let r = server.login_raw("ali", "pw-ali").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::Forbidden);
    server.shutdown().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    let token = server.token("ali").await;
    let r = server
        .http
        .delete(format!("{}/v1/sessions", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = server.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_unauthorized() {
    let server = start_with(Config {
        token_ttl: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    server.user("ali", Role::Teacher, None, None);
    let token = server.token("ali").await;
    server.sync(&token, "r1", &SyncRequest::default()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = server.sync_raw(&token, "r1", &SyncRequest::default()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let err: ErrorBody = r.json().await.expect("error body");
    assert_eq!(err.error, ErrorCode::Unauthorized);

    let r = server
        .http
        .post(format!("{}/v1/sync", server.url))
        .header(REPLICA_HEADER, "r1")
        .json(&SyncRequest::default())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "no token at all");
    server.shutdown().await;
}

#[tokio::test]
async fn push_and_pull_round_trip_between_two_users() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let ali_token = server.token("ali").await;
    let mut ali = Replica::new("ali-laptop");

    // Ali gets the journal named for E1, its group and module, and the catalog.
    ali.sync(&server, &ali_token, vec![], vec![]).await;
    assert_eq!(
        ali.docs(),
        set(&["catalog/uni", "group/g1", "module/m1", "journal/j1"])
    );

    // Ali marks a lesson; the admin's replica receives exactly that change.
    let mark = ali.change("journal/j1", "lesson-1", "present");
    let resp = ali
        .sync(&server, &ali_token, vec![], vec![push("journal/j1", &mark)])
        .await;
    assert_eq!(resp.acked, vec![hash_of(&mark)]);
    assert!(resp.refused.is_empty());
    assert!(
        !ali.received.iter().any(|(_, h)| *h == hash_of(&mark)),
        "own change not echoed back"
    );

    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(
        admin.received[before..].to_vec(),
        vec![("journal/j1".to_string(), hash_of(&mark))]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn teacher_sees_exactly_assigned_journals_and_what_they_reference() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    server.user("bob", Role::Teacher, None, Some("E9"));
    let r = server.assign(&admin_token, "bob", "j3").await;
    assert_eq!(r.status(), StatusCode::OK);
    let bob_token = server.token("bob").await;
    let mut bob = Replica::new("bob-pc");
    bob.sync(&server, &bob_token, vec![], vec![]).await;
    assert_eq!(
        bob.docs(),
        set(&["catalog/uni", "journal/j3", "group/g1", "module/m2"])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn dean_is_scoped_by_faculty() {
    let server = start().await;
    let _ = seed(&server).await;
    server.user("dean1", Role::Dean, Some("F1"), None);
    let token = server.token("dean1").await;
    let mut dean = Replica::new("dean-pc");
    dean.sync(&server, &token, vec![], vec![]).await;
    assert_eq!(
        dean.docs(),
        set(&[
            "catalog/uni",
            "group/g1",
            "journal/j1",
            "journal/j3",
            "module/m1",
            "module/m2"
        ])
    );

    // The dean writes journals of the faculty, not those of another.
    let ok = dean.change("journal/j1", "lock", "yes");
    let no = dean.change("journal/j2", "lock", "no");
    let resp = dean
        .sync(
            &server,
            &token,
            vec![],
            vec![push("journal/j1", &ok), push("journal/j2", &no)],
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&ok)]);
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].hash, hash_of(&no));
    assert_eq!(resp.refused[0].code, ErrorCode::Forbidden);
    server.shutdown().await;
}

#[tokio::test]
async fn department_head_is_scoped_by_department() {
    let server = start().await;
    let _ = seed(&server).await;
    server.user("head2", Role::DepartmentHead, Some("D2"), None);
    let token = server.token("head2").await;
    let mut head = Replica::new("head-pc");
    head.sync(&server, &token, vec![], vec![]).await;
    assert_eq!(
        head.docs(),
        set(&[
            "catalog/uni",
            "module/m2",
            "journal/j2",
            "journal/j3",
            "group/g1",
            "group/g2"
        ])
    );
    let topic = head.change("module/m2", "topic", "Limits");
    let resp = head
        .sync(&server, &token, vec![], vec![push("module/m2", &topic)])
        .await;
    assert_eq!(resp.acked, vec![hash_of(&topic)]);
    let other = head.change("module/m1", "topic", "Sets");
    let resp = head
        .sync(&server, &token, vec![], vec![push("module/m1", &other)])
        .await;
    assert_eq!(resp.refused.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn refused_write_stores_nothing_and_is_accepted_after_assign() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    server.user("bob", Role::Teacher, None, Some("E9"));
    let bob_token = server.token("bob").await;
    let mut bob = Replica::new("bob-pc");

    let mark = bob.change("journal/j2", "lesson-1", "absent");
    let req = vec![push("journal/j2", &mark)];
    let resp = bob.sync(&server, &bob_token, vec![], req.clone()).await;
    assert!(resp.acked.is_empty());
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].hash, hash_of(&mark));
    assert_eq!(resp.refused[0].code, ErrorCode::Forbidden);
    assert!(resp.refused[0].reason.contains("not assigned"));

    // Nothing reached the server.
    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(admin.received.len(), before);

    // Assigned (here by employee id through the API), the same push goes through.
    let r = server
        .assign(&admin_token, "employee:E9", "journal/j2")
        .await;
    let out: AssignResponse = r.json().await.expect("assign body");
    assert_eq!((out.assigned, out.pending), (1, 0));
    let resp = bob.sync(&server, &bob_token, vec![], req).await;
    assert_eq!(resp.acked, vec![hash_of(&mark)]);
    assert!(resp.refused.is_empty());
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(admin.received.len(), before + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn foreign_actor_is_refused() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    server.user("eve", Role::Teacher, None, Some("E2"));
    let r = server.assign(&admin_token, "eve", "journal/j1").await;
    assert_eq!(r.status(), StatusCode::OK);
    let ali_token = server.token("ali").await;
    let eve_token = server.token("eve").await;
    let mut ali = Replica::new("ali-laptop");
    let first = ali.change("journal/j1", "a", "1");
    ali.sync(
        &server,
        &ali_token,
        vec![],
        vec![push("journal/j1", &first)],
    )
    .await;

    // Eve, also allowed on j1, forges a change with Ali's device actor.
    let mut eve = Replica::new("eve-pc");
    let forged = ali.change("journal/j1", "grade", "5");
    let resp = eve
        .sync(
            &server,
            &eve_token,
            vec![],
            vec![push("journal/j1", &forged)],
        )
        .await;
    assert!(resp.acked.is_empty());
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].code, ErrorCode::ForeignActor);

    // The document's own genesis change is anyone's who writes it, and never bound to them.
    let (_, genesis) = daftar_rules::genesis::genesis_change("journal/j1", DocKind::Journal);
    let resp = eve
        .sync(
            &server,
            &eve_token,
            vec![],
            vec![push("journal/j1", &genesis)],
        )
        .await;
    assert_eq!(resp.acked, vec![hash_of(&genesis)]);
    let resp = ali
        .sync(
            &server,
            &ali_token,
            vec![],
            vec![push("journal/j1", &genesis)],
        )
        .await;
    assert_eq!(
        resp.acked,
        vec![hash_of(&genesis)],
        "and never bound to her"
    );
    // Any other change with the genesis actor is a second genesis: refused.
    let mut fake = started("journal/j1", &genesis_actor("journal/j1"));
    let (_, marks) = fake.get(ROOT, "marks").expect("read").expect("map");
    fake.put(&marks, "h1/s1", r#"{"s":"p"}"#).expect("put");
    let second = commit(&mut fake, None);
    let resp = ali
        .sync(
            &server,
            &ali_token,
            vec![],
            vec![push("journal/j1", &second)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1, "{resp:?}");
    assert!(resp.refused[0].reason.contains("genesis"));
    server.shutdown().await;
}

#[tokio::test]
async fn retried_push_is_idempotent() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    let c = admin.change("catalog/uni", "x", "1");
    let req = SyncRequest {
        push: vec![push("catalog/uni", &c), push("catalog/uni", &c)],
        ..SyncRequest::default()
    };
    let first = server.sync(&admin_token, "other-replica", &req).await;
    let second = server.sync(&admin_token, "other-replica", &req).await;
    assert_eq!(first.acked, vec![hash_of(&c), hash_of(&c)]);
    assert_eq!(second.acked, first.acked);
    let before = admin.received.len();
    admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert_eq!(admin.received.len(), before + 1, "stored once");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_json_errors_and_the_server_keeps_serving() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let url = format!("{}/v1/sync", server.url);
    let send = |body: reqwest::Body, content_type: &'static str| {
        server
            .http
            .post(&url)
            .bearer_auth(&token)
            .header(REPLICA_HEADER, "r1")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, String, StatusCode, ErrorCode)> = vec![
        (
            "malformed json",
            "{\"cursor\": ".into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "wrong shape",
            "{\"cursor\": \"x\"}".into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "bad base64",
            r#"{"cursor":0,"push":[{"doc":"journal/j","change":"@@not base64@@"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "garbage change bytes",
            r#"{"cursor":0,"push":[{"doc":"journal/j","change":"AAECAwQF"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "unknown doc kind",
            format!(
                r#"{{"cursor":0,"push":[{{"doc":"secret/x","change":"{}"}}]}}"#,
                base64_of(&change(
                    "journal/j",
                    b"0123456789abcdef",
                    Role::Admin,
                    "k",
                    "v"
                ))
            ),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "unknown doc kind in docs",
            r#"{"cursor":0,"docs":[["nope/x",{}]]}"#.into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
    ];
    for (what, body, status, code) in cases {
        let r = send(body.into(), "application/json").await.expect("send");
        assert_eq!(r.status(), status, "{what}");
        let err: ErrorBody = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        assert_eq!(err.error, code, "{what}");
    }

    // Over the body limit.
    let big = vec![b' '; daftar_protocol::MAX_BODY_BYTES + 1024];
    let r = send(big.into(), "application/json").await.expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: ErrorBody = r.json().await.expect("413 is JSON");
    assert_eq!(err.error, ErrorCode::TooLarge);

    // Not JSON at all.
    let r = send("cursor=0".into(), "text/plain").await.expect("send");
    assert!(r.status().is_client_error());
    let err: ErrorBody = r.json().await.expect("JSON");
    assert_eq!(err.error, ErrorCode::Malformed);

    // Missing replica header.
    let r = server
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&SyncRequest::default())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Unknown route and wrong method.
    let r = server
        .http
        .get(format!("{}/v1/nothing", server.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let err: ErrorBody = r.json().await.expect("404 is JSON");
    assert_eq!(err.error, ErrorCode::NotFound);
    let r = server.http.get(&url).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let _: ErrorBody = r.json().await.expect("405 is JSON");

    // Bad login body.
    let r = server
        .http
        .post(format!("{}/v1/sessions", server.url))
        .header("content-type", "application/json")
        .body("{\"user\": 1}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let _: ErrorBody = r.json().await.expect("JSON");

    server.healthy().await;
    server.sync(&token, "r1", &SyncRequest::default()).await;
    server.shutdown().await;
}

fn base64_of(bytes: &[u8]) -> String {
    serde_json::to_value(Bytes(bytes.to_vec()))
        .expect("encode")
        .as_str()
        .expect("string")
        .to_owned()
}

#[tokio::test]
async fn small_pages_deliver_everything_exactly_once() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    let mut writer = Replica::new("writer");
    let pushes: Vec<PushChange> = (0..40)
        .map(|i| {
            push(
                &format!("journal/j{}", 1 + i % 3),
                &writer.change(&format!("journal/j{}", 1 + i % 3), &format!("k{i}"), "v"),
            )
        })
        .collect();
    let resp = writer.sync(&server, &admin_token, vec![], pushes).await;
    assert_eq!(resp.acked.len(), 40);

    let mut reader = Replica::new("reader");
    reader.page_bytes = Some(200);
    let mut pages = 0;
    loop {
        let resp = server
            .sync(
                &admin_token,
                &reader.id,
                &SyncRequest {
                    cursor: reader.cursor,
                    access: reader.access,
                    page_bytes: reader.page_bytes,
                    ..SyncRequest::default()
                },
            )
            .await;
        pages += 1;
        let bytes: usize = resp.changes.iter().map(|c| c.change.0.len()).sum();
        assert!(
            bytes <= 200 || resp.changes.len() == 1,
            "page of {bytes} bytes"
        );
        for c in &resp.changes {
            reader.received.push((c.doc.clone(), hash_of(&c.change.0)));
        }
        reader.cursor = resp.cursor;
        reader.access = resp.access;
        if !resp.more {
            break;
        }
    }
    assert!(pages > 5, "paged ({pages} pages)");
    let hashes: Vec<&String> = reader.received.iter().map(|(_, h)| h).collect();
    let unique: BTreeSet<&String> = hashes.iter().copied().collect();
    assert_eq!(hashes.len(), 48, "8 seed changes + 40");
    assert_eq!(unique.len(), 48, "no duplicates");
    server.shutdown().await;
}

#[tokio::test]
async fn newly_assigned_journal_arrives_whole() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    // History of j2 the teacher cannot see yet.
    let history: Vec<Vec<u8>> = (0..5)
        .map(|i| admin.change("journal/j2", &format!("h{i}"), "x"))
        .collect();
    admin
        .sync(
            &server,
            &admin_token,
            vec![],
            history.iter().map(|c| push("journal/j2", c)).collect(),
        )
        .await;

    server.user("bob", Role::Teacher, None, Some("E9"));
    let bob_token = server.token("bob").await;
    let mut bob = Replica::new("bob-pc");
    bob.page_bytes = Some(150);
    bob.sync(&server, &bob_token, vec![], vec![]).await;
    assert_eq!(bob.docs(), set(&["catalog/uni"]));
    // The cursor has moved past j2's history (foreign then), so only the access change can
    // bring it.
    assert!(bob.cursor >= 13);

    server.assign(&admin_token, "bob", "journal/j2").await;
    bob.sync(&server, &bob_token, vec![], vec![]).await;
    let j2: BTreeMap<String, usize> = bob.received.iter().filter(|(d, _)| d == "journal/j2").fold(
        BTreeMap::new(),
        |mut m, (_, h)| {
            *m.entry(h.clone()).or_default() += 1;
            m
        },
    );
    assert_eq!(j2.len(), 6, "seed change + 5 history changes: {j2:?}");
    assert!(j2.values().all(|n| *n == 1), "each once: {j2:?}");
    assert!(bob.docs().contains("group/g2") && bob.docs().contains("module/m2"));

    // Nothing more arrives on the next sync.
    let before = bob.received.len();
    let resp = bob.sync(&server, &bob_token, vec![], vec![]).await;
    assert!(resp.changes.is_empty());
    assert_eq!(bob.received.len(), before);
    server.shutdown().await;
}

#[tokio::test]
async fn nothing_changed_sync_returns_nothing() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    let cursor = admin.cursor;
    let access = admin.access;
    let resp = admin.sync(&server, &admin_token, vec![], vec![]).await;
    assert!(resp.changes.is_empty());
    assert!(!resp.more);
    assert_eq!(resp.cursor, cursor);
    assert_eq!(resp.access, access);
    server.shutdown().await;
}

#[tokio::test]
async fn assignments_need_an_admin_and_unknown_teachers_are_pending() {
    let server = start().await;
    let (admin_token, _) = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let ali_token = server.token("ali").await;
    let r = server.assign(&ali_token, "ali", "journal/j2").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let err: ErrorBody = r.json().await.expect("JSON");
    assert_eq!(err.error, ErrorCode::Forbidden);

    let r = server
        .assign(&admin_token, "employee:E404", "journal/j2")
        .await;
    let out: AssignResponse = r.json().await.expect("JSON");
    assert_eq!((out.assigned, out.pending), (0, 1));

    // The pending assignment applies once that teacher exists.
    server.user("new", Role::Teacher, None, Some("E404"));
    let token = server.token("new").await;
    let mut r = Replica::new("new-pc");
    r.sync(&server, &token, vec![], vec![]).await;
    assert!(r.docs().contains("journal/j2"));

    let r = server.assign(&admin_token, "ali", "group/g1").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not a journal");
    server.shutdown().await;
}

#[tokio::test]
async fn teachers_cannot_create_journals_by_naming_themselves() {
    let server = start().await;
    let _ = seed(&server).await;
    server.user("ali", Role::Teacher, None, Some("E1"));
    let token = server.token("ali").await;
    let mut ali = Replica::new("ali-laptop");
    let c = ali.change("journal/new", "x", "1");
    let resp = ali
        .sync(
            &server,
            &token,
            vec![(
                "journal/new".into(),
                meta_journal("group/g2", "module/m2", &["E1"]),
            )],
            vec![push("journal/new", &c)],
        )
        .await;
    assert_eq!(resp.refused.len(), 1);
    assert!(!ali.docs().contains("group/g2"), "no roster leak");
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_and_metrics() {
    let server = start().await;
    let (_, _) = seed(&server).await;
    let h: daftar_protocol::Health = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(h.status, "ok");
    assert_eq!(h.protocol, daftar_protocol::PROTOCOL_VERSION);
    let text = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("daftar_changes_stored_total 8"), "{text}");
    assert!(
        text.contains("route=\"/v1/sync\",method=\"POST\",status=\"200\""),
        "{text}"
    );
    server.shutdown().await;
}

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

/// 4,200 documents (a large faculty-rich university): the readable-set computation after an
/// access change and the nothing-changed sync stay fast, because both are a few SQL joins.
#[test]
fn readable_sets_scale_to_thousands_of_documents() {
    use daftar_sync_server::store::{IncomingChange, PullRequest, PushBatch};
    use std::time::Instant;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&fresh_database_now(dir.path())).expect("open");
    let params = PasswordParams::INSECURE_FAST;
    let spec = |name: &str, role, scope: Option<&str>, employee: Option<&str>| UserSpec {
        name: name.into(),
        role,
        scope: scope.map(Into::into),
        employee: employee.map(Into::into),
        password: "x".into(),
    };
    let admin = add_user(
        store.as_ref(),
        &spec("admin", Role::Admin, None, None),
        &params,
    )
    .expect("admin");
    let dean = add_user(
        store.as_ref(),
        &spec("dean", Role::Dean, Some("F3"), None),
        &params,
    )
    .expect("dean");
    let teacher = add_user(
        store.as_ref(),
        &spec("t", Role::Teacher, None, Some("E7")),
        &params,
    )
    .expect("teacher");

    let actor = b"admin-importer!!".to_vec();
    let mut batch = PushBatch::default();
    let mut add = |doc: String, kind: DocKind, meta: DocMeta| {
        let bytes = change(&doc, &actor, Role::Admin, "id", &doc);
        let inspected = daftar_rules::inspect(&doc, kind, &bytes, &daftar_rules::Limits::default());
        let hash = inspected.as_ref().expect("a valid change").hash;
        batch.changes.push(IncomingChange {
            doc: doc.clone(),
            kind,
            hash,
            bytes,
            inspected,
        });
        batch.metas.push((doc, kind, meta));
    };
    for g in 0..200 {
        add(
            format!("group/g{g}"),
            DocKind::Group,
            meta_group(&format!("F{}", g % 10)),
        );
    }
    for m in 0..400 {
        add(
            format!("module/m{m}"),
            DocKind::Module,
            meta_module(&format!("D{}", m % 40)),
        );
    }
    for j in 0..3600 {
        let teacher = format!("E{}", j % 500);
        add(
            format!("journal/j{j}"),
            DocKind::Journal,
            meta_journal(
                &format!("group/g{}", j % 200),
                &format!("module/m{}", j % 400),
                &[&teacher],
            ),
        );
    }
    let t = Instant::now();
    let out = store.push(&admin, &batch, 1).expect("push");
    assert_eq!(out.stored, 4200);
    let push_time = t.elapsed();

    let pull = |user: &daftar_sync_server::User, replica: &str, cursor: u64, access: u64| {
        let t = Instant::now();
        let mut changes = 0;
        let (mut cursor, mut access) = (cursor, access);
        loop {
            let page = store
                .pull(
                    user,
                    &PullRequest {
                        replica: replica.into(),
                        cursor,
                        access,
                        budget: 1 << 20,
                        skip: Default::default(),
                        snapshots: false,
                        acknowledges: false,
                        ack: None,
                    },
                    2,
                )
                .expect("pull");
            changes += page.changes.len();
            cursor = page.cursor;
            access = page.access;
            if !page.more {
                break;
            }
        }
        (changes, cursor, access, t.elapsed())
    };
    // Dean of F3: 20 groups, the 360 journals of those groups, their modules.
    let (n, cursor, access, first) = pull(&dean, "dean-pc", 0, 0);
    assert_eq!(n, 20 + 360 + 40);
    // Access changes (an assignment elsewhere): readable set recomputed, nothing new to send.
    store
        .assign(
            &[(
                daftar_sync_server::TeacherRef::User("t".into()),
                "journal/j1".into(),
            )],
            2,
        )
        .expect("assign");
    let (n2, _, _, recompute) = pull(&dean, "dean-pc", cursor, access);
    assert_eq!(n2, 0);
    let access = store.access_version().expect("access");
    let (n3, _, _, idle) = pull(&dean, "dean-pc", cursor, access);
    assert_eq!(n3, 0);
    // Teacher E7: journals 7, 507, …, 3507 (8) plus the assigned j1; groups g7, g107, g1;
    // modules m7, m107, m207, m307, m1.
    let (t_n, _, _, teacher_time) = pull(&teacher, "t-pc", 0, 0);
    assert_eq!(t_n, 9 + 3 + 5);
    eprintln!(
        "push 4200 docs: {push_time:?}; dean first pull: {first:?}; after access change: \
         {recompute:?}; idle: {idle:?}; teacher first pull: {teacher_time:?}"
    );
    assert!(recompute < Duration::from_secs(2), "{recompute:?}");
    assert!(idle < Duration::from_millis(200), "{idle:?}");
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

/// A journal that leaves the dean's faculty and comes back arrives whole again, including the
/// changes made while the dean could not see it (the cursor moved past them meanwhile).
#[tokio::test]
async fn journal_moved_out_and_back_arrives_whole_again() {
    let server = start().await;
    let (admin_token, mut admin) = seed(&server).await;
    server.user("dean1", Role::Dean, Some("F1"), None);
    let dean_token = server.token("dean1").await;
    let mut dean = Replica::new("dean-pc");
    dean.sync(&server, &dean_token, vec![], vec![]).await;
    assert!(dean.docs().contains("journal/j1"));

    let moved = meta_journal("group/g2", "module/m1", &["E1"]);
    admin
        .sync(
            &server,
            &admin_token,
            vec![("journal/j1".into(), moved)],
            vec![],
        )
        .await;
    let hidden = admin.change("journal/j1", "while-away", "1");
    admin
        .sync(
            &server,
            &admin_token,
            vec![],
            vec![push("journal/j1", &hidden)],
        )
        .await;
    dean.sync(&server, &dean_token, vec![], vec![]).await;
    assert!(
        !dean.received.iter().any(|(_, h)| *h == hash_of(&hidden)),
        "not readable while in F2"
    );

    let back = meta_journal("group/g1", "module/m1", &["E1"]);
    admin
        .sync(
            &server,
            &admin_token,
            vec![("journal/j1".into(), back)],
            vec![],
        )
        .await;
    dean.sync(&server, &dean_token, vec![], vec![]).await;
    assert!(
        dean.received.iter().any(|(_, h)| *h == hash_of(&hidden)),
        "the change made while away arrives"
    );
    server.shutdown().await;
}

/// A request over the timeout gets a JSON 503, and the server keeps serving. Sign-in with
/// the production argon2 parameters takes far longer than the 5 ms allowed here.
#[tokio::test]
async fn slow_requests_time_out_with_a_json_error() {
    let server = start_with(Config {
        request_timeout: Duration::from_millis(5),
        password: PasswordParams::default(),
        ..test_config()
    })
    .await;
    server.user("ali", Role::Teacher, None, None);
    let r = server.login_raw("ali", "pw-ali").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let err: ErrorBody = r.json().await.expect("JSON");
    assert_eq!(err.error, ErrorCode::Internal);
    assert!(err.error.is_retryable());
    server.shutdown().await;
}

/// Guesses sent in parallel are counted before their passwords are checked, so no more than
/// the limit are ever verified.
#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_limit() {
    let server = start().await;
    server.user("ali", Role::Teacher, None, None);
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url) = (server.http.clone(), format!("{}/v1/sessions", server.url));
        guesses.spawn(async move {
            http.post(url)
                .json(&LoginRequest {
                    user: "ali".into(),
                    password: "guess".into(),
                })
                .send()
                .await
                .expect("send")
                .status()
        });
    }
    let statuses: Vec<StatusCode> = guesses.join_all().await;
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(verified, 5, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS)
    );
    server.shutdown().await;
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

/// Posts `body` to /v1/sync zstd-compressed, asking for a zstd answer.
async fn sync_zstd(
    server: &Server,
    token: &str,
    replica: &str,
    body: Vec<u8>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let r = server
        .http
        .post(format!("{}/v1/sync", server.url))
        .bearer_auth(token)
        .header(REPLICA_HEADER, replica)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .header("accept-encoding", "zstd")
        .body(body)
        .send()
        .await
        .expect("send");
    let status = r.status();
    let encoding = r
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().expect("ascii").to_string());
    let bytes = r.bytes().await.expect("body").to_vec();
    let plain = if encoding.as_deref() == Some("zstd") {
        zstd::decode_all(&bytes[..]).expect("a zstd answer")
    } else {
        bytes
    };
    (status, encoding, plain)
}

#[tokio::test]
async fn zstd_bodies_go_both_ways_and_acks_can_be_one_flag() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let (_, changes) = chain("group/g9", b"admin-pc-zstd-01", 40);
    let request = |from: usize, to: usize, compact_acks: bool| SyncRequest {
        docs: vec![("group/g9".into(), meta_group("F9"))],
        push: changes[from..to]
            .iter()
            .map(|c| push("group/g9", c))
            .collect(),
        compact_acks,
        ..SyncRequest::default()
    };
    let json = serde_json::to_vec(&request(0, 30, false)).expect("json");
    let body = zstd::encode_all(&json[..], 3).expect("compress");
    assert!(body.len() < json.len() / 2, "the push compresses");
    let (status, encoding, plain) = sync_zstd(&server, &token, "admin-pc", body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&plain)
    );
    assert_eq!(
        encoding.as_deref(),
        Some("zstd"),
        "the answer is compressed"
    );
    let resp: SyncResponse = serde_json::from_slice(&plain).expect("response");
    assert_eq!(resp.acked.len(), 30, "an older client gets every hash");
    assert!(!resp.acked_all);

    // A client that understands one flag gets the flag instead of 10 hashes.
    let json = serde_json::to_vec(&request(30, 40, true)).expect("json");
    let (status, _, plain) = sync_zstd(
        &server,
        &token,
        "admin-pc",
        zstd::encode_all(&json[..], 3).expect("z"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let resp: SyncResponse = serde_json::from_slice(&plain).expect("response");
    assert!(resp.acked_all);
    assert!(resp.acked.is_empty());
    assert_eq!(
        server
            .state
            .metrics()
            .changes_stored
            .load(std::sync::atomic::Ordering::Relaxed),
        40,
        "all 40 stored"
    );

    // Small answers and clients that do not ask stay uncompressed.
    let r = server
        .sync_raw(&token, "admin-pc", &SyncRequest::default())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn damaged_huge_or_unknown_encodings_are_refused_in_json() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, ErrorCode)> = vec![
        (
            "zstd",
            b"this is not zstd".to_vec(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "zstd",
            // 9 MiB of spaces: a few hundred bytes compressed, over the limit decompressed.
            zstd::encode_all(&vec![b' '; 9 * 1024 * 1024][..], 3).expect("bomb"),
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
        ),
        (
            "br",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
    ];
    for (encoding, body, status, code) in cases {
        let r = server
            .http
            .post(format!("{}/v1/sync", server.url))
            .bearer_auth(&token)
            .header(REPLICA_HEADER, "admin-pc")
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), status, "{encoding}");
        let err: ErrorBody = r.json().await.expect("a JSON error body");
        assert_eq!(err.error, code, "{encoding}: {}", err.message);
    }
    server.healthy().await;
    assert_eq!(
        server
            .state
            .metrics()
            .changes_stored
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn newly_readable_documents_arrive_as_one_snapshot() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    server.user("dean1", Role::Dean, Some("F1"), None);
    let admin = server.token("admin").await;
    let dean = server.token("dean1").await;
    let (mut doc, changes) = chain("group/g1", b"admin-pc-snap-01", 120);
    let push_range = |from: usize, to: usize| SyncRequest {
        docs: vec![("group/g1".into(), meta_group("F1"))],
        push: changes[from..to]
            .iter()
            .map(|c| push("group/g1", c))
            .collect(),
        ..SyncRequest::default()
    };
    server.sync(&admin, "admin-pc", &push_range(0, 40)).await;
    // The push queued a background snapshot build.
    for _ in 0..500 {
        if server.state.snapshots_idle() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(server.state.snapshots_idle());
    let built = || {
        server
            .state
            .metrics()
            .snapshots_built
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(built(), 1, "built in the background after the push");
    // Heads after the first 40 changes.
    let heads_at = |n: usize| {
        let mut d = AutoCommit::new();
        d.apply_changes(
            changes[..n]
                .iter()
                .map(|c| automerge::Change::from_bytes(c.clone()).expect("change")),
        )
        .expect("apply");
        d.get_heads()
    };

    // Pulls everything for a fresh replica; returns (snapshots, changes, rebuilt heads).
    let fresh = |replica: &'static str, snapshots: bool| {
        let server = &server;
        let dean = dean.clone();
        async move {
            let resp = server
                .sync(
                    &dean,
                    replica,
                    &SyncRequest {
                        snapshots,
                        ..SyncRequest::default()
                    },
                )
                .await;
            assert!(!resp.more);
            let mut d = AutoCommit::new();
            let (mut snaps, mut plain) = (Vec::new(), 0);
            for c in &resp.changes {
                assert_eq!(c.doc, "group/g1");
                if c.snapshot {
                    snaps.push(c.seq);
                    d.load_incremental(&c.change.0).expect("a saved document");
                } else {
                    plain += 1;
                    d.apply_changes([
                        automerge::Change::from_bytes(c.change.0.clone()).expect("a change")
                    ])
                    .expect("apply");
                }
            }
            (snaps, plain, d.get_heads(), resp.cursor)
        }
    };

    let (snaps, plain, heads, cursor) = fresh("dean-a", true).await;
    assert_eq!((snaps.len(), plain), (1, 0), "one snapshot, no changes");
    assert_eq!(
        snaps[0], cursor,
        "the snapshot holds every change up to the cursor"
    );
    assert_eq!(heads, heads_at(40));

    // An older client (no snapshots) still gets every change.
    let (snaps, plain, heads, _) = fresh("dean-b", false).await;
    assert_eq!((snaps.len(), plain), (0, 40));
    assert_eq!(heads, heads_at(40));

    // A few more changes: the cached snapshot goes out with the changes after it.
    server.sync(&admin, "admin-pc", &push_range(40, 45)).await;
    let (snaps, plain, heads, _) = fresh("dean-c", true).await;
    assert_eq!((snaps.len(), plain), (1, 5));
    assert_eq!(heads, heads_at(45));

    // Many more: the snapshot is rebuilt to hold them all.
    server.sync(&admin, "admin-pc", &push_range(45, 120)).await;
    let (snaps, plain, heads, cursor) = fresh("dean-d", true).await;
    assert_eq!((snaps.len(), plain), (1, 0));
    assert_eq!(snaps[0], cursor);
    assert_eq!(heads, doc.get_heads());
    server.shutdown().await;
}

/// The pull cursor follows commit order across instances (PostgreSQL): instance A stores a
/// change and holds its transaction open; instance B stores one after it and commits first; a
/// replica pulls in between. With the push lock, B waits for A and the replica gets both. The
/// same run without the lock shows the failure the lock prevents: the replica's cursor passes
/// A's change before it is visible, and the change is never sent.
#[test]
fn no_pull_steps_past_a_change_another_instance_commits_later() {
    use daftar_sync_server::PostgresStore;
    use daftar_sync_server::store::postgres::TestKnobs;
    use daftar_sync_server::store::{IncomingChange, PullRequest, PushBatch, Store as _};
    use std::sync::Arc;
    if !on_postgres() {
        eprintln!("(runs on PostgreSQL only: DAFTAR_TEST_BACKEND=postgres)");
        return;
    }
    let run = |with_lock: bool| -> (usize, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let DatabaseUrl::Postgres(url) = fresh_database_now(dir.path()) else {
            unreachable!("a PostgreSQL run")
        };
        let a = Arc::new(PostgresStore::connect(&url, 4).expect("instance A"));
        let b = Arc::new(PostgresStore::connect(&url, 4).expect("instance B"));
        let params = PasswordParams::INSECURE_FAST;
        let admin = add_user(
            a.as_ref(),
            &UserSpec {
                name: "admin".into(),
                role: Role::Admin,
                scope: None,
                employee: None,
                password: "x".into(),
            },
            &params,
        )
        .expect("admin");
        // B's push is another administrator's (two users' pushes share no row).
        let admin2 = add_user(
            a.as_ref(),
            &UserSpec {
                name: "admin2".into(),
                role: Role::Admin,
                scope: None,
                employee: None,
                password: "x".into(),
            },
            &params,
        )
        .expect("admin2");
        let batch = |doc: &str, actor: &[u8], with_meta: bool| {
            let bytes = change(doc, actor, Role::Admin, "id", doc);
            let inspected = daftar_rules::inspect(
                doc,
                DocKind::Group,
                &bytes,
                &daftar_rules::Limits::default(),
            );
            let hash = inspected.as_ref().expect("a valid change").hash;
            PushBatch {
                metas: if with_meta {
                    vec![(doc.to_owned(), DocKind::Group, meta_group("F1"))]
                } else {
                    Vec::new()
                },
                changes: vec![IncomingChange {
                    doc: doc.to_owned(),
                    kind: DocKind::Group,
                    hash,
                    bytes,
                    inspected,
                }],
                daily_bytes: 0,
                materials: Default::default(),
            }
        };
        // Both documents exist first, so the racing pushes change no readable set (which would
        // send whole documents again and hide a skipped change).
        a.push(&admin, &batch("group/slow", b"setup-actor-0001", true), 1)
            .expect("setup");
        a.push(&admin, &batch("group/fast", b"setup-actor-0002", true), 1)
            .expect("setup");
        let knobs = TestKnobs {
            hold_push_before_commit: Duration::from_millis(1500),
            push_without_lock: !with_lock,
        };
        a.set_test_knobs(knobs);
        b.set_test_knobs(TestKnobs {
            push_without_lock: !with_lock,
            ..TestKnobs::default()
        });
        let pull = |store: &PostgresStore, cursor: u64, access: u64| {
            store
                .pull(
                    &admin,
                    &PullRequest {
                        replica: "dean-office".into(),
                        cursor,
                        access,
                        budget: 1 << 20,
                        skip: Default::default(),
                        snapshots: false,
                        acknowledges: false,
                        ack: None,
                    },
                    3,
                )
                .expect("pull")
        };
        let mut first = pull(&b, 0, 0);
        while first.more {
            first = pull(&b, first.cursor, first.access);
        }
        let (mut cursor, mut access) = (first.cursor, first.access);
        let slow = {
            let a = Arc::clone(&a);
            let admin = admin.clone();
            let batch = batch("group/slow", b"instance-a-actor", false);
            std::thread::spawn(move || a.push(&admin, &batch, 1).expect("A pushes"))
        };
        std::thread::sleep(Duration::from_millis(300));
        let fast = {
            let b = Arc::clone(&b);
            let admin2 = admin2.clone();
            let batch = batch("group/fast", b"instance-b-actor", false);
            std::thread::spawn(move || b.push(&admin2, &batch, 2).expect("B pushes"))
        };
        // The replica keeps pulling through B while both pushes are under way.
        let mut got: BTreeSet<Vec<u8>> = BTreeSet::new();
        let until = std::time::Instant::now() + Duration::from_secs(4);
        while std::time::Instant::now() < until {
            let page = pull(&b, cursor, access);
            got.extend(page.changes.iter().map(|c| c.bytes.clone()));
            cursor = page.cursor;
            access = page.access;
            std::thread::sleep(Duration::from_millis(50));
        }
        slow.join().expect("A");
        fast.join().expect("B");
        let stored = pull(&a, 0, 0).changes.len() - 2;
        a.set_test_knobs(TestKnobs::default());
        (got.len(), stored)
    };
    assert_eq!(
        run(true),
        (2, 2),
        "with the lock the replica gets both changes"
    );
    let (got, stored) = run(false);
    assert_eq!(stored, 2);
    assert_eq!(
        got, 1,
        "without the lock the later commit of the lower seq is skipped (the test can fail)"
    );
}

/// Live updates: a dean's office waiting on one instance learns of a teacher's mark pushed
/// through another (PostgreSQL `NOTIFY`; the same instance on SQLite) within a second, 50 times
/// over; a dean of another faculty is not woken; waits per user are bounded; shutdown answers
/// a waiting request at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_reach_a_waiting_dean_within_a_second() {
    let a = start().await;
    let b = if on_postgres() {
        Some(start_on(test_config(), Some(a.database.clone())).await)
    } else {
        None
    };
    let watch = b.as_ref().unwrap_or(&a);
    let (_admin_token, _) = seed(&a).await;
    a.user("ali", Role::Teacher, None, Some("E1"));
    a.user("dekanat", Role::Dean, Some("F1"), None);
    a.user("dekanat2", Role::Dean, Some("F2"), None);
    let ali_token = a.token("ali").await;
    let dean_token = watch.token("dekanat").await;
    let mut ali = Replica::new("ali-laptop");
    ali.sync(&a, &ali_token, vec![], vec![]).await;
    let mut dean = Replica::new("dean-office");
    dean.sync(watch, &dean_token, vec![], vec![]).await;

    let mut latencies = Vec::new();
    for i in 0..50 {
        let (cursor, access) = (dean.cursor, dean.access);
        let waiter = {
            let url = watch.url.clone();
            let token = dean_token.clone();
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .get(format!(
                        "{url}{}?after={cursor}&access={access}&wait=20",
                        daftar_protocol::LIVE_PATH
                    ))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("live");
                let answered = std::time::Instant::now();
                let body: daftar_protocol::LiveResponse = r.json().await.expect("body");
                (body.changed, answered)
            })
        };
        tokio::time::sleep(Duration::from_millis(60)).await;
        let mark = ali.change("journal/j1", &format!("lesson-{i}"), "present");
        let pushed = std::time::Instant::now();
        ali.sync(&a, &ali_token, vec![], vec![push("journal/j1", &mark)])
            .await;
        let (changed, answered) = waiter.await.expect("waiter");
        assert!(changed, "try {i}: the wait ends with news");
        latencies.push(answered.saturating_duration_since(pushed));
        dean.sync(watch, &dean_token, vec![], vec![]).await;
        assert!(dean.received.iter().any(|(_, h)| *h == hash_of(&mark)));
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "live updates ({}): p50 {p50:?}, p99 {p99:?}, max {:?} over {} tries",
        if on_postgres() {
            "PostgreSQL, two instances"
        } else {
            "SQLite, one instance"
        },
        latencies.last().expect("tries"),
        latencies.len()
    );
    assert!(p99 <= Duration::from_secs(1), "p99 {p99:?}");

    // A dean of another faculty is not woken by marks they may not read.
    let other_token = watch.token("dekanat2").await;
    let mut other = Replica::new("other-office");
    other.sync(watch, &other_token, vec![], vec![]).await;
    let waiter = {
        let url = watch.url.clone();
        let (cursor, access) = (other.cursor, other.access);
        tokio::spawn(async move {
            reqwest::Client::new()
                .get(format!(
                    "{url}{}?after={cursor}&access={access}&wait=2",
                    daftar_protocol::LIVE_PATH
                ))
                .bearer_auth(other_token)
                .send()
                .await
                .expect("live")
                .json::<daftar_protocol::LiveResponse>()
                .await
                .expect("body")
        })
    };
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mark = ali.change("journal/j1", "lesson-other", "present");
    ali.sync(&a, &ali_token, vec![], vec![push("journal/j1", &mark)])
        .await;
    assert!(
        !waiter.await.expect("waiter").changed,
        "nothing readable for F2"
    );

    // Bounded: a fifth wait of the same user is refused while four are held.
    let mut held = Vec::new();
    for _ in 0..4 {
        let url = watch.url.clone();
        let token = dean_token.clone();
        let (cursor, access) = (dean.cursor + 1_000_000, dean.access);
        held.push(tokio::spawn(async move {
            reqwest::Client::new()
                .get(format!(
                    "{url}{}?after={cursor}&access={access}&wait=20",
                    daftar_protocol::LIVE_PATH
                ))
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = watch
        .live(&dean_token, dean.cursor + 1_000_000, dean.access, 20)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // Shutdown answers the held waits at once.
    let stopping = std::time::Instant::now();
    if let Some(b) = b {
        b.shutdown().await;
    }
    a.shutdown().await;
    for h in held {
        let _ = h.await;
    }
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "shutdown took {:?} with waits held",
        stopping.elapsed()
    );
}

/// With `metrics_listen`, `/metrics` leaves the public address (404 there) and is served on
/// the private one only.
#[tokio::test]
async fn metrics_can_leave_the_public_interface() {
    use tower::ServiceExt as _;
    let server = start_with(Config {
        metrics_listen: Some("127.0.0.1:9".parse().expect("addr")),
        ..test_config()
    })
    .await;
    let r = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let private = daftar_sync_server::metrics_router(server.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("metrics");
    assert_eq!(private.status(), StatusCode::OK);
    server.shutdown().await;
}

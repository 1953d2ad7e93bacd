//! `daftar import hemis --url` against a local HEMIS: a small axum server on 127.0.0.1 that
//! serves the fixture's items as HEMIS's REST API does (`/rest/v1/data/<endpoint>`, paged by
//! `limit` and `page`, a bearer token, 404 for an endpoint it lacks), and fails one page with
//! a 503 the client must retry. The import through the API gives what the import of the
//! folder gives; `--save-to` keeps the pages without personal data; a wrong token is a clear
//! error; a malformed page refuses the whole import with nothing written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hemis");
const TOKEN: &str = "hemis-test-token";
/// The local HEMIS pages by at most this many items, so every endpoint has several pages.
const MAX_PAGE: usize = 3;

#[derive(Default)]
struct Hemis {
    /// Endpoint → every item of the fixture's pages.
    items: HashMap<String, Vec<Value>>,
    /// Requests answered, and 503s sent.
    requests: AtomicU32,
    failures: AtomicU32,
    /// Serve `schedule-list` page 2 with a broken item.
    broken: bool,
}

fn load_fixture() -> HashMap<String, Vec<Value>> {
    let mut items: HashMap<String, Vec<Value>> = HashMap::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(FIXTURE)
        .expect("fixture")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    for path in names {
        let stem = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        // `student-list-2` is page 2 of `student-list`.
        let endpoint = match stem.rsplit_once('-') {
            Some((base, n)) if n.parse::<u32>().is_ok() => base.to_string(),
            _ => stem,
        };
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
            .expect("fixture JSON");
        items
            .entry(endpoint)
            .or_default()
            .extend(v["data"]["items"].as_array().cloned().unwrap_or_default());
    }
    items
}

async fn data(
    State(h): State<Arc<Hemis>>,
    UrlPath(endpoint): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    h.requests.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"success": false, "error": "Unauthorized"})),
        )
            .into_response();
    }
    let Some(all) = h.items.get(&endpoint) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"success": false, "error": "Not found"})),
        )
            .into_response();
    };
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .clamp(1, MAX_PAGE);
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    // One page fails once: the client retries it.
    if endpoint == "student-list" && page == 2 && h.failures.fetch_add(1, Ordering::SeqCst) == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    let page_count = all.len().div_ceil(limit).max(1);
    let mut items: Vec<Value> = all
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .cloned()
        .collect();
    if h.broken && endpoint == "schedule-list" && page == 2 {
        items[0]["group"] = json!("nobody");
    }
    axum::Json(json!({
        "success": true,
        "error": null,
        "data": {
            "items": items,
            "pagination": {"totalCount": all.len(), "pageSize": limit, "pageCount": page_count, "page": page}
        },
        "code": 200
    }))
    .into_response()
}

/// A local HEMIS on its own thread; answers its base URL and the shared state.
fn start(broken: bool) -> (String, Arc<Hemis>) {
    let state = Arc::new(Hemis {
        items: load_fixture(),
        broken,
        ..Hemis::default()
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let shared = state.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/rest/v1/data/{endpoint}", axum::routing::get(data))
                .with_state(shared);
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    (format!("http://{addr}/rest/v1"), state)
}

fn daftar(dir: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut c = Command::new(daftar_tests::bin_dir().join("daftar"));
    c.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("HEMIS_TOKEN");
    if let Some(t) = token {
        c.env("HEMIS_TOKEN", t);
    }
    c.output().expect("daftar runs")
}

fn ok_json(dir: &Path, args: &[&str], token: Option<&str>) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = daftar(dir, &all, token);
    assert!(
        out.status.success(),
        "daftar {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Every journal as `show` prints it, by id.
fn journals(dir: &Path) -> Vec<Value> {
    let list = ok_json(dir, &["journals"], None);
    list.as_array()
        .expect("journals")
        .iter()
        .map(|j| ok_json(dir, &["show", j["id"].as_str().expect("id")], None))
        .collect()
}

#[test]
fn the_api_import_gives_what_the_folder_gives_and_keeps_no_personal_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (url, hemis) = start(false);
    let from_files = tmp.path().join("files");
    ok_json(&from_files, &["init", "--university", "tatu"], None);
    let a = ok_json(&from_files, &["import", "hemis", FIXTURE], None);
    let from_api = tmp.path().join("api");
    ok_json(&from_api, &["init", "--university", "tatu"], None);
    let saved = tmp.path().join("saved");
    // A page an earlier fetch left in the kept folder is not part of this one.
    std::fs::create_dir_all(&saved).expect("mkdir");
    std::fs::write(saved.join("student-list-9.json"), "{ stale").expect("stale page");
    let b = ok_json(
        &from_api,
        &[
            "import",
            "hemis",
            "--url",
            &url,
            "--save-to",
            saved.to_str().expect("path"),
            "--page-size",
            "3",
        ],
        Some(TOKEN),
    );
    for k in [
        "groups", "students", "teachers", "modules", "journals", "lessons", "absences",
    ] {
        assert_eq!(a[k], b[k], "{k}: {a} vs {b}");
    }
    assert_eq!(
        journals(&from_files),
        journals(&from_api),
        "the same journals, marks and scores"
    );
    assert!(
        hemis.failures.load(Ordering::SeqCst) >= 2,
        "the 503 was sent and the page asked again"
    );
    assert!(
        !saved.join("student-list-9.json").exists(),
        "the stale page is gone"
    );
    // Several pages per endpoint were asked for and kept.
    assert!(
        saved.join("schedule-list-5.json").exists(),
        "13 lessons in pages of 3"
    );
    let mut text = String::new();
    for e in std::fs::read_dir(&saved).expect("saved") {
        text.push_str(&std::fs::read_to_string(e.expect("entry").path()).expect("read"));
    }
    for secret in ["passport", "AA12345", "Chilonzor", "+99890", "birth_date"] {
        assert!(!text.contains(secret), "{secret} was saved");
    }
    // `show` speaks as HEMIS does: 7-semestr (code 17), the credit-module borders for the
    // credit curriculum's group, the sub-controls.
    let show = |journal: &str| {
        let out = daftar(&from_api, &["show", journal], None);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rating = show("g412-s301-17");
    assert!(rating.contains("(7-semestr)"), "{rating}");
    assert!(
        rating.contains("100-point rating: a 5 from 86, a 4 from 71, a 3 from 55; admitted to YN at 55 % of JN + ON"),
        "{rating}"
    );
    assert!(
        rating.contains("Controls: 1-JN 20, 2-JN 20, 1-ON 15, 2-ON 15, YN 30 (3 sittings)"),
        "{rating}"
    );
    assert!(
        rating.contains("pair 1 (08:30–09:50)"),
        "the pairs' times from lesson-pair-list: {rating}"
    );
    let credit = show("g413-s301-17");
    assert!(
        credit.contains("credit-module: a 5 from 90, a 4 from 70, a 3 from 60; admitted to YN at 60 % of JN + ON"),
        "{credit}"
    );
    // The saved folder imports offline to the same result (a field campus, by USB).
    let offline = tmp.path().join("offline");
    ok_json(&offline, &["init", "--university", "tatu"], None);
    ok_json(
        &offline,
        &["import", "hemis", saved.to_str().expect("path")],
        None,
    );
    assert_eq!(journals(&offline), journals(&from_api));
}

#[test]
fn a_wrong_token_or_a_malformed_page_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (url, _) = start(false);
    let dir = tmp.path().join("r");
    ok_json(&dir, &["init", "--university", "tatu"], None);
    let out = daftar(&dir, &["import", "hemis", "--url", &url], Some("wrong"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the token (401)"), "{err}");
    let out = daftar(&dir, &["import", "hemis", "--url", &url], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HEMIS_TOKEN"));

    let (broken, _) = start(true);
    let out = daftar(
        &dir,
        &["import", "hemis", "--url", &broken, "--page-size", "3"],
        Some(TOKEN),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schedule-list-2.json") && err.contains("item 1"),
        "{err}"
    );
    assert_eq!(
        ok_json(&dir, &["journals"], None),
        json!([]),
        "nothing was written"
    );
    let status = ok_json(&dir, &["status"], None);
    assert_eq!(status["waiting"], 0, "{status}");
}

/// A reply cut in transit is asked again, not taken for a bad page; a fetch that stops early
/// leaves its folder marked, and that folder is refused by an import rather than read half.
#[test]
fn a_cut_reply_is_asked_again_and_an_unfinished_fetch_is_never_imported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (url, _) = start(false);
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the local HEMIS's port");
    let proxy = daftar_tests::FaultProxy::start(port).expect("proxy");
    let through = format!("{}/rest/v1", proxy.url());
    // The first reply is cut after its headers and a few bytes of the page.
    proxy.cut_next_reply(300);
    let cut = tmp.path().join("cut");
    ok_json(&cut, &["init", "--university", "tatu"], None);
    ok_json(&cut, &["import", "hemis", "--url", &through], Some(TOKEN));
    let folder = tmp.path().join("folder");
    ok_json(&folder, &["init", "--university", "tatu"], None);
    ok_json(&folder, &["import", "hemis", FIXTURE], None);
    assert_eq!(
        journals(&cut),
        journals(&folder),
        "the cut page was fetched again"
    );

    // A fetch refused half-way (the token) leaves a marked folder; importing it is refused.
    let saved = tmp.path().join("saved");
    let dir = tmp.path().join("r");
    ok_json(&dir, &["init", "--university", "tatu"], None);
    let out = daftar(
        &dir,
        &[
            "import",
            "hemis",
            "--url",
            &url,
            "--save-to",
            saved.to_str().expect("path"),
        ],
        Some("wrong"),
    );
    assert!(!out.status.success());
    let out = daftar(
        &dir,
        &["import", "hemis", saved.to_str().expect("path")],
        None,
    );
    assert!(!out.status.success(), "an unfinished fetch was imported");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not finish"), "{err}");
    assert_eq!(ok_json(&dir, &["journals"], None), json!([]));
}

//! The background sync loop against the real server: it notices the outage, keeps the edits,
//! goes back online by itself when the server returns, and sends an edit shortly after it is
//! made, and (live updates) takes another device's edit within seconds while its periodic sync
//! is ten minutes away, all without a click.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daftar_client::background::{self, LoopConfig, SyncStatus};
use daftar_client::transport::Transport;
use daftar_core::Replica;
use daftar_core::journal::MarkInput;
use daftar_core::model::Attendance;
use daftar_tests::{Client, Server};

fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<SyncStatus>,
    what: &str,
    ok: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = rx.borrow().clone();
        if ok(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last status {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn loop_goes_offline_keeps_edits_and_recovers_without_a_click() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(tmp.path()).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    let mut admin = Client::new(tmp.path().join("admin"));
    admin.ok(&["init", "--university", "demo"]);
    admin.ok(&["demo", "--tier", "XS", "--seed", "4"]);
    admin.login(&server, "admin", "admin-pw");
    let device = admin.device();
    let token = admin.session_token(&server, "admin");
    server.stop();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let replica = Arc::new(Mutex::new(
        Replica::open(&admin.dir.join("replica.db")).expect("replica"),
    ));
    let transport = Transport::new(&server.url(), &device, Some(token)).expect("transport");
    let config = LoopConfig {
        debounce: Duration::from_millis(200),
        periodic: Duration::from_secs(600),
        min_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(60),
        probe: Duration::from_millis(200),
        live_wait: Some(Duration::from_secs(20)),
        periodic_with_live: Duration::from_secs(600),
    };
    let handle = runtime.block_on(async { background::spawn(replica.clone(), transport, config) });
    let mut rx = handle.subscribe();

    let s = wait_for(&mut rx, "offline", |s| {
        !s.running && s.last_error_kind == Some(daftar_client::ErrorKind::Offline)
    });
    assert!(!s.online);
    assert!(s.waiting > 100, "the demo's changes wait: {}", s.waiting);
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("saved on this computer"))
    );

    // The server returns: the loop finds out by itself (no nudge, no click).
    server.restart().expect("restart");
    let s = wait_for(&mut rx, "synced", |s| {
        s.online && !s.running && s.waiting == 0
    });
    assert!(s.last_success.is_some());
    assert_eq!(s.last_error, None);

    // A local edit goes up shortly after it is made.
    {
        let mut r = replica.lock().expect("lock");
        let journal = r
            .resolve_journal(&r.journals().expect("journals")[0].id)
            .expect("journal");
        let view = r.journal_view(&journal).expect("view");
        r.mark(
            &journal,
            &view.lessons[30].id,
            &view.students[0].id,
            MarkInput {
                status: Attendance::Late,
                grade: None,
                note: None,
                hours: None,
            },
        )
        .expect("mark");
    }
    let synced_at = s.last_success;
    handle.nudge();
    wait_for(&mut rx, "edit sent", |s| {
        s.last_success > synced_at && s.waiting == 0 && !s.running && s.online
    });
    let (journal, lesson, student) = {
        let r = replica.lock().expect("lock");
        assert_eq!(r.waiting().expect("waiting"), 0);
        let journal = r
            .resolve_journal(&r.journals().expect("journals")[0].id)
            .expect("journal");
        let view = r.journal_view(&journal).expect("view");
        (
            journal,
            view.lessons[31].id.clone(),
            view.students[1].id.clone(),
        )
    };

    // Another device of the same office marks a lesson: the loop, ten minutes from its next
    // periodic sync, takes it within seconds because the server tells it (live updates).
    let mut other = Client::new(tmp.path().join("office-2"));
    other.ok(&["init", "--university", "demo"]);
    other.login(&server, "admin", "admin-pw");
    other.sync();
    let marked = Instant::now();
    other.ok(&["mark", &journal, &lesson, &student, "nb", "--note", "live"]);
    other.sync();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = {
            let r = replica.lock().expect("lock");
            r.journal_view(&journal)
                .expect("view")
                .cells
                .iter()
                .any(|c| {
                    c.lesson == lesson && c.student == student && c.note.as_deref() == Some("live")
                })
        };
        if seen {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the other device's mark did not arrive by live update"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "another device's mark arrived {:?} after its sync began",
        marked.elapsed()
    );
    handle.stop();
}

/// A front that forwards every request to the real server but answers each live-update wait
/// with a server error (a broken NOTIFY, a proxy in the way), counting the syncs it passes.
async fn failing_live_front(upstream: String, syncs: Arc<std::sync::atomic::AtomicUsize>) -> u16 {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use axum::response::{IntoResponse, Response};
    let client = reqwest::Client::new();
    let app = axum::Router::new()
        .route(
            daftar_protocol::LIVE_PATH,
            axum::routing::get(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(serde_json::json!({"error": "internal", "message": "broken"})),
                )
            }),
        )
        .fallback(move |req: Request<Body>| {
            let (client, upstream, syncs) = (client.clone(), upstream.clone(), syncs.clone());
            async move {
                if req.uri().path() == "/v1/sync" {
                    syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let url = format!("{upstream}{}", req.uri());
                let method = req.method().clone();
                let headers = req.headers().clone();
                let body = to_bytes(req.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default();
                let mut forward = client.request(method, url).body(body);
                for (k, v) in &headers {
                    if k != "host" {
                        forward = forward.header(k, v);
                    }
                }
                match forward.send().await {
                    Ok(r) => {
                        let status = r.status();
                        let headers = r.headers().clone();
                        let bytes = r.bytes().await.unwrap_or_default();
                        let mut out = Response::new(Body::from(bytes));
                        *out.status_mut() = status;
                        for (k, v) in &headers {
                            if k != "transfer-encoding" && k != "content-length" {
                                out.headers_mut().insert(k, v.clone());
                            }
                        }
                        out
                    }
                    Err(_) => StatusCode::BAD_GATEWAY.into_response(),
                }
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// Live waits that keep failing while syncs work must not turn into a sync a second: the
/// waits back off on their own and rest after a few failures in a row, while the loop stays
/// online and keeps the last sync's success.
#[test]
fn failing_live_waits_back_off_instead_of_syncing_every_second() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(tmp.path()).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    let mut admin = Client::new(tmp.path().join("admin"));
    admin.ok(&["init", "--university", "demo"]);
    admin.login(&server, "admin", "admin-pw");
    let device = admin.device();
    let token = admin.session_token(&server, "admin");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let syncs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let port = runtime.block_on(failing_live_front(server.url(), syncs.clone()));
    let replica = Arc::new(Mutex::new(
        Replica::open(&admin.dir.join("replica.db")).expect("replica"),
    ));
    let transport = Transport::new(&format!("http://127.0.0.1:{port}"), &device, Some(token))
        .expect("transport");
    let config = LoopConfig {
        debounce: Duration::from_millis(200),
        periodic: Duration::from_secs(600),
        min_backoff: Duration::from_millis(300),
        max_backoff: Duration::from_millis(600),
        probe: Duration::from_millis(200),
        live_wait: Some(Duration::from_secs(20)),
        periodic_with_live: Duration::from_secs(600),
    };
    let handle = {
        let _guard = runtime.enter();
        background::spawn(replica, transport, config)
    };
    // Five failed waits with 0.3–0.6 s between them, each followed by a sync: within about
    // three seconds the waits rest for the periodic interval (ten minutes).
    std::thread::sleep(Duration::from_secs(4));
    let settled = syncs.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=8).contains(&settled),
        "the first sync and one after each failed wait, at most: {settled}"
    );
    std::thread::sleep(Duration::from_secs(4));
    let later = syncs.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        later, settled,
        "resting live updates make no syncs (before: one a second, for ever)"
    );
    let status = handle.status();
    assert!(status.online && status.last_error.is_none(), "{status:?}");
    handle.stop();
}

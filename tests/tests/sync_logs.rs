//! The client sync engine's logs: a span per sync and an event with what it moved (pushed,
//! pulled, refused, bytes, round trips), against the real server; never a token, a student's
//! name or a document's content.

use std::io::Write;
use std::sync::{Arc, Mutex};

use daftar_client::engine::sync_once;
use daftar_client::transport::Transport;
use daftar_core::Replica;
use daftar_tests::{Client, Server};

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[test]
fn a_sync_logs_what_it_moved_and_nothing_about_students() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(tmp.path()).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    let mut admin = Client::new(tmp.path().join("admin"));
    admin.ok(&["init", "--university", "demo"]);
    admin.ok(&["demo", "--tier", "XS", "--seed", "9"]);
    admin.login(&server, "admin", "admin-pw");
    let device = admin.device();
    let token = admin.session_token(&server, "admin");
    let replica = Mutex::new(Replica::open(&admin.dir.join("replica.db")).expect("replica"));
    let students: Vec<String> = {
        let r = replica.lock().expect("replica");
        let journals = r.journals().expect("journals");
        let first = journals.first().expect("the demo has journals");
        let id = r.resolve_journal(&first.id).expect("the journal's id");
        r.journal_view(&id)
            .expect("journal")
            .students
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    assert!(!students.is_empty(), "the demo journal has students");
    let transport = Transport::new(&server.url(), &device, Some(token.clone())).expect("transport");

    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let summary = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(sync_once(&replica, &transport, |_| {}))
    })
    .expect("sync");
    assert!(summary.pushed > 0, "the demo's changes went up");

    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    let done = text
        .lines()
        .find(|l| l.contains("synced"))
        .unwrap_or_else(|| panic!("no 'synced' event in:\n{text}"));
    for field in [
        format!("pushed={}", summary.pushed),
        format!("round_trips={}", summary.round_trips),
        format!("bytes_up={}", summary.bytes_up),
        "refused=0".to_string(),
    ] {
        assert!(done.contains(&field), "{field} missing from {done:?}");
    }
    assert!(done.contains("sync{server="), "the sync span: {done:?}");
    assert_eq!(
        text.lines().filter(|l| l.contains("sync round")).count(),
        summary.round_trips,
        "one debug event per round trip:\n{text}"
    );
    assert!(!text.contains(&token), "the token is never logged");
    for name in &students {
        assert!(
            !text.contains(name.as_str()),
            "a student's name in the logs: {name}"
        );
    }

    // A failed sync logs the error's kind, not its text.
    server.stop();
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let failed = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(sync_once(&replica, &transport, |_| {}))
    });
    assert!(failed.is_err(), "the server is down");
    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(
        text.lines()
            .any(|l| l.contains("sync failed") && l.contains("error=\"offline\"")),
        "{text}"
    );
}

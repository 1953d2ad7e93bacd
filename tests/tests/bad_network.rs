//! Sync over a link that drops mid-reply (issue 10): a reply lost at any byte costs one more
//! round trip, never documents. A real `daftar-sync`, real `daftar` clients, and a fault proxy
//! on loopback between them.

use daftar_tests::{Client, FaultProxy, Server};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hemis");

/// A new teacher replica's first sync has its reply cut at a byte offset; the next sync must
/// still bring the teacher's journals. Offsets: every `DAFTAR_CUT_STRIDE`-th byte of the real
/// first reply (default 37, so CI stays quick; 1 tries every byte), plus its last 40 bytes.
/// This is the regression test for "Synced, 0 waiting, No journals yet — forever".
#[test]
fn a_first_reply_cut_at_any_byte_still_delivers_the_journals() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(tmp.path()).expect("server");
    server
        .add_user("admin", "admin-pw", "admin", &[])
        .expect("admin");
    server
        .add_user("anvar", "anvar-pw", "teacher", &["--employee", "701"])
        .expect("teacher");
    let mut admin = Client::new(tmp.path().join("admin"));
    admin.ok(&["init", "--university", "tatu"]);
    admin.ok(&["import", "hemis", FIXTURE]);
    admin.login(&server, "admin", "admin-pw");
    assert_eq!(admin.sync()["refused"], 0);

    let proxy = FaultProxy::start(server.port).expect("proxy");
    let login = daftar_tests::http_post_json(
        server.port,
        "/v1/sessions",
        r#"{"user":"anvar","password":"anvar-pw"}"#,
    )
    .expect("sign in");
    let token = serde_json::from_str::<serde_json::Value>(&login).expect("JSON")["token"]
        .as_str()
        .expect("a token")
        .to_string();
    let fresh = |n: usize| -> Client {
        let c = Client::new(tmp.path().join(format!("t{n}"))).with_token(&token);
        c.ok(&["init", "--university", "tatu", "--user", "anvar"]);
        let r = daftar_core::Replica::open(&c.dir.join("replica.db")).expect("open");
        for (k, v) in [
            ("server", proxy.url()),
            ("server_user", "anvar".into()),
            ("server_role", "teacher".into()),
        ] {
            r.set_meta(k, &v).expect("meta");
        }
        c
    };

    // The real first reply, passed whole once, to know its length.
    let whole = fresh(0);
    whole.sync();
    let len = proxy.last_reply_bytes();
    assert!(len > 200, "a first reply of {len} bytes");
    assert_eq!(whole.journal_ids().len(), 2);

    let stride: usize = std::env::var("DAFTAR_CUT_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(37)
        .max(1);
    let mut offsets: Vec<usize> = (0..len).step_by(stride).collect();
    offsets.extend(len.saturating_sub(40)..len);
    offsets.sort_unstable();
    offsets.dedup();
    for (i, cut) in offsets.iter().enumerate() {
        let c = fresh(i + 1);
        proxy.cut_next_reply(*cut);
        let first = c.run(&["--json", "sync"]);
        // Replies differ by a byte or two (a random page id, compressed): a cut at or past
        // this reply's end is no cut.
        let this_len = proxy.last_reply_bytes();
        assert!(
            !first.status.success() || *cut >= this_len,
            "cut at {cut} of {this_len}: the sync said it worked"
        );
        let s = c.sync();
        assert_eq!(s["refused"], 0);
        let journals = c.journal_ids();
        assert_eq!(
            journals.len(),
            2,
            "cut at byte {cut} of {len}: the next sync brought {journals:?}"
        );
    }
    eprintln!(
        "{} cuts of a {len}-byte first reply: every replica got its journals",
        offsets.len()
    );
}

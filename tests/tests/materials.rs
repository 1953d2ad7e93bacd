//! Course materials end to end: a department head attaches files to a module offline, the real
//! `daftar-sync` on 127.0.0.1 takes them in parts, the module's teachers fetch them after their
//! marks sync, through a proxy that cuts and damages replies; teachers who may not read the
//! module never get a byte; the server's limits and hash check hold against hand-made requests.

use std::path::Path;
use std::time::{Duration, Instant};

use daftar_tests::{Client, FaultProxy, Server};
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hemis");
const MB5: usize = 5 * 1024 * 1024;

/// A file that reads as a PDF, `len` bytes of seeded noise after the header (so nothing along
/// the way can compress it away).
fn pdf(len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore as _, SeedableRng as _};
    let mut bytes = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes[..9].copy_from_slice(b"%PDF-1.4\n");
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    daftar_core::materials::hash_of(bytes)
}

/// The HEMIS fixture on a server (an administrator imported and synced it), with the head of
/// department d31 (modules cs801–cs804) and two teachers: anvar teaches cs801's subject,
/// gulnora only cs802's.
fn university(tmp: &Path, env: &[(&str, &str)]) -> Server {
    let server = Server::start_with(tmp, env).expect("server");
    for (name, role, extra) in [
        ("admin", "admin", vec![]),
        ("kafedra", "department_head", vec!["--scope", "d31"]),
        ("anvar", "teacher", vec!["--employee", "701"]),
        ("gulnora", "teacher", vec!["--employee", "702"]),
    ] {
        server
            .add_user(name, &format!("{name}-pw"), role, &extra)
            .expect("user");
    }
    let mut admin = Client::new(tmp.join("admin"));
    admin.ok(&["init", "--university", "tatu"]);
    admin.ok(&["import", "hemis", FIXTURE]);
    admin.login(&server, "admin", "admin-pw");
    assert_eq!(admin.sync()["refused"], 0);
    server
}

fn signed_in(tmp: &Path, name: &str, url: &str) -> Client {
    let mut c = Client::new(tmp.join(name));
    c.ok(&["init", "--university", "tatu"]);
    c.login_at(url, name, &format!("{name}-pw"));
    c
}

fn materials(c: &Client) -> Vec<Value> {
    c.json(&["materials", "list"])
        .as_array()
        .expect("a list")
        .clone()
}

/// One HTTP/1.1 request over a raw socket, as a hand-made client sends it: (status, body).
fn http(port: u16, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         x-daftar-replica: 0123456789abcdef0123456789abcdef\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send");
    s.write_all(body).expect("send body");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read");
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let status: u16 = String::from_utf8_lossy(&all[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, all[split + 4..].to_vec())
}

fn material_path(hash: &str, module: &str) -> String {
    format!("/v1/materials/{hash}?doc=module%2F{module}")
}

#[test]
fn a_head_s_file_reaches_the_module_s_teachers_and_no_one_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = university(tmp.path(), &[]);
    let head = signed_in(tmp.path(), "kafedra", &server.url());
    head.sync();
    let bytes = pdf(MB5, 1);
    let hash = sha256_hex(&bytes);
    let file = tmp.path().join("1-maruza.pdf");
    std::fs::write(&file, &bytes).expect("write the PDF");

    // Offline: the server is down while the head attaches the file to a topic.
    server.stop();
    let attached = head.json(&[
        "materials",
        "attach",
        "cs801",
        file.to_str().expect("path"),
        "--topic",
        "t5002",
    ]);
    assert_eq!(attached["hash"], hash.as_str());
    assert_eq!(attached["status"], "sending");
    assert_eq!(attached["topic_name"], "2-mavzu: SQL so‘rovlari");
    std::fs::remove_file(&file).expect("the original can go: the replica holds the bytes");
    server.restart().expect("server back");

    // One sync: the description with the marks, then the bytes.
    let s = head.sync();
    assert_eq!(s["refused"], 0, "{s}");
    assert_eq!(s["materials"]["sent"], 1, "{s}");
    assert_eq!(s["materials"]["bytes_up"], MB5 as u64);
    assert_eq!(materials(&head)[0]["status"], "here");

    // The teacher of the module: the description comes with the change sync, at once…
    let anvar = signed_in(tmp.path(), "anvar", &server.url());
    let s = anvar.json(&["sync", "--no-materials"]);
    assert!(s.get("materials").is_none());
    let listed = materials(&anvar);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "1-maruza.pdf");
    assert_eq!(listed[0]["size"], MB5 as u64);
    assert_eq!(listed[0]["mime"], "application/pdf");
    assert_eq!(listed[0]["status"], "missing");
    assert_eq!(anvar.json(&["status"])["materials"]["to_fetch"], 1);
    // …and the bytes well within a minute.
    let started = Instant::now();
    let moved = anvar.json(&["materials", "fetch"]);
    let took = started.elapsed();
    assert_eq!(moved["fetched"], 1, "{moved}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(anvar.json(&["status"])["materials"]["to_fetch"], 0);
    eprintln!("a 5 MiB material reached the teacher in {took:?}");
    let out = tmp.path().join("anvar-files");
    let saved = anvar.json(&[
        "materials",
        "save",
        &hash[..8],
        "-o",
        out.to_str().expect("path"),
    ]);
    let path = saved["path"].as_str().expect("a path");
    assert!(path.ends_with("1-maruza.pdf"), "{path}");
    assert!(
        std::fs::read(path).expect("saved") == bytes,
        "the same bytes"
    );

    // In the background: the sync loop (`daftar sync --watch`, the app's loop) fetches the
    // file after the marks, on its own.
    let laptop = {
        let mut c = Client::new(tmp.path().join("anvar-laptop"));
        c.ok(&["init", "--university", "tatu"]);
        c.login(&server, "anvar", "anvar-pw");
        c
    };
    let mut watch = laptop.spawn(&["sync", "--watch", "--interval", "30"]);
    let started = Instant::now();
    let arrived = loop {
        let here = laptop
            .json(&["materials", "list"])
            .as_array()
            .is_some_and(|l| l.len() == 1 && l[0]["status"] == "here");
        if here || started.elapsed() > Duration::from_secs(60) {
            break here;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    daftar_tests::terminate(&mut watch);
    assert!(
        arrived,
        "the background loop fetched the file within a minute"
    );
    eprintln!(
        "the background loop had the file {:?} after it started",
        started.elapsed()
    );

    // A teacher who may not read cs801 sees nothing of it and gets nothing by hand either.
    let gulnora = signed_in(tmp.path(), "gulnora", &server.url());
    let s = gulnora.sync();
    assert_eq!(s["materials"]["fetched"], 0);
    assert!(materials(&gulnora).is_empty());
    let out = gulnora.run(&["materials", "save", &hash[..8], "-o", "/tmp"]);
    assert!(!out.status.success());
    let token = gulnora.session_token(&server, "gulnora");
    for module in ["cs801", "cs802"] {
        let (status, body) = http(
            server.port,
            "GET",
            &material_path(&hash, module),
            &token,
            b"",
        );
        assert_eq!(status, 404, "{module}: {}", String::from_utf8_lossy(&body));
        assert!(!body.windows(8).any(|w| w == b"%PDF-1.4"));
    }
    // Nor may the module's own teacher upload to it.
    let token = anvar.session_token(&server, "anvar");
    let (status, _) = http(
        server.port,
        "PUT",
        &format!("{}&offset=0", material_path(&hash, "cs801")),
        &token,
        b"x",
    );
    assert_eq!(status, 403);
}

#[test]
fn a_cut_material_transfer_goes_on_where_it_stopped_and_a_damaged_one_is_fetched_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = university(tmp.path(), &[]);
    let head = signed_in(tmp.path(), "kafedra", &server.url());
    head.sync();
    let bytes = pdf(MB5, 2);
    let file = tmp.path().join("slides.pptx");
    std::fs::write(&file, &bytes).expect("write");
    head.ok(&["materials", "attach", "cs801", file.to_str().expect("path")]);
    assert_eq!(head.sync()["materials"]["sent"], 1);

    // The teacher's link breaks 2.5 MiB into the file.
    let proxy = FaultProxy::start(server.port).expect("proxy");
    let anvar = signed_in(tmp.path(), "anvar", &proxy.url());
    anvar.json(&["sync", "--no-materials"]);
    proxy.cut_next_reply(MB5 / 2);
    let out = anvar.run(&["--json", "materials", "fetch"]);
    assert!(!out.status.success(), "the cut shows");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offline"), "{err}");
    let listed = materials(&anvar);
    assert_eq!(listed[0]["status"], "partial", "{listed:?}");
    let kept = listed[0]["received"].as_u64().expect("received");
    assert_eq!(
        kept,
        2 * 1024 * 1024,
        "the parts that arrived whole are kept"
    );

    // The next try asks only for the rest.
    let moved = anvar.json(&["materials", "fetch"]);
    assert_eq!(moved["fetched"], 1, "{moved}");
    assert_eq!(
        moved["bytes_down"],
        MB5 as u64 - kept,
        "no byte fetched twice"
    );
    let out = tmp.path().join("files");
    let saved = anvar.json(&[
        "materials",
        "save",
        "slides.pptx",
        "-o",
        out.to_str().expect("path"),
    ]);
    assert!(std::fs::read(saved["path"].as_str().expect("path")).expect("read") == bytes);

    // Another teacher's link damages one byte: the file does not hash, is dropped and fetched
    // again, and what is kept is the head's file.
    let mut again = Client::new(tmp.path().join("anvar-laptop"));
    again.ok(&["init", "--university", "tatu"]);
    again.login_at(&proxy.url(), "anvar", "anvar-pw");
    again.json(&["sync", "--no-materials"]);
    proxy.corrupt_next_reply(600_000);
    let moved = again.json(&["materials", "fetch"]);
    assert_eq!(moved["fetched"], 1, "{moved}");
    assert_eq!(
        moved["bytes_down"],
        2 * MB5 as u64,
        "fetched whole a second time"
    );
    let saved = again.json(&[
        "materials",
        "save",
        "slides.pptx",
        "-o",
        out.to_str().expect("path"),
    ]);
    assert!(std::fs::read(saved["path"].as_str().expect("path")).expect("read") == bytes);
}

/// The head's link breaks in the middle of an upload: the server keeps the parts it took
/// whole and none of the part cut short, the next try sends only the rest, and the teachers
/// get the head's file, byte for byte.
#[test]
fn a_cut_upload_goes_on_where_the_server_s_bytes_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = university(tmp.path(), &[]);
    let proxy = FaultProxy::start(server.port).expect("proxy");
    let head = signed_in(tmp.path(), "kafedra", &proxy.url());
    head.sync();
    let bytes = pdf(MB5, 7);
    let file = tmp.path().join("lecture.pdf");
    std::fs::write(&file, &bytes).expect("write");
    head.ok(&["materials", "attach", "cs801", file.to_str().expect("path")]);
    head.json(&["sync", "--no-materials"]);

    // 2.5 MiB into what the head sends, the connection drops: in the third 1 MiB part.
    proxy.cut_next_request(MB5 / 2);
    let out = head.run(&["--json", "materials", "fetch"]);
    assert!(!out.status.success(), "the cut shows");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offline"), "{err}");
    assert_eq!(materials(&head)[0]["status"], "sending");

    // Until the head's file is all there, a teacher gets nothing of it.
    let anvar = signed_in(tmp.path(), "anvar", &server.url());
    anvar.json(&["sync", "--no-materials"]);
    let early = anvar.json(&["materials", "fetch"]);
    assert_eq!(early["fetched"], 0, "{early}");
    assert_eq!(early["bytes_down"], 0, "{early}");

    // The next try sends the rest: two whole parts were kept, the third was not.
    let moved = head.json(&["materials", "fetch"]);
    assert_eq!(moved["sent"], 1, "{moved}");
    assert_eq!(
        moved["bytes_up"],
        MB5 as u64 - 2 * 1024 * 1024,
        "the parts taken whole are not sent again: {moved}"
    );
    assert_eq!(materials(&head)[0]["status"], "here");

    let moved = anvar.json(&["materials", "fetch"]);
    assert_eq!(moved["fetched"], 1, "{moved}");
    let out = tmp.path().join("files");
    let saved = anvar.json(&[
        "materials",
        "save",
        "lecture.pdf",
        "-o",
        out.to_str().expect("path"),
    ]);
    assert!(
        std::fs::read(saved["path"].as_str().expect("path")).expect("read") == bytes,
        "the teacher's copy is the head's file"
    );
}

#[test]
fn the_server_refuses_files_past_its_limits_and_bytes_that_do_not_hash() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = university(
        tmp.path(),
        &[
            ("DAFTAR_SYNC_MAX_MATERIAL_MIB", "1"),
            ("DAFTAR_SYNC_MAX_MODULE_MATERIALS_MIB", "2"),
        ],
    );
    let head = signed_in(tmp.path(), "kafedra", &server.url());
    head.sync();
    let token = head.session_token(&server, "kafedra");
    let attach = |module: &str, name: &str, len: usize, seed: u64| -> (String, Vec<u8>) {
        let path = tmp.path().join(name);
        let bytes = pdf(len, seed);
        std::fs::write(&path, &bytes).expect("write");
        let hash =
            head.json(&["materials", "attach", module, path.to_str().expect("path")])["hash"]
                .as_str()
                .expect("hash")
                .to_string();
        (hash, bytes)
    };

    // Bytes that do not hash to the description's hash are refused whole.
    let (hash, d) = attach("cs802", "d.pdf", 300 * 1024, 7);
    let s = head.json(&["sync", "--no-materials"]);
    assert_eq!(s["refused"], 0, "{s}");
    let mut forged = d.clone();
    forged[1000] ^= 1;
    let put = format!("{}&offset=0", material_path(&hash, "cs802"));
    let (status, body) = http(server.port, "PUT", &put, &token, &forged);
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    let upload = format!("/v1/materials/{hash}/upload?doc=module%2Fcs802");
    let (status, body) = http(server.port, "GET", &upload, &token, b"");
    assert_eq!(status, 200);
    let state: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(state["received"], 0, "nothing of the forged bytes kept");
    // A part past the file's end is refused too; a teacher asking now hears "not yet".
    let (status, _) = http(server.port, "PUT", &put, &token, &vec![0u8; d.len() + 1]);
    assert_eq!(status, 413);
    let gulnora = signed_in(tmp.path(), "gulnora", &server.url());
    let teacher = gulnora.session_token(&server, "gulnora");
    let (status, body) = http(
        server.port,
        "GET",
        &material_path(&hash, "cs802"),
        &teacher,
        b"",
    );
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("not_ready"));
    // The real bytes go up, and the teacher gets them.
    let moved = head.json(&["materials", "fetch"]);
    assert_eq!(moved["sent"], 1, "{moved}");
    let s = gulnora.sync();
    assert_eq!(s["materials"]["fetched"], 1, "{s}");
    let (status, body) = http(
        server.port,
        "GET",
        &material_path(&hash, "cs802"),
        &teacher,
        b"",
    );
    assert_eq!(status, 200);
    assert!(body == d);

    // Over the per-file limit: the description is refused, and no byte is taken.
    let (big, _) = attach("cs801", "big.pdf", 1536 * 1024, 3);
    let s = head.sync();
    assert_eq!(s["refused"], 1, "{s}");
    let why = s["refusals"].to_string();
    assert!(
        why.contains("big.pdf") && why.contains("up to 1.0 MiB"),
        "{why}"
    );
    assert_eq!(s["materials"]["sent"], 0, "{s}");
    assert_eq!(s["materials"]["waiting"], 1, "{s}");
    let (status, _) = http(
        server.port,
        "PUT",
        &format!("{}&offset=0", material_path(&big, "cs801")),
        &token,
        &[0u8; 1024],
    );
    assert_eq!(status, 404, "the server describes no such file");

    // The module's 2 MiB: with d.pdf, two more files of 800 KiB fit; a third does not.
    attach("cs802", "a.pdf", 800 * 1024, 4);
    attach("cs802", "b.pdf", 800 * 1024, 5);
    // (big.pdf's description is offered again with each sync, and refused again.)
    let s = head.sync();
    assert_eq!(s["materials"]["sent"], 2, "{s}");
    assert!(!s["refusals"].to_string().contains("per module"), "{s}");
    attach("cs802", "c.pdf", 800 * 1024, 6);
    let s = head.sync();
    assert!(s["refusals"].to_string().contains("per module"), "{s}");
    let listed = materials(&head);
    let c = listed
        .iter()
        .find(|m| m["name"] == "c.pdf")
        .expect("c.pdf stays here");
    assert_eq!(c["status"], "sending");
    assert!(
        c["problem"]
            .as_str()
            .unwrap_or("")
            .contains("has not taken"),
        "{c}"
    );
}

//! Every input the fuzzers found crashing something, named after the finding
//! (`fuzz/README.md`): it must now be refused or set aside with a clear error, never crash the
//! app, the CLI or the server.

use std::path::Path;

use daftar_core::{DocKind, Incoming, Replica};

fn finding(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/fuzz")
            .join(name),
    )
    .expect("the finding's input")
}

/// `change` target, input 407c390d: a journal's genesis change with one byte of its actor
/// table changed. automerge 0.12 panicked applying it (an `unwrap` on the actor lookup).
#[test]
fn change_crash_407c390d_is_set_aside_not_a_crash() {
    let input = finding("change-crash-407c390d");
    let [pick, len, rest @ ..] = input.as_slice() else {
        panic!("a change input");
    };
    let kind = DocKind::ALL[*pick as usize % 4];
    let (id, bytes) = rest.split_at(*len as usize);
    let doc = format!("{}/{}", kind.as_str(), String::from_utf8_lossy(id));

    // The server's inspection refuses it (or at least answers).
    let inspected = daftar_rules::inspect(&doc, kind, bytes, &daftar_rules::Limits::default());
    assert!(
        inspected.is_err(),
        "the server would take it: {inspected:?}"
    );

    // A replica that pulls it sets the document aside, keeps working, and says why.
    let mut r = Replica::open(Path::new(":memory:")).expect("open");
    r.set_university("tatu").expect("university");
    let report = r
        .apply_remote(vec![Incoming::Change {
            doc: doc.clone(),
            bytes: bytes.to_vec(),
        }])
        .map(|report| report.set_aside);
    match report {
        Ok(aside) => {
            assert_eq!(aside, [doc.clone()], "set aside");
            let listed = r.set_aside().expect("set aside");
            assert!(
                listed[0].1.contains("cannot be read"),
                "the reason: {listed:?}"
            );
        }
        Err(e) => assert!(e.is_damaged_document(), "a clear error: {e}"),
    }
    // The replica still works.
    r.import_hemis(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/hemis"
    )))
    .expect("the replica still imports");
}

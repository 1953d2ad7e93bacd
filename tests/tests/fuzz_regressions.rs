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

/// A `change` finding: split as the target splits its input (kind, id length, id, bytes).
fn change_input(name: &str) -> (String, DocKind, Vec<u8>) {
    let input = finding(name);
    let [pick, len, rest @ ..] = input.as_slice() else {
        panic!("a change input");
    };
    let kind = DocKind::ALL[*pick as usize % 4];
    let (id, bytes) = rest.split_at(*len as usize);
    let doc = format!("{}/{}", kind.as_str(), String::from_utf8_lossy(id));
    (doc, kind, bytes.to_vec())
}

/// The change is refused by the server's inspection, and a replica that is handed it anyway
/// (a hostile server, a bundle) sets the document aside with the reason and keeps working.
fn refused_and_set_aside(name: &str) {
    let (doc, kind, bytes) = change_input(name);
    let inspected = daftar_rules::inspect(&doc, kind, &bytes, &daftar_rules::Limits::default());
    assert!(
        inspected.is_err(),
        "{name}: the server would take it: {inspected:?}"
    );

    let mut r = Replica::open(Path::new(":memory:")).expect("open");
    r.set_university("tatu").expect("university");
    let report = r.apply_remote(vec![Incoming::Change {
        doc: doc.clone(),
        bytes,
    }]);
    match report {
        Ok(report) if report.set_aside.is_empty() => {
            // automerge took it after all: then it must be readable.
            r.doc(&doc).expect("the document loads");
        }
        Ok(report) => {
            assert_eq!(
                report.set_aside,
                std::slice::from_ref(&doc),
                "{name}: set aside"
            );
            let listed = r.set_aside().expect("set aside");
            assert!(
                listed[0].1.contains("cannot be read") || listed[0].1.contains("damaged"),
                "{name}: the reason: {listed:?}"
            );
        }
        Err(e) => assert!(e.is_damaged_document(), "{name}: a clear error: {e}"),
    }
    r.import_hemis(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/hemis"
    )))
    .expect("the replica still imports");
}

/// `change` target, input 407c390d: a journal's genesis change mutated into an empty change
/// whose device table repeats an entry. automerge 0.12 panicked applying it (an `unwrap` on
/// the actor lookup), and the server's inspection took it (no operations, so nothing to
/// judge).
#[test]
fn change_crash_407c390d_is_refused_and_set_aside() {
    refused_and_set_aside("change-crash-407c390d");
}

/// `change` target, input d022f6b0: a module's genesis change mutated so that automerge took
/// it and then panicked listing the document's changes (`get_changes`: a missing dependency
/// unwrapped).
#[test]
fn change_crash_d022f6b0_is_refused_and_set_aside() {
    refused_and_set_aside("change-crash-d022f6b0");
}

//! Change bytes from outside: the rule crate's bounded inspection (what the server runs on
//! every pushed change) for a document of the kind the first byte picks and the id the next
//! bytes give (a length byte, then the id after `<kind>/`), then the replica's
//! way in for changes pulled from a server (applied, held for missing dependencies, or the
//! document set aside), on an in-memory replica started afresh every few thousand inputs. A
//! change the inspection accepts and automerge then fails on is a finding.

#![no_main]

use std::sync::{LazyLock, Mutex};

use daftar_core::{DocKind, Incoming, Replica};
use libfuzzer_sys::fuzz_target;

struct State {
    replica: Replica,
    runs: u32,
}

fn fresh() -> State {
    let mut replica = Replica::open(std::path::Path::new(":memory:")).expect("replica");
    replica.set_university("fuzz").expect("university");
    State { replica, runs: 0 }
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(|| Mutex::new(fresh()));

fuzz_target!(init: daftar_fuzz::keep_caught_panics_quiet(), |data: &[u8]| {
    let [pick, len, rest @ ..] = data else {
        return;
    };
    let kind = DocKind::ALL[*pick as usize % DocKind::ALL.len()];
    let len = (*len as usize).min(rest.len());
    let (id, bytes) = rest.split_at(len);
    let doc = format!("{}/{}", kind.as_str(), String::from_utf8_lossy(id));
    let accepted = daftar_rules::inspect(&doc, kind, bytes, &daftar_rules::Limits::default()).is_ok();
    let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
    s.runs += 1;
    if s.runs > 5000 {
        *s = fresh();
    }
    let report = s.replica.apply_remote(vec![Incoming::Change {
        doc: doc.clone(),
        bytes: bytes.to_vec(),
    }]);
    // A change the server would take must never be one automerge fails on: every replica
    // that pulled it would set the document aside.
    if accepted {
        let unreadable = match &report {
            Ok(r) => !r.set_aside.is_empty()
                && s
                    .replica
                    .set_aside()
                    .map(|aside| aside.iter().any(|(d, e, _)| *d == doc && e.contains("automerge could not read")))
                    .unwrap_or(false),
            Err(e) => e.to_string().contains("automerge could not read"),
        };
        assert!(!unreadable, "the server takes a change automerge cannot apply: {report:?}");
    }
});

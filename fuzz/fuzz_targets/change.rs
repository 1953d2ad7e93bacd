//! Change bytes from outside: the rule crate's bounded inspection (what the server runs on
//! every pushed change) for a document of the kind the first byte picks and the id the next
//! bytes give (a length byte, then the id after `<kind>/`), then the replica's
//! way in for changes pulled from a server (applied, held for missing dependencies, or the
//! document set aside), on an in-memory replica started afresh every few thousand inputs.

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

fuzz_target!(|data: &[u8]| {
    let [pick, len, rest @ ..] = data else {
        return;
    };
    let kind = DocKind::ALL[*pick as usize % DocKind::ALL.len()];
    let len = (*len as usize).min(rest.len());
    let (id, bytes) = rest.split_at(len);
    let doc = format!("{}/{}", kind.as_str(), String::from_utf8_lossy(id));
    let _ = daftar_rules::inspect(&doc, kind, bytes, &daftar_rules::Limits::default());
    let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
    s.runs += 1;
    if s.runs > 5000 {
        *s = fresh();
    }
    let _ = s.replica.apply_remote(vec![Incoming::Change {
        doc,
        bytes: bytes.to_vec(),
    }]);
});

//! A sync request body as the server takes it: maybe zstd (the first byte's low bit says
//! so), then JSON, then the server's whole sync step (validation, the bounded inspection of
//! every pushed change, the rule table, the store) for a teacher or an administrator (the
//! next bit), against an in-memory store that is started afresh every few thousand inputs.
//! Refusals and errors are fine; a panic, a hang or unbounded memory is a finding.

#![no_main]

use std::sync::{LazyLock, Mutex};

use daftar_protocol::{Role, SyncRequest};
use daftar_sync_server::store::{NewUser, User};
use daftar_sync_server::sync::{StepSettings, step};
use daftar_sync_server::{Config, SqliteStore, Store};
use libfuzzer_sys::fuzz_target;

struct Server {
    store: SqliteStore,
    teacher: User,
    admin: User,
    runs: u32,
}

fn server() -> Server {
    let store = SqliteStore::open_in_memory().expect("store");
    let add = |name: &str, role: Role, employee: Option<&str>| {
        store
            .add_user(
                &NewUser {
                    name: name.into(),
                    role,
                    scope: None,
                    employee: employee.map(str::to_owned),
                    password_hash: "unused".into(),
                },
                0,
            )
            .expect("user")
    };
    let teacher = add("teacher", Role::Teacher, Some("701"));
    let admin = add("admin", Role::Admin, None);
    Server {
        store,
        teacher,
        admin,
        runs: 0,
    }
}

static SERVER: LazyLock<Mutex<Server>> = LazyLock::new(|| Mutex::new(server()));

fuzz_target!(init: daftar_fuzz::keep_caught_panics_quiet(), |data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let body = if flags & 1 == 1 {
        match daftar_sync_server::encoding::decompress_limited(body) {
            Ok(b) => b,
            Err(_) => return,
        }
    } else {
        body.to_vec()
    };
    let Ok(request) = serde_json::from_slice::<SyncRequest>(&body) else {
        return;
    };
    let mut s = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    s.runs += 1;
    if s.runs > 5000 {
        *s = server();
    }
    let user = if flags & 2 == 2 { &s.admin } else { &s.teacher };
    let settings = StepSettings::of(&Config::default());
    let _ = step(&s.store, &settings, user, "fuzz".into(), &request, 1_767_225_600_000);
});

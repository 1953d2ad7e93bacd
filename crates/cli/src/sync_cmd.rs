//! `daftar login`, `logout`, `sync [--watch]` and `status`: the sync client from the command
//! line. The token lives in the OS keyring (or `DAFTAR_TOKEN`), never in the data folder.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use clap::Args;
use daftar_client::ClientError;
use daftar_client::background::{self, LoopConfig};
use daftar_client::credentials::{TokenKey, find_token};
use daftar_client::engine::sync_once;
use daftar_client::signin::SignIn;
use daftar_client::transport::Transport;
use daftar_core::Replica;
use daftar_core::replica::meta;
use serde_json::json;

use crate::output::Out;

#[derive(Args)]
pub struct LoginArgs {
    /// Sync server address, e.g. http://127.0.0.1:8787
    #[arg(long)]
    server: String,
    #[arg(long)]
    user: String,
}

#[derive(Args)]
pub struct SyncArgs {
    /// Keep syncing until interrupted (field campus mode).
    #[arg(long)]
    watch: bool,
    /// With --watch: seconds between syncs when nothing happens.
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// Exchange changes only; leave course materials' files for later (`daftar materials
    /// fetch`).
    #[arg(long)]
    no_materials: bool,
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs one future to its end on a fresh runtime (the CLI's network steps).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(f))
}

/// Server and user this replica is signed in to.
fn signed_in(r: &Replica) -> Result<(String, String)> {
    match (r.meta(meta::SERVER)?, r.meta(meta::SERVER_USER)?) {
        (Some(s), Some(u)) => Ok((s, u)),
        _ => Err(ClientError::NotSignedIn.into()),
    }
}

fn token_key(r: &Replica, server: &str, user: &str) -> TokenKey {
    TokenKey {
        server: server.to_string(),
        user: user.to_string(),
        replica: r.device_hex(),
    }
}

fn read_password() -> Result<String> {
    if let Ok(p) = std::env::var("DAFTAR_PASSWORD") {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err(anyhow!(
            "no password given (type it, pipe it on stdin, or set DAFTAR_PASSWORD)"
        ));
    }
    Ok(p)
}

pub fn login(dir: &Path, args: LoginArgs, out: &Out) -> Result<()> {
    let mut r = crate::open(dir)?;
    let password = read_password()?;
    // The app signs in through the same steps (`daftar_client::signin`).
    let attempt = SignIn::new(&r, &args.server, &args.user);
    let resp = runtime()?.block_on(attempt.transport()?.login(&attempt.user, &password))?;
    let done = attempt.finish(&mut r, &resp)?;
    let server = &attempt.server;
    match done.keyring {
        Ok(name) => out.value(
            &json!({ "server": server, "user": args.user, "role": resp.user.role.as_str(), "keyring": name }),
            || format!("Signed in to {server} as {} ({}). The token is kept in the {name} keyring.", args.user, resp.user.role.as_str()),
        ),
        Err(e) => {
            // No keyring: tell the user plainly and hand over the token for DAFTAR_TOKEN.
            eprintln!("warning: {e}");
            eprintln!("Set DAFTAR_TOKEN to the token printed below to sync from this machine.");
            out.value(
                &json!({ "server": server, "user": args.user, "role": resp.user.role.as_str(), "keyring": null, "token": resp.token }),
                || resp.token.clone(),
            )
        }
    }
}

pub fn logout(dir: &Path, out: &Out) -> Result<()> {
    let r = crate::open(dir)?;
    let (server, user) = signed_in(&r)?;
    let key = token_key(&r, &server, &user);
    if let Ok(Some(token)) = find_token(&key) {
        let transport = Transport::new(&server, &r.device_hex(), Some(token))?;
        // Best effort: offline logout still forgets the token here.
        let _ = runtime()?.block_on(transport.logout());
    }
    // The app signs out through the same step (`daftar_client::signin::forget`).
    daftar_client::signin::forget(&r)?;
    out.ok("Signed out")
}

pub fn transport_for(r: &Replica) -> Result<Transport> {
    let (server, user) = signed_in(r)?;
    let token = find_token(&token_key(r, &server, &user))?.ok_or(ClientError::NotSignedIn)?;
    Ok(Transport::new(&server, &r.device_hex(), Some(token))?)
}

pub fn sync(dir: &Path, args: SyncArgs, out: &Out) -> Result<()> {
    let r = crate::open(dir)?;
    let transport = transport_for(&r)?;
    let replica = Arc::new(Mutex::new(r));
    let rt = runtime()?;
    if args.watch {
        return rt.block_on(watch(replica, transport, args.interval, out));
    }
    let bar = out.progress("Syncing");
    let summary = rt.block_on(sync_once(&replica, &transport, |p| {
        bar.message(format!("Syncing: {} sent, {} received", p.pushed, p.pulled));
    }));
    bar.finish();
    let summary = summary?;
    // The files after the marks: a file cut off on a weak link never holds the marks back,
    // and what it moved stays (the next sync goes on from there).
    let materials = if args.no_materials {
        None
    } else {
        Some(
            crate::materials_cmd::move_files(&rt, &replica, &transport, out).map_err(|e| {
                e.context(format!(
                    "the marks are synced ({} sent, {} received), but course materials' files did not all move",
                    summary.pushed, summary.pulled
                ))
            }),
        )
        .transpose()?
    };
    let mut value = serde_json::to_value(&summary)?;
    if let (Some(map), Some(m)) = (value.as_object_mut(), &materials) {
        map.insert("materials".into(), serde_json::to_value(m)?);
    }
    out.value(&value, || {
        let mut s = format!(
            "Synced: {} changes sent, {} received in {} round trip(s), {} bytes up, {} bytes down",
            summary.pushed,
            summary.pulled,
            summary.round_trips,
            summary.bytes_up,
            summary.bytes_down
        );
        if summary.refused > 0 {
            s.push_str(&format!(
                "\n{} change(s) refused by the server and kept here: {}",
                summary.refused,
                summary.refusals.join("; ")
            ));
        }
        if let Some(m) = materials
            .as_ref()
            .filter(|m| m.sent + m.fetched + m.waiting > 0)
        {
            s.push('\n');
            s.push_str(&crate::materials_cmd::summary_text(m));
        }
        s
    })
}

async fn watch(
    replica: Arc<Mutex<Replica>>,
    transport: Transport,
    interval: u64,
    out: &Out,
) -> Result<()> {
    let config = LoopConfig {
        periodic: std::time::Duration::from_secs(interval.max(1)),
        ..LoopConfig::default()
    };
    let handle = background::spawn(replica, transport, config);
    let mut rx = handle.subscribe();
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() { break; }
                let s = rx.borrow().clone();
                if s.running { continue; }
                if out.is_json() {
                    crate::output::print_line(&serde_json::to_string(&s)?);
                } else if let Some(e) = &s.last_error {
                    eprintln!("sync: {e} ({} waiting)", s.waiting);
                } else {
                    crate::output::print_line(&format!("sync: up to date ({} waiting)", s.waiting));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                handle.stop();
                break;
            }
        }
    }
    Ok(())
}

pub fn status(dir: &Path, out: &Out) -> Result<()> {
    let r = crate::open(dir)?;
    let info = r.info()?;
    let server = r.meta(meta::SERVER)?;
    let user = r.meta(meta::SERVER_USER)?;
    let replica = Mutex::new(r);
    let status = background::replica_status(&replica, server.as_deref());
    let mut r = replica.lock().unwrap_or_else(|p| p.into_inner());
    let refused = r.refused()?;
    let set_aside = r.set_aside()?;
    // Course materials' files still to move: attached here and not all on the server, and
    // described by a module here but not all here.
    let (to_send, to_fetch) = r.materials_to_move()?;
    let (to_send, to_fetch) = (to_send.len(), to_fetch.len());
    out.value(
        &json!({
            "replica": info,
            "server": server,
            "user": user,
            "waiting": status.waiting,
            "refused": refused.iter().map(|(h, d, why)| json!({"hash": h, "doc": d, "reason": why})).collect::<Vec<_>>(),
            "set_aside": set_aside.iter().map(|(d, why, at)| json!({"doc": d, "error": why, "at": at})).collect::<Vec<_>>(),
            "last_success": status.last_success,
            "last_error": status.last_error,
            "materials": { "to_send": to_send, "to_fetch": to_fetch },
        }),
        || {
            let mut s = format!(
                "Replica {} (university {}, device {}), {} documents, {} conflicts\n",
                info.path.display(),
                info.university.clone().unwrap_or_default(),
                &info.device[..8],
                info.documents,
                info.conflicts
            );
            match (&server, &user) {
                (Some(sv), Some(u)) => s.push_str(&format!("Signed in to {sv} as {u}\n")),
                _ => s.push_str("Not signed in to a sync server\n"),
            }
            s.push_str(&format!("{} change(s) waiting to be sent\n", status.waiting));
            if to_send + to_fetch > 0 {
                s.push_str(&format!(
                    "Course materials: {to_send} file(s) to send, {to_fetch} to fetch (`daftar materials list`)\n"
                ));
            }
            if let Some(t) = status.last_success {
                s.push_str(&format!("Last successful sync: {}\n", crate::output::tashkent_time(t)));
            }
            if let Some(e) = &status.last_error {
                s.push_str(&format!("Last error: {e}\n"));
            }
            for (_, doc, why) in &refused {
                s.push_str(&format!("Refused by the server (kept here): {doc}: {why}\n"));
            }
            for (doc, why, _) in &set_aside {
                s.push_str(&format!(
                    "Set aside (what the server sent cannot be applied; everything else syncs): {doc}: {why}\n"
                ));
            }
            s.trim_end().to_string()
        },
    )
}

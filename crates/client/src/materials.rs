//! Moving course materials' bytes (`docs/materials.md`): after a sync, the files attached here
//! go up and the files of readable modules come down, one part
//! ([`daftar_core::materials::PART_BYTES`]) per request, each part stored as it arrives.
//!
//! Nothing here holds the replica lock across the network, and it runs apart from the change
//! sync, so marks are never held up by a file. A cut transfer goes on where it stopped: the
//! next run asks the server how much of an upload it has, and fetches from the bytes already
//! here. A file that arrives damaged is dropped whole and fetched again, once per run.

use std::sync::{Mutex, MutexGuard};

use daftar_core::Replica;
use daftar_core::materials::{PART_BYTES, Transfer};
use daftar_protocol::ErrorCode;
use serde::Serialize;

use crate::transport::Transport;
use crate::{ClientError, Result};

/// What one run moved.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MaterialsSummary {
    /// Files the server now has all of.
    pub sent: usize,
    /// Files now all here.
    pub fetched: usize,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Files still to move (not on the server yet, refused, or cut off).
    pub waiting: usize,
    /// What held a file back, per file, in words.
    pub problems: Vec<String>,
}

/// How far a run is: the file moving now and its bytes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MaterialProgress {
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub done: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Going up (else coming down).
    pub upload: bool,
}

fn lock(replica: &Mutex<Replica>) -> MutexGuard<'_, Replica> {
    replica.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether the whole run must stop (no connection, signed out) rather than this one file.
fn stops_the_run(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Offline { .. }
            | ClientError::Unauthorized
            | ClientError::NotSignedIn
            | ClientError::RateLimited
    ) || matches!(
        e,
        ClientError::Server {
            code: ErrorCode::Internal,
            ..
        }
    )
}

fn words(e: &ClientError) -> String {
    match e {
        ClientError::Forbidden(m) => m.clone(),
        ClientError::Server { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Sends what was attached here, then fetches what readable modules describe. Stops at the
/// first network failure (what moved stays moved) and returns it.
pub async fn transfer(
    replica: &Mutex<Replica>,
    transport: &Transport,
    mut progress: impl FnMut(&MaterialProgress),
) -> Result<MaterialsSummary> {
    let mut summary = MaterialsSummary::default();
    // One look at the modules for both lists: a file sent below is all here already, so it is
    // not among those to fetch.
    let (to_send, to_fetch) = lock(replica).materials_to_move()?;
    for t in &to_send {
        let moved = send_one(replica, transport, t, &mut summary, &mut progress).await;
        if settle(replica, t, moved, "sent", &mut summary)? {
            summary.sent += 1;
        }
    }
    for t in &to_fetch {
        let moved = fetch_one(replica, transport, t, &mut summary, &mut progress).await;
        if settle(replica, t, moved, "fetched", &mut summary)? {
            summary.fetched += 1;
        }
    }
    Ok(summary)
}

/// What one file's move came to: `Ok(true)` moved; `Ok(false)` held back (its trouble kept
/// with it, the run goes on); `Err` when the whole run must stop.
fn settle(
    replica: &Mutex<Replica>,
    t: &Transfer,
    moved: Result<()>,
    verb: &str,
    summary: &mut MaterialsSummary,
) -> Result<bool> {
    match moved {
        Ok(()) => Ok(true),
        Err(e) if stops_the_run(&e) => Err(e),
        Err(e) => {
            let why = words(&e);
            tracing::info!(material = %t.hash, problem = %why, "material not {verb}");
            lock(replica).material_problem(&t.hash, Some(&why))?;
            summary.waiting += 1;
            summary.problems.push(format!("{}: {why}", t.name));
            Ok(false)
        }
    }
}

async fn send_one(
    replica: &Mutex<Replica>,
    transport: &Transport,
    t: &Transfer,
    summary: &mut MaterialsSummary,
    progress: &mut impl FnMut(&MaterialProgress),
) -> Result<()> {
    let mut state = match transport.material_state(&t.module_doc, &t.hash).await {
        Err(ClientError::Server {
            code: ErrorCode::NotFound,
            ..
        }) => {
            return Err(ClientError::Forbidden(
                "the server has not taken this file's description (yet): see the refused \
                 changes, or sync again"
                    .into(),
            ));
        }
        other => other?,
    };
    // A part answered "not where the server's bytes end" (another device of this user sent
    // some, or an answer was lost): ask again, a few times at most.
    let mut realigned = 0;
    while !state.complete {
        progress(&MaterialProgress {
            name: t.name.clone(),
            done: state.received,
            size: t.size,
            upload: true,
        });
        let from = state.received;
        let to = (from + PART_BYTES as u64).min(t.size);
        let bytes = lock(replica).material_range(&t.hash, from, to)?;
        if bytes.len() as u64 != to - from {
            return Err(ClientError::Protocol(format!(
                "the file {:?} is not all on this computer any more",
                t.name
            )));
        }
        let len = bytes.len() as u64;
        match transport
            .material_put(&t.module_doc, &t.hash, from, bytes)
            .await
        {
            Ok(next) => {
                summary.bytes_up += len;
                state = next;
            }
            Err(ClientError::Server {
                code: ErrorCode::Conflict,
                ..
            }) if realigned < 3 => {
                realigned += 1;
                state = transport.material_state(&t.module_doc, &t.hash).await?;
            }
            Err(e) => return Err(e),
        }
    }
    lock(replica).material_sent(&t.hash)?;
    tracing::info!(material = %t.hash, size = t.size, "material sent");
    Ok(())
}

async fn fetch_one(
    replica: &Mutex<Replica>,
    transport: &Transport,
    t: &Transfer,
    summary: &mut MaterialsSummary,
    progress: &mut impl FnMut(&MaterialProgress),
) -> Result<()> {
    let mut received = t.received;
    let mut damaged = 0;
    while received < t.size {
        progress(&MaterialProgress {
            name: t.name.clone(),
            done: received,
            size: t.size,
            upload: false,
        });
        let to = (received + PART_BYTES as u64).min(t.size);
        let bytes = transport
            .material_get(&t.module_doc, &t.hash, received, to)
            .await?;
        if bytes.is_empty() {
            return Err(ClientError::Protocol(
                "the server sent none of the file".into(),
            ));
        }
        summary.bytes_down += bytes.len() as u64;
        match lock(replica).store_material_part(&t.hash, t.size, received, &bytes) {
            Ok(now) => received = now,
            Err(daftar_core::CoreError::InvalidInput { message, .. }) if damaged == 0 => {
                // Dropped whole: fetch it again from the start.
                damaged += 1;
                tracing::warn!(material = %t.hash, %message, "material arrived damaged; fetching it again");
                received = 0;
            }
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(material = %t.hash, size = t.size, "material fetched");
    Ok(())
}

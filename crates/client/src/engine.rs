//! One sync with the server (design §4, `docs/sync-protocol.md`).
//!
//! Each round trip pushes a bounded batch of local changes the server has not acknowledged and
//! pulls a bounded page of changes after our cursor. Rounds repeat only while something is
//! left: more local changes, more pages, or a changed access version with refused changes to
//! retry. So a sync when nothing changed is one request, and a day of offline work goes up in
//! one (two when the access version changes meanwhile).
//!
//! Refused changes stay in the replica with the server's reason. They are not resent while the
//! user's access stays the same and nothing new went in (they would only be refused again);
//! when the server reports a new access version (an assignment was added), or after a round
//! that stored or brought new changes (a rule may depend on them: the JN and ON that admit a
//! student to the final, the dean's retake permission), they go up again, once per sync.
//!
//! The replica is locked only around database work, never across the network.

use std::sync::Mutex;

use daftar_core::{Incoming, Replica};
use daftar_protocol::{DocMeta, MAX_PUSH_BYTES, SyncRequest};
use serde::Serialize;

use crate::transport::Transport;
use crate::{ClientError, Result};

/// What [`sync_once`] needs of the network: one sync round trip to one server. [`Transport`]
/// is the real one (HTTP); the simulated-network tests put lost, cut, repeated and late
/// messages between a replica and the server's sync step with their own.
pub trait SyncLink {
    /// The server's address, which keys the replica's cursor and acknowledgement.
    fn server(&self) -> &str;
    /// Send one request and wait for its answer.
    fn round_trip(
        &self,
        request: &SyncRequest,
    ) -> impl std::future::Future<Output = Result<daftar_protocol::SyncResponse>> + Send;
    /// Bytes sent and received so far (as they travelled, compressed).
    fn bytes(&self) -> (u64, u64);
}

impl SyncLink for Transport {
    fn server(&self) -> &str {
        Transport::server(self)
    }

    fn round_trip(
        &self,
        request: &SyncRequest,
    ) -> impl std::future::Future<Output = Result<daftar_protocol::SyncResponse>> + Send {
        self.sync(request)
    }

    fn bytes(&self) -> (u64, u64) {
        let (_, up, down) = self.counters.snapshot();
        (up, down)
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncSummary {
    /// Local changes the server acknowledged.
    pub pushed: usize,
    /// Changes new to this replica (those inside a document snapshot included).
    pub pulled: usize,
    pub refused: usize,
    pub round_trips: usize,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Changes still waiting to go up (refused ones included).
    pub waiting: i64,
    /// Reasons the server gave for refused changes (one per document).
    pub refusals: Vec<String>,
}

/// Progress of a running sync, for bars and the status line.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncProgress {
    pub round: usize,
    pub pushed: usize,
    pub pulled: usize,
}

const REFUSED_ACCESS_KEY: &str = "refused_at_access";
/// Replica meta key prefix (`:<server>` after it) of the last page applied, to acknowledge.
const ACK_KEY: &str = "page_to_ack";

fn lock(replica: &Mutex<Replica>) -> std::sync::MutexGuard<'_, Replica> {
    // A panic while holding the lock leaves SQLite consistent (transactions roll back), so a
    // poisoned lock is safe to keep using.
    replica.lock().unwrap_or_else(|p| p.into_inner())
}

/// Metadata the server needs to derive permissions for a document (from the projection).
pub fn doc_meta(replica: &Replica, doc: &str) -> Result<DocMeta> {
    Ok(replica.sync_meta(doc)?)
}

/// Runs one sync to completion.
///
/// Logs (target `daftar_client::engine`) one span per sync with the server's address, a debug
/// event per round trip and one event at the end: counts, bytes and round trips only, never
/// document content, student data, refusal texts or tokens.
#[tracing::instrument(
    name = "sync",
    skip_all,
    fields(server = %crate::transport::server_for_logs(transport.server()))
)]
pub async fn sync_once(
    replica: &Mutex<Replica>,
    transport: &impl SyncLink,
    mut progress: impl FnMut(&SyncProgress),
) -> Result<SyncSummary> {
    let started = std::time::Instant::now();
    let server = transport.server().to_string();
    let (start_up, start_down) = transport.bytes();
    let (mut cursor, mut access) = lock(replica).sync_state(&server)?;
    // The page applied last (maybe in an earlier sync): acknowledged in the next request, so
    // the server counts what it recorded about this replica only once it arrived here.
    let ack_key = format!("{ACK_KEY}:{server}");
    let mut ack: Option<u64> = lock(replica).meta(&ack_key)?.and_then(|v| v.parse().ok());
    let mut summary = SyncSummary::default();
    let mut prog = SyncProgress::default();
    let mut retried_after_push = false;
    let mut refused_hashes: std::collections::HashSet<String> = std::collections::HashSet::new();
    let result: Result<()> = async {
        loop {
            // Build the request under the lock, send it without.
            let (request, pushed_hashes, more_local) = {
                let r = lock(replica);
                let refused_at: Option<u64> =
                    r.meta(REFUSED_ACCESS_KEY)?.and_then(|v| v.parse().ok());
                let retry_refused = refused_at != Some(access);
                let outgoing = r.outgoing(MAX_PUSH_BYTES, retry_refused)?;
                let refused_count = r.refused()?.len() as i64;
                let eligible = r.waiting()? - if retry_refused { 0 } else { refused_count };
                let mut docs: Vec<(String, DocMeta)> = Vec::new();
                for c in &outgoing {
                    if !docs.iter().any(|(d, _)| d == &c.doc) {
                        docs.push((c.doc.clone(), doc_meta(&r, &c.doc)?));
                    }
                }
                let hashes: Vec<String> = outgoing.iter().map(|c| c.hash.clone()).collect();
                let more_local = eligible > outgoing.len() as i64;
                let request = SyncRequest {
                    cursor,
                    access,
                    docs,
                    push: outgoing
                        .into_iter()
                        .map(|c| daftar_protocol::PushChange {
                            doc: c.doc,
                            change: daftar_protocol::Bytes(c.bytes),
                        })
                        .collect(),
                    page_bytes: None,
                    snapshots: true,
                    compact_acks: true,
                    acknowledges: true,
                    ack,
                };
                (request, hashes, more_local)
            };
            let response = transport.round_trip(&request).await?;
            summary.round_trips += 1;
            prog.round += 1;

            let refused: Vec<(String, String)> = response
                .refused
                .iter()
                .map(|r| (r.hash.clone(), r.reason.clone()))
                .collect();
            // `acked_all`: every change of this push is stored (no echo of each hash).
            let acked_ours = if response.acked_all {
                pushed_hashes.len()
            } else {
                response
                    .acked
                    .iter()
                    .filter(|h| pushed_hashes.contains(h))
                    .count()
            };
            let acked: Vec<String> = if response.acked_all {
                pushed_hashes
            } else {
                response.acked
            };
            let incoming: Vec<Incoming> = response
                .changes
                .into_iter()
                .map(|c| {
                    if c.snapshot {
                        Incoming::Document {
                            doc: c.doc,
                            bytes: c.change.0,
                        }
                    } else {
                        Incoming::Change {
                            doc: c.doc,
                            bytes: c.change.0,
                        }
                    }
                })
                .collect();
            let pulled = {
                let mut r = lock(replica);
                r.record_push(&acked, &refused)?;
                if !refused.is_empty() {
                    r.set_meta(REFUSED_ACCESS_KEY, &response.access.to_string())?;
                }
                let provenance = daftar_core::provenance::PageProvenance {
                    authors: response
                        .authors
                        .iter()
                        .map(|a| (a.actor.clone(), a.user.clone()))
                        .collect(),
                    receipts: response
                        .receipts
                        .iter()
                        .map(|r| (r.hash.clone(), r.received_at))
                        .collect(),
                };
                let report = r.apply_pulled(
                    &server,
                    incoming,
                    &provenance,
                    response.cursor,
                    response.access,
                )?;
                // Applied and durable: the next request may say so (written only when it
                // changes, so an idle sync still writes nothing).
                if response.page != ack {
                    ack = response.page;
                    let value = ack.map(|p| p.to_string()).unwrap_or_default();
                    r.set_meta(&ack_key, &value)?;
                }
                report.new_changes + report.pending
            };
            summary.pushed += acked_ours;
            summary.pulled += pulled;
            // A change refused again in a retry round counts once.
            for (hash, _) in &refused {
                refused_hashes.insert(hash.clone());
            }
            summary.refused = refused_hashes.len();
            for reason in response.refused.iter().map(|r| r.reason.clone()) {
                if !summary.refusals.contains(&reason) {
                    summary.refusals.push(reason);
                }
            }
            prog.pushed = summary.pushed;
            prog.pulled = summary.pulled;
            progress(&prog);
            tracing::debug!(
                round = summary.round_trips,
                pushed = acked_ours,
                pulled,
                refused = refused.len(),
                more = response.more,
                "sync round"
            );

            let access_changed = response.access != access;
            cursor = response.cursor;
            access = response.access;
            let has_refused = !lock(replica).refused()?.is_empty();
            // Some rules depend on what the journal holds (a final score needs the JN and ON
            // that admit the student, a retake the dean's permission): once new changes went in
            // or came down, refused ones are tried once more in this sync, as after an access
            // change.
            let retry_after_push =
                has_refused && (acked_ours > 0 || pulled > 0) && !retried_after_push;
            if retry_after_push {
                retried_after_push = true;
                lock(replica).set_meta(REFUSED_ACCESS_KEY, "")?;
            }
            let again =
                response.more || more_local || (access_changed && has_refused) || retry_after_push;
            if !again {
                break;
            }
            if summary.round_trips > 10_000 {
                return Err(ClientError::Protocol("the sync did not converge".into()));
            }
        }
        Ok(())
    }
    .await;

    let (up, down) = transport.bytes();
    summary.bytes_up = up - start_up;
    summary.bytes_down = down - start_down;
    {
        let r = lock(replica);
        summary.waiting = r.waiting()?;
        let error = result.as_ref().err().map(|e| e.to_string());
        r.record_sync_result(&server, error.as_deref())?;
    }
    let ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(()) => tracing::info!(
            pushed = summary.pushed,
            pulled = summary.pulled,
            refused = summary.refused,
            waiting = summary.waiting,
            round_trips = summary.round_trips,
            bytes_up = summary.bytes_up,
            bytes_down = summary.bytes_down,
            ms,
            "synced"
        ),
        // The kind only: a server's message may quote what it refused. At info, like the
        // success: the caller shows the error to the person (the CLI's stderr stays one JSON
        // error), and an offline sync is no fault of Daftar's.
        Err(e) => tracing::info!(
            error = e.kind().as_str(),
            pushed = summary.pushed,
            pulled = summary.pulled,
            round_trips = summary.round_trips,
            ms,
            "sync failed"
        ),
    }
    result.map(|()| summary)
}

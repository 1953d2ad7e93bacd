//! The sync step, without HTTP: [`step`] turns one [`SyncRequest`] of a signed-in user into
//! its [`SyncResponse`] over any [`Store`]. The axum handler is a thin shell around it, and the
//! simulated-network tests (`tests/tests/simnet.rs`) drive it directly, so whole stories with
//! lost, repeated and late requests run in-process against the same code the server runs.
//!
//! Before the database is touched the request is validated (document ids, metadata, decoded
//! automerge changes), so a malformed request (bad doc id, unknown kind, bytes that are not an
//! automerge change) is refused whole with a 400 and stores nothing. Permission problems are
//! different: they refuse single changes and are decided inside the store's transaction.

use std::collections::{BTreeSet, HashSet};

use daftar_protocol::{
    ActorAuthor, Bytes, DocKind, DocMeta, PROTOCOL_VERSION, PulledChange, Receipt, Refusal,
    SyncRequest, SyncResponse,
};

use crate::Config;
use crate::error::ApiError;
use crate::store::{IncomingChange, PullRequest, PushBatch, Store, User};

/// The parts of [`Config`] one sync step obeys.
#[derive(Debug, Clone)]
pub struct StepSettings {
    /// Page size when the request names none.
    pub page_bytes: u64,
    /// The largest page a request may ask for.
    pub max_page_bytes: u64,
    /// Bounds on one pushed change.
    pub limits: daftar_rules::Limits,
    /// Raw change bytes one user may store per UTC day (0 = no limit).
    pub daily_bytes: u64,
    pub materials: daftar_rules::materials::MaterialLimits,
}

impl StepSettings {
    pub fn of(config: &Config) -> StepSettings {
        StepSettings {
            page_bytes: config.page_bytes,
            max_page_bytes: config.max_page_bytes,
            limits: daftar_rules::Limits {
                max_ops: config.max_ops_per_change,
                ..daftar_rules::Limits::default()
            },
            daily_bytes: config.max_change_bytes_per_day,
            materials: config.materials,
        }
    }
}

/// What one step did, beside its answer.
#[derive(Debug, Clone)]
pub struct Step {
    pub response: SyncResponse,
    /// Changes newly stored, and their raw bytes.
    pub stored: u64,
    pub stored_bytes: u64,
    /// Documents this push stored changes of (for the snapshot refresher).
    pub touched: Vec<String>,
}

/// One sync round trip of `user`'s replica `replica`: store what it may write of the push (one
/// transaction), then read one page of what it may read (one snapshot). `now` is unix ms.
///
/// The step keeps nothing about the replica that a lost answer could make wrong: what a page
/// records waits for the client's acknowledgement (`ack`), so the same request again gets an
/// answer as good as the first (`docs/sync-protocol.md`, "Nothing depends on a reply arriving").
pub fn step(
    store: &dyn Store,
    settings: &StepSettings,
    user: &User,
    replica: String,
    req: &SyncRequest,
    now: i64,
) -> Result<Step, ApiError> {
    let budget = req
        .page_bytes
        .unwrap_or(settings.page_bytes)
        .clamp(1, settings.max_page_bytes);
    let mut batch = decode_push(req, &settings.limits)?;
    batch.daily_bytes = settings.daily_bytes;
    batch.materials = settings.materials;
    let pull = PullRequest {
        replica,
        // Seqs are SQL integers.
        cursor: req.cursor.min(i64::MAX as u64),
        access: req.access,
        budget,
        skip: HashSet::new(),
        snapshots: req.snapshots,
        acknowledges: req.acknowledges,
        ack: req.ack,
    };
    let (pushed, mut pulled) = if batch.metas.is_empty() && batch.changes.is_empty() {
        (Default::default(), store.pull(user, &pull, now)?)
    } else {
        // The pull skips what the push stored (the pushing replica has it).
        store.push_then_pull(user, &batch, pull, now)?
    };
    let skip: HashSet<_> = pushed.acked.iter().copied().collect();
    // The devices of what was just stored belong to this user now: say so, so the pushing
    // replica names its own values from the server's record too.
    let own: BTreeSet<Vec<u8>> = batch
        .changes
        .iter()
        .filter_map(|c| c.inspected.as_ref().ok())
        .filter(|c| !c.genesis && skip.contains(&c.hash))
        .map(|c| c.actor.clone())
        .collect();
    for actor in own {
        if !pulled.authors.iter().any(|(a, _)| *a == actor) {
            pulled.authors.push((actor, user.name.clone()));
        }
    }
    // Snapshots to refresh: the documents of what was taken (not of what was refused).
    let touched: Vec<String> = batch
        .changes
        .iter()
        .filter(|c| skip.contains(&c.hash))
        .map(|c| c.doc.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Every pushed change stored: one flag instead of an echo of each hash.
    let push_count = req.push.len();
    let acked_all = req.compact_acks
        && push_count > 0
        && pushed.refused.is_empty()
        && pushed.acked.len() == push_count;
    let response = SyncResponse {
        protocol: PROTOCOL_VERSION,
        acked: if acked_all {
            Vec::new()
        } else {
            pushed.acked.iter().map(hex::encode).collect()
        },
        acked_all,
        refused: pushed
            .refused
            .into_iter()
            .map(|r| Refusal {
                hash: hex::encode(r.hash),
                code: r.code,
                reason: r.reason,
            })
            .collect(),
        changes: pulled
            .changes
            .into_iter()
            .map(|c| PulledChange {
                seq: c.seq,
                doc: c.doc,
                change: Bytes(c.bytes),
                snapshot: c.snapshot,
            })
            .collect(),
        cursor: pulled.cursor,
        access: pulled.access,
        more: pulled.more,
        page: pulled.page,
        authors: pulled
            .authors
            .into_iter()
            .map(|(actor, user)| ActorAuthor {
                actor: hex::encode(actor),
                user,
            })
            .collect(),
        receipts: pulled
            .receipts
            .into_iter()
            .map(|(hash, received_at)| Receipt {
                hash: hex::encode(hash),
                received_at,
            })
            .collect(),
    };
    Ok(Step {
        response,
        stored: pushed.stored,
        stored_bytes: pushed.stored_bytes,
        touched,
    })
}

/// Longest document id accepted.
const MAX_DOC_ID: usize = 200;
/// Longest replica id accepted.
const MAX_REPLICA_ID: usize = 128;

/// Check a document id (`"<kind>/<id>"`, printable, no spaces) and return its kind.
pub fn doc_kind(doc: &str) -> Result<DocKind, ApiError> {
    if doc.len() > MAX_DOC_ID || doc.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::malformed(format!(
            "document id {:?} is too long or has spaces or control characters",
            truncate(doc)
        )));
    }
    DocKind::of_doc_id(doc).ok_or_else(|| {
        ApiError::malformed(format!(
            "document id {:?} is not <kind>/<id> with kind catalog, group, module or journal",
            truncate(doc)
        ))
    })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A journal document id from `journal/<id>` or a bare `<id>`.
pub fn journal_id(s: &str) -> Result<String, ApiError> {
    let id: daftar_protocol::ids::JournalId = s
        .parse()
        .map_err(|e: daftar_protocol::ids::IdError| ApiError::malformed(e.to_string()))?;
    Ok(id.doc_id().to_string())
}

/// Check a replica id header value.
pub fn replica_id(value: &str) -> Result<String, ApiError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_REPLICA_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::malformed(format!(
            "the {} header must be 1 to {MAX_REPLICA_ID} characters of [A-Za-z0-9._:-]",
            daftar_protocol::REPLICA_HEADER
        )))
    }
}

fn check_meta(doc: &str, meta: &DocMeta) -> Result<(), ApiError> {
    let reference = |field: &str, value: &Option<String>, kind: DocKind| -> Result<(), ApiError> {
        match value {
            Some(v) if doc_kind(v)? != kind => Err(ApiError::malformed(format!(
                "metadata of {doc}: {field} must be a {kind} document id"
            ))),
            _ => Ok(()),
        }
    };
    reference("group", &meta.group, DocKind::Group)?;
    reference("module", &meta.module, DocKind::Module)?;
    let short = |v: &Option<String>| {
        v.as_ref()
            .is_none_or(|s| !s.is_empty() && s.len() <= MAX_DOC_ID)
    };
    let teachers_ok = meta.teachers.len() <= 1000
        && meta
            .teachers
            .iter()
            .all(|t| !t.is_empty() && t.len() <= MAX_DOC_ID);
    if !(short(&meta.faculty) && short(&meta.department) && teachers_ok) {
        return Err(ApiError::malformed(format!(
            "metadata of {doc}: empty or overlong faculty, department or teacher id"
        )));
    }
    Ok(())
}

/// Validate the push half of a request and read every change through the rule crate's
/// bounded inspection (`daftar_rules::inspect`): bytes that are no change at all (or a
/// compressed chunk, refused before anything inflates it) refuse the whole request; a change
/// that parses but breaks the document's shape is refused on its own, by its hash.
pub fn decode_push(
    request: &SyncRequest,
    limits: &daftar_rules::Limits,
) -> Result<PushBatch, ApiError> {
    let mut batch = PushBatch::default();
    for (doc, meta) in &request.docs {
        let kind = doc_kind(doc)?;
        check_meta(doc, meta)?;
        batch.metas.push((doc.clone(), kind, meta.clone()));
    }
    for (i, push) in request.push.iter().enumerate() {
        let kind = doc_kind(&push.doc)?;
        let inspected = daftar_rules::inspect(&push.doc, kind, &push.change.0, limits);
        let hash = match &inspected {
            Ok(c) => c.hash,
            Err(u) => match u.hash {
                Some(hash) => hash,
                None => {
                    return Err(ApiError::malformed(format!(
                        "push[{i}] for {}: {}",
                        push.doc, u.reason
                    )));
                }
            },
        };
        batch.changes.push(IncomingChange {
            doc: push.doc.clone(),
            kind,
            hash,
            bytes: push.change.0.clone(),
            inspected,
        });
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids_and_journal_ids() {
        assert_eq!(doc_kind("group/g1").ok(), Some(DocKind::Group));
        assert!(doc_kind("nope/x").is_err());
        assert!(doc_kind("journal/a b").is_err());
        assert_eq!(journal_id("j1").ok().as_deref(), Some("journal/j1"));
        assert_eq!(journal_id("journal/j1").ok().as_deref(), Some("journal/j1"));
        assert!(journal_id("group/g1").is_err());
        assert!(journal_id("").is_err());
    }

    #[test]
    fn replica_ids() {
        assert!(replica_id("0a1b2c-dev.1").is_ok());
        assert!(replica_id("").is_err());
        assert!(replica_id("a b").is_err());
        assert!(replica_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn garbage_change_is_malformed() {
        let request = SyncRequest {
            push: vec![daftar_protocol::PushChange {
                doc: "journal/j".into(),
                change: daftar_protocol::Bytes(vec![1, 2, 3]),
            }],
            ..SyncRequest::default()
        };
        assert!(matches!(
            decode_push(&request, &daftar_rules::Limits::default()),
            Err(ApiError::Malformed { .. })
        ));
    }

    #[test]
    fn meta_references_must_have_the_right_kind() {
        let meta = DocMeta {
            group: Some("module/m".into()),
            ..DocMeta::default()
        };
        assert!(check_meta("journal/j", &meta).is_err());
    }
}

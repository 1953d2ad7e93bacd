//! Reading an automerge change from outside bytes: bounded, then decoded into the writes the
//! rule table judges.
//!
//! The order matters, because the bytes may be hostile:
//!
//! 1. the chunk header is read by hand: a compressed change chunk (type 2) is refused before
//!    anything inflates it (a 1.4 MB chunk can inflate to 1 GiB); Daftar clients send raw
//!    change chunks only, and the request body is zstd-compressed as a whole anyway;
//! 2. the change is parsed (automerge verifies its columns without keeping the ops) and its op
//!    count is checked against [`Limits::max_ops`] before any op is expanded;
//! 3. a change by the document's genesis actor must be byte for byte the genesis the server
//!    rebuilds itself ([`crate::genesis`]): a second genesis would shadow every map;
//! 4. every op must be a plain string put or a delete on one of the document's top-level maps
//!    (documents are flat maps of scalars): no new objects, no counters, no text marks, no
//!    writes to the root, keys and values of bounded size.

use std::collections::hash_map::Entry;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Change, ScalarValue};
use daftar_protocol::{DocKind, ErrorCode, genesis_actor};

use crate::genesis;

/// Bounds on one change, before anything else looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Ops one change may hold. An import of a whole journal is a few thousand.
    pub max_ops: usize,
    /// Bytes of one map key.
    pub max_key_bytes: usize,
    /// Bytes of one value.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ops: 50_000,
            max_key_bytes: 256,
            max_value_bytes: 16 * 1024,
        }
    }
}

/// One write of a change to one key of a top-level map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub map: &'static str,
    pub key: String,
    pub op: WriteOp,
}

/// What a write does to its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// A value where the writer saw none.
    Create(String),
    /// A value over one the writer saw.
    Change(String),
    Delete,
}

impl WriteOp {
    pub fn value(&self) -> Option<&str> {
        match self {
            WriteOp::Create(v) | WriteOp::Change(v) => Some(v),
            WriteOp::Delete => None,
        }
    }
}

/// A change as the rule table sees it.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub hash: [u8; 32],
    pub actor: Vec<u8>,
    pub seq: u64,
    /// The device's wall clock at the edit, unix ms.
    pub time: i64,
    /// The user the change's message claims made it (`{"by": …}`), if it claims one.
    pub claimed_by: Option<String>,
    /// The exact genesis change of its document.
    pub genesis: bool,
    pub writes: Vec<Write>,
}

/// Why a change cannot even be read as a Daftar change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub code: ErrorCode,
    pub reason: String,
    /// The change's hash, when the bytes parse as a change at all (a refusal can then name
    /// it); `None` for bytes that are no change.
    pub hash: Option<[u8; 32]>,
    /// Its device (actor) and the device's sequence number, with the hash: what a server
    /// looks a change up by when it may have been stored under looser limits.
    pub device: Option<(Vec<u8>, u64)>,
}

impl Unreadable {
    fn malformed(reason: impl Into<String>) -> Self {
        Unreadable {
            code: ErrorCode::Malformed,
            reason: reason.into(),
            hash: None,
            device: None,
        }
    }

    fn too_large(reason: String) -> Self {
        Unreadable {
            code: ErrorCode::TooLarge,
            ..Unreadable::malformed(reason)
        }
    }

    /// Names the change the bytes parsed as.
    fn of(mut self, change: &Change) -> Self {
        self.hash = Some(change.hash().0);
        self.device = Some((change.actor_id().to_bytes().to_vec(), change.seq()));
        self
    }
}

/// The 4 magic bytes every automerge chunk starts with.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED_CHANGE: u8 = 2;

/// Reads `bytes` as one change of `doc_id` (of `kind`), within `limits`.
pub fn inspect(
    doc_id: &str,
    kind: DocKind,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Inspected, Unreadable> {
    if bytes.len() < 9 || bytes[..4] != MAGIC {
        return Err(Unreadable::malformed("this is not an automerge change"));
    }
    match bytes[8] {
        CHUNK_CHANGE => {}
        CHUNK_COMPRESSED_CHANGE => {
            return Err(Unreadable::malformed(
                "compressed change chunks are not accepted; send the raw change",
            ));
        }
        _ => {
            return Err(Unreadable::malformed(
                "this automerge chunk is not a change",
            ));
        }
    }
    let change = Change::try_from(bytes)
        .map_err(|e| Unreadable::malformed(format!("this is not an automerge change: {e}")))?;
    let hash = change.hash().0;
    if change.len() > limits.max_ops {
        return Err(Unreadable::too_large(format!(
            "this change holds {} operations; the server takes at most {} in one change",
            change.len(),
            limits.max_ops
        ))
        .of(&change));
    }
    let actor = change.actor_id().to_bytes().to_vec();
    let base = Inspected {
        hash,
        actor: actor.clone(),
        seq: change.seq(),
        time: change.timestamp(),
        claimed_by: claimed_author(change.message()),
        genesis: false,
        writes: Vec::new(),
    };
    if actor.as_slice() == genesis_actor(doc_id).as_slice() {
        if genesis::genesis_change(doc_id, kind).0 == hash {
            return Ok(Inspected {
                genesis: true,
                ..base
            });
        }
        return Err(Unreadable::malformed(
            "only the document's own genesis change may use its genesis actor",
        )
        .of(&change));
    }
    // Every change a Daftar replica makes writes something, and names each other device once
    // (found by fuzzing: an empty change whose device table repeated an entry made automerge
    // panic on every replica that applied it).
    if change.is_empty() {
        return Err(Unreadable::malformed("this change holds no operations").of(&change));
    }
    let others = change.other_actor_ids();
    let mut seen: Vec<&[u8]> = vec![change.actor_id().to_bytes()];
    for other in others {
        if seen.contains(&other.to_bytes()) {
            return Err(Unreadable::malformed("this change names a device twice").of(&change));
        }
        seen.push(other.to_bytes());
    }
    let expanded = change.decode();
    // Operations the decoder cannot read (one naming an actor the change never declares) are
    // left out of `decode()` silently; a change whose operations do not all decode is refused,
    // or it would pass the rule table with no writes at all (found by fuzzing: such a change
    // made automerge panic on every replica that applied it).
    if expanded.operations.len() != change.len() {
        return Err(Unreadable::malformed(
            "some operations of this change cannot be read (they name an unknown device)",
        )
        .of(&change));
    }
    // An op's predecessor made by this same change (an earlier op of it) says nothing about
    // what the key held before the change.
    let (me, first, last) = (
        change.actor_id().clone(),
        change.start_op().get(),
        change.max_op(),
    );
    let outside = |id: &automerge::legacy::OpId| id.1 != me || !(first..=last).contains(&id.0);
    /// What the ops so far leave on one key.
    struct Slot {
        write: Write,
        /// One of its ops replaced a value from before this change.
        replaced: bool,
        /// The op counter of this change's put it leaves visible, if any.
        visible: Option<u64>,
    }
    let mut slots: Vec<Slot> = Vec::with_capacity(expanded.operations.len());
    // The slot each key's latest op went to.
    let mut latest: std::collections::HashMap<(&'static str, String), usize> =
        std::collections::HashMap::new();
    for (i, op) in expanded.operations.iter().enumerate() {
        let id = first + i as u64;
        let map = match &op.obj {
            ObjectId::Id(id) => genesis::map_of_object(doc_id, kind, id.0, id.1.to_bytes()),
            ObjectId::Root => None,
        };
        let Some(map) = map else {
            return Err(Unreadable::malformed(
                "a change may only write to the document's own top-level maps",
            )
            .of(&change));
        };
        let key = match &op.key {
            Key::Map(k) if !op.insert => k.to_string(),
            _ => return Err(Unreadable::malformed("documents hold maps, not lists").of(&change)),
        };
        if key.is_empty() || key.len() > limits.max_key_bytes {
            return Err(Unreadable::malformed(format!(
                "a key is 1 to {} bytes long",
                limits.max_key_bytes
            ))
            .of(&change));
        }
        let write = match &op.action {
            OpType::Put(ScalarValue::Str(s)) => {
                if s.len() > limits.max_value_bytes {
                    return Err(Unreadable::too_large(format!(
                        "a value is at most {} bytes long",
                        limits.max_value_bytes
                    ))
                    .of(&change));
                }
                WriteOp::Create(s.to_string())
            }
            OpType::Delete => WriteOp::Delete,
            _ => {
                return Err(Unreadable::malformed(
                    "documents hold text values only: no nested objects, counters or marks",
                )
                .of(&change));
            }
        };
        // One write per key, judged by what the change leaves there: a delete of the values a
        // writer saw followed by a put (what automerge needs to supersede concurrent values,
        // one of them equal to the new one) is an overwrite, as one put over all of them
        // would be; a put followed by a delete of it is a delete. An op that leaves an earlier
        // put of this change standing beside it (two values of one change, concurrent) is a
        // write of its own, judged on its own.
        let fresh = |slots: &mut Vec<Slot>, key: String| {
            slots.push(Slot {
                write: Write {
                    map,
                    key,
                    op: WriteOp::Delete,
                },
                replaced: false,
                visible: None,
            });
            slots.len() - 1
        };
        let slot = match latest.entry((map, key)) {
            Entry::Occupied(mut e) => {
                let at = *e.get();
                let over = slots[at]
                    .visible
                    .is_none_or(|put| op.pred.iter().any(|p| p.1 == me && p.0 == put));
                if over {
                    at
                } else {
                    let at = fresh(&mut slots, e.key().1.clone());
                    e.insert(at);
                    at
                }
            }
            Entry::Vacant(e) => {
                let at = fresh(&mut slots, e.key().1.clone());
                e.insert(at);
                at
            }
        };
        let s = &mut slots[slot];
        s.replaced |= op.pred.iter().any(outside);
        s.visible = matches!(write, WriteOp::Create(_)).then_some(id);
        s.write.op = match write {
            WriteOp::Create(v) if s.replaced => WriteOp::Change(v),
            other => other,
        };
    }
    // A key this change created and deleted again holds nothing: no write to judge.
    let writes = slots
        .into_iter()
        .filter(|s| s.replaced || s.write.op != WriteOp::Delete)
        .map(|s| s.write)
        .collect();
    Ok(Inspected { writes, ..base })
}

/// The `by` of a change message `{"by": user, "do": action}`.
fn claimed_author(message: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(message?).ok()?;
    value.get("by")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ActorId, ObjType, ROOT, ReadDoc};

    fn journal_with(
        f: impl FnOnce(&mut automerge::AutoCommit, &automerge::ObjId),
    ) -> (Vec<u8>, Vec<u8>) {
        let mut am = crate::genesis::genesis_doc("journal/j", DocKind::Journal);
        am.set_actor(ActorId::random());
        let (_, marks) = am.get(ROOT, "marks").expect("read").expect("marks");
        f(&mut am, &marks);
        am.commit_with(
            CommitOptions::default()
                .with_message(r#"{"by":"anvar","do":"mark"}"#)
                .with_time(5),
        );
        let change = am.get_last_local_change().expect("change");
        let raw = change.raw_bytes().to_vec();
        let mut c = change.clone();
        (raw, c.bytes().into_owned())
    }

    #[test]
    fn reads_puts_and_deletes_on_top_level_maps() {
        let (raw, _) = journal_with(|am, marks| {
            am.put(marks, "h1/s1", r#"{"s":"a","h":2}"#).expect("put");
        });
        let got = inspect("journal/j", DocKind::Journal, &raw, &Limits::default()).expect("ok");
        assert_eq!(got.claimed_by.as_deref(), Some("anvar"));
        assert_eq!(
            got.writes,
            vec![Write {
                map: "marks",
                key: "h1/s1".into(),
                op: WriteOp::Create(r#"{"s":"a","h":2}"#.into())
            }]
        );
    }

    #[test]
    fn refuses_nested_objects_and_compressed_chunks() {
        let (raw, _) = journal_with(|am, marks| {
            am.put_object(marks, "x", ObjType::Map).expect("obj");
        });
        assert!(inspect("journal/j", DocKind::Journal, &raw, &Limits::default()).is_err());
        let (raw, compressed) = journal_with(|am, marks| {
            for i in 0..100 {
                am.put(marks, format!("h{i}/s1"), "same value repeated, repeated")
                    .expect("put");
            }
        });
        assert_ne!(raw, compressed, "big enough to compress");
        assert!(inspect("journal/j", DocKind::Journal, &raw, &Limits::default()).is_ok());
        let err = inspect(
            "journal/j",
            DocKind::Journal,
            &compressed,
            &Limits::default(),
        )
        .expect_err("compressed");
        assert!(err.reason.contains("compressed"), "{}", err.reason);
    }

    #[test]
    fn op_cap_and_genesis_rules() {
        let (raw, _) = journal_with(|am, marks| {
            for i in 0..20 {
                am.put(marks, format!("h{i}/s1"), "v").expect("put");
            }
        });
        let small = Limits {
            max_ops: 10,
            ..Limits::default()
        };
        assert_eq!(
            inspect("journal/j", DocKind::Journal, &raw, &small)
                .expect_err("cap")
                .code,
            ErrorCode::TooLarge
        );
        let (_, genesis) = crate::genesis::genesis_change("journal/j", DocKind::Journal);
        assert!(
            inspect("journal/j", DocKind::Journal, &genesis, &Limits::default())
                .expect("genesis")
                .genesis
        );
        // The genesis of another document is not this one's.
        let (_, other) = crate::genesis::genesis_change("journal/k", DocKind::Journal);
        assert!(inspect("journal/j", DocKind::Journal, &other, &Limits::default()).is_err());
    }

    /// A journal whose `marks["h1/s1"]` holds "a" from one device and "b" from another,
    /// concurrently, and a third device that has both.
    fn conflicted() -> automerge::AutoCommit {
        let mut base = crate::genesis::genesis_doc("journal/j", DocKind::Journal);
        let mut one = base.fork();
        one.set_actor(ActorId::random());
        let mut two = base.fork();
        two.set_actor(ActorId::random());
        for (d, v) in [(&mut one, "a"), (&mut two, "b")] {
            let (_, marks) = d.get(ROOT, "marks").expect("read").expect("marks");
            d.put(&marks, "h1/s1", v).expect("put");
            d.commit();
        }
        one.merge(&mut two).expect("merge");
        let mut three = one.fork();
        three.set_actor(ActorId::random());
        three
    }

    fn last_change(am: &mut automerge::AutoCommit) -> Vec<u8> {
        am.commit_with(CommitOptions::default().with_message(r#"{"by":"anvar","do":"mark"}"#));
        am.get_last_local_change()
            .expect("change")
            .raw_bytes()
            .to_vec()
    }

    /// Superseding concurrent values takes a delete and a put of the same key in one change
    /// (automerge writes no put equal to the visible value): that is one overwrite, not a
    /// deletion (a teacher was refused "may not delete" marking a lesson twice held).
    #[test]
    fn a_delete_then_a_put_of_one_key_is_one_overwrite() {
        let mut am = conflicted();
        let (_, marks) = am.get(ROOT, "marks").expect("read").expect("marks");
        am.delete(&marks, "h1/s1").expect("delete");
        am.put(&marks, "h1/s1", "b").expect("put");
        let raw = last_change(&mut am);
        let got = inspect("journal/j", DocKind::Journal, &raw, &Limits::default()).expect("ok");
        assert_eq!(
            got.writes,
            vec![Write {
                map: "marks",
                key: "h1/s1".into(),
                op: WriteOp::Change("b".into())
            }]
        );
        // What automerge itself makes of a put equal to the visible value: a delete of the
        // other value only, still a delete to the rules (a server cannot tell it apart from
        // deleting the key without the document, so replicas never send one).
        let mut am = conflicted();
        let (_, marks) = am.get(ROOT, "marks").expect("read").expect("marks");
        let visible = am.get(&marks, "h1/s1").expect("read").expect("value").0;
        am.put(&marks, "h1/s1", visible.as_str().expect("text").to_string())
            .expect("put");
        let raw = last_change(&mut am);
        let got = inspect("journal/j", DocKind::Journal, &raw, &Limits::default()).expect("ok");
        assert_eq!(got.writes.len(), 1);
        assert_eq!(got.writes[0].op, WriteOp::Delete);
    }

    /// A key a change writes and deletes again is no write; a key written twice, the second
    /// over the first, is one write of the second value, a creation.
    #[test]
    fn writes_a_change_undoes_itself_are_judged_by_what_stays() {
        let (raw, _) = journal_with(|am, marks| {
            am.put(marks, "h1/s1", "x").expect("put");
            am.delete(marks, "h1/s1").expect("delete");
            am.put(marks, "h2/s1", "first").expect("put");
            am.put(marks, "h2/s1", "second").expect("put");
        });
        let got = inspect("journal/j", DocKind::Journal, &raw, &Limits::default()).expect("ok");
        assert_eq!(
            got.writes,
            vec![Write {
                map: "marks",
                key: "h2/s1".into(),
                op: WriteOp::Create("second".into())
            }]
        );
    }

    /// A hand-made change with two puts of one key, neither over the other, leaves both
    /// values standing: each is judged, the first one too (only the last would let any value
    /// through beside an allowed one).
    #[test]
    fn two_values_of_one_change_standing_side_by_side_are_two_writes() {
        let (raw, _) = journal_with(|am, marks| {
            am.put(marks, "h1/s1", "allowed").expect("put");
        });
        let change = automerge::Change::try_from(raw.as_slice()).expect("change");
        let mut expanded = change.decode();
        let mut sneaked = expanded.operations[0].clone();
        sneaked.action = OpType::Put(ScalarValue::Str("sneaked in".into()));
        expanded.operations.insert(0, sneaked);
        let crafted = automerge::Change::from(expanded);
        let got = inspect(
            "journal/j",
            DocKind::Journal,
            crafted.raw_bytes(),
            &Limits::default(),
        )
        .expect("readable");
        let values: Vec<_> = got.writes.iter().map(|w| w.op.clone()).collect();
        assert_eq!(
            values,
            vec![
                WriteOp::Create("sneaked in".into()),
                WriteOp::Create("allowed".into())
            ]
        );
    }
}

//! Document shapes and the genesis change every replica writes identically.
//!
//! Every document is a root map of flat maps of scalars. The top-level maps are created by a
//! *genesis change* with a fixed actor ([`daftar_protocol::genesis_actor`]), time 0 and no
//! message, so every replica that creates the same document produces the same change hash and
//! the same map object ids: map `i` (0-based, in [`maps_of`] order) is the object created by op
//! `i + 1` of the genesis actor. That makes the map an op writes to readable from the op alone,
//! which is what lets the server check a change without loading the document.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use daftar_protocol::{DocKind, genesis_actor};

/// The maps of a document kind, in genesis order.
pub fn maps_of(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Catalog => &["meta", "faculties", "departments", "teachers", "settings"],
        DocKind::Group => &["meta", "students"],
        DocKind::Module => &["meta", "hours", "controls", "topics", "materials"],
        DocKind::Journal => &[
            "meta",
            "lessons",
            "topics",
            "status",
            "marks",
            "scores",
            "adjustments",
            "locks",
            "resolutions",
        ],
    }
}

/// The document's genesis as an automerge document (its only change is the genesis change).
pub fn genesis_doc(doc_id: &str, kind: DocKind) -> AutoCommit {
    let mut am = AutoCommit::new().with_actor(ActorId::from(&genesis_actor(doc_id)[..]));
    for name in maps_of(kind) {
        // A fresh document's root map takes any key: this cannot fail.
        let _ = am.put_object(ROOT, *name, ObjType::Map);
    }
    am.commit_with(CommitOptions::default().with_time(0));
    am
}

/// The raw bytes and hash of the document's genesis change.
pub fn genesis_change(doc_id: &str, kind: DocKind) -> ([u8; 32], Vec<u8>) {
    let mut am = genesis_doc(doc_id, kind);
    match am.get_last_local_change() {
        Some(change) => (change.hash().0, change.raw_bytes().to_vec()),
        // The genesis always has ops, so a change exists.
        None => ([0; 32], Vec::new()),
    }
}

/// The map an object id names, when it is one of the document's top-level maps.
pub fn map_of_object(
    doc_id: &str,
    kind: DocKind,
    counter: u64,
    actor: &[u8],
) -> Option<&'static str> {
    if actor != genesis_actor(doc_id).as_slice() {
        return None;
    }
    let index = usize::try_from(counter).ok()?.checked_sub(1)?;
    maps_of(kind).get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ReadDoc;

    #[test]
    fn genesis_is_identical_and_maps_follow_op_order() {
        let (h1, b1) = genesis_change("journal/x", DocKind::Journal);
        let (h2, b2) = genesis_change("journal/x", DocKind::Journal);
        assert_eq!((h1, &b1), (h2, &b2));
        assert_ne!(h1, genesis_change("journal/y", DocKind::Journal).0);
        let am = genesis_doc("journal/x", DocKind::Journal);
        for (i, name) in maps_of(DocKind::Journal).iter().enumerate() {
            let (_, obj) = am.get(ROOT, *name).expect("read").expect("map");
            match obj {
                automerge::ObjId::Id(counter, actor, _) => {
                    assert_eq!(counter, i as u64 + 1);
                    assert_eq!(
                        map_of_object("journal/x", DocKind::Journal, counter, actor.to_bytes()),
                        Some(*name)
                    );
                }
                automerge::ObjId::Root => panic!("a map is not the root"),
            }
        }
    }
}

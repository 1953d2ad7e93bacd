//! Automerge documents and their shape (design §2).
//!
//! Every document is a root map of flat maps of scalars, created by a *genesis change* that
//! every replica writes identically (actor [`daftar_protocol::genesis_actor`], time 0). So two
//! replicas that create the same document independently (two admins importing the same HEMIS
//! export) share the top-level objects, and a later concurrent write to one cell is an ordinary
//! conflict on one key that keeps every value, never a shadowed object.
//!
//! | kind    | maps |
//! |---------|------|
//! | catalog | `meta`, `faculties`, `departments`, `teachers`, `settings` |
//! | group   | `meta`, `students` |
//! | module  | `meta`, `hours`, `controls`, `topics`, `materials` |
//! | journal | `meta`, `lessons`, `topics`, `status`, `marks`, `scores`, `adjustments`, `locks`, `resolutions` |
//!
//! Values are short JSON strings (see [`crate::model`]), keys are ids or composite ids
//! (`marks["<lesson>/<student>"]`, `scores["<control>/<sitting>/<student>"]`).

use std::collections::HashMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use daftar_protocol::DocKind;

use crate::error::{CoreError, Result};

pub use daftar_rules::genesis::maps_of;

/// Runs an automerge call on outside bytes; a panic in it becomes [`CoreError::Unreadable`]
/// (`daftar_rules::guard`). The caller must drop the document the call worked on.
pub fn guarded<T>(doc: &str, f: impl FnOnce() -> T) -> Result<T> {
    daftar_rules::guarded(f).map_err(|reason| CoreError::Unreadable {
        doc: doc.to_string(),
        reason,
    })
}

/// One loaded document with its top-level map ids.
pub struct Doc {
    pub id: String,
    pub kind: DocKind,
    pub am: AutoCommit,
    maps: HashMap<&'static str, ObjId>,
    /// The replica's record of who made changes (shared by its documents).
    pub provenance: crate::provenance::Provenance,
}

/// What a key holds before a write: its winning value and whether others sit beside it.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    pub value: &'a str,
    pub conflict: bool,
}

impl Doc {
    /// Creates a document from its genesis change, then writes as `device`.
    pub fn create(id: &str, kind: DocKind, device: &ActorId) -> Result<Doc> {
        let am = daftar_rules::genesis::genesis_doc(id, kind);
        Ok(Doc::from_automerge(id, kind, am, device))
    }

    fn from_automerge(id: &str, kind: DocKind, mut am: AutoCommit, device: &ActorId) -> Doc {
        am.set_actor(device.clone());
        let mut doc = Doc {
            id: id.to_string(),
            kind,
            am,
            maps: HashMap::new(),
            provenance: Default::default(),
        };
        doc.find_maps();
        doc
    }

    /// Loads a document from a snapshot (if any) and the change chunks after it.
    pub fn load<'a>(
        id: &str,
        kind: DocKind,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
        device: &ActorId,
    ) -> Result<Doc> {
        let am = guarded(id, || -> Result<AutoCommit> {
            let mut am = match snapshot {
                Some(bytes) => AutoCommit::load(bytes).map_err(|source| doc_err(id, source))?,
                None => AutoCommit::new(),
            };
            for chunk in chunks {
                am.load_incremental(chunk)
                    .map_err(|source| doc_err(id, source))?;
            }
            Ok(am)
        })??;
        Ok(Doc::from_automerge(id, kind, am, device))
    }

    /// Looks up the top-level maps (after a load or after changes arrived).
    pub fn find_maps(&mut self) {
        for name in maps_of(self.kind) {
            if let Ok(Some((Value::Object(ObjType::Map), obj))) = self.am.get(ROOT, *name) {
                self.maps.insert(*name, obj);
            }
        }
    }

    /// Which top-level map an object (given as a legacy op id: counter and actor) is.
    pub fn map_name_of(&self, counter: u64, actor: &ActorId) -> Option<&'static str> {
        self.maps.iter().find_map(|(name, obj)| match obj {
            ObjId::Id(c, a, _) if *c == counter && a == actor => Some(*name),
            _ => None,
        })
    }

    /// Whether the genesis change has arrived (the maps exist).
    pub fn is_complete(&self) -> bool {
        self.maps.len() == maps_of(self.kind).len()
    }

    pub fn map(&self, name: &'static str) -> Result<&ObjId> {
        self.maps.get(name).ok_or_else(|| CoreError::Document {
            doc: self.id.clone(),
            source: Box::new(automerge::AutomergeError::InvalidObjId(format!(
                "missing map {name}"
            ))),
        })
    }

    /// The winning string value at `map[key]`.
    pub fn get(&self, map: &'static str, key: &str) -> Option<String> {
        let obj = self.maps.get(map)?;
        match self.am.get(obj, key) {
            Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Every concurrent string value at `map[key]`, with its op id, in op order.
    pub fn get_all(&self, map: &'static str, key: &str) -> Vec<(String, automerge::ObjId)> {
        let Some(obj) = self.maps.get(map) else {
            return Vec::new();
        };
        match self.am.get_all(obj, key) {
            Ok(values) => values
                .into_iter()
                .filter_map(|(v, id)| match v {
                    Value::Scalar(s) => s.as_str().map(|s| (s.to_string(), id)),
                    Value::Object(_) => None,
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The value at `map[key]` as the document was at `heads`.
    pub fn get_at(&self, map: &'static str, key: &str, heads: &[ChangeHash]) -> Option<String> {
        let obj = self.maps.get(map)?;
        match self.am.get_at(obj, key, heads) {
            Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Keys of a map, sorted.
    pub fn keys(&self, map: &'static str) -> Vec<String> {
        match self.maps.get(map) {
            Some(obj) => self.am.keys(obj).collect(),
            None => Vec::new(),
        }
    }

    /// Puts a string; returns false (and writes nothing) when the key already holds exactly
    /// this value with no conflict, so repeating an edit costs nothing.
    pub fn put(&mut self, map: &'static str, key: &str, value: &str) -> Result<bool> {
        let current = self.get_all(map, key);
        let known = match current.as_slice() {
            [] => None,
            [(v, _)] => Some(Current {
                value: v.as_str(),
                conflict: false,
            }),
            [.., (v, _)] => Some(Current {
                value: v.as_str(),
                conflict: true,
            }),
        };
        self.put_over(map, key, value, known)
    }

    /// [`Doc::put`] when the caller already read the key's current state (e.g. with
    /// [`Doc::prefix`] for many keys at once), sparing a lookup per key.
    pub fn put_over(
        &mut self,
        map: &'static str,
        key: &str,
        value: &str,
        current: Option<Current<'_>>,
    ) -> Result<bool> {
        if let Some(Current { value: v, conflict }) = current
            && v == value
        {
            if !conflict {
                return Ok(false);
            }
            // Over concurrent values, automerge writes a put equal to the visible one as a
            // delete of the others only, which the rules (and the server) read as deleting
            // the key: a teacher marking a lesson both of their devices had marked held was
            // refused "may not delete lesson status". Every value goes, then the put.
            self.put_always(map, key, value)?;
            return Ok(true);
        }
        let obj = self.map(map)?.clone();
        self.am
            .put(&obj, key, value)
            .map_err(|source| doc_err(&self.id, source))?;
        Ok(true)
    }

    /// Every key of `map` starting with `prefix`, with its winning string value and whether
    /// concurrent values sit beside it: one pass over that stretch of the map.
    pub fn prefix(&self, map: &'static str, prefix: &str) -> Vec<(String, String, bool)> {
        let Some(obj) = self.maps.get(map) else {
            return Vec::new();
        };
        let mut end = prefix.to_string();
        match end.pop() {
            // The first string after every key that starts with `prefix`.
            Some(last) => end.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX)),
            None => return Vec::new(),
        }
        self.am
            .map_range(obj, prefix.to_string()..end)
            .filter_map(|item| match &item.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                    Some((item.key.to_string(), s.to_string(), item.conflict))
                }
                _ => None,
            })
            .collect()
    }

    /// Writes a new op even when the value is unchanged: a resolution must supersede every
    /// concurrent value with an op of the resolver's, including one equal to the choice
    /// (automerge skips a put that repeats the visible value, so the old ops are deleted
    /// first, in the same change).
    pub fn put_always(&mut self, map: &'static str, key: &str, value: &str) -> Result<()> {
        let obj = self.map(map)?.clone();
        if !self.get_all(map, key).is_empty() {
            self.am
                .delete(&obj, key)
                .map_err(|source| doc_err(&self.id, source))?;
        }
        self.am
            .put(&obj, key, value)
            .map_err(|source| doc_err(&self.id, source))
    }

    pub fn delete(&mut self, map: &'static str, key: &str) -> Result<bool> {
        if self.get_all(map, key).is_empty() {
            return Ok(false);
        }
        let obj = self.map(map)?.clone();
        self.am
            .delete(&obj, key)
            .map_err(|source| doc_err(&self.id, source))?;
        Ok(true)
    }

    /// Commits pending operations as one change; returns its raw bytes and hash.
    pub fn commit(&mut self, message: &str, time_ms: i64) -> Option<(ChangeHash, Vec<u8>)> {
        let hash = self.am.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(time_ms),
        )?;
        let change = self.am.get_last_local_change()?;
        Some((hash, change.raw_bytes().to_vec()))
    }

    /// Throws away uncommitted operations.
    pub fn rollback(&mut self) {
        self.am.rollback();
    }
}

pub(crate) fn doc_err(id: &str, source: automerge::AutomergeError) -> CoreError {
    CoreError::Document {
        doc: id.to_string(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_identical_on_every_replica() {
        let mut a = Doc::create("journal/x", DocKind::Journal, &ActorId::random()).expect("create");
        let mut b = Doc::create("journal/x", DocKind::Journal, &ActorId::random()).expect("create");
        assert_eq!(a.am.get_heads(), b.am.get_heads());
        assert!(a.is_complete());
    }

    #[test]
    fn concurrent_creation_keeps_both_cells() {
        let mut a = Doc::create("journal/x", DocKind::Journal, &ActorId::random()).expect("a");
        let mut b = Doc::create("journal/x", DocKind::Journal, &ActorId::random()).expect("b");
        a.put("marks", "l1/s1", "A").expect("put");
        a.commit("a", 1);
        b.put("marks", "l1/s2", "B").expect("put");
        b.commit("b", 2);
        a.am.merge(&mut b.am).expect("merge");
        assert_eq!(a.get("marks", "l1/s1").as_deref(), Some("A"));
        assert_eq!(a.get("marks", "l1/s2").as_deref(), Some("B"));
    }

    #[test]
    fn repeated_put_writes_nothing() {
        let mut a = Doc::create("group/g", DocKind::Group, &ActorId::random()).expect("a");
        assert!(a.put("students", "s1", "x").expect("put"));
        assert!(a.commit("m", 1).is_some());
        assert!(!a.put("students", "s1", "x").expect("put"));
        assert!(a.commit("m", 2).is_none());
    }

    #[test]
    fn prefix_reads_exactly_one_lessons_keys_with_their_conflicts() {
        let mut a = Doc::create("journal/j", DocKind::Journal, &ActorId::random()).expect("a");
        for key in ["h1/s1", "h1/s2", "h10/s1", "h0/s9", "h1", "h2/s1"] {
            a.put("marks", key, key).expect("put");
        }
        a.commit("m", 1);
        let mut b = Doc::create("journal/j", DocKind::Journal, &ActorId::random()).expect("b");
        b.am.merge(&mut a.am).expect("merge");
        b.find_maps();
        a.put("marks", "h1/s2", "from a").expect("put");
        b.put("marks", "h1/s2", "from b").expect("put");
        a.commit("m", 2);
        b.commit("m", 2);
        a.am.merge(&mut b.am).expect("merge");
        let got = a.prefix("marks", "h1/");
        let keys: Vec<&str> = got.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["h1/s1", "h1/s2"]);
        assert_eq!((got[0].1.as_str(), got[0].2), ("h1/s1", false));
        assert!(got[1].2, "the concurrent values are reported");
        assert_eq!(got[1].1, a.get("marks", "h1/s2").expect("winner"));
        // put_over with what prefix read behaves like put.
        let current = Some(Current {
            value: "h1/s1",
            conflict: false,
        });
        assert!(
            !a.put_over("marks", "h1/s1", "h1/s1", current)
                .expect("same")
        );
        assert!(a.put_over("marks", "h1/s1", "new", current).expect("new"));
    }
}

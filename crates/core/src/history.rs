//! The history of a journal's cells: every change that wrote a mark, an adjustment, a lock, a
//! lesson's header, topic or status, or a resolution, with its author as the server recorded
//! it (`crate::provenance`), the device and the edit time (issue 9, *Cell history*).
//!
//! Read from the document's change graph, not from the projection: the projection holds only
//! the current values, the document holds every one. A replica holds only documents its user
//! may read, so whoever can open the journal can read its history.

use automerge::legacy::{ObjectId, OpType};
use serde::{Deserialize, Serialize};

use crate::conflicts;
use crate::error::Result;
use crate::replica::Replica;

/// One write of one change to one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct HistoryEntry {
    /// The part written (`marks`, `adjustments`, `locks`, `lessons`, `topics`, `status`,
    /// `resolutions`, …).
    pub map: String,
    pub key: String,
    /// The value written; `None` when the key was cleared.
    pub value: Option<String>,
    /// How people read the value (`NB`, `85`, `→ excused: …`), when it has a reading.
    pub display: Option<String>,
    /// The user: the server's record of the device when known (`verified`), else the name the
    /// change claims.
    pub user: Option<String>,
    pub verified: bool,
    /// The device (automerge actor), shortened.
    pub device: String,
    /// The device's clock at the edit, unix ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub edited_at: i64,
    /// When the server received it, where that is more than a day from `edited_at`.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub received_at: Option<i64>,
    /// The action the change was made by (`mark`, `adjust`, `lock`, `resolve`, …).
    pub action: Option<String>,
    /// Hex change hash.
    pub change: String,
}

/// Which keys a history covers.
fn covers(map: &str, key: &str, lesson: Option<&str>, student: Option<&str>) -> bool {
    let Some(lesson) = lesson else {
        return map != "meta";
    };
    // A cell's keys: its mark `<lesson>/<student>`, its adjustments with an entry id after.
    let cell = |k: &str| {
        let mut parts = k.splitn(3, '/');
        let (l, s) = (parts.next(), parts.next());
        l == Some(lesson) && student.is_none_or(|want| s == Some(want))
    };
    match map {
        "marks" | "adjustments" => cell(key),
        "resolutions" => key.split_once(':').is_some_and(|(_, k)| cell(k)),
        "lessons" | "topics" | "status" | "locks" => student.is_none() && key == lesson,
        _ => false,
    }
}

fn display(map: &str, raw: &str) -> Option<String> {
    match map {
        "marks" => Some(conflicts::display("mark", raw)),
        "adjustments" => Some(conflicts::display("adjustment", raw)),
        "locks" => serde_json::from_str::<crate::model::LockValue>(raw)
            .ok()
            .map(|l| l.reason),
        _ => None,
    }
}

impl Replica {
    /// Every change of `journal` (or of one lesson, or one cell) in the order the changes were
    /// made (causal order, then edit time).
    pub fn history(
        &mut self,
        journal: &str,
        lesson: Option<&str>,
        student: Option<&str>,
    ) -> Result<Vec<HistoryEntry>> {
        let doc = self.doc(journal)?;
        let doc_id = doc.id.clone();
        let kind = doc.kind;
        let provenance = doc.provenance.clone();
        let mut out = Vec::new();
        for change in doc.am.get_changes(&[]) {
            let expanded = change.decode();
            let actor = change.actor_id().clone();
            let message: Option<serde_json::Value> =
                change.message().and_then(|m| serde_json::from_str(m).ok());
            let claimed = message
                .as_ref()
                .and_then(|m| m.get("by"))
                .and_then(|b| b.as_str())
                .map(str::to_string);
            let action = message
                .as_ref()
                .and_then(|m| m.get("do"))
                .and_then(|b| b.as_str())
                .map(str::to_string);
            let verified = provenance.author(&actor);
            for op in &expanded.operations {
                let ObjectId::Id(obj) = &op.obj else { continue };
                let Some(map) =
                    daftar_rules::genesis::map_of_object(&doc_id, kind, obj.0, obj.1.to_bytes())
                else {
                    continue;
                };
                let automerge::legacy::Key::Map(key) = &op.key else {
                    continue;
                };
                if !covers(map, key, lesson, student) {
                    continue;
                }
                let value = match &op.action {
                    OpType::Put(automerge::ScalarValue::Str(s)) => Some(s.to_string()),
                    OpType::Delete => None,
                    _ => continue,
                };
                // A resolution clears the old values before it writes the chosen one; the
                // clearing is part of the same decision, not an entry of its own.
                if value.is_none()
                    && expanded.operations.iter().any(|o| {
                        o.obj == op.obj && o.key == op.key && matches!(o.action, OpType::Put(_))
                    })
                {
                    continue;
                }
                out.push(HistoryEntry {
                    map: map.to_string(),
                    key: key.to_string(),
                    display: value.as_deref().and_then(|v| display(map, v)),
                    value,
                    user: verified.clone().or_else(|| claimed.clone()),
                    verified: verified.is_some(),
                    device: conflicts::short_device(&actor),
                    edited_at: change.timestamp(),
                    received_at: provenance.receipt(&change.hash()),
                    action: action.clone(),
                    change: change.hash().to_string(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_cell_history_covers_its_mark_adjustment_and_resolutions() {
        let (l, s) = (Some("h1"), Some("s1"));
        assert!(covers("marks", "h1/s1", l, s));
        assert!(covers("adjustments", "h1/s1", l, s));
        assert!(covers("adjustments", "h1/s1/0190aa", l, s));
        assert!(!covers("adjustments", "h1/s10/0190aa", l, s));
        assert!(covers("resolutions", "mark:h1/s1", l, s));
        assert!(!covers("marks", "h1/s2", l, s));
        assert!(!covers("marks", "h10/s1", l, s));
        assert!(!covers("locks", "h1", l, s));
        assert!(covers("locks", "h1", l, None));
        assert!(covers("marks", "h1/s2", l, None));
        assert!(covers("topics", "h1", None, None));
        assert!(!covers("meta", "group", None, None));
    }
}

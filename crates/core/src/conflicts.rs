//! The conflict inbox (design §3).
//!
//! An inbox entry is a pure function of a journal document, so every replica holding the same
//! changes holds the same entries, whatever order the changes arrived in:
//!
//! - **concurrent**: a mark, score, topic or adjustment holds more than one distinct value
//!   (`get_all`), each with its author, device and edit time (read from the change that wrote it);
//! - **amendment**: a mark in a locked lesson or journal was written concurrently with the lock
//!   (by a device that had not seen it) or after it (by a client that ignored it), other than
//!   by a resolution. The edit is kept, never dropped, and waits for a decision; until then the
//!   value the lock froze stays in effect (the projection's row, so the grid, reports and
//!   exports show it).
//!
//! Resolving writes the chosen value as a new change, which supersedes every concurrent value
//! (and follows the lock), plus a `resolutions` record of who resolved it and why. That change
//! syncs like any edit and clears the entry on every replica that receives it.

use std::collections::{HashMap, HashSet};

use automerge::{ChangeHash, ObjId, ReadDoc};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use daftar_rules::window;

use crate::doc::Doc;
use crate::error::{CoreError, Result};
use crate::model::{AdjustmentValue, LessonValue, MarkValue, ResolutionValue};
use crate::projection::Refresh;
use crate::replica::Replica;

/// One value in an inbox entry. Every field is always written (the CLI's `--json` and the app
/// read the same shape); `Camel` sends it to the UI in camelCase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct ConflictValue {
    /// The raw document value.
    pub value: String,
    /// How people read it (`NB`, `85`, `→ excused: illness`).
    pub display: String,
    /// Who wrote it: the server's record of the device's user when this replica has it
    /// (`verified`), else the name the change itself claims, if any.
    pub user: Option<String>,
    /// `user` comes from the server, not from the change.
    #[serde(default)]
    pub verified: bool,
    /// Device (automerge actor), shortened.
    pub device: String,
    /// Edit time (the device's clock), unix milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub edited_at: i64,
    /// When the server received it, where that is more than a day from `edited_at`.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub received_at: Option<i64>,
    /// For amendments: whether this is the value the lock froze.
    #[serde(default)]
    pub locked: bool,
}

/// An inbox entry as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct Conflict {
    pub id: String,
    /// The journal's document id (the app is sent its short form).
    pub journal: String,
    pub subject: Option<String>,
    pub group: Option<String>,
    /// `mark`, `score`, `topic`, `adjustment`.
    pub field: String,
    pub key: String,
    /// `concurrent` or `amendment`.
    pub kind: String,
    pub lesson: Option<String>,
    pub student: Option<String>,
    pub student_name: Option<String>,
    pub lesson_date: Option<String>,
    pub values: Vec<ConflictValue>,
}

/// How an administrator resolves an entry.
#[derive(Debug, Clone)]
pub enum Choice {
    /// 1-based index into the entry's values.
    Pick(usize),
    /// A new value, written as for the field (`nb`, `+`, `85`, a topic…).
    Value(String),
}

/// Who wrote a value.
#[derive(Debug, Clone)]
pub struct Author {
    /// The server's record of the device's user, else the change's own claim.
    pub user: Option<String>,
    pub verified: bool,
    pub device: String,
    pub edited_at: i64,
    pub received_at: Option<i64>,
    pub hash: Option<ChangeHash>,
}

impl ConflictValue {
    fn new(field: &str, raw: String, author: Author, locked: bool) -> ConflictValue {
        ConflictValue {
            display: display(field, &raw),
            value: raw,
            user: author.user,
            verified: author.verified,
            device: author.device,
            edited_at: author.edited_at,
            received_at: author.received_at,
            locked,
        }
    }
}

/// Ancestors of lock changes, computed once per refresh batch.
#[derive(Default)]
pub struct LockCache {
    ancestors: HashMap<ChangeHash, HashSet<ChangeHash>>,
    /// Whether the document has any lock at all (looked up once per refresh).
    any: Option<bool>,
}

fn map_of(field: &str) -> Option<&'static str> {
    match field {
        "mark" => Some("marks"),
        "score" => Some("scores"),
        "topic" => Some("topics"),
        "adjustment" => Some("adjustments"),
        _ => None,
    }
}

/// Stable inbox id for a key of a document.
pub fn conflict_id(doc_id: &str, field: &str, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(doc_id.as_bytes())
        .chain_update(b"|")
        .chain_update(field.as_bytes())
        .chain_update(b"|")
        .chain_update(key.as_bytes())
        .finalize();
    format!("c{}", &hex::encode(digest)[..10])
}

pub(crate) fn author_of(doc: &mut Doc, op: &ObjId) -> Author {
    let hash = doc.am.hash_for_opid(op);
    let (device, verified) = match op {
        ObjId::Id(_, actor, _) => (short_device(actor), doc.provenance.author(actor)),
        ObjId::Root => (String::new(), None),
    };
    let mut author = Author {
        user: None,
        verified: verified.is_some(),
        device,
        edited_at: 0,
        received_at: hash.and_then(|h| doc.provenance.receipt(&h)),
        hash,
    };
    if let Some(h) = hash
        && let Some(meta) = doc.am.get_change_meta_by_hash(&h)
    {
        author.edited_at = meta.timestamp;
        author.user = verified.or_else(|| {
            meta.message
                .as_deref()
                .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
                .and_then(|v| v.get("by").and_then(|b| b.as_str()).map(str::to_string))
        });
    } else {
        author.user = verified;
    }
    author
}

/// Author of the winning value at `map[key]`.
pub(crate) fn author_of_winner(doc: &mut Doc, map: &'static str, key: &str) -> Option<Author> {
    let (_, op) = doc.get_all(map, key).pop()?;
    Some(author_of(doc, &op))
}

/// A device (automerge actor) as people are shown it: its first 8 hex digits.
pub(crate) fn short_device(actor: &automerge::ActorId) -> String {
    actor.to_hex_string().chars().take(8).collect()
}

/// How people read a raw value of an inbox `field` (`NB`, `85`, `→ excused: illness`).
pub(crate) fn display(field: &str, raw: &str) -> String {
    match field {
        "mark" => serde_json::from_str::<MarkValue>(raw)
            .map(|m| m.display())
            .unwrap_or_else(|_| raw.to_string()),
        "adjustment" => serde_json::from_str::<AdjustmentValue>(raw)
            .map(|a| format!("→ {}: {}", a.to.name(), a.reason))
            .unwrap_or_else(|_| raw.to_string()),
        _ => raw.to_string(),
    }
}

/// The lock covering a mark key (lesson lock first, then the journal's), as its op ids.
fn lock_ops(doc: &Doc, lesson: &str) -> Vec<ObjId> {
    let lesson_lock = doc.get_all("locks", lesson);
    let ops = if lesson_lock.is_empty() {
        doc.get_all("locks", "*")
    } else {
        lesson_lock
    };
    ops.into_iter().map(|(_, op)| op).collect()
}

impl LockCache {
    /// Whether `doc` holds any lock (a journal's or a lesson's, current or concurrent).
    /// Most journals hold none, which spares two map lookups per refreshed mark.
    fn any(&mut self, doc: &Doc) -> bool {
        *self
            .any
            .get_or_insert_with(|| !doc.keys("locks").is_empty())
    }

    /// The changes a lock change (or the change that gave a journal its window) depends on,
    /// directly or not: what was written before it.
    fn ancestors(&mut self, doc: &mut Doc, lock: ChangeHash) -> &HashSet<ChangeHash> {
        self.ancestors.entry(lock).or_insert_with(|| {
            let not_ancestors: HashSet<ChangeHash> = doc
                .am
                .get_changes_meta(&[lock])
                .into_iter()
                .map(|m| m.hash)
                .collect();
            doc.am
                .get_changes_meta(&[])
                .into_iter()
                .map(|m| m.hash)
                .filter(|h| !not_ancestors.contains(h) && *h != lock)
                .collect()
        })
    }
}

/// Refreshes the inbox row for `field` at `key`.
pub fn check(
    tx: &Connection,
    doc: &mut Doc,
    field: &str,
    key: &str,
    locks: &mut LockCache,
) -> Result<()> {
    let Some(map) = map_of(field) else {
        return Ok(());
    };
    let values = doc.get_all(map, key);
    check_values(tx, doc, field, key, values, locks).map(|_| ())
}

/// [`check`] with the key's values (`Doc::get_all`) already read by the caller. For a mark
/// waiting as an amendment, returns the value the lock froze (`Some(None)`: there was none),
/// which stays in effect until the amendment is decided.
pub fn check_values(
    tx: &Connection,
    doc: &mut Doc,
    field: &str,
    key: &str,
    values: Vec<(String, ObjId)>,
    locks: &mut LockCache,
) -> Result<Option<Option<String>>> {
    let id = conflict_id(&doc.id, field, key);
    let lesson = match field {
        "mark" | "adjustment" => key.split_once('/').map(|(l, _)| l.to_string()),
        "topic" => Some(key.to_string()),
        _ => None,
    };
    let student = match field {
        // Adjustments are `<lesson>/<student>/<entry>` (or, from before entries, without it).
        "mark" | "adjustment" => key.split('/').nth(1).map(str::to_string),
        "score" => key.rsplit('/').next().map(str::to_string),
        _ => None,
    };

    let distinct: HashSet<&str> = values.iter().map(|(v, _)| v.as_str()).collect();
    let mut kind = None;
    let mut entries: Vec<ConflictValue> = Vec::new();

    // Amendment: a mark, topic or score written concurrently with the lock that covers it, or
    // after it other than by a resolution of this key. A mark or topic is covered by its
    // lesson's lock (else the journal's), a score by the journal's.
    let mut frozen_value: Option<Option<String>> = None;
    // Changes that resolved this key: they are the office's decision, never late.
    let resolved = |doc: &Doc| -> HashSet<ChangeHash> {
        doc.get_all("resolutions", &format!("{field}:{key}"))
            .into_iter()
            .filter_map(|(_, op)| doc.am.hash_for_opid(&op))
            .collect()
    };
    let covered_by = match field {
        "mark" | "topic" => lesson.as_deref(),
        "score" => Some("*"),
        _ => None,
    };
    if let Some(lock_key) = covered_by
        && let Some(map) = map_of(field)
        && locks.any(doc)
    {
        let lock_op = lock_ops(doc, lock_key).pop();
        if let Some(lock_op) = lock_op
            && let Some(lock_hash) = doc.am.hash_for_opid(&lock_op)
        {
            let resolved = resolved(doc);
            let mut amended = Vec::new();
            for (raw, op) in &values {
                let author = author_of(doc, op);
                let Some(h) = author.hash else { continue };
                let ancestors = locks.ancestors(doc, lock_hash);
                if h != lock_hash && !ancestors.contains(&h) && !resolved.contains(&h) {
                    amended.push((raw.clone(), author));
                }
            }
            if !amended.is_empty() {
                kind = Some("amendment");
                // The value the lock froze, as the document was at the lock.
                let obj = doc.map(map)?.clone();
                let frozen: Vec<(String, ObjId)> = doc
                    .am
                    .get_all_at(&obj, key, &[lock_hash])
                    .map(|values| {
                        values
                            .into_iter()
                            .filter_map(|(v, op)| v.as_str().map(|s| (s.to_string(), op)))
                            .collect()
                    })
                    .unwrap_or_default();
                frozen_value = Some(frozen.last().map(|(v, _)| v.clone()));
                for (raw, op) in frozen {
                    let a = author_of(doc, &op);
                    entries.push(ConflictValue::new(field, raw, a, true));
                }
                for (raw, a) in amended {
                    entries.push(ConflictValue::new(field, raw, a, false));
                }
            }
        }
    }

    // Late: written after the lesson's entry window closed (by the device's clock), outside
    // any opening the dean's office granted, and not by a resolution.
    if kind.is_none()
        && field == "mark"
        && let Some(lesson_id) = &lesson
        && let Some(days) = window::window_days(doc.get("meta", window::WINDOW_KEY).as_deref())
        && let Some(date) = doc
            .get("lessons", lesson_id)
            .and_then(|v| serde_json::from_str::<LessonValue>(&v).ok())
            .map(|l| l.date)
    {
        let opening = doc
            .get("locks", &format!("{}{lesson_id}", window::OPENING_PREFIX))
            .and_then(|v| serde_json::from_str::<window::Opening>(&v).ok());
        let resolved = resolved(doc);
        // The window judges edits made once the journal had it: what was written before (or
        // with it, as an import does) is the journal's history, not a late edit.
        let since = doc
            .get_all("meta", window::WINDOW_KEY)
            .pop()
            .and_then(|(_, op)| doc.am.hash_for_opid(&op));
        let mut late = Vec::new();
        for (raw, op) in &values {
            let a = author_of(doc, op);
            let Some(h) = a.hash else { continue };
            let before_window =
                since.is_some_and(|w| h == w || locks.ancestors(doc, w).contains(&h));
            if !resolved.contains(&h)
                && !before_window
                && window::is_late(&date, Some(days), opening.as_ref(), a.edited_at)
            {
                late.push((raw.clone(), a));
            }
        }
        if !late.is_empty() {
            kind = Some("amendment");
            // In effect meanwhile: the value before the earliest late write.
            let earliest = late
                .iter()
                .min_by_key(|(_, a)| a.edited_at)
                .and_then(|(_, a)| a.hash);
            let deps: Vec<ChangeHash> = earliest
                .and_then(|h| doc.am.get_change_by_hash(&h).map(|c| c.deps().to_vec()))
                .unwrap_or_default();
            let obj = doc.map("marks")?.clone();
            let before: Vec<(String, ObjId)> = if deps.is_empty() {
                Vec::new()
            } else {
                doc.am
                    .get_all_at(&obj, key, &deps)
                    .map(|values| {
                        values
                            .into_iter()
                            .filter_map(|(v, op)| v.as_str().map(|s| (s.to_string(), op)))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            frozen_value = Some(before.last().map(|(v, _)| v.clone()));
            for (raw, op) in before {
                let a = author_of(doc, &op);
                entries.push(ConflictValue::new(field, raw, a, true));
            }
            for (raw, a) in late {
                entries.push(ConflictValue::new(field, raw, a, false));
            }
        }
    }

    if kind.is_none() && distinct.len() > 1 {
        kind = Some("concurrent");
        for (raw, op) in &values {
            let a = author_of(doc, op);
            entries.push(ConflictValue::new(field, raw.clone(), a, false));
        }
    }

    match kind {
        None => {
            tx.prepare_cached("DELETE FROM conflicts WHERE id = ?1")?
                .execute([&id])?;
        }
        Some(kind) => {
            let lesson_date = lesson
                .as_deref()
                .and_then(|l| doc.get("lessons", l))
                .and_then(|v| serde_json::from_str::<LessonValue>(&v).ok())
                .map(|l| l.date);
            let values_json = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into());
            tx.prepare_cached(
                "INSERT INTO conflicts (id, doc_id, field, key, kind, lesson_id, student_id, lesson_date, \"values\")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, lesson_date = excluded.lesson_date,
                   \"values\" = excluded.\"values\"",
            )?
            .execute(params![
                id,
                doc.id,
                field,
                key,
                kind,
                lesson,
                student,
                lesson_date,
                values_json
            ])?;
        }
    }
    Ok(frozen_value)
}

impl Replica {
    /// The inbox, oldest lesson first; `journal` narrows it to one journal.
    pub fn conflicts(&self, journal: Option<&str>) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn().prepare(
            "SELECT c.id, c.doc_id, j.subject, g.name, c.field, c.key, c.kind, c.lesson_id,
                    c.student_id, s.name, c.lesson_date, c.\"values\"
             FROM conflicts c
             LEFT JOIN journals j ON j.id = c.doc_id
             LEFT JOIN groups g ON g.id = j.group_id
             LEFT JOIN students s ON s.group_id = j.group_id AND s.id = c.student_id
             WHERE ?1 IS NULL OR c.doc_id = ?1
             ORDER BY c.lesson_date, c.doc_id, c.key",
        )?;
        let rows = stmt
            .query_map([journal], |r| {
                let values: String = r.get(11)?;
                Ok(Conflict {
                    id: r.get(0)?,
                    journal: r.get(1)?,
                    subject: r.get(2)?,
                    group: r.get(3)?,
                    field: r.get(4)?,
                    key: r.get(5)?,
                    kind: r.get(6)?,
                    lesson: r.get(7)?,
                    student: r.get(8)?,
                    student_name: r.get(9)?,
                    lesson_date: r.get(10)?,
                    values: serde_json::from_str(&values).unwrap_or_default(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let hidden = self.hidden_docs()?;
        Ok(rows
            .into_iter()
            .filter(|c| !hidden.contains(&c.journal))
            .collect())
    }

    /// Resolves an inbox entry: writes the chosen value (superseding every concurrent one)
    /// and a record of who resolved it and why, as one change.
    pub fn resolve(&mut self, conflict: &str, choice: Choice, note: Option<&str>) -> Result<()> {
        let found = self
            .conflicts(None)?
            .into_iter()
            .filter(|c| c.id == conflict || c.id.starts_with(conflict))
            .collect::<Vec<_>>();
        let entry = match found.as_slice() {
            [one] => one.clone(),
            [] => return Err(CoreError::not_found("conflict", conflict)),
            many => {
                return Err(CoreError::Ambiguous {
                    what: "conflicts",
                    id: conflict.to_string(),
                    candidates: many
                        .iter()
                        .map(|c| c.id.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        };
        let raw = match choice {
            Choice::Pick(n) => {
                let Some(v) = n.checked_sub(1).and_then(|i| entry.values.get(i)) else {
                    return Err(CoreError::invalid(
                        "pick",
                        format!(
                            "there are {} values to pick from; --pick takes 1 to {}",
                            entry.values.len(),
                            entry.values.len()
                        ),
                    ));
                };
                v.value.clone()
            }
            Choice::Value(v) => self.value_for_field(&entry, &v)?,
        };
        let Some(map) = map_of(&entry.field) else {
            return Err(CoreError::invalid("field", "unknown conflict field"));
        };
        let record = ResolutionValue {
            by: self.user().to_string(),
            value: raw.clone(),
            note: note.map(str::to_string),
        };
        let record_key = format!("{}:{}", entry.field, entry.key);
        let record_json = serde_json::to_string(&record).unwrap_or_default();
        let key = entry.key.clone();
        self.edit(&entry.journal, "resolve", move |doc| {
            doc.put_always(map, &key, &raw)?;
            doc.put_always("resolutions", &record_key, &record_json)?;
            Ok(Refresh::Keys(vec![
                (map.to_string(), key.clone()),
                ("resolutions".to_string(), record_key.clone()),
            ]))
        })?;
        Ok(())
    }

    fn value_for_field(&self, entry: &Conflict, input: &str) -> Result<String> {
        match entry.field.as_str() {
            "mark" => {
                // The grid's grammar: `нб`, `л85`, `85`…
                let typed = crate::journal::MarkInput::parse(input)?.ok_or_else(|| {
                    CoreError::invalid(
                        "value",
                        "type the mark to keep (a cleared mark is not a resolution)",
                    )
                })?;
                if let Some(grade) = typed.grade {
                    self.marking_system_of(&entry.journal)?.check_grade(grade)?;
                }
                let mark = MarkValue {
                    grade: typed.grade,
                    ..MarkValue::new(typed.status)
                };
                Ok(serde_json::to_string(&mark).unwrap_or_default())
            }
            "score" => match crate::journal::ScoreEntry::parse(input)? {
                // The grid's grammar: `12,5` and `12.5` alike.
                crate::journal::ScoreEntry::Points(p) => Ok(p.to_string()),
                _ => Err(CoreError::invalid(
                    "value",
                    format!("{input:?} is not a number of points"),
                )),
            },
            "adjustment" => {
                let mut current = entry
                    .values
                    .last()
                    .and_then(|v| serde_json::from_str::<AdjustmentValue>(&v.value).ok())
                    .ok_or_else(|| CoreError::invalid("value", "no adjustment to base on"))?;
                current.to = crate::journal::MarkInput::parse(input)?
                    .ok_or_else(|| {
                        CoreError::invalid(
                            "value",
                            "type what the mark counts as: present, absent, excused or late",
                        )
                    })?
                    .status;
                Ok(serde_json::to_string(&current).unwrap_or_default())
            }
            _ => Ok(input.to_string()),
        }
    }
}

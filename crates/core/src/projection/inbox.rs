//! The inbox half of the projection: marks, scores, topics and resolutions are projected
//! through the conflict inbox ([`crate::conflicts`]), which decides the value in effect (the
//! winner, or the value a lock froze while an amendment waits) and keeps the inbox rows.

use super::*;

/// Every mark of a freshly projected journal in one pass over the map (a lookup per key
/// costs far more in automerge than walking the map). Only keys holding concurrent values,
/// or any key when the journal has locks, go through the inbox check; the journal's inbox
/// rows were all deleted before, so the others have nothing to clear.
pub(super) fn marks_whole(tx: &Connection, doc: &mut Doc, locks: &mut LockCache) -> Result<()> {
    let obj = doc.map("marks")?.clone();
    let any_lock = !doc.keys("locks").is_empty() || doc.get("meta", WINDOW_KEY).is_some();
    let mut needs_check = Vec::new();
    {
        let doc: &Doc = doc;
        // The journal's rows were all deleted before: a plain insert, one statement for all,
        // values parsed straight from the map without copying them out first.
        let mut insert = tx.prepare_cached(
            "INSERT INTO marks (journal_id, lesson_id, student_id, status, hours, grade, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for item in doc.am.map_range(&obj, ..) {
            let value = match &item.value {
                automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => {
                    parse::<MarkValue>(s)
                }
                _ => None,
            };
            if let (Some((lesson_id, student_id)), Some(m)) = (split2(&item.key), value) {
                insert.execute(params![
                    doc.id,
                    lesson_id,
                    student_id,
                    m.status.code(),
                    m.hours,
                    m.grade,
                    m.note
                ])?;
            }
            if item.conflict || any_lock {
                needs_check.push(item.key.into_owned());
            }
        }
    }
    for key in needs_check {
        mark_checked(tx, doc, &key, locks)?;
    }
    Ok(())
}

/// Refreshes a mark's inbox entry and its row: the winning value, or while the mark waits as
/// an amendment of a locked lesson, the value the lock froze.
/// A score's inbox entry and row: the winning value, or while it waits as an amendment of a
/// locked journal, the value the lock froze.
pub(super) fn score_checked(
    tx: &Connection,
    doc: &mut Doc,
    key: &str,
    locks: &mut LockCache,
) -> Result<()> {
    let values = doc.get_all("scores", key);
    let winner = values.last().map(|(v, _)| v.clone());
    let effective = match conflicts::check_values(tx, doc, "score", key, values, locks)? {
        Some(frozen) => frozen,
        None => winner,
    };
    score(tx, doc, key, effective.as_deref())
}

/// A lesson's row with the topic in effect (a lesson without a topic needs no inbox look).
pub(super) fn lesson_checked(
    tx: &Connection,
    doc: &mut Doc,
    key: &str,
    locks: &mut LockCache,
) -> Result<()> {
    if doc.get_all("topics", key).is_empty() {
        lesson(tx, doc, key)
    } else {
        topic_checked(tx, doc, key, locks)
    }
}

/// A lesson's topic: its inbox entry, then the lesson row with the topic in effect (the frozen
/// one while a late topic waits as an amendment).
pub(super) fn topic_checked(
    tx: &Connection,
    doc: &mut Doc,
    key: &str,
    locks: &mut LockCache,
) -> Result<()> {
    let values = doc.get_all("topics", key);
    let winner = values.last().map(|(v, _)| v.clone());
    let effective = match conflicts::check_values(tx, doc, "topic", key, values, locks)? {
        Some(frozen) => frozen,
        None => winner,
    };
    lesson_with_topic(tx, doc, key, effective.as_deref())
}

pub(super) fn mark_checked(
    tx: &Connection,
    doc: &mut Doc,
    key: &str,
    locks: &mut LockCache,
) -> Result<()> {
    // One lookup serves the row (the winner is the last value) and the inbox.
    let values = doc.get_all("marks", key);
    let winner = values.last().map(|(v, _)| v.clone());
    let effective = match conflicts::check_values(tx, doc, "mark", key, values, locks)? {
        Some(frozen) => frozen,
        None => winner,
    };
    mark(tx, doc, key, effective.as_deref())
}

pub(super) fn resolution(tx: &Connection, doc: &mut Doc, key: &str) -> Result<()> {
    match doc
        .get("resolutions", key)
        .and_then(|v| parse::<ResolutionValue>(&v))
    {
        Some(r) => {
            // Who resolved it: the author of the change (the server's record where this
            // replica has it), not the name the record itself carries.
            let author = conflicts::author_of_winner(doc, "resolutions", key);
            let at = author.as_ref().map(|a| a.edited_at);
            let by = author.and_then(|a| a.user).unwrap_or(r.by);
            tx.prepare_cached(
                "INSERT INTO resolutions (doc_id, key, by_user, value, note, resolved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (doc_id, key) DO UPDATE SET by_user = excluded.by_user,
                   value = excluded.value, note = excluded.note, resolved_at = excluded.resolved_at",
            )?
            .execute(params![doc.id, key, by, r.value, r.note, at])?;
        }
        None => {
            tx.prepare_cached("DELETE FROM resolutions WHERE doc_id = ?1 AND key = ?2")?
                .execute(params![doc.id, key])?;
        }
    }
    Ok(())
}

//! The relational projection: plain tables that mirror the documents, refreshed in the same
//! transaction as the change that caused them.
//!
//! A local edit names the keys it wrote ([`Refresh::Keys`]); remote changes are turned into keys
//! from automerge's patches ([`Refresh::from_patches`]). Only a journal's touched rows are
//! rewritten; small documents (catalog, group, module) and newly arrived documents are
//! re-projected whole. Conflict-inbox rows are refreshed with the keys they concern (see
//! [`crate::conflicts`]); those steps are in `inbox.rs`.

mod inbox;

use std::collections::BTreeSet;

use automerge::ReadDoc;
use daftar_protocol::DocKind;
use rusqlite::{Connection, params};

use crate::conflicts::{self, LockCache};
use crate::doc::Doc;
use crate::error::Result;
use crate::model::{
    AdjustmentValue, ControlPlan, LessonStatus, LessonValue, LockValue, MarkValue, ResolutionValue,
};
use daftar_rules::window::{OPENING_PREFIX, Opening, REQUEST_PREFIX, WINDOW_KEY};

/// What a change touched.
#[derive(Debug, Clone)]
pub enum Refresh {
    /// Re-project the whole document.
    Whole,
    /// Re-project these `(map, key)` pairs.
    Keys(Vec<(String, String)>),
}

impl Refresh {
    pub fn key(map: &str, key: impl Into<String>) -> Refresh {
        Refresh::Keys(vec![(map.to_string(), key.into())])
    }

    /// Keys written by `changes` (every op, including values that lose a conflict or repeat
    /// the visible value: both change the conflict inbox even when no patch says so).
    pub fn from_changes(doc: &Doc, changes: &[automerge::Change]) -> Refresh {
        use automerge::ExpandedChange;
        let mut keys = BTreeSet::new();
        for change in changes {
            let expanded: ExpandedChange = change.decode();
            for op in &expanded.operations {
                let automerge::legacy::ObjectId::Id(automerge::legacy::OpId(counter, actor)) =
                    &op.obj
                else {
                    return Refresh::Whole;
                };
                let (Some(map), automerge::legacy::Key::Map(key)) =
                    (doc.map_name_of(*counter, actor), &op.key)
                else {
                    return Refresh::Whole;
                };
                keys.insert((map.to_string(), key.to_string()));
            }
        }
        Refresh::Keys(keys.into_iter().collect())
    }
}

/// Brings the projection of `doc` up to date for what `refresh` names.
pub fn refresh(tx: &Connection, doc: &mut Doc, refresh: &Refresh) -> Result<()> {
    if !doc.is_complete() {
        // The genesis change has not arrived yet: nothing to project.
        return Ok(());
    }
    match doc.kind {
        DocKind::Catalog => project_catalog(tx, doc),
        DocKind::Group => project_group(tx, doc),
        DocKind::Module => project_module(tx, doc),
        DocKind::Journal => match refresh {
            Refresh::Whole => project_journal(tx, doc),
            Refresh::Keys(keys) => {
                let mut locks = LockCache::default();
                for (map, key) in keys {
                    journal_key(tx, doc, map, key, &mut locks)?;
                }
                Ok(())
            }
        },
    }
}

/// Empties every projection table (before a full rebuild).
pub fn clear_all(tx: &Connection) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM catalog; DELETE FROM faculties; DELETE FROM departments;
         DELETE FROM teachers; DELETE FROM groups; DELETE FROM students; DELETE FROM modules;
         DELETE FROM module_topics; DELETE FROM module_controls; DELETE FROM journals;
         DELETE FROM lessons; DELETE FROM marks; DELETE FROM scores; DELETE FROM adjustments;
         DELETE FROM conflicts; DELETE FROM resolutions; DELETE FROM final_absences;",
    )?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Named {
    name: String,
    #[serde(default)]
    faculty: Option<String>,
    #[serde(default)]
    department: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(raw: &str) -> Option<T> {
    serde_json::from_str(raw).ok()
}

fn project_catalog(tx: &Connection, doc: &Doc) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM catalog; DELETE FROM faculties; DELETE FROM departments; DELETE FROM teachers;",
    )?;
    let name = doc.get("meta", "name").unwrap_or_default();
    let thresholds = doc
        .get("settings", "thresholds")
        .unwrap_or_else(|| "[12,36,74]".to_string());
    tx.execute(
        "INSERT INTO catalog (id, name, thresholds, calendar, lesson_pairs, training_types)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            doc.id,
            name,
            thresholds,
            doc.get("settings", crate::lessons::CALENDAR_KEY),
            doc.get("settings", crate::lessons::PAIRS_KEY),
            doc.get("settings", crate::hemis::TRAINING_TYPES_KEY)
        ],
    )?;
    for key in doc.keys("faculties") {
        if let Some(f) = doc.get("faculties", &key).and_then(|v| parse::<Named>(&v)) {
            tx.execute(
                "INSERT INTO faculties (id, name) VALUES (?1, ?2)",
                params![key, f.name],
            )?;
        }
    }
    for key in doc.keys("departments") {
        if let Some(d) = doc
            .get("departments", &key)
            .and_then(|v| parse::<Named>(&v))
        {
            tx.execute(
                "INSERT INTO departments (id, name, faculty_id) VALUES (?1, ?2, ?3)",
                params![key, d.name, d.faculty],
            )?;
        }
    }
    for key in doc.keys("teachers") {
        if let Some(t) = doc.get("teachers", &key).and_then(|v| parse::<Named>(&v)) {
            tx.execute(
                "INSERT INTO teachers (id, name, department_id) VALUES (?1, ?2, ?3)",
                params![key, t.name, t.department],
            )?;
        }
    }
    Ok(())
}

/// A student as stored in a group document (`students["<id>"]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StudentValue {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgroup: Option<String>,
    /// The first day the student is a member of the group (`YYYY-MM-DD`; none: from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The day the student's current status began, when it is not `active` (left, academic
    /// leave): before it the student was active and is counted on lessons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

fn project_group(tx: &Connection, doc: &Doc) -> Result<()> {
    tx.execute("DELETE FROM students WHERE group_id = ?1", [&doc.id])?;
    tx.execute(
        "INSERT INTO groups (id, name, faculty_id, department_id, year, language)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, faculty_id = excluded.faculty_id,
           department_id = excluded.department_id, year = excluded.year,
           language = excluded.language",
        params![
            doc.id,
            doc.get("meta", "name").unwrap_or_default(),
            doc.get("meta", "faculty"),
            doc.get("meta", "department"),
            doc.get("meta", "year"),
            doc.get("meta", "language"),
        ],
    )?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO students (group_id, id, number, name, status, subgroup, since, until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for key in doc.keys("students") {
        if let Some(s) = doc
            .get("students", &key)
            .and_then(|v| parse::<StudentValue>(&v))
        {
            stmt.execute(params![
                doc.id, key, s.number, s.name, s.status, s.subgroup, s.since, s.until
            ])?;
        }
    }
    Ok(())
}

/// A topic of a course module (`topics["<id>"]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TopicValue {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub lesson_type: Option<String>,
    pub pos: f64,
}

fn project_module(tx: &Connection, doc: &Doc) -> Result<()> {
    tx.execute("DELETE FROM module_topics WHERE module_id = ?1", [&doc.id])?;
    tx.execute(
        "DELETE FROM module_controls WHERE module_id = ?1",
        [&doc.id],
    )?;
    let mut hours = serde_json::Map::new();
    for key in doc.keys("hours") {
        if let Some(h) = doc.get("hours", &key).and_then(|v| v.parse::<u64>().ok()) {
            hours.insert(key, h.into());
        }
    }
    tx.execute(
        "INSERT INTO modules (id, subject_id, subject, semester, department_id, marking_system, hours)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET subject_id = excluded.subject_id, subject = excluded.subject,
           semester = excluded.semester, department_id = excluded.department_id,
           marking_system = excluded.marking_system, hours = excluded.hours",
        params![
            doc.id,
            doc.get("meta", "subject_id"),
            doc.get("meta", "subject").unwrap_or_default(),
            doc.get("meta", "semester").unwrap_or_default(),
            doc.get("meta", "department"),
            doc.get("meta", "marking").unwrap_or_else(|| "rating100".into()),
            serde_json::Value::Object(hours).to_string(),
        ],
    )?;
    for key in doc.keys("topics") {
        if let Some(t) = doc
            .get("topics", &key)
            .and_then(|v| parse::<TopicValue>(&v))
        {
            tx.execute(
                "INSERT INTO module_topics (module_id, id, position, name, lesson_type)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![doc.id, key, t.pos, t.name, t.lesson_type],
            )?;
        }
    }
    for key in doc.keys("controls") {
        if let Some(c) = doc
            .get("controls", &key)
            .and_then(|v| parse::<ControlPlan>(&v))
        {
            tx.execute(
                "INSERT INTO module_controls (module_id, code, kind, max, sittings)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![doc.id, key, c.kind.code(), c.max, c.sittings],
            )?;
        }
    }
    Ok(())
}

fn project_journal(tx: &Connection, doc: &mut Doc) -> Result<()> {
    for table in [
        "DELETE FROM lessons WHERE journal_id = ?1",
        "DELETE FROM marks WHERE journal_id = ?1",
        "DELETE FROM scores WHERE journal_id = ?1",
        "DELETE FROM adjustments WHERE journal_id = ?1",
        "DELETE FROM conflicts WHERE doc_id = ?1",
        "DELETE FROM resolutions WHERE doc_id = ?1",
        "DELETE FROM final_absences WHERE journal_id = ?1",
    ] {
        tx.execute(table, [&doc.id])?;
    }
    journal_meta(tx, doc)?;
    let mut locks = LockCache::default();
    for key in doc.keys("lessons") {
        // The lesson row only: its marks are all written next, in one pass.
        lesson(tx, doc, &key)?;
    }
    inbox::marks_whole(tx, doc, &mut locks)?;
    for map in ["scores", "adjustments", "resolutions"] {
        for key in doc.keys(map) {
            journal_key(tx, doc, map, &key, &mut locks)?;
        }
    }
    // Topics and statuses of lessons were read with their lessons; their conflicts need a look.
    for key in doc.keys("topics") {
        inbox::topic_checked(tx, doc, &key, &mut locks)?;
    }
    for (key, _, _) in doc.prefix("status", daftar_rules::assessment::ABSENT_PREFIX) {
        final_absence(tx, doc, &key)?;
    }
    Ok(())
}

fn journal_meta(tx: &Connection, doc: &Doc) -> Result<()> {
    let lock = doc
        .get("locks", "*")
        .and_then(|v| parse::<LockValue>(&v))
        .map(|l| l.reason);
    tx.prepare_cached(
        "INSERT INTO journals (id, group_id, module_id, subject, semester, marking_system, teachers, lock_reason, entry_window_days)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET group_id = excluded.group_id, module_id = excluded.module_id,
           subject = excluded.subject, semester = excluded.semester,
           marking_system = excluded.marking_system, teachers = excluded.teachers,
           lock_reason = excluded.lock_reason, entry_window_days = excluded.entry_window_days",
    )?
    .execute(params![
        doc.id,
        doc.get("meta", "group").unwrap_or_default(),
        doc.get("meta", "module"),
        doc.get("meta", "subject").unwrap_or_default(),
        doc.get("meta", "semester").unwrap_or_default(),
        doc.get("meta", "marking").unwrap_or_else(|| "rating100".into()),
        doc.get("meta", "teachers").unwrap_or_else(|| "[]".into()),
        lock,
        daftar_rules::window::window_days(doc.get("meta", WINDOW_KEY).as_deref()),
    ])?;
    Ok(())
}

fn journal_key(
    tx: &Connection,
    doc: &mut Doc,
    map: &str,
    key: &str,
    locks: &mut LockCache,
) -> Result<()> {
    match map {
        "meta" => {
            journal_meta(tx, doc)?;
            if key == WINDOW_KEY {
                // The window decides which marks are late: look at all of them.
                for k in doc.keys("marks") {
                    inbox::mark_checked(tx, doc, &k, locks)?;
                }
            }
            Ok(())
        }
        "status"
            if key.starts_with(REQUEST_PREFIX)
                || key.starts_with(daftar_rules::assessment::RETAKE_PREFIX) =>
        {
            Ok(())
        }
        "status" if key.starts_with(daftar_rules::assessment::ABSENT_PREFIX) => {
            final_absence(tx, doc, key)
        }
        "lessons" => {
            inbox::lesson_checked(tx, doc, key, locks)?;
            // A lesson moved to another day may move its marks in or out of the window.
            if doc.get("meta", WINDOW_KEY).is_some() {
                let prefix = format!("{key}/");
                for k in doc
                    .keys("marks")
                    .into_iter()
                    .filter(|k| k.starts_with(&prefix))
                {
                    inbox::mark_checked(tx, doc, &k, locks)?;
                }
            }
            Ok(())
        }
        "status" => inbox::lesson_checked(tx, doc, key, locks),
        "topics" => inbox::topic_checked(tx, doc, key, locks),
        "marks" => inbox::mark_checked(tx, doc, key, locks),
        "scores" => inbox::score_checked(tx, doc, key, locks),
        "adjustments" => {
            adjustment(tx, doc, key)?;
            conflicts::check(tx, doc, "adjustment", key, locks)
        }
        "locks" => {
            let key = key.strip_prefix(OPENING_PREFIX).unwrap_or(key);
            journal_meta(tx, doc)?;
            if key != "*" {
                lesson(tx, doc, key)?;
            }
            // A lock changes which marks are amendments: look at the marks it covers.
            let prefix = if key == "*" {
                String::new()
            } else {
                format!("{key}/")
            };
            let marks: Vec<String> = doc
                .keys("marks")
                .into_iter()
                .filter(|k| k.starts_with(&prefix))
                .collect();
            for k in marks {
                inbox::mark_checked(tx, doc, &k, locks)?;
            }
            // Its topic (a lesson's lock), or every topic and score (the journal's).
            if key == "*" {
                for k in doc.keys("topics") {
                    inbox::topic_checked(tx, doc, &k, locks)?;
                }
                for k in doc.keys("scores") {
                    inbox::score_checked(tx, doc, &k, locks)?;
                }
            } else if doc.get("topics", key).is_some() {
                inbox::topic_checked(tx, doc, key, locks)?;
            }
            Ok(())
        }
        "resolutions" => inbox::resolution(tx, doc, key),
        _ => Ok(()),
    }
}

fn lesson(tx: &Connection, doc: &Doc, id: &str) -> Result<()> {
    let topic = doc.get("topics", id);
    lesson_with_topic(tx, doc, id, topic.as_deref())
}

/// Writes a lesson's row with `topic` as its topic (the one in effect).
fn lesson_with_topic(tx: &Connection, doc: &Doc, id: &str, topic: Option<&str>) -> Result<()> {
    let Some(header) = doc
        .get("lessons", id)
        .and_then(|v| parse::<LessonValue>(&v))
    else {
        tx.prepare_cached("DELETE FROM lessons WHERE journal_id = ?1 AND id = ?2")?
            .execute(params![doc.id, id])?;
        return Ok(());
    };
    let status = doc
        .get("status", id)
        .and_then(|v| parse::<LessonStatus>(&format!("\"{v}\"")))
        .unwrap_or(LessonStatus::Planned);
    let lock = doc
        .get("locks", id)
        .and_then(|v| parse::<LockValue>(&v))
        .map(|l| l.reason);
    let opened_until = doc
        .get("locks", &format!("{OPENING_PREFIX}{id}"))
        .and_then(|v| parse::<Opening>(&v))
        .map(|o| o.until);
    tx.prepare_cached(
        "INSERT INTO lessons (journal_id, id, date, pair, lesson_type, teacher_id, topic, status, lock_reason, opened_until, subgroup, taken)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (journal_id, id) DO UPDATE SET date = excluded.date, pair = excluded.pair,
           lesson_type = excluded.lesson_type, teacher_id = excluded.teacher_id,
           topic = excluded.topic, status = excluded.status, lock_reason = excluded.lock_reason,
           opened_until = excluded.opened_until, subgroup = excluded.subgroup, taken = excluded.taken",
    )?
    .execute(params![
        doc.id,
        id,
        header.date,
        header.pair,
        header.lesson_type,
        header.teacher,
        topic,
        status.as_str(),
        lock,
        opened_until,
        header.subgroup,
        header.taken,
    ])?;
    Ok(())
}

/// The row of a recorded absence from a YN sitting (`status["yn-absent:<sitting>/<student>"]`).
fn final_absence(tx: &Connection, doc: &Doc, key: &str) -> Result<()> {
    let Some((sitting, student)) = daftar_rules::assessment::parse_absent_key(key) else {
        return Ok(());
    };
    if doc.get("status", key).is_some() {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO final_absences (journal_id, sitting, student_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![doc.id, sitting, student])?;
    } else {
        tx.prepare_cached(
            "DELETE FROM final_absences WHERE journal_id = ?1 AND sitting = ?2 AND student_id = ?3",
        )?
        .execute(params![doc.id, sitting, student])?;
    }
    Ok(())
}

fn split2(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
}

/// Writes (or deletes, for `None`) the row of the mark at `key` holding the raw `winner`.
fn mark(tx: &Connection, doc: &Doc, key: &str, winner: Option<&str>) -> Result<()> {
    let Some((lesson_id, student_id)) = split2(key) else {
        return Ok(());
    };
    match winner.and_then(parse::<MarkValue>) {
        Some(m) => {
            tx.prepare_cached(
                "INSERT INTO marks (journal_id, lesson_id, student_id, status, hours, grade, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (journal_id, lesson_id, student_id) DO UPDATE SET
                   status = excluded.status, hours = excluded.hours, grade = excluded.grade,
                   note = excluded.note",
            )?
            .execute(params![
                doc.id,
                lesson_id,
                student_id,
                m.status.code(),
                m.hours,
                m.grade,
                m.note
            ])?;
        }
        None => {
            tx.prepare_cached(
                "DELETE FROM marks WHERE journal_id = ?1 AND lesson_id = ?2 AND student_id = ?3",
            )?
            .execute(params![doc.id, lesson_id, student_id])?;
        }
    }
    Ok(())
}

/// Writes (or deletes, for `None`) the row of the score at `key` holding the raw `value`.
fn score(tx: &Connection, doc: &Doc, key: &str, value: Option<&str>) -> Result<()> {
    let mut parts = key.splitn(3, '/');
    let (Some(control), Some(sitting), Some(student)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(());
    };
    let sitting: i64 = sitting.parse().unwrap_or(1);
    match value.and_then(|v| v.parse::<f64>().ok()) {
        Some(points) => {
            tx.prepare_cached(
                "INSERT INTO scores (journal_id, control, sitting, student_id, points)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (journal_id, control, sitting, student_id) DO UPDATE SET points = excluded.points",
            )?
            .execute(params![doc.id, control, sitting, student, points])?;
        }
        None => {
            tx.prepare_cached(
                "DELETE FROM scores WHERE journal_id = ?1 AND control = ?2 AND sitting = ?3 AND student_id = ?4",
            )?
            .execute(params![doc.id, control, sitting, student])?;
        }
    }
    Ok(())
}

/// Refreshes a cell's effective adjustment from all its entries (`key` is any of them): the
/// latest approved one by edit time, or none.
fn adjustment(tx: &Connection, doc: &mut Doc, key: &str) -> Result<()> {
    let mut parts = key.splitn(3, '/');
    let (Some(lesson_id), Some(student_id)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (lesson_id, student_id) = (lesson_id.to_string(), student_id.to_string());
    let cell = format!("{lesson_id}/{student_id}");
    let mut keys: Vec<String> = doc
        .prefix("adjustments", &format!("{cell}/"))
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    if doc.get("adjustments", &cell).is_some() {
        keys.push(cell.clone());
    }
    let mut effective: Option<(i64, String, AdjustmentValue, Option<String>)> = None;
    for k in keys {
        let Some(a) = doc
            .get("adjustments", &k)
            .and_then(|v| parse::<AdjustmentValue>(&v))
        else {
            continue;
        };
        if a.status != "approved" {
            continue;
        }
        let author = conflicts::author_of_winner(doc, "adjustments", &k);
        let at = author.as_ref().map_or(0, |x| x.edited_at);
        let later = effective
            .as_ref()
            .is_none_or(|(t, key, _, _)| (at, &k) > (*t, key));
        if later {
            effective = Some((at, k, a, author.and_then(|x| x.user)));
        }
    }
    match effective {
        Some((at, _, a, user)) => {
            tx.prepare_cached(
                "INSERT INTO adjustments (journal_id, lesson_id, student_id, to_status, reason, document, status, author, edited_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (journal_id, lesson_id, student_id) DO UPDATE SET to_status = excluded.to_status,
                   reason = excluded.reason, document = excluded.document, status = excluded.status,
                   author = excluded.author, edited_at = excluded.edited_at",
            )?
            .execute(params![
                doc.id,
                lesson_id,
                student_id,
                a.to.code(),
                a.reason,
                a.document,
                a.status,
                user,
                at,
            ])?;
        }
        None => {
            tx.prepare_cached(
                "DELETE FROM adjustments WHERE journal_id = ?1 AND lesson_id = ?2 AND student_id = ?3",
            )?
            .execute(params![doc.id, lesson_id, student_id])?;
        }
    }
    Ok(())
}

//! Journal actions (what a teacher or the dean's office does) and the journal views screens and
//! the CLI read. Every action validates against the projection, then writes one change through
//! [`Replica::edit`]; every view reads only the projection.
//!
//! Here: the view types, the one grammar for typing a mark or a score, and resolving what
//! people type into journal, lesson and student ids. `actions.rs`: the writes; `views.rs`: the
//! reads.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::model::{
    AdjustmentValue, Attendance, ControlKind, LessonStatus, LessonType, LessonValue, LockValue,
    MarkValue, MarkingSystem, display_date, parse_date,
};
use crate::projection::Refresh;
use crate::replica::Replica;
use daftar_rules::window;

mod actions;
pub mod grid;
mod views;

/// A journal as listed ("my journals").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct JournalSummary {
    pub id: String,
    pub group: String,
    pub subject: String,
    pub semester: String,
    pub students: u32,
    pub lessons: u32,
    pub complete_lessons: u32,
    pub locked: bool,
    /// Local changes of this journal not yet on the server.
    pub unsynced: u32,
    pub conflicts: u32,
}

/// A lesson column of the grid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LessonView {
    pub id: String,
    pub date: String,
    pub pair: i64,
    #[serde(rename = "type")]
    pub lesson_type: String,
    pub topic: Option<String>,
    pub teacher: Option<String>,
    pub status: String,
    pub lock: Option<String>,
    /// The subgroup the lesson is for; none: the whole group.
    pub subgroup: Option<String>,
    /// Every student expected at it has a mark, and its topic is set.
    pub complete: bool,
    /// Students expected at it who have no mark yet.
    pub unmarked: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StudentView {
    pub id: String,
    pub number: Option<String>,
    pub name: String,
    pub status: String,
    pub subgroup: Option<String>,
}

/// One cell: the teacher's mark, the dean's adjustment beside it, and the effective value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct CellView {
    pub lesson: String,
    pub student: String,
    /// `p`, `a` (NB), `e`, `l`.
    pub status: String,
    pub hours: u32,
    pub grade: Option<u32>,
    pub note: Option<String>,
    pub adjusted_to: Option<String>,
    pub adjustment_reason: Option<String>,
    /// Status after approved adjustments.
    pub effective: String,
    /// Conflict inbox id when the cell holds concurrent values.
    pub conflict: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoreView {
    pub control: String,
    pub sitting: i64,
    pub student: String,
    pub points: f64,
}

/// Everything `show` prints. Deterministic: two converged replicas serialise it identically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalView {
    pub id: String,
    pub subject: String,
    pub semester: String,
    pub group: String,
    pub group_name: String,
    pub module: Option<String>,
    pub marking_system: String,
    pub teachers: Vec<String>,
    pub lock: Option<String>,
    pub controls: Vec<crate::catalog::ModuleControl>,
    pub lessons: Vec<LessonView>,
    pub students: Vec<StudentView>,
    pub cells: Vec<CellView>,
    pub scores: Vec<ScoreView>,
    /// (student, sitting) recorded absent from the final control ("kelmadi").
    pub final_absences: Vec<(String, u8)>,
    pub conflicts: Vec<String>,
}

/// The journal row as `journal_view` reads it.
struct JournalHead {
    group: String,
    group_name: Option<String>,
    module: Option<String>,
    subject: String,
    semester: String,
    marking: String,
    teachers: String,
    lock: Option<String>,
}

/// What the journal row says, for validation.
pub(crate) struct JournalRow {
    group: String,
    module: Option<String>,
    marking: MarkingSystem,
    pub(crate) lock: Option<String>,
}

/// A teacher's request to open a lesson, as the dean's office lists them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct OpeningRequestView {
    /// The journal, by its short id.
    pub journal: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    pub lesson: String,
    /// The lesson's date.
    pub date: Option<String>,
    pub reason: String,
    /// Who asked (the server's record where known).
    pub by: Option<String>,
    /// The day the dean's office opened it until, if it did.
    pub opened_until: Option<String>,
}

/// Input of `mark`.
#[derive(Debug, Clone)]
pub struct MarkInput {
    pub status: Attendance,
    pub grade: Option<u32>,
    pub note: Option<String>,
    /// Hours missed; defaults to a pair's two hours for absences.
    pub hours: Option<u32>,
}

impl MarkInput {
    /// A mark as it stands, without a note or hours.
    pub fn new(status: Attendance, grade: Option<u32>) -> MarkInput {
        MarkInput {
            status,
            grade,
            note: None,
            hours: None,
        }
    }

    /// What a person types for a mark, the one grammar of the grid, the conflict inbox and
    /// the CLI: a grade (`85`: present with that grade), `l` and a grade (late with a grade),
    /// or an attendance word in any of Daftar's languages ([`Attendance::parse`]), plus the
    /// single keys of a Cyrillic layout (`н` absent, `е`/`у` excused, `л`/`к` late, `б`/`п`
    /// present). Nothing typed is `None` (clear). The grade is checked against the journal's
    /// marking system where the mark is stored, not here.
    pub fn parse(typed: &str) -> Result<Option<MarkInput>> {
        let v = typed.trim().to_lowercase();
        if v.is_empty() {
            return Ok(None);
        }
        if let Ok(grade) = v.parse::<u32>() {
            return Ok(Some(MarkInput::new(Attendance::Present, Some(grade))));
        }
        for late in ["l", "л"] {
            if let Some(rest) = v.strip_prefix(late)
                && let Ok(grade) = rest.trim().parse::<u32>()
            {
                return Ok(Some(MarkInput::new(Attendance::Late, Some(grade))));
            }
        }
        let word = match v.as_str() {
            "е" | "у" => "e",
            "л" | "к" => "l",
            "б" | "п" => "+",
            other => other,
        };
        match Attendance::parse(word) {
            Ok(status) => Ok(Some(MarkInput::new(status, None))),
            Err(_) => Err(CoreError::invalid(
                "value",
                format!(
                    "{typed:?} is not a mark: type + (present), nb (absent), e (excused), l (late) or a grade"
                ),
            )),
        }
    }
}

/// Input of `lesson add`.
#[derive(Debug, Clone)]
pub struct NewLesson {
    pub date: String,
    pub pair: u8,
    pub lesson_type: LessonType,
    pub topic: Option<String>,
    pub teacher: Option<String>,
    /// The subgroup the lesson is for (labs, languages); none: the whole group.
    pub subgroup: Option<String>,
}

fn strip<'a>(input: &'a str, prefix: &str) -> &'a str {
    input.strip_prefix(prefix).unwrap_or(input)
}

/// A control as typed (`YN`, `yn:2`, `ON1/1`): its code and sitting (1 when none).
fn split_control(control: &str) -> Result<(String, i64)> {
    Ok(match control.split_once([':', '/']) {
        Some((c, s)) => (
            c.trim().to_uppercase(),
            s.trim().parse::<i64>().map_err(|_| {
                CoreError::invalid(
                    "control",
                    format!("{control:?}: the sitting must be a number, e.g. YN:2"),
                )
            })?,
        ),
        None => (control.trim().to_uppercase(), 1),
    })
}

/// What a control's cell takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreEntry {
    Points(f64),
    /// Did not come to the final control ("kelmadi").
    Absent,
    /// Nothing typed: takes an absence back.
    Cleared,
}

impl ScoreEntry {
    /// Points with a dot or a comma, or an absence word in any of Daftar's languages.
    pub fn parse(typed: &str) -> Result<ScoreEntry> {
        let t = typed.trim();
        if t.is_empty() {
            return Ok(ScoreEntry::Cleared);
        }
        if let Ok(p) = t.replace(',', ".").parse::<f64>()
            && p.is_finite()
        {
            return Ok(ScoreEntry::Points(p));
        }
        let folded = fold_name(t);
        let absent = [
            "kelmadi",
            "келмади",
            "absent",
            "nb",
            "нб",
            "не явился",
            "не явилась",
            "неявка",
            "н/я",
            "yo'q",
            "йўқ",
        ];
        if absent.contains(&folded.as_str()) || Attendance::parse(t) == Ok(Attendance::Absent) {
            return Ok(ScoreEntry::Absent);
        }
        Err(CoreError::invalid(
            "points",
            format!(
                "{typed:?} is not a number of points (or \"kelmadi\" for a student absent from the final)"
            ),
        ))
    }
}

/// Bare id as printed (`journal/abc` → `abc`).
pub use daftar_protocol::ids::short_id;

impl Replica {
    /// A journal's document id from what a person typed: the id as printed, the document id,
    /// or an unambiguous prefix.
    pub fn resolve_journal(&self, input: &str) -> Result<String> {
        let bare = strip(input.trim(), "journal/");
        let full = format!("journal/{bare}");
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM journals WHERE id = ?1 OR id LIKE ?2 ESCAPE '\\' ORDER BY id LIMIT 6",
        )?;
        let like = format!("{}%", full.replace('%', "\\%").replace('_', "\\_"));
        let found = stmt
            .query_map(params![full, like], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Another user's journal on a shared computer is not found, as on their server. Every
        // edit resolves its journal: only the few candidates are judged, not every document.
        let mut ids = Vec::with_capacity(found.len());
        for id in found {
            if self.visible(&id)? {
                ids.push(id);
            }
        }
        if !ids.is_empty() {
            return pick_one("journal", input, &full, ids);
        }
        // By its group and subject as people say them ("101-25 matematika", "O‘zbek tili
        // 101"): any case, any Uzbek apostrophe; every word typed must begin a word of the
        // group's name or the subject.
        let words: Vec<String> = fold_name(input)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut stmt = self.conn().prepare_cached(
            "SELECT j.id, coalesce(g.name, ''), j.subject FROM journals j
             LEFT JOIN groups g ON g.id = j.group_id ORDER BY j.id",
        )?;
        let all = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    format!("{} {}", r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let hidden = self.hidden_docs()?;
        let ids: Vec<String> = all
            .into_iter()
            .filter(|(id, _)| !hidden.contains(id))
            .filter(|(_, name)| {
                let name = fold_name(name);
                let parts: Vec<&str> = name
                    .split(|c: char| c.is_whitespace() || c == '.' || c == ',')
                    .filter(|p| !p.is_empty())
                    .collect();
                !words.is_empty()
                    && words
                        .iter()
                        .all(|w| parts.iter().any(|p| p.starts_with(w.as_str())))
            })
            .map(|(id, _)| id)
            .take(6)
            .collect();
        pick_one("journal", input, &full, ids)
    }

    /// A lesson id from its id, an unambiguous prefix, or `#N` (N-th lesson by date).
    pub fn resolve_lesson(&self, journal: &str, input: &str) -> Result<String> {
        let input = input.trim();
        if let Some(n) = input.strip_prefix('#') {
            let n: i64 = n
                .parse()
                .map_err(|_| CoreError::invalid("lesson", format!("{input:?}: write #1, #2, …")))?;
            return self
                .conn()
                .query_row(
                    "SELECT id FROM lessons WHERE journal_id = ?1 ORDER BY date, pair, id LIMIT 1 OFFSET ?2",
                    params![journal, n - 1],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| CoreError::not_found("lesson", input));
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM lessons WHERE journal_id = ?1 AND (id = ?2 OR substr(id, 1, length(?2)) = ?2) ORDER BY id LIMIT 6",
        )?;
        let ids = stmt
            .query_map(params![journal, input], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        pick_one("lesson", input, input, ids)
    }

    /// A student id (in the journal's group) from the id, the student number, or a prefix.
    pub fn resolve_student(&self, journal: &str, input: &str) -> Result<String> {
        let input = input.trim();
        let mut stmt = self.conn().prepare_cached(
            "SELECT s.id FROM students s JOIN journals j ON j.group_id = s.group_id
             WHERE j.id = ?1 AND (s.id = ?2 OR s.number = ?2 OR substr(s.id, 1, length(?2)) = ?2)
             ORDER BY (s.id = ?2 OR s.number = ?2) DESC, s.id LIMIT 6",
        )?;
        let ids = stmt
            .query_map(params![journal, input], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // An exact id or number wins over prefixes.
        let exact: Vec<String> = {
            let mut s = self.conn().prepare_cached(
                "SELECT s.id FROM students s JOIN journals j ON j.group_id = s.group_id
                 WHERE j.id = ?1 AND (s.id = ?2 OR s.number = ?2)",
            )?;
            s.query_map(params![journal, input], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        if exact.len() == 1 {
            return Ok(exact[0].clone());
        }
        // By name: any case, any Uzbek apostrophe, Latin or Cyrillic as stored; every word
        // typed must begin a word of the name ("karimov", "Karimov J", "G‘ulomova").
        let ids = if ids.is_empty() && !input.is_empty() {
            let typed = fold_name(input);
            let mut stmt = self.conn().prepare_cached(
                "SELECT s.id, s.name FROM students s JOIN journals j ON j.group_id = s.group_id
                 WHERE j.id = ?1 ORDER BY s.id",
            )?;
            let all = stmt
                .query_map([journal], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let words: Vec<&str> = typed.split_whitespace().collect();
            all.into_iter()
                .filter(|(_, name)| {
                    let name = fold_name(name);
                    let parts: Vec<&str> = name.split_whitespace().collect();
                    words.iter().all(|w| parts.iter().any(|p| p.starts_with(w)))
                })
                .map(|(id, _)| id)
                .take(6)
                .collect()
        } else {
            ids
        };
        pick_one("student", input, input, ids).map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::NotFound {
                what: "student in this journal's group",
                id: input.to_string(),
            },
            other => other,
        })
    }

    pub(crate) fn journal_row(&self, journal: &str) -> Result<JournalRow> {
        let row: Option<(String, Option<String>, String, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT group_id, module_id, marking_system, lock_reason FROM journals WHERE id = ?1",
                [journal],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (group, module, marking, lock) =
            row.ok_or_else(|| CoreError::not_found("journal", short_id(journal)))?;
        Ok(JournalRow {
            group,
            module,
            marking: MarkingSystem::parse(&marking)?,
            lock,
        })
    }

    pub fn marking_system_of(&self, journal: &str) -> Result<MarkingSystem> {
        Ok(self.journal_row(journal)?.marking)
    }

    /// The lock covering a lesson, if any (the lesson's own, then the journal's).
    fn lesson_lock(&self, journal: &str, lesson: &str) -> Result<Option<String>> {
        let row: Option<Option<String>> = self
            .conn()
            .query_row(
                "SELECT lock_reason FROM lessons WHERE journal_id = ?1 AND id = ?2",
                params![journal, lesson],
                |r| r.get(0),
            )
            .optional()?;
        match row {
            None => Err(CoreError::not_found("lesson", lesson)),
            Some(Some(reason)) => Ok(Some(reason)),
            Some(None) => Ok(self.journal_row(journal)?.lock),
        }
    }

    /// Refuses local edits to a locked lesson, with the lock's reason.
    fn ensure_lesson_open(&self, journal: &str, lesson: &str) -> Result<()> {
        match self.lesson_lock(journal, lesson)? {
            Some(reason) => Err(CoreError::Locked {
                what: "this lesson".into(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Refuses a local mark after the lesson's entry window closed (by this device's clock),
    /// unless the dean's office opened the lesson until a later day: the same judgement every
    /// replica makes of the change, so the teacher learns it now, not after a sync.
    fn ensure_within_window(&self, journal: &str, lesson: &str) -> Result<()> {
        match self.entry_closed(journal, lesson)? {
            Some(reason) => Err(CoreError::Locked {
                what: "this lesson".into(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Why marks of `lesson` can no longer be written here (its entry window closed, by this
    /// device's clock, and no opening covers today), or `None`.
    pub fn entry_closed(&self, journal: &str, lesson: &str) -> Result<Option<String>> {
        let row: Option<(String, Option<String>, Option<i64>)> = self
            .conn()
            .query_row(
                "SELECT l.date, l.opened_until, j.entry_window_days
                 FROM lessons l JOIN journals j ON j.id = l.journal_id
                 WHERE l.journal_id = ?1 AND l.id = ?2",
                params![journal, lesson],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((date, opened_until, Some(days))) = row else {
            return Ok(None);
        };
        let days = u32::try_from(days).unwrap_or(0);
        let opening = opened_until.map(|until| window::Opening {
            until,
            reason: None,
        });
        if window::is_late(&date, Some(days), opening.as_ref(), self.now()) {
            let closed = parse_date(&date)
                .ok()
                .and_then(|d| d.checked_add(time::Duration::days(i64::from(days))))
                .map(|d| display_date(&d.to_string()))
                .unwrap_or(date);
            return Ok(Some(format!(
                "its entry window closed on {closed}; file a request (daftar request-opening)"
            )));
        }
        Ok(None)
    }

    fn active_students(&self, group: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM students WHERE group_id = ?1 AND status = 'active' ORDER BY name, id",
        )?;
        let ids = stmt
            .query_map([group], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// Adds a lesson with this header (any training type code, a university's own too).
    pub(crate) fn add_lesson_header(
        &mut self,
        journal: &str,
        header: LessonValue,
        topic: Option<String>,
    ) -> Result<String> {
        let row = self.journal_row(journal)?;
        if let Some(reason) = row.lock {
            return Err(CoreError::Locked {
                what: "this journal".into(),
                reason,
            });
        }
        parse_date(&header.date)?;
        if !(1..=8).contains(&header.pair) {
            return Err(CoreError::invalid(
                "pair",
                format!(
                    "pair {} does not exist: a day has pairs 1 to 8",
                    header.pair
                ),
            ));
        }
        let taken: Option<String> = self
            .conn()
            .query_row(
                "SELECT id FROM lessons WHERE journal_id = ?1 AND date = ?2 AND pair = ?3 AND status <> 'cancelled'",
                params![journal, header.date, header.pair],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = taken {
            return Err(CoreError::invalid(
                "pair",
                format!(
                    "this journal already has lesson {other} on {} at pair {}",
                    header.date, header.pair
                ),
            ));
        }
        let id = new_lesson_id();
        let header = serde_json::to_string(&header).unwrap_or_default();
        let lesson_id = id.clone();
        self.edit(journal, "add lesson", move |doc| {
            doc.put("lessons", &lesson_id, &header)?;
            doc.put("status", &lesson_id, LessonStatus::Planned.as_str())?;
            let mut keys = vec![
                ("lessons".to_string(), lesson_id.clone()),
                ("status".to_string(), lesson_id.clone()),
            ];
            if let Some(topic) = &topic {
                doc.put("topics", &lesson_id, topic)?;
                keys.push(("topics".to_string(), lesson_id.clone()));
            }
            Ok(Refresh::Keys(keys))
        })?;
        Ok(id)
    }

    /// A student's scores in a journal, as the assessment rules read them.
    fn assessment_scores(
        &self,
        journal: &str,
        student: &str,
    ) -> Result<Vec<daftar_rules::assessment::Score>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT control, sitting, points FROM scores WHERE journal_id = ?1 AND student_id = ?2",
        )?;
        let rows = stmt
            .query_map(params![journal, student], |r| {
                Ok(daftar_rules::assessment::Score {
                    control: r.get(0)?,
                    sitting: r.get::<_, i64>(1)?.clamp(1, 9) as u8,
                    points: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

/// A name folded for matching: lower case, every Uzbek apostrophe as `'`.
pub fn fold_name(name: &str) -> String {
    crate::model::normalize_apostrophes(name).to_lowercase()
}

fn pick_one(what: &'static str, input: &str, exact: &str, ids: Vec<String>) -> Result<String> {
    if let Some(hit) = ids.iter().find(|id| id.as_str() == exact) {
        return Ok(hit.clone());
    }
    match ids.len() {
        0 => Err(CoreError::not_found(what, input)),
        1 => Ok(ids[0].clone()),
        _ => Err(CoreError::Ambiguous {
            what,
            id: input.to_string(),
            candidates: ids
                .iter()
                .map(|i| short_id(i).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn new_lesson_id() -> String {
    let id = uuid::Uuid::new_v4();
    format!("L{}", &id.simple().to_string()[..9])
}

/// Kinds of control as printed.
pub fn control_kind_name(kind: ControlKind) -> &'static str {
    match kind {
        ControlKind::Current => "current",
        ControlKind::Midterm => "midterm",
        ControlKind::Final => "final",
    }
}

#[cfg(test)]
mod mark_grammar {
    use super::*;

    #[test]
    fn marks_typed_in_any_language_and_layout_parse_alike() {
        let status = |v: &str| {
            MarkInput::parse(v)
                .expect("parses")
                .map(|m| (m.status, m.grade))
        };
        assert_eq!(status("+"), Some((Attendance::Present, None)));
        assert_eq!(status("б"), Some((Attendance::Present, None)));
        assert_eq!(status("NB"), Some((Attendance::Absent, None)));
        assert_eq!(status("нб"), Some((Attendance::Absent, None)));
        assert_eq!(status("Н"), Some((Attendance::Absent, None)));
        assert_eq!(status("yo‘q"), Some((Attendance::Absent, None)));
        assert_eq!(status("e"), Some((Attendance::Excused, None)));
        assert_eq!(status("у"), Some((Attendance::Excused, None)));
        assert_eq!(status("l"), Some((Attendance::Late, None)));
        assert_eq!(status("к"), Some((Attendance::Late, None)));
        assert_eq!(status("85"), Some((Attendance::Present, Some(85))));
        assert_eq!(status(" l70 "), Some((Attendance::Late, Some(70))));
        assert_eq!(status("Л 70"), Some((Attendance::Late, Some(70))));
        assert_eq!(status("  "), None);
        let err = MarkInput::parse("x").expect_err("x is not a mark");
        assert!(err.to_string().contains("is not a mark"), "{err}");
        assert!(MarkInput::parse("-5").is_err(), "no negative grades");
    }
}

//! Journal actions (what a teacher or the dean's office does) and the journal views screens and
//! the CLI read. Every action validates against the projection, then writes one change through
//! [`Replica::edit`]; every view reads only the projection.

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

/// A journal as listed ("my journals").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalSummary {
    pub id: String,
    pub group: String,
    pub subject: String,
    pub semester: String,
    pub students: i64,
    pub lessons: i64,
    pub complete_lessons: i64,
    pub locked: bool,
    pub unsynced: i64,
    pub conflicts: i64,
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
pub struct CellView {
    pub lesson: String,
    pub student: String,
    pub status: String,
    pub hours: i64,
    pub grade: Option<i64>,
    pub note: Option<String>,
    pub adjusted_to: Option<String>,
    pub adjustment_reason: Option<String>,
    /// Status after approved adjustments.
    pub effective: String,
    pub conflict: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoreView {
    pub control: String,
    pub sitting: i64,
    pub student: String,
    pub points: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ControlView {
    pub code: String,
    pub kind: String,
    pub max: f64,
    pub sittings: i64,
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
    pub controls: Vec<ControlView>,
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
pub struct OpeningRequestView {
    pub journal: String,
    pub lesson: String,
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
pub fn short_id(doc_id: &str) -> &str {
    doc_id.split_once('/').map(|(_, id)| id).unwrap_or(doc_id)
}

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

    /// The dean's office lets a student sit the final (YN) again: sitting 2 or 3. JN and ON
    /// carry over (`daftar_rules::assessment::totals`).
    pub fn permit_retake(
        &mut self,
        journal: &str,
        student: &str,
        sitting: u8,
        reason: &str,
    ) -> Result<()> {
        if !(2..=3).contains(&sitting) {
            return Err(CoreError::invalid(
                "sitting",
                "a retake is sitting 2 or 3 of the final control",
            ));
        }
        let key = daftar_rules::assessment::retake_key(sitting, student);
        let raw = serde_json::json!({ "reason": reason.trim() }).to_string();
        self.edit(journal, "permit retake", move |doc| {
            doc.put("status", &key, &raw)?;
            Ok(Refresh::key("status", key.clone()))
        })?;
        Ok(())
    }

    /// Whether the dean's office permitted this student's retake sitting.
    pub fn retake_permitted(&mut self, journal: &str, student: &str, sitting: u8) -> Result<bool> {
        let key = daftar_rules::assessment::retake_key(sitting, student);
        Ok(self.doc(journal)?.get("status", &key).is_some())
    }

    /// Every retake permission of a journal: (student, sitting).
    pub fn retake_permissions(&mut self, journal: &str) -> Result<Vec<(String, u8)>> {
        let prefix = daftar_rules::assessment::RETAKE_PREFIX;
        Ok(self
            .doc(journal)?
            .prefix("status", prefix)
            .into_iter()
            .filter_map(|(key, _, _)| {
                let (sitting, student) = key.strip_prefix(prefix)?.split_once('/')?;
                Some((student.to_string(), sitting.parse().ok()?))
            })
            .collect())
    }

    /// A teacher asks the dean's office to open a lesson whose entry window has closed.
    pub fn request_opening(&mut self, journal: &str, lesson: &str, reason: &str) -> Result<()> {
        self.lesson_lock(journal, lesson)?;
        let value = window::OpeningRequest {
            reason: reason.trim().to_string(),
        };
        value.check()?;
        let raw = serde_json::to_string(&value).unwrap_or_default();
        let key = format!("{}{lesson}", window::REQUEST_PREFIX);
        self.edit(journal, "request opening", move |doc| {
            doc.put("status", &key, &raw)?;
            Ok(Refresh::key("status", key.clone()))
        })?;
        Ok(())
    }

    /// The dean's office opens a lesson for its teacher until the end of `until`.
    pub fn open_lesson(
        &mut self,
        journal: &str,
        lesson: &str,
        until: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        self.lesson_lock(journal, lesson)?;
        let value = window::Opening {
            until: parse_date(until)?.to_string(),
            reason: reason.map(str::to_string).filter(|r| !r.trim().is_empty()),
        };
        let raw = serde_json::to_string(&value).unwrap_or_default();
        let key = format!("{}{lesson}", window::OPENING_PREFIX);
        self.edit(journal, "open lesson", move |doc| {
            doc.put("locks", &key, &raw)?;
            Ok(Refresh::key("locks", key.clone()))
        })?;
        Ok(())
    }

    /// Requests to open lessons, with the opening granted so far (if any): (journal, lesson,
    /// lesson date, reason, opened until).
    pub fn opening_requests(&mut self, journal: Option<&str>) -> Result<Vec<OpeningRequestView>> {
        let journals: Vec<String> = match journal {
            Some(j) => vec![j.to_string()],
            None => {
                let mut stmt = self.conn().prepare("SELECT id FROM journals ORDER BY id")?;
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        let mut out = Vec::new();
        for j in journals {
            let doc = self.doc(&j)?;
            for (key, raw, _) in doc.prefix("status", window::REQUEST_PREFIX) {
                let Some(lesson) = key.strip_prefix(window::REQUEST_PREFIX) else {
                    continue;
                };
                let Ok(request) = serde_json::from_str::<window::OpeningRequest>(&raw) else {
                    continue;
                };
                let date = doc
                    .get("lessons", lesson)
                    .and_then(|v| serde_json::from_str::<LessonValue>(&v).ok())
                    .map(|l| l.date);
                let opened_until = doc
                    .get("locks", &format!("{}{lesson}", window::OPENING_PREFIX))
                    .and_then(|v| serde_json::from_str::<window::Opening>(&v).ok())
                    .map(|o| o.until);
                let by =
                    crate::conflicts::author_of_winner(doc, "status", &key).and_then(|a| a.user);
                out.push(OpeningRequestView {
                    journal: j.clone(),
                    lesson: lesson.to_string(),
                    date,
                    reason: request.reason,
                    by,
                    opened_until,
                });
            }
        }
        Ok(out)
    }

    /// The university's entry window (`None`: none), written to the catalog and to every
    /// journal of this replica, one change each (an administrator's action).
    pub fn set_entry_window(&mut self, days: Option<u32>) -> Result<usize> {
        let catalog: Option<String> = self
            .conn()
            .query_row("SELECT id FROM catalog LIMIT 1", [], |r| r.get(0))
            .optional()?;
        let value = days.map(|d| d.to_string());
        if let Some(catalog) = catalog {
            let value = value.clone();
            self.edit(&catalog, "set entry window", move |doc| {
                match &value {
                    Some(v) => doc.put("settings", window::POLICY_KEY, v)?,
                    None => doc.delete("settings", window::POLICY_KEY)?,
                };
                Ok(Refresh::Whole)
            })?;
        }
        let journals: Vec<String> = {
            let mut stmt = self.conn().prepare("SELECT id FROM journals ORDER BY id")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut changed = 0;
        for j in journals {
            let value = value.clone();
            if self.edit(&j, "set entry window", move |doc| {
                match &value {
                    Some(v) => doc.put("meta", window::WINDOW_KEY, v)?,
                    None => doc.delete("meta", window::WINDOW_KEY)?,
                };
                Ok(Refresh::key("meta", window::WINDOW_KEY))
            })? {
                changed += 1;
            }
        }
        Ok(changed)
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

    /// Adds a lesson (a pair on a date) to a journal; returns its id.
    pub fn add_lesson(&mut self, journal: &str, lesson: NewLesson) -> Result<String> {
        let header = LessonValue {
            date: lesson.date.clone(),
            pair: lesson.pair,
            lesson_type: lesson.lesson_type.code().to_string(),
            teacher: lesson.teacher.clone(),
            subgroup: lesson.subgroup.clone().filter(|s| !s.trim().is_empty()),
            taken: false,
        };
        self.add_lesson_header(journal, header, lesson.topic)
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

    /// Sets a lesson's topic (normally one of the module's topics).
    pub fn set_topic(&mut self, journal: &str, lesson: &str, topic: &str) -> Result<()> {
        self.ensure_lesson_open(journal, lesson)?;
        let lesson = lesson.to_string();
        let topic = topic.to_string();
        self.edit(journal, "set topic", move |doc| {
            doc.put("topics", &lesson, &topic)?;
            Ok(Refresh::key("topics", lesson.clone()))
        })?;
        Ok(())
    }

    /// Marks one student at one lesson.
    pub fn mark(
        &mut self,
        journal: &str,
        lesson: &str,
        student: &str,
        input: MarkInput,
    ) -> Result<()> {
        let row = self.journal_row(journal)?;
        self.ensure_lesson_open(journal, lesson)?;
        self.ensure_within_window(journal, lesson)?;
        let expected = self.lesson_members(journal, lesson)?;
        if !expected.iter().any(|s| s == student) {
            return Err(CoreError::invalid(
                "student",
                format!(
                    "student {student} is not expected at this lesson (not in its subgroup, or not a member of the group on its day)"
                ),
            ));
        }
        if let Some(g) = input.grade {
            row.marking.check_grade(g)?;
        }
        let mut value = MarkValue::new(input.status);
        value.grade = input.grade;
        value.note = input.note.filter(|n| !n.trim().is_empty());
        if let Some(h) = input.hours {
            if h > 8 {
                return Err(CoreError::invalid(
                    "hours",
                    format!("{h} hours is more than a day holds"),
                ));
            }
            value.hours = h;
        }
        let raw = serde_json::to_string(&value).unwrap_or_default();
        let key = format!("{lesson}/{student}");
        let lesson = lesson.to_string();
        self.edit(journal, "mark", move |doc| {
            doc.put("marks", &key, &raw)?;
            doc.put("status", &lesson, LessonStatus::Held.as_str())?;
            Ok(Refresh::Keys(vec![
                ("marks".to_string(), key.clone()),
                ("status".to_string(), lesson.clone()),
            ]))
        })?;
        Ok(())
    }

    /// Marks a whole lesson present except the absentees, as one action and one change.
    /// Existing grades and notes are kept. Returns the number of students marked.
    pub fn mark_all(&mut self, journal: &str, lesson: &str, absent: &[String]) -> Result<usize> {
        self.journal_row(journal)?;
        self.ensure_lesson_open(journal, lesson)?;
        self.ensure_within_window(journal, lesson)?;
        // The students expected at the lesson: its subgroup, members of the group on its day.
        let active = self.lesson_members(journal, lesson)?;
        for a in absent {
            if !active.contains(a) {
                return Err(CoreError::invalid(
                    "student",
                    format!(
                        "student {a} is not expected at this lesson (not in its subgroup, or not a member of the group on its day)"
                    ),
                ));
            }
        }
        let lesson = lesson.to_string();
        let absent = absent.to_vec();
        let count = active.len();
        self.edit(journal, "mark lesson", move |doc| {
            let mut keys = Vec::with_capacity(active.len() + 1);
            // The lesson's marks read in one pass (a lookup per student costs more).
            let existing: HashMap<String, (String, bool)> = doc
                .prefix("marks", &format!("{lesson}/"))
                .into_iter()
                .map(|(k, v, conflict)| (k, (v, conflict)))
                .collect();
            for student in &active {
                let key = format!("{lesson}/{student}");
                let status = if absent.contains(student) {
                    Attendance::Absent
                } else {
                    Attendance::Present
                };
                let current = existing.get(&key).map(|(v, conflict)| crate::doc::Current {
                    value: v,
                    conflict: *conflict,
                });
                let mut value = current
                    .and_then(|c| serde_json::from_str::<MarkValue>(c.value).ok())
                    .unwrap_or_else(|| MarkValue::new(status));
                if value.status != status {
                    let MarkValue { grade, note, .. } = value;
                    value = MarkValue {
                        grade,
                        note,
                        ..MarkValue::new(status)
                    };
                }
                let raw = serde_json::to_string(&value).unwrap_or_default();
                doc.put_over("marks", &key, &raw, current)?;
                keys.push(("marks".to_string(), key));
            }
            doc.put("status", &lesson, LessonStatus::Held.as_str())?;
            keys.push(("status".to_string(), lesson.clone()));
            Ok(Refresh::Keys(keys))
        })?;
        Ok(count)
    }

    /// Clears a mark (Delete in the grid).
    pub fn clear_mark(&mut self, journal: &str, lesson: &str, student: &str) -> Result<()> {
        self.ensure_lesson_open(journal, lesson)?;
        self.ensure_within_window(journal, lesson)?;
        let key = format!("{lesson}/{student}");
        self.edit(journal, "clear mark", move |doc| {
            doc.delete("marks", &key)?;
            Ok(Refresh::key("marks", key.clone()))
        })?;
        Ok(())
    }

    /// Enters a control score. `control` is a code from the module's plan (`JN`, `ON1`, `YN`),
    /// optionally with a sitting (`YN:2`).
    pub fn score(
        &mut self,
        journal: &str,
        control: &str,
        student: &str,
        points: f64,
    ) -> Result<()> {
        let row = self.journal_row(journal)?;
        if let Some(reason) = &row.lock {
            return Err(CoreError::Locked {
                what: "this journal".into(),
                reason: reason.clone(),
            });
        }
        let (code, sitting) = split_control(control)?;
        let controls = self.controls(row.module.as_deref())?;
        let Some(plan) = controls.iter().find(|c| c.code == code) else {
            let known = controls
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CoreError::invalid(
                "control",
                if known.is_empty() {
                    "this journal's course module has no control plan".to_string()
                } else {
                    format!("{code} is not in this module's control plan ({known})")
                },
            ));
        };
        // JN and ON have one sitting, but a student the dean's office lets retake may redo
        // them for that retake (sittings 2 and 3): the retake's JN and ON count when the
        // first sitting's did not admit (`daftar_rules::assessment::totals`).
        let retake_of_current =
            plan.kind != "YN" && (2..=3).contains(&sitting) && sitting > plan.sittings;
        if sitting < 1 || (sitting > plan.sittings && !retake_of_current) {
            return Err(CoreError::invalid(
                "control",
                format!("{code} allows sittings 1 to {}", plan.sittings),
            ));
        }
        if retake_of_current && !self.retake_permitted(journal, student, sitting as u8)? {
            return Err(CoreError::NotAllowed {
                reason: format!(
                    "{code} at sitting {sitting} is a retake of the current control: it needs the dean's office's retake permission for this student; the score was not saved"
                ),
            });
        }
        if !points.is_finite() || points < 0.0 || points > plan.max {
            return Err(CoreError::invalid(
                "points",
                format!("{points} is outside 0–{} for {code}", plan.max),
            ));
        }
        if row.marking == MarkingSystem::FivePoint
            && let Some(problem) = daftar_rules::assessment::five_point_grade_problem(points)
        {
            return Err(CoreError::invalid("points", problem));
        }
        let active = self.active_students(&row.group)?;
        if !active.iter().any(|s| s == student) {
            return Err(CoreError::invalid(
                "student",
                format!("student {student} is not an active member of this journal's group"),
            ));
        }
        // A final (YN) score only for a student admitted to it (daftar_rules::assessment),
        // and a retake sitting only with the dean's office's permission.
        if plan.kind == "YN"
            && sitting >= 2
            && !self.retake_permitted(journal, student, sitting as u8)?
        {
            return Err(CoreError::NotAllowed {
                reason: format!(
                    "sitting {sitting} of the final control needs the dean's office's retake permission for this student; the YN score was not saved"
                ),
            });
        }
        if plan.kind == "YN" {
            let system = daftar_rules::assessment::System::parse(row.marking.as_str())
                .unwrap_or(daftar_rules::assessment::System::Rating100);
            let rules_plan = self.control_plan(row.module.as_deref())?;
            let mine: Vec<daftar_rules::assessment::Score> = self
                .assessment_scores(journal, student)?
                .into_iter()
                .filter(|s| s.control != code)
                .collect();
            let totals =
                daftar_rules::assessment::totals(system, &rules_plan, &mine, sitting as u8);
            if let Some(reason) = daftar_rules::assessment::admission(system, &totals).reason() {
                return Err(CoreError::NotAllowed {
                    reason: format!("{reason}; the YN score was not saved"),
                });
            }
        }
        let key = format!("{code}/{sitting}/{student}");
        let raw = points.to_string();
        self.edit(journal, "score", move |doc| {
            doc.put("scores", &key, &raw)?;
            Ok(Refresh::key("scores", key.clone()))
        })?;
        Ok(())
    }

    /// Enters what a person typed in a control's cell: points (`12`, `12.5`, `12,5`), or, for
    /// the final control, an absence (`kelmadi`, `nb`, `келмади`, `не явился`, `absent`),
    /// or nothing to take an absence back. The CLI and the app both come through here.
    pub fn enter_score(
        &mut self,
        journal: &str,
        control: &str,
        student: &str,
        typed: &str,
    ) -> Result<ScoreEntry> {
        let entry = ScoreEntry::parse(typed)?;
        let (code, sitting) = split_control(control)?;
        match entry {
            ScoreEntry::Points(points) => self.score(journal, control, student, points)?,
            ScoreEntry::Absent | ScoreEntry::Cleared => {
                let row = self.journal_row(journal)?;
                let is_final = self
                    .controls(row.module.as_deref())?
                    .iter()
                    .any(|c| c.code == code && c.kind == "YN");
                if !is_final {
                    return Err(CoreError::invalid(
                        "points",
                        format!(
                            "{code} takes points; only the final control (YN) records an absence"
                        ),
                    ));
                }
                let sitting = u8::try_from(sitting).unwrap_or(0);
                self.record_final_absence(journal, student, sitting, entry == ScoreEntry::Absent)?;
            }
        }
        Ok(entry)
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

    fn controls(&self, module: Option<&str>) -> Result<Vec<ControlView>> {
        let Some(module) = module else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn().prepare_cached(
            "SELECT code, kind, max, sittings FROM module_controls WHERE module_id = ?1 ORDER BY kind, code",
        )?;
        let rows = stmt
            .query_map([module], |r| {
                Ok(ControlView {
                    code: r.get(0)?,
                    kind: r.get(1)?,
                    max: r.get(2)?,
                    sittings: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A dean's office adjustment of a saved mark (never overwrites the teacher's mark).
    pub fn adjust(
        &mut self,
        journal: &str,
        lesson: &str,
        student: &str,
        to: Attendance,
        reason: &str,
        document: Option<&str>,
    ) -> Result<()> {
        let value = AdjustmentValue {
            to,
            reason: reason.trim().to_string(),
            document: document.map(str::to_string),
            status: "approved".into(),
            kind: Some(
                if to == Attendance::Excused {
                    "11"
                } else {
                    "12"
                }
                .into(),
            ),
            deadline: None,
        };
        self.record_adjustment(journal, lesson, student, value)
    }

    /// Records an adjustment of a saved mark (excused, correction, make-up done or not, with
    /// its reason, document and make-up deadline) as a new entry of the cell, never
    /// overwriting an earlier one; the latest approved entry is the effective one.
    pub fn record_adjustment(
        &mut self,
        journal: &str,
        lesson: &str,
        student: &str,
        value: AdjustmentValue,
    ) -> Result<()> {
        let has_mark: bool = self
            .conn()
            .query_row(
                "SELECT 1 FROM marks WHERE journal_id = ?1 AND lesson_id = ?2 AND student_id = ?3",
                params![journal, lesson, student],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !has_mark {
            return Err(CoreError::invalid(
                "lesson",
                format!("student {student} has no mark at lesson {lesson} to adjust"),
            ));
        }
        value.check()?;
        let raw = serde_json::to_string(&value).unwrap_or_default();
        // Time-ordered, so a cell's entries list in the order they were made.
        let id = uuid::Uuid::now_v7().simple().to_string();
        let key = format!("{lesson}/{student}/{id}");
        self.edit(journal, "adjust", move |doc| {
            doc.put("adjustments", &key, &raw)?;
            Ok(Refresh::key("adjustments", key.clone()))
        })?;
        Ok(())
    }

    /// Locks a journal (or one lesson of it).
    pub fn lock(&mut self, journal: &str, lesson: Option<&str>, reason: &str) -> Result<()> {
        if let Some(l) = lesson {
            self.lesson_lock(journal, l)?;
        }
        let key = lesson.unwrap_or("*").to_string();
        let raw = serde_json::to_string(&LockValue {
            reason: reason.to_string(),
        })
        .unwrap_or_default();
        self.edit(journal, "lock", move |doc| {
            doc.put("locks", &key, &raw)?;
            Ok(Refresh::key("locks", key.clone()))
        })?;
        Ok(())
    }

    /// Lifts a lock.
    pub fn unlock(&mut self, journal: &str, lesson: Option<&str>) -> Result<()> {
        let key = lesson.unwrap_or("*").to_string();
        let changed = self.edit(journal, "unlock", move |doc| {
            doc.delete("locks", &key)?;
            Ok(Refresh::key("locks", key.clone()))
        })?;
        if !changed {
            return Err(CoreError::invalid(
                "lesson",
                match lesson {
                    Some(_) => "this lesson is not locked",
                    None => "this journal is not locked",
                },
            ));
        }
        Ok(())
    }

    /// "My journals".
    pub fn journals(&self) -> Result<Vec<JournalSummary>> {
        let mut stmt = self.conn().prepare(
            "WITH active AS (
                 SELECT group_id, count(*) AS n FROM students WHERE status = 'active' GROUP BY group_id
             ), unsynced AS (
                 -- One pass over the waiting changes: probing them per journal made the list
                 -- take 2 s at tier M (the planner scans every waiting change for each journal).
                 SELECT doc_id, count(*) AS n FROM changes WHERE local = 1 AND pushed = 0 GROUP BY doc_id
             )
             SELECT j.id, coalesce(g.name, j.group_id), j.subject, j.semester,
                    coalesce(a.n, 0),
                    (SELECT count(*) FROM lessons l WHERE l.journal_id = j.id AND l.status <> 'cancelled'),
                    j.lock_reason IS NOT NULL,
                    coalesce(u.n, 0),
                    (SELECT count(*) FROM conflicts c WHERE c.doc_id = j.id)
             FROM journals j
             LEFT JOIN groups g ON g.id = j.group_id
             LEFT JOIN active a ON a.group_id = j.group_id
             LEFT JOIN unsynced u ON u.doc_id = j.id
             ORDER BY coalesce(g.name, j.group_id), j.subject, j.id",
        )?;
        let mut complete: HashMap<String, i64> = HashMap::new();
        for ((journal, _), c) in self.completion(None)? {
            if c.complete() {
                *complete.entry(journal).or_default() += 1;
            }
        }
        let hidden = self.hidden_docs()?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                Ok(JournalSummary {
                    complete_lessons: complete.get(&id).copied().unwrap_or(0),
                    id: short_id(&id).to_string(),
                    group: r.get(1)?,
                    subject: r.get(2)?,
                    semester: r.get(3)?,
                    students: r.get(4)?,
                    lessons: r.get(5)?,
                    locked: r.get(6)?,
                    unsynced: r.get(7)?,
                    conflicts: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter(|j| !hidden.contains(&format!("journal/{}", j.id)))
            .collect())
    }

    /// The whole journal as the grid shows it.
    pub fn journal_view(&self, journal: &str) -> Result<JournalView> {
        let conn = self.conn();
        let head = conn
            .query_row(
                "SELECT j.group_id, g.name, j.module_id, j.subject, j.semester, j.marking_system,
                        j.teachers, j.lock_reason
                 FROM journals j LEFT JOIN groups g ON g.id = j.group_id WHERE j.id = ?1",
                [journal],
                |r| {
                    Ok(JournalHead {
                        group: r.get(0)?,
                        group_name: r.get(1)?,
                        module: r.get(2)?,
                        subject: r.get(3)?,
                        semester: r.get(4)?,
                        marking: r.get(5)?,
                        teachers: r.get(6)?,
                        lock: r.get(7)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("journal", short_id(journal)))?;
        let JournalHead {
            group,
            group_name,
            module,
            subject,
            semester,
            marking,
            teachers,
            lock,
        } = head;

        let students: Vec<StudentView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, number, name, status, subgroup FROM students WHERE group_id = ?1 ORDER BY name, id",
            )?;
            stmt.query_map([&group], |r| {
                Ok(StudentView {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    name: r.get(2)?,
                    status: r.get(3)?,
                    subgroup: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };

        // Cells first: one range scan of the journal's marks. Adjustments and inbox entries
        // are few and read by range into maps, rather than probed once per cell by a join,
        // and each lesson's count of marks comes from the cells already read. (Bench B1: the
        // per-cell probes and per-lesson counts made the grid 1.6× a plain read of the rows.)
        let adjustments: HashMap<(String, String), (String, String, String)> = {
            let mut stmt = conn.prepare_cached(
                "SELECT lesson_id, student_id, to_status, reason, status FROM adjustments
                 WHERE journal_id = ?1",
            )?;
            stmt.query_map([journal], |r| {
                Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?, r.get(4)?)))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mark_conflicts: HashMap<String, String> = {
            let mut stmt = conn.prepare_cached(
                "SELECT key, id FROM conflicts WHERE doc_id = ?1 AND field = 'mark'",
            )?;
            stmt.query_map([journal], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let cells: Vec<CellView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT lesson_id, student_id, status, hours, grade, note FROM marks
                 WHERE journal_id = ?1 ORDER BY lesson_id, student_id",
            )?;
            stmt.query_map([journal], |r| {
                let lesson: String = r.get(0)?;
                let student: String = r.get(1)?;
                let status: String = r.get(2)?;
                // Most journals have neither: skip building the lookup keys then.
                let adjustment = if adjustments.is_empty() {
                    None
                } else {
                    adjustments.get(&(lesson.clone(), student.clone()))
                };
                let effective = match adjustment {
                    Some((to, _, decision)) if decision == "approved" => to.clone(),
                    _ => status.clone(),
                };
                let conflict = if mark_conflicts.is_empty() {
                    None
                } else {
                    mark_conflicts.get(&format!("{lesson}/{student}")).cloned()
                };
                Ok(CellView {
                    lesson,
                    student,
                    status,
                    hours: r.get(3)?,
                    grade: r.get(4)?,
                    note: r.get(5)?,
                    adjusted_to: adjustment.map(|a| a.0.clone()),
                    adjustment_reason: adjustment.map(|a| a.1.clone()),
                    effective,
                    conflict,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let completion = self.completion(Some(journal))?;

        let lessons: Vec<LessonView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, date, pair, lesson_type, topic, teacher_id, status, lock_reason, subgroup
                 FROM lessons WHERE journal_id = ?1 ORDER BY date, pair, id",
            )?;
            stmt.query_map([journal], |r| {
                let id: String = r.get(0)?;
                let c = completion
                    .get(&(journal.to_string(), id.clone()))
                    .copied()
                    .unwrap_or_default();
                Ok(LessonView {
                    id,
                    date: r.get(1)?,
                    pair: r.get(2)?,
                    lesson_type: r.get(3)?,
                    topic: r.get(4)?,
                    teacher: r.get(5)?,
                    status: r.get(6)?,
                    lock: r.get(7)?,
                    subgroup: r.get(8)?,
                    complete: c.complete(),
                    unmarked: (c.expected - c.marked).max(0),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };

        let scores: Vec<ScoreView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT control, sitting, student_id, points FROM scores WHERE journal_id = ?1
                 ORDER BY control, sitting, student_id",
            )?;
            stmt.query_map([journal], |r| {
                Ok(ScoreView {
                    control: r.get(0)?,
                    sitting: r.get(1)?,
                    student: r.get(2)?,
                    points: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };

        let conflicts: Vec<String> = {
            let mut stmt =
                conn.prepare_cached("SELECT id FROM conflicts WHERE doc_id = ?1 ORDER BY id")?;
            stmt.query_map([journal], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };

        Ok(JournalView {
            id: short_id(journal).to_string(),
            subject,
            semester,
            group: short_id(&group).to_string(),
            group_name: group_name.unwrap_or_default(),
            module: module.as_deref().map(|m| short_id(m).to_string()),
            marking_system: marking,
            teachers: serde_json::from_str(&teachers).unwrap_or_default(),
            lock,
            controls: self.controls(module.as_deref())?,
            lessons,
            students,
            cells,
            scores,
            final_absences: self.final_absences(journal)?.into_iter().collect(),
            conflicts,
        })
    }

    /// Topics of a journal's course module, in order.
    pub fn module_topics(&self, module: &str) -> Result<Vec<(String, String, Option<String>)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, lesson_type FROM module_topics WHERE module_id = ?1 ORDER BY position, id",
        )?;
        let rows = stmt
            .query_map([module], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
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

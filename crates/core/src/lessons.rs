//! Lessons as they happen (`docs/assessment.md`, "Lessons"): who a lesson is for (its subgroup
//! and the students who are members of the group on its day), when it counts as filled,
//! cancelling, moving and reassigning it, the university's semester calendar, the hours
//! delivered against the module's plan, and absences from the final control.
//!
//! One home for each of these: the grid, the journal list, the reports, the CLI and the app
//! all read them from here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::journal::{NewLesson, short_id};
use crate::model::{HOURS_PER_PAIR, LessonStatus, LessonValue, display_date, parse_date};
use crate::projection::Refresh;
use crate::replica::Replica;

/// The catalog `settings` key of the semester calendar.
pub const CALENDAR_KEY: &str = "calendar";

/// The catalog `settings` key of the pairs' times (`{"1": "08:30–09:50", …}`, from HEMIS's
/// `lesson-pair-list`).
pub const PAIRS_KEY: &str = "lesson_pairs";

/// SQL over `students s` and `lessons l`: the student is expected at the lesson (a member of the
/// group on the lesson's day, in its subgroup when it has one). A student whose status is not
/// `active` (left, academic leave) counts on lessons before the day it changed (`until`).
pub(crate) const EXPECTED_AT_LESSON: &str = "(s.since IS NULL OR s.since <= l.date)
     AND (s.status = 'active' OR (s.until IS NOT NULL AND l.date < s.until))
     AND (l.subgroup IS NULL OR s.subgroup = l.subgroup)";

/// A semester's first and last day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub from: String,
    pub to: String,
}

/// The university's teaching calendar (catalog `settings["calendar"]`): semester dates, by
/// semester number or for every autumn (odd) and spring (even) semester, and holidays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub semesters: BTreeMap<String, Term>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autumn: Option<Term>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spring: Option<Term>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub holidays: BTreeSet<String>,
}

/// A semester's number from how a journal names it: `5`, or the HEMIS code `15` (codes 11
/// and 12 read as the 11th and 12th semesters: journals store numbers, and only a code of
/// 13 or more cannot be one).
pub fn semester_number(semester: &str) -> Option<u32> {
    // Journals store the number (1–12); a HEMIS code (13–22 for semesters 3–12) read as one.
    let n: u32 = semester.trim().parse().ok()?;
    match n {
        1..=12 => Some(n),
        13..=22 => Some(n - 10),
        _ => None,
    }
}

impl Calendar {
    /// The dates of a journal's semester, if the calendar has them.
    pub fn term_of(&self, semester: &str) -> Option<&Term> {
        let n = semester_number(semester);
        self.semesters
            .get(semester.trim())
            .or_else(|| n.and_then(|n| self.semesters.get(&n.to_string())))
            .or(match n {
                Some(n) if n % 2 == 1 => self.autumn.as_ref(),
                Some(_) => self.spring.as_ref(),
                None => None,
            })
    }

    /// Why a lesson on `date` (`YYYY-MM-DD`) in `semester` needs confirming, if it does: a
    /// Sunday, a holiday, or a day outside the semester.
    pub fn problem(&self, semester: &str, date: &str) -> Option<String> {
        let day = parse_date(date).ok()?;
        let shown = display_date(date);
        if self.holidays.contains(date) {
            return Some(format!("{shown} is a holiday in the university's calendar"));
        }
        if day.weekday() == time::Weekday::Sunday {
            return Some(format!("{shown} is a Sunday"));
        }
        if let Some(term) = self.term_of(semester)
            && (date < term.from.as_str() || date > term.to.as_str())
        {
            return Some(format!(
                "{shown} is outside the semester ({} – {})",
                display_date(&term.from),
                display_date(&term.to)
            ));
        }
        None
    }

    pub fn check(&self) -> Result<()> {
        let terms = self
            .semesters
            .values()
            .chain(self.autumn.iter())
            .chain(self.spring.iter());
        for t in terms {
            parse_date(&t.from)?;
            parse_date(&t.to)?;
            if t.from > t.to {
                return Err(CoreError::invalid(
                    "calendar",
                    format!(
                        "a semester cannot end ({}) before it begins ({})",
                        display_date(&t.to),
                        display_date(&t.from)
                    ),
                ));
            }
        }
        for h in &self.holidays {
            parse_date(h)?;
        }
        Ok(())
    }
}

/// Hours of one lesson type: the module's plan against what the journal holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct HoursLine {
    /// HEMIS training-type code.
    pub lesson_type: String,
    /// The module's planned hours (0 when the plan names none).
    pub planned: u32,
    /// Hours of lessons held (marked), cancelled ones left out.
    pub delivered: u32,
    /// Hours of lessons on the schedule not yet held.
    pub scheduled: u32,
    /// Planned hours neither delivered nor on the schedule.
    pub shortfall: u32,
}

/// What a lesson needs to count as filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Completion {
    pub expected: i64,
    pub marked: i64,
    pub topic: bool,
    pub cancelled: bool,
}

impl Completion {
    /// A lesson is filled when every student expected at it has a mark and its topic is set
    /// (domain.md, "Completion"), or HEMIS took its attendance (`topic` is true then). A
    /// cancelled lesson is not there to fill.
    pub fn complete(self) -> bool {
        !self.cancelled && self.topic && self.expected > 0 && self.marked >= self.expected
    }
}

impl Replica {
    /// The completion of every lesson of `journal` (every journal when `None`), by (journal,
    /// lesson).
    pub(crate) fn completion(
        &self,
        journal: Option<&str>,
    ) -> Result<HashMap<(String, String), Completion>> {
        // Most groups have every student studying from the start and most lessons are the
        // whole group's: there every student is expected and every mark counts, so the counts
        // need no per-student test (the completion of a faculty's 15,120 lessons, tier M: 0.25 s → 0.09 s in SQLite).
        let sql = format!(
            "WITH odd AS (SELECT DISTINCT group_id FROM students
                          WHERE status <> 'active' OR since IS NOT NULL OR until IS NOT NULL)
             SELECT l.journal_id, l.id,
                    CASE WHEN l.subgroup IS NULL AND j.group_id NOT IN odd
                      THEN (SELECT count(*) FROM students s WHERE s.group_id = j.group_id)
                      ELSE (SELECT count(*) FROM students s WHERE s.group_id = j.group_id AND {EXPECTED_AT_LESSON})
                    END,
                    CASE WHEN l.subgroup IS NULL AND j.group_id NOT IN odd
                      THEN (SELECT count(*) FROM marks m JOIN students s ON s.group_id = j.group_id AND s.id = m.student_id
                             WHERE m.journal_id = l.journal_id AND m.lesson_id = l.id)
                      ELSE (SELECT count(*) FROM marks m JOIN students s ON s.group_id = j.group_id AND s.id = m.student_id
                             WHERE m.journal_id = l.journal_id AND m.lesson_id = l.id AND {EXPECTED_AT_LESSON})
                    END,
                    coalesce(trim(l.topic), '') <> '' OR l.taken,
                    l.status = 'cancelled'
             FROM lessons l JOIN journals j ON j.id = l.journal_id
             WHERE ?1 IS NULL OR l.journal_id = ?1"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt
            .query_map([journal], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                    Completion {
                        expected: r.get(2)?,
                        marked: r.get(3)?,
                        topic: r.get(4)?,
                        cancelled: r.get(5)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        Ok(rows)
    }

    /// The students expected at a lesson (its subgroup, members on its day), by name.
    pub fn lesson_members(&self, journal: &str, lesson: &str) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT s.id FROM lessons l JOIN journals j ON j.id = l.journal_id
             JOIN students s ON s.group_id = j.group_id
             WHERE l.journal_id = ?1 AND l.id = ?2 AND {EXPECTED_AT_LESSON}
             ORDER BY s.name, s.id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let ids = stmt
            .query_map(params![journal, lesson], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// The pairs' times the university's HEMIS sent (pair number → "08:30–09:50").
    pub fn pair_times(&self) -> Result<BTreeMap<u8, String>> {
        let raw: Option<Option<String>> = self
            .conn()
            .query_row("SELECT lesson_pairs FROM catalog LIMIT 1", [], |r| r.get(0))
            .optional()?;
        let map: BTreeMap<String, String> = raw
            .flatten()
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default();
        Ok(map
            .into_iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
            .collect())
    }

    /// The university's calendar (empty when it has none).
    pub fn calendar(&self) -> Result<Calendar> {
        let raw: Option<Option<String>> = self
            .conn()
            .query_row("SELECT calendar FROM catalog LIMIT 1", [], |r| r.get(0))
            .optional()?;
        Ok(raw
            .flatten()
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default())
    }

    /// Sets the university's calendar (administrator).
    pub fn set_calendar(&mut self, calendar: &Calendar) -> Result<()> {
        calendar.check()?;
        let catalog: String = self
            .conn()
            .query_row("SELECT id FROM catalog LIMIT 1", [], |r| r.get(0))
            .optional()?
            .ok_or_else(|| CoreError::not_found("catalog", "this university"))?;
        let raw = serde_json::to_string(calendar).unwrap_or_default();
        self.edit(&catalog, "set calendar", move |doc| {
            doc.put("settings", CALENDAR_KEY, &raw)?;
            Ok(Refresh::Whole)
        })?;
        Ok(())
    }

    /// Why a lesson of `journal` on `date` needs confirming (holiday, Sunday, outside the
    /// semester), if it does.
    pub fn lesson_date_problem(&self, journal: &str, date: &str) -> Result<Option<String>> {
        let semester: String = self
            .conn()
            .query_row(
                "SELECT semester FROM journals WHERE id = ?1",
                [journal],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("journal", short_id(journal)))?;
        Ok(self.calendar()?.problem(&semester, date))
    }

    /// Adds a lesson, refusing a day the calendar does not teach on unless `confirmed`.
    pub fn add_lesson_checked(
        &mut self,
        journal: &str,
        lesson: NewLesson,
        confirmed: bool,
    ) -> Result<String> {
        if !confirmed && let Some(problem) = self.lesson_date_problem(journal, &lesson.date)? {
            return Err(CoreError::NeedsConfirmation {
                reason: format!("{problem}: add the lesson anyway only if it really takes place"),
            });
        }
        self.add_lesson(journal, lesson)
    }

    /// The lesson's header and status as the projection holds them.
    fn lesson_row(
        &self,
        journal: &str,
        lesson: &str,
    ) -> Result<(LessonValue, String, Option<String>)> {
        self.conn()
            .query_row(
                "SELECT date, pair, lesson_type, teacher_id, subgroup, status, topic, taken FROM lessons
                 WHERE journal_id = ?1 AND id = ?2",
                params![journal, lesson],
                |r| {
                    Ok((
                        LessonValue {
                            date: r.get(0)?,
                            pair: r.get::<_, i64>(1)?.clamp(1, 8) as u8,
                            lesson_type: r.get(2)?,
                            teacher: r.get(3)?,
                            subgroup: r.get(4)?,
                            taken: r.get(7)?,
                        },
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("lesson", lesson))
    }

    fn lesson_has_marks(&self, journal: &str, lesson: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM marks WHERE journal_id = ?1 AND lesson_id = ?2 LIMIT 1",
                params![journal, lesson],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Cancels a lesson that did not take place. A held lesson (one with marks) only the dean's
    /// office cancels (`daftar_rules::lessons`; the rule is the server's too).
    pub fn cancel_lesson(&mut self, journal: &str, lesson: &str) -> Result<()> {
        let (_, status, _) = self.lesson_row(journal, lesson)?;
        if status == LessonStatus::Cancelled.as_str() {
            return Ok(());
        }
        self.ensure_journal_open(journal)?;
        if self.signed_in_role()? == Some(daftar_protocol::Role::Teacher)
            && (status == LessonStatus::Held.as_str() || self.lesson_has_marks(journal, lesson)?)
        {
            return Err(CoreError::NotAllowed {
                reason: daftar_rules::lessons::HELD_LESSON.into(),
            });
        }
        let lesson = lesson.to_string();
        self.edit(journal, "cancel lesson", move |doc| {
            doc.put("status", &lesson, LessonStatus::Cancelled.as_str())?;
            Ok(Refresh::key("status", lesson.clone()))
        })?;
        Ok(())
    }

    /// Moves a lesson that has not been held to another day or pair (its own pair when none is
    /// given): the lesson is cancelled and a new one, with its type, teacher, subgroup and
    /// topic, added on the new day. Returns the new lesson's id. A held lesson keeps its day
    /// (its marks were written for it).
    pub fn move_lesson(
        &mut self,
        journal: &str,
        lesson: &str,
        date: &str,
        pair: Option<u8>,
        confirmed: bool,
    ) -> Result<String> {
        let (header, status, topic) = self.lesson_row(journal, lesson)?;
        let pair = pair.unwrap_or(header.pair);
        if status == LessonStatus::Cancelled.as_str() {
            return Err(CoreError::invalid(
                "lesson",
                "this lesson is cancelled: add a new lesson instead",
            ));
        }
        if self.lesson_has_marks(journal, lesson)? {
            return Err(CoreError::invalid(
                "lesson",
                format!(
                    "this lesson was held on {} (it has marks): its marks stay on that day",
                    display_date(&header.date)
                ),
            ));
        }
        let date = parse_date(date)?.to_string();
        if !confirmed && let Some(problem) = self.lesson_date_problem(journal, &date)? {
            return Err(CoreError::NeedsConfirmation {
                reason: format!("{problem}: move the lesson there only if it really takes place"),
            });
        }
        let new = LessonValue {
            date,
            pair,
            taken: false,
            ..header
        };
        self.atomically(|r| {
            r.cancel_lesson(journal, lesson)?;
            r.add_lesson_header(journal, new, topic)
        })
    }

    /// Gives a lesson to another teacher (dean's office).
    pub fn reassign_lesson(&mut self, journal: &str, lesson: &str, teacher: &str) -> Result<()> {
        let (mut header, _, _) = self.lesson_row(journal, lesson)?;
        let teacher = teacher.trim();
        let known: Option<String> = self
            .conn()
            .query_row(
                "SELECT id FROM teachers WHERE id = ?1 OR lower(name) = lower(?1) LIMIT 1",
                [teacher],
                |r| r.get(0),
            )
            .optional()?;
        let Some(teacher) = known else {
            return Err(CoreError::not_found("teacher", teacher));
        };
        header.teacher = Some(teacher);
        self.put_lesson_header(journal, lesson, &header, "reassign lesson")
    }

    /// Makes a lesson one subgroup's (labs, languages), or the whole group's with `None`.
    pub fn set_lesson_subgroup(
        &mut self,
        journal: &str,
        lesson: &str,
        subgroup: Option<&str>,
    ) -> Result<()> {
        let (mut header, _, _) = self.lesson_row(journal, lesson)?;
        let subgroup = subgroup.map(str::trim).filter(|s| !s.is_empty());
        if let Some(sg) = subgroup {
            let members: i64 = self.conn().query_row(
                "SELECT count(*) FROM students s JOIN journals j ON j.group_id = s.group_id
                 WHERE j.id = ?1 AND s.subgroup = ?2",
                params![journal, sg],
                |r| r.get(0),
            )?;
            if members == 0 {
                return Err(CoreError::invalid(
                    "subgroup",
                    format!("this journal's group has no subgroup {sg:?}"),
                ));
            }
        }
        header.subgroup = subgroup.map(str::to_string);
        self.put_lesson_header(journal, lesson, &header, "set lesson subgroup")
    }

    fn put_lesson_header(
        &mut self,
        journal: &str,
        lesson: &str,
        header: &LessonValue,
        message: &str,
    ) -> Result<()> {
        self.ensure_journal_open(journal)?;
        let raw = serde_json::to_string(header).unwrap_or_default();
        let lesson = lesson.to_string();
        self.edit(journal, message, move |doc| {
            doc.put("lessons", &lesson, &raw)?;
            Ok(Refresh::key("lessons", lesson.clone()))
        })?;
        Ok(())
    }

    fn ensure_journal_open(&self, journal: &str) -> Result<()> {
        match self.journal_row(journal)?.lock {
            Some(reason) => Err(CoreError::Locked {
                what: "this journal".into(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The dean's office records a change of a student's membership: `left` or
    /// `academic_leave` from a day (lessons before it still expect the student), back to
    /// `active`, or the day a student `joined` the group.
    pub fn set_student_status(
        &mut self,
        journal: &str,
        student: &str,
        status: Option<&str>,
        from: Option<&str>,
        joined: Option<&str>,
    ) -> Result<crate::projection::StudentValue> {
        let group: String = self
            .conn()
            .query_row(
                "SELECT group_id FROM journals WHERE id = ?1",
                [journal],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("journal", short_id(journal)))?;
        let status = match status.map(|s| s.trim().to_lowercase().replace(['-', ' '], "_")) {
            None => None,
            Some(s) => Some(match s.as_str() {
                "active" | "studying" | "11" => "active",
                "left" | "expelled" | "12" => "left",
                "academic_leave" | "leave" | "13" => "academic_leave",
                _ => {
                    return Err(CoreError::invalid(
                        "status",
                        format!(
                            "{s:?} is not a student status: use active, left or academic-leave"
                        ),
                    ));
                }
            }),
        };
        let from = from.map(parse_date).transpose()?.map(|d| d.to_string());
        let joined = joined.map(parse_date).transpose()?.map(|d| d.to_string());
        if status.is_some_and(|s| s != "active") && from.is_none() {
            return Err(CoreError::invalid(
                "from",
                "say from which day (--from dd.mm.yyyy): lessons before it still count the student",
            ));
        }
        let key = student.to_string();
        let raw = self
            .doc(&group)?
            .get("students", &key)
            .ok_or_else(|| CoreError::not_found("student", student))?;
        let mut value: crate::projection::StudentValue = serde_json::from_str(&raw)
            .map_err(|_| CoreError::invalid("student", "this student's record is damaged"))?;
        if let Some(s) = status {
            value.status = s.to_string();
            value.until = if s == "active" { None } else { from.clone() };
        }
        if joined.is_some() {
            value.since = joined;
        }
        let raw = serde_json::to_string(&value).unwrap_or_default();
        self.edit(&group, "student status", move |doc| {
            doc.put("students", &key, &raw)?;
            Ok(Refresh::key("students", key.clone()))
        })?;
        Ok(value)
    }

    /// Hours per lesson type: the module's plan, delivered (held lessons), still on the
    /// schedule, and the shortfall (planned hours neither delivered nor scheduled).
    pub fn delivered_hours(&self, journal: &str) -> Result<Vec<HoursLine>> {
        let planned: BTreeMap<String, u32> = self
            .conn()
            .query_row(
                "SELECT m.hours FROM journals j JOIN modules m ON m.id = j.module_id WHERE j.id = ?1",
                [journal],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|h| serde_json::from_str::<BTreeMap<String, u32>>(&h).ok())
            .unwrap_or_default();
        let mut lines: BTreeMap<String, HoursLine> = planned
            .iter()
            .map(|(code, hours)| {
                (
                    code.clone(),
                    HoursLine {
                        lesson_type: code.clone(),
                        planned: *hours,
                        delivered: 0,
                        scheduled: 0,
                        shortfall: 0,
                    },
                )
            })
            .collect();
        let mut stmt = self.conn().prepare_cached(
            "SELECT l.lesson_type, l.subgroup, l.status = 'held' OR EXISTS
                    (SELECT 1 FROM marks m WHERE m.journal_id = l.journal_id AND m.lesson_id = l.id)
             FROM lessons l WHERE l.journal_id = ?1 AND l.status <> 'cancelled'",
        )?;
        let rows = stmt
            .query_map([journal], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // A pair taught to each subgroup in turn gives each student one pair, not two: a type's
        // hours are its whole-group lessons plus the most any one subgroup had.
        let mut per: BTreeMap<(String, Option<String>), (u32, u32)> = BTreeMap::new();
        for (code, subgroup, held) in rows {
            let e = per.entry((code, subgroup)).or_default();
            if held {
                e.0 += HOURS_PER_PAIR;
            } else {
                e.1 += HOURS_PER_PAIR;
            }
        }
        // Per lesson type: (held, planned) for the whole group, then for subgroups.
        type HeldPlanned = (u32, u32);
        let mut by_type: BTreeMap<String, (HeldPlanned, HeldPlanned)> = BTreeMap::new();
        for ((code, subgroup), (held, planned)) in per {
            let e = by_type.entry(code).or_default();
            match subgroup {
                None => {
                    e.0.0 += held;
                    e.0.1 += planned;
                }
                Some(_) => {
                    e.1.0 = e.1.0.max(held);
                    e.1.1 = e.1.1.max(planned);
                }
            }
        }
        for (code, ((whole_held, whole_planned), (sub_held, sub_planned))) in by_type {
            let line = lines.entry(code.clone()).or_insert_with(|| HoursLine {
                lesson_type: code,
                planned: 0,
                delivered: 0,
                scheduled: 0,
                shortfall: 0,
            });
            line.delivered += whole_held + sub_held;
            line.scheduled += whole_planned + sub_planned;
        }
        Ok(lines
            .into_values()
            .map(|mut l| {
                l.shortfall = l.planned.saturating_sub(l.delivered + l.scheduled);
                l
            })
            .collect())
    }

    /// Records that a student did not come to a YN sitting ("kelmadi" on the statement), or
    /// takes the record back. An admitted student absent from YN is an academic debtor.
    pub fn record_final_absence(
        &mut self,
        journal: &str,
        student: &str,
        sitting: u8,
        absent: bool,
    ) -> Result<()> {
        if !(1..=3).contains(&sitting) {
            return Err(CoreError::invalid(
                "sitting",
                "the final control has sittings 1 to 3",
            ));
        }
        self.ensure_journal_open(journal)?;
        if absent && sitting >= 2 && !self.retake_permitted(journal, student, sitting)? {
            return Err(CoreError::NotAllowed {
                reason: format!(
                    "sitting {sitting} of the final control needs the dean's office's retake permission for this student"
                ),
            });
        }
        let key = daftar_rules::assessment::absent_key(sitting, student);
        self.edit(journal, "final absence", move |doc| {
            if absent {
                doc.put("status", &key, "kelmadi")?;
            } else {
                doc.delete("status", &key)?;
            }
            Ok(Refresh::key("status", key.clone()))
        })?;
        Ok(())
    }

    /// The sittings each student of a journal was recorded absent from.
    pub fn final_absences(&self, journal: &str) -> Result<BTreeSet<(String, u8)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT student_id, sitting FROM final_absences WHERE journal_id = ?1",
        )?;
        let rows = stmt
            .query_map([journal], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?.clamp(1, 9) as u8,
                ))
            })?
            .collect::<rusqlite::Result<BTreeSet<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(from: &str, to: &str) -> Term {
        Term {
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn the_calendar_names_holidays_sundays_and_days_outside_the_semester() {
        let cal = Calendar {
            autumn: Some(term("2026-09-01", "2026-12-26")),
            spring: Some(term("2027-01-26", "2027-05-29")),
            holidays: ["2026-10-01".to_string()].into_iter().collect(),
            ..Calendar::default()
        };
        assert_eq!(cal.problem("3", "2026-09-14"), None);
        assert_eq!(
            cal.problem("13", "2026-09-14"),
            None,
            "HEMIS code 13 is semester 3"
        );
        assert!(
            cal.problem("3", "2026-10-01")
                .expect("a holiday")
                .contains("holiday")
        );
        assert!(
            cal.problem("3", "2026-09-13")
                .expect("a Sunday")
                .contains("Sunday")
        );
        let outside = cal
            .problem("3", "2027-02-01")
            .expect("outside the semester");
        assert!(
            outside.contains("outside the semester (01.09.2026 – 26.12.2026)"),
            "{outside}"
        );
        assert_eq!(cal.problem("4", "2027-02-01"), None, "spring semester");
        assert_eq!(Calendar::default().problem("3", "2027-02-01"), None);
        assert!(cal.check().is_ok());
        assert!(
            Calendar {
                autumn: Some(term("2026-12-01", "2026-09-01")),
                ..Calendar::default()
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn semester_numbers_from_numbers_and_hemis_codes() {
        assert_eq!(semester_number("5"), Some(5));
        assert_eq!(semester_number("15"), Some(5));
        assert_eq!(
            semester_number("11"),
            Some(11),
            "a six-year programme's 11th semester"
        );
        assert_eq!(semester_number("22"), Some(12));
        assert_eq!(semester_number("x"), None);
    }
}

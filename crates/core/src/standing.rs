//! A student's semester across every subject: unexcused and excused hours summed over all the
//! journals of the semester (as HEMIS's "overall" attendance report sums them) against the
//! catalog's thresholds for the marking system, and the subjects where the student is an
//! academic debtor. The rules themselves are `daftar_rules::assessment`; this module gathers
//! the numbers from the projection.

use std::collections::BTreeMap;

use daftar_rules::assessment::{
    self, Admission, Control, Debt, Kind, Level, Outcome, Score, System, Thresholds, Totals,
};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::Result;
use crate::model::HOURS_PER_PAIR;
use crate::replica::Replica;

/// Which students a standing or debtor list covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Faculty id.
    pub faculty: Option<String>,
    /// Group document id, bare id or name.
    pub group: Option<String>,
    /// Semester as the journals write it (`3`).
    pub semester: Option<String>,
}

/// Hours in one subject.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct SubjectHours {
    pub journal: String,
    pub subject: String,
    pub unexcused_hours: u32,
    pub excused_hours: u32,
}

/// A student's semester standing.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct StudentStanding {
    pub student: String,
    pub name: String,
    pub group: String,
    pub group_name: String,
    pub faculty: Option<String>,
    pub semester: String,
    pub unexcused_hours: u32,
    pub excused_hours: u32,
    pub level: Level,
    /// One more missed pair would reach the next level.
    pub near_next: bool,
    pub thresholds: Thresholds,
    pub subjects: Vec<SubjectHours>,
}

/// A student's assessment in one subject.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct SubjectAssessment {
    pub student: String,
    /// The YN sitting it is judged at: the latest with a YN score, else 1.
    pub sitting: u8,
    pub totals: Totals,
    pub admission: Admission,
    pub outcome: Outcome,
}

/// An academic debt.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct Debtor {
    pub student: String,
    pub name: String,
    pub group_name: String,
    pub journal: String,
    pub subject: String,
    pub semester: String,
    /// Why: not admitted, failed, or absent from the final control.
    pub debt: Debt,
    pub assessment: SubjectAssessment,
    /// This student's debts in the semester (within the scope).
    pub debts: u32,
    /// `debts` reached [`assessment::HELD_BACK_DEBTS`]: the student is held back.
    pub held_back: bool,
}

impl Replica {
    /// The catalog's thresholds for a marking system (defaults when it names none).
    pub fn thresholds(&self, system: System) -> Result<Thresholds> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT thresholds FROM catalog LIMIT 1", [], |r| r.get(0))
            .optional()?;
        Ok(Thresholds::from_catalog(json.as_deref(), system))
    }

    /// Every student's semester standing in `scope`, at `at_least` or above, worst first.
    pub fn standing(&self, scope: &Scope, at_least: Level) -> Result<Vec<StudentStanding>> {
        let mut stmt = self.conn().prepare_cached(
            // The journals in scope first, then their marks by the marks' key (`CROSS JOIN`
            // keeps that order): a group's semester reads that group's marks, not every mark
            // of the replica (the grid asks this after every edit; docs/BENCHMARKS.md,
            // "Changes made because of these measurements", session 13).
            "WITH js AS (
               SELECT j.id, j.subject, j.semester, j.marking_system, g.id AS gid,
                      g.name AS gname, g.faculty_id
               FROM journals j JOIN groups g ON g.id = j.group_id
               WHERE (?1 IS NULL OR g.faculty_id = ?1)
                 AND (?2 IS NULL OR g.id = ?2 OR g.id = 'group/' || ?2 OR g.name = ?2)
                 AND (?3 IS NULL OR j.semester = ?3))
             SELECT js.id, js.subject, js.semester, js.marking_system, js.gid, js.gname,
                    js.faculty_id, x.student_id, COALESCE(s.name, x.student_id),
                    SUM(CASE WHEN x.eff = 'a' THEN x.h ELSE 0 END),
                    SUM(CASE WHEN x.eff = 'e' THEN x.h ELSE 0 END)
             FROM js
             CROSS JOIN (SELECT m.journal_id, m.student_id,
                          CASE WHEN a.status = 'approved' THEN a.to_status ELSE m.status END AS eff,
                          CASE WHEN m.hours > 0 THEN m.hours ELSE ?4 END AS h
                   FROM marks m
                   LEFT JOIN adjustments a ON a.journal_id = m.journal_id
                        AND a.lesson_id = m.lesson_id AND a.student_id = m.student_id) x
                  ON x.journal_id = js.id
             LEFT JOIN students s ON s.group_id = js.gid AND s.id = x.student_id
             GROUP BY js.id, x.student_id
             ORDER BY js.gname, x.student_id, js.subject",
        )?;
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            i64,
        );
        let rows: Vec<Row> = stmt
            .query_map(
                params![
                    scope.faculty,
                    scope.group,
                    scope.semester,
                    HOURS_PER_PAIR as i64
                ],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                    ))
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        // (group, student, semester) → standing.
        let mut by_student: BTreeMap<(String, String, String), StudentStanding> = BTreeMap::new();
        let mut thresholds: BTreeMap<String, Thresholds> = BTreeMap::new();
        for (
            journal,
            subject,
            semester,
            marking,
            group,
            group_name,
            faculty,
            student,
            name,
            un,
            ex,
        ) in rows
        {
            let t = match thresholds.get(&marking) {
                Some(t) => *t,
                None => {
                    let system = System::parse(&marking).unwrap_or(System::Rating100);
                    let t = self.thresholds(system)?;
                    thresholds.insert(marking.clone(), t);
                    t
                }
            };
            let entry = by_student
                .entry((group.clone(), student.clone(), semester.clone()))
                .or_insert_with(|| StudentStanding {
                    student: student.clone(),
                    name,
                    group,
                    group_name,
                    faculty,
                    semester,
                    unexcused_hours: 0,
                    excused_hours: 0,
                    level: Level::Ok,
                    near_next: false,
                    thresholds: t,
                    subjects: Vec::new(),
                });
            let (un, ex) = (un.max(0) as u32, ex.max(0) as u32);
            entry.unexcused_hours += un;
            entry.excused_hours += ex;
            entry.subjects.push(SubjectHours {
                journal: daftar_protocol::ids::short_id(&journal).to_string(),
                subject,
                unexcused_hours: un,
                excused_hours: ex,
            });
        }
        let mut out: Vec<StudentStanding> = by_student
            .into_values()
            .map(|mut s| {
                s.level = s.thresholds.level(s.unexcused_hours);
                s.near_next = s.thresholds.near_next(s.unexcused_hours);
                s
            })
            .filter(|s| s.level >= at_least)
            .collect();
        out.sort_by(|a, b| {
            b.unexcused_hours
                .cmp(&a.unexcused_hours)
                .then_with(|| a.group_name.cmp(&b.group_name))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(out)
    }

    /// Semester hours per student of a group (unexcused, excused), for the journal's report.
    pub fn semester_hours(
        &self,
        group: &str,
        semester: &str,
    ) -> Result<BTreeMap<String, (u32, u32)>> {
        let scope = Scope {
            group: Some(group.to_string()),
            semester: Some(semester.to_string()),
            ..Scope::default()
        };
        Ok(self
            .standing(&scope, Level::Ok)?
            .into_iter()
            .map(|s| (s.student, (s.unexcused_hours, s.excused_hours)))
            .collect())
    }

    /// Every student's assessment in a journal (document id).
    pub fn assessments(&self, journal: &str) -> Result<Vec<SubjectAssessment>> {
        let (marking, module, group): (String, Option<String>, String) = self.conn().query_row(
            "SELECT marking_system, module_id, group_id FROM journals WHERE id = ?1",
            [journal],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let system = System::parse(&marking).unwrap_or(System::Rating100);
        let plan = self.control_plan(module.as_deref())?;
        let mut scores: BTreeMap<String, Vec<Score>> = BTreeMap::new();
        {
            let mut stmt = self.conn().prepare_cached(
                "SELECT student_id, control, sitting, points FROM scores WHERE journal_id = ?1",
            )?;
            let rows = stmt.query_map([journal], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            })?;
            for row in rows {
                let (student, control, sitting, points) = row?;
                scores.entry(student).or_default().push(Score {
                    control,
                    sitting: sitting.clamp(1, 9) as u8,
                    points,
                });
            }
        }
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT id FROM students WHERE group_id = ?1 ORDER BY id")?;
        let students = stmt
            .query_map([&group], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let none = Vec::new();
        let absences = self.final_absences(journal)?;
        Ok(students
            .into_iter()
            .map(|student| {
                let mine = scores.get(&student).unwrap_or(&none);
                let absent: Vec<u8> = absences
                    .iter()
                    .filter(|(s, _)| *s == student)
                    .map(|(_, sitting)| *sitting)
                    .collect();
                assess(system, &plan, mine, &absent, student)
            })
            .collect())
    }

    /// The module's control plan as the rules read it.
    pub(crate) fn control_plan(&self, module: Option<&str>) -> Result<Vec<Control>> {
        let Some(module) = module else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT code, kind, max FROM module_controls WHERE module_id = ?1")?;
        let rows = stmt
            .query_map([module], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(code, kind, max)| {
                Some(Control {
                    code,
                    kind: Kind::parse(&kind)?,
                    max,
                })
            })
            .collect())
    }

    /// Academic debtors in `scope`: every student × subject whose state is a debt.
    pub fn debtors(&self, scope: &Scope) -> Result<Vec<Debtor>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT j.id, j.subject, j.semester, g.name FROM journals j JOIN groups g ON g.id = j.group_id
             WHERE (?1 IS NULL OR g.faculty_id = ?1)
               AND (?2 IS NULL OR g.id = ?2 OR g.id = 'group/' || ?2 OR g.name = ?2)
               AND (?3 IS NULL OR j.semester = ?3)
             ORDER BY g.name, j.subject",
        )?;
        let journals = stmt
            .query_map(params![scope.faculty, scope.group, scope.semester], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for (journal, subject, semester, group_name) in journals {
            let names: BTreeMap<String, String> = {
                let mut stmt = self.conn().prepare_cached(
                    "SELECT s.id, s.name FROM students s JOIN journals j ON j.group_id = s.group_id WHERE j.id = ?1",
                )?;
                stmt.query_map([&journal], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for a in self.assessments(&journal)? {
                if let Outcome::Debtor { debt } = a.outcome {
                    out.push(Debtor {
                        debt,
                        name: names.get(&a.student).cloned().unwrap_or_default(),
                        student: a.student.clone(),
                        group_name: group_name.clone(),
                        journal: daftar_protocol::ids::short_id(&journal).to_string(),
                        subject: subject.clone(),
                        semester: semester.clone(),
                        assessment: a,
                        debts: 0,
                        held_back: false,
                    });
                }
            }
        }
        let mut per_student: BTreeMap<(String, String), u32> = BTreeMap::new();
        for d in &out {
            *per_student
                .entry((d.student.clone(), d.semester.clone()))
                .or_default() += 1;
        }
        for d in &mut out {
            d.debts = per_student[&(d.student.clone(), d.semester.clone())];
            d.held_back = d.debts >= assessment::HELD_BACK_DEBTS;
        }
        Ok(out)
    }
}

/// One student's assessment from their scores.
pub fn assess(
    system: System,
    plan: &[Control],
    scores: &[Score],
    absent_from: &[u8],
    student: String,
) -> SubjectAssessment {
    let final_codes: Vec<&str> = plan
        .iter()
        .filter(|c| c.kind == Kind::Final)
        .map(|c| c.code.as_str())
        .collect();
    let sitting = scores
        .iter()
        .filter(|s| final_codes.contains(&s.control.as_str()))
        .map(|s| s.sitting)
        .chain(absent_from.iter().copied())
        .max()
        .unwrap_or(1);
    let totals = assessment::totals(system, plan, scores, sitting)
        .with_absence(absent_from.contains(&sitting));
    let admission = assessment::admission(system, &totals);
    let outcome = assessment::outcome(system, &totals);
    SubjectAssessment {
        student,
        sitting,
        totals,
        admission,
        outcome,
    }
}

//! The journal grid as the app shows it: lessons as columns (with their entry windows and the
//! next topic to offer), students as rows, the cells, each row's totals, the module's topics
//! and control plan, the scores, and what the dean's office decided. [`Replica::grid`] builds it
//! whole when a journal opens; [`Replica::grid_patch`] answers an edit with only what it
//! changed, so the screen repaints those elements and nothing else.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use daftar_rules::assessment::{Level, System};

use crate::catalog::{ModuleControl, ModuleTopic};
use crate::error::Result;
use crate::inbox::Resolution;
use crate::journal::{CellView, JournalView, LessonView};
use crate::model::MarkingSystem;
use crate::overruled::Overruled;
use crate::replica::Replica;
use crate::report::JournalReport;

/// A lesson column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct GridLesson {
    pub id: String,
    /// `YYYY-MM-DD` (the UI shows dd.MM.yyyy).
    pub date: String,
    pub pair: u8,
    /// HEMIS lesson type code (`11` lecture … `17` self-study).
    pub lesson_type: String,
    pub topic: Option<String>,
    /// `planned`, `held` or `cancelled`.
    pub status: String,
    /// Why the lesson is read-only (its own lock or the journal's), if it is.
    pub lock: Option<String>,
    /// Its entry window has closed for marks (the teacher may ask the dean's office to open it).
    pub entry_closed: bool,
    /// Every student expected at it has a mark, and its topic is set.
    pub complete: bool,
    /// Students expected at it who have no mark yet.
    pub unmarked: u32,
    /// The subgroup the lesson is for (labs, languages); `null`: the whole group.
    pub subgroup: Option<String>,
    /// Without a topic: the module's next unused topic of its type, offered first (one key
    /// to accept).
    pub next_topic: Option<String>,
}

/// A student row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct GridStudent {
    pub id: String,
    pub number: Option<String>,
    pub name: String,
    /// Still studying (not expelled, on leave or graduated): only active students are marked.
    pub active: bool,
    pub subgroup: Option<String>,
}

/// The totals at the end of a student's row: this subject's hours, and the student as the
/// journal's report judges them (standing on the semester's unexcused hours over every
/// subject, against the catalog's thresholds; the grade and the risk from the assessment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct StudentTotals {
    pub student: String,
    pub excused_hours: u32,
    pub unexcused_hours: u32,
    /// Over every subject of the semester: what the standing is judged on.
    pub semester_unexcused_hours: u32,
    pub semester_excused_hours: u32,
    pub standing: Level,
    pub average: Option<f64>,
    pub five_point: Option<u8>,
    pub at_risk: bool,
}

/// Points of one student at one sitting of a control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct GridScore {
    /// Control code from the module's plan (`JN`, `ON1`, `YN`).
    pub control: String,
    pub sitting: u32,
    pub student: String,
    pub points: f64,
    /// Recorded absent from this final-control sitting ("kelmadi"); `points` is 0 then.
    pub absent: bool,
}

/// A retake the dean's office permits: the student's JN and ON may be redone, and YN sat
/// again, at that sitting (2 or 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct GridRetake {
    pub student: String,
    pub sitting: u8,
}

/// A cell that no longer holds a mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct ClearedCell {
    pub lesson: String,
    pub student: String,
}

/// Everything the journal grid shows, in one answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct JournalGrid {
    pub id: String,
    pub subject: String,
    pub semester: String,
    pub group_name: String,
    pub module: Option<String>,
    pub marking_system: String,
    pub grade_min: u32,
    pub grade_max: u32,
    pub lock: Option<String>,
    /// The catalog's unexcused-hour thresholds: warning, reprimand, expulsion.
    pub thresholds: Vec<u32>,
    /// The lesson the grid opens at: today's lesson still to fill, else the next one to fill.
    pub focus_lesson: Option<String>,
    pub lessons: Vec<GridLesson>,
    pub students: Vec<GridStudent>,
    pub cells: Vec<CellView>,
    pub totals: Vec<StudentTotals>,
    /// The module's topics, in order, to pick a lesson's topic from.
    pub topics: Vec<ModuleTopic>,
    /// Resolutions that replaced a mark in this journal (teachers see when they were overruled).
    pub resolutions: Vec<Resolution>,
    /// Values the signed-in user wrote here that a decision replaced with another value.
    pub overruled: Vec<Overruled>,
    /// The module's control plan (JN, ON, YN with their maximum and sittings).
    pub controls: Vec<ModuleControl>,
    pub scores: Vec<GridScore>,
    /// The university's own training types (code → HEMIS name), beside the standard 11–17.
    pub local_types: std::collections::BTreeMap<String, String>,
    /// The totals a 5, a 4 and a 3 start at under the journal's marking system.
    pub grade_borders: Vec<f64>,
    /// The share of the JN + ON maximum that admits to YN, in percent (none: five-point).
    pub admission_percent: Option<f64>,
    /// The dean's office's retake permissions.
    pub retakes: Vec<GridRetake>,
    /// Grows when changes from elsewhere arrive for this journal
    /// ([`Replica::remote_version`]).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub version: i64,
}

/// What an edit changed, for updating the grid in place.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct GridPatch {
    pub journal: String,
    pub cells: Vec<CellView>,
    pub cleared: Vec<ClearedCell>,
    pub totals: Vec<StudentTotals>,
    pub lessons: Vec<GridLesson>,
}

fn lesson_of(
    l: &LessonView,
    journal_lock: Option<&String>,
    entry_closed: bool,
    next_topics: &HashMap<String, String>,
) -> GridLesson {
    GridLesson {
        next_topic: next_topics.get(&l.id).cloned(),
        entry_closed,
        id: l.id.clone(),
        date: l.date.clone(),
        pair: l.pair.clamp(0, 255) as u8,
        lesson_type: l.lesson_type.clone(),
        topic: l.topic.clone(),
        status: l.status.clone(),
        lock: l.lock.clone().or_else(|| journal_lock.cloned()),
        complete: l.complete,
        unmarked: l.unmarked.clamp(0, i64::from(u32::MAX)) as u32,
        subgroup: l.subgroup.clone(),
    }
}

fn totals_of(report: JournalReport) -> Vec<StudentTotals> {
    report
        .students
        .into_iter()
        .map(|s| StudentTotals {
            student: s.id,
            excused_hours: s.excused_hours,
            unexcused_hours: s.unexcused_hours,
            semester_unexcused_hours: s.semester_unexcused_hours,
            semester_excused_hours: s.semester_excused_hours,
            standing: s.standing,
            average: s.average,
            five_point: s.five_point,
            at_risk: s.at_risk,
        })
        .collect()
}

fn scores_of(view: &JournalView) -> Vec<GridScore> {
    let finals: Vec<&str> = view
        .controls
        .iter()
        .filter(|c| c.kind == "YN")
        .map(|c| c.code.as_str())
        .collect();
    let mut out: Vec<GridScore> = view
        .scores
        .iter()
        .map(|s| GridScore {
            control: s.control.clone(),
            sitting: s.sitting.max(0) as u32,
            student: s.student.clone(),
            points: s.points,
            absent: false,
        })
        .collect();
    // An absence shows in the final's cell of its sitting, unless a score was entered there.
    for (student, sitting) in &view.final_absences {
        for code in &finals {
            let taken = out.iter().any(|g| {
                g.control == *code && g.sitting == u32::from(*sitting) && &g.student == student
            });
            if !taken {
                out.push(GridScore {
                    control: code.to_string(),
                    sitting: u32::from(*sitting),
                    student: student.clone(),
                    points: 0.0,
                    absent: true,
                });
            }
        }
    }
    out
}

impl Replica {
    /// Every score of `journal`, with the final-control absences in their sittings' cells.
    pub fn grid_scores(&self, journal: &str) -> Result<Vec<GridScore>> {
        Ok(scores_of(&self.journal_view(journal)?))
    }

    /// The whole grid of `journal` (a document id).
    pub fn grid(&mut self, journal: &str) -> Result<JournalGrid> {
        let view = self.journal_view(journal)?;
        let plan = self.lesson_plan(journal, &view)?;
        let marking =
            MarkingSystem::parse(&view.marking_system).unwrap_or(MarkingSystem::Rating100);
        let (grade_min, grade_max) = marking.grade_range();
        let system = System::parse(&view.marking_system).unwrap_or(System::Rating100);
        let topics = match &view.module {
            Some(m) => self
                .module_topics(&crate::catalog::doc_id("module", m))?
                .into_iter()
                .enumerate()
                .map(|(i, (id, name, lesson_type))| ModuleTopic {
                    id,
                    name,
                    lesson_type,
                    position: i as f64,
                })
                .collect(),
            None => Vec::new(),
        };
        let resolutions = self.resolutions(Some(journal))?;
        let user = self.user().to_string();
        let overruled = self.overruled(Some(journal), &user)?;
        let thresholds = self.thresholds(system)?;
        Ok(JournalGrid {
            id: view.id.clone(),
            subject: view.subject.clone(),
            semester: view.semester.clone(),
            group_name: view.group_name.clone(),
            module: view.module.clone(),
            marking_system: view.marking_system.clone(),
            grade_min,
            grade_max,
            lock: view.lock.clone(),
            thresholds: vec![
                thresholds.warning,
                thresholds.reprimand,
                thresholds.expulsion,
            ],
            local_types: self.training_types()?,
            grade_borders: system.borders().to_vec(),
            admission_percent: system.admission_share().map(|s| (s * 100.0).round()),
            retakes: self
                .retake_permissions(journal)?
                .into_iter()
                .map(|(student, sitting)| GridRetake { student, sitting })
                .collect(),
            focus_lesson: plan.focus.clone(),
            lessons: view
                .lessons
                .iter()
                .map(|l| {
                    let closed = plan.entry_closed.contains(&l.id);
                    lesson_of(l, view.lock.as_ref(), closed, &plan.next_topics)
                })
                .collect(),
            students: view
                .students
                .iter()
                .map(|s| GridStudent {
                    id: s.id.clone(),
                    number: s.number.clone(),
                    name: s.name.clone(),
                    active: s.status == "active",
                    subgroup: s.subgroup.clone(),
                })
                .collect(),
            cells: view.cells.clone(),
            totals: totals_of(self.report_of(journal, &view)?),
            topics,
            resolutions,
            overruled,
            controls: view.controls.clone(),
            scores: scores_of(&view),
            version: self.remote_version(journal)?,
        })
    }

    /// What changed for `lessons` × `students` (None: all students) of `journal` after an
    /// edit: their cells (and those now empty), the students' totals, and the lessons' headers.
    pub fn grid_patch(
        &self,
        journal: &str,
        lessons: &[&str],
        students: Option<&[&str]>,
    ) -> Result<GridPatch> {
        let view = self.journal_view(journal)?;
        // Only the patched lessons' windows are judged; their next topics may shift with any
        // edit.
        let next_topics = self.next_topics(&view)?;
        let lesson_set: HashSet<&str> = lessons.iter().copied().collect();
        let student_set: HashSet<&str> = match students {
            Some(s) => s.iter().copied().collect(),
            None => view.students.iter().map(|s| s.id.as_str()).collect(),
        };
        let cells: Vec<CellView> = view
            .cells
            .iter()
            .filter(|c| {
                lesson_set.contains(c.lesson.as_str()) && student_set.contains(c.student.as_str())
            })
            .cloned()
            .collect();
        let present: HashSet<(&str, &str)> = cells
            .iter()
            .map(|c| (c.lesson.as_str(), c.student.as_str()))
            .collect();
        let mut cleared = Vec::new();
        for l in lessons {
            for s in view
                .students
                .iter()
                .filter(|s| student_set.contains(s.id.as_str()))
            {
                if !present.contains(&(*l, s.id.as_str())) {
                    cleared.push(ClearedCell {
                        lesson: l.to_string(),
                        student: s.id.clone(),
                    });
                }
            }
        }
        let totals = totals_of(self.report_of(journal, &view)?)
            .into_iter()
            .filter(|t| student_set.contains(t.student.as_str()))
            .collect();
        let lessons = view
            .lessons
            .iter()
            .filter(|l| lesson_set.contains(l.id.as_str()))
            .map(|l| {
                let closed = self.entry_closed(journal, &l.id).ok().flatten().is_some();
                lesson_of(l, view.lock.as_ref(), closed, &next_topics)
            })
            .collect();
        Ok(GridPatch {
            journal: view.id.clone(),
            cells,
            cleared,
            totals,
            lessons,
        })
    }
}

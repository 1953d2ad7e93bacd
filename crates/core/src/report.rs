//! One journal's report, computed from the projection: hours missed per student (excused and
//! unexcused, after the dean's office adjustments) in this subject and over the whole semester,
//! standing against the catalog's thresholds (judged on the semester total, as the regulation
//! does), control totals, admission, grade and state (`daftar_rules::assessment`), attendance
//! per lesson, lesson completion.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::journal::JournalView;
use daftar_rules::assessment::{self, Level, Outcome, System, Thresholds};

use crate::lessons::HoursLine;
use crate::model::HOURS_PER_PAIR;
use crate::replica::Replica;

/// One student in a journal's report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct StudentReport {
    pub id: String,
    pub name: String,
    pub present: u32,
    pub late: u32,
    pub absent: u32,
    /// Present or late, out of the lessons marked for the student.
    #[serde(default)]
    pub attendance_percent: Option<f64>,
    pub excused_hours: u32,
    pub unexcused_hours: u32,
    pub standing: Level,
    pub graded: u32,
    /// Mean of the per-lesson grades (shown for the teacher; no grade comes from it).
    pub average: Option<f64>,
    /// The grade from the control total (2–5), once YN is in.
    pub five_point: Option<u8>,
    /// ΣJN + ΣON (+ YN once in) for rating and credit; the YN grade in five-point.
    pub control_points: f64,
    /// Debtor, or one missed pair from the next threshold, or at a reprimand or worse.
    pub at_risk: bool,
    /// Unexcused and excused hours over every subject of the semester.
    #[serde(default)]
    pub semester_unexcused_hours: u32,
    #[serde(default)]
    pub semester_excused_hours: u32,
    /// `in_progress`, `admitted`, `passed` or `debtor`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub admitted: bool,
    /// Why not admitted, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct LessonReport {
    pub id: String,
    pub date: String,
    pub marked: u32,
    pub present: u32,
    pub attendance_percent: Option<f64>,
    pub complete: bool,
}

/// A journal's report: attendance, hours against the thresholds, the assessment, and the hours
/// delivered against the module's plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct JournalReport {
    pub journal: String,
    pub subject: String,
    pub group: String,
    pub marking_system: String,
    pub thresholds: [u32; 3],
    pub lessons_total: usize,
    pub lessons_complete: usize,
    pub attendance_percent: Option<f64>,
    pub students: Vec<StudentReport>,
    pub lessons: Vec<LessonReport>,
    /// Hours per lesson type against the module's plan (filled by [`Replica::report`]).
    #[serde(default)]
    pub hours_plan: Vec<HoursLine>,
    /// The university's own training types (code → HEMIS name), to name the plan's lines.
    #[serde(default)]
    pub local_types: std::collections::BTreeMap<String, String>,
}

/// Computes the report of one journal view (this subject only; [`Replica::report`] adds the
/// semester and the assessment).
pub fn journal_report(view: &JournalView) -> JournalReport {
    let defaults = Thresholds::default();
    let mut students: Vec<StudentReport> = view
        .students
        .iter()
        .map(|s| StudentReport {
            id: s.id.clone(),
            name: s.name.clone(),
            present: 0,
            late: 0,
            absent: 0,
            excused_hours: 0,
            unexcused_hours: 0,
            attendance_percent: None,
            standing: Level::Ok,
            graded: 0,
            average: None,
            five_point: None,
            control_points: 0.0,
            at_risk: false,
            semester_unexcused_hours: 0,
            semester_excused_hours: 0,
            state: String::new(),
            admitted: false,
            admission_reason: None,
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> = view
        .students
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut grade_sums = vec![0u64; students.len()];
    let mut lessons: Vec<LessonReport> = view
        .lessons
        .iter()
        .map(|l| LessonReport {
            id: l.id.clone(),
            date: l.date.clone(),
            marked: 0,
            present: 0,
            attendance_percent: None,
            complete: l.complete,
        })
        .collect();
    let lesson_index: std::collections::HashMap<&str, usize> = view
        .lessons
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();

    for cell in &view.cells {
        let Some(&si) = index.get(cell.student.as_str()) else {
            continue;
        };
        let s = &mut students[si];
        let hours = if cell.hours > 0 {
            cell.hours
        } else {
            HOURS_PER_PAIR
        };
        let attended = matches!(cell.effective.as_str(), "p" | "l");
        match cell.effective.as_str() {
            "p" => s.present += 1,
            "l" => s.late += 1,
            "a" => {
                s.absent += 1;
                s.unexcused_hours += hours;
            }
            "e" => {
                s.absent += 1;
                s.excused_hours += hours;
            }
            _ => {}
        }
        if let Some(g) = cell.grade {
            s.graded += 1;
            grade_sums[si] += u64::from(g);
        }
        if let Some(&li) = lesson_index.get(cell.lesson.as_str()) {
            lessons[li].marked += 1;
            if attended {
                lessons[li].present += 1;
            }
        }
    }
    for l in &mut lessons {
        if l.marked > 0 {
            l.attendance_percent = Some(round1(100.0 * f64::from(l.present) / f64::from(l.marked)));
        }
    }
    for (i, s) in students.iter_mut().enumerate() {
        s.standing = defaults.level(s.unexcused_hours);
        let attended = s.present + s.late;
        let marked = attended + s.absent;
        if marked > 0 {
            s.attendance_percent = Some(round1(100.0 * f64::from(attended) / f64::from(marked)));
        }
        if s.graded > 0 {
            s.average = Some(round1(grade_sums[i] as f64 / f64::from(s.graded)));
        }
    }
    let (marked, present) = lessons
        .iter()
        .fold((0u32, 0u32), |(m, p), l| (m + l.marked, p + l.present));
    JournalReport {
        journal: view.id.clone(),
        subject: view.subject.clone(),
        group: view.group_name.clone(),
        marking_system: view.marking_system.clone(),
        thresholds: [defaults.warning, defaults.reprimand, defaults.expulsion],
        lessons_total: view.lessons.len(),
        lessons_complete: view.lessons.iter().filter(|l| l.complete).count(),
        attendance_percent: (marked > 0)
            .then(|| round1(100.0 * f64::from(present) / f64::from(marked))),
        students,
        lessons,
        hours_plan: Vec::new(),
        local_types: Default::default(),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Replica {
    /// The journal's report, with each student's semester hours (every subject) and their
    /// assessment in this one.
    pub fn report(&self, journal: &str) -> Result<JournalReport> {
        let mut report = self.report_of(journal, &self.journal_view(journal)?)?;
        report.hours_plan = self.delivered_hours(journal)?;
        report.local_types = self.training_types()?;
        Ok(report)
    }

    /// The students of `journal`'s report, from its view already read (without the hours
    /// plan). The grid's row totals come from here too, so the grid and the report never judge
    /// a student differently.
    pub(crate) fn report_of(&self, journal: &str, view: &JournalView) -> Result<JournalReport> {
        let mut report = journal_report(view);
        let (group, semester) = (&view.group, &view.semester);
        let system = System::parse(&view.marking_system).unwrap_or(System::Rating100);
        let thresholds = self.thresholds(system)?;
        report.thresholds = [
            thresholds.warning,
            thresholds.reprimand,
            thresholds.expulsion,
        ];
        let semester_hours = self.semester_hours(group, semester)?;
        let assessments: std::collections::HashMap<String, crate::standing::SubjectAssessment> =
            self.assessments(journal)?
                .into_iter()
                .map(|a| (a.student.clone(), a))
                .collect();
        for s in &mut report.students {
            let (un, ex) = semester_hours.get(&s.id).copied().unwrap_or((0, 0));
            s.semester_unexcused_hours = un;
            s.semester_excused_hours = ex;
            s.standing = thresholds.level(un);
            if let Some(a) = assessments.get(&s.id) {
                s.state = a.outcome.as_str().to_string();
                s.admitted = a.admission.admitted();
                s.admission_reason = a.admission.reason();
                s.control_points = a.totals.total.unwrap_or(a.totals.current);
                s.five_point = match a.outcome {
                    Outcome::Passed { grade } => Some(grade),
                    Outcome::Debtor {
                        debt: assessment::Debt::Failed,
                    } => Some(2),
                    _ => None,
                };
                let debtor = matches!(a.outcome, Outcome::Debtor { .. });
                s.at_risk = debtor || s.standing >= Level::Reprimand || thresholds.near_next(un);
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_follows_thresholds() {
        let of = |h| Thresholds::default().level(h);
        assert_eq!(of(0), Level::Ok);
        assert_eq!(of(11), Level::Ok);
        assert_eq!(of(12), Level::Warning);
        assert_eq!(of(36), Level::Reprimand);
        assert_eq!(of(74), Level::Reprimand);
        assert_eq!(of(76), Level::Expulsion);
    }
}

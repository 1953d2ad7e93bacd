//! Derived values, computed from the projection: hours missed per student (excused and
//! unexcused, after the dean's office adjustments) against the 12/36/74-hour thresholds,
//! grade averages and their 5-point equivalents, attendance per lesson, lesson completion.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::journal::JournalView;
use crate::model::{HOURS_PER_PAIR, MarkingSystem, THRESHOLDS};
use crate::replica::Replica;

/// Where a student stands against the unexcused-hour thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Ok,
    /// ≥ 12 unexcused hours.
    Warning,
    /// ≥ 36 unexcused hours.
    Reprimand,
    /// ≥ 74 unexcused hours.
    Expulsion,
}

impl Standing {
    pub fn of(unexcused_hours: u32) -> Standing {
        if unexcused_hours >= THRESHOLDS[2] {
            Standing::Expulsion
        } else if unexcused_hours >= THRESHOLDS[1] {
            Standing::Reprimand
        } else if unexcused_hours >= THRESHOLDS[0] {
            Standing::Warning
        } else {
            Standing::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Ok => "ok",
            Standing::Warning => "warning",
            Standing::Reprimand => "reprimand",
            Standing::Expulsion => "expulsion",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StudentReport {
    pub id: String,
    pub name: String,
    pub present: u32,
    pub late: u32,
    pub absent: u32,
    pub excused_hours: u32,
    pub unexcused_hours: u32,
    pub standing: Standing,
    pub graded: u32,
    pub average: Option<f64>,
    pub five_point: Option<u8>,
    /// Control points: best sitting per control, summed.
    pub control_points: f64,
    pub at_risk: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LessonReport {
    pub id: String,
    pub date: String,
    pub marked: u32,
    pub present: u32,
    pub attendance_percent: Option<f64>,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

/// Computes the report of one journal view.
pub fn journal_report(view: &JournalView) -> JournalReport {
    let marking = MarkingSystem::parse(&view.marking_system).unwrap_or(MarkingSystem::Rating100);
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
            standing: Standing::Ok,
            graded: 0,
            average: None,
            five_point: None,
            control_points: 0.0,
            at_risk: false,
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
            cell.hours as u32
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
            grade_sums[si] += g.max(0) as u64;
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
    // Best sitting per control, summed.
    let mut best: std::collections::HashMap<(&str, &str), f64> = std::collections::HashMap::new();
    for sc in &view.scores {
        let e = best
            .entry((sc.student.as_str(), sc.control.as_str()))
            .or_insert(0.0);
        if sc.points > *e {
            *e = sc.points;
        }
    }
    for ((student, _), points) in best {
        if let Some(&si) = index.get(student) {
            students[si].control_points += points;
        }
    }
    for (i, s) in students.iter_mut().enumerate() {
        s.standing = Standing::of(s.unexcused_hours);
        if s.graded > 0 {
            let avg = grade_sums[i] as f64 / f64::from(s.graded);
            s.average = Some(round1(avg));
            s.five_point = Some(marking.to_five_point(avg));
        }
        s.at_risk = s.standing >= Standing::Reprimand || s.five_point.is_some_and(|g| g <= 2);
    }
    let (marked, present) = lessons
        .iter()
        .fold((0u32, 0u32), |(m, p), l| (m + l.marked, p + l.present));
    JournalReport {
        journal: view.id.clone(),
        subject: view.subject.clone(),
        group: view.group_name.clone(),
        marking_system: view.marking_system.clone(),
        thresholds: THRESHOLDS,
        lessons_total: view.lessons.len(),
        lessons_complete: view.lessons.iter().filter(|l| l.complete).count(),
        attendance_percent: (marked > 0)
            .then(|| round1(100.0 * f64::from(present) / f64::from(marked))),
        students,
        lessons,
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Replica {
    pub fn report(&self, journal: &str) -> Result<JournalReport> {
        Ok(journal_report(&self.journal_view(journal)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_follows_thresholds() {
        assert_eq!(Standing::of(0), Standing::Ok);
        assert_eq!(Standing::of(11), Standing::Ok);
        assert_eq!(Standing::of(12), Standing::Warning);
        assert_eq!(Standing::of(36), Standing::Reprimand);
        assert_eq!(Standing::of(74), Standing::Expulsion);
    }
}

//! The journal's domain vocabulary: lesson types, attendance, marking systems, controls and the
//! compact values stored in automerge documents.
//!
//! Values that live in documents are serialised as short JSON strings (one scalar per cell), so a
//! concurrent edit to one cell is one automerge conflict with every value intact, and a cell costs
//! a few bytes on the wire. `domain.md` explains the conventions (hours, NB, thresholds).

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// Academic hours in one pair (80 minutes = 2 academic hours).
pub const HOURS_PER_PAIR: u32 = 2;

/// Unexcused-hour thresholds per semester: warning, reprimand, expulsion.
pub const THRESHOLDS: [u32; 3] = [12, 36, 74];

/// Lesson type, by HEMIS training-type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum LessonType {
    Lecture,
    Laboratory,
    Practical,
    Seminar,
    Training,
    CourseWork,
    SelfStudy,
}

impl LessonType {
    pub const ALL: [LessonType; 7] = [
        LessonType::Lecture,
        LessonType::Laboratory,
        LessonType::Practical,
        LessonType::Seminar,
        LessonType::Training,
        LessonType::CourseWork,
        LessonType::SelfStudy,
    ];

    /// HEMIS code ("11" lecture … "17" self-study).
    pub fn code(self) -> &'static str {
        match self {
            LessonType::Lecture => "11",
            LessonType::Laboratory => "12",
            LessonType::Practical => "13",
            LessonType::Seminar => "14",
            LessonType::Training => "15",
            LessonType::CourseWork => "16",
            LessonType::SelfStudy => "17",
        }
    }

    /// Accepts the HEMIS code or an English/Uzbek name (`lecture`, `maruza`, `lab`, `amaliy`…).
    pub fn parse(s: &str) -> Result<LessonType> {
        let t = s.trim().to_lowercase();
        let found = match t.as_str() {
            "11" | "lecture" | "lec" | "maruza" | "ma'ruza" | "ma’ruza" => LessonType::Lecture,
            "12" | "laboratory" | "lab" | "laboratoriya" => LessonType::Laboratory,
            "13" | "practical" | "practice" | "pr" | "amaliy" => LessonType::Practical,
            "14" | "seminar" | "sem" => LessonType::Seminar,
            "15" | "training" | "trening" => LessonType::Training,
            "16" | "coursework" | "course-work" | "kurs" => LessonType::CourseWork,
            "17" | "self-study" | "selfstudy" | "mustaqil" => LessonType::SelfStudy,
            _ => {
                return Err(CoreError::InvalidInput {
                    field: "type",
                    message: format!(
                        "unknown lesson type {s:?}: use a HEMIS code 11–17 or lecture, lab, practical, seminar, training, coursework, self-study"
                    ),
                });
            }
        };
        Ok(found)
    }

    /// Lectures usually carry no grades.
    pub fn is_graded(self) -> bool {
        !matches!(self, LessonType::Lecture)
    }

    pub fn short_name(self) -> &'static str {
        match self {
            LessonType::Lecture => "lecture",
            LessonType::Laboratory => "lab",
            LessonType::Practical => "practical",
            LessonType::Seminar => "seminar",
            LessonType::Training => "training",
            LessonType::CourseWork => "coursework",
            LessonType::SelfStudy => "self-study",
        }
    }
}

/// Attendance status of a student at a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Attendance {
    #[serde(rename = "p")]
    Present,
    /// "NB": absent without excuse, counted in unexcused hours.
    #[serde(rename = "a")]
    Absent,
    /// Absent with an excuse (sababli).
    #[serde(rename = "e")]
    Excused,
    #[serde(rename = "l")]
    Late,
}

impl Attendance {
    pub fn code(self) -> &'static str {
        match self {
            Attendance::Present => "p",
            Attendance::Absent => "a",
            Attendance::Excused => "e",
            Attendance::Late => "l",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Attendance::Present => "present",
            Attendance::Absent => "absent",
            Attendance::Excused => "excused",
            Attendance::Late => "late",
        }
    }

    /// How a teacher writes it: `+` present, `nb` absent, `e` excused, `l` late.
    pub fn parse(s: &str) -> Result<Attendance> {
        match s.trim().to_lowercase().as_str() {
            "p" | "+" | "present" | "bor" => Ok(Attendance::Present),
            "a" | "nb" | "absent" | "yo'q" | "yoq" => Ok(Attendance::Absent),
            "e" | "excused" | "sababli" => Ok(Attendance::Excused),
            "l" | "late" | "kechikdi" => Ok(Attendance::Late),
            _ => Err(CoreError::InvalidInput {
                field: "status",
                message: format!(
                    "unknown attendance {s:?}: use present (+), absent (nb), excused (e) or late (l)"
                ),
            }),
        }
    }

    pub fn is_absence(self) -> bool {
        matches!(self, Attendance::Absent | Attendance::Excused)
    }
}

/// The three marking systems (domain.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkingSystem {
    /// 100-point rating: pass 55; 86–100 → 5, 71–85 → 4, 55–70 → 3.
    Rating100,
    /// Grades 2–5.
    FivePoint,
    /// Credit-module: pass 60; 90–100 → 5, 70–89 → 4, 60–69 → 3.
    CreditModule,
}

impl MarkingSystem {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkingSystem::Rating100 => "rating100",
            MarkingSystem::FivePoint => "five_point",
            MarkingSystem::CreditModule => "credit_module",
        }
    }

    pub fn parse(s: &str) -> Result<MarkingSystem> {
        match s {
            "rating100" => Ok(MarkingSystem::Rating100),
            "five_point" => Ok(MarkingSystem::FivePoint),
            "credit_module" => Ok(MarkingSystem::CreditModule),
            _ => Err(CoreError::InvalidInput {
                field: "marking_system",
                message: format!("unknown marking system {s:?}"),
            }),
        }
    }

    /// Range of a per-lesson grade.
    pub fn grade_range(self) -> (u32, u32) {
        match self {
            MarkingSystem::Rating100 | MarkingSystem::CreditModule => (1, 100),
            MarkingSystem::FivePoint => (2, 5),
        }
    }

    pub fn check_grade(self, grade: u32) -> Result<()> {
        let (lo, hi) = self.grade_range();
        if grade < lo || grade > hi {
            return Err(CoreError::InvalidInput {
                field: "grade",
                message: format!(
                    "grade {grade} is outside {lo}–{hi} allowed by the {} marking system",
                    self.label()
                ),
            });
        }
        Ok(())
    }

    pub fn label(self) -> &'static str {
        match self {
            MarkingSystem::Rating100 => "100-point rating",
            MarkingSystem::FivePoint => "5-point",
            MarkingSystem::CreditModule => "credit-module",
        }
    }

    /// Score a student needs to pass, on the system's own scale.
    pub fn pass_mark(self) -> f64 {
        match self {
            MarkingSystem::Rating100 => 55.0,
            MarkingSystem::FivePoint => 3.0,
            MarkingSystem::CreditModule => 60.0,
        }
    }

    /// Converts a value on the system's own scale to the 5-point scale.
    pub fn to_five_point(self, value: f64) -> u8 {
        let v = value.round();
        match self {
            MarkingSystem::Rating100 => match v as i64 {
                86.. => 5,
                71..=85 => 4,
                55..=70 => 3,
                _ => 2,
            },
            MarkingSystem::CreditModule => match v as i64 {
                90.. => 5,
                70..=89 => 4,
                60..=69 => 3,
                _ => 2,
            },
            MarkingSystem::FivePoint => (v as i64).clamp(2, 5) as u8,
        }
    }
}

/// Kinds of control (HEMIS exam types): current, midterm, final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum ControlKind {
    /// JN, joriy nazorat.
    #[serde(rename = "JN")]
    Current,
    /// ON, oraliq nazorat.
    #[serde(rename = "ON")]
    Midterm,
    /// YN, yakuniy nazorat (up to three sittings).
    #[serde(rename = "YN")]
    Final,
}

impl ControlKind {
    pub fn code(self) -> &'static str {
        match self {
            ControlKind::Current => "JN",
            ControlKind::Midterm => "ON",
            ControlKind::Final => "YN",
        }
    }
}

/// One control in a module's plan (`JN`, `ON1`, `ON2`, `YN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlPlan {
    pub code: String,
    pub kind: ControlKind,
    pub max: f64,
    /// Number of sittings allowed (final: 3, others: 1).
    pub sittings: u8,
}

/// A mark as stored in a journal document (`marks["<lesson>/<student>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkValue {
    #[serde(rename = "s")]
    pub status: Attendance,
    /// Hours missed (absent/excused) or late minutes folded into hours: 0 when present.
    #[serde(rename = "h", default, skip_serializing_if = "is_zero")]
    pub hours: u32,
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<u32>,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl MarkValue {
    pub fn new(status: Attendance) -> Self {
        let hours = if status.is_absence() {
            HOURS_PER_PAIR
        } else {
            0
        };
        MarkValue {
            status,
            hours,
            grade: None,
            note: None,
        }
    }

    /// How the mark reads in a grid cell: `+`, `NB`, `E`, `L`, with the grade when there is one.
    pub fn display(&self) -> String {
        let base = match self.status {
            Attendance::Present => "+",
            Attendance::Absent => "NB",
            Attendance::Excused => "E",
            Attendance::Late => "L",
        };
        match self.grade {
            Some(g) if self.status == Attendance::Present => g.to_string(),
            Some(g) => format!("{base}{g}"),
            None => base.to_string(),
        }
    }
}

/// A lesson header as stored in `lessons["<lesson>"]`; topic and status live in their own maps
/// so a topic edit never conflicts with a status edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LessonValue {
    /// `YYYY-MM-DD`, the lesson's own date (not the edit time).
    pub date: String,
    pub pair: u8,
    #[serde(rename = "type")]
    pub lesson_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
}

/// Lesson status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonStatus {
    Planned,
    Held,
    Cancelled,
}

impl LessonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LessonStatus::Planned => "planned",
            LessonStatus::Held => "held",
            LessonStatus::Cancelled => "cancelled",
        }
    }
}

/// A dean's office adjustment of one cell (`adjustments["<lesson>/<student>"]`). It never
/// overwrites the teacher's mark: the effective value is the mark with the approved adjustment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdjustmentValue {
    pub to: Attendance,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// `approved` (effective) or `rejected`.
    pub status: String,
}

/// A lock on a whole journal (`locks["*"]`) or a lesson (`locks["<lesson>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockValue {
    pub reason: String,
}

/// Who resolved a conflict, and why (`resolutions["<field>:<key>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionValue {
    pub by: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Checks a calendar date written as `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<time::Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt).map_err(|_| CoreError::InvalidInput {
        field: "date",
        message: format!("{s:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-09-14"),
    })
}

/// `dd.MM.yyyy`, how dates are shown in Uzbekistan.
pub fn display_date(iso: &str) -> String {
    match parse_date(iso) {
        Ok(d) => format!("{:02}.{:02}.{:04}", d.day(), u8::from(d.month()), d.year()),
        Err(_) => iso.to_string(),
    }
}

/// Normalises the apostrophes of Uzbek Latin (ʻ ‘ ’ ` ʼ) to `'` for search and matching.
pub fn normalize_apostrophes(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{02BB}' | '\u{02BC}' | '\u{2018}' | '\u{2019}' | '`' | '\u{00B4}' => '\'',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_point_conversion_follows_the_borders() {
        let r = MarkingSystem::Rating100;
        assert_eq!(r.to_five_point(100.0), 5);
        assert_eq!(r.to_five_point(86.0), 5);
        assert_eq!(r.to_five_point(85.0), 4);
        assert_eq!(r.to_five_point(71.0), 4);
        assert_eq!(r.to_five_point(70.0), 3);
        assert_eq!(r.to_five_point(55.0), 3);
        assert_eq!(r.to_five_point(54.0), 2);
        let c = MarkingSystem::CreditModule;
        assert_eq!(c.to_five_point(90.0), 5);
        assert_eq!(c.to_five_point(89.0), 4);
        assert_eq!(c.to_five_point(70.0), 4);
        assert_eq!(c.to_five_point(69.0), 3);
        assert_eq!(c.to_five_point(60.0), 3);
        assert_eq!(c.to_five_point(59.0), 2);
        assert_eq!(MarkingSystem::FivePoint.to_five_point(4.4), 4);
    }

    #[test]
    fn grade_out_of_range_is_refused() {
        assert!(MarkingSystem::FivePoint.check_grade(6).is_err());
        assert!(MarkingSystem::FivePoint.check_grade(1).is_err());
        assert!(MarkingSystem::FivePoint.check_grade(5).is_ok());
        assert!(MarkingSystem::Rating100.check_grade(101).is_err());
        assert!(MarkingSystem::Rating100.check_grade(0).is_err());
    }

    #[test]
    fn mark_values_are_compact() {
        let m = MarkValue::new(Attendance::Absent);
        assert_eq!(
            serde_json::to_string(&m).expect("serialise"),
            r#"{"s":"a","h":2}"#
        );
        let p = MarkValue {
            grade: Some(85),
            ..MarkValue::new(Attendance::Present)
        };
        assert_eq!(
            serde_json::to_string(&p).expect("serialise"),
            r#"{"s":"p","g":85}"#
        );
    }

    #[test]
    fn attendance_accepts_teacher_shorthand() {
        assert_eq!(Attendance::parse("+").ok(), Some(Attendance::Present));
        assert_eq!(Attendance::parse("NB").ok(), Some(Attendance::Absent));
        assert_eq!(Attendance::parse("e").ok(), Some(Attendance::Excused));
        assert!(Attendance::parse("x").is_err());
    }

    #[test]
    fn dates_display_day_first() {
        assert_eq!(display_date("2026-09-04"), "04.09.2026");
        assert!(parse_date("2026-13-01").is_err());
    }

    #[test]
    fn apostrophes_are_normalised() {
        assert_eq!(
            normalize_apostrophes("O\u{02BB}zbekiston"),
            normalize_apostrophes("O'zbekiston")
        );
    }
}

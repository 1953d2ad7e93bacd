//! The journal's domain vocabulary: lesson types, attendance, marking systems, controls and the
//! compact values stored in automerge documents.
//!
//! Values that live in documents are serialised as short JSON strings (one scalar per cell), so a
//! concurrent edit to one cell is one automerge conflict with every value intact, and a cell costs
//! a few bytes on the wire. `domain.md` explains the conventions (hours, NB, thresholds).

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

pub use daftar_rules::values::{
    AdjustmentValue, Attendance, HOURS_PER_PAIR, LessonStatus, LessonValue, LockValue, MarkValue,
    ResolutionValue,
};

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

    /// The type as HEMIS names it in Uzbek (exports and statements).
    pub fn uzbek_name(self) -> &'static str {
        match self {
            LessonType::Lecture => "ma’ruza",
            LessonType::Laboratory => "laboratoriya",
            LessonType::Practical => "amaliy",
            LessonType::Seminar => "seminar",
            LessonType::Training => "trening",
            LessonType::CourseWork => "kurs ishi",
            LessonType::SelfStudy => "mustaqil ta’lim",
        }
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

/// Checks a calendar date written as `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<time::Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt).map_err(|_| CoreError::InvalidInput {
        field: "date",
        message: format!("{s:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-09-14"),
    })
}

/// A date as people type it — `dd.mm.yyyy` (how Uzbekistan writes dates) or ISO — as
/// `YYYY-MM-DD`.
pub fn parse_user_date(input: &str) -> Result<String> {
    let t = input.trim();
    let iso = match t.split('.').collect::<Vec<_>>().as_slice() {
        [d, m, y] => format!("{y}-{m:0>2}-{d:0>2}"),
        _ => t.to_string(),
    };
    Ok(parse_date(&iso)?.to_string())
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
    fn grade_out_of_range_is_refused() {
        assert!(MarkingSystem::FivePoint.check_grade(6).is_err());
        assert!(MarkingSystem::FivePoint.check_grade(1).is_err());
        assert!(MarkingSystem::FivePoint.check_grade(5).is_ok());
        assert!(MarkingSystem::Rating100.check_grade(101).is_err());
        assert!(MarkingSystem::Rating100.check_grade(0).is_err());
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

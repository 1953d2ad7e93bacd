//! The values documents hold, one short JSON string per cell, and their validation.
//!
//! These are the shapes the rule table checks (a mark a teacher writes may not be "excused"),
//! so they live here and `daftar-core` re-exports them: core writes them, the server checks
//! them, and both read the same definitions.

use serde::{Deserialize, Serialize};

/// Academic hours in one pair (80 minutes = 2 academic hours).
pub const HOURS_PER_PAIR: u32 = 2;

/// Most hours one mark may carry (a day's pairs).
pub const MAX_MARK_HOURS: u32 = 8;

/// Longest note on a mark, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// A value a person typed or a document held that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub message: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        InvalidValue {
            field,
            message: message.into(),
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
    /// Absent with an excuse (sababli): only the dean's office decides it, by an adjustment.
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

    /// How a teacher writes it, in any of Daftar's languages and scripts, any case and any
    /// Uzbek apostrophe (ʻ ‘ ’ ` ʼ): `+` / `bor` / `бор` / `есть` present, `nb` / `нб` / `н` /
    /// `yo‘q` / `йўқ` absent, `e` / `sababli` / `сабабли` / `ув` excused, `l` / `kechikdi` /
    /// `кечикди` / `опоздал` late. The CLI, the grid and the inbox all read marks through this.
    pub fn parse(s: &str) -> Result<Attendance, InvalidValue> {
        let folded: String = s
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| match c {
                '\u{02BB}' | '\u{02BC}' | '\u{2018}' | '\u{2019}' | '`' | '\u{00B4}' => '\'',
                other => other,
            })
            .collect();
        match folded.as_str() {
            "p" | "+" | "present" | "bor" | "бор" | "есть" | "был" | "была" | "присутствует" => {
                Ok(Attendance::Present)
            }
            "a"
            | "nb"
            | "n/b"
            | "absent"
            | "yo'q"
            | "yoq"
            | "sababsiz"
            | "нб"
            | "н/б"
            | "н"
            | "йўқ"
            | "йук"
            | "йўк"
            | "сабабсиз"
            | "нет"
            | "отсутствует"
            | "отс" => Ok(Attendance::Absent),
            "e" | "excused" | "sababli" | "сабабли" | "ув" | "уважительная" | "уважительно" => {
                Ok(Attendance::Excused)
            }
            "l" | "late" | "kechikdi" | "кечикди" | "опоздал" | "опоздала" | "опоздание" | "оп" => {
                Ok(Attendance::Late)
            }
            _ => Err(InvalidValue::new(
                "status",
                format!(
                    "unknown attendance {s:?}: use present (+), absent (nb), excused (e) or late (l)"
                ),
            )),
        }
    }

    pub fn is_absence(self) -> bool {
        matches!(self, Attendance::Absent | Attendance::Excused)
    }
}

/// A mark as stored in a journal document (`marks["<lesson>/<student>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

    /// Bounds every marking system shares (a system's own grade range is checked where the
    /// journal's marking system is known).
    pub fn check(&self) -> Result<(), InvalidValue> {
        if self.hours > MAX_MARK_HOURS {
            return Err(InvalidValue::new(
                "hours",
                format!("{} hours is more than a day holds", self.hours),
            ));
        }
        if self.grade.is_some_and(|g| g > 100) {
            return Err(InvalidValue::new("grade", "a grade is at most 100"));
        }
        if self
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
        {
            return Err(InvalidValue::new(
                "note",
                format!("a note is at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        Ok(())
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
    /// The subgroup the lesson is for (labs, languages); none: the whole group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgroup: Option<String>,
    /// HEMIS took this lesson's attendance (`attendance-control-list`): it counts as filled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub taken: bool,
}

impl LessonValue {
    pub fn check(&self) -> Result<(), InvalidValue> {
        parse_iso_date(&self.date)?;
        if !(1..=8).contains(&self.pair) {
            return Err(InvalidValue::new(
                "pair",
                format!("pair {} does not exist: a day has pairs 1 to 8", self.pair),
            ));
        }
        Ok(())
    }
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

    pub fn parse(s: &str) -> Option<LessonStatus> {
        match s {
            "planned" => Some(LessonStatus::Planned),
            "held" => Some(LessonStatus::Held),
            "cancelled" => Some(LessonStatus::Cancelled),
            _ => None,
        }
    }
}

/// A dean's office adjustment of one cell, each its own entry
/// (`adjustments["<lesson>/<student>/<id>"]`; one written before entries had ids is keyed
/// `"<lesson>/<student>"`). A second adjustment never hides the first, and none overwrites
/// the teacher's mark: the effective value follows the latest approved adjustment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdjustmentValue {
    pub to: Attendance,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// `approved` (effective) or `rejected`.
    pub status: String,
    /// What the decision is, by HEMIS code: 11 change to excused, 12 correction or removal,
    /// 14 make-up done, 15 make-up not done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The make-up deadline, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
}

/// The adjustment kinds (HEMIS codes) and how people call them.
pub const ADJUSTMENT_KINDS: [(&str, &str); 4] = [
    ("11", "excused"),
    ("12", "correction"),
    ("14", "make-up done"),
    ("15", "make-up not done"),
];

impl AdjustmentValue {
    /// The kind's code from a code or a name (`excused`, `correction`, `makeup-done`, …).
    pub fn kind_code(input: &str) -> Result<&'static str, InvalidValue> {
        let t = input.trim().to_lowercase().replace(['_', ' '], "-");
        let found = match t.as_str() {
            "11" | "excused" | "sababli" => "11",
            "12" | "correction" | "removal" | "tuzatish" => "12",
            "14" | "make-up-done" | "makeup-done" | "done" => "14",
            "15" | "make-up-not-done" | "makeup-not-done" | "makeup-missed" | "missed" => "15",
            _ => {
                return Err(InvalidValue::new(
                    "kind",
                    format!(
                        "unknown adjustment kind {input:?}: use excused (11), correction (12), makeup-done (14) or makeup-not-done (15)"
                    ),
                ));
            }
        };
        Ok(found)
    }

    pub fn check(&self) -> Result<(), InvalidValue> {
        if let Some(kind) = &self.kind
            && !ADJUSTMENT_KINDS.iter().any(|(c, _)| c == kind)
        {
            return Err(InvalidValue::new(
                "kind",
                format!("{kind:?} is not an adjustment kind (11, 12, 14, 15)"),
            ));
        }
        if let Some(deadline) = &self.deadline {
            parse_iso_date(deadline)?;
        }
        if self.reason.trim().is_empty() {
            return Err(InvalidValue::new(
                "reason",
                "an adjustment needs a reason (e.g. a medical certificate)",
            ));
        }
        if !matches!(self.status.as_str(), "approved" | "rejected") {
            return Err(InvalidValue::new(
                "status",
                "an adjustment is approved or rejected",
            ));
        }
        Ok(())
    }
}

/// A lock on a whole journal (`locks["*"]`) or a lesson (`locks["<lesson>"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockValue {
    pub reason: String,
}

/// Who resolved a conflict, and why (`resolutions["<field>:<key>"]`). `by` is what the
/// resolving replica believed its user to be; the server refuses a record naming anyone but
/// the user who pushes it, and people are shown the server's record of the author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionValue {
    pub by: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A calendar date written as `YYYY-MM-DD`.
pub fn parse_iso_date(s: &str) -> Result<time::Date, InvalidValue> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt).map_err(|_| {
        InvalidValue::new(
            "date",
            format!("{s:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-09-14"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attendance_words_in_every_language_and_script() {
        use Attendance::*;
        let cases = [
            ("+", Present),
            ("bor", Present),
            ("Бор", Present),
            ("есть", Present),
            ("nb", Absent),
            ("NB", Absent),
            ("нб", Absent),
            ("НБ", Absent),
            ("н", Absent),
            ("yo'q", Absent),
            ("yoʻq", Absent),
            ("yo‘q", Absent),
            ("yo’q", Absent),
            ("yo`q", Absent),
            ("йўқ", Absent),
            ("sababsiz", Absent),
            ("отсутствует", Absent),
            ("e", Excused),
            ("sababli", Excused),
            ("Сабабли", Excused),
            ("ув", Excused),
            ("l", Late),
            ("kechikdi", Late),
            ("кечикди", Late),
            ("опоздал", Late),
        ];
        for (word, want) in cases {
            assert_eq!(Attendance::parse(word).ok(), Some(want), "{word}");
        }
        assert!(Attendance::parse("maybe").is_err());
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
    fn out_of_bounds_marks_are_invalid() {
        let mut m = MarkValue::new(Attendance::Absent);
        m.hours = 9;
        assert!(m.check().is_err());
        let mut g = MarkValue::new(Attendance::Present);
        g.grade = Some(101);
        assert!(g.check().is_err());
        assert!(serde_json::from_str::<MarkValue>(r#"{"s":"p","x":1}"#).is_err());
    }
}

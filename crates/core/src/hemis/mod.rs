//! Import of HEMIS exports: a folder of JSON files shaped like HEMIS REST list responses
//! (`{"success": true, "data": {"items": [...], "pagination": {...}}}`), one file per endpoint
//! and page (`group-list.json`, `group-list-2.json`, …), as `daftar import hemis DIR` reads
//! them or `--url` fetches and saves them (`daftar_client::hemis`).
//!
//! Codes are read as HEMIS sends them (domain.md): lesson pairs "11"…"18", semesters
//! "11"…"22" (shown as 1…12), student statuses 11 studying, 12 expelled, 13 academic leave,
//! 14 graduated (not active from the item's `updated_at` day), training types 11–17 and the
//! university's own codes (kept with their HEMIS names), exam types 11–13 and the sub-controls
//! 15–18 (14 "overall" is computed, not entered), the marking system of each curriculum.
//!
//! Groups and rosters become group documents, employees and faculties the catalog, curriculum
//! subjects (with their topics) course modules, the schedule journals with their lessons, and
//! attendance the absences in them. HEMIS ids are kept in document and row ids, so importing
//! again updates what changed and duplicates nothing. Personal data HEMIS returns (passport,
//! PINFL, birth date, address, phone) is never read into Daftar: the item types below simply
//! have no such fields.
//!
//! Everything is parsed and checked before anything is written; then all documents are written
//! in one all-or-nothing unit. A malformed or partial export is refused with the file and item
//! named, and the replica stays as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{CoreError, Result};
use crate::model::{
    Attendance, ControlKind, ControlPlan, LessonStatus, LessonType, LessonValue, MarkValue,
    MarkingSystem, display_date,
};
use crate::projection::{StudentValue, TopicValue};
use crate::replica::Replica;

mod items;
mod plan;
mod write;

use items::*;

/// Every endpoint the import reads, in the order it is fetched.
pub const ENDPOINTS: [&str; 14] = [
    "group-list",
    "curriculum-list",
    "semester-list",
    "lesson-pair-list",
    "student-list",
    "employee-list",
    "curriculum-subject-list",
    "curriculum-subject-topic-list",
    "curriculum-subject-teacher-list",
    "schedule-list",
    "attendance-control-list",
    "attendance-list",
    "student-grade-list",
    "student-performance-list",
];

/// Keys of personal data HEMIS returns that Daftar never keeps: a field whose name contains
/// one of these is dropped from any page before it is saved or read.
pub const PERSONAL_KEYS: [&str; 12] = [
    "passport",
    "pin",
    "birth",
    "address",
    "phone",
    "email",
    "image",
    "photo",
    "citizenship",
    "district",
    "province",
    "document",
];

/// Drops personal data from a HEMIS item (recursively): the fields named in [`PERSONAL_KEYS`].
pub fn strip_personal(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| {
                let k = k.to_lowercase();
                !PERSONAL_KEYS.iter().any(|p| k.contains(p))
            });
            for v in map.values_mut() {
                strip_personal(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_personal),
        _ => {}
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct ImportSummary {
    pub groups: usize,
    pub students: usize,
    pub teachers: usize,
    pub modules: usize,
    pub journals: usize,
    pub lessons: usize,
    pub absences: usize,
    /// Control results (JN, ON, YN and their sub-controls, at any sitting) written.
    pub scores: usize,
    /// Changes written by this import (0 when importing the same export again).
    pub changes_written: usize,
    /// (teacher employee id, journal document id) pairs from the schedule and the subject
    /// teachers.
    pub assignments: Vec<(String, String)>,
    /// What this import changed in documents that were there before (a student expelled, a
    /// lesson moved, a teacher replaced, a topic added), for people.
    pub changes: Vec<String>,
    /// What HEMIS sent that Daftar does not take, and why (the computed "overall" control).
    pub notes: Vec<String>,
}

fn bad(file: &str, message: impl Into<String>) -> CoreError {
    CoreError::HemisImport {
        file: file.to_string(),
        message: message.into(),
    }
}

/// The lesson date of a HEMIS timestamp (Unix seconds), in Tashkent (UTC+5).
fn tashkent_date(ts: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(ts + 5 * 3600).ok()?;
    let d = t.date();
    Some(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}

/// A control of HEMIS's exam types: its kind and the code Daftar enters it under. `None` for
/// what is not entered (14 "Umumiy", the overall total, is computed from the others).
fn control_of(exam: &Ref) -> Option<(ControlKind, &'static str)> {
    let code = exam.code().unwrap_or_default();
    let name = exam.name.clone().unwrap_or_default().to_lowercase();
    match code.as_str() {
        "11" => return Some((ControlKind::Current, "JN")),
        "12" => return Some((ControlKind::Midterm, "ON")),
        "13" => return Some((ControlKind::Final, "YN")),
        "15" => return Some((ControlKind::Current, "1-JN")),
        "16" => return Some((ControlKind::Current, "2-JN")),
        "17" => return Some((ControlKind::Midterm, "1-ON")),
        "18" => return Some((ControlKind::Midterm, "2-ON")),
        "14" => return None,
        _ => {}
    }
    if name.contains("joriy") || name.contains("текущ") || name.contains("current") {
        Some((ControlKind::Current, "JN"))
    } else if name.contains("oraliq") || name.contains("промежут") || name.contains("midterm")
    {
        Some((ControlKind::Midterm, "ON"))
    } else if name.contains("yakuniy") || name.contains("итог") || name.contains("final") {
        Some((ControlKind::Final, "YN"))
    } else {
        None
    }
}

/// The pair (1–8) of a HEMIS `lessonPair`: its code "11"…"18", or its name "1"…"8".
fn pair_of(r: &Ref) -> Option<u8> {
    let from_code = r
        .code()
        .and_then(|c| c.parse::<u8>().ok())
        .filter(|c| (11..=18).contains(c))
        .map(|c| c - 10);
    from_code.or_else(|| {
        r.name
            .as_deref()
            .and_then(|n| n.trim().trim_end_matches("-para").parse::<u8>().ok())
            .filter(|p| (1..=8).contains(p))
    })
}

/// The marking system of a HEMIS `markingSystem.code`.
fn marking_of(code: &str) -> Option<MarkingSystem> {
    match code {
        "11" => Some(MarkingSystem::Rating100),
        "12" => Some(MarkingSystem::FivePoint),
        "13" => Some(MarkingSystem::CreditModule),
        _ => None,
    }
}

/// Daftar's status of a HEMIS `studentStatus.code` (10 other, 11 studying, 12 expelled,
/// 13 academic leave, 14 graduated).
fn status_of(code: Option<&str>) -> &'static str {
    match code {
        None | Some("11") => "active",
        Some("13") => "academic_leave",
        Some(_) => "left",
    }
}

struct Plan {
    faculties: BTreeMap<String, String>,
    departments: BTreeMap<String, String>,
    teachers: BTreeMap<String, (String, Option<String>)>,
    groups: BTreeMap<String, (GroupItem, Vec<(String, StudentValue)>)>,
    modules: BTreeMap<String, ModulePlan>,
    journals: BTreeMap<String, JournalPlan>,
    /// The university's own training types: code → HEMIS name.
    training_types: BTreeMap<String, String>,
    /// Pair number → "08:30–09:50".
    pair_times: BTreeMap<String, String>,
    /// Semester number → (first day, last day).
    semesters: BTreeMap<String, (String, String)>,
    notes: Vec<String>,
}

struct ModulePlan {
    subject_id: String,
    subject: String,
    /// The HEMIS semester code ("17").
    semester: String,
    curriculum: Option<String>,
    marking: Option<MarkingSystem>,
    exam_finish: Option<String>,
    department: Option<String>,
    hours: Vec<(String, String)>,
    controls: Vec<ControlPlan>,
    topics: Vec<(String, TopicValue)>,
}

struct JournalPlan {
    group: String,
    module: Option<String>,
    subject: String,
    semester: String,
    marking: Option<MarkingSystem>,
    teachers: BTreeSet<String>,
    lessons: BTreeMap<String, LessonValue>,
    marks: BTreeMap<String, MarkValue>,
    /// Control results: `<control>/<sitting>/<student>` → points.
    scores: BTreeMap<String, f64>,
}

/// The file a fetch from HEMIS keeps in its folder until every page is in.
pub const UNFINISHED_MARKER: &str = ".hemis-fetch-unfinished";

impl Replica {
    /// Imports a HEMIS export folder (all or nothing).
    pub fn import_hemis(&mut self, dir: &Path) -> Result<ImportSummary> {
        if !dir.is_dir() {
            return Err(bad(
                &dir.display().to_string(),
                "not a folder: give the folder that holds group-list.json and the other files",
            ));
        }
        if dir.join(UNFINISHED_MARKER).exists() {
            return Err(bad(
                &dir.display().to_string(),
                "a fetch from HEMIS did not finish in this folder: fetch again (daftar import hemis --url … --save-to)",
            ));
        }
        let plan = plan::plan(dir)?;
        let university = self.require_university()?;
        self.atomically(|r| write::write_plan(r, &university, plan))
    }
}

/// A HEMIS semester code ("11" … "22") as the semester's number ("1" … "12").
fn semester_shown(code: &str) -> String {
    match code.trim().parse::<u32>() {
        Ok(c @ 11..=22) => (c - 10).to_string(),
        _ => code.trim().to_string(),
    }
}

/// The catalog `settings` key of the university's own training types (code → HEMIS name).
pub const TRAINING_TYPES_KEY: &str = "training_types";

impl Replica {
    /// The university's own training types HEMIS sent (code → its HEMIS name), shown where
    /// the standard types 11–17 have a translated name.
    pub fn training_types(&self) -> Result<BTreeMap<String, String>> {
        use rusqlite::OptionalExtension;
        let raw: Option<Option<String>> = self
            .conn()
            .query_row("SELECT training_types FROM catalog LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(raw
            .flatten()
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }
}

fn upsert(
    r: &mut Replica,
    doc_id: &str,
    message: &str,
    f: impl FnOnce(&mut crate::doc::Doc) -> Result<()>,
) -> Result<()> {
    if r.has_doc(doc_id)? {
        r.edit_whole(doc_id, message, f)
    } else {
        r.create_doc(doc_id, message, f)
    }
}

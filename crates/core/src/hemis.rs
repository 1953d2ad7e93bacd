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

#[derive(Debug, Deserialize)]
struct Envelope {
    success: bool,
    data: Option<Data>,
}

#[derive(Debug, Deserialize)]
struct Data {
    items: Vec<Value>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    #[serde(default)]
    page_count: Option<u32>,
    #[serde(default)]
    total_count: Option<u64>,
}

/// An id that HEMIS sends as a number (or sometimes a string).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Num(i64),
    Str(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => s.trim().to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Ref {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    code: Option<Id>,
    #[serde(default)]
    name: Option<String>,
}

impl Ref {
    fn id(&self) -> Option<String> {
        self.id.as_ref().map(Id::text)
    }
    fn code(&self) -> Option<String> {
        self.code.as_ref().map(Id::text)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupItem {
    id: Id,
    name: String,
    #[serde(default)]
    department: Option<Ref>,
    #[serde(default)]
    education_lang: Option<Ref>,
    #[serde(default)]
    curriculum: Option<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StudentItem {
    id: Id,
    #[serde(default, rename = "student_id_number")]
    student_id_number: Option<Id>,
    #[serde(default, rename = "full_name")]
    full_name: Option<String>,
    #[serde(default, rename = "first_name")]
    first_name: Option<String>,
    #[serde(default, rename = "second_name")]
    second_name: Option<String>,
    #[serde(default, rename = "third_name")]
    third_name: Option<String>,
    #[serde(default)]
    student_status: Option<Ref>,
    group: Ref,
    /// When the item last changed: the day a status other than studying began.
    #[serde(default, rename = "updated_at")]
    updated_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct EmployeeItem {
    id: Id,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    second_name: Option<String>,
    #[serde(default)]
    department: Option<Ref>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectDetail {
    training_type: Ref,
    #[serde(default, rename = "academic_load")]
    academic_load: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExamType {
    exam_type: Ref,
    #[serde(default, rename = "max_ball")]
    max_ball: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurriculumSubjectItem {
    id: Id,
    subject: Ref,
    semester: Ref,
    #[serde(default)]
    department: Option<Ref>,
    #[serde(default, alias = "_curriculum")]
    curriculum: Option<Id>,
    #[serde(default)]
    subject_details: Vec<SubjectDetail>,
    #[serde(default)]
    subject_exam_types: Vec<ExamType>,
    #[serde(default)]
    exam_finish: Option<Ref>,
}

#[derive(Debug, Deserialize)]
struct MarkingRef {
    #[serde(default)]
    code: Option<Id>,
    #[serde(default)]
    minimum_limit: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurriculumItem {
    id: Id,
    #[serde(default)]
    marking_system: Option<MarkingRef>,
}

#[derive(Debug, Deserialize)]
struct SemesterItem {
    #[serde(default)]
    code: Option<Id>,
    #[serde(default)]
    start_date: Option<i64>,
    #[serde(default)]
    end_date: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct LessonPairItem {
    code: Id,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectTeacherItem {
    #[serde(default, alias = "_curriculum_subject")]
    curriculum_subject: Option<Id>,
    #[serde(default)]
    subject: Option<Ref>,
    #[serde(default)]
    semester: Option<Ref>,
    group: Ref,
    employee: Ref,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttendanceControlItem {
    #[serde(default, rename = "_subject_schedule")]
    subject_schedule: Option<Id>,
}

#[derive(Debug, Deserialize)]
struct GradeItem {
    #[serde(rename = "_subject_schedule")]
    subject_schedule: Id,
    student: Ref,
    #[serde(default)]
    grade: Option<f64>,
}

/// A control result (`student-performance-list`, HEMIS's `e_performance`): one score of one
/// student in one control (`_exam_type` 11–18) at one sitting (`_final_exam_type` 11–13).
/// HEMIS names its references either as objects (`student{id}`, `examType{code}`) or as
/// the table's own columns (`_student`, `_exam_type`); both are read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PerformanceItem {
    #[serde(default)]
    student: Option<Ref>,
    #[serde(default, rename = "_student")]
    student_id: Option<Id>,
    #[serde(default)]
    subject: Option<Ref>,
    #[serde(default, rename = "_subject")]
    subject_id: Option<Id>,
    #[serde(default)]
    semester: Option<Ref>,
    #[serde(default, rename = "_semester")]
    semester_code: Option<Id>,
    #[serde(default)]
    group: Option<Ref>,
    #[serde(default)]
    exam_type: Option<Ref>,
    #[serde(default, rename = "_exam_type")]
    exam_type_code: Option<Id>,
    #[serde(default)]
    final_exam_type: Option<Ref>,
    #[serde(default, rename = "_final_exam_type")]
    final_exam_type_code: Option<Id>,
    /// A number, or a number written as text; `null` before the control is graded.
    #[serde(default)]
    grade: Option<Value>,
    #[serde(default)]
    active: Option<bool>,
}

impl PerformanceItem {
    fn student(&self) -> Option<String> {
        self.student
            .as_ref()
            .and_then(Ref::id)
            .or_else(|| self.student_id.as_ref().map(Id::text))
    }
    fn subject(&self) -> Option<String> {
        self.subject
            .as_ref()
            .and_then(Ref::id)
            .or_else(|| self.subject_id.as_ref().map(Id::text))
    }
    fn semester(&self) -> Option<String> {
        self.semester
            .as_ref()
            .and_then(Ref::code)
            .or_else(|| self.semester_code.as_ref().map(Id::text))
    }
    /// The exam type (11–18) and the sitting (1–3). HEMIS also writes the two as one code
    /// (`132` is the final, 13, at its second sitting); such a code is split.
    fn control(&self) -> Option<(String, u8)> {
        let exam = self
            .exam_type
            .as_ref()
            .and_then(Ref::code)
            .or_else(|| self.exam_type_code.as_ref().map(Id::text))?;
        if exam.len() == 3 {
            let sitting = exam[2..]
                .parse::<u8>()
                .ok()
                .filter(|s| (1..=3).contains(s))?;
            return Some((exam[..2].to_string(), sitting));
        }
        let sitting = match self
            .final_exam_type
            .as_ref()
            .and_then(Ref::code)
            .or_else(|| self.final_exam_type_code.as_ref().map(Id::text))
            .as_deref()
        {
            None | Some("11") => 1,
            Some("12") => 2,
            Some("13") => 3,
            Some(_) => return None,
        };
        Some((exam, sitting))
    }
    /// The grade, `Ok(None)` when HEMIS has none yet, `Err` when it is not a number.
    fn grade(&self) -> std::result::Result<Option<f64>, String> {
        match &self.grade {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(t)) if t.trim().is_empty() => Ok(None),
            Some(Value::String(t)) => t
                .trim()
                .replace(',', ".")
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("grade {t:?} is not a number")),
            Some(other) => Err(format!("grade {other} is not a number")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopicItem {
    id: Id,
    name: String,
    #[serde(default)]
    position: Option<f64>,
    #[serde(default)]
    training_type: Option<Ref>,
    #[serde(default)]
    subject: Option<Ref>,
    #[serde(default)]
    semester: Option<Ref>,
    #[serde(default, alias = "_curriculum_subject")]
    curriculum_subject: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleItem {
    id: Id,
    subject: Ref,
    group: Ref,
    training_type: Ref,
    lesson_pair: Ref,
    #[serde(default)]
    employee: Option<Ref>,
    #[serde(rename = "lesson_date")]
    lesson_date: i64,
    semester: Ref,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttendanceItem {
    #[serde(default, rename = "_subject_schedule")]
    subject_schedule: Option<Id>,
    student: Ref,
    subject: Ref,
    #[serde(default)]
    group: Option<Ref>,
    lesson_pair: Ref,
    #[serde(rename = "lesson_date")]
    lesson_date: i64,
    #[serde(default, rename = "absent_on")]
    absent_on: Option<u32>,
    #[serde(default, rename = "absent_off")]
    absent_off: Option<u32>,
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
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

/// Reads every page of one endpoint; `Ok(None)` when the export has no such file.
fn read_endpoint<T: DeserializeOwned>(
    dir: &Path,
    endpoint: &str,
) -> Result<Option<Vec<(String, usize, T)>>> {
    let first = dir.join(format!("{endpoint}.json"));
    if !first.exists() {
        return Ok(None);
    }
    let mut pages: Vec<PathBuf> = vec![first];
    let mut n = 2;
    loop {
        let next = dir.join(format!("{endpoint}-{n}.json"));
        if !next.exists() {
            break;
        }
        pages.push(next);
        n += 1;
    }
    let mut out = Vec::new();
    let mut expected_pages: Option<u32> = None;
    let mut expected_total = None;
    let mut read = 0usize;
    for page in &pages {
        // Pages beyond the count HEMIS gave are not part of this export.
        if expected_pages.is_some_and(|c| read as u32 >= c) {
            break;
        }
        read += 1;
        let name = page
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(page)
            .map_err(|e| bad(&name, format!("cannot read the file: {e}")))?;
        let envelope: Envelope = serde_json::from_str(&text).map_err(|e| {
            bad(
                &name,
                format!(
                    "not a HEMIS list response (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if !envelope.success {
            return Err(bad(&name, "HEMIS answered \"success\": false in this file"));
        }
        let data = envelope
            .data
            .ok_or_else(|| bad(&name, "the response has no \"data\""))?;
        if let Some(p) = &data.pagination {
            expected_pages = expected_pages.or(p.page_count);
            expected_total = expected_total.or(p.total_count);
        }
        for (index, item) in data.items.into_iter().enumerate() {
            let id_hint = item
                .get("id")
                .map(|v| format!(" (id {v})"))
                .unwrap_or_default();
            let parsed: T = serde_json::from_value(item)
                .map_err(|e| bad(&name, format!("item {}{id_hint}: {e}", index + 1)))?;
            out.push((name.clone(), index + 1, parsed));
        }
    }
    let pages = &pages[..read];
    if let Some(count) = expected_pages
        && (pages.len() as u32) < count
    {
        return Err(bad(
            &format!("{endpoint}.json"),
            format!(
                "the export is partial: HEMIS reported {count} pages but only {} are here (expected {endpoint}-2.json … {endpoint}-{count}.json)",
                pages.len()
            ),
        ));
    }
    if let Some(total) = expected_total
        && (out.len() as u64) < total
        && expected_pages.is_none_or(|c| c as usize == pages.len())
    {
        return Err(bad(
            &format!("{endpoint}.json"),
            format!(
                "the export is partial: HEMIS reported {total} items but the files hold {}",
                out.len()
            ),
        ));
    }
    Ok(Some(out))
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
        let plan = plan(dir)?;
        let university = self.require_university()?;
        self.atomically(|r| write_plan(r, &university, plan))
    }
}

/// A HEMIS semester code ("11" … "22") as the semester's number ("1" … "12").
fn semester_shown(code: &str) -> String {
    match code.trim().parse::<u32>() {
        Ok(c @ 11..=22) => (c - 10).to_string(),
        _ => code.trim().to_string(),
    }
}

fn plan(dir: &Path) -> Result<Plan> {
    let groups: Vec<(String, usize, GroupItem)> =
        read_endpoint(dir, "group-list")?.unwrap_or_default();
    let curricula: Vec<(String, usize, CurriculumItem)> =
        read_endpoint(dir, "curriculum-list")?.unwrap_or_default();
    let semesters: Vec<(String, usize, SemesterItem)> =
        read_endpoint(dir, "semester-list")?.unwrap_or_default();
    let pairs: Vec<(String, usize, LessonPairItem)> =
        read_endpoint(dir, "lesson-pair-list")?.unwrap_or_default();
    let students: Vec<(String, usize, StudentItem)> =
        read_endpoint(dir, "student-list")?.unwrap_or_default();
    let employees: Vec<(String, usize, EmployeeItem)> =
        read_endpoint(dir, "employee-list")?.unwrap_or_default();
    let subjects: Vec<(String, usize, CurriculumSubjectItem)> =
        read_endpoint(dir, "curriculum-subject-list")?.unwrap_or_default();
    let topics: Vec<(String, usize, TopicItem)> =
        read_endpoint(dir, "curriculum-subject-topic-list")?.unwrap_or_default();
    let subject_teachers: Vec<(String, usize, SubjectTeacherItem)> =
        read_endpoint(dir, "curriculum-subject-teacher-list")?.unwrap_or_default();
    let schedule: Vec<(String, usize, ScheduleItem)> =
        read_endpoint(dir, "schedule-list")?.unwrap_or_default();
    let controlled: Vec<(String, usize, AttendanceControlItem)> =
        read_endpoint(dir, "attendance-control-list")?.unwrap_or_default();
    let attendance: Vec<(String, usize, AttendanceItem)> =
        read_endpoint(dir, "attendance-list")?.unwrap_or_default();
    let grades: Vec<(String, usize, GradeItem)> =
        read_endpoint(dir, "student-grade-list")?.unwrap_or_default();
    let results: Vec<(String, usize, PerformanceItem)> =
        read_endpoint(dir, "student-performance-list")?.unwrap_or_default();
    if groups.is_empty() && subjects.is_empty() && schedule.is_empty() && employees.is_empty() {
        return Err(bad(
            &dir.display().to_string(),
            "no HEMIS files found (expected group-list.json, student-list.json, schedule-list.json, …)",
        ));
    }

    let mut plan = Plan {
        faculties: BTreeMap::new(),
        departments: BTreeMap::new(),
        teachers: BTreeMap::new(),
        groups: BTreeMap::new(),
        modules: BTreeMap::new(),
        journals: BTreeMap::new(),
        training_types: BTreeMap::new(),
        pair_times: BTreeMap::new(),
        semesters: BTreeMap::new(),
        notes: Vec::new(),
    };

    let marking_of_curriculum: BTreeMap<String, MarkingSystem> = curricula
        .iter()
        .filter_map(|(_, _, c)| {
            let code = c.marking_system.as_ref()?.code.as_ref()?.text();
            Some((c.id.text(), marking_of(&code)?))
        })
        .collect();
    for (_, _, c) in &curricula {
        if let Some(limit) = c.marking_system.as_ref().and_then(|m| m.minimum_limit) {
            let system = marking_of_curriculum.get(&c.id.text()).copied();
            let expected = match system {
                Some(MarkingSystem::Rating100) => Some(55.0),
                Some(MarkingSystem::CreditModule) => Some(60.0),
                _ => None,
            };
            if expected.is_some_and(|e| (e - limit).abs() > f64::EPSILON) {
                plan.notes.push(format!(
                    "curriculum {}: minimum_limit {limit} differs from the regulation's {}; Daftar judges admission by the regulation",
                    c.id.text(),
                    expected.unwrap_or_default()
                ));
            }
        }
    }
    for (_, _, s) in semesters {
        let (Some(code), Some(from), Some(to)) = (s.code, s.start_date, s.end_date) else {
            continue;
        };
        if let (Some(from), Some(to)) = (tashkent_date(from), tashkent_date(to)) {
            plan.semesters
                .entry(semester_shown(&code.text()))
                .or_insert((from, to));
        }
    }
    for (_, _, p) in pairs {
        let code = p.code.text();
        let n = code
            .parse::<u8>()
            .ok()
            .filter(|c| (11..=18).contains(c))
            .map(|c| c - 10);
        if let (Some(n), Some(start), Some(end)) = (n, p.start_time, p.end_time) {
            plan.pair_times
                .insert(n.to_string(), format!("{start}–{end}"));
        }
    }

    for (_, _, g) in groups {
        if let Some(dep) = &g.department
            && let Some(id) = dep.id()
        {
            plan.faculties
                .insert(id, dep.name.clone().unwrap_or_default());
        }
        plan.groups.insert(g.id.text(), (g, Vec::new()));
    }
    for (file, index, s) in students {
        let group_id = s.group.id().ok_or_else(|| {
            bad(
                &file,
                format!(
                    "item {index} (id {}): the student has no group id",
                    s.id.text()
                ),
            )
        })?;
        let Some((_, roster)) = plan.groups.get_mut(&group_id) else {
            return Err(bad(
                &file,
                format!(
                    "item {index} (id {}): group {group_id} is not in group-list.json",
                    s.id.text()
                ),
            ));
        };
        let name = s
            .full_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                let parts: Vec<&str> = [&s.second_name, &s.first_name, &s.third_name]
                    .into_iter()
                    .filter_map(|p| p.as_deref())
                    .filter(|p| !p.is_empty())
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
            .ok_or_else(|| {
                bad(
                    &file,
                    format!("item {index} (id {}): the student has no name", s.id.text()),
                )
            })?;
        let status = status_of(s.student_status.as_ref().and_then(Ref::code).as_deref());
        // Not studying from the day the item changed: lessons before it still expect them.
        let until = (status != "active")
            .then(|| s.updated_at.and_then(tashkent_date))
            .flatten();
        roster.push((
            s.id.text(),
            StudentValue {
                name: name.trim().to_string(),
                number: s.student_id_number.as_ref().map(Id::text),
                status: status.to_string(),
                subgroup: None,
                since: None,
                until,
            },
        ));
    }
    for (file, index, e) in employees {
        let name = e
            .full_name
            .clone()
            .or_else(|| match (&e.second_name, &e.first_name) {
                (Some(a), Some(b)) => Some(format!("{a} {b}")),
                _ => None,
            })
            .ok_or_else(|| {
                bad(
                    &file,
                    format!(
                        "item {index} (id {}): the employee has no name",
                        e.id.text()
                    ),
                )
            })?;
        let dep = e.department.as_ref().and_then(Ref::id);
        if let Some(d) = &e.department
            && let Some(id) = d.id()
        {
            plan.departments
                .insert(id, d.name.clone().unwrap_or_default());
        }
        plan.teachers.insert(e.id.text(), (name, dep));
    }
    for (file, index, cs) in subjects {
        let subject_id = cs
            .subject
            .id()
            .ok_or_else(|| bad(&file, format!("item {index}: the subject has no id")))?;
        let semester = cs
            .semester
            .code()
            .ok_or_else(|| bad(&file, format!("item {index}: the semester has no code")))?;
        let department = cs.department.as_ref().and_then(Ref::id);
        if let Some(d) = &cs.department
            && let Some(id) = d.id()
        {
            plan.departments
                .insert(id, d.name.clone().unwrap_or_default());
        }
        let mut hours = Vec::new();
        for d in &cs.subject_details {
            if let (Some(code), Some(load)) = (d.training_type.code(), d.academic_load) {
                if LessonType::parse(&code).is_err() {
                    plan.training_types.insert(
                        code.clone(),
                        d.training_type.name.clone().unwrap_or_else(|| code.clone()),
                    );
                }
                hours.push((code, format!("{}", load.round() as i64)));
            }
        }
        let mut controls: Vec<ControlPlan> = Vec::new();
        for e in &cs.subject_exam_types {
            let Some((kind, base)) = control_of(&e.exam_type) else {
                let what = e
                    .exam_type
                    .name
                    .clone()
                    .unwrap_or_else(|| e.exam_type.code().unwrap_or_default());
                let why = if e.exam_type.code().as_deref() == Some("14") {
                    "the overall total is computed from the controls, not entered"
                } else {
                    "not a control Daftar knows"
                };
                plan.notes.push(format!(
                    "curriculum subject {} ({}): exam type {what:?} not imported: {why}",
                    cs.id.text(),
                    cs.subject.name.clone().unwrap_or_default()
                ));
                continue;
            };
            // Two plain midterms (12, 12) become ON1 and ON2.
            let mut code = base.to_string();
            let same = controls.iter().filter(|c| c.code.starts_with(base)).count();
            if same > 0 && (base == "ON" || base == "JN") {
                if same == 1
                    && let Some(first) = controls.iter_mut().find(|c| c.code == base)
                {
                    first.code = format!("{base}1");
                }
                code = format!("{base}{}", same + 1);
            }
            controls.push(ControlPlan {
                code,
                kind,
                max: e.max_ball.unwrap_or(100.0),
                sittings: if kind == ControlKind::Final { 3 } else { 1 },
            });
        }
        let curriculum = cs.curriculum.as_ref().map(Id::text);
        plan.modules.insert(
            format!("module/cs{}", cs.id.text()),
            ModulePlan {
                subject_id,
                subject: cs.subject.name.clone().unwrap_or_default(),
                marking: curriculum
                    .as_ref()
                    .and_then(|c| marking_of_curriculum.get(c))
                    .copied(),
                curriculum,
                semester,
                exam_finish: cs.exam_finish.as_ref().and_then(Ref::code),
                department,
                hours,
                controls,
                topics: Vec::new(),
            },
        );
    }
    for (file, index, t) in topics {
        // Attach to the module by curriculum-subject id, else by subject + semester.
        let by_cs = t.curriculum_subject.as_ref().and_then(|v| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("id")
                .map(|i| i.to_string().trim_matches('"').to_string()),
            _ => None,
        });
        let module = match by_cs {
            Some(cs) => Some(format!("module/cs{cs}")).filter(|m| plan.modules.contains_key(m)),
            None => {
                let subject = t.subject.as_ref().and_then(Ref::id);
                let semester = t.semester.as_ref().and_then(Ref::code);
                plan.modules
                    .iter()
                    .find(|(_, m)| {
                        Some(&m.subject_id) == subject.as_ref()
                            && (semester.is_none() || Some(&m.semester) == semester.as_ref())
                    })
                    .map(|(id, _)| id.clone())
            }
        };
        let Some(module) = module else {
            return Err(bad(
                &file,
                format!(
                    "item {index} (id {}): no curriculum subject for this topic",
                    t.id.text()
                ),
            ));
        };
        if let Some(m) = plan.modules.get_mut(&module) {
            m.topics.push((
                format!("t{}", t.id.text()),
                TopicValue {
                    name: t.name.clone(),
                    lesson_type: t.training_type.as_ref().and_then(Ref::code),
                    pos: t.position.unwrap_or(index as f64),
                },
            ));
        }
    }
    // The group's curriculum decides its journals' module and marking system.
    let curriculum_of_group: BTreeMap<String, String> = plan
        .groups
        .iter()
        .filter_map(|(id, (g, _))| Some((id.clone(), g.curriculum.as_ref()?.text())))
        .collect();
    let module_for = |plan: &Plan, group: &str, subject: &str, semester: &str| -> Option<String> {
        let curriculum = curriculum_of_group.get(group);
        let candidates: Vec<&String> = plan
            .modules
            .iter()
            .filter(|(_, m)| m.subject_id == subject && m.semester == semester)
            .map(|(id, _)| id)
            .collect();
        candidates
            .iter()
            .find(|id| {
                curriculum.is_some() && plan.modules[id.as_str()].curriculum.as_ref() == curriculum
            })
            .or(candidates.first())
            .map(|id| (*id).clone())
    };
    for (file, index, s) in schedule {
        let group = s
            .group
            .id()
            .ok_or_else(|| bad(&file, format!("item {index}: the lesson has no group id")))?;
        if !plan.groups.contains_key(&group) {
            return Err(bad(
                &file,
                format!(
                    "item {index} (id {}): group {group} is not in group-list.json",
                    s.id.text()
                ),
            ));
        }
        let subject = s
            .subject
            .id()
            .ok_or_else(|| bad(&file, format!("item {index}: the lesson has no subject id")))?;
        let semester = s.semester.code().ok_or_else(|| {
            bad(
                &file,
                format!("item {index}: the lesson has no semester code"),
            )
        })?;
        let lesson_type = s.training_type.code().ok_or_else(|| {
            bad(
                &file,
                format!("item {index}: the lesson has no training type"),
            )
        })?;
        // A university's own training type is kept with its HEMIS name.
        if LessonType::parse(&lesson_type).is_err() {
            plan.training_types
                .entry(lesson_type.clone())
                .or_insert_with(|| {
                    s.training_type
                        .name
                        .clone()
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| lesson_type.clone())
                });
        }
        let pair = pair_of(&s.lesson_pair).ok_or_else(|| {
            bad(
                &file,
                format!(
                    "item {index} (id {}): the lesson pair {:?} is not a HEMIS pair code (\"11\" to \"18\")",
                    s.id.text(),
                    s.lesson_pair.code().unwrap_or_default()
                ),
            )
        })?;
        let date = tashkent_date(s.lesson_date).ok_or_else(|| {
            bad(
                &file,
                format!("item {index}: lesson_date is not a Unix time"),
            )
        })?;
        let module = module_for(&plan, &group, &subject, &semester);
        let marking = module
            .as_ref()
            .and_then(|m| plan.modules.get(m))
            .and_then(|m| m.marking)
            .or_else(|| {
                curriculum_of_group
                    .get(&group)
                    .and_then(|c| marking_of_curriculum.get(c))
                    .copied()
            });
        let journal_id = format!("journal/g{group}-s{subject}-{semester}");
        let teacher = s.employee.as_ref().and_then(Ref::id);
        let journal = plan
            .journals
            .entry(journal_id)
            .or_insert_with(|| JournalPlan {
                group: format!("group/{group}"),
                module,
                subject: s.subject.name.clone().unwrap_or_default(),
                semester: semester.clone(),
                marking,
                teachers: BTreeSet::new(),
                lessons: BTreeMap::new(),
                marks: BTreeMap::new(),
                scores: BTreeMap::new(),
            });
        if let Some(t) = &teacher {
            journal.teachers.insert(t.clone());
        }
        journal.lessons.insert(
            format!("h{}", s.id.text()),
            LessonValue {
                date,
                pair,
                lesson_type,
                teacher,
                subgroup: None,
                taken: false,
            },
        );
    }
    // Who teaches which group and subject: the journal's teachers (the server's access).
    for (_, _, t) in subject_teachers {
        let (Some(group), Some(employee)) = (t.group.id(), t.employee.id()) else {
            continue;
        };
        let by_cs = t
            .curriculum_subject
            .as_ref()
            .and_then(|cs| plan.modules.get(&format!("module/cs{}", cs.text())))
            .map(|m| (m.subject_id.clone(), m.semester.clone()));
        let by_ref = t
            .subject
            .as_ref()
            .and_then(Ref::id)
            .zip(t.semester.as_ref().and_then(Ref::code));
        if let Some((subject, semester)) = by_cs.or(by_ref)
            && let Some(j) = plan
                .journals
                .get_mut(&format!("journal/g{group}-s{subject}-{semester}"))
        {
            j.teachers.insert(employee);
        }
    }
    // Student → group, for attendance.
    let student_group: BTreeMap<String, String> = plan
        .groups
        .iter()
        .flat_map(|(g, (_, roster))| roster.iter().map(move |(s, _)| (s.clone(), g.clone())))
        .collect();
    let lesson_journal: BTreeMap<String, String> = plan
        .journals
        .iter()
        .flat_map(|(j, p)| p.lessons.keys().map(move |l| (l.clone(), j.clone())))
        .collect();
    for (file, index, a) in attendance {
        let student = a
            .student
            .id()
            .ok_or_else(|| bad(&file, format!("item {index}: the record has no student id")))?;
        // The schedule item it belongs to, when HEMIS names it; else the group's lesson of
        // that subject, day and pair.
        let by_schedule = a
            .subject_schedule
            .as_ref()
            .map(|id| format!("h{}", id.text()))
            .and_then(|l| lesson_journal.get(&l).map(|j| (l, j.clone())));
        let found = match by_schedule {
            Some(found) => Some(found),
            None => {
                let group = a
                    .group
                    .as_ref()
                    .and_then(Ref::id)
                    .or_else(|| student_group.get(&student).cloned())
                    .ok_or_else(|| {
                        bad(
                            &file,
                            format!("item {index}: student {student} is not in student-list.json"),
                        )
                    })?;
                let subject = a.subject.id().unwrap_or_default();
                let date = tashkent_date(a.lesson_date).ok_or_else(|| {
                    bad(
                        &file,
                        format!("item {index}: lesson_date is not a Unix time"),
                    )
                })?;
                let pair = pair_of(&a.lesson_pair).unwrap_or(0);
                let prefix = format!("journal/g{group}-s{subject}-");
                plan.journals.iter().find_map(|(id, j)| {
                    if !id.starts_with(&prefix) {
                        return None;
                    }
                    j.lessons
                        .iter()
                        .find(|(_, l)| l.date == date && l.pair == pair)
                        .map(|(lid, _)| (lid.clone(), id.clone()))
                })
            }
        };
        let Some((lesson, journal)) = found else {
            return Err(bad(
                &file,
                format!(
                    "item {index}: no scheduled lesson in schedule-list.json for student {student}'s absence"
                ),
            ));
        };
        let unexcused = a.absent_off.unwrap_or(0);
        let excused = a.absent_on.unwrap_or(0);
        let mark = if unexcused > 0 {
            MarkValue {
                hours: unexcused,
                ..MarkValue::new(Attendance::Absent)
            }
        } else if excused > 0 {
            MarkValue {
                hours: excused,
                ..MarkValue::new(Attendance::Excused)
            }
        } else {
            continue;
        };
        if let Some(j) = plan.journals.get_mut(&journal) {
            j.marks.insert(format!("{lesson}/{student}"), mark);
        }
    }
    // Lessons whose attendance HEMIS took: held, and everyone expected without an absence
    // was there (HEMIS records absences only).
    let rosters: BTreeMap<String, Vec<(String, StudentValue)>> = plan
        .groups
        .iter()
        .map(|(g, (_, r))| (format!("group/{g}"), r.clone()))
        .collect();
    for (_, _, c) in controlled {
        let Some(lesson) = c.subject_schedule.map(|id| format!("h{}", id.text())) else {
            continue;
        };
        let Some(journal) = lesson_journal.get(&lesson) else {
            continue;
        };
        let Some(j) = plan.journals.get_mut(journal) else {
            continue;
        };
        let Some(header) = j.lessons.get_mut(&lesson) else {
            continue;
        };
        header.taken = true;
        let date = header.date.clone();
        for (student, s) in rosters.get(&j.group).into_iter().flatten() {
            let expected =
                s.status == "active" || s.until.as_deref().is_some_and(|u| date.as_str() < u);
            if expected {
                j.marks
                    .entry(format!("{lesson}/{student}"))
                    .or_insert_with(|| MarkValue::new(Attendance::Present));
            }
        }
    }
    // Per-lesson grades.
    for (file, index, g) in grades {
        let lesson = format!("h{}", g.subject_schedule.text());
        let Some(student) = g.student.id() else {
            return Err(bad(
                &file,
                format!("item {index}: the grade has no student id"),
            ));
        };
        let Some(journal) = lesson_journal.get(&lesson) else {
            return Err(bad(
                &file,
                format!(
                    "item {index}: schedule item {} is not in schedule-list.json",
                    g.subject_schedule.text()
                ),
            ));
        };
        let Some(grade) = g
            .grade
            .filter(|g| g.is_finite() && *g >= 0.0 && *g <= 100.0)
        else {
            continue;
        };
        if let Some(j) = plan.journals.get_mut(journal) {
            let mark = j
                .marks
                .entry(format!("{lesson}/{student}"))
                .or_insert_with(|| MarkValue::new(Attendance::Present));
            if mark.status == Attendance::Present || mark.status == Attendance::Late {
                mark.grade = Some(grade.round() as u32);
            }
        }
    }
    control_results(&mut plan, results, &student_group)?;
    Ok(plan)
}

/// Reads HEMIS's control results into the journals' scores. A result of a control the
/// module does not plan, or outside its points, is left out with a note (HEMIS's data, not
/// the file, is odd); an item without a student or with a grade that is no number refuses
/// the import. The overall total (14) and the JN + ON limit (10) are computed, not read.
fn control_results(
    plan: &mut Plan,
    results: Vec<(String, usize, PerformanceItem)>,
    student_group: &BTreeMap<String, String>,
) -> Result<()> {
    let mut computed = 0usize;
    let mut elsewhere = 0usize;
    for (file, index, p) in results {
        if p.active == Some(false) {
            continue;
        }
        let student = p
            .student()
            .ok_or_else(|| bad(&file, format!("item {index}: the result has no student id")))?;
        let grade = p
            .grade()
            .map_err(|e| bad(&file, format!("item {index}: {e}")))?;
        let Some(grade) = grade else {
            continue;
        };
        let Some((exam, sitting)) = p.control() else {
            return Err(bad(
                &file,
                format!(
                    "item {index}: the result has no exam type and sitting HEMIS uses (_exam_type 11–18, _final_exam_type 11–13)"
                ),
            ));
        };
        let code = match exam.as_str() {
            "11" => "JN",
            "12" => "ON",
            "13" => "YN",
            "15" => "1-JN",
            "16" => "2-JN",
            "17" => "1-ON",
            "18" => "2-ON",
            "10" | "14" => {
                computed += 1;
                continue;
            }
            other => {
                plan.notes.push(format!(
                    "{file} item {index}: exam type {other} is not one Daftar knows; the result was not imported"
                ));
                continue;
            }
        };
        let group = p
            .group
            .as_ref()
            .and_then(Ref::id)
            .or_else(|| student_group.get(&student).cloned());
        let (Some(group), Some(subject)) = (group, p.subject()) else {
            elsewhere += 1;
            continue;
        };
        let journal_id = match p.semester() {
            Some(semester) => Some(format!("journal/g{group}-s{subject}-{semester}")),
            None => {
                let prefix = format!("journal/g{group}-s{subject}-");
                let mut found = plan.journals.keys().filter(|k| k.starts_with(&prefix));
                match (found.next(), found.next()) {
                    (Some(one), None) => Some(one.clone()),
                    _ => None,
                }
            }
        };
        let Some(journal) = journal_id.and_then(|id| plan.journals.get_mut(&id)) else {
            elsewhere += 1;
            continue;
        };
        let control = journal
            .module
            .as_ref()
            .and_then(|m| plan.modules.get(m))
            .and_then(|m| m.controls.iter().find(|c| c.code == code));
        let Some(control) = control else {
            plan.notes.push(format!(
                "{file} item {index}: {} plans no {code} control; student {student}'s result was not imported",
                journal.subject
            ));
            continue;
        };
        if !grade.is_finite() || grade < 0.0 || grade > control.max {
            plan.notes.push(format!(
                "{file} item {index}: {code} {grade} for student {student} is outside 0–{} of {}; not imported",
                control.max, journal.subject
            ));
            continue;
        }
        if sitting > control.sittings.max(1) && control.kind == ControlKind::Final {
            plan.notes.push(format!(
                "{file} item {index}: {code} sitting {sitting} is past the {} sittings {} plans; not imported",
                control.sittings, journal.subject
            ));
            continue;
        }
        journal
            .scores
            .insert(format!("{code}/{sitting}/{student}"), grade);
    }
    if computed > 0 {
        plan.notes.push(format!(
            "{computed} overall results (HEMIS exam types 10 and 14) were not imported: Daftar computes them from the controls"
        ));
    }
    if elsewhere > 0 {
        plan.notes.push(format!(
            "{elsewhere} control results are for groups or subjects with no lessons in this export; not imported"
        ));
    }
    Ok(())
}

/// Writes a journal's control results from HEMIS: a score Daftar has is kept (a differing
/// HEMIS one is noted); a retake sitting HEMIS graded is opened as the dean's office would
/// open it; a final score for a student the journal's JN and ON do not admit is left out
/// with a note, so the import never writes what the server would refuse. Returns how many
/// scores were written and the notes.
fn write_results(
    doc: &mut crate::doc::Doc,
    subject: &str,
    system: daftar_rules::assessment::System,
    controls: &[daftar_rules::assessment::Control],
    results: &BTreeMap<String, f64>,
) -> Result<(usize, Vec<String>)> {
    use daftar_rules::assessment::{self, Kind, Score};
    let mut notes = Vec::new();
    let parse = |key: &str, raw: &str| -> Option<(String, Score)> {
        let mut parts = key.splitn(3, '/');
        let control = parts.next()?.to_string();
        let sitting = parts.next()?.parse::<u8>().ok()?;
        let student = parts.next()?.to_string();
        let points = raw.trim().parse::<f64>().ok()?;
        Some((
            student,
            Score {
                control,
                sitting,
                points,
            },
        ))
    };
    // What the journal will hold: Daftar's scores, then HEMIS's where Daftar has none.
    let mut held: BTreeMap<String, Vec<Score>> = BTreeMap::new();
    for key in doc.keys("scores") {
        if let Some(raw) = doc.get("scores", &key)
            && let Some((student, score)) = parse(&key, &raw)
        {
            held.entry(student).or_default().push(score);
        }
    }
    let mut fresh: Vec<(String, String, Score)> = Vec::new();
    for (key, points) in results {
        let Some((student, score)) = parse(key, &points.to_string()) else {
            continue;
        };
        match doc.get("scores", key) {
            Some(raw) => {
                let same = raw
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|p| (p - points).abs() < 1e-9);
                if !same {
                    notes.push(format!(
                        "{subject}: student {student} has {} {} in Daftar and {points} in HEMIS; Daftar's score was kept",
                        score.control,
                        raw.trim()
                    ));
                }
            }
            None => {
                held.entry(student.clone()).or_default().push(score.clone());
                fresh.push((key.clone(), student, score));
            }
        }
    }
    let mut written = 0;
    for (key, student, score) in fresh {
        let kind = controls
            .iter()
            .find(|c| c.code == score.control)
            .map(|c| c.kind);
        if system == assessment::System::FivePoint
            && let Some(problem) = assessment::five_point_grade_problem(score.points)
        {
            notes.push(format!(
                "{subject}: student {student}'s {} {} was not imported: {problem}",
                score.control, score.points
            ));
            continue;
        }
        if kind == Some(Kind::Final) {
            let others: Vec<Score> = held
                .get(&student)
                .into_iter()
                .flatten()
                .filter(|s| s.control != score.control)
                .cloned()
                .collect();
            let totals = assessment::totals(system, controls, &others, score.sitting);
            if let Some(reason) = assessment::admission(system, &totals).reason() {
                notes.push(format!(
                    "{subject}: student {student}'s {} {} at sitting {} was not imported: {reason}",
                    score.control, score.points, score.sitting
                ));
                continue;
            }
        }
        if score.sitting >= 2 {
            let permit = assessment::retake_key(score.sitting, &student);
            if doc.get("status", &permit).is_none() {
                let raw =
                    serde_json::json!({ "reason": "HEMIS: retake graded in HEMIS" }).to_string();
                doc.put("status", &permit, &raw)?;
            }
        }
        let raw = score.points.to_string();
        doc.put("scores", &key, &raw)?;
        written += 1;
    }
    Ok((written, notes))
}

/// Puts `value` at `map[key]`, noting a change of a value that was there before.
fn put_noting(
    doc: &mut crate::doc::Doc,
    map: &'static str,
    key: &str,
    value: &str,
    describe: impl FnOnce(&str) -> Option<String>,
    changes: &mut Vec<String>,
) -> Result<()> {
    let before = doc.get(map, key);
    if before.as_deref() == Some(value) {
        return Ok(());
    }
    if let Some(old) = &before
        && let Some(what) = describe(old)
    {
        changes.push(what);
    }
    doc.put(map, key, value)?;
    Ok(())
}

fn write_plan(r: &mut Replica, university: &str, plan: Plan) -> Result<ImportSummary> {
    let mut summary = ImportSummary {
        notes: plan.notes.clone(),
        ..ImportSummary::default()
    };
    let mut changes: Vec<String> = Vec::new();
    let catalog_id = format!("catalog/{university}");
    let before = r.info()?.unpushed;
    let mut calendar = r.calendar()?;
    for (n, (from, to)) in &plan.semesters {
        calendar.semesters.insert(
            n.clone(),
            crate::lessons::Term {
                from: from.clone(),
                to: to.clone(),
            },
        );
    }
    upsert(r, &catalog_id, "import HEMIS catalog", |doc| {
        if doc.get("meta", "name").is_none() {
            doc.put("meta", "name", university)?;
        }
        if doc.get("settings", "thresholds").is_none() {
            doc.put("settings", "thresholds", "[12,36,74]")?;
        }
        if !plan.semesters.is_empty() {
            doc.put(
                "settings",
                crate::lessons::CALENDAR_KEY,
                &serde_json::to_string(&calendar).unwrap_or_default(),
            )?;
        }
        if !plan.training_types.is_empty() {
            let mut known: BTreeMap<String, String> = doc
                .get("settings", TRAINING_TYPES_KEY)
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or_default();
            known.extend(plan.training_types.clone());
            doc.put(
                "settings",
                TRAINING_TYPES_KEY,
                &serde_json::to_string(&known).unwrap_or_default(),
            )?;
        }
        if !plan.pair_times.is_empty() {
            doc.put(
                "settings",
                crate::lessons::PAIRS_KEY,
                &serde_json::to_string(&plan.pair_times).unwrap_or_default(),
            )?;
        }
        for (id, name) in &plan.faculties {
            doc.put(
                "faculties",
                &format!("f{id}"),
                &serde_json::json!({ "name": name }).to_string(),
            )?;
        }
        for (id, name) in &plan.departments {
            doc.put(
                "departments",
                &format!("d{id}"),
                &serde_json::json!({ "name": name }).to_string(),
            )?;
        }
        for (id, (name, dep)) in &plan.teachers {
            doc.put(
                "teachers",
                id,
                &serde_json::json!({ "name": name, "department": dep.as_ref().map(|d| format!("d{d}")) }).to_string(),
            )?;
        }
        Ok(())
    })?;
    summary.teachers = plan.teachers.len();
    for (id, (group, roster)) in &plan.groups {
        let doc_id = format!("group/{id}");
        upsert(r, &doc_id, "import HEMIS group", |doc| {
            doc.put("meta", "name", &group.name)?;
            if let Some(f) = group.department.as_ref().and_then(Ref::id) {
                doc.put("meta", "faculty", &format!("f{f}"))?;
            }
            if let Some(lang) = group.education_lang.as_ref().and_then(Ref::code) {
                doc.put("meta", "language", &lang)?;
            }
            if let Some(c) = &group.curriculum {
                doc.put("meta", "curriculum", &c.text())?;
            }
            for (sid, s) in roster {
                // A subgroup the dean's office set in Daftar stays.
                let old: Option<StudentValue> = doc
                    .get("students", sid)
                    .and_then(|v| serde_json::from_str(&v).ok());
                let mut s = s.clone();
                if s.subgroup.is_none() {
                    s.subgroup = old.as_ref().and_then(|o| o.subgroup.clone());
                }
                if s.since.is_none() {
                    s.since = old.as_ref().and_then(|o| o.since.clone());
                }
                // The day a status began moves with every later edit of the HEMIS item
                // (`updated_at`): while the status is the same, the first day stays.
                if let Some(o) = &old
                    && o.status == s.status
                {
                    s.until = o.until.clone().or(s.until.clone());
                }
                let raw = serde_json::to_string(&s).unwrap_or_default();
                put_noting(
                    doc,
                    "students",
                    sid,
                    &raw,
                    |_| {
                        let o = old.as_ref()?;
                        (o.status != s.status).then(|| {
                            format!(
                                "student {sid} {}: {} → {}{}",
                                s.name,
                                o.status,
                                s.status,
                                s.until
                                    .as_deref()
                                    .map(|d| format!(" from {}", display_date(d)))
                                    .unwrap_or_default()
                            )
                        })
                    },
                    &mut changes,
                )?;
            }
            Ok(())
        })?;
        summary.groups += 1;
        summary.students += roster.len();
    }
    for (doc_id, m) in &plan.modules {
        let existed = r.has_doc(doc_id)?;
        upsert(r, doc_id, "import HEMIS module", |doc| {
            doc.put("meta", "subject", &m.subject)?;
            doc.put("meta", "subject_id", &m.subject_id)?;
            doc.put("meta", "semester", &semester_shown(&m.semester))?;
            if let Some(d) = &m.department {
                doc.put("meta", "department", &format!("d{d}"))?;
            }
            match m.marking {
                Some(system) => doc.put("meta", "marking", system.as_str())?,
                None if doc.get("meta", "marking").is_none() => {
                    doc.put("meta", "marking", "rating100")?
                }
                None => false,
            };
            if let Some(f) = &m.exam_finish {
                doc.put("meta", "exam_finish", f)?;
            }
            for (code, hours) in &m.hours {
                doc.put("hours", code, hours)?;
            }
            for c in &m.controls {
                doc.put(
                    "controls",
                    &c.code,
                    &serde_json::to_string(c).unwrap_or_default(),
                )?;
            }
            for (tid, t) in &m.topics {
                let raw = serde_json::to_string(t).unwrap_or_default();
                if existed && doc.get("topics", tid).is_none() {
                    changes.push(format!("topic {tid} added to {}: {}", m.subject, t.name));
                }
                doc.put("topics", tid, &raw)?;
            }
            Ok(())
        })?;
        summary.modules += 1;
    }
    // The university's entry window, if its catalog has one, goes with each journal (the
    // window judges edits made after the journal got it; the imported marks come with it).
    let window: Option<String> = r
        .doc(&catalog_id)
        .ok()
        .and_then(|d| d.get("settings", daftar_rules::window::POLICY_KEY));
    for (doc_id, j) in &plan.journals {
        let window = window.clone();
        let module_plan = j.module.as_ref().and_then(|m| plan.modules.get(m));
        let controls: Vec<daftar_rules::assessment::Control> = module_plan
            .map(|m| {
                m.controls
                    .iter()
                    .filter_map(|c| {
                        Some(daftar_rules::assessment::Control {
                            code: c.code.clone(),
                            kind: daftar_rules::assessment::Kind::parse(c.kind.code())?,
                            max: c.max,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut scores_written = 0usize;
        let mut score_notes: Vec<String> = Vec::new();
        upsert(r, doc_id, "import HEMIS journal", |doc| {
            doc.put("meta", "group", &j.group)?;
            if let Some(w) = &window {
                doc.put("meta", daftar_rules::window::WINDOW_KEY, w)?;
            }
            if let Some(m) = &j.module {
                doc.put("meta", "module", m)?;
            }
            doc.put("meta", "subject", &j.subject)?;
            doc.put("meta", "semester", &semester_shown(&j.semester))?;
            match j.marking {
                Some(system) => doc.put("meta", "marking", system.as_str())?,
                None if doc.get("meta", "marking").is_none() => {
                    doc.put("meta", "marking", "rating100")?
                }
                None => false,
            };
            // Teachers HEMIS names, and any added in Daftar before.
            let mut teachers: BTreeSet<String> = doc
                .get("meta", "teachers")
                .and_then(|v| serde_json::from_str::<Vec<String>>(&v).ok())
                .unwrap_or_default()
                .into_iter()
                .collect();
            teachers.extend(j.teachers.iter().cloned());
            let teachers: Vec<&String> = teachers.iter().collect();
            doc.put(
                "meta",
                "teachers",
                &serde_json::to_string(&teachers).unwrap_or_default(),
            )?;
            for (lid, l) in &j.lessons {
                // What Daftar added to the header stays: a subgroup, HEMIS's "taken".
                let old: Option<LessonValue> = doc
                    .get("lessons", lid)
                    .and_then(|v| serde_json::from_str(&v).ok());
                let mut l = l.clone();
                if let Some(o) = &old {
                    if l.subgroup.is_none() {
                        l.subgroup = o.subgroup.clone();
                    }
                    l.taken |= o.taken;
                }
                let l = &l;
                let raw = serde_json::to_string(l).unwrap_or_default();
                put_noting(
                    doc,
                    "lessons",
                    lid,
                    &raw,
                    |old| {
                        let o: LessonValue = serde_json::from_str(old).ok()?;
                        if (&o.date, o.pair) != (&l.date, l.pair) {
                            Some(format!(
                                "lesson {lid} of {}: moved {} pair {} → {} pair {}",
                                j.subject,
                                display_date(&o.date),
                                o.pair,
                                display_date(&l.date),
                                l.pair
                            ))
                        } else if o.teacher != l.teacher {
                            Some(format!(
                                "lesson {lid} of {} on {}: teacher {} → {}",
                                j.subject,
                                display_date(&l.date),
                                o.teacher.as_deref().unwrap_or("—"),
                                l.teacher.as_deref().unwrap_or("—")
                            ))
                        } else {
                            None
                        }
                    },
                    &mut changes,
                )?;
                let held = l.taken;
                match doc.get("status", lid).as_deref() {
                    None => {
                        let status = if held {
                            LessonStatus::Held
                        } else {
                            LessonStatus::Planned
                        };
                        doc.put("status", lid, status.as_str())?;
                    }
                    Some("planned") if held => {
                        doc.put("status", lid, LessonStatus::Held.as_str())?;
                    }
                    Some(_) => {}
                }
            }
            for (key, m) in &j.marks {
                // HEMIS attendance never overwrites a mark made in Daftar.
                if doc.get("marks", key).is_none() {
                    doc.put("marks", key, &serde_json::to_string(m).unwrap_or_default())?;
                }
            }
            let system = doc
                .get("meta", "marking")
                .and_then(|m| daftar_rules::assessment::System::parse(&m))
                .unwrap_or(daftar_rules::assessment::System::Rating100);
            let (written, notes) = write_results(doc, &j.subject, system, &controls, &j.scores)?;
            scores_written = written;
            score_notes = notes;
            Ok(())
        })?;
        summary.scores += scores_written;
        summary.notes.extend(score_notes);
        for t in &j.teachers {
            summary.assignments.push((t.clone(), doc_id.clone()));
        }
        summary.journals += 1;
        summary.lessons += j.lessons.len();
        summary.absences += j.marks.values().filter(|m| m.status.is_absence()).count();
    }
    summary.changes_written = (r.info()?.unpushed - before).max(0) as usize;
    summary.changes = changes;
    Ok(summary)
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

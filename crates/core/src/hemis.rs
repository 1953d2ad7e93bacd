//! Import of HEMIS exports: a folder of JSON files shaped like HEMIS REST list responses
//! (`{"success": true, "data": {"items": [...], "pagination": {...}}}`), one file per endpoint
//! and page (`group-list.json`, `group-list-2.json`, …).
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
};
use crate::projection::{StudentValue, TopicValue};
use crate::replica::Replica;

pub const ENDPOINTS: [&str; 7] = [
    "group-list",
    "student-list",
    "employee-list",
    "curriculum-subject-list",
    "curriculum-subject-topic-list",
    "schedule-list",
    "attendance-list",
];

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
    /// Changes written by this import (0 when importing the same export again).
    pub changes_written: usize,
    /// (teacher employee id, journal document id) pairs from the schedule.
    pub assignments: Vec<(String, String)>,
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
    let mut expected_pages = None;
    let mut expected_total = None;
    for page in &pages {
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

fn control_of(exam: &Ref) -> Option<(ControlKind, &'static str)> {
    let code = exam.code().unwrap_or_default();
    let name = exam.name.clone().unwrap_or_default().to_lowercase();
    if code == "11" || name.contains("joriy") || name.contains("текущ") || name.contains("current")
    {
        Some((ControlKind::Current, "JN"))
    } else if code == "12"
        || name.contains("oraliq")
        || name.contains("промежут")
        || name.contains("midterm")
    {
        Some((ControlKind::Midterm, "ON"))
    } else if code == "13"
        || name.contains("yakuniy")
        || name.contains("итог")
        || name.contains("final")
    {
        Some((ControlKind::Final, "YN"))
    } else {
        None
    }
}

struct Plan {
    faculties: BTreeMap<String, String>,
    departments: BTreeMap<String, String>,
    teachers: BTreeMap<String, (String, Option<String>)>,
    groups: BTreeMap<String, (GroupItem, Vec<(String, StudentValue)>)>,
    modules: BTreeMap<String, ModulePlan>,
    journals: BTreeMap<String, JournalPlan>,
}

struct ModulePlan {
    subject_id: String,
    subject: String,
    semester: String,
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
    teachers: BTreeSet<String>,
    lessons: BTreeMap<String, LessonValue>,
    marks: BTreeMap<String, MarkValue>,
}

impl Replica {
    /// Imports a HEMIS export folder (all or nothing).
    pub fn import_hemis(&mut self, dir: &Path) -> Result<ImportSummary> {
        if !dir.is_dir() {
            return Err(bad(
                &dir.display().to_string(),
                "not a folder: give the folder that holds group-list.json and the other files",
            ));
        }
        let plan = plan(dir)?;
        let university = self.require_university()?;
        self.atomically(|r| write_plan(r, &university, plan))
    }
}

fn plan(dir: &Path) -> Result<Plan> {
    let groups: Vec<(String, usize, GroupItem)> =
        read_endpoint(dir, "group-list")?.unwrap_or_default();
    let students: Vec<(String, usize, StudentItem)> =
        read_endpoint(dir, "student-list")?.unwrap_or_default();
    let employees: Vec<(String, usize, EmployeeItem)> =
        read_endpoint(dir, "employee-list")?.unwrap_or_default();
    let subjects: Vec<(String, usize, CurriculumSubjectItem)> =
        read_endpoint(dir, "curriculum-subject-list")?.unwrap_or_default();
    let topics: Vec<(String, usize, TopicItem)> =
        read_endpoint(dir, "curriculum-subject-topic-list")?.unwrap_or_default();
    let schedule: Vec<(String, usize, ScheduleItem)> =
        read_endpoint(dir, "schedule-list")?.unwrap_or_default();
    let attendance: Vec<(String, usize, AttendanceItem)> =
        read_endpoint(dir, "attendance-list")?.unwrap_or_default();
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
    };

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
        let status = match s.student_status.as_ref().and_then(Ref::code).as_deref() {
            None | Some("11") => "active",
            Some("12") => "academic_leave",
            Some(_) => "left",
        };
        roster.push((
            s.id.text(),
            StudentValue {
                name: name.trim().to_string(),
                number: s.student_id_number.as_ref().map(Id::text),
                status: status.to_string(),
                subgroup: None,
                since: None,
                until: None,
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
                hours.push((code, format!("{}", load.round() as i64)));
            }
        }
        let mut controls = Vec::new();
        let mut midterms = 0;
        for e in &cs.subject_exam_types {
            let Some((kind, base)) = control_of(&e.exam_type) else {
                continue;
            };
            let code = if kind == ControlKind::Midterm {
                midterms += 1;
                format!("{base}{midterms}")
            } else {
                base.to_string()
            };
            controls.push(ControlPlan {
                code,
                kind,
                max: e.max_ball.unwrap_or(100.0),
                sittings: if kind == ControlKind::Final { 3 } else { 1 },
            });
        }
        let _ = cs.curriculum;
        plan.modules.insert(
            format!("module/cs{}", cs.id.text()),
            ModulePlan {
                subject_id,
                subject: cs.subject.name.clone().unwrap_or_default(),
                semester,
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
        LessonType::parse(&lesson_type).map_err(|e| bad(&file, format!("item {index}: {e}")))?;
        let pair: u8 = s
            .lesson_pair
            .code()
            .and_then(|c| c.parse::<u8>().ok())
            .filter(|p| (1..=8).contains(p))
            .ok_or_else(|| {
                bad(
                    &file,
                    format!("item {index}: the lesson pair must be a code from 1 to 8"),
                )
            })?;
        let date = tashkent_date(s.lesson_date).ok_or_else(|| {
            bad(
                &file,
                format!("item {index}: lesson_date is not a Unix time"),
            )
        })?;
        let module = plan
            .modules
            .iter()
            .find(|(_, m)| m.subject_id == subject && m.semester == semester)
            .map(|(id, _)| id.clone());
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
                teachers: BTreeSet::new(),
                lessons: BTreeMap::new(),
                marks: BTreeMap::new(),
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
            },
        );
    }
    // Student → group, for attendance.
    let student_group: BTreeMap<String, String> = plan
        .groups
        .iter()
        .flat_map(|(g, (_, roster))| roster.iter().map(move |(s, _)| (s.clone(), g.clone())))
        .collect();
    for (file, index, a) in attendance {
        let student = a
            .student
            .id()
            .ok_or_else(|| bad(&file, format!("item {index}: the record has no student id")))?;
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
        let pair: u8 = a
            .lesson_pair
            .code()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let prefix = format!("journal/g{group}-s{subject}-");
        let found = plan.journals.iter_mut().find_map(|(id, j)| {
            if !id.starts_with(&prefix) {
                return None;
            }
            let lesson = j
                .lessons
                .iter()
                .find(|(_, l)| l.date == date && l.pair == pair)
                .map(|(lid, _)| lid.clone())?;
            Some((lesson, j))
        });
        let Some((lesson, journal)) = found else {
            return Err(bad(
                &file,
                format!(
                    "item {index}: no scheduled lesson of subject {subject} on {date} pair {pair} for student {student}'s group"
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
        journal.marks.insert(format!("{lesson}/{student}"), mark);
    }
    Ok(plan)
}

fn write_plan(r: &mut Replica, university: &str, plan: Plan) -> Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let mut changed = 0usize;
    let catalog_id = format!("catalog/{university}");
    let before = r.info()?.unpushed;
    upsert(r, &catalog_id, "import HEMIS catalog", |doc| {
        if doc.get("meta", "name").is_none() {
            doc.put("meta", "name", university)?;
        }
        if doc.get("settings", "thresholds").is_none() {
            doc.put("settings", "thresholds", "[12,36,74]")?;
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
                doc.put(
                    "students",
                    sid,
                    &serde_json::to_string(s).unwrap_or_default(),
                )?;
            }
            Ok(())
        })?;
        summary.groups += 1;
        summary.students += roster.len();
    }
    for (doc_id, m) in &plan.modules {
        upsert(r, doc_id, "import HEMIS module", |doc| {
            doc.put("meta", "subject", &m.subject)?;
            doc.put("meta", "subject_id", &m.subject_id)?;
            doc.put("meta", "semester", &m.semester)?;
            if let Some(d) = &m.department {
                doc.put("meta", "department", &format!("d{d}"))?;
            }
            if doc.get("meta", "marking").is_none() {
                doc.put("meta", "marking", "rating100")?;
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
                doc.put("topics", tid, &serde_json::to_string(t).unwrap_or_default())?;
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
        let teachers: Vec<&String> = j.teachers.iter().collect();
        let window = window.clone();
        upsert(r, doc_id, "import HEMIS journal", |doc| {
            doc.put("meta", "group", &j.group)?;
            if let Some(w) = &window {
                doc.put("meta", daftar_rules::window::WINDOW_KEY, w)?;
            }
            if let Some(m) = &j.module {
                doc.put("meta", "module", m)?;
            }
            doc.put("meta", "subject", &j.subject)?;
            doc.put("meta", "semester", &j.semester)?;
            if doc.get("meta", "marking").is_none() {
                doc.put("meta", "marking", "rating100")?;
            }
            doc.put(
                "meta",
                "teachers",
                &serde_json::to_string(&teachers).unwrap_or_default(),
            )?;
            for (lid, l) in &j.lessons {
                doc.put(
                    "lessons",
                    lid,
                    &serde_json::to_string(l).unwrap_or_default(),
                )?;
                if doc.get("status", lid).is_none() {
                    doc.put("status", lid, LessonStatus::Planned.as_str())?;
                }
            }
            for (key, m) in &j.marks {
                // HEMIS attendance never overwrites a mark made in Daftar.
                if doc.get("marks", key).is_none() {
                    doc.put("marks", key, &serde_json::to_string(m).unwrap_or_default())?;
                }
            }
            Ok(())
        })?;
        for t in &j.teachers {
            summary.assignments.push((t.clone(), doc_id.clone()));
        }
        summary.journals += 1;
        summary.lessons += j.lessons.len();
        summary.absences += j.marks.len();
    }
    changed += (r.info()?.unpushed - before).max(0) as usize;
    summary.changes_written = changed;
    Ok(summary)
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

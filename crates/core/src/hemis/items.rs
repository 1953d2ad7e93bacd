//! The shapes of HEMIS list responses, as far as Daftar reads them (no personal data: the
//! types have no such fields), and reading one endpoint's pages from a folder.

use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    pub(super) success: bool,
    pub(super) data: Option<Data>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Data {
    pub(super) items: Vec<Value>,
    #[serde(default)]
    pub(super) pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pagination {
    #[serde(default)]
    pub(super) page_count: Option<u32>,
    #[serde(default)]
    pub(super) total_count: Option<u64>,
}

/// An id that HEMIS sends as a number (or sometimes a string).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Id {
    Num(i64),
    Str(String),
}

impl Id {
    pub(super) fn text(&self) -> String {
        match self {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => s.trim().to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Ref {
    #[serde(default)]
    pub(super) id: Option<Id>,
    #[serde(default)]
    pub(super) code: Option<Id>,
    #[serde(default)]
    pub(super) name: Option<String>,
}

impl Ref {
    pub(super) fn id(&self) -> Option<String> {
        self.id.as_ref().map(Id::text)
    }
    pub(super) fn code(&self) -> Option<String> {
        self.code.as_ref().map(Id::text)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupItem {
    pub(super) id: Id,
    pub(super) name: String,
    #[serde(default)]
    pub(super) department: Option<Ref>,
    #[serde(default)]
    pub(super) education_lang: Option<Ref>,
    #[serde(default)]
    pub(super) curriculum: Option<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StudentItem {
    pub(super) id: Id,
    #[serde(default, rename = "student_id_number")]
    pub(super) student_id_number: Option<Id>,
    #[serde(default, rename = "full_name")]
    pub(super) full_name: Option<String>,
    #[serde(default, rename = "first_name")]
    pub(super) first_name: Option<String>,
    #[serde(default, rename = "second_name")]
    pub(super) second_name: Option<String>,
    #[serde(default, rename = "third_name")]
    pub(super) third_name: Option<String>,
    #[serde(default)]
    pub(super) student_status: Option<Ref>,
    pub(super) group: Ref,
    /// When the item last changed: the day a status other than studying began.
    #[serde(default, rename = "updated_at")]
    pub(super) updated_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EmployeeItem {
    pub(super) id: Id,
    #[serde(default)]
    pub(super) full_name: Option<String>,
    #[serde(default)]
    pub(super) first_name: Option<String>,
    #[serde(default)]
    pub(super) second_name: Option<String>,
    #[serde(default)]
    pub(super) department: Option<Ref>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubjectDetail {
    pub(super) training_type: Ref,
    #[serde(default, rename = "academic_load")]
    pub(super) academic_load: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExamType {
    pub(super) exam_type: Ref,
    #[serde(default, rename = "max_ball")]
    pub(super) max_ball: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CurriculumSubjectItem {
    pub(super) id: Id,
    pub(super) subject: Ref,
    pub(super) semester: Ref,
    #[serde(default)]
    pub(super) department: Option<Ref>,
    #[serde(default, alias = "_curriculum")]
    pub(super) curriculum: Option<Id>,
    #[serde(default)]
    pub(super) subject_details: Vec<SubjectDetail>,
    #[serde(default)]
    pub(super) subject_exam_types: Vec<ExamType>,
    #[serde(default)]
    pub(super) exam_finish: Option<Ref>,
}

#[derive(Debug, Deserialize)]
pub(super) struct MarkingRef {
    #[serde(default)]
    pub(super) code: Option<Id>,
    #[serde(default)]
    pub(super) minimum_limit: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CurriculumItem {
    pub(super) id: Id,
    #[serde(default)]
    pub(super) marking_system: Option<MarkingRef>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SemesterItem {
    #[serde(default)]
    pub(super) code: Option<Id>,
    #[serde(default)]
    pub(super) start_date: Option<i64>,
    #[serde(default)]
    pub(super) end_date: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct LessonPairItem {
    pub(super) code: Id,
    #[serde(default)]
    pub(super) start_time: Option<String>,
    #[serde(default)]
    pub(super) end_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubjectTeacherItem {
    #[serde(default, alias = "_curriculum_subject")]
    pub(super) curriculum_subject: Option<Id>,
    #[serde(default)]
    pub(super) subject: Option<Ref>,
    #[serde(default)]
    pub(super) semester: Option<Ref>,
    pub(super) group: Ref,
    pub(super) employee: Ref,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AttendanceControlItem {
    #[serde(default, rename = "_subject_schedule")]
    pub(super) subject_schedule: Option<Id>,
}

#[derive(Debug, Deserialize)]
pub(super) struct GradeItem {
    #[serde(rename = "_subject_schedule")]
    pub(super) subject_schedule: Id,
    pub(super) student: Ref,
    #[serde(default)]
    pub(super) grade: Option<f64>,
}

/// A control result (`student-performance-list`, HEMIS's `e_performance`): one score of one
/// student in one control (`_exam_type` 11–18) at one sitting (`_final_exam_type` 11–13).
/// HEMIS names its references either as objects (`student{id}`, `examType{code}`) or as
/// the table's own columns (`_student`, `_exam_type`); both are read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PerformanceItem {
    #[serde(default)]
    pub(super) student: Option<Ref>,
    #[serde(default, rename = "_student")]
    pub(super) student_id: Option<Id>,
    #[serde(default)]
    pub(super) subject: Option<Ref>,
    #[serde(default, rename = "_subject")]
    pub(super) subject_id: Option<Id>,
    #[serde(default)]
    pub(super) semester: Option<Ref>,
    #[serde(default, rename = "_semester")]
    pub(super) semester_code: Option<Id>,
    #[serde(default)]
    pub(super) group: Option<Ref>,
    #[serde(default)]
    pub(super) exam_type: Option<Ref>,
    #[serde(default, rename = "_exam_type")]
    pub(super) exam_type_code: Option<Id>,
    #[serde(default)]
    pub(super) final_exam_type: Option<Ref>,
    #[serde(default, rename = "_final_exam_type")]
    pub(super) final_exam_type_code: Option<Id>,
    /// A number, or a number written as text; `null` before the control is graded.
    #[serde(default)]
    pub(super) grade: Option<Value>,
    #[serde(default)]
    pub(super) active: Option<bool>,
}

impl PerformanceItem {
    pub(super) fn student(&self) -> Option<String> {
        self.student
            .as_ref()
            .and_then(Ref::id)
            .or_else(|| self.student_id.as_ref().map(Id::text))
    }
    pub(super) fn subject(&self) -> Option<String> {
        self.subject
            .as_ref()
            .and_then(Ref::id)
            .or_else(|| self.subject_id.as_ref().map(Id::text))
    }
    pub(super) fn semester(&self) -> Option<String> {
        self.semester
            .as_ref()
            .and_then(Ref::code)
            .or_else(|| self.semester_code.as_ref().map(Id::text))
    }
    /// The exam type (11–18) and the sitting (1–3). HEMIS also writes the two as one code
    /// (`132` is the final, 13, at its second sitting); such a code is split.
    pub(super) fn control(&self) -> Option<(String, u8)> {
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
    pub(super) fn grade(&self) -> std::result::Result<Option<f64>, String> {
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
pub(super) struct TopicItem {
    pub(super) id: Id,
    pub(super) name: String,
    #[serde(default)]
    pub(super) position: Option<f64>,
    #[serde(default)]
    pub(super) training_type: Option<Ref>,
    #[serde(default)]
    pub(super) subject: Option<Ref>,
    #[serde(default)]
    pub(super) semester: Option<Ref>,
    #[serde(default, alias = "_curriculum_subject")]
    pub(super) curriculum_subject: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScheduleItem {
    pub(super) id: Id,
    pub(super) subject: Ref,
    pub(super) group: Ref,
    pub(super) training_type: Ref,
    pub(super) lesson_pair: Ref,
    #[serde(default)]
    pub(super) employee: Option<Ref>,
    #[serde(rename = "lesson_date")]
    pub(super) lesson_date: i64,
    pub(super) semester: Ref,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AttendanceItem {
    #[serde(default, rename = "_subject_schedule")]
    pub(super) subject_schedule: Option<Id>,
    pub(super) student: Ref,
    pub(super) subject: Ref,
    #[serde(default)]
    pub(super) group: Option<Ref>,
    pub(super) lesson_pair: Ref,
    #[serde(rename = "lesson_date")]
    pub(super) lesson_date: i64,
    #[serde(default, rename = "absent_on")]
    pub(super) absent_on: Option<u32>,
    #[serde(default, rename = "absent_off")]
    pub(super) absent_off: Option<u32>,
}

/// Reads every page of one endpoint; `Ok(None)` when the export has no such file.
pub(super) fn read_endpoint<T: DeserializeOwned>(
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

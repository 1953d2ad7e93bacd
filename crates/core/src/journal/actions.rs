//! What a journal's users do: lessons, topics, marks, scores, adjustments, locks, openings and
//! retake permissions; each is one change to the journal document.

use daftar_protocol::ids::CellKey;

use super::*;

impl Replica {
    /// The dean's office lets a student sit the final (YN) again: sitting 2 or 3. JN and ON
    /// carry over (`daftar_rules::assessment::totals`).
    pub fn permit_retake(
        &mut self,
        journal: &str,
        student: &str,
        sitting: u8,
        reason: &str,
    ) -> Result<()> {
        if !(2..=3).contains(&sitting) {
            return Err(CoreError::invalid(
                "sitting",
                "a retake is sitting 2 or 3 of the final control",
            ));
        }
        let key = daftar_rules::assessment::retake_key(sitting, student);
        let raw = serde_json::json!({ "reason": reason.trim() }).to_string();
        self.edit(journal, "permit retake", move |doc| {
            doc.put("status", &key, &raw)?;
            Ok(Refresh::key("status", key.clone()))
        })?;
        Ok(())
    }

    /// A teacher asks the dean's office to open a lesson whose entry window has closed.
    pub fn request_opening(&mut self, journal: &str, lesson: &str, reason: &str) -> Result<()> {
        self.lesson_lock(journal, lesson)?;
        let value = window::OpeningRequest {
            reason: reason.trim().to_string(),
        };
        value.check()?;
        let raw = serde_json::to_string(&value).unwrap_or_default();
        let key = format!("{}{lesson}", window::REQUEST_PREFIX);
        self.edit(journal, "request opening", move |doc| {
            doc.put("status", &key, &raw)?;
            Ok(Refresh::key("status", key.clone()))
        })?;
        Ok(())
    }

    /// The dean's office opens a lesson for its teacher until the end of `until`.
    pub fn open_lesson(
        &mut self,
        journal: &str,
        lesson: &str,
        until: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        self.lesson_lock(journal, lesson)?;
        let value = window::Opening {
            until: parse_date(until)?.to_string(),
            reason: reason.map(str::to_string).filter(|r| !r.trim().is_empty()),
        };
        let raw = serde_json::to_string(&value).unwrap_or_default();
        let key = format!("{}{lesson}", window::OPENING_PREFIX);
        self.edit(journal, "open lesson", move |doc| {
            doc.put("locks", &key, &raw)?;
            Ok(Refresh::key("locks", key.clone()))
        })?;
        Ok(())
    }

    /// The university's entry window (`None`: none), written to the catalog and to every
    /// journal of this replica, one change each (an administrator's action).
    pub fn set_entry_window(&mut self, days: Option<u32>) -> Result<usize> {
        let catalog: Option<String> = self
            .conn()
            .query_row("SELECT id FROM catalog LIMIT 1", [], |r| r.get(0))
            .optional()?;
        let value = days.map(|d| d.to_string());
        if let Some(catalog) = catalog {
            let value = value.clone();
            self.edit(&catalog, "set entry window", move |doc| {
                match &value {
                    Some(v) => doc.put("settings", window::POLICY_KEY, v)?,
                    None => doc.delete("settings", window::POLICY_KEY)?,
                };
                Ok(Refresh::Whole)
            })?;
        }
        let journals: Vec<String> = {
            let mut stmt = self.conn().prepare("SELECT id FROM journals ORDER BY id")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut changed = 0;
        for j in journals {
            let value = value.clone();
            if self.edit(&j, "set entry window", move |doc| {
                match &value {
                    Some(v) => doc.put("meta", window::WINDOW_KEY, v)?,
                    None => doc.delete("meta", window::WINDOW_KEY)?,
                };
                Ok(Refresh::key("meta", window::WINDOW_KEY))
            })? {
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Adds a lesson (a pair on a date) to a journal; returns its id.
    pub fn add_lesson(&mut self, journal: &str, lesson: NewLesson) -> Result<String> {
        let header = LessonValue {
            date: lesson.date.clone(),
            pair: lesson.pair,
            lesson_type: lesson.lesson_type.code().to_string(),
            teacher: lesson.teacher.clone(),
            subgroup: lesson.subgroup.clone().filter(|s| !s.trim().is_empty()),
            taken: false,
        };
        self.add_lesson_header(journal, header, lesson.topic)
    }

    /// Sets a lesson's topic (normally one of the module's topics).
    pub fn set_topic(&mut self, journal: &str, lesson: &str, topic: &str) -> Result<()> {
        self.ensure_lesson_open(journal, lesson)?;
        let lesson = lesson.to_string();
        let topic = topic.to_string();
        self.edit(journal, "set topic", move |doc| {
            doc.put("topics", &lesson, &topic)?;
            Ok(Refresh::key("topics", lesson.clone()))
        })?;
        Ok(())
    }

    /// Marks one student at one lesson.
    pub fn mark(
        &mut self,
        journal: &str,
        lesson: &str,
        student: &str,
        input: MarkInput,
    ) -> Result<()> {
        let row = self.journal_row(journal)?;
        self.ensure_lesson_open(journal, lesson)?;
        self.ensure_within_window(journal, lesson)?;
        let expected = self.lesson_members(journal, lesson)?;
        if !expected.iter().any(|s| s == student) {
            return Err(CoreError::invalid(
                "student",
                format!(
                    "student {student} is not expected at this lesson (not in its subgroup, or not a member of the group on its day)"
                ),
            ));
        }
        if let Some(g) = input.grade {
            row.marking.check_grade(g)?;
        }
        let mut value = MarkValue::new(input.status);
        value.grade = input.grade;
        value.note = input.note.filter(|n| !n.trim().is_empty());
        if let Some(h) = input.hours {
            if h > 8 {
                return Err(CoreError::invalid(
                    "hours",
                    format!("{h} hours is more than a day holds"),
                ));
            }
            value.hours = h;
        }
        let raw = serde_json::to_string(&value).unwrap_or_default();
        let key = CellKey::of(lesson, student)?.to_string();
        let lesson = lesson.to_string();
        self.edit(journal, "mark", move |doc| {
            doc.put("marks", &key, &raw)?;
            doc.put("status", &lesson, LessonStatus::Held.as_str())?;
            Ok(Refresh::Keys(vec![
                ("marks".to_string(), key.clone()),
                ("status".to_string(), lesson.clone()),
            ]))
        })?;
        Ok(())
    }

    /// Marks a whole lesson present except the absentees, as one action and one change.
    /// Existing grades and notes are kept. Returns the number of students marked.
    pub fn mark_all(&mut self, journal: &str, lesson: &str, absent: &[String]) -> Result<usize> {
        self.journal_row(journal)?;
        self.ensure_lesson_open(journal, lesson)?;
        self.ensure_within_window(journal, lesson)?;
        // The students expected at the lesson: its subgroup, members of the group on its day.
        let active = self.lesson_members(journal, lesson)?;
        for a in absent {
            if !active.contains(a) {
                return Err(CoreError::invalid(
                    "student",
                    format!(
                        "student {a} is not expected at this lesson (not in its subgroup, or not a member of the group on its day)"
                    ),
                ));
            }
        }
        let lesson = lesson.to_string();
        let absent = absent.to_vec();
        let count = active.len();
        self.edit(journal, "mark lesson", move |doc| {
            let mut keys = Vec::with_capacity(active.len() + 1);
            // The lesson's marks read in one pass (a lookup per student costs more).
            let existing: HashMap<String, (String, bool)> = doc
                .prefix("marks", &format!("{lesson}/"))
                .into_iter()
                .map(|(k, v, conflict)| (k, (v, conflict)))
                .collect();
            for student in &active {
                let key = CellKey::of(&lesson, student)?.to_string();
                let status = if absent.contains(student) {
                    Attendance::Absent
                } else {
                    Attendance::Present
                };
                let current = existing.get(&key).map(|(v, conflict)| crate::doc::Current {
                    value: v,
                    conflict: *conflict,
                });
                let mut value = current
                    .and_then(|c| serde_json::from_str::<MarkValue>(c.value).ok())
                    .unwrap_or_else(|| MarkValue::new(status));
                if value.status != status {
                    let MarkValue { grade, note, .. } = value;
                    value = MarkValue {
                        grade,
                        note,
                        ..MarkValue::new(status)
                    };
                }
                let raw = serde_json::to_string(&value).unwrap_or_default();
                doc.put_over("marks", &key, &raw, current)?;
                keys.push(("marks".to_string(), key));
            }
            doc.put("status", &lesson, LessonStatus::Held.as_str())?;
            keys.push(("status".to_string(), lesson.clone()));
            Ok(Refresh::Keys(keys))
        })?;
        Ok(count)
    }

    /// Clears a mark (Delete in the grid).
    pub fn clear_mark(&mut self, journal: &str, lesson: &str, student: &str) -> Result<()> {
        self.ensure_lesson_open(journal, lesson)?;
        self.ensure_within_window(journal, lesson)?;
        let key = CellKey::of(lesson, student)?.to_string();
        self.edit(journal, "clear mark", move |doc| {
            doc.delete("marks", &key)?;
            Ok(Refresh::key("marks", key.clone()))
        })?;
        Ok(())
    }

    /// Enters a control score. `control` is a code from the module's plan (`JN`, `ON1`, `YN`),
    /// optionally with a sitting (`YN:2`).
    pub fn score(
        &mut self,
        journal: &str,
        control: &str,
        student: &str,
        points: f64,
    ) -> Result<()> {
        let row = self.journal_row(journal)?;
        if let Some(reason) = &row.lock {
            return Err(CoreError::Locked {
                what: "this journal".into(),
                reason: reason.clone(),
            });
        }
        let (code, sitting) = split_control(control)?;
        let controls = self.module_controls(row.module.as_deref())?;
        let Some(plan) = controls.iter().find(|c| c.code == code) else {
            let known = controls
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CoreError::invalid(
                "control",
                if known.is_empty() {
                    "this journal's course module has no control plan".to_string()
                } else {
                    format!("{code} is not in this module's control plan ({known})")
                },
            ));
        };
        // JN and ON have one sitting, but a student the dean's office lets retake may redo
        // them for that retake (sittings 2 and 3): the retake's JN and ON count when the
        // first sitting's did not admit (`daftar_rules::assessment::totals`).
        let sittings = i64::from(plan.sittings);
        let retake_of_current =
            plan.kind != "YN" && (2..=3).contains(&sitting) && sitting > sittings;
        if sitting < 1 || (sitting > sittings && !retake_of_current) {
            return Err(CoreError::invalid(
                "control",
                format!("{code} allows sittings 1 to {}", plan.sittings),
            ));
        }
        if retake_of_current && !self.retake_permitted(journal, student, sitting as u8)? {
            return Err(CoreError::NotAllowed {
                reason: format!(
                    "{code} at sitting {sitting} is a retake of the current control: it needs the dean's office's retake permission for this student; the score was not saved"
                ),
            });
        }
        if !points.is_finite() || points < 0.0 || points > plan.max {
            return Err(CoreError::invalid(
                "points",
                format!("{points} is outside 0–{} for {code}", plan.max),
            ));
        }
        if row.marking == MarkingSystem::FivePoint
            && let Some(problem) = daftar_rules::assessment::five_point_grade_problem(points)
        {
            return Err(CoreError::invalid("points", problem));
        }
        let active = self.active_students(&row.group)?;
        if !active.iter().any(|s| s == student) {
            return Err(CoreError::invalid(
                "student",
                format!("student {student} is not an active member of this journal's group"),
            ));
        }
        // A final (YN) score only for a student admitted to it (daftar_rules::assessment),
        // and a retake sitting only with the dean's office's permission.
        if plan.kind == "YN"
            && sitting >= 2
            && !self.retake_permitted(journal, student, sitting as u8)?
        {
            return Err(CoreError::NotAllowed {
                reason: format!(
                    "sitting {sitting} of the final control needs the dean's office's retake permission for this student; the YN score was not saved"
                ),
            });
        }
        if plan.kind == "YN" {
            let system = daftar_rules::assessment::System::parse(row.marking.as_str())
                .unwrap_or(daftar_rules::assessment::System::Rating100);
            let rules_plan = self.control_plan(row.module.as_deref())?;
            let mine: Vec<daftar_rules::assessment::Score> = self
                .assessment_scores(journal, student)?
                .into_iter()
                .filter(|s| s.control != code)
                .collect();
            let totals =
                daftar_rules::assessment::totals(system, &rules_plan, &mine, sitting as u8);
            if let Some(reason) = daftar_rules::assessment::admission(system, &totals).reason() {
                return Err(CoreError::NotAllowed {
                    reason: format!("{reason}; the YN score was not saved"),
                });
            }
        }
        let key = format!("{code}/{sitting}/{student}");
        let raw = points.to_string();
        self.edit(journal, "score", move |doc| {
            doc.put("scores", &key, &raw)?;
            Ok(Refresh::key("scores", key.clone()))
        })?;
        Ok(())
    }

    /// Enters what a person typed in a control's cell: points (`12`, `12.5`, `12,5`), or, for
    /// the final control, an absence (`kelmadi`, `nb`, `келмади`, `не явился`, `absent`),
    /// or nothing to take an absence back. The CLI and the app both come through here.
    pub fn enter_score(
        &mut self,
        journal: &str,
        control: &str,
        student: &str,
        typed: &str,
    ) -> Result<ScoreEntry> {
        let entry = ScoreEntry::parse(typed)?;
        let (code, sitting) = split_control(control)?;
        match entry {
            ScoreEntry::Points(points) => self.score(journal, control, student, points)?,
            ScoreEntry::Absent | ScoreEntry::Cleared => {
                let row = self.journal_row(journal)?;
                let is_final = self
                    .module_controls(row.module.as_deref())?
                    .iter()
                    .any(|c| c.code == code && c.kind == "YN");
                if !is_final {
                    return Err(CoreError::invalid(
                        "points",
                        format!(
                            "{code} takes points; only the final control (YN) records an absence"
                        ),
                    ));
                }
                let sitting = u8::try_from(sitting).unwrap_or(0);
                self.record_final_absence(journal, student, sitting, entry == ScoreEntry::Absent)?;
            }
        }
        Ok(entry)
    }

    /// A dean's office adjustment of a saved mark (never overwrites the teacher's mark).
    pub fn adjust(
        &mut self,
        journal: &str,
        lesson: &str,
        student: &str,
        to: Attendance,
        reason: &str,
        document: Option<&str>,
    ) -> Result<()> {
        let value = AdjustmentValue {
            to,
            reason: reason.trim().to_string(),
            document: document.map(str::to_string),
            status: "approved".into(),
            kind: Some(
                if to == Attendance::Excused {
                    "11"
                } else {
                    "12"
                }
                .into(),
            ),
            deadline: None,
        };
        self.record_adjustment(journal, lesson, student, value)
    }

    /// Records an adjustment of a saved mark (excused, correction, make-up done or not, with
    /// its reason, document and make-up deadline) as a new entry of the cell, never
    /// overwriting an earlier one; the latest approved entry is the effective one.
    pub fn record_adjustment(
        &mut self,
        journal: &str,
        lesson: &str,
        student: &str,
        value: AdjustmentValue,
    ) -> Result<()> {
        let has_mark: bool = self
            .conn()
            .query_row(
                "SELECT 1 FROM marks WHERE journal_id = ?1 AND lesson_id = ?2 AND student_id = ?3",
                params![journal, lesson, student],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !has_mark {
            return Err(CoreError::invalid(
                "lesson",
                format!("student {student} has no mark at lesson {lesson} to adjust"),
            ));
        }
        value.check()?;
        let raw = serde_json::to_string(&value).unwrap_or_default();
        // Time-ordered, so a cell's entries list in the order they were made.
        let id = uuid::Uuid::now_v7().simple().to_string();
        let key = format!("{lesson}/{student}/{id}");
        self.edit(journal, "adjust", move |doc| {
            doc.put("adjustments", &key, &raw)?;
            Ok(Refresh::key("adjustments", key.clone()))
        })?;
        Ok(())
    }

    /// Locks a journal (or one lesson of it).
    pub fn lock(&mut self, journal: &str, lesson: Option<&str>, reason: &str) -> Result<()> {
        if let Some(l) = lesson {
            self.lesson_lock(journal, l)?;
        }
        let key = lesson.unwrap_or("*").to_string();
        let raw = serde_json::to_string(&LockValue {
            reason: reason.to_string(),
        })
        .unwrap_or_default();
        self.edit(journal, "lock", move |doc| {
            doc.put("locks", &key, &raw)?;
            Ok(Refresh::key("locks", key.clone()))
        })?;
        Ok(())
    }

    /// Lifts a lock.
    pub fn unlock(&mut self, journal: &str, lesson: Option<&str>) -> Result<()> {
        let key = lesson.unwrap_or("*").to_string();
        let changed = self.edit(journal, "unlock", move |doc| {
            doc.delete("locks", &key)?;
            Ok(Refresh::key("locks", key.clone()))
        })?;
        if !changed {
            return Err(CoreError::invalid(
                "lesson",
                match lesson {
                    Some(_) => "this lesson is not locked",
                    None => "this journal is not locked",
                },
            ));
        }
        Ok(())
    }
}

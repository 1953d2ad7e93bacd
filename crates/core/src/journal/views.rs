//! What a journal shows: the list of journals, the whole journal (lessons, students, marks,
//! scores, totals), its openings and retake permissions, and a module's topics.

use super::*;

impl Replica {
    /// Whether the dean's office permitted this student's retake sitting.
    pub fn retake_permitted(&mut self, journal: &str, student: &str, sitting: u8) -> Result<bool> {
        let key = daftar_rules::assessment::retake_key(sitting, student);
        Ok(self.doc(journal)?.get("status", &key).is_some())
    }

    /// Every retake permission of a journal: (student, sitting).
    pub fn retake_permissions(&mut self, journal: &str) -> Result<Vec<(String, u8)>> {
        let prefix = daftar_rules::assessment::RETAKE_PREFIX;
        Ok(self
            .doc(journal)?
            .prefix("status", prefix)
            .into_iter()
            .filter_map(|(key, _, _)| {
                let (sitting, student) = key.strip_prefix(prefix)?.split_once('/')?;
                Some((student.to_string(), sitting.parse().ok()?))
            })
            .collect())
    }

    /// Requests to open lessons, with the journal's subject and group and the opening granted
    /// so far (if any).
    pub fn opening_requests(&mut self, journal: Option<&str>) -> Result<Vec<OpeningRequestView>> {
        let journals: Vec<String> = match journal {
            Some(j) => vec![j.to_string()],
            None => {
                // Not the journals hidden from the user signed in on a shared computer.
                let hidden = self.hidden_docs()?;
                let mut stmt = self.conn().prepare("SELECT id FROM journals ORDER BY id")?;
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                    .into_iter()
                    .filter(|j| !hidden.contains(j))
                    .collect()
            }
        };
        let names: HashMap<String, (String, String)> = {
            let mut stmt = self.conn().prepare_cached(
                "SELECT j.id, j.subject, coalesce(g.name, j.group_id)
                 FROM journals j LEFT JOIN groups g ON g.id = j.group_id",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for j in journals {
            let (subject, group) = names.get(&j).cloned().unzip();
            let doc = self.doc(&j)?;
            for (key, raw, _) in doc.prefix("status", window::REQUEST_PREFIX) {
                let Some(lesson) = key.strip_prefix(window::REQUEST_PREFIX) else {
                    continue;
                };
                let Ok(request) = serde_json::from_str::<window::OpeningRequest>(&raw) else {
                    continue;
                };
                let date = doc
                    .get("lessons", lesson)
                    .and_then(|v| serde_json::from_str::<LessonValue>(&v).ok())
                    .map(|l| l.date);
                let opened_until = doc
                    .get("locks", &format!("{}{lesson}", window::OPENING_PREFIX))
                    .and_then(|v| serde_json::from_str::<window::Opening>(&v).ok())
                    .map(|o| o.until);
                let by =
                    crate::conflicts::author_of_winner(doc, "status", &key).and_then(|a| a.user);
                out.push(OpeningRequestView {
                    journal: short_id(&j).to_string(),
                    subject: subject.clone(),
                    group: group.clone(),
                    lesson: lesson.to_string(),
                    date,
                    reason: request.reason,
                    by,
                    opened_until,
                });
            }
        }
        Ok(out)
    }

    /// "My journals".
    pub fn journals(&self) -> Result<Vec<JournalSummary>> {
        let mut stmt = self.conn().prepare(
            "WITH active AS (
                 SELECT group_id, count(*) AS n FROM students WHERE status = 'active' GROUP BY group_id
             ), unsynced AS (
                 -- One pass over the waiting changes: probing them per journal made the list
                 -- take 2 s at tier M (the planner scans every waiting change for each journal).
                 SELECT doc_id, count(*) AS n FROM changes WHERE local = 1 AND pushed = 0 GROUP BY doc_id
             )
             SELECT j.id, coalesce(g.name, j.group_id), j.subject, j.semester,
                    coalesce(a.n, 0),
                    (SELECT count(*) FROM lessons l WHERE l.journal_id = j.id AND l.status <> 'cancelled'),
                    j.lock_reason IS NOT NULL,
                    coalesce(u.n, 0),
                    (SELECT count(*) FROM conflicts c WHERE c.doc_id = j.id)
             FROM journals j
             LEFT JOIN groups g ON g.id = j.group_id
             LEFT JOIN active a ON a.group_id = j.group_id
             LEFT JOIN unsynced u ON u.doc_id = j.id
             ORDER BY coalesce(g.name, j.group_id), j.subject, j.id",
        )?;
        let mut complete: HashMap<String, u32> = HashMap::new();
        for ((journal, _), c) in self.completion(None)? {
            if c.complete() {
                *complete.entry(journal).or_default() += 1;
            }
        }
        let hidden = self.hidden_docs()?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                Ok(JournalSummary {
                    complete_lessons: complete.get(&id).copied().unwrap_or(0),
                    id: short_id(&id).to_string(),
                    group: r.get(1)?,
                    subject: r.get(2)?,
                    semester: r.get(3)?,
                    students: r.get(4)?,
                    lessons: r.get(5)?,
                    locked: r.get(6)?,
                    unsynced: r.get(7)?,
                    conflicts: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter(|j| !hidden.contains(&format!("journal/{}", j.id)))
            .collect())
    }

    /// The whole journal as the grid shows it.
    pub fn journal_view(&self, journal: &str) -> Result<JournalView> {
        let conn = self.conn();
        let head = conn
            .query_row(
                "SELECT j.group_id, g.name, j.module_id, j.subject, j.semester, j.marking_system,
                        j.teachers, j.lock_reason
                 FROM journals j LEFT JOIN groups g ON g.id = j.group_id WHERE j.id = ?1",
                [journal],
                |r| {
                    Ok(JournalHead {
                        group: r.get(0)?,
                        group_name: r.get(1)?,
                        module: r.get(2)?,
                        subject: r.get(3)?,
                        semester: r.get(4)?,
                        marking: r.get(5)?,
                        teachers: r.get(6)?,
                        lock: r.get(7)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| CoreError::not_found("journal", short_id(journal)))?;
        let JournalHead {
            group,
            group_name,
            module,
            subject,
            semester,
            marking,
            teachers,
            lock,
        } = head;

        let students: Vec<StudentView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, number, name, status, subgroup FROM students WHERE group_id = ?1 ORDER BY name, id",
            )?;
            stmt.query_map([&group], |r| {
                Ok(StudentView {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    name: r.get(2)?,
                    status: r.get(3)?,
                    subgroup: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };

        // Cells first: one range scan of the journal's marks. Adjustments and inbox entries
        // are few and read by range into maps, rather than probed once per cell by a join,
        // and each lesson's count of marks comes from the cells already read. (Bench B1: the
        // per-cell probes and per-lesson counts made the grid 1.6× a plain read of the rows.)
        let adjustments: HashMap<(String, String), (String, String, String)> = {
            let mut stmt = conn.prepare_cached(
                "SELECT lesson_id, student_id, to_status, reason, status FROM adjustments
                 WHERE journal_id = ?1",
            )?;
            stmt.query_map([journal], |r| {
                Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?, r.get(4)?)))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mark_conflicts: HashMap<String, String> = {
            let mut stmt = conn.prepare_cached(
                "SELECT key, id FROM conflicts WHERE doc_id = ?1 AND field = 'mark'",
            )?;
            stmt.query_map([journal], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let cells: Vec<CellView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT lesson_id, student_id, status, hours, grade, note FROM marks
                 WHERE journal_id = ?1 ORDER BY lesson_id, student_id",
            )?;
            stmt.query_map([journal], |r| {
                let lesson: String = r.get(0)?;
                let student: String = r.get(1)?;
                let status: String = r.get(2)?;
                // Most journals have neither: skip building the lookup keys then.
                let adjustment = if adjustments.is_empty() {
                    None
                } else {
                    adjustments.get(&(lesson.clone(), student.clone()))
                };
                let effective = match adjustment {
                    Some((to, _, decision)) if decision == "approved" => to.clone(),
                    _ => status.clone(),
                };
                let conflict = if mark_conflicts.is_empty() {
                    None
                } else {
                    mark_conflicts.get(&format!("{lesson}/{student}")).cloned()
                };
                Ok(CellView {
                    lesson,
                    student,
                    status,
                    hours: r.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
                    grade: r
                        .get::<_, Option<i64>>(4)?
                        .map(|g| g.clamp(0, i64::from(u32::MAX)) as u32),
                    note: r.get(5)?,
                    adjusted_to: adjustment.map(|a| a.0.clone()),
                    adjustment_reason: adjustment.map(|a| a.1.clone()),
                    effective,
                    conflict,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let completion = self.completion(Some(journal))?;

        let lessons: Vec<LessonView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, date, pair, lesson_type, topic, teacher_id, status, lock_reason, subgroup
                 FROM lessons WHERE journal_id = ?1 ORDER BY date, pair, id",
            )?;
            stmt.query_map([journal], |r| {
                let id: String = r.get(0)?;
                let c = completion
                    .get(&(journal.to_string(), id.clone()))
                    .copied()
                    .unwrap_or_default();
                Ok(LessonView {
                    id,
                    date: r.get(1)?,
                    pair: r.get(2)?,
                    lesson_type: r.get(3)?,
                    topic: r.get(4)?,
                    teacher: r.get(5)?,
                    status: r.get(6)?,
                    lock: r.get(7)?,
                    subgroup: r.get(8)?,
                    complete: c.complete(),
                    unmarked: (c.expected - c.marked).max(0),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };

        let scores: Vec<ScoreView> = {
            let mut stmt = conn.prepare_cached(
                "SELECT control, sitting, student_id, points FROM scores WHERE journal_id = ?1
                 ORDER BY control, sitting, student_id",
            )?;
            stmt.query_map([journal], |r| {
                Ok(ScoreView {
                    control: r.get(0)?,
                    sitting: r.get(1)?,
                    student: r.get(2)?,
                    points: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };

        let conflicts: Vec<String> = {
            let mut stmt =
                conn.prepare_cached("SELECT id FROM conflicts WHERE doc_id = ?1 ORDER BY id")?;
            stmt.query_map([journal], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };

        Ok(JournalView {
            id: short_id(journal).to_string(),
            subject,
            semester,
            group: short_id(&group).to_string(),
            group_name: group_name.unwrap_or_default(),
            module: module.as_deref().map(|m| short_id(m).to_string()),
            marking_system: marking,
            teachers: serde_json::from_str(&teachers).unwrap_or_default(),
            lock,
            controls: self.module_controls(module.as_deref())?,
            lessons,
            students,
            cells,
            scores,
            final_absences: self.final_absences(journal)?.into_iter().collect(),
            conflicts,
        })
    }

    /// Topics of a journal's course module, in order.
    pub fn module_topics(&self, module: &str) -> Result<Vec<(String, String, Option<String>)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, lesson_type FROM module_topics WHERE module_id = ?1 ORDER BY position, id",
        )?;
        let rows = stmt
            .query_map([module], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

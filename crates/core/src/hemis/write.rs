//! Writing a plan: the catalog, groups, modules and journals (lessons, marks, control
//! results), all in the one unit the caller opened.

use super::*;

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

pub(super) fn write_plan(r: &mut Replica, university: &str, plan: Plan) -> Result<ImportSummary> {
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

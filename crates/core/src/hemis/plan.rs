//! From the endpoints' items to a plan of documents: everything parsed and checked before
//! anything is written.

use super::*;

pub(super) fn plan(dir: &Path) -> Result<Plan> {
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

    let marking_of_curriculum = plan_curricula(&mut plan, &curricula);
    plan_semesters(&mut plan, semesters);
    plan_pairs(&mut plan, pairs);
    plan_groups(&mut plan, groups);
    plan_students(&mut plan, students)?;
    plan_employees(&mut plan, employees)?;
    plan_subjects(&mut plan, subjects, &marking_of_curriculum)?;
    plan_topics(&mut plan, topics)?;
    plan_schedule(&mut plan, schedule, &marking_of_curriculum)?;
    plan_subject_teachers(&mut plan, subject_teachers);
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
    plan_attendance(&mut plan, attendance, &student_group, &lesson_journal)?;
    plan_controlled(&mut plan, controlled, &lesson_journal)?;
    plan_grades(&mut plan, grades, &lesson_journal)?;
    control_results(&mut plan, results, &student_group)?;
    Ok(plan)
}

/// Each curriculum's marking system, and a note where its pass mark differs from the
/// regulation's (`curriculum-list`).
fn plan_curricula(
    plan: &mut Plan,
    curricula: &[(String, usize, CurriculumItem)],
) -> BTreeMap<String, MarkingSystem> {
    let marking_of_curriculum: BTreeMap<String, MarkingSystem> = curricula
        .iter()
        .filter_map(|(_, _, c)| {
            let code = c.marking_system.as_ref()?.code.as_ref()?.text();
            Some((c.id.text(), marking_of(&code)?))
        })
        .collect();
    for (_, _, c) in curricula {
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
    marking_of_curriculum
}

/// Semester dates (`semester-list`).
fn plan_semesters(plan: &mut Plan, semesters: Vec<(String, usize, SemesterItem)>) {
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
}

/// Pair times (`lesson-pair-list`).
fn plan_pairs(plan: &mut Plan, pairs: Vec<(String, usize, LessonPairItem)>) {
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
}

/// Groups and their faculties (`group-list`).
fn plan_groups(plan: &mut Plan, groups: Vec<(String, usize, GroupItem)>) {
    for (_, _, g) in groups {
        if let Some(dep) = &g.department
            && let Some(id) = dep.id()
        {
            plan.faculties
                .insert(id, dep.name.clone().unwrap_or_default());
        }
        plan.groups.insert(g.id.text(), (g, Vec::new()));
    }
}

/// Rosters (`student-list`): each student in a group `group-list` has.
fn plan_students(plan: &mut Plan, students: Vec<(String, usize, StudentItem)>) -> Result<()> {
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
    Ok(())
}

/// Teachers and their departments (`employee-list`).
fn plan_employees(plan: &mut Plan, employees: Vec<(String, usize, EmployeeItem)>) -> Result<()> {
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
    Ok(())
}

/// Course modules (`curriculum-subject-list`): hours per training type, the control plan.
fn plan_subjects(
    plan: &mut Plan,
    subjects: Vec<(String, usize, CurriculumSubjectItem)>,
    marking_of_curriculum: &BTreeMap<String, MarkingSystem>,
) -> Result<()> {
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
    Ok(())
}

/// Module topics (`curriculum-subject-topic-list`).
fn plan_topics(plan: &mut Plan, topics: Vec<(String, usize, TopicItem)>) -> Result<()> {
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
    Ok(())
}

/// Journals and their lessons (`schedule-list`).
fn plan_schedule(
    plan: &mut Plan,
    schedule: Vec<(String, usize, ScheduleItem)>,
    marking_of_curriculum: &BTreeMap<String, MarkingSystem>,
) -> Result<()> {
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
        let module = module_for(plan, &group, &subject, &semester);
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
    Ok(())
}

/// Who teaches which group and subject (`curriculum-subject-teacher-list`).
fn plan_subject_teachers(
    plan: &mut Plan,
    subject_teachers: Vec<(String, usize, SubjectTeacherItem)>,
) {
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
}

/// Absences (`attendance-list`).
fn plan_attendance(
    plan: &mut Plan,
    attendance: Vec<(String, usize, AttendanceItem)>,
    student_group: &BTreeMap<String, String>,
    lesson_journal: &BTreeMap<String, String>,
) -> Result<()> {
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
    Ok(())
}

/// Lessons whose attendance HEMIS took (`attendance-control-list`).
fn plan_controlled(
    plan: &mut Plan,
    controlled: Vec<(String, usize, AttendanceControlItem)>,
    lesson_journal: &BTreeMap<String, String>,
) -> Result<()> {
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
    Ok(())
}

/// Per-lesson grades (`student-grade-list`).
fn plan_grades(
    plan: &mut Plan,
    grades: Vec<(String, usize, GradeItem)>,
    lesson_journal: &BTreeMap<String, String>,
) -> Result<()> {
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
    Ok(())
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

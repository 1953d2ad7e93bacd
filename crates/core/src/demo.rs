//! Seeded demo data for the tiers of `domain.md` (S one department, M one faculty, L a
//! mid-size university): Uzbek names, 25 ± 10 students per group, about 7 subjects per group,
//! 36 lessons per subject, about 8 % absences, grades on non-lecture lessons, control scores.
//!
//! Every lesson is written as its own change (header, topic and the whole lesson's marks, the
//! way a teacher marks it), so documents carry a realistic history. Generation runs with
//! `synchronous=OFF` and checkpoints at the end: it is a generator, not user input.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::model::{
    Attendance, ControlKind, ControlPlan, LessonStatus, LessonType, LessonValue, MarkValue,
    MarkingSystem,
};
use crate::projection::{Refresh, StudentValue, TopicValue};
use crate::replica::Replica;

/// Size tiers (domain.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Tier {
    /// A tiny replica for tests: 2 groups.
    Xs,
    /// One department's teaching: 12 groups, 84 journals.
    S,
    /// One faculty (the dean's office replica): 60 groups, 420 journals.
    M,
    /// A mid-size university: 480 groups, 3,360 journals.
    L,
}

impl Tier {
    pub fn parse(s: &str) -> Result<Tier> {
        match s.to_uppercase().as_str() {
            "XS" => Ok(Tier::Xs),
            "S" => Ok(Tier::S),
            "M" => Ok(Tier::M),
            "L" => Ok(Tier::L),
            _ => Err(CoreError::invalid(
                "tier",
                format!("unknown tier {s:?}: use S, M or L"),
            )),
        }
    }

    pub fn groups(self) -> usize {
        match self {
            Tier::Xs => 2,
            Tier::S => 12,
            Tier::M => 60,
            Tier::L => 480,
        }
    }

    fn faculties(self) -> usize {
        match self {
            Tier::Xs | Tier::S | Tier::M => 1,
            Tier::L => 8,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub tier: Tier,
    pub seed: u64,
    /// Subjects (journals) per group.
    pub subjects_per_group: usize,
    /// Lessons per journal.
    pub lessons: usize,
    /// Share of lessons already held and marked (0.0–1.0).
    pub filled: f64,
    pub absence_rate: f64,
}

impl DemoSpec {
    pub fn new(tier: Tier, seed: u64) -> DemoSpec {
        DemoSpec {
            tier,
            seed,
            subjects_per_group: 7,
            lessons: 36,
            filled: 0.6,
            absence_rate: 0.08,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoSummary {
    pub university: String,
    pub faculties: usize,
    pub groups: usize,
    pub students: usize,
    pub modules: usize,
    pub journals: usize,
    pub lessons: usize,
    pub cells: usize,
    /// Teacher employee id → journals the schedule gives them.
    #[serde(skip)]
    pub assignments: Vec<(String, String)>,
}

const MALE: &[&str] = &[
    "Jasur", "Bekzod", "Sardor", "Aziz", "Javohir", "Otabek", "Sherzod", "Doniyor", "Jamshid",
    "Ulug'bek", "Akmal", "Bobur", "Farrux", "Islom", "Rustam", "Temur", "Nodir", "Shoxrux",
    "Abdulla", "Sanjar", "Kamol", "Ravshan", "Zafar", "Eldor",
];
const FEMALE: &[&str] = &[
    "Madina", "Dilnoza", "Gulnora", "Nilufar", "Shahnoza", "Zarina", "Malika", "Sevara", "Kamola",
    "Nodira", "Feruza", "Mohira", "Dilfuza", "Gulbahor", "Sitora", "Umida", "Zulfiya", "Lola",
    "Munisa", "Hilola", "Oygul", "Barno",
];
const SURNAMES: &[&str] = &[
    "Karimov",
    "Rahimov",
    "Tursunov",
    "Yusupov",
    "Aliyev",
    "Ergashev",
    "Xolmatov",
    "Qodirov",
    "Sobirov",
    "Nazarov",
    "Abdullayev",
    "Ismoilov",
    "Mirzayev",
    "Hasanov",
    "Saidov",
    "Umarov",
    "Rashidov",
    "Jo'rayev",
    "Normatov",
    "Toshpo'latov",
    "Fayziyev",
    "Olimov",
    "Zokirov",
    "Bakirov",
    "Salimov",
    "Qosimov",
];
const SUBJECTS: &[&str] = &[
    "Oliy matematika",
    "Fizika",
    "Dasturlash asoslari",
    "Ma'lumotlar bazasi",
    "O'zbekiston tarixi",
    "Chet tili (ingliz)",
    "Falsafa",
    "Iqtisodiyot nazariyasi",
    "Diskret matematika",
    "Kompyuter tarmoqlari",
    "Algoritmlar va ma'lumotlar tuzilmasi",
    "Operatsion tizimlar",
    "Elektrotexnika",
    "Chiziqli algebra",
    "Ehtimollar nazariyasi",
    "Axborot xavfsizligi",
    "Veb dasturlash",
    "Sun'iy intellekt asoslari",
    "Jismoniy tarbiya",
    "Huquqshunoslik asoslari",
    "Menejment",
    "Statistika",
    "Kimyo",
    "Muhandislik grafikasi",
    "Raqamli elektronika",
];
const TOPIC_STEMS: &[&str] = &[
    "Kirish va asosiy tushunchalar",
    "Nazariy asoslar",
    "Amaliy misollar",
    "Usullar va yondashuvlar",
    "Masalalar yechish",
    "Tahlil va baholash",
    "Zamonaviy yo'nalishlar",
    "Takrorlash va mustahkamlash",
];
const FACULTIES: &[&str] = &[
    "Kompyuter injiniringi",
    "Dasturiy injiniring",
    "Iqtisodiyot",
    "Telekommunikatsiya",
    "Energetika",
    "Pedagogika",
    "Filologiya",
    "Huquq",
];

fn person(rng: &mut ChaCha8Rng) -> String {
    let female = rng.random_bool(0.5);
    let surname = SURNAMES.choose(rng).copied().unwrap_or("Karimov");
    let first = if female {
        FEMALE.choose(rng).copied().unwrap_or("Madina")
    } else {
        MALE.choose(rng).copied().unwrap_or("Jasur")
    };
    let surname = if female {
        format!("{surname}a")
    } else {
        surname.to_string()
    };
    format!("{surname} {first}")
}

/// The calendar date `days` after 2026-09-07 (a Monday, the start of the autumn semester).
fn semester_day(days: i64) -> String {
    let start = time::macros::date!(2026 - 09 - 07);
    let d = start + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Years of study in the demo (groups `1xx-25` … `4xx-22`).
const COURSES: usize = 4;

/// The demo university's calendar: the 2026/27 autumn and spring semesters and Uzbekistan's
/// public holidays that fall in them.
fn demo_calendar() -> crate::lessons::Calendar {
    let term = |from: &str, to: &str| crate::lessons::Term {
        from: from.into(),
        to: to.into(),
    };
    crate::lessons::Calendar {
        autumn: Some(term("2026-09-07", "2027-01-16")),
        spring: Some(term("2027-02-01", "2027-06-12")),
        holidays: [
            "2026-10-01",
            "2026-12-08",
            "2026-12-31",
            "2027-01-01",
            "2027-03-08",
            "2027-03-21",
            "2027-05-09",
        ]
        .into_iter()
        .map(str::to_string)
        .collect(),
        ..crate::lessons::Calendar::default()
    }
}

/// Generates a whole demo university into `replica`. `progress(done, total)` is called after
/// each journal.
pub fn generate(
    replica: &mut Replica,
    spec: &DemoSpec,
    mut progress: impl FnMut(usize, usize),
) -> Result<DemoSummary> {
    replica.conn().pragma_update(None, "synchronous", "OFF")?;
    let result = generate_inner(replica, spec, &mut progress);
    replica.use_wall_clock();
    replica.conn().pragma_update(None, "synchronous", "FULL")?;
    replica
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    result
}

fn generate_inner(
    replica: &mut Replica,
    spec: &DemoSpec,
    progress: &mut impl FnMut(usize, usize),
) -> Result<DemoSummary> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let university = match replica.university()? {
        Some(u) => u,
        None => {
            replica.set_university("demo")?;
            "demo".to_string()
        }
    };
    let mut summary = DemoSummary {
        university: university.clone(),
        ..DemoSummary::default()
    };
    // Fixed edit times keep the demo reproducible.
    let base_time = 1_788_800_000_000i64;
    let tick = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(base_time));
    let clock = tick.clone();
    replica.set_clock(move || clock.fetch_add(1000, std::sync::atomic::Ordering::Relaxed));

    // Catalog: faculties, departments (one per ~4 subjects), teachers.
    let faculties = spec.tier.faculties();
    summary.faculties = faculties;
    let departments_per_faculty = 3;
    let subject_count = SUBJECTS.len();
    let mut teachers: Vec<(String, String, String)> = Vec::new(); // id, name, department
    for f in 0..faculties {
        for d in 0..departments_per_faculty {
            for t in 0..6 {
                teachers.push((
                    format!("{}", 5000 + f * 100 + d * 10 + t),
                    person(&mut rng),
                    format!("d{}", f * 10 + d + 1),
                ));
            }
        }
    }
    let catalog_id = format!("catalog/{university}");
    let teachers_for_catalog = teachers.clone();
    replica.create_doc(&catalog_id, "demo catalog", |doc| {
        doc.put("meta", "name", "Daftar demo universiteti")?;
        doc.put("settings", "thresholds", "[12,36,74]")?;
        doc.put(
            "settings",
            crate::lessons::CALENDAR_KEY,
            &serde_json::to_string(&demo_calendar()).unwrap_or_default(),
        )?;
        for f in 0..faculties {
            let name = FACULTIES[f % FACULTIES.len()];
            doc.put(
                "faculties",
                &format!("f{}", f + 1),
                &serde_json::json!({ "name": format!("{name} fakulteti") }).to_string(),
            )?;
            for d in 0..departments_per_faculty {
                doc.put(
                    "departments",
                    &format!("d{}", f * 10 + d + 1),
                    &serde_json::json!({
                        "name": format!("{} kafedrasi", SUBJECTS[(f * 3 + d) % subject_count]),
                        "faculty": format!("f{}", f + 1),
                    })
                    .to_string(),
                )?;
            }
        }
        for (id, name, dept) in &teachers_for_catalog {
            doc.put(
                "teachers",
                id,
                &serde_json::json!({ "name": name, "department": dept }).to_string(),
            )?;
        }
        Ok(())
    })?;

    // Modules: one per subject (per faculty), with hours, control plan and 18 topics.
    let marking_systems = [
        MarkingSystem::Rating100,
        MarkingSystem::Rating100,
        MarkingSystem::CreditModule,
        MarkingSystem::FivePoint,
    ];
    // The plan matches the schedule: half the lessons are lectures, half practicals, two
    // academic hours each.
    let lecture_hours =
        (spec.lessons.div_ceil(2) as u32 * crate::model::HOURS_PER_PAIR).to_string();
    let practical_hours = ((spec.lessons / 2) as u32 * crate::model::HOURS_PER_PAIR).to_string();
    let mut modules: Vec<(String, String, MarkingSystem, String)> = Vec::new(); // id, subject, marking, department
    for course in 1..=COURSES {
        let semester = (2 * course - 1).to_string();
        for f in 0..faculties {
            for (s, subject) in SUBJECTS.iter().enumerate().take(12) {
                let subject_index = (f * 5 + s) % subject_count;
                let subject = if f == 0 {
                    *subject
                } else {
                    SUBJECTS[subject_index]
                };
                let module_id = format!("module/m{}-{}-s{semester}", f + 1, s + 1);
                let marking = marking_systems[s % marking_systems.len()];
                let department = format!("d{}", f * 10 + (s % departments_per_faculty) + 1);
                let dept = department.clone();
                replica.create_doc(&module_id, "demo module", |doc| {
                    doc.put("meta", "subject", subject)?;
                    doc.put("meta", "subject_id", &format!("{}", 300 + subject_index))?;
                    doc.put("meta", "semester", &semester)?;
                    doc.put("meta", "department", &dept)?;
                    doc.put("meta", "marking", marking.as_str())?;
                    doc.put("hours", LessonType::Lecture.code(), &lecture_hours)?;
                    doc.put("hours", LessonType::Practical.code(), &practical_hours)?;
                    let controls = [
                        ("JN", ControlKind::Current, 40.0, 1u8),
                        ("ON1", ControlKind::Midterm, 15.0, 1),
                        ("ON2", ControlKind::Midterm, 15.0, 1),
                        ("YN", ControlKind::Final, 30.0, 3),
                    ];
                    for (code, kind, max, sittings) in controls {
                        let max = if marking == MarkingSystem::FivePoint {
                            5.0
                        } else {
                            max
                        };
                        let plan = ControlPlan {
                            code: code.to_string(),
                            kind,
                            max,
                            sittings,
                        };
                        doc.put(
                            "controls",
                            code,
                            &serde_json::to_string(&plan).unwrap_or_default(),
                        )?;
                    }
                    for t in 0..18 {
                        let topic = TopicValue {
                            name: format!(
                                "{}-mavzu. {}: {}",
                                t + 1,
                                subject,
                                TOPIC_STEMS[t % TOPIC_STEMS.len()]
                            ),
                            lesson_type: Some(if t % 2 == 0 { "11" } else { "13" }.to_string()),
                            pos: t as f64,
                        };
                        doc.put(
                            "topics",
                            &format!("t{}", t + 1),
                            &serde_json::to_string(&topic).unwrap_or_default(),
                        )?;
                    }
                    Ok(())
                })?;
                modules.push((module_id, subject.to_string(), marking, department));
            }
        }
    }
    summary.modules = modules.len();

    // Groups and their journals.
    let groups = spec.tier.groups();
    let groups_per_faculty = groups.div_ceil(faculties);
    let total_journals = groups * spec.subjects_per_group;
    let mut next_student = 100_000u64;
    for g in 0..groups {
        let f = (g / groups_per_faculty).min(faculties - 1);
        let course = 1 + (g % COURSES);
        let group_name = format!("{}{:02}-{}", course, g % 100 + 1, 26 - course);
        let group_id = format!("group/g{}", g + 1);
        let size = rng.random_range(15..=35usize);
        let mut roster: Vec<(String, StudentValue)> = Vec::new();
        for _ in 0..size {
            next_student += 1;
            roster.push((
                format!("{next_student}"),
                StudentValue {
                    name: person(&mut rng),
                    number: Some(format!("3{}{:07}", 26 - course, next_student)),
                    status: "active".into(),
                    subgroup: Some(if rng.random_bool(0.5) { "1" } else { "2" }.into()),
                    since: None,
                    until: None,
                },
            ));
        }
        roster.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        summary.students += roster.len();
        let faculty_id = format!("f{}", f + 1);
        let gn = group_name.clone();
        let roster_for_doc = roster.clone();
        replica.create_doc(&group_id, "demo group", |doc| {
            doc.put("meta", "name", &gn)?;
            doc.put("meta", "faculty", &faculty_id)?;
            doc.put("meta", "year", "2026")?;
            doc.put("meta", "language", "uz")?;
            for (id, s) in &roster_for_doc {
                doc.put(
                    "students",
                    id,
                    &serde_json::to_string(s).unwrap_or_default(),
                )?;
            }
            Ok(())
        })?;
        summary.groups += 1;

        // A first-year group is in semester 1, a second-year group in 3, …
        let semester = (2 * course - 1).to_string();
        let faculty_modules: Vec<&(String, String, MarkingSystem, String)> = modules
            .iter()
            .filter(|m| {
                m.0.starts_with(&format!("module/m{}-", f + 1))
                    && m.0.ends_with(&format!("-s{semester}"))
            })
            .collect();
        for j in 0..spec.subjects_per_group {
            let (module_id, subject, marking, department) =
                faculty_modules[(g + j) % faculty_modules.len()];
            let dept_teachers: Vec<&(String, String, String)> =
                teachers.iter().filter(|t| &t.2 == department).collect();
            let teacher = dept_teachers
                .choose(&mut rng)
                .map(|t| t.0.clone())
                .unwrap_or_default();
            let journal_id = format!(
                "journal/g{}-{}",
                g + 1,
                daftar_protocol::ids::short_id(module_id)
            );
            write_journal(
                replica,
                spec,
                &mut rng,
                JournalSeed {
                    id: &journal_id,
                    group: &group_id,
                    module: module_id,
                    subject,
                    marking: *marking,
                    teacher: &teacher,
                    roster: &roster,
                    semester: &semester,
                },
                &mut summary,
            )?;
            summary.assignments.push((teacher, journal_id));
            summary.journals += 1;
            progress(summary.journals, total_journals);
        }
    }
    Ok(summary)
}

struct JournalSeed<'a> {
    id: &'a str,
    group: &'a str,
    module: &'a str,
    subject: &'a str,
    marking: MarkingSystem,
    teacher: &'a str,
    roster: &'a [(String, StudentValue)],
    semester: &'a str,
}

fn write_journal(
    replica: &mut Replica,
    spec: &DemoSpec,
    rng: &mut ChaCha8Rng,
    seed: JournalSeed<'_>,
    summary: &mut DemoSummary,
) -> Result<()> {
    let teachers_json = serde_json::json!([seed.teacher]).to_string();
    replica.create_doc(seed.id, "demo journal", |doc| {
        doc.put("meta", "group", seed.group)?;
        doc.put("meta", "module", seed.module)?;
        doc.put("meta", "subject", seed.subject)?;
        doc.put("meta", "semester", seed.semester)?;
        doc.put("meta", "marking", seed.marking.as_str())?;
        doc.put("meta", "teachers", &teachers_json)?;
        Ok(())
    })?;
    let filled = ((spec.lessons as f64) * spec.filled).round() as usize;
    let calendar = demo_calendar();
    let weekday = rng.random_range(0..5i64);
    let pair = rng.random_range(1..=4u8);
    let (lo, hi) = seed.marking.grade_range();
    for i in 0..spec.lessons {
        let lesson_type = if i % 2 == 0 {
            LessonType::Lecture
        } else {
            LessonType::Practical
        };
        // Two lessons a week: the chosen weekday and two days later; a lesson that would fall
        // on a holiday moves to the next teaching day.
        let mut day = (i as i64 / 2) * 7 + weekday + if i % 2 == 1 { 2 } else { 0 };
        while calendar
            .problem(seed.semester, &semester_day(day))
            .is_some()
        {
            day += 1;
        }
        let lesson_id = format!("L{:02}", i + 1);
        let header = LessonValue {
            date: semester_day(day),
            pair,
            lesson_type: lesson_type.code().to_string(),
            teacher: Some(seed.teacher.to_string()),
            subgroup: None,
            taken: false,
        };
        let header = serde_json::to_string(&header).unwrap_or_default();
        let topic = format!(
            "{}-mavzu. {}",
            i / 2 + 1,
            TOPIC_STEMS[(i / 2) % TOPIC_STEMS.len()]
        );
        let held = i < filled;
        let mut marks: Vec<(String, String)> = Vec::new();
        if held {
            for (student, _) in seed.roster {
                let roll: f64 = rng.random();
                let status = if roll < spec.absence_rate * 0.75 {
                    Attendance::Absent
                } else if roll < spec.absence_rate {
                    Attendance::Excused
                } else if roll < spec.absence_rate + 0.02 {
                    Attendance::Late
                } else {
                    Attendance::Present
                };
                let mut mark = MarkValue::new(status);
                if lesson_type.is_graded()
                    && matches!(status, Attendance::Present | Attendance::Late)
                    && rng.random_bool(0.7)
                {
                    let g = if hi <= 5 {
                        rng.random_range(3..=5)
                    } else {
                        rng.random_range(lo.max(50)..=hi)
                    };
                    mark.grade = Some(g);
                }
                marks.push((
                    format!("{lesson_id}/{student}"),
                    serde_json::to_string(&mark).unwrap_or_default(),
                ));
            }
        }
        summary.lessons += 1;
        summary.cells += marks.len();
        replica.edit(seed.id, "mark lesson", |doc| {
            let mut keys = vec![
                ("lessons".to_string(), lesson_id.clone()),
                ("status".to_string(), lesson_id.clone()),
            ];
            doc.put("lessons", &lesson_id, &header)?;
            let status = if held {
                LessonStatus::Held
            } else {
                LessonStatus::Planned
            };
            doc.put("status", &lesson_id, status.as_str())?;
            if held {
                doc.put("topics", &lesson_id, &topic)?;
                keys.push(("topics".to_string(), lesson_id.clone()));
            }
            for (key, value) in &marks {
                doc.put("marks", key, value)?;
                keys.push(("marks".to_string(), key.clone()));
            }
            Ok(Refresh::Keys(keys))
        })?;
    }
    // Current-control scores once half the semester is marked.
    if filled * 2 >= spec.lessons {
        let max = if seed.marking == MarkingSystem::FivePoint {
            5.0
        } else {
            15.0
        };
        let scores: Vec<(String, String)> = seed
            .roster
            .iter()
            .map(|(s, _)| {
                let p: f64 = (rng.random_range(0.4..1.0f64) * max).round();
                (format!("ON1/1/{s}"), p.to_string())
            })
            .collect();
        replica.edit(seed.id, "scores", |doc| {
            let mut keys = Vec::new();
            for (k, v) in &scores {
                doc.put("scores", k, v)?;
                keys.push(("scores".to_string(), k.clone()));
            }
            Ok(Refresh::Keys(keys))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo follows the rules it teaches: a group's year and its journals' semester agree
    /// (`101-25` is in semester 1, `201-24` in 3, …), every module's planned hours are what its
    /// journals schedule, and no lesson falls on a holiday, a Sunday or outside the semester.
    #[test]
    fn demo_data_follows_the_calendar_and_the_plans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Replica::open(&dir.path().join("r.db")).expect("open");
        generate(&mut r, &DemoSpec::new(Tier::Xs, 2), |_, _| {}).expect("demo");
        let calendar = r.calendar().expect("calendar");
        assert!(calendar.autumn.is_some());
        let journals = r.journals().expect("journals");
        assert!(!journals.is_empty());
        let mut courses = std::collections::BTreeSet::new();
        for j in &journals {
            let course: u32 = j.group[..1].parse().expect("the group's year of study");
            courses.insert(course);
            assert_eq!(j.semester, (2 * course - 1).to_string(), "{}", j.group);
            let id = r.resolve_journal(&j.id).expect("resolve");
            for line in r.delivered_hours(&id).expect("hours") {
                assert_eq!(line.shortfall, 0, "{}: {line:?}", j.id);
                assert_eq!(
                    line.planned,
                    line.delivered + line.scheduled,
                    "{}: {line:?}",
                    j.id
                );
            }
            for l in r.journal_view(&id).expect("view").lessons {
                assert_eq!(
                    calendar.problem(&j.semester, &l.date),
                    None,
                    "{} {}",
                    j.id,
                    l.date
                );
            }
        }
        assert!(
            courses.len() > 1,
            "more than one year of study: {courses:?}"
        );
    }
}

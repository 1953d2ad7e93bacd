//! Seeded data the scenarios build on, written through the replica's public write doors (the
//! same way `daftar_core::demo` writes, one change per lesson), and the floor-sql database:
//! plain rusqlite with the replica's own schema (`daftar_core::schema`) and PRAGMAs, no CRDT.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use daftar_core::Replica;
use daftar_core::model::{
    Attendance, ControlKind, ControlPlan, LessonStatus, LessonType, LessonValue, MarkValue,
};
use daftar_core::projection::{Refresh, StudentValue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{Connection, params};

use crate::measure::CommitCounter;

pub const FACULTY: &str = "f1";
pub const DEPARTMENT: &str = "d1";

/// A seeded random generator, printed in reports by its seed.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// What one journal looks like.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Short id: documents are `group/<tag>`, `module/<tag>`, `journal/<tag>`.
    pub tag: String,
    pub students: usize,
    pub lessons: usize,
    /// Lessons already held and marked (the first ones).
    pub marked: usize,
    /// Employee ids the journal's metadata names.
    pub teachers: Vec<String>,
}

/// Ids of a built journal and the marks it holds.
#[derive(Debug, Clone)]
pub struct JournalFixture {
    pub journal: String,
    pub group: String,
    pub module: String,
    pub lessons: Vec<String>,
    pub students: Vec<String>,
    /// (lesson, student) → the mark written.
    pub marks: BTreeMap<(String, String), MarkValue>,
}

/// A random mark as a teacher gives it: ~8 % absences, grades on practicals.
pub fn random_mark(rng: &mut ChaCha8Rng, graded: bool) -> MarkValue {
    let roll: f64 = rng.random();
    let status = if roll < 0.06 {
        Attendance::Absent
    } else if roll < 0.08 {
        Attendance::Excused
    } else if roll < 0.10 {
        Attendance::Late
    } else {
        Attendance::Present
    };
    let mut m = MarkValue::new(status);
    if graded && matches!(status, Attendance::Present) && rng.random_bool(0.7) {
        m.grade = Some(rng.random_range(55..=100));
    }
    m
}

/// The catalog every fixture shares (one faculty, one department).
pub fn ensure_catalog(r: &mut Replica) -> Result<String> {
    if r.university()?.is_none() {
        r.set_university("bench")?;
    }
    let id = "catalog/bench".to_string();
    if !r.has_doc(&id)? {
        r.create_doc(&id, "bench catalog", |doc| {
            doc.put("meta", "name", "Daftar benchmark universiteti")?;
            doc.put("settings", "thresholds", "[12,36,74]")?;
            doc.put(
                "faculties",
                FACULTY,
                &serde_json::json!({ "name": "Kompyuter injiniringi fakulteti" }).to_string(),
            )?;
            doc.put(
                "departments",
                DEPARTMENT,
                &serde_json::json!({ "name": "Dasturiy injiniring kafedrasi", "faculty": FACULTY })
                    .to_string(),
            )?;
            Ok(())
        })?;
    }
    Ok(id)
}

/// Builds a group, its module and one journal as `shape` says. Every lesson is its own change.
pub fn build_journal(
    r: &mut Replica,
    shape: &Shape,
    rng: &mut ChaCha8Rng,
) -> Result<JournalFixture> {
    ensure_catalog(r)?;
    let group = format!("group/{}", shape.tag);
    let module = format!("module/{}", shape.tag);
    let journal = format!("journal/{}", shape.tag);
    let students: Vec<String> = (0..shape.students)
        .map(|i| format!("{}-{i:03}", shape.tag))
        .collect();
    let tag = shape.tag.clone();
    let roster: Vec<(String, String)> = students
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let v = StudentValue {
                name: format!("Talaba {i:03} {tag}"),
                number: Some(format!("3{i:07}")),
                status: "active".into(),
                subgroup: Some(if i % 2 == 0 { "1" } else { "2" }.into()),
                since: None,
                until: None,
            };
            Ok((s.clone(), serde_json::to_string(&v)?))
        })
        .collect::<Result<_>>()?;
    let controls: Vec<(&str, String)> = [
        ("JN", ControlKind::Current, 40.0, 1u8),
        ("ON1", ControlKind::Midterm, 15.0, 1),
        ("YN", ControlKind::Final, 30.0, 3),
    ]
    .into_iter()
    .map(|(code, kind, max, sittings)| {
        let plan = ControlPlan {
            code: code.into(),
            kind,
            max,
            sittings,
        };
        Ok((code, serde_json::to_string(&plan)?))
    })
    .collect::<Result<_>>()?;
    r.create_doc(&group, "bench group", |doc| {
        doc.put("meta", "name", &format!("{tag}-21"))?;
        doc.put("meta", "faculty", FACULTY)?;
        doc.put("meta", "year", "2026")?;
        doc.put("meta", "language", "uz")?;
        for (s, v) in &roster {
            doc.put("students", s, v)?;
        }
        Ok(())
    })?;
    r.create_doc(&module, "bench module", |doc| {
        doc.put("meta", "subject", "Dasturlash asoslari")?;
        doc.put("meta", "subject_id", "302")?;
        doc.put("meta", "semester", "3")?;
        doc.put("meta", "department", DEPARTMENT)?;
        doc.put("meta", "marking", "rating100")?;
        doc.put("hours", LessonType::Lecture.code(), "30")?;
        doc.put("hours", LessonType::Practical.code(), "42")?;
        for (code, plan) in &controls {
            doc.put("controls", code, plan)?;
        }
        Ok(())
    })?;
    let teachers = serde_json::to_string(&shape.teachers)?;
    let (g, m) = (group.clone(), module.clone());
    r.create_doc(&journal, "bench journal", |doc| {
        doc.put("meta", "group", &g)?;
        doc.put("meta", "module", &m)?;
        doc.put("meta", "subject", "Dasturlash asoslari")?;
        doc.put("meta", "semester", "3")?;
        doc.put("meta", "marking", "rating100")?;
        doc.put("meta", "teachers", &teachers)?;
        Ok(())
    })?;
    let mut fixture = JournalFixture {
        journal: journal.clone(),
        group,
        module,
        lessons: Vec::new(),
        students,
        marks: BTreeMap::new(),
    };
    for i in 0..shape.lessons {
        let lesson = format!("L{:03}", i + 1);
        let lesson_type = if i % 2 == 0 {
            LessonType::Lecture
        } else {
            LessonType::Practical
        };
        let header = serde_json::to_string(&LessonValue {
            date: semester_day(i),
            pair: 2,
            lesson_type: lesson_type.code().into(),
            teacher: shape.teachers.first().cloned(),
            subgroup: None,
            taken: false,
        })?;
        let held = i < shape.marked;
        let mut marks = Vec::new();
        if held {
            for s in &fixture.students {
                let m = random_mark(rng, lesson_type.is_graded());
                marks.push((format!("{lesson}/{s}"), serde_json::to_string(&m)?));
                fixture.marks.insert((lesson.clone(), s.clone()), m);
            }
        }
        r.edit(&journal, "mark lesson", |doc| {
            let mut keys = vec![
                ("lessons".to_string(), lesson.clone()),
                ("status".to_string(), lesson.clone()),
            ];
            doc.put("lessons", &lesson, &header)?;
            let status = if held {
                LessonStatus::Held
            } else {
                LessonStatus::Planned
            };
            doc.put("status", &lesson, status.as_str())?;
            if held {
                doc.put("topics", &lesson, &format!("{}-mavzu", i / 2 + 1))?;
                keys.push(("topics".to_string(), lesson.clone()));
            }
            for (k, v) in &marks {
                doc.put("marks", k, v)?;
                keys.push(("marks".to_string(), k.clone()));
            }
            Ok(Refresh::Keys(keys))
        })?;
        fixture.lessons.push(lesson);
    }
    Ok(fixture)
}

/// The calendar date of the `i`-th lesson (two a week from 2026-09-07).
pub fn semester_day(i: usize) -> String {
    let start = time::macros::date!(2026 - 09 - 07);
    let d = start + time::Duration::days((i as i64 / 2) * 7 + if i % 2 == 1 { 2 } else { 0 });
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Runs `f` with `synchronous=OFF` on the replica (bulk setup, as the demo generator does),
/// then restores `FULL` and checkpoints.
pub fn bulk<T>(r: &mut Replica, f: impl FnOnce(&mut Replica) -> Result<T>) -> Result<T> {
    r.raw_sql().pragma_update(None, "synchronous", "OFF")?;
    let out = f(r);
    r.raw_sql().pragma_update(None, "synchronous", "FULL")?;
    r.raw_sql()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    out
}

/// Checks that `view` holds exactly `expected` (status, grade, hours per cell).
pub fn view_matches(
    view: &daftar_core::journal::JournalView,
    expected: &BTreeMap<(String, String), MarkValue>,
) -> std::result::Result<(), String> {
    if view.cells.len() != expected.len() {
        return Err(format!(
            "{}: {} cells in the view, {} expected",
            view.id,
            view.cells.len(),
            expected.len()
        ));
    }
    for c in &view.cells {
        let Some(m) = expected.get(&(c.lesson.clone(), c.student.clone())) else {
            return Err(format!(
                "{}: unexpected cell {}/{}",
                view.id, c.lesson, c.student
            ));
        };
        if c.status != m.status.code() || c.grade != m.grade || c.hours != m.hours {
            return Err(format!(
                "{}: cell {}/{} is {}/{:?}/{}, expected {}/{:?}/{}",
                view.id,
                c.lesson,
                c.student,
                c.status,
                c.grade,
                c.hours,
                m.status.code(),
                m.grade,
                m.hours
            ));
        }
    }
    Ok(())
}

/// The floor-sql database: the replica's schema and PRAGMAs, plain rows, no CRDT.
pub struct FloorDb {
    pub conn: Connection,
    pub path: PathBuf,
    pub commits: CommitCounter,
}

/// Projection tables (everything a screen reads), copied into the floor database.
pub const PROJECTION_TABLES: &[&str] = &[
    "catalog",
    "faculties",
    "departments",
    "teachers",
    "groups",
    "students",
    "modules",
    "module_topics",
    "module_controls",
    "journals",
    "lessons",
    "marks",
    "scores",
    "adjustments",
    "conflicts",
    "resolutions",
];

impl FloorDb {
    /// Creates it at `path` with the PRAGMAs `Replica::open` sets.
    pub fn create(path: &Path) -> Result<FloorDb> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        daftar_core::schema::migrate(&mut conn, daftar_core::schema::LATEST)?;
        let commits = CommitCounter::install(&conn);
        Ok(FloorDb {
            conn,
            path: path.to_path_buf(),
            commits,
        })
    }

    /// Copies the projection rows of the replica file at `replica` (what a plain-SQL app
    /// would hold for the same data).
    pub fn copy_projection(&self, replica: &Path) -> Result<()> {
        self.conn
            .execute("ATTACH DATABASE ?1 AS src", [replica.to_string_lossy()])
            .context("attach the replica")?;
        let tx = self.conn.unchecked_transaction()?;
        for t in PROJECTION_TABLES {
            tx.execute_batch(&format!(
                "DELETE FROM main.{t}; INSERT INTO main.{t} SELECT * FROM src.{t};"
            ))?;
        }
        tx.commit()?;
        self.conn.execute_batch("DETACH DATABASE src")?;
        Ok(())
    }

    /// What `Replica::mark` does, in plain SQL: validate against the rows, write the cell and
    /// the lesson's status, one transaction.
    pub fn mark(&self, journal: &str, lesson: &str, student: &str, m: &MarkValue) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        self.validate(&tx, journal, lesson, &[student])?;
        upsert_mark(&tx, journal, lesson, student, m)?;
        tx.prepare_cached("UPDATE lessons SET status = 'held' WHERE journal_id = ?1 AND id = ?2")?
            .execute(params![journal, lesson])?;
        tx.commit()?;
        Ok(())
    }

    /// What `Replica::mark_all` does, in plain SQL: one transaction for the whole lesson.
    pub fn mark_all(
        &self,
        journal: &str,
        lesson: &str,
        cells: &[(String, MarkValue)],
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        let ids: Vec<&str> = cells.iter().map(|(s, _)| s.as_str()).collect();
        self.validate(&tx, journal, lesson, &ids)?;
        for (s, m) in cells {
            upsert_mark(&tx, journal, lesson, s, m)?;
        }
        tx.prepare_cached("UPDATE lessons SET status = 'held' WHERE journal_id = ?1 AND id = ?2")?
            .execute(params![journal, lesson])?;
        tx.commit()?;
        Ok(())
    }

    /// The reads `Replica::mark` validates with: the journal row, the lesson's lock, the
    /// group's active students.
    fn validate(
        &self,
        tx: &Connection,
        journal: &str,
        lesson: &str,
        students: &[&str],
    ) -> Result<()> {
        let (group, lock): (String, Option<String>) = tx
            .prepare_cached("SELECT group_id, lock_reason FROM journals WHERE id = ?1")?
            .query_row([journal], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let lesson_lock: Option<String> = tx
            .prepare_cached("SELECT lock_reason FROM lessons WHERE journal_id = ?1 AND id = ?2")?
            .query_row(params![journal, lesson], |r| r.get(0))?;
        anyhow::ensure!(lock.is_none() && lesson_lock.is_none(), "locked");
        let active: Vec<String> = tx
            .prepare_cached("SELECT id FROM students WHERE group_id = ?1 AND status = 'active' ORDER BY name, id")?
            .query_map([&group], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for s in students {
            anyhow::ensure!(active.iter().any(|a| a == s), "student {s} not active");
        }
        Ok(())
    }

    /// The grid as a plain-SQL screen would read it: students, lessons, cells.
    pub fn grid(&self, journal: &str) -> Result<(usize, usize, usize)> {
        let group: String = self
            .conn
            .prepare_cached("SELECT group_id FROM journals WHERE id = ?1")?
            .query_row([journal], |r| r.get(0))?;
        let students: Vec<(String, Option<String>, String, String)> = self
            .conn
            .prepare_cached("SELECT id, number, name, status FROM students WHERE group_id = ?1 ORDER BY name, id")?
            .query_map([&group], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let lessons: Vec<(String, String, i64, String, Option<String>, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, date, pair, lesson_type, topic, status FROM lessons WHERE journal_id = ?1 ORDER BY date, pair, id",
            )?
            .query_map([journal], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let cells: Vec<CellRow> = self
            .conn
            .prepare_cached(
                "SELECT lesson_id, student_id, status, hours, grade, note FROM marks WHERE journal_id = ?1 ORDER BY lesson_id, student_id",
            )?
            .query_map([journal], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((students.len(), lessons.len(), cells.len()))
    }
}

/// A cell as floor-sql reads it: lesson, student, status, hours, grade, note.
type CellRow = (String, String, String, i64, Option<i64>, Option<String>);

pub fn upsert_mark(
    tx: &Connection,
    journal: &str,
    lesson: &str,
    student: &str,
    m: &MarkValue,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO marks (journal_id, lesson_id, student_id, status, hours, grade, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (journal_id, lesson_id, student_id) DO UPDATE SET
           status = excluded.status, hours = excluded.hours, grade = excluded.grade, note = excluded.note",
    )?
    .execute(params![journal, lesson, student, m.status.code(), m.hours, m.grade, m.note])?;
    Ok(())
}

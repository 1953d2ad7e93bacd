//! B10: bytes on disk. The dean's office replica B5 built, and a replica that lived through a
//! simulated semester of daily marking (synced every evening), each before and after
//! compaction, against floor-sql: the same projection rows in a plain database.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Result;
use daftar_core::Replica;
use daftar_core::journal::MarkInput;
use daftar_core::model::{Attendance, MarkValue};
use daftar_protocol::Role;
use rand::Rng;

use super::{checks, finish};
use crate::Ctx;
use crate::fixture::{self, FloorDb, Shape};
use crate::measure::db_size;
use crate::report::{Row, ScenarioReport, Unit};
use crate::server::{Cluster, lock};

/// Sizes of a replica before and after `compact_all`, of its floor-sql twin, and whether the
/// documents still project to the same journals after compaction.
fn measure(path: &Path, floor_path: &Path) -> Result<(u64, u64, u64, Result<(), String>)> {
    let mut r = Replica::open(path)?;
    r.raw_sql()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let before = db_size(r.raw_sql(), path)?.used_bytes;
    let journals: Vec<String> = r
        .journals()?
        .into_iter()
        .map(|j| format!("journal/{}", j.id))
        .collect();
    let views = journals
        .iter()
        .map(|j| r.journal_view(j))
        .collect::<daftar_core::Result<Vec<_>>>()?;
    r.compact_all()?;
    let after = db_size(r.raw_sql(), path)?.used_bytes;
    // Rebuild the projection from the compacted documents: nothing may be lost.
    drop(r);
    let mut r = Replica::open(path)?;
    r.rebuild_projection()?;
    let mut differ = 0;
    for (j, v) in journals.iter().zip(&views) {
        if &r.journal_view(j)? != v {
            differ += 1;
        }
    }
    let check = if differ == 0 {
        Ok(())
    } else {
        Err(format!("{differ} journals changed through compaction"))
    };
    drop(r);
    let floor = FloorDb::create(floor_path)?;
    floor.copy_projection(path)?;
    floor
        .conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let floor_bytes = db_size(&floor.conn, floor_path)?.used_bytes;
    Ok((before, after, floor_bytes, check))
}

pub fn b10(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b10")?;
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut notes = Vec::new();

    if let Some(b5) = ctx.b5_replica.clone() {
        let (before, after, floor, check) = measure(&b5.dean, &dir.join("floor-b5.db"))?;
        results.push(("B5 replica compaction".to_string(), check));
        rows.push(
            Row::new(
                "faculty replica after B5, before compaction",
                Unit::Bytes,
                before as f64,
            )
            .vs("floor-sql", floor as f64),
        );
        rows.push(
            Row::new(
                "faculty replica after B5, after compaction",
                Unit::Bytes,
                after as f64,
            )
            .vs("floor-sql", floor as f64)
            .ratio_at_most(3.0),
        );
    } else {
        notes.push("B5 did not run in this invocation, so its replica was not measured.".into());
    }

    // A semester of daily work, synced every evening (so compaction may fold the changes).
    let cluster = Cluster::start(&dir)?;
    cluster.add_user("admin", Role::Admin, None, None)?;
    let path = dir.join("semester.db");
    let mut r = Replica::open(&path)?;
    let mut rng = fixture::rng(ctx.opts.seed + 100);
    let lessons = 36;
    let mut fixtures = fixture::bulk(&mut r, |r| {
        (0..ctx.sizes.b10_journals)
            .map(|j| {
                fixture::build_journal(
                    r,
                    &Shape {
                        tag: format!("b10j{j:03}"),
                        students: 25,
                        lessons,
                        marked: 0,
                        teachers: vec!["5001".into()],
                    },
                    &mut rng,
                )
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let t = cluster.login("admin", &r)?;
    let r = Mutex::new(r);
    let mut edits = 0usize;
    for day in 0..lessons {
        fixture::bulk(&mut lock(&r), |r| {
            for fx in fixtures.iter_mut() {
                let lesson = fx.lessons[day].clone();
                let absent: Vec<String> = (0..2)
                    .map(|_| fx.students[rng.random_range(0..25)].clone())
                    .collect();
                r.mark_all(&fx.journal, &lesson, &absent)?;
                for s in &fx.students {
                    let st = if absent.contains(s) {
                        Attendance::Absent
                    } else {
                        Attendance::Present
                    };
                    fx.marks
                        .insert((lesson.clone(), s.clone()), MarkValue::new(st));
                }
                r.set_topic(&fx.journal, &lesson, &format!("{}-mavzu", day / 2 + 1))?;
                for k in 0..2 {
                    let s = fx.students[(day + k * 7) % 25].clone();
                    let g: u32 = rng.random_range(55..=100);
                    r.mark(
                        &fx.journal,
                        &lesson,
                        &s,
                        MarkInput {
                            status: Attendance::Present,
                            grade: Some(g),
                            note: None,
                            hours: None,
                        },
                    )?;
                    let mut m = MarkValue::new(Attendance::Present);
                    m.grade = Some(g);
                    fx.marks.insert((lesson.clone(), s), m);
                }
                edits += 4;
            }
            Ok(())
        })?;
        cluster.sync(&r, &t)?;
    }
    {
        let g = lock(&r);
        for fx in &fixtures {
            results.push((
                fx.journal.clone(),
                fixture::view_matches(&g.journal_view(&fx.journal)?, &fx.marks),
            ));
        }
    }
    drop(r);
    let (before, after, floor, check) = measure(&path, &dir.join("floor-semester.db"))?;
    results.push(("semester compaction".into(), check));
    let server_bytes = {
        let conn = rusqlite::Connection::open(dir.join("server.db"))?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        db_size(&conn, &dir.join("server.db"))?.used_bytes
    };
    let cells: usize = fixtures.iter().map(|f| f.marks.len()).sum();
    rows.push(
        Row::new(
            format!(
                "semester replica ({} journals, {cells} cells), before compaction",
                fixtures.len()
            ),
            Unit::Bytes,
            before as f64,
        )
        .vs("floor-sql", floor as f64),
    );
    rows.push(
        Row::new(
            "semester replica, after compaction",
            Unit::Bytes,
            after as f64,
        )
        .vs("floor-sql", floor as f64)
        .ratio_at_most(3.0),
    );
    rows.push(
        Row::new(
            "server database (append-only change log)",
            Unit::Bytes,
            server_bytes as f64,
        )
        .vs("floor-sql", floor as f64),
    );
    rows.push(
        Row::new(
            "replica bytes per cell after compaction",
            Unit::Bytes,
            after as f64 / cells.max(1) as f64,
        )
        .vs("floor-sql", floor as f64 / cells.max(1) as f64),
    );
    notes.push(format!(
        "Sizes are bytes in use: (page_count − freelist_count) × page_size after a WAL checkpoint, i.e. what VACUUM would leave. Compaction = `Replica::compact_all` (one automerge snapshot per document; pushed and remote change rows folded away). The semester: every lesson day, per journal, the whole lesson marked, its topic set and two grades given ({edits} actions), synced each evening. Checked: the projection rebuilt from the compacted documents equals the journals before compaction."
    ));
    Ok(finish(checks(results), rows, notes, Vec::new()))
}

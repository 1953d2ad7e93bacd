//! B4: a teacher's offline day. The teacher marks a lesson, regrades and sets topics in five
//! journals while offline; the dean's office meanwhile excuses absences and regrades some of
//! the same cells, and syncs first. Then the teacher syncs once: how many round trips and
//! bytes, against floor-wire, naive and stock-automerge.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use daftar_core::Replica;
use daftar_core::journal::MarkInput;
use daftar_core::model::{Attendance, MarkValue};
use daftar_protocol::Role;
use rand::Rng;

use super::{checks, finish, fork_docs, ms, stock_converged, stock_sync_all, stock_sync_each};
use crate::Ctx;
use crate::fixture::{self, Shape};
use crate::report::{Row, ScenarioReport, Unit};
use crate::server::{Cluster, lock};
use crate::wire::{self, Interner};

const TEACHER: &str = "ustoz";
const EMPLOYEE: &str = "7001";

pub fn b4(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b4")?;
    let cluster = Cluster::start(&dir)?;
    cluster.add_user("admin", Role::Admin, None, None)?;
    cluster.add_user(TEACHER, Role::Teacher, None, Some(EMPLOYEE))?;
    cluster.add_user("dekanat", Role::Dean, Some(fixture::FACULTY), None)?;

    // The admin imports the faculty's journals: the teacher's five and two of a colleague.
    let mut admin = Replica::open(&dir.join("admin.db"))?;
    let mut rng = fixture::rng(ctx.opts.seed + 40);
    let n = ctx.sizes.b4_journals;
    let mut fixtures = fixture::bulk(&mut admin, |r| {
        (0..n + 2)
            .map(|j| {
                let shape = Shape {
                    tag: format!("b4j{j}"),
                    students: 25,
                    lessons: 36,
                    marked: 20,
                    teachers: vec![if j < n { EMPLOYEE } else { "7002" }.into()],
                };
                fixture::build_journal(r, &shape, &mut rng)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    fixtures.truncate(n);
    let admin_t = cluster.login("admin", &admin)?;
    let admin = Mutex::new(admin);
    cluster.sync(&admin, &admin_t)?;

    let teacher = Replica::open(&dir.join("teacher.db"))?;
    let teacher_t = cluster.login(TEACHER, &teacher)?;
    let teacher = Mutex::new(teacher);
    cluster.sync(&teacher, &teacher_t)?;
    let dean = Replica::open(&dir.join("dean.db"))?;
    let dean_t = cluster.login("dekanat", &dean)?;
    let dean = Mutex::new(dean);
    cluster.sync(&dean, &dean_t)?;

    // stock-automerge: sessions for every document the teacher holds, established before the
    // day and persisted (a new session per sync, as after a restart).
    let doc_ids = lock(&teacher).doc_ids()?;
    let journal_ids: Vec<String> = fixtures.iter().map(|f| f.journal.clone()).collect();
    let mut peer = cluster.stock_peer("teacher")?;
    let mut pre_day = fork_docs(&mut lock(&teacher), &doc_ids)?;
    for (id, doc) in pre_day.iter_mut() {
        cluster.baseline.put_doc(id, doc.fork());
    }
    stock_sync_all(&cluster, &mut peer, &mut pre_day)?;
    peer.new_sessions();
    // Count only the day's sync.
    peer.reset_counters();
    cluster.baseline.new_sessions();

    // The offline day.
    let mut ids = Interner::default();
    let mut teacher_cells = Vec::new();
    let mut dean_cells = Vec::new();
    let mut contested: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut adjusted: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut teacher_edits = 0usize;
    let mut teacher_changes = 0usize;
    {
        let mut t = lock(&teacher);
        for fx in fixtures.iter_mut() {
            let lesson = fx.lessons[20].clone();
            let absent: Vec<String> = (0..2)
                .map(|_| fx.students[rng.random_range(0..25)].clone())
                .collect();
            t.mark_all(&fx.journal, &lesson, &absent)?;
            teacher_changes += 1;
            for s in fx.students.clone() {
                let st = if absent.contains(&s) {
                    Attendance::Absent
                } else {
                    Attendance::Present
                };
                let m = MarkValue::new(st);
                teacher_cells.push(wire::Cell::new(&mut ids, &fx.journal, &lesson, &s, &m));
                fx.marks.insert((lesson.clone(), s), m);
                teacher_edits += 1;
            }
            t.set_topic(&fx.journal, &lesson, "11-mavzu. Masalalar yechish")?;
            teacher_changes += 1;
            let graded = fx.lessons[19].clone();
            for k in 0..5 {
                let s = fx.students[k * 5].clone();
                let g: u32 = rng.random_range(60..=100);
                t.mark(
                    &fx.journal,
                    &graded,
                    &s,
                    MarkInput {
                        status: Attendance::Present,
                        grade: Some(g),
                        note: None,
                        hours: None,
                    },
                )?;
                teacher_changes += 1;
                let mut m = MarkValue::new(Attendance::Present);
                m.grade = Some(g);
                teacher_cells.push(wire::Cell::new(&mut ids, &fx.journal, &graded, &s, &m));
                fx.marks.insert((graded.clone(), s), m);
                teacher_edits += 1;
            }
        }
    }
    // Meanwhile the office regrades two of the cells the teacher regraded (concurrent: both
    // values kept). The dean's office writes no marks (only adjustments and resolutions,
    // `daftar-rules`), so the administrator does, and the dean's replica receives it.
    {
        let mut a = lock(&admin);
        for fx in &fixtures {
            let graded = fx.lessons[19].clone();
            for k in 0..2 {
                let s = fx.students[k * 5].clone();
                a.mark(
                    &fx.journal,
                    &graded,
                    &s,
                    MarkInput {
                        status: Attendance::Present,
                        grade: Some(99 - k as u32),
                        note: None,
                        hours: None,
                    },
                )?;
                let mut m = MarkValue::new(Attendance::Present);
                m.grade = Some(99 - k as u32);
                dean_cells.push(wire::Cell::new(&mut ids, &fx.journal, &graded, &s, &m));
                contested.insert((fx.journal.clone(), graded.clone(), s));
            }
        }
    }
    cluster.sync(&admin, &admin_t)?;
    {
        let mut d = lock(&dean);
        let per = ctx.sizes.b4_dean_edits.div_ceil(fixtures.len()).max(2);
        for fx in &fixtures {
            // Excuse earlier absences.
            let absences: Vec<(String, String)> = fx
                .marks
                .iter()
                .filter(|((l, _), m)| m.status == Attendance::Absent && l.as_str() < "L020")
                .map(|(k, _)| k.clone())
                .take(per - 2)
                .collect();
            for (l, s) in absences {
                d.adjust(
                    &fx.journal,
                    &l,
                    &s,
                    Attendance::Excused,
                    "tibbiy ma'lumotnoma",
                    Some("086/u"),
                )?;
                let m = MarkValue::new(Attendance::Excused);
                dean_cells.push(wire::Cell::new(&mut ids, &fx.journal, &l, &s, &m));
                adjusted.insert((fx.journal.clone(), l, s));
            }
        }
    }
    cluster.sync(&dean, &dean_t)?;

    // Baselines' inputs, as things stand before the teacher syncs: the stock client holds the
    // teacher's offline documents, the stock server the pre-day state plus the dean's edits.
    let mut stock_docs = fork_docs(&mut lock(&teacher), &doc_ids)?;
    let dean_docs = fork_docs(&mut lock(&dean), &journal_ids)?;
    let mut naive = 0usize;
    for (id, doc) in stock_docs.iter().filter(|(id, _)| journal_ids.contains(id)) {
        // Up: the teacher's touched documents whole.
        let _ = id;
        naive += doc.clone().save().len();
    }
    for (id, doc) in dean_docs {
        // Down: the dean's touched documents whole.
        naive += doc.clone().save().len();
        cluster.baseline.put_doc(&id, doc);
    }
    let floor_wire =
        (wire::compress(&teacher_cells)?.len() + wire::compress(&dean_cells)?.len()) as f64;

    // The teacher's sync, measured.
    cluster.wait_snapshots_idle();
    cluster.take_sync_times();
    cluster.take_wire_bytes();
    let before = cluster.metrics();
    let t0 = Instant::now();
    let summary = cluster.sync(&teacher, &teacher_t)?;
    let sync_time = t0.elapsed();
    let (raw_up, raw_down) = cluster.take_wire_bytes();
    let server = cluster.metrics() - before;
    let server_times = cluster.take_sync_times();
    cluster.sync(&dean, &dean_t)?;
    let daftar_bytes = (summary.bytes_up + summary.bytes_down) as f64;

    let (stock_each, stock_time) = stock_sync_each(&cluster, &mut peer, &mut stock_docs)?;
    let stock_trips: u64 = stock_each.iter().map(|(_, t)| t).sum();
    let changed_trips: Vec<u64> = stock_each
        .iter()
        .filter(|(id, _)| journal_ids.contains(id))
        .map(|(_, t)| *t)
        .collect();
    let min_changed = changed_trips.iter().copied().min().unwrap_or(0);
    let (_, stock_up, stock_down) = peer.counters();
    let stock_bytes = (stock_up + stock_down) as f64;

    // Checks: teacher and dean agree; cells equal the edits; contested cells in both inboxes.
    let mut results = Vec::new();
    {
        let t = lock(&teacher);
        let d = lock(&dean);
        let t_inbox = t.conflicts(None)?;
        let d_inbox = d.conflicts(None)?;
        results.push((
            "inboxes".to_string(),
            if t_inbox == d_inbox {
                Ok(())
            } else {
                Err(format!(
                    "teacher has {} conflicts, dean {}",
                    t_inbox.len(),
                    d_inbox.len()
                ))
            },
        ));
        for fx in &fixtures {
            let tv = t.journal_view(&fx.journal)?;
            let dv = d.journal_view(&fx.journal)?;
            results.push((
                format!("{} teacher = dean", fx.journal),
                if tv == dv {
                    Ok(())
                } else {
                    Err("views differ".into())
                },
            ));
            let mut expected: BTreeMap<(String, String), MarkValue> = fx.marks.clone();
            let mut seen_contested = 0;
            for c in &tv.cells {
                let key = (fx.journal.clone(), c.lesson.clone(), c.student.clone());
                if contested.contains(&key) {
                    seen_contested += 1;
                    let in_inbox = t_inbox.iter().any(|x| {
                        x.journal == fx.journal && x.key == format!("{}/{}", c.lesson, c.student)
                    });
                    if !in_inbox {
                        results.push((
                            format!("{} {}/{}", fx.journal, c.lesson, c.student),
                            Err("concurrent regrade not in the inbox".into()),
                        ));
                    }
                    expected.remove(&(c.lesson.clone(), c.student.clone()));
                }
                if adjusted.contains(&key)
                    && (c.adjusted_to.as_deref() != Some("e") || c.effective != "e")
                {
                    results.push((
                        format!("{} {}/{}", fx.journal, c.lesson, c.student),
                        Err("the excuse is not effective".into()),
                    ));
                }
            }
            let mut plain = tv.clone();
            plain.cells.retain(|c| {
                !contested.contains(&(fx.journal.clone(), c.lesson.clone(), c.student.clone()))
            });
            expected.retain(|(l, s), _| {
                !contested.contains(&(fx.journal.clone(), l.clone(), s.clone()))
            });
            results.push((
                format!("{} cells", fx.journal),
                fixture::view_matches(&plain, &expected),
            ));
            results.push((
                format!("{} contested", fx.journal),
                if seen_contested == 2 {
                    Ok(())
                } else {
                    Err(format!("{seen_contested} contested cells"))
                },
            ));
            if tv
                .lessons
                .iter()
                .find(|l| l.id == fx.lessons[20])
                .and_then(|l| l.topic.as_deref())
                != Some("11-mavzu. Masalalar yechish")
            {
                results.push((
                    format!("{} topic", fx.journal),
                    Err("the topic did not arrive".into()),
                ));
            }
        }
        // stock-automerge reached the same documents (same heads as Daftar's merged state).
        let mut t_heads = Vec::new();
        drop(t);
        for id in &journal_ids {
            t_heads.push((id.clone(), lock(&teacher).doc(id)?.am.get_heads()));
        }
        results.push((
            "stock-automerge".into(),
            stock_converged(&cluster, &mut stock_docs),
        ));
        for (id, heads) in t_heads {
            let stock = stock_docs
                .iter_mut()
                .find(|(i, _)| *i == id)
                .map(|(_, d)| d.get_heads());
            if stock.as_deref() != Some(&heads[..]) {
                results.push((
                    id.clone(),
                    Err("stock-automerge and Daftar merged to different heads".into()),
                ));
            }
        }
    }
    results.push((
        "teacher's push".into(),
        if summary.pushed == teacher_changes && summary.refused == 0 && summary.waiting == 0 {
            Ok(())
        } else {
            Err(format!(
                "pushed {} of {teacher_changes}, refused {}, waiting {}",
                summary.pushed, summary.refused, summary.waiting
            ))
        },
    ));

    results.push((
        "body accounting".into(),
        if raw_up == summary.bytes_up && raw_down == summary.bytes_down {
            Ok(())
        } else {
            Err(format!(
                "client counted {}/{} bytes, server saw {raw_up}/{raw_down}",
                summary.bytes_up, summary.bytes_down
            ))
        },
    ));
    let stock_per_changed =
        changed_trips.iter().sum::<u64>() as f64 / changed_trips.len().max(1) as f64;
    let server_ms: f64 = server_times.iter().map(|d| ms(*d)).sum();
    let rows = vec![
        Row::new(
            "HTTP round trips (teacher's sync)",
            Unit::Count,
            summary.round_trips as f64,
        )
        .vs("stock-automerge", stock_trips as f64)
        .target("≤ 2", summary.round_trips <= 2),
        Row::new("bytes up + down", Unit::Bytes, daftar_bytes)
            .vs("floor-wire", floor_wire)
            .target(
                format!(
                    "≤ 2× floor-wire + 1 KB = {:.0} B",
                    2.0 * floor_wire + 1024.0
                ),
                daftar_bytes <= 2.0 * floor_wire + 1024.0,
            ),
        Row::new("bytes up + down", Unit::Bytes, daftar_bytes)
            .vs("naive", naive as f64)
            .ratio_at_most(0.2),
        Row::new("bytes up + down", Unit::Bytes, daftar_bytes).vs("stock-automerge", stock_bytes),
        Row::new(
            "stock-automerge round trips per changed document (mean)",
            Unit::Count,
            stock_per_changed,
        )
        .target(
            format!("≥ 2 (design premise; fewest: {min_changed})"),
            min_changed >= 2,
        ),
        Row::new(
            "stock-automerge requests for unchanged documents",
            Unit::Count,
            (stock_trips - changed_trips.iter().sum::<u64>()) as f64,
        ),
        Row::new("sync time (client wall)", Unit::Ms, ms(sync_time))
            .vs("stock-automerge", ms(stock_time)),
        Row::new("server time in /v1/sync", Unit::Ms, server_ms),
        Row::new("bytes up", Unit::Bytes, summary.bytes_up as f64),
        Row::new("bytes down", Unit::Bytes, summary.bytes_down as f64),
        Row::new(
            "changes pushed / pulled",
            Unit::Count,
            summary.pushed as f64,
        )
        .vs("pulled", summary.pulled as f64),
        Row::new(
            "changes stored by the server",
            Unit::Count,
            server.changes_stored as f64,
        ),
    ];
    let notes = vec![
        format!(
            "Teacher: {teacher_edits} cell writes in {teacher_changes} changes over {n} journals (a whole lesson marked, five regrades and a topic per journal). Dean's office: {} edits (excused absences and two regrades per journal of cells the teacher also regraded, so {} cells end in the inbox), synced first.",
            dean_cells.len(),
            contested.len()
        ),
        format!(
            "floor-wire: {} + {} changed cells as 11-byte tuples, zstd. naive: the {n} touched journals saved whole, up and down. stock-automerge: one session per document the teacher holds ({} documents: it cannot know which changed), persisted sync states, binary bodies.",
            teacher_cells.len(),
            dean_cells.len(),
            doc_ids.len()
        ),
    ];
    Ok(finish(checks(results), rows, notes, Vec::new()))
}

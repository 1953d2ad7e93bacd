//! B8: does one edit cost more as history grows? Device A edits a journal that already has
//! 10³ … 10⁵ prior changes (spread over its cells, or all on one cell), syncs, and device B
//! pulls it. Per-edit time and bytes are compared across history sizes on a log-log scale.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Result, anyhow};
use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use daftar_core::Replica;
use daftar_core::journal::MarkInput;
use daftar_core::model::{Attendance, MarkValue};
use daftar_core::projection::Refresh;
use daftar_protocol::Role;

use super::{checks, finish, ms};
use crate::Ctx;
use crate::fixture::{self, Shape};
use crate::measure::{Samples, log_log_slope};
use crate::report::{Row, ScenarioReport, Series, Unit};
use crate::server::{Cluster, lock};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Spread,
    SameCell,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Spread => "spread over the journal",
            Kind::SameCell => "one cell regraded",
        }
    }
}

/// The cell the `i`-th edit of a history writes.
fn cell(fx: &fixture::JournalFixture, kind: Kind, i: usize) -> (String, String) {
    match kind {
        Kind::Spread => (
            fx.lessons[i % fx.lessons.len()].clone(),
            fx.students[(i / fx.lessons.len()) % fx.students.len()].clone(),
        ),
        Kind::SameCell => (fx.lessons[0].clone(), fx.students[0].clone()),
    }
}

fn graded(g: u32) -> MarkValue {
    let mut m = MarkValue::new(Attendance::Present);
    m.grade = Some(g);
    m
}

struct Point {
    history: usize,
    total: f64,
    edit: f64,
    push: f64,
    pull: f64,
    bytes: f64,
    stock_bytes: f64,
    stock_ms: f64,
    naive: f64,
}

pub fn b8(ctx: &mut Ctx) -> Result<ScenarioReport> {
    let dir = ctx.subdir("b8")?;
    let cluster = Cluster::start(&dir)?;
    cluster.add_user("admin", Role::Admin, None, None)?;
    let a = Replica::open(&dir.join("a.db"))?;
    let b = Replica::open(&dir.join("b.db"))?;
    let (at, bt) = (cluster.login("admin", &a)?, cluster.login("admin", &b)?);
    let (a, b) = (Mutex::new(a), Mutex::new(b));
    let mut rng = fixture::rng(ctx.opts.seed + 80);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    let mut results = Vec::new();
    let mut notes = Vec::new();

    for kind in [Kind::Spread, Kind::SameCell] {
        let list = match kind {
            Kind::Spread => ctx.sizes.b8_history.clone(),
            Kind::SameCell => ctx.sizes.b8_same_cell.clone(),
        };
        let mut points = Vec::new();
        for &h in &list {
            let tag = format!("b8{}{h}", if kind == Kind::Spread { "s" } else { "c" });
            let t0 = Instant::now();
            let mut fx = fixture::bulk(&mut lock(&a), |r| {
                let mut fx = fixture::build_journal(
                    r,
                    &Shape {
                        tag: tag.clone(),
                        students: 25,
                        lessons: 40,
                        marked: 0,
                        teachers: vec!["5001".into()],
                    },
                    &mut rng,
                )?;
                for i in 0..h {
                    let (l, s) = cell(&fx, kind, i);
                    let m = graded(55 + (i % 46) as u32);
                    let raw = serde_json::to_string(&m)?;
                    let key = format!("{l}/{s}");
                    r.edit(&fx.journal, "mark", |doc| {
                        doc.put("marks", &key, &raw)?;
                        Ok(Refresh::key("marks", key.clone()))
                    })?;
                    fx.marks.insert((l, s), m);
                }
                Ok(fx)
            })?;
            cluster.sync(&a, &at)?;
            cluster.sync(&b, &bt)?;
            // The server compacts the uploaded history in the background; let it finish.
            cluster.wait_snapshots_idle();
            let setup = t0.elapsed();

            // stock-automerge: a live session between copies of A's and B's document.
            let mut client = lock(&a).doc(&fx.journal)?.am.fork();
            let naive = client.save().len() as f64;
            cluster
                .baseline
                .put_doc(&fx.journal, lock(&b).doc(&fx.journal)?.am.fork());
            let mut peer = cluster.stock_peer(&tag)?;
            cluster
                .client_rt
                .block_on(peer.sync_doc(&fx.journal, &mut client))?;
            let marks_obj = match client.get(ROOT, "marks").map_err(|e| anyhow!("{e}"))? {
                Some((_, id)) => id,
                None => return Err(anyhow!("no marks map in {}", fx.journal)),
            };

            let (mut total, mut edit, mut stock_t) =
                (Samples::new(), Samples::new(), Samples::new());
            let (mut push, mut pull) = (Samples::new(), Samples::new());
            let (mut bytes, mut stock_bytes, mut n) = (0u64, 0u64, 0u64);
            let mut trips_max = 0;
            for i in 0..ctx.sizes.warmup + ctx.sizes.b8_samples {
                let (l, s) = match kind {
                    Kind::Spread => cell(&fx, kind, h + i * 7),
                    Kind::SameCell => cell(&fx, kind, 0),
                };
                let g = 60 + (i % 40) as u32;
                // Every 32nd push has the server refresh the journal's snapshot in the
                // background (amortised compaction, off the sync path); samples start after it.
                cluster.wait_snapshots_idle();
                let t0 = Instant::now();
                lock(&a).mark(
                    &fx.journal,
                    &l,
                    &s,
                    MarkInput {
                        status: Attendance::Present,
                        grade: Some(g),
                        note: None,
                        hours: None,
                    },
                )?;
                let te = t0.elapsed();
                let sa = cluster.sync(&a, &at)?;
                let tp = t0.elapsed() - te;
                let sb = cluster.sync(&b, &bt)?;
                let tt = t0.elapsed();
                fx.marks.insert((l.clone(), s.clone()), graded(g));
                trips_max = trips_max.max(sa.round_trips.max(sb.round_trips));
                if sa.pushed != 1 || sb.pulled != 1 {
                    results.push((
                        format!("{tag} sample {i}"),
                        Err(format!("pushed {}, pulled {}", sa.pushed, sb.pulled)),
                    ));
                }
                // stock-automerge: the same edit on A's copy, one session round.
                let (_, u0, d0) = peer.counters();
                let raw = serde_json::to_string(&graded(g))?;
                client
                    .put(&marks_obj, format!("{l}/{s}"), raw)
                    .map_err(|e| anyhow!("{e}"))?;
                client.commit();
                let t1 = Instant::now();
                cluster
                    .client_rt
                    .block_on(peer.sync_doc(&fx.journal, &mut client))?;
                let ts = t1.elapsed();
                let (_, u1, d1) = peer.counters();
                if i >= ctx.sizes.warmup {
                    total.push(tt);
                    edit.push(te);
                    push.push(tp);
                    pull.push(tt - te - tp);
                    stock_t.push(ts);
                    bytes += sa.bytes_up + sa.bytes_down + sb.bytes_up + sb.bytes_down;
                    stock_bytes += (u1 - u0) + (d1 - d0);
                    n += 1;
                }
            }
            let (va, vb) = (
                lock(&a).journal_view(&fx.journal)?,
                lock(&b).journal_view(&fx.journal)?,
            );
            results.push((
                format!("{tag} A = B"),
                if va == vb {
                    Ok(())
                } else {
                    Err("the two devices differ".into())
                },
            ));
            results.push((
                format!("{tag} cells"),
                fixture::view_matches(&va, &fx.marks),
            ));
            results.push((
                format!("{tag} round trips"),
                if trips_max == 1 {
                    Ok(())
                } else {
                    Err(format!("{trips_max} round trips"))
                },
            ));
            notes.push(format!(
                "{} with {h} prior changes: set up (edits, upload, download) in {:.1} s.",
                kind.name(),
                setup.as_secs_f64()
            ));
            points.push(Point {
                history: h,
                total: total.stats().p50_ms,
                edit: edit.stats().p50_ms,
                push: push.stats().p50_ms,
                pull: pull.stats().p50_ms,
                bytes: bytes as f64 / n.max(1) as f64,
                stock_bytes: stock_bytes as f64 / n.max(1) as f64,
                stock_ms: stock_t.stats().p50_ms,
                naive,
            });
        }
        for p in &points {
            rows.push(
                Row::new(
                    format!(
                        "{}: {} prior changes, per-edit time p50 (edit + push + pull)",
                        kind.name(),
                        p.history
                    ),
                    Unit::Ms,
                    p.total,
                )
                .vs("stock-automerge (one session round)", p.stock_ms),
            );
            rows.push(Row::new(
                format!("{}: {} prior, local edit p50", kind.name(), p.history),
                Unit::Ms,
                p.edit,
            ));
            rows.push(Row::new(
                format!("{}: {} prior, A's sync (push) p50", kind.name(), p.history),
                Unit::Ms,
                p.push,
            ));
            rows.push(Row::new(
                format!(
                    "{}: {} prior, B's sync (pull and apply) p50",
                    kind.name(),
                    p.history
                ),
                Unit::Ms,
                p.pull,
            ));
            rows.push(
                Row::new(
                    format!(
                        "{}: {} prior, bytes per edit (both devices, both ways)",
                        kind.name(),
                        p.history
                    ),
                    Unit::Bytes,
                    p.bytes,
                )
                .vs("stock-automerge", p.stock_bytes),
            );
            rows.push(
                Row::new(
                    format!("{}: {} prior, bytes per edit", kind.name(), p.history),
                    Unit::Bytes,
                    p.bytes,
                )
                .vs("naive (save())", p.naive),
            );
        }
        if let (Some(lo), Some(hi)) = (points.first(), points.last()) {
            let slope = log_log_slope(
                &points
                    .iter()
                    .map(|p| (p.history as f64, p.total))
                    .collect::<Vec<_>>(),
            );
            rows.push(
                Row::new(
                    format!("{}: time growth (log-log slope)", kind.name()),
                    Unit::Ratio,
                    slope,
                )
                .target("≤ 0.2", slope <= 0.2),
            );
            rows.push(
                Row::new(
                    format!(
                        "{}: per-edit time at {} vs {}",
                        kind.name(),
                        hi.history,
                        lo.history
                    ),
                    Unit::Ms,
                    hi.total,
                )
                .vs(format!("{} prior", lo.history), lo.total)
                .ratio_at_most(2.0),
            );
            let flat = hi.bytes <= lo.bytes * 1.1 + 16.0;
            rows.push(
                Row::new(
                    format!(
                        "{}: bytes per edit at {} vs {}",
                        kind.name(),
                        hi.history,
                        lo.history
                    ),
                    Unit::Bytes,
                    hi.bytes,
                )
                .vs(format!("{} prior", lo.history), lo.bytes)
                .target("flat (≤ 1.1× + 16 B)", flat),
            );
        }
        let label = match kind {
            Kind::Spread => "spread",
            Kind::SameCell => "one cell",
        };
        series.push(Series {
            panel: "B8: per-edit time (edit + push + pull)".into(),
            name: format!("Daftar, history {label}"),
            x_label: "prior changes".into(),
            y_label: "ms".into(),
            points: points.iter().map(|p| (p.history as f64, p.total)).collect(),
        });
        series.push(Series {
            panel: "B8: bytes per edit".into(),
            name: format!("Daftar, history {label}"),
            x_label: "prior changes".into(),
            y_label: "bytes".into(),
            points: points.iter().map(|p| (p.history as f64, p.bytes)).collect(),
        });
        if kind == Kind::Spread {
            series.push(Series {
                panel: "B8: bytes per edit".into(),
                name: "naive: document save()".into(),
                x_label: "prior changes".into(),
                y_label: "bytes".into(),
                points: points.iter().map(|p| (p.history as f64, p.naive)).collect(),
            });
            series.push(Series {
                panel: "B8: bytes per edit".into(),
                name: "stock-automerge".into(),
                x_label: "prior changes".into(),
                y_label: "bytes".into(),
                points: points
                    .iter()
                    .map(|p| (p.history as f64, p.stock_bytes))
                    .collect(),
            });
        }
    }
    notes.push(format!(
        "Per edit: `Replica::mark` on A (durable), A's sync (push), B's sync (pull and apply), {} samples after {} warm-up. Histories are written with synchronous=OFF (setup only); each sample starts once the server's background snapshot refresh (every 32nd push of a document) is done. stock-automerge keeps a live session between copies of A's and B's document.",
        ctx.sizes.b8_samples, ctx.sizes.warmup
    ));
    let _ = ms;
    Ok(finish(checks(results), rows, notes, series))
}

//! The scenarios B1–B10, grouped by what they exercise:
//!
//! - [`local`]: B1–B3, the replica on one machine (no network);
//! - [`day`]: B4, a teacher's offline day meeting the dean's office's edits;
//! - [`replicate`]: B5, a faculty's first full replica;
//! - [`nothing`]: B6, syncs when nothing changed as documents grow;
//! - [`many`]: B7, many clients against one server;
//! - [`growth`]: B8, one edit against a long history;
//! - [`storm`]: B9, a conflict storm;
//! - [`size`]: B10, bytes on disk.
//!
//! Each returns a [`ScenarioReport`] whose check says whether the final state equals the one
//! expected from all edits; [`crate::run`] drops the figures of a scenario whose check failed.

pub mod day;
pub mod growth;
pub mod ingest;
pub mod local;
pub mod many;
pub mod nothing;
pub mod replicate;
pub mod scale;
pub mod size;
pub mod storm;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::measure::Samples;
use crate::report::{Check, Row, ScenarioReport, Series};

/// A scenario's report with its check.
pub fn finish(
    check: Result<(), String>,
    rows: Vec<Row>,
    notes: Vec<String>,
    series: Vec<Series>,
) -> ScenarioReport {
    let (passed, detail) = match check {
        Ok(()) => (
            true,
            "final state equals the state expected from all edits".to_string(),
        ),
        Err(e) => (false, e),
    };
    ScenarioReport {
        id: String::new(),
        title: String::new(),
        target: String::new(),
        check: Check { passed, detail },
        rows,
        notes,
        series,
        seconds: 0.0,
    }
}

/// Joins check results: the first failure wins, otherwise a detail listing what was checked.
pub fn checks(list: Vec<(String, Result<(), String>)>) -> Result<(), String> {
    for (what, r) in &list {
        if let Err(e) = r {
            return Err(format!("{what}: {e}"));
        }
    }
    Ok(())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// floor-sync: a 4 KiB write + `sync_data` in `dir` (same filesystem as the databases), in
/// place in a preallocated file so no metadata has to reach the disk: the disk's own floor.
pub struct FloorSync {
    file: std::fs::File,
    block: Vec<u8>,
    n: u64,
}

impl FloorSync {
    pub fn new(dir: &Path) -> Result<FloorSync> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.join("floor-sync.bin"))?;
        file.write_all(&vec![0u8; 1 << 20])?;
        file.sync_all()?;
        Ok(FloorSync {
            file,
            block: vec![0x5a; 4096],
            n: 0,
        })
    }

    /// One 4 KiB write and `sync_data`.
    pub fn once(&mut self) -> Result<()> {
        self.n += 1;
        self.block[0] = self.n as u8;
        self.file.seek(SeekFrom::Start((self.n % 256) * 4096))?;
        self.file.write_all(&self.block)?;
        self.file.sync_data()?;
        Ok(())
    }

    pub fn sample(&mut self, samples: &mut Samples) -> Result<()> {
        let start = std::time::Instant::now();
        self.once()?;
        samples.push(start.elapsed());
        Ok(())
    }
}

/// Independent copies (automerge `fork`) of the replica's documents `ids`.
pub fn fork_docs(
    r: &mut daftar_core::Replica,
    ids: &[String],
) -> Result<Vec<(String, automerge::AutoCommit)>> {
    ids.iter()
        .map(|id| Ok((id.clone(), r.doc(id)?.am.fork())))
        .collect()
}

/// Runs automerge's sync protocol for every document in `docs`, one after another over one
/// HTTP connection pool. Returns the round trips and the time it took.
pub fn stock_sync_all(
    cluster: &crate::server::Cluster,
    peer: &mut crate::server::StockPeer,
    docs: &mut [(String, automerge::AutoCommit)],
) -> Result<(u64, Duration)> {
    let (per_doc, time) = stock_sync_each(cluster, peer, docs)?;
    Ok((per_doc.iter().map(|(_, t)| t).sum(), time))
}

/// Like [`stock_sync_all`], with the round trips of each document.
pub fn stock_sync_each(
    cluster: &crate::server::Cluster,
    peer: &mut crate::server::StockPeer,
    docs: &mut [(String, automerge::AutoCommit)],
) -> Result<(Vec<(String, u64)>, Duration)> {
    let start = std::time::Instant::now();
    let trips = cluster.client_rt.block_on(async {
        let mut trips = Vec::with_capacity(docs.len());
        for (id, doc) in docs.iter_mut() {
            trips.push((id.clone(), peer.sync_doc(id, doc).await?));
        }
        Ok::<_, anyhow::Error>(trips)
    })?;
    Ok((trips, start.elapsed()))
}

/// Checks that the stock client's and server's copies have the same heads.
pub fn stock_converged(
    cluster: &crate::server::Cluster,
    docs: &mut [(String, automerge::AutoCommit)],
) -> Result<(), String> {
    for (id, doc) in docs.iter_mut() {
        if cluster.baseline.heads(id).as_deref() != Some(&doc.get_heads()[..]) {
            return Err(format!("stock-automerge copies of {id} did not converge"));
        }
    }
    Ok(())
}

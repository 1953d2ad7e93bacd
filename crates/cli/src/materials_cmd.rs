//! `daftar materials`: course materials from the command line: list what modules hold, attach
//! a file (department head), move the bytes now, and save a file to a folder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use clap::Subcommand;
use daftar_client::materials::{MaterialsSummary, transfer};
use daftar_core::materials::{Material, MaterialStatus};
use serde_json::json;

use crate::output::Out;

#[derive(Subcommand)]
pub enum MaterialsCommand {
    /// The materials of every module you may read here (or of one), and whether each file is
    /// on this computer.
    List {
        #[arg(long)]
        module: Option<String>,
    },
    /// Department head: attach a file to a module, or to one of its topics (by id or name).
    /// It is saved here at once and goes to the server with the next sync.
    Attach {
        module: String,
        file: PathBuf,
        #[arg(long)]
        topic: Option<String>,
    },
    /// Department head: take a material off a module.
    Remove { module: String, material: String },
    /// Send the files attached here and fetch the files of your modules now (a sync does this
    /// too, after the marks).
    Fetch,
    /// Write a material's file into a folder (by its name or the first 8 characters of its
    /// hash).
    Save {
        material: String,
        #[arg(short = 'o', long = "output", value_name = "FOLDER")]
        output: PathBuf,
    },
}

pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn status_text(m: &Material) -> String {
    match m.status {
        MaterialStatus::Here => "here".into(),
        MaterialStatus::Sending => "here, still to send".into(),
        MaterialStatus::Partial => format!(
            "{}% here",
            (m.received as f64 * 100.0 / m.size.max(1) as f64).floor()
        ),
        MaterialStatus::Missing => "not here yet".into(),
    }
}

fn table(list: &[Material]) -> String {
    if list.is_empty() {
        return "No materials in the modules you may read.".into();
    }
    let mut out = String::new();
    for m in list {
        out.push_str(&format!(
            "{}  {}  {:>9}  {}{}{}\n",
            &m.hash[..8],
            m.module,
            size_text(m.size),
            m.name,
            m.topic_name
                .as_ref()
                .map(|t| format!("  (topic: {t})"))
                .unwrap_or_default(),
            format!("  [{}]", status_text(m))
                + &m.problem
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
        ));
    }
    out.trim_end().to_string()
}

pub fn summary_text(s: &MaterialsSummary) -> String {
    let mut text = format!(
        "Materials: {} sent, {} fetched ({} up, {} down)",
        s.sent,
        s.fetched,
        size_text(s.bytes_up),
        size_text(s.bytes_down)
    );
    if s.waiting > 0 {
        text.push_str(&format!(
            "; {} waiting: {}",
            s.waiting,
            s.problems.join("; ")
        ));
    }
    text
}

/// Moves materials' bytes with the sign-in of `replica`, on `rt` (the runtime the transport's
/// connections belong to: a pooled connection made on another runtime would never be driven).
pub fn move_files(
    rt: &tokio::runtime::Runtime,
    replica: &Arc<Mutex<daftar_core::Replica>>,
    transport: &daftar_client::transport::Transport,
    out: &Out,
) -> Result<MaterialsSummary> {
    let bar = out.progress("Materials");
    let moved = rt.block_on(transfer(replica, transport, |p| {
        bar.message(format!(
            "{} {}",
            if p.upload { "Sending" } else { "Fetching" },
            p.name
        ));
        bar.set(p.done as usize, p.size as usize);
    }));
    bar.finish();
    Ok(moved?)
}

pub fn run(dir: &Path, command: MaterialsCommand, out: &Out) -> Result<()> {
    match command {
        MaterialsCommand::List { module } => {
            let mut r = crate::open(dir)?;
            let list = r.materials(module.as_deref())?;
            out.value(&list, || table(&list))
        }
        MaterialsCommand::Attach {
            module,
            file,
            topic,
        } => {
            let mut r = crate::open(dir)?;
            let m = r.attach_material(&module, &file, topic.as_deref())?;
            out.value(&m, || {
                format!(
                    "Attached {} ({}) to {}{}. It goes to the server with the next sync.",
                    m.name,
                    size_text(m.size),
                    m.module,
                    m.topic_name
                        .as_ref()
                        .map(|t| format!(", topic {t}"))
                        .unwrap_or_default()
                )
            })
        }
        MaterialsCommand::Remove { module, material } => {
            let mut r = crate::open(dir)?;
            let m = r.resolve_material(&material)?;
            r.remove_material(&module, &m.hash)?;
            out.ok(&format!("Removed {} from {module}", m.name))
        }
        MaterialsCommand::Fetch => {
            let r = crate::open(dir)?;
            let transport = crate::sync_cmd::transport_for(&r)?;
            let replica = Arc::new(Mutex::new(r));
            let moved = move_files(&crate::sync_cmd::runtime()?, &replica, &transport, out)?;
            out.value(&moved, || summary_text(&moved))
        }
        MaterialsCommand::Save { material, output } => {
            let mut r = crate::open(dir)?;
            let m = r.resolve_material(&material)?;
            let path = r.save_material(&m.hash, &output)?;
            out.value(
                &json!({ "hash": m.hash, "name": m.name, "path": path, "size": m.size }),
                || format!("Saved {} ({})", path.display(), size_text(m.size)),
            )
        }
    }
}

//! `daftar`: the headless Daftar command line. The same core (and sync client) as the desktop
//! app, without a window: field campuses sync from a timer, administrators import HEMIS exports
//! and export reports, tests drive whole scenarios.
//!
//! Every command accepts `--data-dir` and `--json`. With `--json`, results go to stdout as JSON
//! and errors to stderr as `{"error": kind, "message": …}`; any failure exits non-zero.

mod materials_cmd;
mod output;
mod sync_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use daftar_core::bundle::{Bundle, PeerHeads};
use daftar_core::conflicts::Choice;
use daftar_core::demo::{DemoSpec, Tier};
use daftar_core::export::ExportFormat;
use daftar_core::journal::{MarkInput, NewLesson, ScoreEntry, short_id};
use daftar_core::model::{AdjustmentValue, Attendance, LessonType, display_date, parse_user_date};
use daftar_core::{CoreError, Replica};
use serde_json::json;

use crate::output::Out;

#[derive(Parser)]
#[command(
    name = "daftar",
    version,
    about = "Daftar: the offline-first university journal, from the command line",
    long_about = "Daftar keeps a department's groups, journals and course modules in a local replica \
                  that works without internet, and syncs it when a connection returns.\n\
                  Ids are accepted as printed by `daftar journals` and `daftar show`."
)]
struct Cli {
    /// Folder holding the replica (default: the platform data folder).
    #[arg(long, global = true, env = "DAFTAR_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty replica for a university.
    Init(InitArgs),
    /// Fill the replica with seeded demo data (a department, a faculty or a university).
    Demo(DemoArgs),
    /// Import data from other systems.
    #[command(subcommand)]
    Import(ImportCommand),
    /// List the journals in this replica.
    Journals,
    /// Show a journal: lessons, students and marks.
    Show { journal: String },
    /// Lessons of a journal.
    #[command(subcommand)]
    Lesson(LessonCommand),
    /// Set the topic of a lesson.
    Topic {
        journal: String,
        lesson: String,
        topic: String,
    },
    /// Mark one student at one lesson.
    Mark(MarkArgs),
    /// Mark a whole lesson present, except the absentees (one action).
    MarkAll {
        journal: String,
        lesson: String,
        /// A student who was absent (repeat for each).
        #[arg(long = "absent", value_name = "STUDENT")]
        absent: Vec<String>,
        /// The absentees as a roll call, as the app's grid takes it: row numbers in the
        /// journal's order or names (`--roll "5 17"`, `--roll "aliyeva karimov"`).
        #[arg(long, value_name = "ROWS")]
        roll: Option<String>,
    },
    /// Enter a control score (JN, ON1, ON2, YN; YN:2 for a second sitting). For YN, `kelmadi`
    /// records the student absent from that sitting, and `""` takes the record back.
    Score {
        journal: String,
        control: String,
        student: String,
        /// Points (`12`, `12.5`, `12,5`), or `kelmadi` / `nb` for YN.
        points: String,
    },
    /// Dean's office: adjust a saved mark with a reason (the teacher's mark is kept).
    Adjust(AdjustArgs),
    /// Lock a journal or one lesson (edits made elsewhere afterwards go to the conflict inbox).
    Lock {
        journal: String,
        #[arg(long)]
        lesson: Option<String>,
        #[arg(long, default_value = "deadline passed")]
        reason: String,
    },
    /// Ask the dean's office to open a lesson whose entry window has closed.
    RequestOpening {
        journal: String,
        lesson: String,
        #[arg(long)]
        reason: String,
    },
    /// Open a closed lesson for its teacher until a day (dean's office).
    OpenLesson {
        journal: String,
        lesson: String,
        /// The last day edits count as on time (dd.mm.yyyy or YYYY-MM-DD).
        #[arg(long)]
        until: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Requests to open lessons, and what the dean's office granted.
    Openings {
        #[arg(long)]
        journal: Option<String>,
    },
    /// The university's entry window: DAYS after the lesson day that marks may still be
    /// written (0 = the lesson day, as HEMIS), or `none` (administrator).
    EntryWindow { days: String },
    /// Lift a lock.
    Unlock {
        journal: String,
        #[arg(long)]
        lesson: Option<String>,
    },
    /// Every change of a journal, a lesson or one cell: value, author (as the server recorded
    /// it), device and edit time.
    History {
        journal: String,
        lesson: Option<String>,
        /// A student id or record-book number (needs LESSON).
        student: Option<String>,
    },
    /// The conflict inbox: concurrent edits and late amendments waiting for a decision.
    Conflicts {
        #[arg(long)]
        journal: Option<String>,
    },
    /// Resolve a conflict by picking one of its values or entering a new one.
    Resolve(ResolveArgs),
    /// Exchange changes with other replicas by file (USB), without a server.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Course materials: files department heads attach to modules and their topics.
    #[command(subcommand)]
    Materials(materials_cmd::MaterialsCommand),
    /// Export a journal: XLSX or CSV in the university's language, or `hemis`, the per-lesson
    /// hand-over keyed by HEMIS ids (CSV).
    Export {
        journal: String,
        /// xlsx, csv or hemis.
        #[arg(long, default_value = "xlsx")]
        format: String,
        /// Uzbek Latin or Cyrillic (default: the catalog's `script` setting, else Latin).
        #[arg(long, value_parser = ["latn", "cyrl"])]
        script: Option<String>,
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Per-student hours (this subject and the semester), totals, admission and grade of a
    /// journal.
    Report { journal: String },
    /// Hours per lesson type: the module's plan against the hours delivered and still on the
    /// schedule, and the shortfall.
    Hours { journal: String },
    /// The university's teaching calendar: semester dates and holidays (administrator). With
    /// no option, prints it. A lesson on a holiday, a Sunday or outside its semester needs
    /// `--confirm`.
    Calendar(CalendarArgs),
    /// Dean's office: a student left the group, went on academic leave, came back, or joined
    /// it on a day (lessons are expected of a student only while a member).
    Student {
        journal: String,
        student: String,
        /// active, left or academic-leave.
        #[arg(long)]
        status: Option<String>,
        /// The day the new status begins (dd.MM.yyyy or YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// The day the student joined the group.
        #[arg(long, value_name = "DATE")]
        joined: Option<String>,
    },
    /// Students' semester standing: unexcused hours over every subject against the catalog's
    /// thresholds (12 / 36 / more than 74 h by default), worst first.
    Standing {
        /// Faculty id.
        #[arg(long)]
        faculty: Option<String>,
        /// Group id or name.
        #[arg(long)]
        group: Option<String>,
        /// Semester number as the journals write it.
        #[arg(long)]
        semester: Option<String>,
        /// Only students at this level or worse (ok lists everyone).
        #[arg(long, default_value = "warning", value_parser = ["ok", "warning", "reprimand", "expulsion"])]
        level: String,
        /// Also write the list as an A4 XLSX for the dean's order.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The XLSX in Uzbek Latin or Cyrillic (default: the catalog's choice).
        #[arg(long, value_parser = ["latn", "cyrl"])]
        script: Option<String>,
    },
    /// Dean's office: let a student sit the final (YN) again, sitting 2 or 3.
    Retake {
        journal: String,
        student: String,
        #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
        sitting: u8,
        #[arg(long, default_value = "dean's order")]
        reason: String,
    },
    /// The statement (qaydnoma) of a journal for a YN sitting, as an A4 XLSX or PDF (by the
    /// file's name) to print and sign: form 12 / 12a / 12b (rating), c-shakl (credit), 5-shakl
    /// (five-point).
    Statement {
        journal: String,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
        sitting: u8,
        /// Uzbek Latin or Cyrillic (default: the catalog's `script` setting, else Latin).
        #[arg(long, value_parser = ["latn", "cyrl"])]
        script: Option<String>,
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Academic debtors: students not admitted to the final control with every JN and ON in,
    /// or with a failing final.
    Debtors {
        #[arg(long)]
        faculty: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        semester: Option<String>,
    },
    /// Fold documents' change history into snapshots (smaller replica, faster start).
    Compact,
    /// Sign in to a sync server (password from stdin or DAFTAR_PASSWORD).
    Login(sync_cmd::LoginArgs),
    /// Sign out and forget the token.
    Logout,
    /// Sync with the server now (or keep syncing with --watch).
    Sync(sync_cmd::SyncArgs),
    /// Replica and sync status.
    Status,
    /// Test support: marks cells of a journal in a loop, printing each acknowledged edit.
    #[command(hide = true)]
    DebugMarkLoop {
        journal: String,
        #[arg(long, default_value_t = 0)]
        start: u64,
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
    },
}

#[derive(Args)]
struct InitArgs {
    /// University code (bundles from another university are refused).
    #[arg(long, default_value = "uni")]
    university: String,
    /// Name recorded as the author of edits made here.
    #[arg(long)]
    user: Option<String>,
}

#[derive(Args)]
struct DemoArgs {
    #[arg(long, default_value = "S", value_parser = ["XS", "S", "M", "L", "xs", "s", "m", "l"])]
    tier: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of the semester's lessons already marked (0–1).
    #[arg(long, default_value_t = 0.6)]
    filled: f64,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import from HEMIS: a folder of its API's JSON pages (group-list.json, student-list.json,
    /// …), or straight from a university's HEMIS with --url (token in HEMIS_TOKEN or
    /// --token-file). All or nothing; a second import updates what changed.
    Hemis(HemisArgs),
}

#[derive(Args)]
struct HemisArgs {
    /// A folder of HEMIS pages (as --save-to writes them).
    path: Option<PathBuf>,
    /// The university's HEMIS API, e.g. https://hemis.university.uz/rest/v1
    #[arg(long, conflicts_with = "path")]
    url: Option<String>,
    /// A file holding the API token (default: the HEMIS_TOKEN environment variable).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Keep the fetched pages (personal data stripped) in this folder, for a later import.
    #[arg(long, value_name = "DIR")]
    save_to: Option<PathBuf>,
    /// Only this education year (`_education_year`, e.g. 2026).
    #[arg(long)]
    year: Option<String>,
    /// Only this semester (the HEMIS code, e.g. 17).
    #[arg(long)]
    semester: Option<String>,
    /// Only this faculty (its HEMIS id).
    #[arg(long)]
    faculty: Option<String>,
    /// Items per page (HEMIS's `limit`, at most 200).
    #[arg(long, default_value_t = 200, hide = true)]
    page_size: u32,
}

#[derive(Args)]
struct CalendarArgs {
    /// Autumn (odd) semesters: FROM..TO, e.g. 02.09.2026..27.12.2026.
    #[arg(long, value_name = "FROM..TO")]
    autumn: Option<String>,
    /// Spring (even) semesters: FROM..TO.
    #[arg(long, value_name = "FROM..TO")]
    spring: Option<String>,
    /// One semester's own dates: N=FROM..TO (overrides autumn / spring for it).
    #[arg(long, value_name = "N=FROM..TO")]
    semester: Vec<String>,
    /// A holiday (repeatable).
    #[arg(long, value_name = "DATE")]
    holiday: Vec<String>,
    /// Forget the holidays listed so far.
    #[arg(long)]
    clear_holidays: bool,
}

#[derive(Subcommand)]
enum LessonCommand {
    /// Add a lesson (a pair on a date).
    Add {
        journal: String,
        /// dd.MM.yyyy or YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        date: String,
        #[arg(long)]
        pair: u8,
        /// Lesson type: HEMIS code 11–17 or lecture, lab, practical, seminar…
        #[arg(long = "type", value_name = "CODE")]
        lesson_type: String,
        #[arg(long)]
        topic: Option<String>,
        /// Only this subgroup has the lesson (labs, languages).
        #[arg(long)]
        subgroup: Option<String>,
        /// Add it even on a holiday, a Sunday or outside the semester.
        #[arg(long)]
        confirm: bool,
    },
    /// Cancel a lesson that did not take place (a held one: dean's office only).
    Cancel { journal: String, lesson: String },
    /// Move a lesson not yet held to another day or pair.
    Move {
        journal: String,
        lesson: String,
        #[arg(long, value_name = "DATE")]
        date: String,
        #[arg(long)]
        pair: Option<u8>,
        #[arg(long)]
        confirm: bool,
    },
    /// Give a lesson to another teacher (dean's office).
    Reassign {
        journal: String,
        lesson: String,
        /// Teacher id or full name.
        #[arg(long)]
        teacher: String,
    },
    /// Make a lesson one subgroup's, or the whole group's (`all`) (dean's office).
    Subgroup {
        journal: String,
        lesson: String,
        subgroup: String,
    },
}

#[derive(Args)]
struct MarkArgs {
    journal: String,
    lesson: String,
    student: String,
    /// What the grid takes: present (+), absent (nb, нб), excused (e), late (l), a grade
    /// (85: present with it) or l85 (late with it)
    status: String,
    #[arg(long)]
    grade: Option<u32>,
    #[arg(long)]
    note: Option<String>,
    /// Hours missed (default: 2 for an absence).
    #[arg(long)]
    hours: Option<u32>,
}

#[derive(Args)]
struct AdjustArgs {
    journal: String,
    lesson: String,
    student: String,
    #[arg(long, value_parser = ["excused", "present", "absent", "late"])]
    to: String,
    #[arg(long)]
    reason: String,
    /// Supporting document (certificate number…).
    #[arg(long)]
    document: Option<String>,
    /// excused (11), correction (12), makeup-done (14) or makeup-not-done (15); by default
    /// excused for --to excused, else correction.
    #[arg(long)]
    kind: Option<String>,
    /// Make-up deadline (dd.MM.yyyy or YYYY-MM-DD).
    #[arg(long)]
    deadline: Option<String>,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("choice").required(true).args(["pick", "value"]))]
struct ResolveArgs {
    conflict: String,
    /// Keep value number N as listed by `daftar conflicts`.
    #[arg(long)]
    pick: Option<usize>,
    /// Enter a new value instead.
    #[arg(long)]
    value: Option<String>,
    #[arg(long)]
    note: Option<String>,
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Write this replica's changes to a file: everything, or with --for only what a peer lacks.
    Export {
        file: PathBuf,
        /// The peer's heads file (made there with `daftar bundle heads`).
        #[arg(long = "for", value_name = "HEADS_FILE")]
        for_peer: Option<PathBuf>,
    },
    /// Write what this replica holds (document heads), so a peer can send only what is missing.
    Heads { file: PathBuf },
    /// Read a bundle file (safe to repeat, in any order).
    Import { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("DAFTAR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let out = Out::new(cli.json);
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn data_dir(cli_dir: Option<PathBuf>) -> Result<PathBuf> {
    match cli_dir {
        Some(d) => Ok(d),
        None => directories::ProjectDirs::from("uz", "Daftar", "daftar")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| anyhow!("cannot find a data folder; pass --data-dir")),
    }
}

pub(crate) fn replica_path(dir: &Path) -> PathBuf {
    dir.join("replica.db")
}

/// Opens an initialised replica.
pub(crate) fn open(dir: &Path) -> Result<Replica> {
    let path = replica_path(dir);
    if !path.exists() {
        return Err(CoreError::NotInitialised { path }.into());
    }
    let replica = Replica::open(&path)?;
    replica.require_university()?;
    Ok(replica)
}

fn run(cli: Cli, out: &Out) -> Result<()> {
    let dir = data_dir(cli.data_dir)?;
    match cli.command {
        Command::Init(args) => {
            let mut r = Replica::open(&replica_path(&dir))?;
            if let Some(existing) = r.university()?
                && existing != args.university
            {
                return Err(anyhow!(
                    "this replica already belongs to university {existing:?}"
                ));
            }
            r.set_university(&args.university)?;
            if let Some(user) = &args.user {
                r.set_user(user)?;
            }
            let info = r.info()?;
            out.value(&info, || {
                format!(
                    "Replica ready at {} (university {}, device {})",
                    info.path.display(),
                    args.university,
                    &info.device[..8]
                )
            })
        }
        Command::Demo(args) => {
            let mut r = Replica::open(&replica_path(&dir))?;
            let tier = Tier::parse(&args.tier)?;
            let mut spec = DemoSpec::new(tier, args.seed);
            spec.filled = args.filled.clamp(0.0, 1.0);
            let bar = out.progress("Generating demo journals");
            let summary = daftar_core::demo::generate(&mut r, &spec, |done, total| {
                bar.set(done, total);
            })?;
            bar.finish();
            out.value(&summary, || {
                format!(
                    "Demo data ready: {} groups, {} students, {} modules, {} journals, {} lessons, {} marks",
                    summary.groups,
                    summary.students,
                    summary.modules,
                    summary.journals,
                    summary.lessons,
                    summary.cells
                )
            })
        }
        Command::Import(ImportCommand::Hemis(args)) => {
            // From the API: every page into a folder first (personal data stripped), then the
            // same import as from files.
            let scratch;
            let folder = match (&args.path, &args.url) {
                (Some(path), _) => path.clone(),
                (None, Some(url)) => {
                    let token = match &args.token_file {
                        Some(f) => std::fs::read_to_string(f)
                            .with_context(|| format!("cannot read the token file {}", f.display()))?
                            .trim()
                            .to_string(),
                        None => std::env::var("HEMIS_TOKEN").map_err(|_| {
                            anyhow!("give the HEMIS API token in HEMIS_TOKEN or with --token-file")
                        })?,
                    };
                    let target = match &args.save_to {
                        Some(d) => d.clone(),
                        None => {
                            scratch = tempfile::tempdir()?;
                            scratch.path().to_path_buf()
                        }
                    };
                    let filters = daftar_client::hemis::Filters {
                        education_year: args.year.clone(),
                        semester: args.semester.clone(),
                        faculty: args.faculty.clone(),
                    };
                    let quiet = out.is_json();
                    let fetched = sync_cmd::block_on(daftar_client::hemis::fetch(
                        url,
                        token.trim(),
                        &filters,
                        args.page_size,
                        &target,
                        |endpoint, page, pages| {
                            if !quiet {
                                eprintln!("HEMIS: {endpoint} page {page}/{pages}");
                            }
                        },
                    ))??;
                    if !quiet && !fetched.missing.is_empty() {
                        eprintln!(
                            "HEMIS has no {} here; imported without it",
                            fetched.missing.join(", ")
                        );
                    }
                    target
                }
                (None, None) => {
                    return Err(anyhow!(
                        "give a folder of HEMIS pages, or --url https://HOST/rest/v1"
                    ));
                }
            };
            let mut r = Replica::open(&replica_path(&dir))?;
            if r.university()?.is_none() {
                r.set_university("uni")?;
            }
            let summary = r.import_hemis(&folder)?;
            out.value(&summary, || {
                let mut text = format!(
                    "Imported from HEMIS: {} groups, {} students, {} teachers, {} modules, {} journals, {} lessons, {} absences, {} control results ({} changes written)",
                    summary.groups,
                    summary.students,
                    summary.teachers,
                    summary.modules,
                    summary.journals,
                    summary.lessons,
                    summary.absences,
                    summary.scores,
                    summary.changes_written
                );
                for c in &summary.changes {
                    text.push_str(&format!("\n  changed: {c}"));
                }
                for n in &summary.notes {
                    text.push_str(&format!("\n  note: {n}"));
                }
                text
            })
        }
        Command::Journals => {
            let r = open(&dir)?;
            let list = r.journals()?;
            out.value(&list, || output::journals_table(&list))
        }
        Command::Show { journal } => {
            let r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let view = r.journal_view(&id)?;
            let times = r.pair_times()?;
            out.value(&view, || output::journal_grid(&view, &times))
        }
        Command::Lesson(LessonCommand::Add {
            journal,
            date,
            pair,
            lesson_type,
            topic,
            subgroup,
            confirm,
        }) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let date = parse_user_date(&date)?;
            let lesson = r.add_lesson_checked(
                &id,
                NewLesson {
                    date: date.clone(),
                    pair,
                    lesson_type: LessonType::parse(&lesson_type)?,
                    topic,
                    teacher: None,
                    subgroup,
                },
                confirm,
            )?;
            out.value(
                &json!({ "journal": short_id(&id), "lesson": lesson }),
                || format!("Added lesson {lesson} on {date}, pair {pair}"),
            )
        }
        Command::Topic {
            journal,
            lesson,
            topic,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            r.set_topic(&id, &lesson, &topic)?;
            out.ok("Topic saved")
        }
        Command::Mark(args) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&args.journal)?;
            let lesson = r.resolve_lesson(&id, &args.lesson)?;
            let student = r.resolve_student(&id, &args.student)?;
            let typed = MarkInput::parse(&args.status)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "type a mark: + (present), nb (absent), e (excused), l (late) or a grade"
                )
            })?;
            let (status, grade) = match (typed.grade, args.grade) {
                (Some(a), Some(b)) if a != b => {
                    anyhow::bail!("two grades given: {a} in the mark and {b} in --grade")
                }
                (a, b) => (typed.status, a.or(b)),
            };
            r.mark(
                &id,
                &lesson,
                &student,
                MarkInput {
                    status,
                    grade,
                    note: args.note,
                    hours: args.hours,
                },
            )?;
            out.value(
                &json!({ "journal": short_id(&id), "lesson": lesson, "student": student, "status": status.name(), "grade": grade }),
                || format!("Saved: {student} {} at lesson {lesson}", status.name()),
            )
        }
        Command::MarkAll {
            journal,
            lesson,
            absent,
            roll,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            let mut absent = absent
                .iter()
                .map(|s| r.resolve_student(&id, s))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(roll) = roll {
                let view = r.journal_view(&id)?;
                for student in daftar_core::today::roll_call(&view, &roll)? {
                    if !absent.contains(&student) {
                        absent.push(student);
                    }
                }
            }
            let n = r.mark_all(&id, &lesson, &absent)?;
            out.value(
                &json!({ "journal": short_id(&id), "lesson": lesson, "marked": n, "absent": absent }),
                || format!("Saved: {n} students marked, {} absent", absent.len()),
            )
        }
        Command::Score {
            journal,
            control,
            student,
            points,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let student = r.resolve_student(&id, &student)?;
            match r.enter_score(&id, &control, &student, &points)? {
                ScoreEntry::Points(p) => out.ok(&format!("Saved: {control} = {p} for {student}")),
                ScoreEntry::Absent => {
                    out.ok(&format!("Saved: {student} absent from {control} (kelmadi)"))
                }
                ScoreEntry::Cleared => out.ok(&format!(
                    "Saved: {student} no longer recorded absent from {control}"
                )),
            }
        }
        Command::Lesson(LessonCommand::Cancel { journal, lesson }) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            r.cancel_lesson(&id, &lesson)?;
            out.ok(&format!("Lesson {lesson} cancelled"))
        }
        Command::Lesson(LessonCommand::Move {
            journal,
            lesson,
            date,
            pair,
            confirm,
        }) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            let date = parse_user_date(&date)?;
            let new = r.move_lesson(&id, &lesson, &date, pair, confirm)?;
            let pair = r
                .journal_view(&id)?
                .lessons
                .iter()
                .find(|l| l.id == new)
                .map(|l| l.pair)
                .unwrap_or_default();
            out.value(
                &json!({ "journal": short_id(&id), "cancelled": lesson, "lesson": new }),
                || {
                    format!(
                        "Moved: lesson {lesson} cancelled, lesson {new} added on {} at pair {pair}",
                        display_date(&date)
                    )
                },
            )
        }
        Command::Lesson(LessonCommand::Reassign {
            journal,
            lesson,
            teacher,
        }) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            r.reassign_lesson(&id, &lesson, &teacher)?;
            out.ok(&format!("Lesson {lesson} given to {teacher}"))
        }
        Command::Lesson(LessonCommand::Subgroup {
            journal,
            lesson,
            subgroup,
        }) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            let sg = Some(subgroup.as_str()).filter(|s| !matches!(s.trim(), "all" | "" | "-"));
            r.set_lesson_subgroup(&id, &lesson, sg)?;
            out.ok(&match sg {
                Some(sg) => format!("Lesson {lesson} is for subgroup {sg}"),
                None => format!("Lesson {lesson} is for the whole group"),
            })
        }
        Command::Hours { journal } => {
            let r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lines = r.delivered_hours(&id)?;
            out.value(&lines, || output::hours_table(&lines))
        }
        Command::Calendar(args) => {
            let mut r = open(&dir)?;
            let mut cal = r.calendar()?;
            let changes = args.autumn.is_some()
                || args.spring.is_some()
                || !args.semester.is_empty()
                || !args.holiday.is_empty()
                || args.clear_holidays;
            if changes {
                if let Some(t) = &args.autumn {
                    cal.autumn = Some(parse_term(t)?);
                }
                if let Some(t) = &args.spring {
                    cal.spring = Some(parse_term(t)?);
                }
                for s in &args.semester {
                    let (n, t) = s.split_once('=').ok_or_else(|| {
                        CoreError::invalid("semester", format!("{s:?}: write N=FROM..TO"))
                    })?;
                    cal.semesters.insert(n.trim().to_string(), parse_term(t)?);
                }
                if args.clear_holidays {
                    cal.holidays.clear();
                }
                for h in &args.holiday {
                    cal.holidays.insert(parse_user_date(h)?);
                }
                r.set_calendar(&cal)?;
            }
            out.value(&cal, || output::calendar_text(&cal))
        }
        Command::Student {
            journal,
            student,
            status,
            from,
            joined,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let student = r.resolve_student(&id, &student)?;
            let from = from.as_deref().map(parse_user_date).transpose()?;
            let joined = joined.as_deref().map(parse_user_date).transpose()?;
            let value = r.set_student_status(
                &id,
                &student,
                status.as_deref(),
                from.as_deref(),
                joined.as_deref(),
            )?;
            out.value(&value, || {
                format!(
                    "{}: {}{}",
                    value.name,
                    value.status,
                    value
                        .until
                        .as_deref()
                        .map(|d| format!(" from {}", display_date(d)))
                        .unwrap_or_default()
                )
            })
        }
        Command::Adjust(args) => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&args.journal)?;
            let lesson = r.resolve_lesson(&id, &args.lesson)?;
            let student = r.resolve_student(&id, &args.student)?;
            let to = Attendance::parse(&args.to)?;
            let kind = match &args.kind {
                Some(k) => AdjustmentValue::kind_code(k)?,
                None if to == Attendance::Excused => "11",
                None => "12",
            };
            r.record_adjustment(
                &id,
                &lesson,
                &student,
                AdjustmentValue {
                    to,
                    reason: args.reason.trim().to_string(),
                    document: args.document.clone(),
                    status: "approved".into(),
                    kind: Some(kind.into()),
                    deadline: args.deadline.as_deref().map(parse_user_date).transpose()?,
                },
            )?;
            out.ok(&format!(
                "Adjusted: {student} at lesson {lesson} → {}",
                args.to
            ))
        }
        Command::Lock {
            journal,
            lesson,
            reason,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = lesson.map(|l| r.resolve_lesson(&id, &l)).transpose()?;
            r.lock(&id, lesson.as_deref(), &reason)?;
            out.ok("Locked")
        }
        Command::RequestOpening {
            journal,
            lesson,
            reason,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            r.request_opening(&id, &lesson, &reason)?;
            out.ok("Request sent to the dean's office")
        }
        Command::OpenLesson {
            journal,
            lesson,
            until,
            reason,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = r.resolve_lesson(&id, &lesson)?;
            let until = parse_user_date(&until)?;
            r.open_lesson(&id, &lesson, &until, reason.as_deref())?;
            out.ok(&format!(
                "Lesson {lesson} open for its teacher until {until}"
            ))
        }
        Command::Openings { journal } => {
            let mut r = open(&dir)?;
            let journal = journal.map(|j| r.resolve_journal(&j)).transpose()?;
            let list = r.opening_requests(journal.as_deref())?;
            out.value(&list, || {
                if list.is_empty() {
                    return "No requests to open lessons.".to_string();
                }
                list.iter()
                    .map(|o| {
                        format!(
                            "{} {} ({}) by {}: {}{}",
                            o.journal,
                            o.lesson,
                            o.date.as_deref().map(display_date).unwrap_or_default(),
                            o.by.as_deref().unwrap_or("?"),
                            o.reason,
                            o.opened_until
                                .as_deref()
                                .map(|u| format!(" — open until {}", display_date(u)))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::EntryWindow { days } => {
            let mut r = open(&dir)?;
            let days = match days.trim() {
                "none" | "off" => None,
                d => Some(d.parse::<u32>().map_err(|_| {
                    anyhow::anyhow!(
                        "write the days after the lesson day (0 = the lesson day) or none"
                    )
                })?),
            };
            let n = r.set_entry_window(days)?;
            out.ok(&match days {
                Some(0) => format!("Marks may be written on the lesson day only ({n} journals)"),
                Some(d) => {
                    format!("Marks may be written up to {d} days after the lesson ({n} journals)")
                }
                None => format!("No entry window ({n} journals)"),
            })
        }
        Command::Unlock { journal, lesson } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = lesson.map(|l| r.resolve_lesson(&id, &l)).transpose()?;
            r.unlock(&id, lesson.as_deref())?;
            out.ok("Unlocked")
        }
        Command::History {
            journal,
            lesson,
            student,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let lesson = lesson.map(|l| r.resolve_lesson(&id, &l)).transpose()?;
            let student = match (&lesson, student) {
                (Some(_), Some(s)) => Some(r.resolve_student(&id, &s)?),
                (None, Some(_)) => anyhow::bail!("name the lesson before the student"),
                (_, None) => None,
            };
            let list = r.history(&id, lesson.as_deref(), student.as_deref())?;
            out.value(&list, || output::history_table(&list))
        }
        Command::Conflicts { journal } => {
            let r = open(&dir)?;
            let journal = journal.map(|j| r.resolve_journal(&j)).transpose()?;
            let list = r.conflicts(journal.as_deref())?;
            out.value(&list, || output::conflicts_table(&list))
        }
        Command::Resolve(args) => {
            let mut r = open(&dir)?;
            let choice = match (args.pick, args.value) {
                (Some(n), _) => Choice::Pick(n),
                (None, Some(v)) => Choice::Value(v),
                (None, None) => return Err(anyhow!("give --pick N or --value V")),
            };
            r.resolve(&args.conflict, choice, args.note.as_deref())?;
            out.ok("Resolved")
        }
        Command::Bundle(BundleCommand::Export { file, for_peer }) => {
            let mut r = open(&dir)?;
            let bundle = match for_peer {
                None => r.export_bundle()?,
                Some(heads) => {
                    let text = std::fs::read_to_string(&heads)
                        .with_context(|| format!("cannot read {}", heads.display()))?;
                    let peer: PeerHeads = serde_json::from_str(&text).with_context(|| {
                        format!(
                            "{} is not a heads file from `daftar bundle heads`",
                            heads.display()
                        )
                    })?;
                    r.export_for(&peer)?
                }
            };
            bundle.write(&file)?;
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            out.value(
                &json!({ "file": file, "chunks": bundle.chunks.len(), "bytes": size }),
                || {
                    format!(
                        "Wrote {} ({} chunks, {} bytes)",
                        file.display(),
                        bundle.chunks.len(),
                        size
                    )
                },
            )
        }
        Command::Bundle(BundleCommand::Heads { file }) => {
            let mut r = open(&dir)?;
            let heads = r.heads()?;
            std::fs::write(&file, serde_json::to_vec_pretty(&heads)?)
                .with_context(|| format!("cannot write {}", file.display()))?;
            out.value(
                &json!({ "file": file, "documents": heads.docs.len() }),
                || format!("Wrote {} ({} documents)", file.display(), heads.docs.len()),
            )
        }
        Command::Bundle(BundleCommand::Import { file }) => {
            let bundle =
                Bundle::read(&file).with_context(|| format!("cannot import {}", file.display()))?;
            let mut r = Replica::open(&replica_path(&dir))?;
            let report = r.import_bundle(bundle)?;
            out.value(&report, || {
                format!(
                    "Imported: {} new changes in {} documents{}",
                    report.new_changes,
                    report.documents,
                    if report.pending > 0 {
                        format!(", {} waiting for earlier changes", report.pending)
                    } else {
                        String::new()
                    }
                )
            })
        }
        Command::Export {
            journal,
            format,
            script,
            output,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let script = script
                .as_deref()
                .map(daftar_core::statement::Script::parse)
                .transpose()?;
            r.export_journal(&id, ExportFormat::parse(&format)?, script, &output)?;
            out.value(&json!({ "file": output }), || {
                format!("Wrote {}", output.display())
            })
        }
        Command::Report { journal } => {
            let r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let report = r.report(&id)?;
            out.value(&report, || output::report_table(&report))
        }
        Command::Standing {
            faculty,
            group,
            semester,
            level,
            output,
            script,
        } => {
            let mut r = open(&dir)?;
            let scope = daftar_core::standing::Scope {
                faculty,
                group,
                semester,
            };
            let at_least = daftar_rules::assessment::Level::parse(&level)
                .unwrap_or(daftar_rules::assessment::Level::Warning);
            let list = r.standing(&scope, at_least)?;
            if let Some(path) = &output {
                let script = match script {
                    Some(s) => daftar_core::statement::Script::parse(&s)?,
                    None => r.statement_script()?,
                };
                daftar_core::statement::write_standing_xlsx(&list, script, path)?;
                if !out.is_json() {
                    eprintln!("Wrote {} students to {}", list.len(), path.display());
                }
            }
            out.value(&list, || output::standing_table(&list))
        }
        Command::Retake {
            journal,
            student,
            sitting,
            reason,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let student = r.resolve_student(&id, &student)?;
            r.permit_retake(&id, &student, sitting, &reason)?;
            out.ok(&format!(
                "Student {student} may sit the final again (sitting {sitting})"
            ))
        }
        Command::Statement {
            journal,
            sitting,
            script,
            output,
        } => {
            let mut r = open(&dir)?;
            let id = r.resolve_journal(&journal)?;
            let statement = r.statement(&id, sitting)?;
            let script = match script {
                Some(s) => daftar_core::statement::Script::parse(&s)?,
                None => r.statement_script()?,
            };
            daftar_core::statement::write_statement(&statement, script, &output)?;
            out.value(&statement, || {
                format!(
                    "Wrote the {} of {} ({}), sitting {}, {} students, to {}",
                    statement.form,
                    statement.subject,
                    statement.group,
                    statement.sitting,
                    statement.rows.len(),
                    output.display()
                )
            })
        }
        Command::Debtors {
            faculty,
            group,
            semester,
        } => {
            let r = open(&dir)?;
            let scope = daftar_core::standing::Scope {
                faculty,
                group,
                semester,
            };
            let list = r.debtors(&scope)?;
            out.value(&list, || output::debtors_table(&list))
        }
        Command::Compact => {
            let mut r = open(&dir)?;
            let n = r.compact_all()?;
            out.ok(&format!("Compacted {n} documents"))
        }
        Command::Login(args) => sync_cmd::login(&dir, args, out),
        Command::Logout => sync_cmd::logout(&dir, out),
        Command::Sync(args) => sync_cmd::sync(&dir, args, out),
        Command::Materials(command) => materials_cmd::run(&dir, command, out),
        Command::Status => sync_cmd::status(&dir, out),
        Command::DebugMarkLoop {
            journal,
            start,
            count,
        } => mark_loop(&dir, &journal, start, count),
    }
}

/// Marks cells one by one; after each edit returns (is durable), prints `ack LESSON STUDENT N`.
/// The crash test kills this process at random moments and checks every acknowledged edit.
fn mark_loop(dir: &Path, journal: &str, start: u64, count: u64) -> Result<()> {
    use std::io::Write as _;
    let mut r = open(dir)?;
    let id = r.resolve_journal(journal)?;
    let view = r.journal_view(&id)?;
    let lessons: Vec<String> = view
        .lessons
        .iter()
        .filter(|l| l.lock.is_none())
        .map(|l| l.id.clone())
        .collect();
    let students: Vec<String> = view
        .students
        .iter()
        .filter(|s| s.status == "active")
        .map(|s| s.id.clone())
        .collect();
    if lessons.is_empty() || students.is_empty() {
        return Err(anyhow!("the journal has no lessons or students to mark"));
    }
    let mut stdout = std::io::stdout().lock();
    for n in start..start.saturating_add(count) {
        let lesson = &lessons[(n as usize * 7) % lessons.len()];
        let student = &students[(n as usize * 13 + n as usize / lessons.len()) % students.len()];
        r.mark(
            &id,
            lesson,
            student,
            MarkInput {
                status: Attendance::Present,
                grade: None,
                note: Some(format!("n{n}")),
                hours: None,
            },
        )?;
        writeln!(stdout, "ack {lesson} {student} {n}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// `FROM..TO` with dates as people type them.
fn parse_term(text: &str) -> Result<daftar_core::lessons::Term, CoreError> {
    let (from, to) = text.split_once("..").ok_or_else(|| {
        CoreError::invalid(
            "dates",
            format!("{text:?}: write FROM..TO, e.g. 02.09.2026..27.12.2026"),
        )
    })?;
    Ok(daftar_core::lessons::Term {
        from: parse_user_date(from)?,
        to: parse_user_date(to)?,
    })
}

//! # daftar-core
//!
//! Daftar's offline core: a university department's groups, course modules and journals as
//! automerge documents in a local SQLite replica, with a relational projection for screens and
//! reports, a conflict inbox, change bundles for merging without a server, HEMIS import, demo
//! data, reports and exports. It knows nothing of Tauri, HTTP or the UI; callers give it a
//! database path (and, in tests, a clock).
//!
//! ```
//! use daftar_core::{Replica, demo, journal::MarkInput, model::Attendance};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut replica = Replica::open(&dir.path().join("replica.db")).unwrap();
//! demo::generate(&mut replica, &demo::DemoSpec::new(demo::Tier::Xs, 7), |_, _| {}).unwrap();
//!
//! let journal = replica.journals().unwrap()[0].id.clone();
//! let journal = replica.resolve_journal(&journal).unwrap();
//! let view = replica.journal_view(&journal).unwrap();
//! let (lesson, student) = (&view.lessons[0].id, &view.students[0].id);
//! replica
//!     .mark(&journal, lesson, student, MarkInput { status: Attendance::Absent, grade: None, note: None, hours: None })
//!     .unwrap();
//! let report = replica.report(&journal).unwrap();
//! assert!(report.students.iter().any(|s| s.unexcused_hours >= 2));
//! ```
//!
//! Modules, from storage up: [`schema`] (migrations), [`doc`] (document shapes), [`replica`]
//! (the SQLite replica and its two write doors), [`projection`] and [`conflicts`] (what the
//! documents mean in rows), [`journal`] (actions and views), [`report`], [`export`],
//! [`bundle`], [`hemis`], [`demo`].

pub mod bundle;
pub mod catalog;
pub mod conflicts;
pub mod demo;
pub mod doc;
pub mod error;
pub mod export;
pub mod hemis;
pub mod history;
pub mod inbox;
pub mod journal;
pub mod lessons;
pub mod materials;
pub mod model;
pub mod overruled;
pub mod pdf;
pub mod projection;
pub mod provenance;
pub mod replica;
pub mod report;
pub mod schema;
pub mod standing;
pub mod statement;
pub mod today;

pub use daftar_protocol::DocKind;
pub use error::{CoreError, ErrorKind, Result};
pub use replica::{ApplyReport, Incoming, Replica};

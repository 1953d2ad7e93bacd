//! Daftar's write rules, in one place: who may write which document, which part of it, and
//! what a change may contain (design §5, `docs/security.md`).
//!
//! No I/O and no database: `daftar-core` uses it to refuse a local edit before it is saved,
//! the CLI and the desktop app show its reasons, and `daftar-sync` runs every pushed change
//! through it before storing anything, so a hand-made client meets the same rules as the stock
//! one and gets the same words back.
//!
//! - [`genesis`]: the shape of each document kind (its top-level maps) and the genesis change
//!   every replica writes identically;
//! - [`change`]: reading a change from outside bytes, bounded ([`change::Limits`]), into the
//!   writes it makes;
//! - [`access`]: document-level decisions (assignment, faculty, department, metadata);
//! - [`table`]: the part-level rule table and the value checks;
//! - [`values`]: the values documents hold;
//! - [`window`]: entry windows and lesson openings;
//! - [`materials`]: course materials' descriptions and their limits.
//!
//! ```
//! use daftar_protocol::{DocKind, Role};
//! use daftar_rules::change::{inspect, Limits};
//! use daftar_rules::table::{check_change, Writer};
//! use automerge::{transaction::Transactable, ActorId, ReadDoc, ROOT};
//!
//! let mut am = daftar_rules::genesis::genesis_doc("journal/j", DocKind::Journal);
//! am.set_actor(ActorId::random());
//! let (_, locks) = am.get(ROOT, "locks").unwrap().unwrap();
//! am.put(&locks, "h1", r#"{"reason":"closed"}"#).unwrap(); // close lesson h1
//! am.commit();
//! let bytes = am.get_last_local_change().unwrap().raw_bytes().to_vec();
//! let change = inspect("journal/j", DocKind::Journal, &bytes, &Limits::default()).unwrap();
//! let teacher = Writer { name: "anvar", role: Role::Teacher };
//! let refused = check_change(teacher, DocKind::Journal, &change).unwrap_err();
//! assert!(refused.0.contains("locks"));
//! ```

pub mod access;
pub mod assessment;
pub mod change;
pub mod final_control;
pub mod genesis;
pub mod guard;
pub mod lessons;
pub mod materials;
pub mod table;
pub mod values;
pub mod window;

pub use access::{Denied, Principal, WriteFacts, may_set_meta, may_write};
pub use change::{Inspected, Limits, Unreadable, Write, WriteOp, inspect};
pub use guard::guarded;
pub use table::{Capabilities, Refused, Writer, check_change};

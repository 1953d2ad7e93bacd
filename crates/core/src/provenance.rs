//! Who made each change and when the server received it, as the server recorded it
//! (issue 9: authorship the writer cannot forge).
//!
//! A change's own message may claim an author (`{"by": …}`); people are shown the server's
//! record instead: each device (automerge actor) belongs to the user who first pushed from it,
//! and every pull brings the owners of the devices in its page ([`Replica::apply_pulled`]).
//! A replica's own device is recorded once the server has accepted a push from it. Changes
//! that only came by bundle show their claim, marked unverified, until the server has spoken.
//!
//! Receipt times are kept only where they are more than a day from the device's clock, so a
//! week offline (or a clock set back) shows both.
//!
//! [`Replica::apply_pulled`]: crate::Replica::apply_pulled

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use automerge::{ActorId, ChangeHash};
use rusqlite::{Connection, params};

use crate::error::Result;

#[derive(Default)]
struct Known {
    authors: HashMap<ActorId, String>,
    receipts: HashMap<ChangeHash, i64>,
}

/// The replica's record of authors and receipts, shared by its loaded documents.
#[derive(Clone, Default)]
pub struct Provenance(Arc<RwLock<Known>>);

impl std::fmt::Debug for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Provenance")
    }
}

/// What a page from the server says about its changes: (hex actor, user), (hex hash, ms).
#[derive(Debug, Clone, Default)]
pub struct PageProvenance {
    pub authors: Vec<(String, String)>,
    pub receipts: Vec<(String, i64)>,
}

impl Provenance {
    pub(crate) fn load(conn: &Connection) -> Result<Provenance> {
        let mut known = Known::default();
        let mut stmt = conn.prepare("SELECT actor, user FROM authors")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (actor, user) = row?;
            if let Ok(bytes) = hex::decode(&actor) {
                known.authors.insert(ActorId::from(bytes), user);
            }
        }
        let mut stmt = conn.prepare("SELECT hash, received_at FROM receipts")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (hash, at) = row?;
            if let Ok(h) = hash.parse::<ChangeHash>() {
                known.receipts.insert(h, at);
            }
        }
        Ok(Provenance(Arc::new(RwLock::new(known))))
    }

    /// Stores what the server said (inside the caller's transaction) and remembers it.
    pub(crate) fn record(&self, conn: &Connection, page: &PageProvenance) -> Result<()> {
        if page.authors.is_empty() && page.receipts.is_empty() {
            return Ok(());
        }
        let mut author = conn.prepare_cached(
            "INSERT INTO authors (actor, user) VALUES (?1, ?2)
             ON CONFLICT (actor) DO UPDATE SET user = excluded.user",
        )?;
        let mut receipt = conn.prepare_cached(
            "INSERT INTO receipts (hash, received_at) VALUES (?1, ?2)
             ON CONFLICT (hash) DO UPDATE SET received_at = excluded.received_at",
        )?;
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        for (actor, user) in &page.authors {
            let Ok(bytes) = hex::decode(actor) else {
                continue;
            };
            author.execute(params![actor, user])?;
            known.authors.insert(ActorId::from(bytes), user.clone());
        }
        for (hash, at) in &page.receipts {
            let Ok(h) = hash.parse::<ChangeHash>() else {
                continue;
            };
            receipt.execute(params![hash, at])?;
            known.receipts.insert(h, *at);
        }
        Ok(())
    }

    /// The user the server says `actor` belongs to.
    pub fn author(&self, actor: &ActorId) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .authors
            .get(actor)
            .cloned()
    }

    /// When the server received `hash`, if that is worth showing.
    pub fn receipt(&self, hash: &ChangeHash) -> Option<i64> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .receipts
            .get(hash)
            .copied()
    }
}

//! What waits to go up (each change's owner, the waiting count), what the server said of it
//! (acknowledged, refused and why), and the sync bookkeeping per server (cursor, access
//! version, last success and error).

use super::*;

impl Replica {
    /// Local changes the server has not acknowledged, oldest first, up to `max_bytes`
    /// (at least one change).
    /// Refused changes are left out unless `include_refused`.
    pub fn outgoing(&self, max_bytes: usize, include_refused: bool) -> Result<Vec<OutgoingChange>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, hash, doc_id, bytes, refused FROM changes
             WHERE local = 1 AND pushed = 0 AND (?1 OR refused IS NULL) AND owner IS ?2
             ORDER BY seq",
        )?;
        // Only the signed-in user's own changes go up: another user's unsent work waits for
        // their sign-in, never goes under this one's name.
        let me = signed_in_owner(&self.conn)?;
        let mut out = Vec::new();
        let mut total = 0usize;
        let rows = stmt.query_map(params![include_refused, me], |r| {
            Ok(OutgoingChange {
                seq: r.get(0)?,
                hash: r.get(1)?,
                doc: r.get(2)?,
                bytes: r.get(3)?,
                refused: r.get(4)?,
            })
        })?;
        for row in rows {
            let row = row?;
            if !out.is_empty() && total + row.bytes.len() > max_bytes {
                break;
            }
            total += row.bytes.len();
            out.push(row);
        }
        Ok(out)
    }

    /// Count of changes waiting to go up: the signed-in user's; signed out, everyone's (kept
    /// here until their owners sign in again).
    pub fn waiting(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM changes WHERE local = 1 AND pushed = 0 AND (?1 IS NULL OR owner = ?1)",
            [signed_in_owner(&self.conn)?],
            |r| r.get(0),
        )?)
    }

    /// Records the server's answer to a push: acknowledged changes are marked pushed,
    /// refused ones keep their reason (they stay, and go up again when access changes).
    pub fn record_push(&mut self, acked: &[String], refused: &[(String, String)]) -> Result<()> {
        let tx = self.conn.savepoint()?;
        {
            let mut ack =
                tx.prepare("UPDATE changes SET pushed = 1, refused = NULL WHERE hash = ?1")?;
            for h in acked {
                ack.execute([h])?;
            }
            let mut refuse = tx.prepare("UPDATE changes SET refused = ?2 WHERE hash = ?1")?;
            for (h, why) in refused {
                refuse.execute(params![h, why])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Changes refused by the server, with the reason.
    pub fn refused(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self.conn.prepare(
            // Only local changes not yet pushed can be refused (the index on (pushed, local)
            // keeps this from reading every change row of the replica on each sync).
            "SELECT hash, doc_id, refused FROM changes
             WHERE local = 1 AND pushed = 0 AND refused IS NOT NULL ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks every change as pushed (after a full upload, or for changes that came from the
    /// server itself).
    pub fn mark_remote_known(&mut self, hashes: &[String]) -> Result<()> {
        self.record_push(hashes, &[])
    }

    /// Pending (not yet applicable) changes of a document, raw.
    pub fn pending_changes(&self, doc_id: &str) -> Result<Vec<Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT bytes FROM changes WHERE doc_id = ?1 AND applied = 0 ORDER BY seq")?;
        let rows = stmt
            .query_map([doc_id], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sync cursor and access version for a server.
    pub fn sync_state(&self, server: &str) -> Result<(u64, u64)> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor, access FROM sync_state WHERE server = ?1",
                [server],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .optional()?
            .unwrap_or((0, 0)))
    }

    /// Records the outcome of a sync attempt.
    pub fn record_sync_result(&self, server: &str, error: Option<&str>) -> Result<()> {
        let now = self.now();
        match error {
            None => self.conn.execute(
                "INSERT INTO sync_state (server, last_success, last_error) VALUES (?1, ?2, NULL)
                 ON CONFLICT (server) DO UPDATE SET last_success = ?2, last_error = NULL",
                params![server, now],
            )?,
            Some(e) => self.conn.execute(
                "INSERT INTO sync_state (server, last_error) VALUES (?1, ?2)
                 ON CONFLICT (server) DO UPDATE SET last_error = ?2",
                params![server, e],
            )?,
        };
        Ok(())
    }

    /// Last successful sync (unix ms) and last error for a server.
    pub fn sync_history(&self, server: &str) -> Result<(Option<i64>, Option<String>)> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_success, last_error FROM sync_state WHERE server = ?1",
                [server],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((None, None)))
    }
}

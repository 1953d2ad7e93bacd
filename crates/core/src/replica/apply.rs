//! The second write door: changes from a bundle or the server applied to the documents, new
//! changes stored, projection and conflict inbox refreshed from the automerge patches, all in
//! one transaction; a document that arrives whole (a snapshot) is taken as it is.

use super::*;

impl Replica {
    /// Applies changes from elsewhere (a bundle, the server) in one transaction: all of them,
    /// or (a damaged document) none.
    pub fn apply_remote(&mut self, incoming: Vec<Incoming>) -> Result<ApplyReport> {
        // A bundle read while someone is signed in is theirs to read (they brought it).
        let docs: BTreeSet<String> = incoming.iter().map(|i| i.doc().to_string()).collect();
        let report = self.apply_incoming(incoming, false)?;
        if let Some(owner) = signed_in_owner(&self.conn)? {
            for doc in &docs {
                add_reader(&self.conn, doc, &owner)?;
            }
        }
        Ok(report)
    }

    /// Like [`Replica::apply_remote`], but with `lenient` a document that cannot be applied
    /// is set aside ([`Replica::set_aside`]) and the others go in.
    fn apply_incoming(&mut self, incoming: Vec<Incoming>, lenient: bool) -> Result<ApplyReport> {
        let mut by_doc: BTreeMap<String, Vec<Incoming>> = BTreeMap::new();
        for item in incoming {
            let doc = item.doc().to_string();
            if DocKind::of_doc_id(&doc).is_none() {
                return Err(CoreError::invalid(
                    "document",
                    format!("{doc:?} is not a Daftar document id"),
                ));
            }
            by_doc.entry(doc).or_default().push(item);
        }
        let touched: Vec<String> = by_doc.keys().cloned().collect();
        let result = self.atomically(|r| r.apply_remote_inner(by_doc, lenient));
        if result.is_err() {
            for id in &touched {
                self.docs.remove(id);
            }
        }
        result
    }

    fn apply_remote_inner(
        &mut self,
        mut by_doc: BTreeMap<String, Vec<Incoming>>,
        lenient: bool,
    ) -> Result<ApplyReport> {
        let Replica {
            conn,
            docs,
            device,
            provenance,
            ..
        } = self;
        let tx = conn.savepoint()?;
        // Documents this replica has never had, arriving as one saved document each (a
        // faculty's first replica: hundreds). A second thread loads them into automerge while
        // this one projects the ones before them; their items are taken out here.
        let mut fresh: Vec<Fresh> = Vec::new();
        for (doc_id, items) in by_doc.iter_mut() {
            // A saved document, optionally followed by the changes made after it (a server
            // snapshot and its tail).
            let (Some(kind), [Incoming::Document { .. }, rest @ ..]) =
                (DocKind::of_doc_id(doc_id), items.as_slice())
            else {
                continue;
            };
            if !rest.iter().all(|i| matches!(i, Incoming::Change { .. }))
                || docs.contains_key(doc_id)
                || document_known(&tx, doc_id)?
            {
                continue;
            }
            let mut snapshot = Vec::new();
            let mut tail = Vec::new();
            for item in std::mem::take(items) {
                match item {
                    Incoming::Document { bytes, .. } => snapshot = bytes,
                    Incoming::Change { bytes, .. } => tail.push(bytes),
                }
            }
            fresh.push(Fresh {
                id: doc_id.clone(),
                kind,
                snapshot,
                tail,
            });
        }
        let device: &ActorId = device;
        let mut report = ApplyReport::default();
        std::thread::scope(|scope| -> Result<()> {
            let (sender, loaded) = std::sync::mpsc::sync_channel::<(Fresh, Result<Doc>)>(4);
            scope.spawn(move || {
                for item in fresh {
                    let doc = Doc::load(
                        &item.id,
                        item.kind,
                        Some(&item.snapshot),
                        item.tail.iter().map(Vec::as_slice),
                        device,
                    );
                    if sender.send((item, doc)).is_err() {
                        break; // the apply failed and stopped listening
                    }
                }
            });
            for (doc_id, items) in by_doc {
                if lenient {
                    tx.execute_batch("SAVEPOINT apply_document")?;
                }
                // One firewall per document: automerge may panic on bytes it should refuse
                // (`daftar_rules::guard`), in an apply or in reading the graph afterwards; the
                // document is then set aside like any other that cannot be applied.
                let doc_name = doc_id.clone();
                let outcome = crate::doc::guarded(&doc_name, || -> Result<()> {
                    if items.is_empty() {
                        // Loaded by the other thread, in the same order.
                        let (item, doc) = loaded.recv().map_err(|_| {
                            CoreError::BadBundle(format!("{doc_id} could not be loaded"))
                        })?;
                        debug_assert_eq!(item.id, doc_id);
                        let mut doc = doc?;
                        doc.provenance = provenance.clone();
                        // The snapshot as it came; the tail as change rows on top of it.
                        tx.prepare_cached(
                            "INSERT INTO documents (id, kind, snapshot, snapshot_seq) VALUES (?1, ?2, ?3, 0)",
                        )?
                        .execute(params![doc_id, doc.kind.as_str(), item.snapshot])?;
                        for bytes in &item.tail {
                            let hash = decode_change(&doc_id, bytes)?.hash();
                            if store_remote(&tx, &mut doc, &hash, bytes)? {
                                report.pending += 1;
                            }
                        }
                        if !doc.am.get_heads().is_empty() {
                            report.documents += 1;
                            // The change graph's size (listing the changes would walk every op).
                            report.new_changes +=
                                automerge::ReadDoc::stats(&doc.am).num_changes as usize;
                            projection::refresh(&tx, &mut doc, &Refresh::Whole)?;
                        }
                        docs.insert(doc_id.clone(), doc);
                        return Ok(());
                    }
                    let kind = DocKind::of_doc_id(&doc_id).ok_or_else(|| {
                        CoreError::invalid("document", format!("{doc_id:?} is not a document id"))
                    })?;
                    if !document_known(&tx, &doc_id)? {
                        tx.execute(
                            "INSERT INTO documents (id, kind) VALUES (?1, ?2)",
                            params![doc_id, kind.as_str()],
                        )?;
                    }
                    if !docs.contains_key(&doc_id) {
                        let mut doc = match load_doc(&tx, &doc_id, device)? {
                            Some(d) => d,
                            None => Doc::load(&doc_id, kind, None, std::iter::empty(), device)?,
                        };
                        doc.provenance = provenance.clone();
                        docs.insert(doc_id.clone(), doc);
                    }
                    let Some(doc) = docs.get_mut(&doc_id) else {
                        return Ok(());
                    };
                    let before = doc.am.get_heads();
                    let was_empty = before.is_empty();
                    // Rows stored earlier without their dependencies sit in the document's queue
                    // (`load_doc` feeds them back in); with an empty queue there are none to look for,
                    // which spares a scan of every change row of the document on each apply.
                    let had_queued = !doc.am.get_missing_deps(&[]).is_empty();
                    let mut raw_changes: Vec<(ChangeHash, Vec<u8>)> = Vec::new();
                    // Consecutive changes are applied as one batch: automerge applies a batch in one
                    // pass over the document, where one call per change costs a pass each.
                    let mut batch: Vec<Change> = Vec::new();
                    let flush = |doc: &mut Doc, batch: &mut Vec<Change>| -> Result<()> {
                        if !batch.is_empty() {
                            let batch = std::mem::take(batch);
                            crate::doc::guarded(&doc_id, || doc.am.apply_changes(batch))?
                                .map_err(|source| crate::doc::doc_err(&doc_id, source))?;
                        }
                        Ok(())
                    };
                    for item in items {
                        match item {
                            Incoming::Change { bytes, .. } => {
                                let change = decode_change(&doc_id, &bytes)?;
                                raw_changes.push((change.hash(), bytes));
                                batch.push(change);
                            }
                            Incoming::Document { bytes, .. } => {
                                flush(doc, &mut batch)?;
                                crate::doc::guarded(&doc_id, || doc.am.load_incremental(&bytes))?
                                    .map_err(|source| crate::doc::doc_err(&doc_id, source))?;
                            }
                        }
                    }
                    flush(doc, &mut batch)?;
                    let after = doc.am.get_heads();
                    doc.find_maps();
                    // Persist what is new: changes applied now, and changes still waiting for deps.
                    let new_applied: Vec<Change> = if before == after {
                        Vec::new()
                    } else {
                        doc.am.get_changes(&before)
                    };
                    let mut stored: BTreeSet<ChangeHash> = BTreeSet::new();
                    for c in &new_applied {
                        if insert_change(&tx, &doc_id, &c.hash(), c.raw_bytes(), false, true)? {
                            report.new_changes += 1;
                        }
                        stored.insert(c.hash());
                    }
                    for (hash, bytes) in &raw_changes {
                        if !stored.contains(hash) && store_remote(&tx, doc, hash, bytes)? {
                            report.pending += 1;
                        }
                    }
                    // Earlier pending rows that the new changes made applicable.
                    let pending: Vec<String> = if !had_queued {
                        Vec::new()
                    } else {
                        let mut stmt = tx.prepare(
                            "SELECT hash FROM changes WHERE doc_id = ?1 AND applied = 0",
                        )?;
                        stmt.query_map([&doc_id], |r| r.get::<_, String>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()?
                    };
                    for h in pending {
                        if let Ok(hash) = h.parse::<ChangeHash>()
                            && doc.am.get_change_by_hash(&hash).is_some()
                        {
                            tx.execute("UPDATE changes SET applied = 1 WHERE hash = ?1", [&h])?;
                        }
                    }
                    if before != after {
                        report.documents += 1;
                        let refresh =
                            if was_empty || !doc.is_complete() || doc.kind != DocKind::Journal {
                                Refresh::Whole
                            } else {
                                Refresh::from_changes(doc, &new_applied)
                            };
                        projection::refresh(&tx, doc, &refresh)?;
                    }
                    Ok(())
                })
                .and_then(|r| r);
                match outcome {
                    Ok(()) if lenient => tx.execute_batch("RELEASE apply_document")?,
                    Ok(()) => {}
                    Err(e) if lenient && e.is_damaged_document() => {
                        // One document this replica cannot apply must not stop every other
                        // one: it is set aside, with the error, and shown in the status.
                        tx.execute_batch("ROLLBACK TO apply_document; RELEASE apply_document")?;
                        docs.remove(&doc_id);
                        tracing::warn!(doc.id = %doc_id, error = %e, "document set aside");
                        tx.prepare_cached(
                            "INSERT INTO set_aside (doc_id, error, at) VALUES (?1, ?2, ?3)
                             ON CONFLICT (doc_id) DO UPDATE SET error = excluded.error, at = excluded.at",
                        )?
                        .execute(params![doc_id, e.to_string(), now_ms()])?;
                        report.set_aside.push(doc_id);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })?;
        tx.commit()?;
        Ok(report)
    }

    /// Applies a pulled page and advances the cursor in the same transaction.
    pub fn apply_pulled(
        &mut self,
        server: &str,
        incoming: Vec<Incoming>,
        provenance: &crate::provenance::PageProvenance,
        cursor: u64,
        access: u64,
    ) -> Result<ApplyReport> {
        // A sync when nothing changed writes nothing (a commit here costs a disk sync).
        if incoming.is_empty()
            && provenance.authors.is_empty()
            && provenance.receipts.is_empty()
            && self.sync_state(server)? == (cursor, access)
        {
            return Ok(ApplyReport::default());
        }
        let hashes: Vec<String> = incoming
            .iter()
            .filter_map(|i| match i {
                Incoming::Change { bytes, .. } => Change::from_bytes(bytes.clone())
                    .ok()
                    .map(|c| c.hash().to_string()),
                Incoming::Document { .. } => None,
            })
            .collect();
        let mut touched: Vec<String> = incoming
            .iter()
            .map(|i| match i {
                Incoming::Change { doc, .. } | Incoming::Document { doc, .. } => doc.clone(),
            })
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let report = self.atomically(|r| {
            // What the server sends, the signed-in user may read.
            if let Some(owner) = signed_in_owner(&r.conn)? {
                for doc in &touched {
                    add_reader(&r.conn, doc, &owner)?;
                }
            }
            // Authors first: the inbox the page produces names them.
            r.provenance.record(&r.conn, provenance)?;
            let report = r.apply_incoming(incoming, true)?;
            // What came from the server is known there: never push it back (nor show it
            // as refused).
            let mut stmt = r
                .conn
                .prepare_cached("UPDATE changes SET pushed = 1, refused = NULL WHERE hash = ?1")?;
            for h in &hashes {
                stmt.execute([h])?;
            }
            drop(stmt);
            r.conn.execute(
                "INSERT INTO sync_state (server, cursor, access) VALUES (?1, ?2, ?3)
                 ON CONFLICT (server) DO UPDATE SET cursor = excluded.cursor, access = excluded.access",
                params![server, cursor as i64, access as i64],
            )?;
            Ok(report)
        })?;
        for doc in &touched {
            self.compact_quietly(doc);
        }
        Ok(report)
    }
}

/// A document new to the replica that arrived whole: a saved document and the changes after it.
struct Fresh {
    id: String,
    kind: DocKind,
    snapshot: Vec<u8>,
    tail: Vec<Vec<u8>>,
}

fn decode_change(doc_id: &str, bytes: &[u8]) -> Result<Change> {
    Change::from_bytes(bytes.to_vec())
        .map_err(|e| CoreError::BadBundle(format!("holds a damaged change for {doc_id}: {e}")))
}

/// Stores a change from elsewhere that `doc` has been given; returns true when it is new here
/// and still waits for a dependency.
fn store_remote(conn: &Connection, doc: &mut Doc, hash: &ChangeHash, bytes: &[u8]) -> Result<bool> {
    let applied = doc.am.get_change_by_hash(hash).is_some();
    Ok(insert_change(conn, &doc.id, hash, bytes, false, applied)? && !applied)
}

fn document_known(conn: &Connection, doc_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE id = ?1")?
        .query_row([doc_id], |_| Ok(()))
        .optional()?
        .is_some())
}

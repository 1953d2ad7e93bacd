//! Change bundles: how replicas merge without a server (a field campus's USB stick).
//!
//! A bundle file is `DAFTARB1` + a zstd frame + the SHA-256 of the uncompressed payload. The
//! payload is a JSON header (format, university, exporting device) followed by chunks, each
//! either a whole saved document or one raw automerge change. Importing is idempotent and
//! order-free (automerge keys changes by hash; changes whose dependencies are missing wait in
//! the replica until they arrive), and all-or-nothing: a truncated or damaged file, or one
//! from another university, is refused before anything is written.

use std::path::Path;

use automerge::Change;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::replica::{ApplyReport, Incoming, Replica};

const MAGIC: &[u8; 8] = b"DAFTARB1";
const FORMAT: u32 = 1;
const TAG_DOCUMENT: u8 = 1;
const TAG_CHANGE: u8 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: u32,
    university: String,
    device: String,
    chunks: usize,
}

/// Every document's heads on a peer replica (`daftar bundle heads`), as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerHeads {
    pub university: String,
    pub docs: std::collections::BTreeMap<String, Vec<String>>,
}

/// A decoded bundle.
#[derive(Clone)]
pub struct Bundle {
    pub university: String,
    pub device: String,
    pub chunks: Vec<Incoming>,
}

impl Bundle {
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            format: FORMAT,
            university: self.university.clone(),
            device: self.device.clone(),
            chunks: self.chunks.len(),
        };
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let mut payload = Vec::new();
        payload.extend_from_slice(&(header.len() as u32).to_le_bytes());
        payload.extend_from_slice(&header);
        for chunk in &self.chunks {
            let (tag, doc, bytes) = match chunk {
                Incoming::Document { doc, bytes } => (TAG_DOCUMENT, doc, bytes),
                Incoming::Change { doc, bytes } => (TAG_CHANGE, doc, bytes),
            };
            payload.push(tag);
            payload.extend_from_slice(&(doc.len() as u16).to_le_bytes());
            payload.extend_from_slice(doc.as_bytes());
            payload.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            payload.extend_from_slice(bytes);
        }
        let checksum = Sha256::digest(&payload);
        let compressed = zstd::encode_all(payload.as_slice(), 3).unwrap_or_default();
        let mut out = Vec::with_capacity(compressed.len() + 40);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&compressed);
        out.extend_from_slice(&checksum);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Bundle> {
        let damaged = |why: &str| CoreError::BadBundle(format!("is truncated or damaged ({why})"));
        if bytes.len() < MAGIC.len() + 32 || &bytes[..MAGIC.len()] != MAGIC {
            if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] == MAGIC {
                return Err(damaged("too short"));
            }
            return Err(CoreError::BadBundle(
                "is not a Daftar bundle (made with `daftar bundle export`)".into(),
            ));
        }
        let (body, checksum) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 32);
        let payload = zstd::decode_all(body).map_err(|_| damaged("cannot decompress"))?;
        if Sha256::digest(&payload).as_slice() != checksum {
            return Err(damaged("checksum mismatch"));
        }
        let mut r = Reader {
            buf: &payload,
            pos: 0,
        };
        let header_len = r.u32().ok_or_else(|| damaged("no header"))? as usize;
        let header: Header =
            serde_json::from_slice(r.take(header_len).ok_or_else(|| damaged("short header"))?)
                .map_err(|_| damaged("bad header"))?;
        if header.format != FORMAT {
            return Err(CoreError::BadBundle(format!(
                "uses format {} which this Daftar cannot read",
                header.format
            )));
        }
        let mut chunks = Vec::with_capacity(header.chunks);
        while r.pos < payload.len() {
            let tag = r.u8().ok_or_else(|| damaged("chunk tag"))?;
            let doc_len = r.u16().ok_or_else(|| damaged("chunk id"))? as usize;
            let doc = std::str::from_utf8(r.take(doc_len).ok_or_else(|| damaged("chunk id"))?)
                .map_err(|_| damaged("chunk id"))?
                .to_string();
            let len = r.u32().ok_or_else(|| damaged("chunk length"))? as usize;
            let bytes = r.take(len).ok_or_else(|| damaged("chunk body"))?.to_vec();
            chunks.push(match tag {
                TAG_DOCUMENT => Incoming::Document { doc, bytes },
                TAG_CHANGE => Incoming::Change { doc, bytes },
                _ => return Err(damaged("unknown chunk")),
            });
        }
        if chunks.len() != header.chunks {
            return Err(damaged("chunk count"));
        }
        Ok(Bundle {
            university: header.university,
            device: header.device,
            chunks,
        })
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        // Write beside, then rename: a half-written file never carries the final name.
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, self.encode()).map_err(|e| CoreError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| CoreError::io(path, e))?;
        Ok(())
    }

    pub fn read(path: &Path) -> Result<Bundle> {
        let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
        Bundle::decode(&bytes)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl Replica {
    /// Every document whole, plus changes still waiting for their dependencies.
    pub fn export_bundle(&mut self) -> Result<Bundle> {
        let university = self.require_university()?;
        let mut chunks = Vec::new();
        for id in self.visible_doc_ids()? {
            let pending = self.pending_changes(&id)?;
            let doc = self.doc(&id)?;
            if !doc.am.get_heads().is_empty() {
                chunks.push(Incoming::Document {
                    doc: id.clone(),
                    bytes: doc.am.save(),
                });
            }
            for bytes in pending {
                chunks.push(Incoming::Change {
                    doc: id.clone(),
                    bytes,
                });
            }
        }
        Ok(Bundle {
            university,
            device: self.device_hex(),
            chunks,
        })
    }

    /// What this replica holds: every document's heads (hex change hashes). A peer passes it
    /// to [`Replica::export_for`] to send only what this replica lacks.
    pub fn heads(&mut self) -> Result<PeerHeads> {
        let university = self.require_university()?;
        let mut docs = std::collections::BTreeMap::new();
        for id in self.visible_doc_ids()? {
            let heads = self.doc(&id)?.am.get_heads();
            docs.insert(id, heads.iter().map(|h| h.to_string()).collect());
        }
        Ok(PeerHeads { university, docs })
    }

    /// A bundle of only what a peer with `peer` heads lacks: the changes after its heads for
    /// documents it has, whole documents for those it does not.
    pub fn export_for(&mut self, peer: &PeerHeads) -> Result<Bundle> {
        let university = self.require_university()?;
        if peer.university != university {
            return Err(CoreError::ForeignBundle {
                expected: university,
                found: peer.university.clone(),
            });
        }
        let mut chunks = Vec::new();
        for id in self.visible_doc_ids()? {
            let pending = self.pending_changes(&id)?;
            let doc = self.doc(&id)?;
            match peer.docs.get(&id) {
                None => {
                    if !doc.am.get_heads().is_empty() {
                        chunks.push(Incoming::Document {
                            doc: id.clone(),
                            bytes: doc.am.save(),
                        });
                    }
                }
                Some(hex_heads) => {
                    // Only heads we know can bound the set; unknown ones mean the peer is ahead.
                    let known: Vec<automerge::ChangeHash> = hex_heads
                        .iter()
                        .filter_map(|h| h.parse().ok())
                        .filter(|h| doc.am.get_change_by_hash(h).is_some())
                        .collect();
                    for change in doc.am.get_changes(&known) {
                        chunks.push(Incoming::Change {
                            doc: id.clone(),
                            bytes: change.raw_bytes().to_vec(),
                        });
                    }
                }
            }
            for bytes in pending {
                chunks.push(Incoming::Change {
                    doc: id.clone(),
                    bytes,
                });
            }
        }
        Ok(Bundle {
            university,
            device: self.device_hex(),
            chunks,
        })
    }

    /// A bundle of single changes chosen by `keep` (document id, change): for exporting only
    /// what a peer lacks, and for tests that exchange partial bundles.
    pub fn export_changes(
        &mut self,
        mut keep: impl FnMut(&str, &Change) -> bool,
    ) -> Result<Bundle> {
        let university = self.require_university()?;
        let mut chunks = Vec::new();
        for id in self.visible_doc_ids()? {
            let pending = self.pending_changes(&id)?;
            let doc = self.doc(&id)?;
            for change in doc.am.get_changes(&[]) {
                if keep(&id, &change) {
                    chunks.push(Incoming::Change {
                        doc: id.clone(),
                        bytes: change.raw_bytes().to_vec(),
                    });
                }
            }
            for bytes in pending {
                if let Ok(change) = Change::from_bytes(bytes.clone())
                    && keep(&id, &change)
                {
                    chunks.push(Incoming::Change {
                        doc: id.clone(),
                        bytes,
                    });
                }
            }
        }
        Ok(Bundle {
            university,
            device: self.device_hex(),
            chunks,
        })
    }

    /// Imports a bundle (all or nothing). A replica that has no university yet adopts the
    /// bundle's.
    pub fn import_bundle(&mut self, bundle: Bundle) -> Result<ApplyReport> {
        let adopt = match self.university()? {
            Some(mine) if mine != bundle.university => {
                return Err(CoreError::ForeignBundle {
                    expected: mine,
                    found: bundle.university,
                });
            }
            Some(_) => false,
            None => true,
        };
        let report = self.apply_remote(bundle.chunks)?;
        if adopt {
            self.set_university(&bundle.university)?;
        }
        Ok(report)
    }
}

//! Course materials on this computer: a department head attaches a file to a module (or one
//! of its topics), everyone who may read the module gets it.
//!
//! The module document holds each file's description (`materials["<sha-256>"]`,
//! [`daftar_rules::materials::MaterialValue`]), which syncs at once with every other change.
//! The bytes live beside the documents, by hash, in parts (`material_files`,
//! `material_parts`): attaching stores them with the description in one transaction, so the
//! file is safe here before anything says "attached"; a transfer stores each part as it
//! arrives, so a cut one goes on where it stopped; a file is usable only once all of it is here
//! and hashes right. Moving the bytes is the sync client's work (`daftar_client::materials`);
//! this module is what it moves from and to.

use std::path::{Path, PathBuf};

use daftar_rules::materials::{MaterialValue, materials_of};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Replica;
use crate::error::{CoreError, Result};
use crate::journal::short_id;
use crate::projection::Refresh;

/// The bytes one part holds: what one upload request carries and one download asks for.
pub const PART_BYTES: usize = daftar_protocol::MATERIAL_CHUNK_BYTES as usize;

/// Where a material's bytes stand on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MaterialStatus {
    /// All here: it opens.
    Here,
    /// Attached here; the server does not have all of it yet (the next syncs send it).
    Sending,
    /// Part of it is here; the next sync fetches the rest.
    Partial,
    /// Described, none of its bytes here yet.
    Missing,
}

/// One material of a module, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename_all = "camelCase"))]
pub struct Material {
    /// The SHA-256 of its bytes (hex): its identity everywhere.
    pub hash: String,
    pub module: String,
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    pub mime: Option<String>,
    pub topic: Option<String>,
    pub topic_name: Option<String>,
    pub status: MaterialStatus,
    /// Bytes here (all of them when `status` is `here` or `sending`).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub received: u64,
    /// The last transfer's trouble, in words, if it had any.
    pub problem: Option<String>,
}

/// A material the sync client moves: its module, hash and size, and the bytes already moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub module_doc: String,
    pub hash: String,
    pub name: String,
    pub size: u64,
    pub received: u64,
}

/// What the name of a file says its type is (for the system's viewer).
pub fn mime_of(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "rtf" => "application/rtf",
        "txt" => "text/plain",
        "djvu" => "image/vnd.djvu",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// The hex SHA-256 of `bytes`.
pub fn hash_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Replica {
    /// Attaches the file at `path` to `module` (and to one of its topics): its bytes and its
    /// description are saved together, as one action. The same file attached twice is kept once.
    pub fn attach_material(
        &mut self,
        module: &str,
        path: &Path,
        topic: Option<&str>,
    ) -> Result<Material> {
        let bytes = std::fs::read(path).map_err(|source| CoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.attach_material_bytes(module, &name, &bytes, topic)
    }

    /// [`Replica::attach_material`] of bytes already read.
    pub fn attach_material_bytes(
        &mut self,
        module: &str,
        name: &str,
        bytes: &[u8],
        topic: Option<&str>,
    ) -> Result<Material> {
        let module_doc = crate::catalog::doc_id("module", module);
        if !self.visible(&module_doc)? || !self.has_doc(&module_doc)? {
            return Err(CoreError::not_found("course module", short_id(&module_doc)));
        }
        let topic = match topic.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(self.topic_of(&module_doc, t)?),
            None => None,
        };
        let value = MaterialValue {
            name: name.trim().to_string(),
            size: bytes.len() as u64,
            mime: mime_of(name).map(str::to_owned),
            topic,
        };
        value.check()?;
        let hash = hash_of(bytes);
        let raw = serde_json::to_string(&value)
            .map_err(|e| CoreError::invalid("material", e.to_string()))?;
        let key = hash.clone();
        self.atomically(|r| {
            let owner = crate::replica::signed_in_owner_of(r)?;
            let have: Option<bool> = r
                .conn()
                .query_row(
                    "SELECT complete FROM material_files WHERE hash = ?1",
                    [&hash],
                    |row| row.get(0),
                )
                .optional()?;
            if have != Some(true) {
                r.conn()
                    .execute("DELETE FROM material_files WHERE hash = ?1", [&hash])?;
                r.conn().execute(
                    "INSERT INTO material_files (hash, size, received, complete, sent, owner)
                     VALUES (?1, ?2, ?2, 1, 0, ?3)",
                    params![hash, bytes.len() as i64, owner],
                )?;
                let mut insert = r.conn().prepare_cached(
                    "INSERT INTO material_parts (hash, offset, bytes) VALUES (?1, ?2, ?3)",
                )?;
                for (i, part) in bytes.chunks(PART_BYTES).enumerate() {
                    insert.execute(params![hash, (i * PART_BYTES) as i64, part])?;
                }
            }
            r.edit(&module_doc, "attach material", |doc| {
                doc.put("materials", &key, &raw)?;
                Ok(Refresh::Whole)
            })?;
            Ok(())
        })?;
        self.materials(Some(module))?
            .into_iter()
            .find(|m| m.hash == key)
            .ok_or_else(|| CoreError::not_found("material", key))
    }

    /// Removes a material from a module (one change). Its bytes stay here while another module
    /// describes them.
    pub fn remove_material(&mut self, module: &str, hash: &str) -> Result<()> {
        let module_doc = crate::catalog::doc_id("module", module);
        if !self.materials(Some(module))?.iter().any(|m| m.hash == hash) {
            return Err(CoreError::not_found("material", hash));
        }
        let key = hash.to_string();
        self.edit(&module_doc, "remove material", |doc| {
            doc.delete("materials", &key)?;
            Ok(Refresh::Whole)
        })?;
        Ok(())
    }

    /// The key of a module topic named by its id or (case-insensitively) its name.
    fn topic_of(&self, module_doc: &str, topic: &str) -> Result<String> {
        let found: Vec<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM module_topics WHERE module_id = ?1
                   AND (id = ?2 OR lower(name) = lower(?2)) ORDER BY position",
            )?
            .query_map([module_doc, topic], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(CoreError::not_found("topic", topic)),
            many => Err(CoreError::Ambiguous {
                what: "topics",
                id: topic.to_string(),
                candidates: many.join(", "),
            }),
        }
    }

    /// The materials of one module, or of every module the person signed in may read here, by
    /// module and name.
    pub fn materials(&mut self, module: Option<&str>) -> Result<Vec<Material>> {
        let modules: Vec<String> = match module {
            Some(m) => {
                let doc = crate::catalog::doc_id("module", m);
                if !self.visible(&doc)? || !self.has_doc(&doc)? {
                    return Err(CoreError::not_found("course module", short_id(&doc)));
                }
                vec![doc]
            }
            None => self
                .visible_doc_ids()?
                .into_iter()
                .filter(|d| d.starts_with("module/"))
                .collect(),
        };
        let mut out = Vec::new();
        for doc_id in modules {
            let described = materials_of(self.doc(&doc_id)?.am.document());
            for (hash, value) in described {
                out.push(self.material_view(&doc_id, hash, value)?);
            }
        }
        out.sort_by(|a, b| (&a.module, &a.name, &a.hash).cmp(&(&b.module, &b.name, &b.hash)));
        Ok(out)
    }

    fn material_view(
        &self,
        module_doc: &str,
        hash: String,
        value: MaterialValue,
    ) -> Result<Material> {
        type Row = (i64, bool, bool, Option<String>);
        let row: Option<Row> = self
            .conn()
            .query_row(
                "SELECT received, complete, sent, problem FROM material_files WHERE hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (received, status, problem) = match row {
            Some((received, true, false, problem)) => (received, MaterialStatus::Sending, problem),
            Some((received, true, true, problem)) => (received, MaterialStatus::Here, problem),
            Some((received, false, _, problem)) if received > 0 => {
                (received, MaterialStatus::Partial, problem)
            }
            Some((_, false, _, problem)) => (0, MaterialStatus::Missing, problem),
            None => (0, MaterialStatus::Missing, None),
        };
        let topic_name = match &value.topic {
            Some(t) => self
                .conn()
                .query_row(
                    "SELECT name FROM module_topics WHERE module_id = ?1 AND id = ?2",
                    [module_doc, t],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        Ok(Material {
            hash,
            module: short_id(module_doc).to_string(),
            name: value.name,
            size: value.size,
            mime: value.mime,
            topic: value.topic,
            topic_name,
            status,
            received: received.max(0) as u64,
            problem,
        })
    }

    /// The material a person names: by its hash or the hash's first 8 or more characters, or
    /// by its file name (any case), among the modules they may read.
    pub fn resolve_material(&mut self, name: &str) -> Result<Material> {
        let wanted = name.trim();
        let lower = wanted.to_lowercase();
        let all = self.materials(None)?;
        let mut found: Vec<&Material> = all
            .iter()
            .filter(|m| {
                (wanted.len() >= 8 && m.hash.starts_with(&lower)) || m.name.to_lowercase() == lower
            })
            .collect();
        found.dedup_by(|a, b| a.hash == b.hash);
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(CoreError::not_found("material", wanted)),
            many => Err(CoreError::Ambiguous {
                what: "materials",
                id: wanted.to_string(),
                candidates: many
                    .iter()
                    .map(|m| format!("{} ({})", m.name, &m.hash[..8]))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The bytes of a material a module the person signed in may read describes, once all of
    /// it is here.
    pub fn material_bytes(&mut self, hash: &str) -> Result<(Material, Vec<u8>)> {
        let Some(material) = self.materials(None)?.into_iter().find(|m| m.hash == hash) else {
            return Err(CoreError::not_found("material", hash));
        };
        if !matches!(
            material.status,
            MaterialStatus::Here | MaterialStatus::Sending
        ) {
            return Err(CoreError::invalid(
                "material",
                format!(
                    "{:?} is not on this computer yet ({} of {} bytes); it comes with the next sync",
                    material.name, material.received, material.size
                ),
            ));
        }
        let bytes = self.material_range(hash, 0, material.size)?;
        Ok((material, bytes))
    }

    /// Writes a material into `folder` under its own name (a name already taken there gets the
    /// hash's start added) and returns the file's path.
    pub fn save_material(&mut self, hash: &str, folder: &Path) -> Result<PathBuf> {
        let (material, bytes) = self.material_bytes(hash)?;
        std::fs::create_dir_all(folder).map_err(|source| CoreError::Io {
            path: folder.to_owned(),
            source,
        })?;
        let mut path = folder.join(&material.name);
        if path.exists() && std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            let (stem, ext) = match material.name.rsplit_once('.') {
                Some((s, e)) => (s.to_string(), format!(".{e}")),
                None => (material.name.clone(), String::new()),
            };
            path = folder.join(format!("{stem} ({}){ext}", &hash[..8]));
        }
        let tmp = path.with_extension("daftar-part");
        let write = || -> std::io::Result<()> {
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|source| CoreError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Bytes `[from, to)` of a material's stored parts.
    pub fn material_range(&self, hash: &str, from: u64, to: u64) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        let mut stmt = self.conn().prepare_cached(
            "SELECT offset, bytes FROM material_parts
              WHERE hash = ?1 AND offset < ?3 AND offset + length(bytes) > ?2 ORDER BY offset",
        )?;
        let rows = stmt.query_map(params![hash, from as i64, to as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        for row in rows {
            let (offset, part) = row?;
            let start = (from as i64 - offset).max(0) as usize;
            let end = ((to as i64 - offset) as usize).min(part.len());
            out.extend_from_slice(&part[start..end]);
        }
        Ok(out)
    }

    /// What the sync client moves, from one look at the readable modules: (files attached here
    /// by the person signed in that the server does not have all of, files of readable modules
    /// not all here).
    pub fn materials_to_move(&mut self) -> Result<(Vec<Transfer>, Vec<Transfer>)> {
        let owner = crate::replica::signed_in_owner_of(self)?;
        let waiting: Vec<String> = self
            .conn()
            .prepare_cached(
                "SELECT hash FROM material_files WHERE sent = 0 AND complete = 1 AND owner IS ?1",
            )?
            .query_map([owner], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let all = self.transfers()?;
        let to_send = all
            .iter()
            .filter(|t| waiting.contains(&t.hash))
            .cloned()
            .collect();
        let to_fetch = all.into_iter().filter(|t| t.received < t.size).collect();
        Ok((to_send, to_fetch))
    }

    /// Materials attached here by the person signed in that the server does not have all of.
    pub fn materials_to_send(&mut self) -> Result<Vec<Transfer>> {
        Ok(self.materials_to_move()?.0)
    }

    /// Materials of readable modules whose bytes are not all here.
    pub fn materials_to_fetch(&mut self) -> Result<Vec<Transfer>> {
        Ok(self.materials_to_move()?.1)
    }

    /// Every material of a readable module, once per hash, with the bytes here.
    fn transfers(&mut self) -> Result<Vec<Transfer>> {
        let mut out: Vec<Transfer> = Vec::new();
        let modules: Vec<String> = self
            .visible_doc_ids()?
            .into_iter()
            .filter(|d| d.starts_with("module/"))
            .collect();
        for module_doc in modules {
            for (hash, value) in materials_of(self.doc(&module_doc)?.am.document()) {
                if out.iter().any(|t| t.hash == hash) {
                    continue;
                }
                let (received, complete): (i64, bool) = self
                    .conn()
                    .query_row(
                        "SELECT received, complete FROM material_files WHERE hash = ?1",
                        [&hash],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .unwrap_or((0, false));
                out.push(Transfer {
                    module_doc: module_doc.clone(),
                    hash,
                    name: value.name,
                    size: value.size,
                    received: if complete {
                        value.size
                    } else {
                        received.max(0) as u64
                    },
                });
            }
        }
        Ok(out)
    }

    /// Stores the next part of a material being fetched (`offset` must be where the bytes
    /// here end; a part that does not fit is dropped) and returns the bytes now here. The last
    /// part checks the hash: a file that does not hash right is dropped whole, to be fetched
    /// again, and [`CoreError::InvalidInput`] says so.
    pub fn store_material_part(
        &self,
        hash: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<u64> {
        let tx = self.conn().unchecked_transaction()?;
        let received: Option<(i64, bool)> = tx
            .query_row(
                "SELECT received, complete FROM material_files WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let received = match received {
            Some((_, true)) => return Ok(size),
            Some((r, false)) => r.max(0) as u64,
            None => {
                tx.execute(
                    "INSERT INTO material_files (hash, size, received, complete, sent)
                     VALUES (?1, ?2, 0, 0, 1)",
                    params![hash, size as i64],
                )?;
                0
            }
        };
        if offset != received || bytes.is_empty() || offset + bytes.len() as u64 > size {
            return Ok(received);
        }
        tx.execute(
            "INSERT INTO material_parts (hash, offset, bytes) VALUES (?1, ?2, ?3)",
            params![hash, offset as i64, bytes],
        )?;
        let now = offset + bytes.len() as u64;
        let complete = now == size;
        if complete {
            let mut hasher = Sha256::new();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT bytes FROM material_parts WHERE hash = ?1 ORDER BY offset",
                )?;
                let rows = stmt.query_map([hash], |r| r.get::<_, Vec<u8>>(0))?;
                for part in rows {
                    hasher.update(part?);
                }
            }
            if hex::encode(hasher.finalize()) != hash {
                tx.execute("DELETE FROM material_parts WHERE hash = ?1", [hash])?;
                tx.execute(
                    "UPDATE material_files SET received = 0, problem = ?2 WHERE hash = ?1",
                    params![
                        hash,
                        "the file arrived damaged (its hash did not match) and is fetched again"
                    ],
                )?;
                tx.commit()?;
                return Err(CoreError::invalid(
                    "material",
                    "the file arrived damaged (its bytes do not match its hash); it was dropped and is fetched again",
                ));
            }
        }
        tx.execute(
            "UPDATE material_files SET received = ?2, complete = ?3, problem = NULL WHERE hash = ?1",
            params![hash, now as i64, complete],
        )?;
        tx.commit()?;
        Ok(now)
    }

    /// The server has all of an attached material now.
    pub fn material_sent(&self, hash: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE material_files SET sent = 1, problem = NULL WHERE hash = ?1",
            [hash],
        )?;
        Ok(())
    }

    /// Records (or clears) the trouble the last transfer of a material had, for lists to show.
    pub fn material_problem(&self, hash: &str, problem: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE material_files SET problem = ?2 WHERE hash = ?1",
            params![hash, problem],
        )?;
        Ok(())
    }
}

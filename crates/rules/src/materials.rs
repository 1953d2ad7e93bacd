//! Course materials: files a department head attaches to a module's topics.
//!
//! A module document holds only their descriptions, `materials["<sha-256 of the bytes>"]`, so
//! the description syncs with every other change at once. The bytes travel apart, by content
//! hash and lazily (`docs/materials.md`). Both sides read the descriptions here: the server to
//! refuse a description past its limits and to know which file a module lets whom read, the
//! replica to list them and to know what to fetch.

use automerge::{ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::values::InvalidValue;

/// The largest file any server takes, whatever its configuration (a description saying more is
/// refused everywhere).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Longest file name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A material as a module holds it (`materials["<hash>"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialValue {
    /// The file's name as the head attached it (no folders).
    #[serde(rename = "n")]
    pub name: String,
    /// Its size in bytes.
    #[serde(rename = "z")]
    pub size: u64,
    /// Its media type (`application/pdf`), as far as the name tells.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// The module topic it belongs to (a key of the module's `topics`); none: the whole module.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl MaterialValue {
    pub fn check(&self) -> Result<(), InvalidValue> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(InvalidValue::new("name", "a material needs a file name"));
        }
        if self.name.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidValue::new(
                "name",
                format!("a file name is at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if self
            .name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
            || name == "."
            || name == ".."
        {
            return Err(InvalidValue::new(
                "name",
                format!("{:?} is not a file name (no folders)", self.name),
            ));
        }
        if self.size == 0 {
            return Err(InvalidValue::new("size", "an empty file is not a material"));
        }
        if self.size > MAX_FILE_BYTES {
            return Err(InvalidValue::new(
                "size",
                format!("a material is at most {} MiB", MAX_FILE_BYTES >> 20),
            ));
        }
        if self.mime.as_ref().is_some_and(|m| m.len() > 100) {
            return Err(InvalidValue::new(
                "type",
                "a media type is at most 100 characters",
            ));
        }
        Ok(())
    }
}

/// Whether `key` names a material: the lowercase hex SHA-256 of its bytes.
pub fn is_hash_key(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The materials a module document describes, by hash. Descriptions the rule table would
/// refuse (a bad key, a name with folders, no size) are left out.
pub fn materials_of(module: &automerge::Automerge) -> Vec<(String, MaterialValue)> {
    let Ok(Some((_, map))) = module.get(ROOT, "materials") else {
        return Vec::new();
    };
    let keys: Vec<String> = module.keys(&map).collect();
    let mut out = Vec::new();
    for key in keys {
        let Some(text) = crate::final_control::text(module, &map, &key) else {
            continue;
        };
        // What the rule table would refuse is not a material here either (a bundle or an
        // older server may carry one): a name with folders in it is never written to disk.
        if let Ok(value) = serde_json::from_str::<MaterialValue>(&text)
            && is_hash_key(&key)
            && value.check().is_ok()
        {
            out.push((key, value));
        }
    }
    out
}

/// How large files may be on one server: each, and all of one module together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaterialLimits {
    pub file_bytes: u64,
    pub module_bytes: u64,
}

impl Default for MaterialLimits {
    fn default() -> Self {
        MaterialLimits {
            file_bytes: 50 * 1024 * 1024,
            module_bytes: 500 * 1024 * 1024,
        }
    }
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1024.0 * 1024.0);
    if m >= 10.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.1} MiB")
    }
}

/// Why a module's materials (as they stand with a change) break `limits`, if they do: the
/// words a head reads when the server refuses the attachment.
pub fn refuse_over_limits(
    materials: &[(String, MaterialValue)],
    limits: &MaterialLimits,
) -> Option<String> {
    if let Some((_, m)) = materials.iter().find(|(_, m)| m.size > limits.file_bytes) {
        return Some(format!(
            "{:?} is {}; this server takes files up to {} each",
            m.name,
            mib(m.size),
            mib(limits.file_bytes)
        ));
    }
    let total: u64 = materials.iter().map(|(_, m)| m.size).sum();
    if total > limits.module_bytes {
        return Some(format!(
            "the module's materials would come to {}; this server keeps up to {} per module",
            mib(total),
            mib(limits.module_bytes)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, size: u64) -> MaterialValue {
        MaterialValue {
            name: name.into(),
            size,
            mime: None,
            topic: None,
        }
    }

    #[test]
    fn a_material_names_a_file_of_some_size() {
        assert!(m("lecture 1.pdf", 10).check().is_ok());
        assert!(m("Ma’ruza 1.pptx", 10).check().is_ok());
        for bad in ["", "  ", "../etc/passwd", "a/b.pdf", "a\\b", "a\nb", ".."] {
            assert!(m(bad, 10).check().is_err(), "{bad:?}");
        }
        assert!(m("a.pdf", 0).check().is_err());
        assert!(m("a.pdf", MAX_FILE_BYTES + 1).check().is_err());
    }

    #[test]
    fn keys_are_lowercase_sha256_hex() {
        assert!(is_hash_key(&"ab".repeat(32)));
        assert!(!is_hash_key(&"AB".repeat(32)));
        assert!(!is_hash_key("abc"));
        assert!(!is_hash_key(&"zz".repeat(32)));
    }

    #[test]
    fn a_description_the_rules_would_refuse_is_not_a_material() {
        use automerge::transaction::Transactable as _;
        let mut am = crate::genesis::genesis_doc("module/m", daftar_protocol::DocKind::Module);
        let (_, map) = am.get(ROOT, "materials").expect("read").expect("map");
        let good = "ab".repeat(32);
        am.put(&map, &good, r#"{"n":"a.pdf","z":3}"#).expect("put");
        am.put(&map, "cd".repeat(32), r#"{"n":"../../.bashrc","z":3}"#)
            .expect("put");
        am.put(&map, "not-a-hash", r#"{"n":"b.pdf","z":3}"#)
            .expect("put");
        am.put(&map, "ef".repeat(32), "junk").expect("put");
        am.commit();
        let found = materials_of(am.document());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, good);
    }

    #[test]
    fn limits_are_per_file_and_per_module() {
        let limits = MaterialLimits {
            file_bytes: 10,
            module_bytes: 25,
        };
        let ok = vec![("a".into(), m("a", 10)), ("b".into(), m("b", 10))];
        assert_eq!(refuse_over_limits(&ok, &limits), None);
        let big = vec![("a".into(), m("big.pdf", 11))];
        assert!(
            refuse_over_limits(&big, &limits)
                .expect("refused")
                .contains("big.pdf")
        );
        let many: Vec<_> = (0..3).map(|i| (i.to_string(), m("x", 10))).collect();
        assert!(
            refuse_over_limits(&many, &limits)
                .expect("refused")
                .contains("per module")
        );
    }
}

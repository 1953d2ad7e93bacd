//! The translation catalogues in `ui/src/i18n/` hold the same keys in all four languages, with
//! no empty text and the same `{placeholders}`, and cover every key the UI builds at run time
//! from data (lesson types, roles, standings…). The TypeScript compiler checks the keys the UI
//! names literally; this test keeps CI honest without a Node toolchain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use daftar_desktop::ipc::UiLanguage;

/// The shell's one list of UI languages, by tag.
fn langs() -> Vec<&'static str> {
    UiLanguage::ALL.iter().map(|l| l.code()).collect()
}

fn catalogue(lang: &str) -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ui/src/i18n")
        .join(format!("{lang}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} is not a flat JSON object of strings: {e}",
            path.display()
        )
    })
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.insert(rest[start + 1..start + len].to_string());
        rest = &rest[start + len..];
    }
    out
}

#[test]
fn every_language_has_every_key_with_the_same_placeholders() {
    let base = catalogue(langs()[0]);
    assert!(
        base.len() > 200,
        "the catalogue looks truncated: {} keys",
        base.len()
    );
    let mut problems = Vec::new();
    for lang in langs() {
        let other = catalogue(lang);
        for key in base.keys().filter(|k| !other.contains_key(*k)) {
            problems.push(format!("{lang}: missing {key}"));
        }
        for key in other.keys().filter(|k| !base.contains_key(*k)) {
            problems.push(format!("{lang}: {key} is not in {}", langs()[0]));
        }
        for (key, text) in &other {
            if text.trim().is_empty() {
                problems.push(format!("{lang}: {key} is empty"));
            }
            if let Some(b) = base.get(key)
                && placeholders(b) != placeholders(text)
            {
                problems.push(format!(
                    "{lang}: {key} has placeholders {:?}, {} has {:?}",
                    placeholders(text),
                    langs()[0],
                    placeholders(b)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "translation catalogues disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn keys_built_from_data_exist() {
    let base = catalogue(langs()[0]);
    let mut wanted: Vec<String> = Vec::new();
    for code in ["11", "12", "13", "14", "15", "16", "17"] {
        wanted.push(format!("lessonType.{code}"));
        wanted.push(format!("lessonTypeShort.{code}"));
    }
    for (family, values) in [
        ("mark", &["p", "a", "e", "l"][..]),
        ("standing", &["ok", "warning", "reprimand", "expulsion"]),
        ("role", &["teacher", "dean", "department_head", "admin"]),
        ("marking", &["rating100", "five_point", "credit_module"]),
        ("conflictKind", &["concurrent", "amendment"]),
        ("conflictField", &["mark", "score", "topic", "adjustment"]),
        ("control", &["JN", "ON", "YN"]),
        (
            "studentStatus",
            &["active", "left", "academic_leave", "other"],
        ),
        (
            "error",
            &[
                "offline",
                "forbidden",
                "notFound",
                "invalidInput",
                "conflict",
                "unauthorized",
                "internal",
            ],
        ),
        (
            "syncError",
            &[
                "offline",
                "unauthorized",
                "no_token",
                "forbidden",
                "server",
                "other",
            ],
        ),
    ] {
        for v in values {
            wanted.push(format!("{family}.{v}"));
        }
    }
    let missing: Vec<&String> = wanted.iter().filter(|k| !base.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "keys the UI builds from data are missing: {missing:?}"
    );
}

#[test]
fn the_catalogues_are_exactly_the_ui_languages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/i18n");
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("the catalogue folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_string))
        .collect();
    let listed: BTreeSet<String> = langs().into_iter().map(str::to_string).collect();
    assert_eq!(found, listed, "ui/src/i18n/*.json against UiLanguage::ALL");
}

//! The fuzz targets' seed corpora (`fuzz/corpus/<target>`): real inputs of each decoder, so a
//! short CI run starts from the shapes that matter instead of from nothing. This test checks
//! that every committed seed is still a valid input of today's decoders (a format change makes
//! the seeds stale, and the fuzzer would then start from noise); with `DAFTAR_WRITE_FUZZ_SEEDS=1`
//! it writes them afresh from the HEMIS fixture.

use std::path::{Path, PathBuf};

use daftar_core::Replica;
use daftar_core::bundle::Bundle;
// The endpoints, in the order `fuzz/fuzz_targets/hemis_pages.rs` writes them.
use daftar_core::hemis::ENDPOINTS;
use daftar_protocol::{Bytes, DocKind, PushChange, SyncRequest};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hemis");

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// A replica holding the HEMIS fixture, and some of its change rows: (doc, bytes).
fn fixture_replica() -> (Replica, Vec<(String, Vec<u8>)>) {
    let mut r = Replica::open(Path::new(":memory:")).expect("open");
    r.set_university("tatu").expect("university");
    r.import_hemis(Path::new(FIXTURE)).expect("import");
    let mut stmt = r
        .raw_sql()
        .prepare("SELECT doc_id, bytes FROM changes ORDER BY length(bytes), doc_id LIMIT 6")
        .expect("changes");
    let changes = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("changes")
        .collect::<Result<Vec<(String, Vec<u8>)>, _>>()
        .expect("rows");
    drop(stmt);
    (r, changes)
}

fn kind_byte(doc: &str) -> u8 {
    let kind = DocKind::of_doc_id(doc).expect("a document id");
    DocKind::ALL.iter().position(|k| *k == kind).expect("kind") as u8
}

fn write_seeds() {
    let (mut r, changes) = fixture_replica();
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(name), bytes).expect("seed");
    };
    write(
        "bundle",
        "hemis-fixture",
        &r.export_bundle().expect("bundle").encode(),
    );
    for (i, (doc, bytes)) in changes.iter().enumerate() {
        let id = doc.split_once('/').expect("kind/id").1;
        let mut seed = vec![kind_byte(doc), id.len() as u8];
        seed.extend_from_slice(id.as_bytes());
        seed.extend_from_slice(bytes);
        write("change", &format!("fixture-{i}"), &seed);
    }
    let request = SyncRequest {
        push: changes
            .iter()
            .take(3)
            .map(|(doc, bytes)| PushChange {
                doc: doc.clone(),
                change: Bytes(bytes.clone()),
            })
            .collect(),
        acknowledges: true,
        ack: Some(4_503_599_627_370_497),
        snapshots: true,
        compact_acks: true,
        ..SyncRequest::default()
    };
    let json = serde_json::to_vec(&request).expect("json");
    let idle = serde_json::to_vec(&SyncRequest::default()).expect("json");
    for (flags, name, body) in [
        (0u8, "teacher-push", json.clone()),
        (2, "admin-push", json.clone()),
        (0, "teacher-idle", idle),
        (
            1,
            "teacher-push-zstd",
            zstd::bulk::compress(&json, 3).expect("zstd"),
        ),
    ] {
        let mut seed = vec![flags];
        seed.extend_from_slice(&body);
        write("sync_request", name, &seed);
    }
    let mut pages = Vec::new();
    for (i, endpoint) in ENDPOINTS.iter().enumerate() {
        if i > 0 {
            pages.push(0u8);
        }
        pages.extend(whole_endpoint(endpoint));
    }
    write("hemis_pages", "fixture", &pages);
}

/// An endpoint's pages as one page (the fuzz target writes one file per endpoint).
fn whole_endpoint(endpoint: &str) -> Vec<u8> {
    let read = |name: &str| -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(Path::new(FIXTURE).join(name)).ok()?;
        Some(serde_json::from_str(&text).expect("fixture JSON"))
    };
    let mut first = read(&format!("{endpoint}.json")).expect("fixture page");
    let mut n = 2;
    while let Some(next) = read(&format!("{endpoint}-{n}.json")) {
        let more = next["data"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(items) = first["data"]["items"].as_array_mut() {
            items.extend(more);
        }
        n += 1;
    }
    let total = first["data"]["items"].as_array().map_or(0, Vec::len);
    if let Some(p) = first["data"].get_mut("pagination") {
        *p = serde_json::json!({ "totalCount": total, "pageCount": 1, "page": 1 });
    }
    serde_json::to_vec(&first).expect("JSON")
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("seed"),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "fuzz/corpus/{target} has no seeds");
    out
}

#[test]
fn fuzz_seeds_are_valid_inputs_of_todays_decoders() {
    if std::env::var_os("DAFTAR_WRITE_FUZZ_SEEDS").is_some() {
        write_seeds();
    }
    for (name, seed) in seeds("bundle") {
        let bundle = Bundle::decode(&seed).unwrap_or_else(|e| panic!("bundle/{name}: {e}"));
        let mut r = Replica::open(Path::new(":memory:")).expect("open");
        r.set_university("tatu").expect("university");
        r.import_bundle(bundle)
            .unwrap_or_else(|e| panic!("bundle/{name} imports: {e}"));
        assert!(!r.journals().expect("journals").is_empty(), "bundle/{name}");
    }
    for (name, seed) in seeds("change") {
        let kind = DocKind::ALL[seed[0] as usize % 4];
        let len = seed[1] as usize;
        let id = String::from_utf8(seed[2..2 + len].to_vec()).expect("id");
        let doc = format!("{}/{id}", kind.as_str());
        daftar_rules::inspect(
            &doc,
            kind,
            &seed[2 + len..],
            &daftar_rules::Limits::default(),
        )
        .unwrap_or_else(|e| panic!("change/{name}: {}", e.reason));
    }
    for (name, seed) in seeds("sync_request") {
        let body = if seed[0] & 1 == 1 {
            daftar_sync_server::encoding::decompress_limited(&seed[1..])
                .unwrap_or_else(|e| panic!("sync_request/{name}: {e}"))
        } else {
            seed[1..].to_vec()
        };
        let request: SyncRequest =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("sync_request/{name}: {e}"));
        daftar_sync_server::sync::decode_push(&request, &daftar_rules::Limits::default())
            .unwrap_or_else(|e| panic!("sync_request/{name}: {e}"));
    }
    for (name, seed) in seeds("hemis_pages") {
        let dir = tempfile::tempdir().expect("tempdir");
        for (endpoint, page) in ENDPOINTS.iter().zip(seed.split(|b| *b == 0)) {
            std::fs::write(dir.path().join(format!("{endpoint}.json")), page).expect("page");
        }
        let mut r = Replica::open(Path::new(":memory:")).expect("open");
        r.set_university("tatu").expect("university");
        let summary = r
            .import_hemis(dir.path())
            .unwrap_or_else(|e| panic!("hemis_pages/{name}: {e}"));
        assert!(summary.journals > 0, "hemis_pages/{name}: {summary:?}");
    }
}

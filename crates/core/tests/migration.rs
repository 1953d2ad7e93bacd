//! Schema migrations: a replica made by the first schema opens and upgrades with this build,
//! keeping its data; a replica from a newer Daftar is refused and left byte-for-byte untouched.

use daftar_core::doc::Doc;
use daftar_core::{CoreError, DocKind, Replica, schema};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

#[test]
fn first_schema_replica_upgrades_and_keeps_its_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("replica.db");
    {
        // What a schema-1 Daftar wrote: meta, a group document and its change.
        let mut conn = Connection::open(&path).expect("open");
        schema::migrate(&mut conn, 1).expect("schema 1");
        let device = automerge::ActorId::random();
        conn.execute(
            "INSERT INTO replica_meta VALUES ('device', ?1), ('university', 'tatu')",
            [device.to_hex_string()],
        )
        .expect("meta");
        let mut doc = Doc::create("group/412", DocKind::Group, &device).expect("doc");
        doc.put("meta", "name", "401-21").expect("put");
        doc.put(
            "students",
            "9001",
            r#"{"name":"Karimov Jasur","status":"active"}"#,
        )
        .expect("put");
        doc.commit("{\"by\":\"admin\"}", 1).expect("commit");
        conn.execute(
            "INSERT INTO documents (id, kind) VALUES ('group/412', 'group')",
            [],
        )
        .expect("doc row");
        for change in doc.am.get_changes(&[]) {
            conn.execute(
                "INSERT INTO changes (hash, doc_id, bytes, local, applied) VALUES (?1, 'group/412', ?2, 1, 1)",
                params![change.hash().to_string(), change.raw_bytes()],
            )
            .expect("change row");
        }
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, 1);
    }
    let r = Replica::open(&path).expect("the current build opens a schema-1 replica");
    assert_eq!(r.info().expect("info").schema, schema::LATEST);
    assert_eq!(r.university().expect("meta").as_deref(), Some("tatu"));
    // Schema 5 added projected columns: the open itself rebuilt the projection from the
    // documents (the schema-1 file had no projection rows at all), once.
    let flag: Option<String> = r.meta("rebuild_projection").expect("meta");
    assert_eq!(flag, None, "the rebuild ran and cleared its flag");
    let name: String = r
        .raw_sql()
        .query_row("SELECT name FROM students WHERE id = '9001'", [], |row| {
            row.get(0)
        })
        .expect("student survived the upgrade");
    assert_eq!(name, "Karimov Jasur");
    // Tables of the new schema exist.
    assert_eq!(r.sync_state("http://x").expect("sync_state"), (0, 0));
    assert_eq!(r.waiting().expect("waiting"), 2, "unpushed changes kept");
}

#[test]
fn newer_schema_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("replica.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE future (x); INSERT INTO future VALUES (1);")
            .expect("table");
        conn.pragma_update(None, "user_version", schema::LATEST + 1)
            .expect("version");
    }
    let hash = |p: &std::path::Path| Sha256::digest(std::fs::read(p).expect("read"));
    let before = hash(&path);
    let files_before = std::fs::read_dir(tmp.path()).expect("dir").count();
    match Replica::open(&path) {
        Err(CoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, schema::LATEST + 1);
            assert_eq!(supported, schema::LATEST);
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer replica must be refused"),
    }
    let err = Replica::open(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("newer Daftar"), "{err}");
    assert_eq!(hash(&path), before, "the file is untouched");
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("dir").count(),
        files_before,
        "no WAL or journal created"
    );
}

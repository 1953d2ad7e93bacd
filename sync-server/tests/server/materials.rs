//! Course materials on the server, on SQLite and on PostgreSQL: bytes by content hash, in
//! parts, readable by the module's readers only, uploaded by its head only, checked against the
//! hash and the limits (`docs/materials.md`).

use sha2::Digest as _;

use super::*;

fn described(doc: &str, actor: &[u8], hash: &str, name: &str, size: usize) -> Vec<u8> {
    let mut am = started(doc, actor);
    let (_, obj) = am.get(ROOT, "materials").expect("read").expect("map");
    am.put(&obj, hash, format!(r#"{{"n":"{name}","z":{size}}}"#))
        .expect("put");
    commit(&mut am, None)
}

impl Server {
    async fn material(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        range: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
            .body(body);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        let r = req.send().await.expect("send");
        let status = r.status();
        (status, r.bytes().await.expect("body").to_vec())
    }
}

#[tokio::test]
async fn materials_go_up_in_parts_and_down_to_the_module_s_readers_only() {
    let mut config = test_config();
    config.materials = daftar_rules::materials::MaterialLimits {
        file_bytes: 3 * 1024 * 1024,
        module_bytes: 4 * 1024 * 1024,
    };
    let server = start_with(config).await;
    let (_, _) = seed(&server).await;
    server.user("head1", Role::DepartmentHead, Some("D1"), None);
    server.user("head2", Role::DepartmentHead, Some("D2"), None);
    server.user("ali", Role::Teacher, None, Some("E1"));
    server.user("vali", Role::Teacher, None, Some("E2"));
    let head = server.token("head1").await;
    let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hash = hex::encode(sha2::Sha256::digest(&bytes));

    // The head describes it in m1 (one change), then sends it in three parts.
    let mut head_replica = Replica::new("head1-pc");
    let change = described(
        "module/m1",
        &head_replica.actor.clone(),
        &hash,
        "lab.pdf",
        bytes.len(),
    );
    let resp = head_replica
        .sync(&server, &head, Vec::new(), vec![push("module/m1", &change)])
        .await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    let path = format!("/v1/materials/{hash}?doc=module%2Fm1");
    let status_path = format!("/v1/materials/{hash}/upload?doc=module%2Fm1");
    let put = |offset: usize| format!("{path}&offset={offset}");
    let mb = 1024 * 1024;
    let (s, body) = server
        .material(
            reqwest::Method::PUT,
            &head,
            &put(0),
            None,
            bytes[..mb].to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    // A part that skips ahead is refused with where to go on from.
    let (s, body) = server
        .material(
            reqwest::Method::PUT,
            &head,
            &put(2 * mb),
            None,
            bytes[2 * mb..].to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&body).contains("first 1048576 bytes"));
    let (s, body) = server
        .material(reqwest::Method::GET, &head, &status_path, None, Vec::new())
        .await;
    assert_eq!(s, StatusCode::OK);
    let state: daftar_protocol::MaterialUpload = serde_json::from_slice(&body).expect("json");
    assert_eq!((state.received, state.complete), (mb as u64, false));
    // Not readable before it is all there.
    let ali = server.token("ali").await;
    let (s, body) = server
        .material(reqwest::Method::GET, &ali, &path, None, Vec::new())
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let err: ErrorBody = serde_json::from_slice(&body).expect("error");
    assert_eq!(err.error, ErrorCode::NotReady);
    for (from, to) in [(mb, 2 * mb), (2 * mb, bytes.len())] {
        let (s, body) = server
            .material(
                reqwest::Method::PUT,
                &head,
                &put(from),
                None,
                bytes[from..to].to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let state: daftar_protocol::MaterialUpload = serde_json::from_slice(&body).expect("json");
        assert_eq!(state.complete, to == bytes.len());
    }

    // A reader of m1 (ali teaches j1) gets it whole or by range.
    let (s, body) = server
        .material(
            reqwest::Method::GET,
            &ali,
            &path,
            Some("bytes=1000000-1000999"),
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert!(body == bytes[1_000_000..1_001_000]);
    let (s, body) = server
        .material(reqwest::Method::GET, &ali, &path, None, Vec::new())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(body == bytes);
    // Past the end: 416.
    let (s, _) = server
        .material(
            reqwest::Method::GET,
            &ali,
            &path,
            Some("bytes=9000000-"),
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);

    // Not a reader of m1 (vali teaches j2 of m2; head2 heads D2): nothing, not even whether it
    // exists; and through a module they do read, neither.
    for who in ["vali", "head2"] {
        let token = server.token(who).await;
        for doc in ["m1", "m2"] {
            let p = format!("/v1/materials/{hash}?doc=module%2F{doc}");
            let (s, body) = server
                .material(reqwest::Method::GET, &token, &p, None, Vec::new())
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{who} {doc}");
            assert!(body.len() < 200);
        }
    }
    // A reader who is not its head may not upload.
    let (s, _) = server
        .material(reqwest::Method::PUT, &ali, &put(0), None, vec![1])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Junk names are refused before any lookup.
    let (s, _) = server
        .material(
            reqwest::Method::GET,
            &ali,
            "/v1/materials/..%2Fetc?doc=module%2Fm1",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Past the limits the description itself is refused: a 3.5 MB file, and a second 2.5 MB
    // one that would take m1 over 4 MiB.
    for (name, size, words) in [
        ("big.pdf", 3_500_000, "up to 3.0 MiB"),
        ("two.pdf", 2_500_000, "per module"),
    ] {
        let h = hex::encode(sha2::Sha256::digest(name.as_bytes()));
        let mut device = format!("head1-{name}").into_bytes();
        device.resize(16, 0);
        let change = described("module/m1", &device, &h, name, size);
        let resp = head_replica
            .sync(&server, &head, Vec::new(), vec![push("module/m1", &change)])
            .await;
        assert_eq!(resp.refused.len(), 1, "{name}");
        assert!(
            resp.refused[0].reason.contains(words),
            "{}",
            resp.refused[0].reason
        );
        assert_eq!(resp.refused[0].code, ErrorCode::TooLarge);
    }
    server.shutdown().await;
}

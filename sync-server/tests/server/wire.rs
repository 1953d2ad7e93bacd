//! Bad input, errors, compression, timeouts, health and metrics on the wire.

use super::*;

#[tokio::test]
async fn bad_input_gets_json_errors_and_the_server_keeps_serving() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let url = format!("{}/v1/sync", server.url);
    let send = |body: reqwest::Body, content_type: &'static str| {
        server
            .http
            .post(&url)
            .bearer_auth(&token)
            .header(REPLICA_HEADER, "r1")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, String, StatusCode, ErrorCode)> = vec![
        (
            "malformed json",
            "{\"cursor\": ".into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "wrong shape",
            "{\"cursor\": \"x\"}".into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "bad base64",
            r#"{"cursor":0,"push":[{"doc":"journal/j","change":"@@not base64@@"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "garbage change bytes",
            r#"{"cursor":0,"push":[{"doc":"journal/j","change":"AAECAwQF"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "unknown doc kind",
            format!(
                r#"{{"cursor":0,"push":[{{"doc":"secret/x","change":"{}"}}]}}"#,
                base64_of(&change(
                    "journal/j",
                    b"0123456789abcdef",
                    Role::Admin,
                    "k",
                    "v"
                ))
            ),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "unknown doc kind in docs",
            r#"{"cursor":0,"docs":[["nope/x",{}]]}"#.into(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
    ];
    for (what, body, status, code) in cases {
        let r = send(body.into(), "application/json").await.expect("send");
        assert_eq!(r.status(), status, "{what}");
        let err: ErrorBody = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        assert_eq!(err.error, code, "{what}");
    }

    // Over the body limit.
    let big = vec![b' '; daftar_protocol::MAX_BODY_BYTES + 1024];
    let r = send(big.into(), "application/json").await.expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: ErrorBody = r.json().await.expect("413 is JSON");
    assert_eq!(err.error, ErrorCode::TooLarge);

    // Not JSON at all.
    let r = send("cursor=0".into(), "text/plain").await.expect("send");
    assert!(r.status().is_client_error());
    let err: ErrorBody = r.json().await.expect("JSON");
    assert_eq!(err.error, ErrorCode::Malformed);

    // Missing replica header.
    let r = server
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&SyncRequest::default())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Unknown route and wrong method.
    let r = server
        .http
        .get(format!("{}/v1/nothing", server.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let err: ErrorBody = r.json().await.expect("404 is JSON");
    assert_eq!(err.error, ErrorCode::NotFound);
    let r = server.http.get(&url).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let _: ErrorBody = r.json().await.expect("405 is JSON");

    // Bad login body.
    let r = server
        .http
        .post(format!("{}/v1/sessions", server.url))
        .header("content-type", "application/json")
        .body("{\"user\": 1}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let _: ErrorBody = r.json().await.expect("JSON");

    server.healthy().await;
    server.sync(&token, "r1", &SyncRequest::default()).await;
    server.shutdown().await;
}

fn base64_of(bytes: &[u8]) -> String {
    serde_json::to_value(Bytes(bytes.to_vec()))
        .expect("encode")
        .as_str()
        .expect("string")
        .to_owned()
}

#[tokio::test]
async fn healthz_and_metrics() {
    let server = start().await;
    let (_, _) = seed(&server).await;
    let h: daftar_protocol::Health = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(h.status, "ok");
    assert_eq!(h.protocol, daftar_protocol::PROTOCOL_VERSION);
    let text = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("daftar_changes_stored_total 8"), "{text}");
    assert!(
        text.contains("route=\"/v1/sync\",method=\"POST\",status=\"200\""),
        "{text}"
    );
    server.shutdown().await;
}

/// A request over the timeout gets a JSON 503, and the server keeps serving. Sign-in with
/// the production argon2 parameters takes far longer than the 5 ms allowed here.
#[tokio::test]
async fn slow_requests_time_out_with_a_json_error() {
    let server = start_with(Config {
        request_timeout: Duration::from_millis(5),
        password: PasswordParams::default(),
        ..test_config()
    })
    .await;
    server.user("ali", Role::Teacher, None, None);
    let r = server.login_raw("ali", "pw-ali").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let err: ErrorBody = r.json().await.expect("JSON");
    assert_eq!(err.error, ErrorCode::Internal);
    assert!(err.error.is_retryable());
    server.shutdown().await;
}

/// Posts `body` to /v1/sync zstd-compressed, asking for a zstd answer.
async fn sync_zstd(
    server: &Server,
    token: &str,
    replica: &str,
    body: Vec<u8>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let r = server
        .http
        .post(format!("{}/v1/sync", server.url))
        .bearer_auth(token)
        .header(REPLICA_HEADER, replica)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .header("accept-encoding", "zstd")
        .body(body)
        .send()
        .await
        .expect("send");
    let status = r.status();
    let encoding = r
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().expect("ascii").to_string());
    let bytes = r.bytes().await.expect("body").to_vec();
    let plain = if encoding.as_deref() == Some("zstd") {
        zstd::decode_all(&bytes[..]).expect("a zstd answer")
    } else {
        bytes
    };
    (status, encoding, plain)
}

#[tokio::test]
async fn zstd_bodies_go_both_ways_and_acks_can_be_one_flag() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let (_, changes) = chain("group/g9", b"admin-pc-zstd-01", 40);
    let request = |from: usize, to: usize, compact_acks: bool| SyncRequest {
        docs: vec![("group/g9".into(), meta_group("F9"))],
        push: changes[from..to]
            .iter()
            .map(|c| push("group/g9", c))
            .collect(),
        compact_acks,
        ..SyncRequest::default()
    };
    let json = serde_json::to_vec(&request(0, 30, false)).expect("json");
    let body = zstd::encode_all(&json[..], 3).expect("compress");
    assert!(body.len() < json.len() / 2, "the push compresses");
    let (status, encoding, plain) = sync_zstd(&server, &token, "admin-pc", body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&plain)
    );
    assert_eq!(
        encoding.as_deref(),
        Some("zstd"),
        "the answer is compressed"
    );
    let resp: SyncResponse = serde_json::from_slice(&plain).expect("response");
    assert_eq!(resp.acked.len(), 30, "an older client gets every hash");
    assert!(!resp.acked_all);

    // A client that understands one flag gets the flag instead of 10 hashes.
    let json = serde_json::to_vec(&request(30, 40, true)).expect("json");
    let (status, _, plain) = sync_zstd(
        &server,
        &token,
        "admin-pc",
        zstd::encode_all(&json[..], 3).expect("z"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let resp: SyncResponse = serde_json::from_slice(&plain).expect("response");
    assert!(resp.acked_all);
    assert!(resp.acked.is_empty());
    assert_eq!(
        server
            .state
            .metrics()
            .changes_stored
            .load(std::sync::atomic::Ordering::Relaxed),
        40,
        "all 40 stored"
    );

    // Small answers and clients that do not ask stay uncompressed.
    let r = server
        .sync_raw(&token, "admin-pc", &SyncRequest::default())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn damaged_huge_or_unknown_encodings_are_refused_in_json() {
    let server = start().await;
    server.user("admin", Role::Admin, None, None);
    let token = server.token("admin").await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, ErrorCode)> = vec![
        (
            "zstd",
            b"this is not zstd".to_vec(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
        (
            "zstd",
            // 9 MiB of spaces: a few hundred bytes compressed, over the limit decompressed.
            zstd::encode_all(&vec![b' '; 9 * 1024 * 1024][..], 3).expect("bomb"),
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
        ),
        (
            "br",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
        ),
    ];
    for (encoding, body, status, code) in cases {
        let r = server
            .http
            .post(format!("{}/v1/sync", server.url))
            .bearer_auth(&token)
            .header(REPLICA_HEADER, "admin-pc")
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), status, "{encoding}");
        let err: ErrorBody = r.json().await.expect("a JSON error body");
        assert_eq!(err.error, code, "{encoding}: {}", err.message);
    }
    server.healthy().await;
    assert_eq!(
        server
            .state
            .metrics()
            .changes_stored
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    server.shutdown().await;
}

/// With `metrics_listen`, `/metrics` leaves the public address (404 there) and is served on
/// the private one only.
#[tokio::test]
async fn metrics_can_leave_the_public_interface() {
    use tower::ServiceExt as _;
    let server = start_with(Config {
        metrics_listen: Some("127.0.0.1:9".parse().expect("addr")),
        ..test_config()
    })
    .await;
    let r = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let private = daftar_sync_server::metrics_router(server.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("metrics");
    assert_eq!(private.status(), StatusCode::OK);
    server.shutdown().await;
}

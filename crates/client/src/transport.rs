//! HTTP to the sync-server (reqwest, rustls). Bodies of 256 bytes or more go up
//! zstd-compressed and answers are accepted zstd-compressed (`docs/sync-protocol.md`). Every
//! request and every byte each way is counted as it travels (compressed), so tests and
//! benchmarks can assert "one request" rather than guess.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use daftar_protocol::{
    AssignRequest, AssignResponse, COMPRESS_ABOVE_BYTES, CONTENT_ENCODING_ZSTD, ErrorBody,
    ErrorCode, LoginRequest, LoginResponse, MAX_RESPONSE_BYTES, MaterialUpload, REPLICA_HEADER,
    SyncRequest, SyncResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{ClientError, Result};

/// Requests and bytes sent and received.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes_up.load(Ordering::Relaxed),
            self.bytes_down.load(Ordering::Relaxed),
        )
    }
}

#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    replica: String,
    pub counters: Arc<Counters>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("replica", &self.replica)
            .finish()
    }
}

/// Normalises a server address typed by a person (`127.0.0.1:8787` → `http://127.0.0.1:8787`).
pub fn normalize_server(input: &str) -> String {
    let s = input.trim().trim_end_matches('/');
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// A server address as logs may show it: without any `user:password@` part.
pub fn server_for_logs(server: &str) -> String {
    match server.split_once("://") {
        Some((scheme, rest)) => {
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => server.to_string(),
            }
        }
        None => server.to_string(),
    }
}

impl Transport {
    pub fn new(server: &str, replica: &str, token: Option<String>) -> Result<Transport> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("daftar/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Transport {
            http,
            base: normalize_server(server),
            token,
            replica: replica.to_string(),
            counters: Arc::new(Counters::default()),
        })
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    async fn send<B: Serialize, R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method, &url)
            .header(REPLICA_HEADER, &self.replica);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req = req.header(reqwest::header::ACCEPT_ENCODING, CONTENT_ENCODING_ZSTD);
        let mut up = 0u64;
        if let Some(b) = body {
            let mut bytes =
                serde_json::to_vec(b).map_err(|e| ClientError::Protocol(e.to_string()))?;
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
            if bytes.len() >= COMPRESS_ABOVE_BYTES {
                bytes = zstd::bulk::compress(&bytes, ZSTD_LEVEL)
                    .map_err(|e| ClientError::Protocol(format!("compress the request: {e}")))?;
                req = req.header(reqwest::header::CONTENT_ENCODING, CONTENT_ENCODING_ZSTD);
            }
            up = bytes.len() as u64;
            req = req.body(bytes);
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes_up.fetch_add(up, Ordering::Relaxed);
        let resp = req.send().await.map_err(|e| ClientError::Offline {
            server: self.base.clone(),
            reason: short_reason(&e),
        })?;
        let status = resp.status();
        let zstd_body = resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(CONTENT_ENCODING_ZSTD));
        let bytes = resp.bytes().await.map_err(|e| ClientError::Offline {
            server: self.base.clone(),
            reason: short_reason(&e),
        })?;
        self.counters
            .bytes_down
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let bytes = if zstd_body {
            decompress_response(&bytes)?
        } else {
            bytes.to_vec()
        };
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(e.to_string()));
        }
        Err(error_of(status, &bytes))
    }

    /// `path` with the replica header and the token.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header(REPLICA_HEADER, &self.replica);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req
    }

    fn offline(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Offline {
            server: self.base.clone(),
            reason: short_reason(e),
        }
    }

    fn material_path(doc: &str, hash: &str, tail: &str) -> String {
        let doc: String = doc
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect();
        format!("{}/{hash}{tail}?doc={doc}", daftar_protocol::MATERIALS_PATH)
    }

    /// Sends a request whose body is not JSON and reads its whole answer, counted.
    async fn raw(&self, req: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, Vec<u8>)> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let resp = req.send().await.map_err(|e| self.offline(&e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.offline(&e))?;
        self.counters
            .bytes_down
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok((status, body.to_vec()))
    }

    /// How much of material `hash` of module `doc` the server holds.
    pub async fn material_state(&self, doc: &str, hash: &str) -> Result<MaterialUpload> {
        self.send::<(), MaterialUpload>(
            reqwest::Method::GET,
            &Self::material_path(doc, hash, "/upload"),
            None,
        )
        .await
    }

    /// Sends the part of an upload that starts at `offset` (raw bytes: files are mostly
    /// compressed already).
    pub async fn material_put(
        &self,
        doc: &str,
        hash: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<MaterialUpload> {
        let path = format!("{}&offset={offset}", Self::material_path(doc, hash, ""));
        let up = bytes.len() as u64;
        self.counters.bytes_up.fetch_add(up, Ordering::Relaxed);
        let (status, body) = self
            .raw(
                self.request(reqwest::Method::PUT, &path)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes),
            )
            .await?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(e.to_string()));
        }
        Err(error_of(status, &body))
    }

    /// Bytes `[from, to)` of a material (the server may answer fewer; never more).
    pub async fn material_get(&self, doc: &str, hash: &str, from: u64, to: u64) -> Result<Vec<u8>> {
        let (status, body) = self
            .raw(
                self.request(reqwest::Method::GET, &Self::material_path(doc, hash, ""))
                    .header(
                        reqwest::header::RANGE,
                        format!("bytes={from}-{}", to.saturating_sub(1)),
                    ),
            )
            .await?;
        if !status.is_success() {
            return Err(error_of(status, &body));
        }
        if status == reqwest::StatusCode::PARTIAL_CONTENT || from == 0 {
            let want = (to - from) as usize;
            if body.len() > want {
                return Err(ClientError::Protocol(
                    "the server sent more of the file than was asked for".into(),
                ));
            }
            return Ok(body);
        }
        Err(ClientError::Protocol(
            "the server did not answer the part of the file asked for".into(),
        ))
    }
}

/// The error a failed answer carries, from its body when it has one.
fn error_of(status: reqwest::StatusCode, bytes: &[u8]) -> ClientError {
    let body: Option<ErrorBody> = serde_json::from_slice(bytes).ok();
    {
        match body {
            Some(ErrorBody { error, message }) => match error {
                ErrorCode::Unauthorized => ClientError::Unauthorized,
                ErrorCode::BadCredentials => ClientError::BadCredentials,
                ErrorCode::RateLimited => ClientError::RateLimited,
                ErrorCode::Forbidden => ClientError::Forbidden(message),
                code => ClientError::Server { code, message },
            },
            None if status.is_server_error() => ClientError::Server {
                code: ErrorCode::Internal,
                message: format!("HTTP {status}"),
            },
            None => ClientError::Protocol(format!("HTTP {status} without an error body")),
        }
    }
}

impl Transport {
    pub async fn login(&self, user: &str, password: &str) -> Result<LoginResponse> {
        let req = LoginRequest {
            user: user.to_string(),
            password: password.to_string(),
        };
        self.send(reqwest::Method::POST, "/v1/sessions", Some(&req))
            .await
    }

    pub async fn logout(&self) -> Result<()> {
        match self
            .send::<(), serde_json::Value>(reqwest::Method::DELETE, "/v1/sessions", None)
            .await
        {
            // An empty 204 body is a success too.
            Ok(_) | Err(ClientError::Protocol(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn sync(&self, req: &SyncRequest) -> Result<SyncResponse> {
        self.send(reqwest::Method::POST, "/v1/sync", Some(req))
            .await
    }

    pub async fn assign(&self, req: &AssignRequest) -> Result<AssignResponse> {
        self.send(reqwest::Method::POST, "/v1/assignments", Some(req))
            .await
    }

    /// Waits up to `wait` for news for this user after `cursor` (a readable change, or an
    /// access version other than `access`): `Some(true)` sync now, `Some(false)` nothing yet,
    /// `None` when the server has no live updates (an older server: poll instead).
    pub async fn wait_for_news(
        &self,
        cursor: u64,
        access: u64,
        wait: Duration,
    ) -> Result<Option<bool>> {
        let path = format!(
            "{}?after={cursor}&access={access}&wait={}",
            daftar_protocol::LIVE_PATH,
            wait.as_secs().clamp(1, daftar_protocol::LIVE_MAX_WAIT_SECS)
        );
        match self
            .send::<(), daftar_protocol::LiveResponse>(reqwest::Method::GET, &path, None)
            .await
        {
            Ok(r) => Ok(Some(r.changed)),
            Err(ClientError::Server {
                code: ErrorCode::NotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the server answers at all (cheap probe while offline).
    pub async fn reachable(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.base))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .is_ok()
    }
}

/// zstd level for request bodies: fast, and most of what higher levels would save here.
const ZSTD_LEVEL: i32 = 3;

/// Decompresses a zstd response body, refusing more than [`MAX_RESPONSE_BYTES`].
fn decompress_response(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let damaged = |e: std::io::Error| {
        ClientError::Protocol(format!("the server's compressed answer is damaged: {e}"))
    };
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(bytes)
        .map_err(damaged)?
        .take(MAX_RESPONSE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(damaged)?;
    if out.len() > MAX_RESPONSE_BYTES {
        return Err(ClientError::Protocol(
            "the server's answer is larger than this client accepts".into(),
        ));
    }
    Ok(out)
}

fn short_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or no network".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_never_show_credentials_in_a_server_address() {
        assert_eq!(
            server_for_logs("https://ali:secret@sync.example.uz/daftar"),
            "https://sync.example.uz/daftar"
        );
        assert_eq!(
            server_for_logs("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            server_for_logs("https://sync.example.uz/a@b"),
            "https://sync.example.uz/a@b"
        );
    }
}

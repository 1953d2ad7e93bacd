//! zstd bodies (`docs/sync-protocol.md`, *Compression*): requests with
//! `Content-Encoding: zstd` are decompressed before anything reads them, and responses go out
//! compressed to clients that send `Accept-Encoding: zstd`.
//!
//! Written here rather than taken from tower-http so that a bad or oversized body is answered
//! with the protocol's own JSON error ([`ApiError`]), and so that the size limit applies to
//! the decompressed body (a small compressed body cannot expand into gigabytes).

use std::io::Read as _;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use daftar_protocol::{COMPRESS_ABOVE_BYTES, CONTENT_ENCODING_ZSTD, MAX_BODY_BYTES};

use crate::error::ApiError;

/// zstd level for responses: fast, and most of the ratio of higher levels on these bodies.
const LEVEL: i32 = 3;

/// Bodies above this are compressed on the blocking pool rather than on a runtime thread.
const BLOCKING_ABOVE_BYTES: usize = 64 * 1024;

/// The middleware: decode the request, run the handler, encode the response.
pub async fn zstd_bodies(req: Request, next: Next) -> Response {
    let accepts = accepts_zstd(req.headers());
    let req = match decode_request(req).await {
        Ok(req) => req,
        Err(e) => return e.into_response(),
    };
    let response = next.run(req).await;
    if accepts {
        encode_response(response).await
    } else {
        response
    }
}

/// Whether the client lists zstd in `Accept-Encoding` (with a non-zero q-value).
fn accepts_zstd(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            coding.eq_ignore_ascii_case(CONTENT_ENCODING_ZSTD) && !q_zero
        })
}

async fn decode_request(req: Request) -> Result<Request, ApiError> {
    let Some(coding) = req.headers().get(header::CONTENT_ENCODING) else {
        return Ok(req);
    };
    let coding = coding
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if coding == "identity" || coding.is_empty() {
        return Ok(req);
    }
    if coding != CONTENT_ENCODING_ZSTD {
        return Err(ApiError::malformed(format!(
            "unsupported content encoding {coding:?}; send zstd or no encoding"
        )));
    }
    let (mut parts, body) = req.into_parts();
    let compressed = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge)?;
    let decoded = tokio::task::spawn_blocking(move || decompress_limited(&compressed)).await??;
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(decoded.len()));
    Ok(Request::from_parts(parts, Body::from(decoded)))
}

/// Decompresses at most [`MAX_BODY_BYTES`]; more is refused as too large.
pub fn decompress_limited(compressed: &[u8]) -> Result<Vec<u8>, ApiError> {
    let decoder = zstd::stream::read::Decoder::new(compressed)
        .map_err(|e| ApiError::malformed(format!("the zstd body cannot be read: {e}")))?;
    let mut out = Vec::new();
    decoder
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::malformed(format!("the zstd body is damaged: {e}")))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    Ok(out)
}

async fn encode_response(response: Response) -> Response {
    let worth_it = !response.headers().contains_key(header::CONTENT_ENCODING)
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/"));
    if !worth_it {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Responses are built in memory (JSON), so collecting them costs nothing new.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return ApiError::Panic.into_response();
    };
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if bytes.len() < COMPRESS_ABOVE_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let compressed = if bytes.len() > BLOCKING_ABOVE_BYTES {
        tokio::task::spawn_blocking(move || zstd::bulk::compress(&bytes, LEVEL))
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        zstd::bulk::compress(&bytes, LEVEL).ok()
    };
    let Some(compressed) = compressed else {
        return ApiError::Panic.into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(CONTENT_ENCODING_ZSTD),
    );
    Response::from_parts(parts, Body::from(compressed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(v).expect("header"),
        );
        h
    }

    #[test]
    fn accept_encoding_is_parsed_with_q_values() {
        assert!(accepts_zstd(&headers("zstd")));
        assert!(accepts_zstd(&headers("gzip, zstd;q=0.5")));
        assert!(accepts_zstd(&headers("ZSTD")));
        assert!(!accepts_zstd(&headers("gzip, br")));
        assert!(!accepts_zstd(&headers("zstd;q=0")));
        assert!(!accepts_zstd(&HeaderMap::new()));
    }

    #[test]
    fn decompression_stops_at_the_body_limit() {
        let bomb = zstd::bulk::compress(&vec![b'a'; MAX_BODY_BYTES + 10], 3).expect("compress");
        assert!(bomb.len() < 4096, "a bomb is small: {}", bomb.len());
        assert!(matches!(decompress_limited(&bomb), Err(ApiError::TooLarge)));
        let fine = zstd::bulk::compress(b"{\"cursor\":0}", 3).expect("compress");
        assert_eq!(
            decompress_limited(&fine).expect("decode"),
            b"{\"cursor\":0}"
        );
        assert!(matches!(
            decompress_limited(b"not zstd at all"),
            Err(ApiError::Malformed { .. })
        ));
    }
}

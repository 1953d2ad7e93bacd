//! HTTP: the router, its handlers, extractors and middleware.
//!
//! Handlers are thin: extract, validate ([`crate::sync`]), run the blocking store call on
//! tokio's blocking pool, map the result to a protocol type. Cross-cutting work is middleware,
//! outermost first: a tracing span per request keyed on the matched route, [`observe`]
//! (request counts for `/metrics`, and the one log line for an error response), the request
//! timeout, zstd bodies ([`crate::encoding`]), panic catching (a panic becomes a JSON 500), and
//! the body size limit.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use daftar_protocol::{
    AssignRequest, AssignResponse, Health, LoginRequest, LoginResponse, MAX_BODY_BYTES,
    PROTOCOL_VERSION, REPLICA_HEADER, Role, SyncRequest, SyncResponse,
};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::AppState;
use crate::error::{ApiError, ApiJson, ErrorReport};
use crate::metrics::Metrics;
use crate::password;
use crate::store::{LoginOutcome, MaterialState, TeacherRef, User};

/// Longest user name a sign-in may carry (names are at most 64 characters).
const MAX_USER_NAME_BYTES: usize = 256;

/// The server's routes and middleware, ready to serve (or to drive with `tower::ServiceExt`).
pub fn router(state: AppState) -> Router {
    // With a separate metrics address, `/metrics` is not on the public interface at all.
    let routes = Router::new().route("/healthz", get(healthz));
    let routes = if state.config().metrics_listen.is_some() {
        routes
    } else {
        routes.route("/metrics", get(metrics))
    };
    routes
        .route("/v1/sessions", post(login).delete(logout))
        .route("/v1/sync", post(sync))
        .route("/v1/assignments", post(assign))
        .route(daftar_protocol::LIVE_PATH, get(live))
        .route("/v1/materials/{hash}", get(material_get).put(material_put))
        .route("/v1/materials/{hash}/upload", get(material_upload_state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| ApiError::Panic.into_response(),
        ))
        .layer(from_fn(crate::encoding::zstd_bodies))
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(from_fn_with_state(state.clone(), observe))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    tracing::info_span!("request", method = %req.method(), route)
                })
                .on_request(())
                // Errors are logged once, by `observe`.
                .on_failure(())
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

/// The routes of the private metrics address (`metrics_listen`): `/metrics` and `/healthz`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(state)
}

/// Current time in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Run blocking store work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // A method outside HTTP's own is counted as "other": the client picks it, and each new
    // one would be a new, never-forgotten metrics key.
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        axum::http::Method::PATCH => "PATCH",
        _ => "other",
    };
    let response = next.run(req).await;
    let status = response.status();
    state
        .metrics()
        .record_request(&route, method, status.as_u16());
    if let Some(report) = response.extensions().get::<ErrorReport>() {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), code = ?report.code, error = %report.detail, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), code = ?report.code, error = %report.detail, "request refused");
        }
    }
    response
}

async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config().request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The client's address: the peer's, when the server was started with connect info (as
/// [`crate::serve`] does; `None` under `oneshot` tests), or, when the peer is one of the
/// configured `trusted_proxies`, the last address in `X-Forwarded-For` that is not a proxy.
/// A client that is not a trusted proxy cannot choose the address it is counted under.
struct PeerIp(Option<IpAddr>);

impl FromRequestParts<AppState> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d: compare it as IPv4.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        let proxies = &state.config().trusted_proxies;
        Ok(PeerIp(match peer {
            Some(p) if proxies.contains(&p) => match forwarded_client(&parts.headers, proxies) {
                Forwarded::Client(ip) => Some(ip),
                // The proxy's own request (a health check): its address.
                Forwarded::Absent => Some(p),
                // Not an address we can read: counting it under the proxy's address would put
                // every client behind the proxy under one sign-in limit, so no address-wide
                // limit applies (the per-user one still does).
                Forwarded::Unreadable => None,
            },
            other => other,
        }))
    }
}

/// What `X-Forwarded-For` says about the client.
#[derive(Debug, PartialEq, Eq)]
enum Forwarded {
    Client(IpAddr),
    /// No hop beyond the trusted proxies.
    Absent,
    /// The hop that names the client is not an address (`unknown`, junk).
    Unreadable,
}

/// The client `X-Forwarded-For` names: read from the right (the last proxy appends the address
/// it saw), past the trusted proxies, to the first address that is not one. Hops further left
/// are the client's own words and are never read, so junk there changes nothing. A hop may
/// carry a port (`1.2.3.4:5678`, `[2001:db8::1]:80`).
fn forwarded_client(headers: &axum::http::HeaderMap, proxies: &[IpAddr]) -> Forwarded {
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for hop in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        let hop = hop.trim();
        let Some(ip) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        else {
            return Forwarded::Unreadable;
        };
        let ip = ip.to_canonical();
        if !proxies.contains(&ip) {
            return Forwarded::Client(ip);
        }
    }
    Forwarded::Absent
}

/// The bearer token of the request.
struct BearerToken(String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 256 {
            return Err(ApiError::Unauthorized);
        }
        Ok(BearerToken(token.to_owned()))
    }
}

/// The signed-in user of the request.
struct AuthUser(User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        let hash = password::token_hash(&token);
        let store = state.store().clone();
        let user = blocking(move || Ok(store.session_user(&hash, now_ms())?)).await?;
        user.map(AuthUser).ok_or(ApiError::Unauthorized)
    }
}

/// The replica id header.
struct ReplicaId(String);

impl<S: Send + Sync> FromRequestParts<S> for ReplicaId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(REPLICA_HEADER)
            .ok_or_else(|| ApiError::malformed(format!("missing the {REPLICA_HEADER} header")))?
            .to_str()
            .map_err(|_| ApiError::malformed(format!("the {REPLICA_HEADER} header is not text")))?;
        Ok(ReplicaId(crate::sync::replica_id(value)?))
    }
}

async fn healthz(State(state): State<AppState>) -> Result<ApiJson<Health>, ApiError> {
    blocking(move || Ok(state.check_store()?)).await?;
    Ok(ApiJson(Health {
        status: "ok".into(),
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        format!(
            "{}# HELP daftar_live_waits Live-update waits held now.\n# TYPE daftar_live_waits gauge\ndaftar_live_waits {}\n",
            state.metrics().render(),
            state.live().waiting()
        ),
    )
        .into_response()
}

#[tracing::instrument(skip_all, fields(user = %req.user))]
async fn login(
    State(state): State<AppState>,
    PeerIp(ip): PeerIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<ApiJson<LoginResponse>, ApiError> {
    if req.user.is_empty() || req.user.len() > MAX_USER_NAME_BYTES {
        // Not a name anyone has; not counted, so junk cannot grow the limiter's map.
        return Err(ApiError::BadCredentials);
    }
    let shared = state.clone();
    let ttl = i64::try_from(state.config().token_ttl.as_millis()).unwrap_or(i64::MAX);
    // One trip to the blocking pool for the whole sign-in (under load each trip is a wait for
    // a thread): the limits, the password, and the one write.
    let signed = blocking(move || {
        let limiter = shared.limiter();
        let store = shared.store().as_ref();
        let attempt = match limiter.begin(store, &req.user, ip, now_ms())? {
            Ok(attempt) => attempt,
            Err(wait) => return Ok(Err(ApiError::RateLimited { retry_after: wait })),
        };
        // Verify even for unknown users, so timing does not tell which names exist.
        let found = store.user_credentials(&req.user)?;
        let dummy;
        let (phc, user) = match &found {
            Some((user, phc)) => (phc.as_str(), Some(user)),
            None => {
                dummy = shared.dummy_hash()?;
                (dummy.as_str(), None)
            }
        };
        let matches = password::verify(phc, &req.password)?;
        let verdict = match user {
            Some(user) if matches && user.disabled => Err(ApiError::AccountDisabled),
            Some(user) if matches => Ok(user.clone()),
            _ => Err(ApiError::BadCredentials),
        };
        let token = password::new_token();
        let now = now_ms();
        let expires_at = now.saturating_add(ttl);
        let session = verdict.as_ref().ok().map(|user| crate::store::NewSession {
            user: user.id,
            token_hash: password::token_hash(&token),
            now,
            expires_at,
        });
        // One write: a wrong password is counted; the right one (even for a disabled account)
        // is not a guess, and with an enabled account the session is stored in the same
        // transaction.
        let outcome = if matches!(verdict, Err(ApiError::BadCredentials)) {
            LoginOutcome::Failed
        } else {
            LoginOutcome::Succeeded(session.as_ref())
        };
        if let Err(wait) = limiter.finish(store, attempt, now, outcome)? {
            // Other attempts reached a limit while this one was checked: its verdict is not
            // told.
            return Ok(Err(ApiError::RateLimited { retry_after: wait }));
        }
        Ok(verdict.map(|user| (user, token, expires_at)))
    })
    .await?;
    let (user, token, expires_at) =
        signed.inspect_err(|_| Metrics::add(&state.metrics().logins_failed, 1))?;
    tracing::info!(role = user.role.as_str(), "signed in");
    Ok(ApiJson(LoginResponse {
        token,
        expires_at,
        user: user.info(),
    }))
}

async fn logout(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<StatusCode, ApiError> {
    let hash = password::token_hash(&token);
    let store = state.store().clone();
    blocking(move || Ok(store.delete_session(&hash)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, fields(user = %user.name, replica = %replica, pushed = tracing::field::Empty, pulled = tracing::field::Empty))]
async fn sync(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ReplicaId(replica): ReplicaId,
    ApiJson(req): ApiJson<SyncRequest>,
) -> Result<ApiJson<SyncResponse>, ApiError> {
    let settings = crate::sync::StepSettings::of(state.config());
    // Everything after the step happens on the blocking thread with it: when the client goes
    // away (or the timeout fires) while the step runs, this future is dropped but the step
    // still commits, and the waiting devices must still be woken and the counters still add
    // up.
    let (response, stored) = blocking(move || {
        let step = crate::sync::step(&**state.store(), &settings, &user, replica, &req, now_ms())?;
        if step.stored > 0 {
            state.refresh_snapshots_later(step.touched);
            state.live().bump();
        }
        let metrics = state.metrics();
        let response = step.response;
        Metrics::add(&metrics.changes_stored, step.stored);
        Metrics::add(&metrics.bytes_in, step.stored_bytes);
        Metrics::add(&metrics.changes_refused, response.refused.len() as u64);
        Metrics::add(&metrics.changes_sent, response.changes.len() as u64);
        Metrics::add(
            &metrics.snapshots_sent,
            response.changes.iter().filter(|c| c.snapshot).count() as u64,
        );
        Metrics::add(
            &metrics.bytes_out,
            response
                .changes
                .iter()
                .map(|c| c.change.0.len() as u64)
                .sum(),
        );
        Ok((response, step.stored))
    })
    .await?;
    let span = tracing::Span::current();
    span.record("pushed", stored);
    span.record("pulled", response.changes.len());
    Ok(ApiJson(response))
}

#[tracing::instrument(skip_all, fields(user = %user.name, count = req.assignments.len()))]
async fn assign(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<AssignRequest>,
) -> Result<ApiJson<AssignResponse>, ApiError> {
    if user.role != Role::Admin {
        return Err(ApiError::Forbidden {
            action: "creating assignments",
        });
    }
    let mut pairs = Vec::with_capacity(req.assignments.len());
    for a in &req.assignments {
        let teacher = TeacherRef::parse(&a.teacher)
            .ok_or_else(|| ApiError::malformed("a teacher must be a user name or employee:<id>"))?;
        pairs.push((teacher, crate::sync::journal_id(&a.journal)?));
    }
    let store = state.store().clone();
    let outcome = blocking(move || Ok(store.assign(&pairs, now_ms())?)).await?;
    // A teacher's readable set may have grown: their waiting devices ask again.
    state.live().bump();
    Ok(ApiJson(AssignResponse {
        assigned: outcome.assigned,
        pending: outcome.pending,
    }))
}

/// `?doc=<module id>` and, for an upload part, `&offset=N`.
#[derive(Debug, serde::Deserialize)]
struct MaterialQuery {
    doc: String,
    offset: Option<u64>,
}

fn material_hash(hex_hash: &str) -> Result<crate::store::ChangeHash, ApiError> {
    if !daftar_rules::materials::is_hash_key(hex_hash) {
        return Err(ApiError::malformed(
            "a material is named by the SHA-256 of its bytes, in lowercase hex",
        ));
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut hash)
        .map_err(|_| ApiError::malformed("a material's hash is hex"))?;
    Ok(hash)
}

/// The query of a material request, read by axum's own query parser; what does not read is a
/// JSON `malformed` like every other bad request.
fn material_query(uri: &axum::http::Uri) -> Result<MaterialQuery, ApiError> {
    let axum::extract::Query(q) = axum::extract::Query::<MaterialQuery>::try_from_uri(uri)
        .map_err(|e| {
            ApiError::malformed(format!(
                "say which module: ?doc=module/<id> ({})",
                e.body_text()
            ))
        })?;
    if q.doc.len() > 256 {
        return Err(ApiError::malformed("a document id is at most 256 bytes"));
    }
    Ok(q)
}

fn upload_answer(state: MaterialState) -> daftar_protocol::MaterialUpload {
    daftar_protocol::MaterialUpload {
        size: state.size,
        received: state.received,
        complete: state.complete,
    }
}

/// `GET /v1/materials/<hash>/upload?doc=<module>`: how much of the file the server holds.
#[tracing::instrument(skip_all, fields(user = %user.name))]
async fn material_upload_state(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(hex_hash): Path<String>,
    uri: axum::http::Uri,
) -> Result<ApiJson<daftar_protocol::MaterialUpload>, ApiError> {
    let hash = material_hash(&hex_hash)?;
    let q = material_query(&uri)?;
    let store = state.store().clone();
    let got = blocking(move || Ok(store.material_state(&user, &q.doc, &hash)?)).await?;
    Ok(ApiJson(upload_answer(got.map_err(ApiError::Material)?)))
}

/// `PUT /v1/materials/<hash>?doc=<module>&offset=N`: the next part of an upload.
#[tracing::instrument(skip_all, fields(user = %user.name, bytes = body.len()))]
async fn material_put(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(hex_hash): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<ApiJson<daftar_protocol::MaterialUpload>, ApiError> {
    let hash = material_hash(&hex_hash)?;
    let q = material_query(&uri)?;
    let offset = q
        .offset
        .ok_or_else(|| ApiError::malformed("say where this part goes: &offset=N"))?;
    if body.len() as u64 > daftar_protocol::MATERIAL_CHUNK_BYTES * 4 {
        return Err(ApiError::TooLarge);
    }
    let limits = state.config().materials;
    let store = state.store().clone();
    let got = blocking(move || {
        let part = crate::store::MaterialPart {
            doc: &q.doc,
            hash: &hash,
            offset,
            bytes: &body,
        };
        Ok(store.material_append(&user, &part, &limits, now_ms())?)
    })
    .await?;
    Ok(ApiJson(upload_answer(got.map_err(ApiError::Material)?)))
}

/// `GET /v1/materials/<hash>?doc=<module>` with an optional `Range: bytes=a-b` (one range): the
/// file's bytes, at most [`daftar_protocol::MATERIAL_CHUNK_BYTES`] × 4 per answer (a larger
/// range is answered in part, `206`, and the client asks for the rest).
#[tracing::instrument(skip_all, fields(user = %user.name))]
async fn material_get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(hex_hash): Path<String>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let hash = material_hash(&hex_hash)?;
    let q = material_query(&uri)?;
    let range = match headers.get(header::RANGE) {
        Some(v) => Some(parse_range(v.to_str().unwrap_or(""))?),
        None => None,
    };
    let window = daftar_protocol::MATERIAL_CHUNK_BYTES * 4;
    let (from, to) = match range {
        Some((a, b)) => (
            a,
            b.map_or(a.saturating_add(window), |b| b.saturating_add(1)),
        ),
        None => (0, window),
    };
    let to = to.min(from.saturating_add(window));
    let store = state.store().clone();
    let got = blocking(move || Ok(store.material_read(&user, &q.doc, &hash, from, to)?)).await?;
    let (material, bytes) = got.map_err(ApiError::Material)?;
    if from >= material.size && material.size > 0 {
        let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{}", material.size)) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(r);
    }
    let end = from + bytes.len() as u64;
    let whole = range.is_none() && end == material.size;
    let mut response = if whole {
        (StatusCode::OK, bytes).into_response()
    } else {
        (StatusCode::PARTIAL_CONTENT, bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if !whole
        && let Ok(v) = header::HeaderValue::from_str(&format!(
            "bytes {from}-{}/{}",
            end.saturating_sub(1),
            material.size
        ))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

/// `bytes=a-b` or `bytes=a-` (one range; suffix ranges are not needed by any client here).
fn parse_range(v: &str) -> Result<(u64, Option<u64>), ApiError> {
    let bad = || ApiError::malformed("Range must be bytes=FROM-[TO]");
    let spec = v.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b = match b.trim() {
        "" => None,
        b => Some(b.parse::<u64>().map_err(|_| bad())?),
    };
    if b.is_some_and(|b| b < a) {
        return Err(bad());
    }
    Ok((a, b))
}

/// `GET /v1/changes?after=CURSOR&access=ACCESS&wait=SECONDS` (see [`daftar_protocol::LIVE_PATH`]).
#[tracing::instrument(skip_all, fields(user = %user.name))]
async fn live(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<ApiJson<daftar_protocol::LiveResponse>, ApiError> {
    let (mut after, mut access, mut wait) = (0u64, 0u64, 25u64);
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = value
            .parse::<u64>()
            .map_err(|_| ApiError::malformed(format!("{key}={value:?} is not a whole number")))?;
        match key {
            "after" => after = number,
            "access" => access = number,
            "wait" => wait = number,
            _ => return Err(ApiError::malformed(format!("unknown parameter {key:?}"))),
        }
    }
    let Some(_slot) = state.live().slot(user.id) else {
        return Err(ApiError::RateLimited {
            retry_after: std::time::Duration::from_secs(5),
        });
    };
    // Within the request timeout, with room to answer.
    let most = state
        .config()
        .request_timeout
        .saturating_sub(std::time::Duration::from_secs(2))
        .max(std::time::Duration::from_secs(1));
    let wait =
        std::time::Duration::from_secs(wait.min(daftar_protocol::LIVE_MAX_WAIT_SECS)).min(most);
    let deadline = tokio::time::Instant::now() + wait;
    let mut bumps = state.live().subscribe();
    let mut closed = state.live().closed();
    loop {
        bumps.borrow_and_update();
        let changed = {
            // Checks share a few permits, so a burst of pushes waking a thousand waits queues
            // them instead of taking every database connection.
            let _permit = state.live().check_permit().await;
            let store = state.store().clone();
            let who = user.clone();
            blocking(move || Ok(store.news_since(&who, after, access)?)).await?
        };
        if changed || state.live().is_closed() {
            return Ok(ApiJson(daftar_protocol::LiveResponse { changed }));
        }
        tokio::select! {
            bumped = bumps.changed() => {
                if bumped.is_err() {
                    break;
                }
                // Let a burst of pushes land, then check once for all of them.
                tokio::time::sleep(crate::live::COALESCE).await;
            }
            _ = tokio::time::sleep_until(deadline) => break,
            _ = closed.changed() => break,
        }
    }
    Ok(ApiJson(daftar_protocol::LiveResponse { changed: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().expect("header"));
        h
    }

    #[test]
    fn forwarded_hops_with_ports_junk_or_nothing() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let proxies = [proxy];
        let ip = |s: &str| Forwarded::Client(s.parse().expect("ip"));
        assert_eq!(forwarded_client(&xff("10.9.9.9"), &proxies), ip("10.9.9.9"));
        assert_eq!(
            forwarded_client(&xff("10.9.9.9:5678, 10.0.0.1"), &proxies),
            ip("10.9.9.9")
        );
        assert_eq!(
            forwarded_client(&xff("[2001:db8::7]:80"), &proxies),
            ip("2001:db8::7")
        );
        assert_eq!(
            forwarded_client(&xff("::ffff:10.9.9.9"), &proxies),
            ip("10.9.9.9")
        );
        assert_eq!(
            forwarded_client(&xff("1.2.3.4, unknown"), &proxies),
            Forwarded::Unreadable
        );
        assert_eq!(
            forwarded_client(&xff("10.0.0.1"), &proxies),
            Forwarded::Absent
        );
        assert_eq!(
            forwarded_client(&axum::http::HeaderMap::new(), &proxies),
            Forwarded::Absent
        );
    }
}

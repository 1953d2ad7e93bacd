//! Wire types shared by the Daftar sync client (`daftar-client`) and the sync-server
//! (`daftar-sync-server`).
//!
//! The protocol is deliberately small (see `docs/sync-protocol.md`):
//!
//! 1. `POST /v1/sessions` exchanges a user name and password for an opaque bearer token.
//! 2. `POST /v1/sync` does a push *and* a pull in one round trip. The client sends the automerge
//!    changes the server has not acknowledged yet (batched across documents, bounded in bytes) and
//!    its pull cursor; the server stores what the user may write, refuses the rest with a reason,
//!    and answers with the changes after the cursor for every document the user may read, in
//!    bounded pages. A sync when nothing changed is therefore one small request whatever the
//!    number of documents.
//! 3. A document the user newly gains access to arrives whole, not only the changes after the
//!    cursor: as one compacted snapshot (automerge `save()`) plus the changes since, when the
//!    client asks for [`SyncRequest::snapshots`], else as every change of it.
//! 4. Bodies may travel zstd-compressed (`Content-Encoding: zstd` on requests,
//!    `Accept-Encoding: zstd` for responses); see [`CONTENT_ENCODING_ZSTD`].
//!
//! Every error is answered with one JSON body shape, [`ErrorBody`], with a machine-readable
//! [`ErrorCode`] the client branches on and a message for people.
//!
//! Bodies are JSON; change bytes travel as base64 strings ([`Bytes`]).

pub mod ids;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Protocol version, carried in the URL prefix (`/v1/...`) and in [`SyncResponse::protocol`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest request body the server accepts, in bytes. Clients batch pushes below
/// [`MAX_PUSH_BYTES`], which leaves room for the JSON and base64 overhead.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Raw change bytes a client puts in one sync request, before base64.
pub const MAX_PUSH_BYTES: usize = 4 * 1024 * 1024;

/// Header that carries the client's replica (automerge actor) id on every sync request.
pub const REPLICA_HEADER: &str = "x-daftar-replica";

/// The content coding both sides may use for bodies (`Content-Encoding` / `Accept-Encoding`).
/// Requests are decompressed by the server before any other check; the size limit
/// ([`MAX_BODY_BYTES`]) applies to the decompressed body.
pub const CONTENT_ENCODING_ZSTD: &str = "zstd";

/// Bodies smaller than this are sent as they are: compressing them saves nothing.
pub const COMPRESS_ABOVE_BYTES: usize = 256;

/// Largest decompressed response a client accepts, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Kinds of document (design §2). A document id is `"<kind>/<id>"`, e.g. `journal/g12-s301-3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    Catalog,
    Group,
    Module,
    Journal,
}

impl DocKind {
    pub const ALL: [DocKind; 4] = [
        DocKind::Catalog,
        DocKind::Group,
        DocKind::Module,
        DocKind::Journal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Catalog => "catalog",
            DocKind::Group => "group",
            DocKind::Module => "module",
            DocKind::Journal => "journal",
        }
    }

    /// The kind of a document id (`"journal/..."` → `Journal`).
    pub fn of_doc_id(doc_id: &str) -> Option<DocKind> {
        let (kind, rest) = doc_id.split_once('/')?;
        if rest.is_empty() {
            return None;
        }
        DocKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

impl std::fmt::Display for DocKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The automerge actor id of a document's genesis change.
///
/// Every replica that creates the same document (two admins importing the same HEMIS export)
/// writes an identical first change with this actor and time 0, so the top-level maps have one
/// object id everywhere and nothing is shadowed when the replicas meet. The server accepts a
/// change with this actor from anyone who may write the document.
pub fn genesis_actor(doc_id: &str) -> [u8; 16] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(b"daftar-genesis:")
        .chain_update(doc_id.as_bytes())
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// Bytes that travel as base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// Roles (design §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    /// Dean's office, scoped to a faculty id.
    Dean,
    /// Department head, scoped to a department id.
    DepartmentHead,
    Teacher,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dean => "dean",
            Role::DepartmentHead => "department_head",
            Role::Teacher => "teacher",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "dean" | "deans_office" | "dekanat" => Some(Role::Dean),
            "department_head" | "head" | "kafedra" => Some(Role::DepartmentHead),
            "teacher" => Some(Role::Teacher),
            _ => None,
        }
    }
}

/// `POST /v1/sessions`
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    /// Faculty id for a dean's office, department id for a department head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Teacher's employee id in the catalog (HEMIS employee id), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee: Option<String>,
}

/// `GET /v1/changes?after=CURSOR&access=ACCESS&wait=SECONDS`: answered as soon as the server
/// stores a change the user may read with a seq after `after`, or the user's access version is
/// no longer `access` (`changed: true`: sync now), or after `wait` seconds (`changed: false`:
/// ask again). Lets an online client see others' edits within a second without polling.
pub const LIVE_PATH: &str = "/v1/changes";

/// Longest wait a client may ask of [`LIVE_PATH`], in seconds.
pub const LIVE_MAX_WAIT_SECS: u64 = 55;

/// The answer of [`LIVE_PATH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveResponse {
    pub changed: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub user: UserInfo,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish()
    }
}

/// What the server needs to know about a document to derive permissions. Sent by the client
/// with the first push of a document (and whenever it changes); the server keeps the latest
/// accepted one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocMeta {
    /// Faculty of a group (and of the journals of that group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faculty: Option<String>,
    /// Department owning a module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Group document id a journal belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Module document id a journal follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Employee ids of the teachers the schedule names for a journal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teachers: Vec<String>,
}

/// One change the client pushes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushChange {
    pub doc: String,
    /// Raw automerge change bytes.
    pub change: Bytes,
}

/// `POST /v1/sync`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Server sequence number of the last change the client has applied (0 at first).
    pub cursor: u64,
    /// The access version the client last saw ([`SyncResponse::access`]); when the server's
    /// differs, the client is told which documents it newly may read and they arrive whole.
    #[serde(default)]
    pub access: u64,
    /// Documents' metadata for documents in `push` (only when new or changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docs: Vec<(String, DocMeta)>,
    /// Changes the server has not acknowledged yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push: Vec<PushChange>,
    /// Largest page of changes the client wants back, in raw bytes (the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_bytes: Option<u64>,
    /// The client takes newly readable documents as compacted snapshots
    /// ([`PulledChange::snapshot`]). Older clients leave it out and get every change.
    #[serde(default, skip_serializing_if = "is_false")]
    pub snapshots: bool,
    /// The client understands [`SyncResponse::acked_all`]: when every pushed change was
    /// stored, the server says so instead of echoing each hash.
    #[serde(default, skip_serializing_if = "is_false")]
    pub compact_acks: bool,
    /// The client acknowledges pages (see [`SyncResponse::page`]): what a page records about
    /// this replica (documents sent whole) counts only once the next request acknowledges it,
    /// so a reply lost on the way costs a round trip, never documents.
    #[serde(default, skip_serializing_if = "is_false")]
    pub acknowledges: bool,
    /// The [`SyncResponse::page`] this replica applied since its last request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A change refused by the server; the client keeps it and retries when access changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refusal {
    /// Hex change hash.
    pub hash: String,
    pub code: ErrorCode,
    pub reason: String,
}

/// One change the client pulls, or a whole document as a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PulledChange {
    /// Server sequence number of the change; for a snapshot, of the last change it holds.
    pub seq: u64,
    pub doc: String,
    /// Raw automerge change bytes, or with `snapshot` a saved document (automerge `save()`)
    /// holding every change of the document up to `seq`.
    pub change: Bytes,
    #[serde(default, skip_serializing_if = "is_false")]
    pub snapshot: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    /// Hex hashes of the pushed changes now stored (including ones stored before). Empty
    /// when `acked_all` says the same of every pushed change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acked: Vec<String>,
    /// Every change of the push is stored (only to clients that asked for
    /// [`SyncRequest::compact_acks`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub acked_all: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
    /// Changes after the cursor (and whole documents newly readable), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PulledChange>,
    /// Cursor to send next time (covers every change in `changes`).
    pub cursor: u64,
    /// The user's current access version.
    pub access: u64,
    /// More changes are waiting: ask again at once with the new cursor.
    #[serde(default)]
    pub more: bool,
    /// To a client that [`SyncRequest::acknowledges`]: the id to acknowledge (as
    /// [`SyncRequest::ack`]) once this page is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
    /// Who each device (automerge actor) of the changes in `changes` belongs to, as the server
    /// recorded at its first push: the only authorship shown to people. Snapshots count with
    /// every change they hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<ActorAuthor>,
    /// When the server received the changes in `changes` whose device time is more than a day
    /// away from that (an offline week, or a device clock set back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receipts: Vec<Receipt>,
}

/// The user a device (automerge actor) belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActorAuthor {
    /// Hex actor id.
    pub actor: String,
    pub user: String,
}

/// When the server stored a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    /// Hex change hash.
    pub hash: String,
    /// Unix milliseconds.
    pub received_at: i64,
}

/// How far apart a change's device time and its receipt must be before people are shown both.
pub const RECEIPT_SHOWN_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Machine-readable error codes, one per thing a client does differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Missing, unknown or expired token: sign in again.
    Unauthorized,
    /// Wrong user name or password.
    BadCredentials,
    /// Too many attempts; wait and retry.
    RateLimited,
    /// The user may not read or write this.
    Forbidden,
    /// The change was made on a device that belongs to another user.
    ForeignActor,
    /// Unknown document or resource.
    NotFound,
    /// The body could not be read (bad JSON, bad change bytes, wrong shape).
    Malformed,
    /// The body is larger than the server accepts.
    TooLarge,
    /// The client speaks a protocol version the server does not.
    UnsupportedVersion,
    /// Something broke on the server; retry later.
    Internal,
    /// A material's bytes are not (all) on the server yet: fetch it later.
    NotReady,
    /// The request does not fit what the server holds now (an upload part that does not start
    /// where the received bytes end): ask where it stands, then go on from there.
    Conflict,
}

impl ErrorCode {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::RateLimited | ErrorCode::Internal)
    }
}

/// The one error body every endpoint answers with on failure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

/// `GET /healthz`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub protocol: u32,
    pub version: String,
}

/// Where course materials' bytes travel: `/v1/materials/<sha-256 hex>?doc=<module id>`.
/// `GET` answers the bytes (a `Range: bytes=a-b` gives part of them, `206`); `PUT` with
/// `?offset=N` appends the next part of an upload and `GET …/upload` tells how much the server
/// has (`docs/materials.md`).
pub const MATERIALS_PATH: &str = "/v1/materials";

/// The part of a material one request moves: an upload's body, a download's range.
pub const MATERIAL_CHUNK_BYTES: u64 = 1024 * 1024;

/// How much of a material the server holds (`GET /v1/materials/<hash>/upload`, and the answer
/// to each `PUT`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct MaterialUpload {
    /// The size the module's description gives.
    pub size: u64,
    /// Bytes received so far, in order from the start.
    pub received: u64,
    /// All of it, checked against its hash.
    pub complete: bool,
}

/// `POST /v1/assignments` (admin): assign teachers to journals, e.g. after a HEMIS import
/// so assignments come from the schedule. Teachers are named by user name or by employee id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssignRequest {
    pub assignments: Vec<Assignment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Assignment {
    /// User name, or `employee:<id>` for the user whose employee id matches.
    pub teacher: String,
    /// Journal document id.
    pub journal: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssignResponse {
    pub assigned: usize,
    /// Assignments naming a teacher the server does not know (kept for when the user is added).
    #[serde(default)]
    pub pending: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_kind_parses_doc_ids() {
        assert_eq!(DocKind::of_doc_id("journal/x1"), Some(DocKind::Journal));
        assert_eq!(DocKind::of_doc_id("catalog/uni"), Some(DocKind::Catalog));
        assert_eq!(DocKind::of_doc_id("journal/"), None);
        assert_eq!(DocKind::of_doc_id("nope/x"), None);
        assert_eq!(DocKind::of_doc_id("journal"), None);
    }

    #[test]
    fn genesis_actor_is_stable_and_distinct() {
        assert_eq!(genesis_actor("journal/a"), genesis_actor("journal/a"));
        assert_ne!(genesis_actor("journal/a"), genesis_actor("journal/b"));
    }

    #[test]
    fn bytes_round_trip_as_base64() {
        let b = Bytes(vec![0, 1, 2, 250]);
        let json = serde_json::to_string(&b).expect("serialise");
        assert_eq!(json, "\"AAEC+g==\"");
        let back: Bytes = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, b);
    }

    #[test]
    fn login_request_debug_redacts_password() {
        let r = LoginRequest {
            user: "a".into(),
            password: "secret".into(),
        };
        assert!(!format!("{r:?}").contains("secret"));
    }
}

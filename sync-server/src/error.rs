//! The one HTTP error type, [`ApiError`], and the JSON extractor that routes bad bodies into it.
//!
//! Every failure the server answers goes through [`ApiError::into_response`]: one status
//! mapping, one body shape ([`daftar_protocol::ErrorBody`]). 5xx bodies say only "internal";
//! the cause travels in a response extension ([`ErrorReport`]) to the logging middleware in
//! [`crate::api`], which logs it once. Handlers never log their own errors.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use daftar_protocol::{ErrorBody, ErrorCode};

use crate::password::PasswordError;
use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing, unknown or expired token")]
    Unauthorized,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("too many failed sign-ins; try again later")]
    RateLimited { retry_after: Duration },
    #[error("{action} is not allowed for this user")]
    Forbidden { action: &'static str },
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    #[error("malformed request: {reason}")]
    Malformed { reason: String },
    #[error("the request body is larger than the server accepts")]
    TooLarge,
    #[error("the request took too long")]
    Timeout,
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Password(#[from] PasswordError),
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("the handler panicked")]
    Panic,
    #[error("{}", material_words(.0))]
    Material(crate::store::MaterialRefusal),
}

fn material_words(refusal: &crate::store::MaterialRefusal) -> String {
    use crate::store::MaterialRefusal as R;
    match refusal {
        R::NotFound => "no module you may read has this material".into(),
        R::Forbidden(reason) => reason.clone(),
        R::NotUploaded => {
            "this material's file is not on the server yet; it comes once the department head's \
             computer has sent it"
                .into()
        }
        R::WrongOffset { received } => {
            format!("the server holds the first {received} bytes of this file; go on from there")
        }
        R::TooLarge(reason) => reason.clone(),
        R::HashMismatch => {
            "the file's bytes do not match its hash (damaged on the way?); nothing was kept, \
             send it again"
                .into()
        }
    }
}

impl ApiError {
    pub fn malformed(reason: impl Into<String>) -> ApiError {
        ApiError::Malformed {
            reason: reason.into(),
        }
    }

    /// The HTTP status and wire code.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, ErrorCode::BadCredentials),
            ApiError::AccountDisabled => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::NotFound),
            ApiError::Malformed { .. } => (StatusCode::BAD_REQUEST, ErrorCode::Malformed),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal),
            ApiError::Store(e) if e.is_out_of_room() => {
                (StatusCode::INSUFFICIENT_STORAGE, ErrorCode::Internal)
            }
            ApiError::Store(e) if e.is_retryable() => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal)
            }
            ApiError::Material(refusal) => {
                use crate::store::MaterialRefusal as R;
                match refusal {
                    R::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
                    R::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
                    R::NotUploaded => (StatusCode::CONFLICT, ErrorCode::NotReady),
                    R::WrongOffset { .. } => (StatusCode::CONFLICT, ErrorCode::Conflict),
                    R::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
                    R::HashMismatch => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Malformed),
                }
            }
            ApiError::Store(_) | ApiError::Password(_) | ApiError::Task(_) | ApiError::Panic => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        }
    }
}

/// The cause of an error response, for the logging middleware (never sent to the client).
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub code: ErrorCode,
    /// The error and its sources, `: `-separated.
    pub detail: String,
}

/// The error and its sources, `: `-separated.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            match &self {
                ApiError::Timeout => "the request took too long; retry later".to_owned(),
                ApiError::Store(e) if e.is_out_of_room() => {
                    "the server cannot store anything now (its disk is full or read-only); \
                     changes stay on the devices and go up once it has room"
                        .to_owned()
                }
                _ => "internal server error; retry later".to_owned(),
            }
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: code,
            message,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response.extensions_mut().insert(ErrorReport {
            code,
            detail: chain(&self),
        });
        response
    }
}

/// `axum::Json` whose rejections (bad JSON, wrong shape, bad base64, missing content type,
/// body over the limit) become [`ApiError`]s instead of axum's plain-text answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge)
            }
            Err(rejection) => Err(ApiError::malformed(rejection.body_text())),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

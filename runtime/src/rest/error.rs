//! One error type for every handler, and extractors (JSON body, path, query) that report
//! bad input with it, so every failing answer has the `{"error_code","message"}` shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::api::ErrorMessage;
use crate::herder::HerderError;

/// An error answer: status code and message, rendered as Kafka Connect's `ErrorMessage`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> Self {
        let status =
            StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorMessage {
            error_code: self.status.as_u16(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s with the parser's message.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Like [`Json`], also keeping the body's exact bytes (what a request signature covers).
pub struct SignedJson<T>(pub T, pub bytes::Bytes);

impl<S, T> FromRequest<S> for SignedJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        if !is_json {
            return Err(unsupported_media_type());
        }
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(SignedJson(v, bytes)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "HTTP 415 Unsupported Media Type: expected Content-Type: application/json",
    )
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    {
        {
            match rejection {
                JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
                JsonRejection::JsonDataError(e) => {
                    ApiError::bad_request(format!("Invalid request body: {}", e.body_text()))
                }
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::bad_request(format!("Malformed JSON request body: {}", e.body_text()))
                }
                other => ApiError::bad_request(other.body_text()),
            }
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections are 404s: a path that does not parse names
/// nothing that exists (as in JAX-RS, where a bad path parameter is a 404).
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("HTTP 404 Not Found: {}", rejection.body_text()),
            )),
        }
    }
}

/// `axum::extract::Query` whose rejections are [`ApiError`] 400s.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// A boolean query parameter read the way Kafka Connect (JAX-RS `@QueryParam boolean`)
/// reads it: the first value counts; `true` in any case is true, anything else is false.
pub fn query_flag(query: &[(String, String)], name: &str, default: bool) -> bool {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map_or(default, |(_, v)| v.trim().eq_ignore_ascii_case("true"))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

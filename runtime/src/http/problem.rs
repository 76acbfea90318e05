//! RFC 9457 problem details (`application/problem+json`), the body of every HTTP error.

use crate::http::validate::FieldViolation;
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Media type of problem details.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Problem type URIs used by this crate.
pub mod types {
    /// 401: missing, malformed, expired or untrusted token.
    pub const UNAUTHORIZED: &str = "urn:problem-type:unauthorized";
    /// 403: authenticated, but no allowed role.
    pub const FORBIDDEN: &str = "urn:problem-type:forbidden";
    /// 400: the body is not valid JSON for the endpoint.
    pub const MALFORMED_BODY: &str = "urn:problem-type:malformed-body";
    /// 422: the body parsed but violates constraints (see `errors`).
    pub const VALIDATION: &str = "urn:problem-type:validation";
    /// 413: the body exceeds the size limit.
    pub const PAYLOAD_TOO_LARGE: &str = "urn:problem-type:payload-too-large";
    /// 415: the body is not declared as JSON (`Content-Type`).
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "urn:problem-type:unsupported-media-type";
    /// 400: a header has a value the endpoint cannot use.
    pub const BAD_HEADER: &str = "urn:problem-type:bad-header";
    /// 400: invalid query parameters (see `errors`).
    pub const BAD_QUERY: &str = "urn:problem-type:bad-query";
    /// 404: no such resource (or not visible to the caller).
    pub const NOT_FOUND: &str = "urn:problem-type:not-found";
    /// 405: method not allowed on the route.
    pub const METHOD_NOT_ALLOWED: &str = "urn:problem-type:method-not-allowed";
    /// 503: a dependency (broker, database) is unavailable; retry later.
    pub const UNAVAILABLE: &str = "urn:problem-type:unavailable";
    /// 500/502: unexpected failure.
    pub const INTERNAL: &str = "urn:problem-type:internal";
}

/// A problem details object (RFC 9457) with the `errors` extension for validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Problem type URI (see [`types`]).
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path this occurrence is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// One entry per invalid field or parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
}

impl Problem {
    /// A problem of `type_uri` with `status`; the title is the status' reason phrase.
    pub fn new(status: StatusCode, type_uri: &str, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: type_uri.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: Some(detail.into()),
            instance: None,
            errors: Vec::new(),
        }
    }

    /// Sets `instance` (the request path).
    pub fn at(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Sets `errors`.
    pub fn with_errors(mut self, errors: Vec<FieldViolation>) -> Self {
        self.errors = errors;
        self
    }

    /// 401 Unauthorized.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, types::UNAUTHORIZED, detail)
    }

    /// 403 Forbidden.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, types::FORBIDDEN, detail)
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, types::NOT_FOUND, detail)
    }

    /// 400 for a body that is not valid JSON for the endpoint.
    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, types::MALFORMED_BODY, detail)
    }

    /// 422 with one `errors` entry per violation.
    pub fn validation(errors: Vec<FieldViolation>) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            types::VALIDATION,
            "the request body violates constraints",
        )
        .with_errors(errors)
    }

    /// 400 for invalid query parameters, one `errors` entry each.
    pub fn bad_query(errors: Vec<FieldViolation>) -> Self {
        let names: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        Problem::new(
            StatusCode::BAD_REQUEST,
            types::BAD_QUERY,
            format!("invalid query parameters: {}", names.join(", ")),
        )
        .with_errors(errors)
    }

    /// 503 Service Unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, types::UNAVAILABLE, detail)
    }

    /// 500 Internal Server Error.
    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, types::INTERNAL, detail)
    }

    /// The status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Fallback for unknown routes: 404 problem.
pub async fn not_found_fallback(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no route for {}", uri.path())).at(uri.path())
}

/// Fallback for a known route with another method: 405 problem.
pub async fn method_not_allowed_fallback(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        types::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
    .at(uri.path())
}

//! Command API plumbing: one typed route per command, and `GET /commands/{id}`.
//!
//! Per request: authenticate (401) → authorize the route's roles (403) → read the body (413
//! above the limit; 415 unless a non-empty body is declared `application/json` or
//! `application/*+json`) → parse JSON into the command (400) → [`Validate`] (422 with `errors`) →
//! build the envelope (`Metadata::new_root`; correlation id from the `x-correlation-id`
//! header, which must be a UUID when present (else 400), or new; user and tenant from the principal; aggregate id from the path or a new
//! UUID v4) → `MessageBus::send_command` (Ok = broker confirmed; 503 when unavailable) →
//! `202 Accepted` with `{ tracking_id, correlation_id, aggregate_id, status_url }` and a
//! `Location` header. No domain logic and no database here.

use crate::bus::{BusError, MessageBus};
use crate::envelope::{Envelope, Metadata};
use crate::http::auth::JwtAuth;
use crate::http::command_status::CommandStatusTracker;
use crate::http::problem::{self, Problem};
use crate::http::validate::Validate;
use crate::message::Command;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawPathParams};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodFilter, get, on};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Header carrying the caller's correlation id (used when it is a UUID).
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// W3C trace-context header: the command continues the caller's trace (a new span id in the
/// same trace), or starts a new one; the `202` answers with the command's own `traceparent`.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Where the target aggregate id of a command comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSource {
    /// The named path parameter (`/orders/{id}/cancel` → `Path("id")`), any text.
    Path(&'static str),
    /// The named path parameter, which must be a UUID (else 404: no such aggregate can exist).
    PathUuid(&'static str),
    /// The named path parameter, which must be an `i64` (else 404).
    PathInteger(&'static str),
    /// A new UUID v4 (commands that create an aggregate).
    Generated,
}

struct Shared {
    context: String,
    bus: Arc<dyn MessageBus>,
    auth: Arc<JwtAuth>,
    tracker: Arc<CommandStatusTracker>,
}

/// Builds the Command API router of one bounded context.
///
/// ```
/// use runtime::http::auth::JwtAuth;
/// use runtime::http::command_api::{CommandApi, IdSource};
/// use runtime::http::validate::{FieldViolation, Validate};
/// use runtime::memory::MemoryBus;
/// use runtime::{Command, Message};
/// use std::sync::Arc;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct CancelOrder { reason: String }
/// impl Message for CancelOrder { const TYPE: &'static str = "ordering.CancelOrder"; }
/// impl Command for CancelOrder { const AGGREGATE: &'static str = "ordering.Order"; }
/// impl Validate for CancelOrder {
///     fn validate(&self) -> Result<(), Vec<FieldViolation>> { Ok(()) }
/// }
///
/// let router: axum::Router = CommandApi::new("ordering", Arc::new(MemoryBus::new()), Arc::new(JwtAuth::hs256(b"s")))
///     .command::<CancelOrder>(axum::http::Method::POST, "/orders/{id}/cancel", &["clerk"], IdSource::Path("id"))
///     .router();
/// ```
pub struct CommandApi {
    shared: Arc<Shared>,
    router: Router,
    body_limit: usize,
}

impl CommandApi {
    /// A Command API for `context`, enqueuing on `bus`, authenticating with `auth`, with a
    /// default [`CommandStatusTracker`] (10 000 entries, one hour).
    pub fn new(context: impl Into<String>, bus: Arc<dyn MessageBus>, auth: Arc<JwtAuth>) -> Self {
        CommandApi {
            shared: Arc::new(Shared {
                context: context.into(),
                bus,
                auth,
                tracker: Arc::new(CommandStatusTracker::default()),
            }),
            router: Router::new(),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Uses `tracker` (call before registering commands).
    pub fn with_tracker(mut self, tracker: Arc<CommandStatusTracker>) -> Self {
        let s = &self.shared;
        self.shared = Arc::new(Shared {
            context: s.context.clone(),
            bus: s.bus.clone(),
            auth: s.auth.clone(),
            tracker,
        });
        self
    }

    /// Sets the request body limit (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The status tracker; feed it outcome messages with
    /// [`CommandStatusTracker::record_outcome`].
    pub fn tracker(&self) -> Arc<CommandStatusTracker> {
        self.shared.tracker.clone()
    }

    /// Registers command `C` at `method path` for principals with one of `roles` (empty: any
    /// authenticated principal); the aggregate id comes from `id`.
    ///
    /// # Panics
    /// When `method` is not a standard method (a programming error of the generated code).
    pub fn command<C: Command + Validate>(
        mut self,
        method: Method,
        path: &str,
        roles: &'static [&'static str],
        id: IdSource,
    ) -> Self {
        let filter = MethodFilter::try_from(method).expect("a standard HTTP method");
        let shared = self.shared.clone();
        let handler = move |uri: Uri,
                            params: RawPathParams,
                            headers: HeaderMap,
                            body: Result<Bytes, BytesRejection>| {
            let shared = shared.clone();
            async move {
                match accept::<C>(&shared, &uri, &params, &headers, body, roles, id).await {
                    Ok(response) => response,
                    Err(problem) => problem.at(uri.path()).into_response(),
                }
            }
        };
        self.router = self.router.route(path, on(filter, handler));
        self
    }

    /// The router: every registered command, `GET /commands/{id}`, problem+json fallbacks
    /// and the body limit.
    pub fn router(self) -> Router {
        let shared = self.shared.clone();
        self.router
            .route(
                "/commands/{id}",
                get(move |uri: Uri, headers: HeaderMap, id: Path<String>| {
                    let shared = shared.clone();
                    async move {
                        match status(&shared, &headers, &id) {
                            Ok(r) => r,
                            Err(p) => p.at(uri.path()).into_response(),
                        }
                    }
                }),
            )
            .fallback(problem::not_found_fallback)
            .method_not_allowed_fallback(problem::method_not_allowed_fallback)
            .layer(DefaultBodyLimit::max(self.body_limit))
    }
}

/// Writes every number with a zero fraction (`118.0`, which JSON Schema counts as an integer)
/// as an integer, so that integer fields accept it; other numbers are left as they are.
/// (serde_json's parser bounds the nesting, so the recursion is bounded too.)
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
            {
                if f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    *value = serde_json::Value::from(f as i64);
                } else if f >= 0.0 && f < u64::MAX as f64 {
                    *value = serde_json::Value::from(f as u64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(integral_numbers_as_integers)
        }
        _ => {}
    }
}

/// Whether the request declares a JSON body (`application/json`, `application/*+json`, any
/// parameters such as `charset`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn accept<C: Command + Validate>(
    shared: &Shared,
    uri: &Uri,
    params: &RawPathParams,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    roles: &[&str],
    id: IdSource,
) -> Result<Response, Problem> {
    let principal = shared
        .auth
        .authorize(headers, roles)
        .map_err(|e| e.to_problem())?;
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                status,
                problem::types::PAYLOAD_TOO_LARGE,
                rejection.body_text(),
            )
        } else {
            Problem::new(
                status,
                problem::types::MALFORMED_BODY,
                rejection.body_text(),
            )
        }
    })?;
    if !body.is_empty() && !is_json(headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            problem::types::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with `Content-Type: application/json`",
        ));
    }
    let mut value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Problem::malformed_body(format!("invalid JSON body: {e}")))?;
    integral_numbers_as_integers(&mut value);
    let command: C = serde_json::from_value(value)
        .map_err(|e| Problem::malformed_body(format!("invalid JSON body: {e}")))?;
    command.validate().map_err(Problem::validation)?;

    let aggregate_id = match id {
        IdSource::Generated => Uuid::new_v4().to_string(),
        IdSource::Path(name) | IdSource::PathUuid(name) | IdSource::PathInteger(name) => {
            let raw = params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
                .ok_or_else(|| {
                    Problem::internal(format!(
                        "route {} has no path parameter `{name}`",
                        uri.path()
                    ))
                })?;
            let valid = match id {
                IdSource::PathUuid(_) => Uuid::parse_str(&raw).is_ok(),
                IdSource::PathInteger(_) => raw.parse::<i64>().is_ok(),
                _ => true,
            };
            if !valid {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    problem::types::NOT_FOUND,
                    format!("`{raw}` is not a valid id here"),
                ));
            }
            raw
        }
    };
    let mut meta = Metadata::new_root(C::TYPE, principal.tenant_id.clone());
    meta.schema_version = C::VERSION;
    if let Some(raw) = headers.get(CORRELATION_HEADER) {
        meta.correlation_id = raw
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    problem::types::BAD_HEADER,
                    format!("`{CORRELATION_HEADER}` must be a UUID"),
                )
            })?;
    }
    // W3C trace context: a child of the caller's `traceparent`, or a new trace when it is
    // missing or malformed (as the W3C spec asks, a bad header is ignored, not refused).
    // With OTLP export on, the request gets an exported span of its own (a child of the
    // caller's), which the command's `traceparent` then names.
    let incoming = headers
        .get(TRACEPARENT_HEADER)
        .and_then(|v| v.to_str().ok());
    let request_span = tracing::info_span!(
        "command_api",
        service = crate::observability::service_name(),
        command = C::TYPE,
        correlation_id = %meta.correlation_id,
    );
    #[cfg(feature = "otlp")]
    if let Some(tp) = incoming {
        crate::otlp::set_parent(&request_span, tp);
    }
    meta.traceparent =
        Some(request_span.in_scope(|| crate::observability::child_traceparent(incoming)));
    meta.user_id = Some(principal.user_id.clone());
    meta.aggregate_id = Some(aggregate_id.clone());
    let payload = serde_json::to_value(&command)
        .map_err(|e| Problem::internal(format!("cannot encode the command: {e}")))?;
    let envelope = Envelope { meta, payload };

    // Recorded before sending so that an outcome arriving first is not overwritten.
    shared.tracker.accepted(&envelope);
    if let Err(e) = shared.bus.send_command(&shared.context, &envelope).await {
        shared.tracker.forget(envelope.meta.message_id);
        tracing::warn!(error = %e, command = C::TYPE, "enqueueing a command failed");
        return Err(match e {
            BusError::Unavailable(_) => {
                Problem::unavailable("the command queue is unavailable; retry later")
            }
            BusError::Rejected(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                problem::types::INTERNAL,
                "the broker refused the command",
            ),
            BusError::Encode(m) => Problem::internal(m),
        });
    }
    crate::observability::message_span(&envelope).in_scope(|| tracing::debug!("command accepted"));
    let id = envelope.meta.message_id;
    let status_url = format!("/commands/{id}");
    let body = json!({
        "tracking_id": id,
        "correlation_id": envelope.meta.correlation_id,
        "aggregate_id": aggregate_id,
        "status_url": status_url,
    });
    let traceparent = envelope.meta.traceparent.clone().unwrap_or_default();
    Ok((
        StatusCode::ACCEPTED,
        [
            (LOCATION, status_url),
            (HeaderName::from_static(TRACEPARENT_HEADER), traceparent),
        ],
        Json(body),
    )
        .into_response())
}

// The error is the (cold-path) response body itself; boxing it would only add noise.
#[allow(clippy::result_large_err)]
fn status(shared: &Shared, headers: &HeaderMap, id: &str) -> Result<Response, Problem> {
    let principal = shared
        .auth
        .authenticate(headers)
        .map_err(|e| e.to_problem())?;
    let not_found =
        || Problem::not_found(format!("no command `{id}` is known to this API instance"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let view = shared
        .tracker
        .get(id, &principal.tenant_id)
        .ok_or_else(not_found)?;
    Ok(Json(view).into_response())
}

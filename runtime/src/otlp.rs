//! OTLP export of spans (feature `otlp`): when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, every span (the per-message spans of
//! [`crate::observability::message_span`] and what is logged inside them) is also sent to an
//! OpenTelemetry collector over HTTP/protobuf, by a batch processor on a thread of its own. Off
//! by default: without the variable nothing is exported and nothing extra runs.
//!
//! The exporter reads the standard variables itself (`OTEL_EXPORTER_OTLP_ENDPOINT`, with
//! `/v1/traces` appended; `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, taken as is;
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`); `OTEL_SERVICE_NAME` overrides the
//! process name as `service.name`. A message's span takes the message's `traceparent` as its
//! parent, and the `traceparent` of what it sends names that span, so the spans of one flow
//! form one tree across processes.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether the environment asks for OTLP export.
pub fn requested() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// The tracing layer that exports spans of `service_name`, when [`requested`]; `Err` when the
/// exporter cannot be built (a malformed endpoint).
pub fn layer<S>(
    service_name: &str,
) -> Result<
    Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>>,
    String,
>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    if !requested() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("OTLP span exporter: {e}"))?;
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| service_name.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("runtime");
    let _ = PROVIDER.set(provider);
    Ok(Some(tracing_opentelemetry::layer().with_tracer(tracer)))
}

/// Whether spans are being exported.
pub fn active() -> bool {
    PROVIDER.get().is_some()
}

/// Makes the span of a message or request a child of `traceparent` (W3C), so its exported
/// span joins the caller's trace.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    if !active() {
        return;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(cx);
}

/// The `traceparent` naming the current span (the parent of what it sends), when spans are
/// exported and the current span belongs to the trace `trace_id` (to any, for `None`).
pub fn current_traceparent(trace_id: Option<&str>) -> Option<String> {
    if !active() {
        return None;
    }
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    let same_trace = trace_id.is_none_or(|t| sc.trace_id().to_string() == t);
    (sc.is_valid() && same_trace).then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Exports the spans still buffered and stops the exporter (at the end of `main`).
pub fn shutdown() {
    if let Some(p) = PROVIDER.get()
        && let Err(e) = p.shutdown()
    {
        eprintln!("OTLP span export did not finish: {e}");
    }
}

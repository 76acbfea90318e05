//! OTLP export (feature `otlp`): with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the span of a message
//! is exported to the collector as a child of the message's `traceparent`, and the
//! `traceparent` of what is sent inside it names that exported span. The collector here is a
//! plain HTTP endpoint that keeps the protobuf bodies; the ids are looked up in them as bytes.
#![cfg(all(feature = "otlp", feature = "http"))]

use runtime::config::LogFormat;
use runtime::observability::{child_traceparent, init_tracing, message_span, shutdown_tracing};
use runtime::{Metadata, RawEnvelope};
use std::sync::{Arc, Mutex};

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_spans_are_exported_as_children_of_the_message_traceparent() {
    let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body.to_vec());
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // SAFETY: set before any other thread of this test binary reads the environment.
    unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}")) };
    init_tracing("otlp-test", LogFormat::Json).unwrap();

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let mut meta = Metadata::new_root("shop.OrderPlaced", "acme");
    meta.traceparent = Some(format!("00-{trace}-{caller}-01"));
    let event = RawEnvelope {
        meta,
        payload: serde_json::json!({}),
    };
    let sent = message_span(&event).in_scope(|| {
        tracing::info!("handling");
        child_traceparent(event.meta.traceparent.as_deref())
    });
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts[1], trace, "{sent}");
    let span_id = parts[2].to_owned();
    assert_ne!(span_id, caller);

    tokio::task::spawn_blocking(shutdown_tracing).await.unwrap();
    let bodies = bodies.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "nothing exported");
    let all: Vec<u8> = bodies.concat();
    assert!(contains(&all, &bytes(trace)), "the trace id is exported");
    assert!(contains(&all, &bytes(caller)), "the caller is the parent");
    assert!(
        contains(&all, &bytes(&span_id)),
        "the exported span is the one the sent traceparent names"
    );
    assert!(contains(&all, b"otlp-test"), "service.name");
}

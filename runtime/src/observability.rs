//! Observability: tracing initialisation (text or JSON), per-message spans carrying the
//! correlation data, W3C `traceparent` helpers, and every metric name with small recording
//! helpers on the [`metrics`] facade.
//!
//! The `/metrics` endpoint (Prometheus exposition) is served by the `http` module; this module
//! only records through the facade, so it works with any installed recorder (and is a no-op
//! without one).

use crate::config::LogFormat;
use crate::envelope::RawEnvelope;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tracing_subscriber::EnvFilter;

static SERVICE_NAME: OnceLock<String> = OnceLock::new();

/// Error initialising tracing.
#[derive(Debug, thiserror::Error)]
pub enum ObservabilityError {
    /// The filter directives do not parse.
    #[error("invalid log filter {directives:?}: {message}")]
    Filter {
        /// The directives given.
        directives: String,
        /// Parser message.
        message: String,
    },
    /// A global subscriber is already installed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialised,
    /// OTLP export was asked for (`OTEL_EXPORTER_OTLP_ENDPOINT`) and cannot start.
    #[error("{0}")]
    Otlp(String),
}

/// Installs the global tracing subscriber: `RUST_LOG` filter (default `info`), text or JSON
/// lines on stdout. JSON lines carry the fields of the current span and of its parents, so a
/// line logged inside a [`message_span`] has the correlation data. `service_name` is recorded on
/// every [`message_span`] as `service`.
pub fn init_tracing(service_name: &str, format: LogFormat) -> Result<(), ObservabilityError> {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    init_tracing_with_filter(service_name, format, &directives)
}

/// Like [`init_tracing`] with explicit filter directives (`ServiceConfig::rust_log`).
pub fn init_tracing_with_filter(
    service_name: &str,
    format: LogFormat,
    directives: &str,
) -> Result<(), ObservabilityError> {
    let filter = EnvFilter::try_new(directives).map_err(|e| ObservabilityError::Filter {
        directives: directives.to_owned(),
        message: e.to_string(),
    })?;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = SERVICE_NAME.set(service_name.to_owned());
    let fmt = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otlp")]
    let registry =
        registry.with(crate::otlp::layer(service_name).map_err(ObservabilityError::Otlp)?);
    registry
        .try_init()
        .map_err(|_| ObservabilityError::AlreadyInitialised)
}

/// Exports the spans still buffered when OTLP export is on (feature `otlp`); a no-op
/// otherwise. Called by [`crate::process::main_exit`].
pub fn shutdown_tracing() {
    #[cfg(feature = "otlp")]
    crate::otlp::shutdown();
}

/// The service name given to [`init_tracing`] (empty before).
pub fn service_name() -> &'static str {
    SERVICE_NAME.get().map(String::as_str).unwrap_or("")
}

/// An `INFO` span named `message` with `service`, `message_id`, `message_type`,
/// `correlation_id`, `causation_id` (when set), `tenant_id`, `aggregate_id` (when set) and
/// `trace_id` (the W3C trace id of its `traceparent`, when set) of the envelope. Handle each message inside it (`.instrument(span)` or `span.in_scope`), so
/// every log line carries the correlation data.
///
/// ```
/// use runtime::{Envelope, Metadata};
/// use runtime::observability::message_span;
/// let env = Envelope { meta: Metadata::new_root("ordering.PlaceOrder", "acme"), payload: serde_json::json!({}) };
/// let span = message_span(&env);
/// span.in_scope(|| tracing::info!("handling"));
/// ```
pub fn message_span(envelope: &RawEnvelope) -> tracing::Span {
    let m = &envelope.meta;
    let span = tracing::info_span!(
        "message",
        service = service_name(),
        message_id = %m.message_id,
        message_type = %m.message_type,
        correlation_id = %m.correlation_id,
        causation_id = tracing::field::Empty,
        tenant_id = %m.tenant_id,
        aggregate_id = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    if let Some(t) = m.traceparent.as_deref().and_then(trace_id) {
        span.record("trace_id", t);
    }
    #[cfg(feature = "otlp")]
    if let Some(tp) = m.traceparent.as_deref() {
        crate::otlp::set_parent(&span, tp);
    }
    if let Some(c) = m.causation_id {
        span.record("causation_id", tracing::field::display(c));
    }
    if let Some(a) = &m.aggregate_id {
        span.record("aggregate_id", a.as_str());
    }
    span
}

/// The trace id of a well-formed W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
///
/// ```
/// use runtime::observability::trace_id;
/// let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
/// assert_eq!(trace_id(tp), Some("0af7651916cd43dd8448eb211c80319c"));
/// assert_eq!(trace_id("garbage"), None);
/// ```
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_, trace, _, _) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(trace)
}

/// A new W3C trace context (`00-<trace id>-<span id>-01`) for a flow that starts here.
pub fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

/// A child of `parent` (same trace id and flags, new span id), or a new trace when `parent`
/// is missing or malformed. With OTLP export on (feature `otlp`), the new span id is the
/// current span's, when it belongs to the same trace (any trace when `parent` is missing), so
/// the exported spans link up.
pub fn child_traceparent(parent: Option<&str>) -> String {
    let Some(parent) = parent else {
        #[cfg(feature = "otlp")]
        if let Some(tp) = crate::otlp::current_traceparent(None) {
            return tp;
        }
        return new_traceparent();
    };
    let parts: Vec<&str> = parent.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
    {
        // With spans exported, the child names the current (exported) span as its parent.
        #[cfg(feature = "otlp")]
        if let Some(tp) = crate::otlp::current_traceparent(Some(parts[1])) {
            return tp;
        }
        let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
        format!("{}-{}-{span}-{}", parts[0], parts[1], parts[3])
    } else {
        new_traceparent()
    }
}

/// Metric names (Prometheus style) and label keys, in one place.
pub mod names {
    /// Counter `{queue, type, outcome}`: messages handled, by outcome (`ack`, `retry`, `dead_letter`).
    pub const MESSAGES_HANDLED_TOTAL: &str = "messages_handled_total";
    /// Counter `{queue, type}`: messages sent to a delayed-retry tier.
    pub const MESSAGES_RETRIED_TOTAL: &str = "messages_retried_total";
    /// Counter `{queue, type, reason}`: messages dead-lettered by the consumer.
    pub const MESSAGES_DEAD_LETTERED_TOTAL: &str = "messages_dead_lettered_total";
    /// Counter `{table}`: bookkeeping deleted by retention (`processed_commands`, `outbox`,
    /// `reaction_markers`).
    pub const RETENTION_DELETED_TOTAL: &str = "retention_deleted_total";
    /// Histogram `{queue, type}`: handler duration in seconds.
    pub const HANDLER_DURATION_SECONDS: &str = "handler_duration_seconds";
    /// Gauge `{queue}`: messages ready in a queue.
    pub const QUEUE_DEPTH: &str = "queue_depth";
    /// Gauge: outbox rows not yet published.
    pub const OUTBOX_BACKLOG: &str = "outbox_backlog";
    /// Gauge: age in seconds of the oldest unpublished outbox row.
    pub const OUTBOX_LAG_SECONDS: &str = "outbox_lag_seconds";
    /// Counter `{saga}`: saga instances started.
    pub const SAGA_STARTED_TOTAL: &str = "saga_started_total";
    /// Counter `{saga}`: saga instances completed successfully.
    pub const SAGA_COMPLETED_TOTAL: &str = "saga_completed_total";
    /// Counter `{saga}`: saga instances that ran their compensations.
    pub const SAGA_COMPENSATED_TOTAL: &str = "saga_compensated_total";
    /// Counter `{saga}`: saga instances that timed out.
    pub const SAGA_TIMED_OUT_TOTAL: &str = "saga_timed_out_total";
    /// Counter `{saga}`: saga instances that failed (could not complete nor compensate).
    pub const SAGA_FAILED_TOTAL: &str = "saga_failed_total";
    /// Gauge `{saga}`: completed / finished instances since the process started.
    pub const SAGA_COMPLETION_RATIO: &str = "saga_completion_ratio";

    /// Label: queue name.
    pub const LABEL_QUEUE: &str = "queue";
    /// Label: message type.
    pub const LABEL_TYPE: &str = "type";
    /// Label: handling outcome.
    pub const LABEL_OUTCOME: &str = "outcome";
    /// Label: dead-letter reason.
    pub const LABEL_REASON: &str = "reason";
    /// Label: saga name.
    pub const LABEL_SAGA: &str = "saga";
}

use names::*;

/// Registers descriptions and units of every metric with the installed recorder (call once
/// after installing it; optional).
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        MESSAGES_HANDLED_TOTAL,
        "Messages handled, by queue, type and outcome"
    );
    describe_counter!(
        MESSAGES_RETRIED_TOTAL,
        "Messages sent to a delayed-retry tier"
    );
    describe_counter!(
        MESSAGES_DEAD_LETTERED_TOTAL,
        "Messages dead-lettered by the consumer"
    );
    describe_histogram!(HANDLER_DURATION_SECONDS, Unit::Seconds, "Handler duration");
    describe_gauge!(QUEUE_DEPTH, "Messages ready in the queue");
    describe_gauge!(OUTBOX_BACKLOG, "Outbox rows not yet published");
    describe_gauge!(
        OUTBOX_LAG_SECONDS,
        Unit::Seconds,
        "Age of the oldest unpublished outbox row"
    );
    describe_counter!(SAGA_STARTED_TOTAL, "Saga instances started");
    describe_counter!(SAGA_COMPLETED_TOTAL, "Saga instances completed");
    describe_counter!(SAGA_COMPENSATED_TOTAL, "Saga instances compensated");
    describe_counter!(SAGA_TIMED_OUT_TOTAL, "Saga instances timed out");
    describe_counter!(SAGA_FAILED_TOTAL, "Saga instances failed");
    describe_gauge!(SAGA_COMPLETION_RATIO, "Completed / finished saga instances");
}

/// Records one handled message: `messages_handled_total{queue,type,outcome}` and
/// `handler_duration_seconds{queue,type}`.
pub fn record_handled(queue: &str, message_type: &str, outcome: &'static str, duration: Duration) {
    metrics::counter!(
        MESSAGES_HANDLED_TOTAL,
        LABEL_QUEUE => queue.to_owned(),
        LABEL_TYPE => message_type.to_owned(),
        LABEL_OUTCOME => outcome
    )
    .increment(1);
    metrics::histogram!(
        HANDLER_DURATION_SECONDS,
        LABEL_QUEUE => queue.to_owned(),
        LABEL_TYPE => message_type.to_owned()
    )
    .record(duration.as_secs_f64());
}

/// Records a message sent to a delayed-retry tier: `messages_retried_total{queue,type}`.
pub fn record_retried(queue: &str, message_type: &str) {
    metrics::counter!(
        MESSAGES_RETRIED_TOTAL,
        LABEL_QUEUE => queue.to_owned(),
        LABEL_TYPE => message_type.to_owned()
    )
    .increment(1);
}

/// Records a dead-lettered message: `messages_dead_lettered_total{queue,type,reason}`
/// (`reason`: `poison`, `max_attempts`, `handler`).
pub fn record_dead_lettered(queue: &str, message_type: &str, reason: &'static str) {
    metrics::counter!(
        MESSAGES_DEAD_LETTERED_TOTAL,
        LABEL_QUEUE => queue.to_owned(),
        LABEL_TYPE => message_type.to_owned(),
        LABEL_REASON => reason
    )
    .increment(1);
}

/// Sets `queue_depth{queue}`.
pub fn set_queue_depth(queue: &str, depth: u64) {
    metrics::gauge!(QUEUE_DEPTH, LABEL_QUEUE => queue.to_owned()).set(depth as f64);
}

/// Sets `outbox_backlog` and `outbox_lag_seconds`.
pub fn set_outbox(backlog: u64, lag: Duration) {
    metrics::gauge!(OUTBOX_BACKLOG).set(backlog as f64);
    metrics::gauge!(OUTBOX_LAG_SECONDS).set(lag.as_secs_f64());
}

/// How a saga instance ended, for [`record_saga_finished`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SagaEnd {
    /// Completed successfully.
    Completed,
    /// Compensated (rolled back).
    Compensated,
    /// Timed out.
    TimedOut,
    /// Failed.
    Failed,
}

/// Records a started saga instance: `saga_started_total{saga}`.
pub fn record_saga_started(saga: &str) {
    metrics::counter!(SAGA_STARTED_TOTAL, LABEL_SAGA => saga.to_owned()).increment(1);
}

#[derive(Default, Clone, Copy)]
struct SagaTally {
    completed: u64,
    finished: u64,
}

static SAGA_TALLIES: OnceLock<Mutex<HashMap<String, SagaTally>>> = OnceLock::new();

/// Records a finished saga instance: the matching `saga_*_total{saga}` counter, and
/// `saga_completion_ratio{saga}` = completed / finished instances seen by this process.
/// Returns the new ratio.
pub fn record_saga_finished(saga: &str, end: SagaEnd) -> f64 {
    let name = match end {
        SagaEnd::Completed => SAGA_COMPLETED_TOTAL,
        SagaEnd::Compensated => SAGA_COMPENSATED_TOTAL,
        SagaEnd::TimedOut => SAGA_TIMED_OUT_TOTAL,
        SagaEnd::Failed => SAGA_FAILED_TOTAL,
    };
    metrics::counter!(name, LABEL_SAGA => saga.to_owned()).increment(1);
    let ratio = {
        let mut tallies = SAGA_TALLIES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let t = tallies.entry(saga.to_owned()).or_default();
        t.finished += 1;
        if end == SagaEnd::Completed {
            t.completed += 1;
        }
        t.completed as f64 / t.finished as f64
    };
    metrics::gauge!(SAGA_COMPLETION_RATIO, LABEL_SAGA => saga.to_owned()).set(ratio);
    ratio
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
        Recorder, SharedString, Unit,
    };
    use std::sync::Arc;

    type Log = Arc<Mutex<Vec<(String, Vec<(String, String)>, f64)>>>;

    struct Handle(Log, Key);
    impl Handle {
        fn push(&self, v: f64) {
            let labels = self
                .1
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            self.0
                .lock()
                .unwrap()
                .push((self.1.name().to_owned(), labels, v));
        }
    }
    impl CounterFn for Handle {
        fn increment(&self, v: u64) {
            self.push(v as f64)
        }
        fn absolute(&self, v: u64) {
            self.push(v as f64)
        }
    }
    impl GaugeFn for Handle {
        fn increment(&self, v: f64) {
            self.push(v)
        }
        fn decrement(&self, v: f64) {
            self.push(-v)
        }
        fn set(&self, v: f64) {
            self.push(v)
        }
    }
    impl HistogramFn for Handle {
        fn record(&self, v: f64) {
            self.push(v)
        }
    }

    #[derive(Default)]
    struct TestRecorder(Log);
    impl Recorder for TestRecorder {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(Handle(self.0.clone(), key.clone())))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(Arc::new(Handle(self.0.clone(), key.clone())))
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(Handle(self.0.clone(), key.clone())))
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn helpers_record_names_and_labels() {
        let rec = TestRecorder::default();
        metrics::with_local_recorder(&rec, || {
            describe_metrics();
            record_handled("q", "a.B", "ack", Duration::from_millis(250));
            record_retried("q", "a.B");
            record_dead_lettered("q", "a.B", "poison");
            set_queue_depth("q", 7);
            set_outbox(3, Duration::from_secs(2));
            record_saga_started("test-saga-metrics");
            assert_eq!(
                record_saga_finished("test-saga-metrics", SagaEnd::Completed),
                1.0
            );
            assert_eq!(
                record_saga_finished("test-saga-metrics", SagaEnd::Compensated),
                0.5
            );
        });
        let log = rec.0.lock().unwrap().clone();
        let has = |name: &str, l: &[(&str, &str)], v: f64| {
            assert!(
                log.iter()
                    .any(|(n, ls, x)| n == name && *ls == labels(l) && *x == v),
                "missing {name} {l:?} {v} in {log:?}"
            )
        };
        has(
            MESSAGES_HANDLED_TOTAL,
            &[("queue", "q"), ("type", "a.B"), ("outcome", "ack")],
            1.0,
        );
        has(
            HANDLER_DURATION_SECONDS,
            &[("queue", "q"), ("type", "a.B")],
            0.25,
        );
        has(
            MESSAGES_RETRIED_TOTAL,
            &[("queue", "q"), ("type", "a.B")],
            1.0,
        );
        has(
            MESSAGES_DEAD_LETTERED_TOTAL,
            &[("queue", "q"), ("type", "a.B"), ("reason", "poison")],
            1.0,
        );
        has(QUEUE_DEPTH, &[("queue", "q")], 7.0);
        has(OUTBOX_BACKLOG, &[], 3.0);
        has(OUTBOX_LAG_SECONDS, &[], 2.0);
        has(SAGA_STARTED_TOTAL, &[("saga", "test-saga-metrics")], 1.0);
        has(
            SAGA_COMPENSATED_TOTAL,
            &[("saga", "test-saga-metrics")],
            1.0,
        );
        has(SAGA_COMPLETION_RATIO, &[("saga", "test-saga-metrics")], 0.5);
    }

    #[test]
    fn traceparent_children_keep_the_trace() {
        let root = new_traceparent();
        assert_eq!(root.len(), 55);
        let child = child_traceparent(Some(&root));
        assert_eq!(child[..36], root[..36]);
        assert_ne!(child, root);
        assert_eq!(child_traceparent(Some("garbage")).len(), 55);
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_inside_a_message_span_carry_the_correlation_data() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || writer.clone())
            .finish();
        let root = crate::Metadata::new_root("a.A", "acme");
        let mut meta = root.caused(uuid::Uuid::new_v4(), "a.B");
        meta.aggregate_id = Some("order-1".into());
        let env = crate::Envelope {
            meta: meta.clone(),
            payload: serde_json::json!({}),
        };
        tracing::subscriber::with_default(subscriber, || {
            message_span(&env).in_scope(|| tracing::info!("handling"));
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        let span = &line["span"];
        assert_eq!(span["correlation_id"], meta.correlation_id.to_string());
        assert_eq!(span["causation_id"], root.message_id.to_string());
        assert_eq!(span["message_id"], meta.message_id.to_string());
        assert_eq!(span["message_type"], "a.B");
        assert_eq!(span["tenant_id"], "acme");
        assert_eq!(span["aggregate_id"], "order-1");
        assert_eq!(line["fields"]["message"], "handling");
    }
}

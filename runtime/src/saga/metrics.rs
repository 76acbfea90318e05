//! Saga metrics: lifecycle counters and a completion-ratio gauge per saga type.

use crate::saga::document::SagaStatus;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counter: instances started.
pub const SAGA_STARTED: &str = "saga_started_total";
/// Counter: instances that reached a `Completed` terminal state.
pub const SAGA_COMPLETED: &str = "saga_completed_total";
/// Counter: instances that sent compensations.
pub const SAGA_COMPENSATED: &str = "saga_compensated_total";
/// Counter: step timeouts whose retries were exhausted.
pub const SAGA_TIMED_OUT: &str = "saga_timed_out_total";
/// Counter: instances that ended `Failed` or `TimedOut`.
pub const SAGA_FAILED: &str = "saga_failed_total";
/// Gauge: completed / ended instances seen by this process.
pub const SAGA_COMPLETION_RATIO: &str = "saga_completion_ratio";

/// Per-saga metric handles (label `saga`).
pub(crate) struct SagaMetrics {
    saga: &'static str,
    completed: AtomicU64,
    ended: AtomicU64,
}

impl SagaMetrics {
    pub(crate) fn new(saga: &'static str) -> Self {
        SagaMetrics {
            saga,
            completed: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }

    pub(crate) fn started(&self) {
        metrics::counter!(SAGA_STARTED, "saga" => self.saga).increment(1);
    }

    pub(crate) fn compensated(&self) {
        metrics::counter!(SAGA_COMPENSATED, "saga" => self.saga).increment(1);
    }

    pub(crate) fn timed_out(&self) {
        metrics::counter!(SAGA_TIMED_OUT, "saga" => self.saga).increment(1);
    }

    pub(crate) fn finished(&self, status: SagaStatus) {
        if status == SagaStatus::Completed {
            metrics::counter!(SAGA_COMPLETED, "saga" => self.saga).increment(1);
            self.completed.fetch_add(1, Ordering::Relaxed);
        } else {
            metrics::counter!(SAGA_FAILED, "saga" => self.saga).increment(1);
        }
        let ended = self.ended.fetch_add(1, Ordering::Relaxed) + 1;
        let completed = self.completed.load(Ordering::Relaxed);
        metrics::gauge!(SAGA_COMPLETION_RATIO, "saga" => self.saga)
            .set(completed as f64 / ended as f64);
    }
}

//! Status of commands accepted by this Command API instance.
//!
//! Bounded in-memory map with a time-to-live: `accepted` when enqueued, then `processed` or
//! `rejected` when the command's outcome message arrives ([`CommandStatusTracker::record_outcome`],
//! fed by the process wiring from the context's outcome exchange). The history is **per API
//! instance and lost on restart**: behind a load balancer, a status request may reach an
//! instance that never saw the command (404); clients should treat 404 on a fresh tracking id
//! as "unknown", not as "failed".

use crate::envelope::RawEnvelope;
use crate::store::{CommandOutcome, CommandStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Where a command is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackedStatus {
    /// Enqueued (broker confirmed), not yet handled.
    Accepted,
    /// Handled; its events were applied.
    Processed,
    /// Handled and rejected; the state is unchanged.
    Rejected,
}

/// What `GET /commands/{id}` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandStatusView {
    /// The command's message id.
    pub tracking_id: Uuid,
    /// Current status.
    pub status: TrackedStatus,
    /// Command type (unknown when only the outcome was seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_type: Option<String>,
    /// Correlation id of the flow.
    pub correlation_id: Uuid,
    /// Target aggregate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_id: Option<String>,
    /// Rejection code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Rejection message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Events produced by the command.
    pub event_ids: Vec<Uuid>,
    /// Aggregate version after the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_version: Option<i64>,
    /// Last change of the status.
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    tenant_id: String,
}

struct Entry {
    view: CommandStatusView,
    inserted: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    order: VecDeque<Uuid>,
}

/// Bounded, expiring map of command statuses.
///
/// ```
/// use runtime::http::command_status::{CommandStatusTracker, TrackedStatus};
/// use runtime::{Metadata, RawEnvelope};
/// use std::time::Duration;
///
/// let tracker = CommandStatusTracker::new(1000, Duration::from_secs(3600));
/// let cmd = RawEnvelope { meta: Metadata::new_root("ordering.PlaceOrder", "acme"), payload: serde_json::json!({}) };
/// tracker.accepted(&cmd);
/// let view = tracker.get(cmd.meta.message_id, "acme").unwrap();
/// assert_eq!(view.status, TrackedStatus::Accepted);
/// assert!(tracker.get(cmd.meta.message_id, "other-tenant").is_none());
/// ```
pub struct CommandStatusTracker {
    inner: Mutex<Inner>,
    capacity: usize,
    ttl: Duration,
}

impl Default for CommandStatusTracker {
    /// 10 000 entries, one hour.
    fn default() -> Self {
        CommandStatusTracker::new(10_000, Duration::from_secs(3600))
    }
}

impl CommandStatusTracker {
    /// At most `capacity` entries (oldest evicted first), each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        CommandStatusTracker {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, inner: &mut Inner, view: CommandStatusView) {
        let now = Instant::now();
        while let Some(id) = inner.order.front().copied() {
            let expired = inner
                .entries
                .get(&id)
                .is_none_or(|e| now.duration_since(e.inserted) >= self.ttl);
            if expired || inner.entries.len() >= self.capacity {
                inner.order.pop_front();
                inner.entries.remove(&id);
            } else {
                break;
            }
        }
        inner.order.push_back(view.tracking_id);
        inner.entries.insert(
            view.tracking_id,
            Entry {
                view,
                inserted: now,
            },
        );
    }

    /// Records a command just enqueued (does not overwrite an outcome that arrived first).
    pub fn accepted(&self, command: &RawEnvelope) {
        let mut inner = self.lock();
        if inner.entries.contains_key(&command.meta.message_id) {
            return;
        }
        let view = CommandStatusView {
            tracking_id: command.meta.message_id,
            status: TrackedStatus::Accepted,
            command_type: Some(command.meta.message_type.clone()),
            correlation_id: command.meta.correlation_id,
            aggregate_id: command.meta.aggregate_id.clone(),
            code: None,
            message: None,
            event_ids: Vec::new(),
            aggregate_version: None,
            updated_at: Utc::now(),
            tenant_id: command.meta.tenant_id.clone(),
        };
        self.insert(&mut inner, view);
    }

    /// Records an outcome message (type `runtime.CommandOutcome`, payload
    /// [`CommandOutcome`]); returns `false` when it is not a valid outcome.
    pub fn record_outcome(&self, outcome: &RawEnvelope) -> bool {
        let Ok(o) = serde_json::from_value::<CommandOutcome>(outcome.payload.clone()) else {
            tracing::warn!(message_id = %outcome.meta.message_id, "ignoring an invalid command outcome");
            return false;
        };
        let status = match o.status {
            CommandStatus::Processed => TrackedStatus::Processed,
            CommandStatus::Rejected => TrackedStatus::Rejected,
        };
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get_mut(&o.command_id) {
            let v = &mut entry.view;
            v.status = status;
            v.code = o.code;
            v.message = o.message;
            v.event_ids = o.event_ids;
            v.aggregate_version = o.aggregate_version;
            v.updated_at = Utc::now();
            return true;
        }
        let view = CommandStatusView {
            tracking_id: o.command_id,
            status,
            command_type: None,
            correlation_id: o.correlation_id,
            aggregate_id: outcome.meta.aggregate_id.clone(),
            code: o.code,
            message: o.message,
            event_ids: o.event_ids,
            aggregate_version: o.aggregate_version,
            updated_at: Utc::now(),
            tenant_id: outcome.meta.tenant_id.clone(),
        };
        self.insert(&mut inner, view);
        true
    }

    /// Forgets a command (its enqueue failed).
    pub fn forget(&self, id: Uuid) {
        self.lock().entries.remove(&id);
    }

    /// The status of command `id` when it belongs to `tenant_id` and has not expired.
    pub fn get(&self, id: Uuid, tenant_id: &str) -> Option<CommandStatusView> {
        let inner = self.lock();
        let entry = inner.entries.get(&id)?;
        if entry.inserted.elapsed() >= self.ttl || entry.view.tenant_id != tenant_id {
            return None;
        }
        Some(entry.view.clone())
    }

    /// Number of entries held (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! The `StateStore` port (the plan's `IRepository`): aggregate snapshots with a version, the
//! processed-command marker and the outbox, all written in one atomic commit.
//!
//! The port works on JSON so that it is not generic over aggregates; the typed side lives in
//! [`crate::command_handler`]. Adapters: [`crate::memory::state::MemoryStateStore`] and
//! `crate::postgres::PgStateStore` (feature `postgres`).
//!
//! A [`Commit`] is all-or-nothing. In one transaction it
//! 1. inserts the processed-command marker (a marker already there: [`StoreError::AlreadyProcessed`]
//!    with the stored outcome, nothing written);
//! 2. checks the aggregate version against [`Commit::expected_version`] (mismatch:
//!    [`StoreError::VersionConflict`], nothing written) and, when [`Commit::new_state`] is set,
//!    writes the full snapshot with version `expected_version + events.len()`;
//! 3. appends every event to the outbox (destination: the event exchange of the aggregate's
//!    context), then the outcome message (destination: the outcome exchange).

use crate::envelope::{Metadata, RawEnvelope, deterministic_id};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// Default [`Retention::processed_commands`] and [`Retention::published_outbox`]: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default [`Retention::every`]: 1 hour.
pub const DEFAULT_RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// How long a state store keeps its bookkeeping — processed-command markers and published
/// outbox rows — and an EventHandler its reaction and hook markers, and how often older ones
/// are deleted (`PROCESSED_COMMAND_RETENTION`, `OUTBOX_RETENTION`,
/// `REACTION_MARKER_RETENTION`, `RETENTION_INTERVAL`; see `crate::postgres::run_retention`).
///
/// A marker is what makes a redelivered command a no-op: a command redelivered after its
/// marker was deleted would be handled again. Keep [`Retention::processed_commands`] well
/// above the longest redelivery delay (retry tiers, broker outages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Age after which a processed-command marker is deleted.
    pub processed_commands: Duration,
    /// Age after which a published outbox row is deleted (unpublished rows never are).
    pub published_outbox: Duration,
    /// Age after which an EventHandler's reaction and hook markers are deleted (MongoDB).
    pub reaction_markers: Duration,
    /// How often the deletion runs (the first run is right after startup).
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            processed_commands: DEFAULT_RETENTION,
            published_outbox: DEFAULT_RETENTION,
            reaction_markers: DEFAULT_RETENTION,
            every: DEFAULT_RETENTION_EVERY,
        }
    }
}

/// Message type of the outcome messages the store appends to the outbox (payload: a
/// [`CommandOutcome`]).
pub const OUTCOME_MESSAGE_TYPE: &str = "runtime.CommandOutcome";

/// Identity of one aggregate instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AggregateKey {
    /// Tenant the aggregate belongs to.
    pub tenant_id: String,
    /// Fully qualified aggregate type, `context.Aggregate`.
    pub aggregate_type: String,
    /// Id of the aggregate within its type and tenant.
    pub aggregate_id: String,
}

impl AggregateKey {
    /// Builds a key.
    pub fn new(
        tenant_id: impl Into<String>,
        aggregate_type: impl Into<String>,
        aggregate_id: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
        }
    }

    /// The bounded context of the aggregate: the part of `aggregate_type` before the first
    /// `.` (the whole type when it has no dot).
    pub fn context(&self) -> &str {
        context_of(&self.aggregate_type)
    }
}

/// The bounded context of a fully qualified name `context.Name`.
pub fn context_of(qualified: &str) -> &str {
    qualified.split_once('.').map_or(qualified, |(c, _)| c)
}

impl std::fmt::Display for AggregateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.tenant_id, self.aggregate_type, self.aggregate_id
        )
    }
}

/// A stored aggregate snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredState {
    /// The full state as JSON.
    pub state: serde_json::Value,
    /// Version of the state: the version of the last event applied (1 after the first event).
    pub version: i64,
}

/// Whether a command was processed or rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// The command was accepted and its events applied.
    Processed,
    /// The command was rejected; the state is unchanged.
    Rejected,
}

/// The result of handling one command, stored with the processed-command marker and published
/// as an outcome message (type [`OUTCOME_MESSAGE_TYPE`]) for the Command API's status endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    /// Message id of the command.
    pub command_id: Uuid,
    /// Correlation id of the command's flow.
    pub correlation_id: Uuid,
    /// Processed or rejected.
    pub status: CommandStatus,
    /// Machine-readable rejection reason.
    pub code: Option<String>,
    /// Human-readable rejection reason.
    pub message: Option<String>,
    /// Ids of the events the command produced (rejection events included), in order.
    pub event_ids: Vec<Uuid>,
    /// Version of the aggregate after the command (`None` when rejected).
    pub aggregate_version: Option<i64>,
}

/// The rejection code of a command voided before it arrived (see [`Metadata::voids`]).
pub const VOIDED: &str = "voided";

impl CommandOutcome {
    /// The outcome stored for command `command_id`, voided by the command `by` before it was
    /// handled: rejected with code [`VOIDED`], no events. The voided command, when it arrives,
    /// finds this marker and does nothing.
    pub fn voided(command_id: Uuid, by: &Metadata) -> Self {
        Self {
            command_id,
            correlation_id: by.correlation_id,
            status: CommandStatus::Rejected,
            code: Some(VOIDED.to_owned()),
            message: Some(format!(
                "voided by {} {} before it arrived (a compensation of the step that sent it)",
                by.message_type, by.message_id
            )),
            event_ids: Vec::new(),
            aggregate_version: None,
        }
    }

    /// The outcome message for the outbox: type [`OUTCOME_MESSAGE_TYPE`], caused by the
    /// command (same correlation, tenant, user), deterministic id derived from the command id,
    /// `aggregate_id` of the command's target.
    pub fn to_envelope(&self, command: &Metadata) -> RawEnvelope {
        let mut meta = command.caused(
            deterministic_id(self.command_id, "outcome"),
            OUTCOME_MESSAGE_TYPE,
        );
        meta.aggregate_id = command.aggregate_id.clone();
        meta.aggregate_version = self.aggregate_version;
        RawEnvelope {
            meta,
            payload: serde_json::to_value(self).expect("CommandOutcome serializes to JSON"),
        }
    }
}

/// Everything one handled command writes, atomically.
#[derive(Clone, Debug, PartialEq)]
pub struct Commit {
    /// The aggregate the command targeted.
    pub key: AggregateKey,
    /// The version the decision was based on (0: the aggregate must not exist yet). Checked
    /// even when `new_state` is `None`, so that a rejection is never based on a stale state.
    pub expected_version: i64,
    /// The new snapshot (`None`: state untouched, e.g. a rejection). When set, `events` must
    /// not be empty: the new version is `expected_version + events.len()`.
    pub new_state: Option<serde_json::Value>,
    /// Events to append to the outbox, in order (accepted or rejection events).
    pub events: Vec<RawEnvelope>,
    /// Message id of the command (the processed-command marker's key).
    pub command_id: Uuid,
    /// The outcome stored with the marker.
    pub outcome: CommandOutcome,
    /// The outcome message appended to the outbox after the events (see
    /// [`CommandOutcome::to_envelope`]).
    pub outcome_message: RawEnvelope,
    /// Markers written with the command's for the commands it voids (see
    /// [`Metadata::voids`] and [`CommandOutcome::voided`]), each unless its command has a
    /// marker already (it was processed, or voided before).
    pub voided: Vec<CommandOutcome>,
}

impl Commit {
    /// The version the snapshot has after this commit.
    pub fn new_version(&self) -> i64 {
        if self.new_state.is_some() {
            self.expected_version + self.events.len() as i64
        } else {
            self.expected_version
        }
    }

    /// Checks the commit's internal consistency (state with events, matching command ids).
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.expected_version < 0 {
            return Err(StoreError::Invalid("expected_version is negative".into()));
        }
        if self.new_state.is_some() && self.events.is_empty() {
            return Err(StoreError::Invalid(
                "a new state needs at least one event (the version counts events)".into(),
            ));
        }
        if self.outcome.command_id != self.command_id {
            return Err(StoreError::Invalid(
                "outcome.command_id differs from command_id".into(),
            ));
        }
        Ok(())
    }
}

/// What a successful commit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitResult {
    /// Version of the aggregate after the commit (unchanged when `new_state` was `None`).
    pub version: i64,
    /// Number of outbox rows written (events + the outcome message).
    pub outbox_rows: usize,
}

/// Error of a [`StateStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The command was already processed; nothing was written. Holds the stored outcome.
    #[error("command {} already processed", .0.command_id)]
    AlreadyProcessed(Box<CommandOutcome>),
    /// The aggregate's version is not the expected one; nothing was written.
    #[error("version conflict on {key}: expected {expected}, found {actual:?}")]
    VersionConflict {
        /// The aggregate.
        key: AggregateKey,
        /// The version the commit expected.
        expected: i64,
        /// The stored version (`None`: the aggregate does not exist).
        actual: Option<i64>,
    },
    /// The backend is unavailable or failed (connection lost, timeout, ...): retry later.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The commit is malformed (a bug in the caller); retrying does not help.
    #[error("invalid commit: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::VersionConflict { .. }
        )
    }
}

/// Persistence of aggregate snapshots, processed-command markers and the outbox.
///
/// # Example
/// ```
/// use runtime::memory::state::MemoryStateStore;
/// use runtime::store::*;
/// use runtime::Metadata;
///
/// # tokio_test_block_on(async {
/// let store = MemoryStateStore::new();
/// let key = AggregateKey::new("acme", "inventory.Item", "sku-1");
/// let cmd = Metadata::new_root("inventory.CreateItem", "acme");
/// let outcome = CommandOutcome {
///     command_id: cmd.message_id,
///     correlation_id: cmd.correlation_id,
///     status: CommandStatus::Processed,
///     code: None,
///     message: None,
///     event_ids: vec![],
///     aggregate_version: Some(1),
/// };
/// let event = runtime::RawEnvelope {
///     meta: cmd.caused(uuid::Uuid::new_v4(), "inventory.ItemCreated"),
///     payload: serde_json::json!({}),
/// };
/// let commit = Commit {
///     key: key.clone(),
///     expected_version: 0,
///     new_state: Some(serde_json::json!({"stock": 0})),
///     events: vec![event],
///     command_id: cmd.message_id,
///     outcome_message: outcome.to_envelope(&cmd),
///     outcome,
///     voided: vec![],
/// };
/// store.commit(commit.clone()).await.unwrap();
/// assert_eq!(store.load(&key).await.unwrap().unwrap().version, 1);
/// // The same command again is recognised.
/// assert!(matches!(store.commit(commit).await, Err(StoreError::AlreadyProcessed(_))));
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Loads the snapshot of an aggregate (`None`: it does not exist).
    async fn load(&self, key: &AggregateKey) -> Result<Option<StoredState>, StoreError>;
    /// Writes a commit atomically (see the module documentation).
    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError>;
    /// The stored outcome of a processed command, if any.
    async fn processed(&self, command_id: Uuid) -> Result<Option<CommandOutcome>, StoreError>;
}

#[async_trait]
impl<S: StateStore + ?Sized> StateStore for std::sync::Arc<S> {
    async fn load(&self, key: &AggregateKey) -> Result<Option<StoredState>, StoreError> {
        (**self).load(key).await
    }
    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        (**self).commit(commit).await
    }
    async fn processed(&self, command_id: Uuid) -> Result<Option<CommandOutcome>, StoreError> {
        (**self).processed(command_id).await
    }
}

#[async_trait]
impl<S: StateStore + ?Sized> StateStore for &S {
    async fn load(&self, key: &AggregateKey) -> Result<Option<StoredState>, StoreError> {
        (**self).load(key).await
    }
    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        (**self).commit(commit).await
    }
    async fn processed(&self, command_id: Uuid) -> Result<Option<CommandOutcome>, StoreError> {
        (**self).processed(command_id).await
    }
}

/// Where an outbox row is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxDestination {
    /// The event exchange of the context ([`crate::bus::MessageBus::publish_event`]).
    Event,
    /// The outcome exchange of the context ([`crate::bus::MessageBus::publish_outcome`]).
    Outcome,
}

impl OutboxDestination {
    /// The name stored in the outbox's `destination` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxDestination::Event => "event",
            OutboxDestination::Outcome => "outcome",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "event" => Some(OutboxDestination::Event),
            "outcome" => Some(OutboxDestination::Outcome),
            _ => None,
        }
    }
}

/// One message waiting in (or taken from) an outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxMessage {
    /// Position in the outbox (increasing in commit order).
    pub id: i64,
    /// The aggregate whose commit wrote the row.
    pub key: AggregateKey,
    /// Event or outcome.
    pub destination: OutboxDestination,
    /// The context whose exchange receives the message.
    pub context: String,
    /// The message.
    pub envelope: RawEnvelope,
}

impl OutboxMessage {
    /// The message as one of a [`crate::bus::MessageBus::publish_batch`].
    pub fn outgoing(&self) -> crate::bus::Outgoing<'_> {
        crate::bus::Outgoing {
            route: match self.destination {
                OutboxDestination::Event => crate::bus::Route::Event,
                OutboxDestination::Outcome => crate::bus::Route::Outcome,
            },
            context: &self.context,
            envelope: &self.envelope,
        }
    }

    /// Publishes the message on `bus` to its destination.
    pub async fn publish(
        &self,
        bus: &dyn crate::bus::MessageBus,
    ) -> Result<(), crate::bus::BusError> {
        match self.destination {
            OutboxDestination::Event => bus.publish_event(&self.context, &self.envelope).await,
            OutboxDestination::Outcome => bus.publish_outcome(&self.context, &self.envelope).await,
        }
    }
}

/// The outbox rows a commit appends, in order: its events, then its outcome message.
pub fn outbox_messages(commit: &Commit) -> Vec<(OutboxDestination, String, RawEnvelope)> {
    let context = commit.key.context().to_owned();
    commit
        .events
        .iter()
        .map(|e| (OutboxDestination::Event, context.clone(), e.clone()))
        .chain(std::iter::once((
            OutboxDestination::Outcome,
            context.clone(),
            commit.outcome_message.clone(),
        )))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_the_prefix() {
        assert_eq!(
            AggregateKey::new("t", "inventory.Item", "1").context(),
            "inventory"
        );
        assert_eq!(context_of("plain"), "plain");
    }

    #[test]
    fn outcome_envelope_is_deterministic_and_caused() {
        let cmd = Metadata::new_root("inventory.CreateItem", "acme");
        let o = CommandOutcome {
            command_id: cmd.message_id,
            correlation_id: cmd.correlation_id,
            status: CommandStatus::Rejected,
            code: Some("x".into()),
            message: Some("y".into()),
            event_ids: vec![],
            aggregate_version: None,
        };
        let a = o.to_envelope(&cmd);
        let b = o.to_envelope(&cmd);
        assert_eq!(a.meta.message_id, b.meta.message_id);
        assert_eq!(a.meta.causation_id, Some(cmd.message_id));
        assert_eq!(a.meta.message_type, OUTCOME_MESSAGE_TYPE);
        let back: CommandOutcome = serde_json::from_value(a.payload).unwrap();
        assert_eq!(back, o);
    }
}

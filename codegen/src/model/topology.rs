//! The resolved RabbitMQ topology: every exchange and queue with its concrete name.

use std::time::Duration;

/// RabbitMQ queue types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// Replicated, with a delivery limit (the default).
    Quorum,
    /// Classic queue.
    Classic,
}

impl QueueKind {
    /// The `x-queue-type` value.
    pub fn name(self) -> &'static str {
        match self {
            QueueKind::Quorum => "quorum",
            QueueKind::Classic => "classic",
        }
    }
}

/// Settings of a consumed queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSettings {
    /// Queue type.
    pub kind: QueueKind,
    /// Consumer prefetch.
    pub prefetch: u32,
    /// Broker delivery limit (quorum queues only).
    pub delivery_limit: Option<u32>,
    /// Delayed-retry tiers, ascending.
    pub retry_delays: Vec<Duration>,
    /// Handling attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// `x-single-active-consumer` as set in `topology.yaml`; `None`: by the queue's role
    /// (see [`ConsumedQueue::single_active_consumer`]).
    pub single_active_consumer: Option<bool>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            kind: QueueKind::Quorum,
            prefetch: 32,
            delivery_limit: Some(10),
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
            max_attempts: 5,
            single_active_consumer: None,
        }
    }
}

/// A queue some process consumes, with its satellites.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumedQueue {
    /// Queue name.
    pub name: String,
    /// The consuming process (`ordering.command-handler`, `saga.OrderFulfillment`, ...).
    pub process: String,
    /// Settings.
    pub settings: QueueSettings,
    /// Exchanges bound to the queue (empty for a command queue, fed by the default exchange).
    pub bindings: Vec<String>,
    /// Its dead-letter queue (on the dead-letter exchange, routing key = the queue name).
    pub dead_letter_queue: String,
    /// Delayed-retry queues with their delay.
    pub retry_queues: Vec<(Duration, String)>,
    /// Whether one consumer at a time receives its messages (`x-single-active-consumer`):
    /// the setting, else `true` for event-handler and saga queues (ordered event streams) and
    /// `false` for command and outcome queues.
    pub single_active_consumer: bool,
    /// Whether the queue is a template of which every replica of its process declares its
    /// own exclusive copy (`runtime::topology::QueueSpec::per_replica`): `true` for the
    /// Command API's outcome queue, so that every replica sees every command outcome. Such a
    /// queue is classic, not durable, bounded, without retry queues.
    pub per_replica: bool,
}

/// The queues and exchanges of one context.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextTopology {
    /// The context.
    pub context: String,
    /// Its command queue, consumed by its CommandHandler.
    pub command_queue: ConsumedQueue,
    /// Its fanout event exchange.
    pub event_exchange: String,
    /// Its fanout exchange of command outcomes (read by the Command API).
    pub outcome_exchange: String,
    /// Its fanout exchange of public (integration) events, when it declares any.
    pub public_exchange: Option<String>,
    /// The queue of its EventHandler.
    pub event_queue: ConsumedQueue,
    /// The queue of its Command API, bound to the outcome exchange (feeds command status); a
    /// per-replica template.
    pub outcome_queue: ConsumedQueue,
}

/// The queue of one saga orchestrator.
#[derive(Clone, Debug, PartialEq)]
pub struct SagaTopology {
    /// The saga.
    pub saga: String,
    /// Its queue, bound to the event exchanges of the contexts it listens to.
    pub queue: ConsumedQueue,
}

/// The name templates in force (for the documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naming {
    /// Command queue template.
    pub command_queue: String,
    /// Event exchange template.
    pub event_exchange: String,
    /// Outcome exchange template.
    pub outcome_exchange: String,
    /// Public event exchange template.
    pub public_exchange: String,
    /// Process queue template.
    pub process_queue: String,
    /// Saga queue template.
    pub saga_queue: String,
    /// Dead-letter exchange name.
    pub dead_letter_exchange: String,
    /// Dead-letter queue template.
    pub dead_letter_queue: String,
    /// Retry queue template.
    pub retry_queue: String,
}

impl Default for Naming {
    fn default() -> Self {
        Self {
            command_queue: "{context}.commands".into(),
            event_exchange: "{context}.events".into(),
            outcome_exchange: "{context}.outcomes".into(),
            public_exchange: "{context}.public".into(),
            process_queue: "{context}.{process}".into(),
            saga_queue: "saga.{saga}".into(),
            dead_letter_exchange: "dead-letter".into(),
            dead_letter_queue: "{queue}.dlq".into(),
            retry_queue: "{queue}.retry.{delay}".into(),
        }
    }
}

/// The whole resolved topology.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// Templates in force.
    pub naming: Naming,
    /// Per context.
    pub contexts: Vec<ContextTopology>,
    /// Per saga.
    pub sagas: Vec<SagaTopology>,
}

impl Topology {
    /// Every consumed queue, contexts first then sagas.
    pub fn consumed_queues(&self) -> impl Iterator<Item = &ConsumedQueue> {
        self.contexts
            .iter()
            .flat_map(|c| [&c.command_queue, &c.event_queue, &c.outcome_queue])
            .chain(self.sagas.iter().map(|s| &s.queue))
    }

    /// The topology of one context.
    pub fn context(&self, name: &str) -> Option<&ContextTopology> {
        self.contexts.iter().find(|c| c.context == name)
    }
}

/// Formats a duration the way queue names show it: `500ms`, `10s`, `5m`, `2h`.
pub fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms > 0 && ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

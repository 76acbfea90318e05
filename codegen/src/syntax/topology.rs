//! The file format of `topology.yaml`: RabbitMQ naming conventions and queue settings.

use super::loc::{Loc, NamedMap};
use schemars::JsonSchema;
use serde::Deserialize;

/// RabbitMQ topology conventions of the system. Every key is optional.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Name templates.
    #[serde(default)]
    pub naming: Option<Loc<NamingDef>>,
    /// Settings of every queue.
    #[serde(default)]
    pub defaults: Option<Loc<QueueSettingsDef>>,
    /// Settings per consuming process: `<context>.command-handler`, `<context>.event-handler`,
    /// `<context>.command-api` (its queue of command outcomes) or `saga.<SagaName>`.
    #[serde(default)]
    pub processes: NamedMap<Loc<QueueSettingsDef>>,
}

/// Name templates. Placeholders: `{context}`, `{process}`, `{saga}` (kebab-case saga name),
/// `{queue}` and `{delay}`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamingDef {
    /// Command queue of a context (default `{context}.commands`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{context\\})"))]
    pub command_queue: Option<Loc<String>>,
    /// Fanout event exchange of a context (default `{context}.events`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{context\\})"))]
    pub event_exchange: Option<Loc<String>>,
    /// Fanout exchange of command outcomes of a context (default `{context}.outcomes`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{context\\})"))]
    pub outcome_exchange: Option<Loc<String>>,
    /// Fanout exchange of the public (integration) events of a context (default
    /// `{context}.public`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{context\\})"))]
    pub public_exchange: Option<Loc<String>>,
    /// Queue of a context's consuming process (default `{context}.{process}`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{context\\})(?=.*\\{process\\})"))]
    pub process_queue: Option<Loc<String>>,
    /// Queue of a saga orchestrator (default `saga.{saga}`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{saga\\})"))]
    pub saga_queue: Option<Loc<String>>,
    /// Dead-letter exchange (default `dead-letter`).
    #[serde(default)]
    pub dead_letter_exchange: Option<Loc<String>>,
    /// Dead-letter queue of a queue (default `{queue}.dlq`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{queue\\})"))]
    pub dead_letter_queue: Option<Loc<String>>,
    /// Delayed-retry queue of a queue (default `{queue}.retry.{delay}`).
    #[serde(default)]
    #[schemars(regex(pattern = "^(?=.*\\{queue\\})(?=.*\\{delay\\})"))]
    pub retry_queue: Option<Loc<String>>,
}

/// Settings of a consumed queue.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSettingsDef {
    /// `quorum` (default) or `classic`.
    #[serde(default)]
    pub queue_type: Option<Loc<String>>,
    /// Unacknowledged messages a consumer may hold (default 32).
    #[serde(default)]
    #[schemars(range(min = 1, max = 65535))]
    pub prefetch: Option<Loc<u32>>,
    /// Deliveries before the broker dead-letters a message (quorum queues; default 10).
    #[serde(default)]
    pub delivery_limit: Option<Loc<u32>>,
    /// Delayed-retry tiers, ascending (default `[1s, 10s, 1m]`); empty: no delayed retry.
    #[serde(default)]
    pub retry_delays: Option<Loc<Vec<Loc<String>>>>,
    /// Handling attempts before a failing message is dead-lettered (default 5).
    #[serde(default)]
    pub max_attempts: Option<Loc<u32>>,
    /// Whether only one consumer at a time receives the queue's messages, the other replicas
    /// waiting as hot standbys (`x-single-active-consumer`). Default: `true` for the queues of
    /// event handlers and sagas (their events must stay in order across replicas), `false` for
    /// command queues and the Command API's outcome queues (competing consumers).
    #[serde(default)]
    pub single_active_consumer: Option<Loc<bool>>,
}

//! The stable codes of the changes `codegen diff` classifies, with their audience.

use serde::Serialize;

/// Who is affected by a change: the readers of some data that exists in a running system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Producers and consumers of commands and events: messages in flight on RabbitMQ queues
    /// and in the outbox (JSON payloads).
    Wire,
    /// Aggregate snapshots in PostgreSQL (JSON of the state struct).
    Storage,
    /// Read-model documents in MongoDB, built from past events.
    ReadModel,
    /// Saga instances in MongoDB (JSON of the saga data and the current state's name).
    Saga,
    /// Queues, exchanges and bindings declared on RabbitMQ.
    Topology,
}

impl Audience {
    /// The name used in kind codes and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Audience::Wire => "wire",
            Audience::Storage => "storage",
            Audience::ReadModel => "read-model",
            Audience::Saga => "saga",
            Audience::Topology => "topology",
        }
    }
}

macro_rules! kinds {
    ($($variant:ident => ($audience:ident, $code:literal, $doc:literal),)*) => {
        /// A kind of change, with a stable code (`wire.field-removed`). The code and a subject
        /// name a change in `--accept` files, so codes never change meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $(#[doc = $doc] $variant,)*
        }

        impl Kind {
            /// Every kind, grouped by audience.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The stable code, `<audience>.<change>`.
            pub fn code(self) -> &'static str {
                match self { $(Kind::$variant => $code,)* }
            }

            /// The audience the kind belongs to.
            pub fn audience(self) -> Audience {
                match self { $(Kind::$variant => Audience::$audience,)* }
            }

            /// What the kind means, in one line.
            pub fn describe(self) -> &'static str {
                match self { $(Kind::$variant => $doc,)* }
            }
        }
    };
}

kinds! {
    WireMessageAdded => (Wire, "wire.message-added", "A command or event was added."),
    WireMessageRemoved => (Wire, "wire.message-removed", "A command or event was removed."),
    WireMessageRenamed => (Wire, "wire.message-renamed", "A command or event was renamed (same aggregate, same fields)."),
    WireFieldAdded => (Wire, "wire.field-added", "A field was added to a command, an event or a record they carry."),
    WireFieldRemoved => (Wire, "wire.field-removed", "A field was removed from a command, an event or a record they carry."),
    WireFieldTypeChanged => (Wire, "wire.field-type-changed", "A field of a command, an event or a record they carry changed its type."),
    WireVariantAdded => (Wire, "wire.variant-added", "An enum carried by commands or events gained a variant."),
    WireVariantRemoved => (Wire, "wire.variant-removed", "An enum carried by commands or events lost a variant."),
    WireVersionChanged => (Wire, "wire.version-changed", "A command's or event's schema version changed."),
    WireDeprecated => (Wire, "wire.deprecated", "A command, an event or one of their fields was marked deprecated."),
    StorageAggregateAdded => (Storage, "storage.aggregate-added", "An aggregate was added."),
    StorageAggregateRemoved => (Storage, "storage.aggregate-removed", "An aggregate was removed."),
    StorageAggregateRenamed => (Storage, "storage.aggregate-renamed", "An aggregate was renamed (same id type, statuses and state)."),
    StorageIdTypeChanged => (Storage, "storage.id-type-changed", "An aggregate's id type changed."),
    StorageFieldAdded => (Storage, "storage.field-added", "A field was added to an aggregate's state or a record it holds."),
    StorageFieldRemoved => (Storage, "storage.field-removed", "A field was removed from an aggregate's state or a record it holds."),
    StorageFieldTypeChanged => (Storage, "storage.field-type-changed", "A state field changed its type."),
    StorageStatusAdded => (Storage, "storage.status-added", "An aggregate gained a status."),
    StorageStatusRemoved => (Storage, "storage.status-removed", "An aggregate lost a status."),
    StorageVariantAdded => (Storage, "storage.variant-added", "An enum held in aggregate state gained a variant."),
    StorageVariantRemoved => (Storage, "storage.variant-removed", "An enum held in aggregate state lost a variant."),
    PolicyAdded => (Wire, "wire.policy-added", "A policy (send a command or run a hook on an event) was added."),
    PolicyRemoved => (Wire, "wire.policy-removed", "A policy was removed."),
    PolicyChanged => (Wire, "wire.policy-changed", "A policy's event, command, target or hook changed."),
    PublicEventSourceChanged => (Wire, "wire.public-event-source-changed", "A public event is published for another domain event."),
    ReadModelAdded => (ReadModel, "read-model.added", "A read model was added."),
    ReadModelRemoved => (ReadModel, "read-model.removed", "A read model was removed."),
    ReadModelKeyChanged => (ReadModel, "read-model.key-changed", "A read model's key field changed."),
    ReadModelFieldAdded => (ReadModel, "read-model.field-added", "A document field was added."),
    ReadModelFieldRemoved => (ReadModel, "read-model.field-removed", "A document field was removed."),
    ReadModelFieldTypeChanged => (ReadModel, "read-model.field-type-changed", "A document field changed its type."),
    ReadModelVariantAdded => (ReadModel, "read-model.variant-added", "An enum held in documents gained a variant."),
    ReadModelVariantRemoved => (ReadModel, "read-model.variant-removed", "An enum held in documents lost a variant."),
    ReadModelProjectionAdded => (ReadModel, "read-model.projection-added", "A read model projects one more event."),
    ReadModelProjectionRemoved => (ReadModel, "read-model.projection-removed", "A read model no longer projects an event."),
    ReadModelProjectionChanged => (ReadModel, "read-model.projection-changed", "The document changes (or key, or creation) of a projected event changed."),
    ReadModelSourceAdded => (ReadModel, "read-model.source-added", "A context's EventHandler subscribes to the events of one more existing context."),
    SagaAdded => (Saga, "saga.added", "A saga was added."),
    SagaRemoved => (Saga, "saga.removed", "A saga was removed."),
    SagaStartChanged => (Saga, "saga.start-changed", "The event that starts a saga changed."),
    SagaCorrelationChanged => (Saga, "saga.correlation-changed", "The data field that finds a saga's instances changed."),
    SagaInitialChanged => (Saga, "saga.initial-changed", "A saga's initial state changed."),
    SagaStateAdded => (Saga, "saga.state-added", "A saga state was added."),
    SagaStateRemoved => (Saga, "saga.state-removed", "A saga state was removed."),
    SagaStateRenamed => (Saga, "saga.state-renamed", "A saga step was renamed (same command, same events)."),
    SagaFieldAdded => (Saga, "saga.field-added", "A field was added to saga data or a record it holds."),
    SagaFieldRemoved => (Saga, "saga.field-removed", "A field was removed from saga data or a record it holds."),
    SagaFieldTypeChanged => (Saga, "saga.field-type-changed", "A saga data field changed its type."),
    SagaVariantAdded => (Saga, "saga.variant-added", "An enum held in saga data gained a variant."),
    SagaVariantRemoved => (Saga, "saga.variant-removed", "An enum held in saga data lost a variant."),
    SagaTimeoutChanged => (Saga, "saga.timeout-changed", "A step's timeout changed."),
    SagaRetryChanged => (Saga, "saga.retry-changed", "A step's retry policy changed."),
    SagaStepCommandChanged => (Saga, "saga.step-command-changed", "The command a step sends, or its compensation, changed."),
    SagaTransitionAdded => (Saga, "saga.transition-added", "A state reacts to one more event."),
    SagaTransitionRemoved => (Saga, "saga.transition-removed", "A state no longer reacts to an event."),
    SagaTransitionChanged => (Saga, "saga.transition-changed", "A transition's target, compensation or captures changed."),
    TopologyQueueAdded => (Topology, "topology.queue-added", "A consumed queue was added."),
    TopologyQueueRemoved => (Topology, "topology.queue-removed", "A consumed queue was removed (its consumer is gone)."),
    TopologyQueueRenamed => (Topology, "topology.queue-renamed", "The queue of a consumer was renamed."),
    TopologyQueueArgumentsChanged => (Topology, "topology.queue-arguments-changed", "A queue's declared arguments changed (type, delivery limit, dead-lettering, TTL)."),
    TopologyConsumerSettingsChanged => (Topology, "topology.consumer-settings-changed", "A consumer's prefetch or handling attempts changed."),
    TopologyDeadLetterQueueRenamed => (Topology, "topology.dead-letter-queue-renamed", "A queue's dead-letter queue was renamed."),
    TopologyRetryQueueAdded => (Topology, "topology.retry-queue-added", "A queue gained a delayed-retry tier."),
    TopologyRetryQueueRemoved => (Topology, "topology.retry-queue-removed", "A queue lost a delayed-retry tier."),
    TopologyExchangeAdded => (Topology, "topology.exchange-added", "An exchange was added."),
    TopologyExchangeRemoved => (Topology, "topology.exchange-removed", "An exchange was removed."),
    TopologyExchangeRenamed => (Topology, "topology.exchange-renamed", "An exchange was renamed."),
    TopologyBindingAdded => (Topology, "topology.binding-added", "A queue was bound to one more exchange."),
    TopologyBindingRemoved => (Topology, "topology.binding-removed", "A queue is no longer bound to an exchange."),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_start_with_their_audience() {
        let mut seen = std::collections::HashSet::new();
        for k in Kind::ALL {
            assert!(seen.insert(k.code()), "{k} twice");
            assert!(
                k.code().starts_with(&format!("{}.", k.audience().name())),
                "{k}"
            );
        }
    }
}

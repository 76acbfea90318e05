//! The concrete RabbitMQ topology of a model, as the runtime declares it.
//!
//! Generated processes embed this value; the topology document and the RabbitMQ definitions
//! file are rendered from it too, so the three never disagree.

use crate::model::topology::ConsumedQueue;
use crate::model::{Model, QueueKind};
use runtime::topology::{
    BindingSpec, ContextRoutes, DeadLetterStrategy, ExchangeKind, ExchangeSpec, Overflow,
    PER_REPLICA_MAX_LENGTH, QueueArguments, QueueKind as RtQueueKind, QueueSpec, RetryTier,
    Topology, WorkQueueSpec,
};

/// Every exchange, queue and binding of the system, with the retry and dead-letter plumbing of
/// each consumed queue.
///
/// - per context: a fanout event exchange, a fanout outcome exchange, the command queue (fed
///   through the default exchange), the EventHandler queue bound to the event exchanges its
///   read models use, and the Command API's outcome queue bound to the outcome exchange — a
///   per-replica template (classic, bounded, no retry queues) each replica copies;
/// - per saga: its queue bound to the event exchanges of the contexts it listens to;
/// - one direct dead-letter exchange; per consumed queue a dead-letter queue bound to it with
///   the queue's name as routing key, and one classic retry queue per delay tier whose TTL
///   dead-letters back into the queue through the default exchange.
pub fn runtime_topology(model: &Model) -> Topology {
    let t = &model.topology;
    let mut out = Topology::default();
    let dlx = t.naming.dead_letter_exchange.clone();
    for c in &t.contexts {
        for name in [&c.event_exchange, &c.outcome_exchange]
            .into_iter()
            .chain(c.public_exchange.as_ref())
        {
            out.exchanges.push(ExchangeSpec {
                name: name.clone(),
                kind: ExchangeKind::Fanout,
                durable: true,
            });
        }
        out.contexts.push(ContextRoutes {
            context: c.context.clone(),
            command_queue: c.command_queue.name.clone(),
            event_exchange: c.event_exchange.clone(),
            outcome_exchange: c.outcome_exchange.clone(),
            public_exchange: c.public_exchange.clone(),
        });
    }
    out.exchanges.push(ExchangeSpec {
        name: dlx.clone(),
        kind: ExchangeKind::Direct,
        durable: true,
    });
    for q in t.consumed_queues() {
        work_queue(&mut out, q, &dlx);
    }
    out
}

fn work_queue(out: &mut Topology, q: &ConsumedQueue, dlx: &str) {
    let quorum = q.settings.kind == QueueKind::Quorum;
    // The kind of the dead-letter queue and of the retry tiers: that of the work queue.
    let kind = if quorum {
        RtQueueKind::Quorum
    } else {
        RtQueueKind::Classic
    };
    let main = if q.per_replica {
        QueueSpec {
            name: q.name.clone(),
            kind: RtQueueKind::Classic,
            durable: false,
            arguments: QueueArguments {
                dead_letter_exchange: Some(dlx.to_owned()),
                dead_letter_routing_key: Some(q.name.clone()),
                max_length: Some(PER_REPLICA_MAX_LENGTH),
                overflow: Some(Overflow::DropHead),
                ..QueueArguments::default()
            },
            per_replica: true,
        }
    } else {
        queue_spec(q, quorum, dlx)
    };
    out.queues.push(main);
    for exchange in &q.bindings {
        out.bindings.push(BindingSpec {
            exchange: exchange.clone(),
            queue: q.name.clone(),
            routing_key: String::new(),
        });
    }
    out.queues.push(QueueSpec {
        name: q.dead_letter_queue.clone(),
        kind,
        durable: true,
        arguments: QueueArguments::default(),
        per_replica: false,
    });
    out.bindings.push(BindingSpec {
        exchange: dlx.to_owned(),
        queue: q.dead_letter_queue.clone(),
        routing_key: q.name.clone(),
    });
    let mut tiers = Vec::new();
    for (delay, name) in &q.retry_queues {
        let delay_ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        out.queues
            .push(QueueSpec::retry_tier(name, delay_ms, &q.name, kind));
        tiers.push(RetryTier {
            delay_ms,
            queue: name.clone(),
        });
    }
    out.work_queues.push(WorkQueueSpec {
        queue: q.name.clone(),
        retry_tiers: tiers,
        dead_letter_exchange: dlx.to_owned(),
        dead_letter_routing_key: q.name.clone(),
        dead_letter_queue: q.dead_letter_queue.clone(),
        max_attempts: q.settings.max_attempts,
        prefetch: Some(u16::try_from(q.settings.prefetch).unwrap_or(u16::MAX)),
    });
}

fn queue_spec(q: &ConsumedQueue, quorum: bool, dlx: &str) -> QueueSpec {
    QueueSpec {
        name: q.name.clone(),
        kind: if quorum {
            RtQueueKind::Quorum
        } else {
            RtQueueKind::Classic
        },
        durable: true,
        arguments: QueueArguments {
            delivery_limit: if quorum {
                q.settings.delivery_limit
            } else {
                None
            },
            dead_letter_exchange: Some(dlx.to_owned()),
            dead_letter_routing_key: Some(q.name.clone()),
            dead_letter_strategy: quorum.then_some(DeadLetterStrategy::AtLeastOnce),
            overflow: quorum.then_some(Overflow::RejectPublish),
            single_active_consumer: q.single_active_consumer.then_some(true),
            ..QueueArguments::default()
        },
        per_replica: false,
    }
}

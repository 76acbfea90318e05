//! Declaring a [`Topology`] on the broker.

use super::{AmqpError, short};
use crate::topology::{ArgumentValue, BindingSpec, ExchangeKind, QueueSpec, Topology};
use lapin::Channel;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};

/// Declares every exchange, queue and binding of `topology` (validated first). Idempotent:
/// declaring the same topology again changes nothing. A queue or exchange that exists with
/// different arguments makes the broker refuse (`PRECONDITION_FAILED`) and closes the channel;
/// the error names it.
pub async fn declare(channel: &Channel, topology: &Topology) -> Result<(), AmqpError> {
    topology.validate()?;
    for e in &topology.exchanges {
        let kind = match e.kind {
            ExchangeKind::Fanout => lapin::ExchangeKind::Fanout,
            ExchangeKind::Direct => lapin::ExchangeKind::Direct,
            ExchangeKind::Topic => lapin::ExchangeKind::Topic,
        };
        let options = ExchangeDeclareOptions {
            durable: e.durable,
            ..Default::default()
        };
        channel
            .exchange_declare(short(&e.name)?, kind, options, FieldTable::default())
            .await
            .map_err(|source| AmqpError::Declare {
                what: "exchange",
                name: e.name.clone(),
                source,
            })?;
    }
    // Per-replica queues are templates: each consumer declares its own copy.
    let templates = topology.per_replica_templates();
    for q in topology.queues.iter().filter(|q| !q.per_replica) {
        let options = QueueDeclareOptions {
            durable: q.durable,
            ..Default::default()
        };
        channel
            .queue_declare(short(&q.name)?, options, queue_arguments(q))
            .await
            .map_err(|source| AmqpError::Declare {
                what: "queue",
                name: q.name.clone(),
                source,
            })?;
    }
    for b in topology
        .bindings
        .iter()
        .filter(|b| !templates.contains(b.queue.as_str()))
    {
        bind(channel, &b.queue, b).await?;
    }
    Ok(())
}

/// The queue's `x-*` arguments as an AMQP field table (strings as long strings, integers as
/// 64-bit signed integers).
pub fn queue_arguments(queue: &QueueSpec) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in queue.amqp_arguments() {
        let value = match v {
            ArgumentValue::Text(s) => AMQPValue::LongString(LongString::from(s)),
            ArgumentValue::Int(i) => AMQPValue::LongLongInt(i),
            ArgumentValue::Bool(b) => AMQPValue::Boolean(b),
        };
        table.insert(k.into(), value);
    }
    table
}

/// Declares `name`, this replica's exclusive, auto-deleted copy of the per-replica queue
/// template `template` (see [`QueueSpec::per_replica`]), with the template's arguments, and
/// binds it like the template. Called on every connection: the copy disappears with the
/// connection that declared it.
pub async fn declare_replica(
    channel: &Channel,
    topology: &Topology,
    template: &QueueSpec,
    name: &str,
) -> Result<(), AmqpError> {
    let options = QueueDeclareOptions {
        durable: false,
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    channel
        .queue_declare(short(name)?, options, queue_arguments(template))
        .await
        .map_err(|source| AmqpError::Declare {
            what: "queue",
            name: name.to_owned(),
            source,
        })?;
    for b in topology
        .bindings
        .iter()
        .filter(|b| b.queue == template.name)
    {
        bind(channel, name, b).await?;
    }
    Ok(())
}

/// Binds `queue` as `binding` binds its queue.
async fn bind(channel: &Channel, queue: &str, binding: &BindingSpec) -> Result<(), AmqpError> {
    channel
        .queue_bind(
            short(queue)?,
            short(&binding.exchange)?,
            short(&binding.routing_key)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|source| AmqpError::Declare {
            what: "binding",
            name: format!("{} -> {queue} ({})", binding.exchange, binding.routing_key),
            source,
        })?;
    Ok(())
}

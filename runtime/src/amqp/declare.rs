//! Declaring a [`Topology`] on the broker.

use super::{AmqpError, short};
use crate::topology::{ArgumentValue, ExchangeKind, QueueSpec, Topology};
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
    for q in &topology.queues {
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
    for b in &topology.bindings {
        channel
            .queue_bind(
                short(&b.queue)?,
                short(&b.exchange)?,
                short(&b.routing_key)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|source| AmqpError::Declare {
                what: "binding",
                name: format!("{} -> {} ({})", b.exchange, b.queue, b.routing_key),
                source,
            })?;
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

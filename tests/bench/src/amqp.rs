//! RabbitMQ helpers: the wire format of the runtime's envelopes (as `runtime::amqp::codec`
//! writes them), pipelined confirmed publishing, and a tap: a private queue bound to a fanout
//! exchange that records when each message arrived.

use crate::{Ctx, Res};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The example's topology, as every generated process declares it.
const TOPOLOGY: &str = include_str!("../../../generated/topology.json");

/// Connects to RabbitMQ.
pub async fn connect(url: &str) -> Res<Connection> {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .ctx("connect to RabbitMQ")
}

/// A channel in confirm mode.
pub async fn confirm_channel(conn: &Connection) -> Res<Channel> {
    let ch = conn.create_channel().await.ctx("channel")?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .ctx("confirm_select")?;
    Ok(ch)
}

/// The metadata and payload of a message, as the runtime puts them on the wire.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// `message_id` property.
    pub message_id: Uuid,
    /// `type` property (`context.Name`).
    pub message_type: String,
    /// `correlation_id` property.
    pub correlation_id: Uuid,
    /// `x-causation-id` header.
    pub causation_id: Option<Uuid>,
    /// `x-user-id` header.
    pub user_id: Option<String>,
    /// `x-aggregate-id` header.
    pub aggregate_id: Option<String>,
    /// `x-aggregate-version` header.
    pub aggregate_version: Option<i64>,
    /// The JSON body.
    pub payload: Value,
}

impl Envelope {
    /// A root message of `message_type` for `aggregate_id` (tenant [`crate::procs::TENANT`]).
    pub fn root(message_type: &str, aggregate_id: &str, payload: Value) -> Envelope {
        Envelope {
            message_id: Uuid::new_v4(),
            message_type: message_type.to_owned(),
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            user_id: Some("bench".into()),
            aggregate_id: Some(aggregate_id.to_owned()),
            aggregate_version: None,
            payload,
        }
    }

    /// Body and properties, as `runtime::amqp::codec::to_amqp` encodes them.
    pub fn encode(&self) -> (Vec<u8>, BasicProperties) {
        let long = |s: &str| AMQPValue::LongString(LongString::from(s));
        let now = chrono::Utc::now();
        let mut h = FieldTable::default();
        h.insert("x-tenant-id".into(), long(crate::procs::TENANT));
        h.insert("x-schema-version".into(), AMQPValue::LongLongInt(1));
        h.insert("x-created-at".into(), long(&now.to_rfc3339()));
        if let Some(c) = self.causation_id {
            h.insert("x-causation-id".into(), long(&c.to_string()));
        }
        if let Some(u) = &self.user_id {
            h.insert("x-user-id".into(), long(u));
        }
        if let Some(a) = &self.aggregate_id {
            h.insert("x-aggregate-id".into(), long(a));
        }
        if let Some(v) = self.aggregate_version {
            h.insert("x-aggregate-version".into(), AMQPValue::LongLongInt(v));
        }
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_message_id(self.message_id.to_string().into())
            .with_type(ShortString::from(self.message_type.as_str()))
            .with_correlation_id(self.correlation_id.to_string().into())
            .with_timestamp(now.timestamp().max(0) as u64)
            .with_headers(h);
        (serde_json::to_vec(&self.payload).unwrap_or_default(), props)
    }

    /// Decodes what [`Envelope::encode`] (or the runtime) wrote; `None` for anything else.
    pub fn decode(props: &BasicProperties, body: &[u8]) -> Option<Envelope> {
        let uuid = |s: &ShortString| Uuid::parse_str(s.as_str()).ok();
        Some(Envelope {
            message_id: props.message_id().as_ref().and_then(uuid)?,
            message_type: props.kind().as_ref()?.as_str().to_owned(),
            correlation_id: props.correlation_id().as_ref().and_then(uuid)?,
            causation_id: header_str(props, "x-causation-id").and_then(|c| c.parse().ok()),
            user_id: header_str(props, "x-user-id"),
            aggregate_id: header_str(props, "x-aggregate-id"),
            aggregate_version: match header(props, "x-aggregate-version") {
                Some(AMQPValue::LongLongInt(v)) => Some(*v),
                _ => None,
            },
            payload: serde_json::from_slice(body).ok()?,
        })
    }
}

fn header<'a>(props: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    props.headers().as_ref()?.inner().get(name)
}

/// Sets the prefetch of `ch` and starts consuming `queue` with manual acks.
pub async fn consume(ch: &Channel, queue: &str, prefetch: u16) -> Res<lapin::Consumer> {
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .ctx("qos")?;
    ch.basic_consume(
        queue.into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .ctx(&format!("consume {queue}"))
}

/// A header as text.
pub fn header_str(props: &BasicProperties, name: &str) -> Option<String> {
    match header(props, name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// Publishes every message on `ch` (confirm mode) with up to `window` confirms outstanding,
/// and waits for the last; fails on a negative confirm.
pub async fn publish_all(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    messages: impl IntoIterator<Item = (Vec<u8>, BasicProperties)>,
    window: usize,
) -> Res<usize> {
    let mut pending = VecDeque::new();
    let mut sent = 0;
    for (body, props) in messages {
        let confirm = ch
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await
            .ctx("publish")?;
        pending.push_back(confirm);
        sent += 1;
        if pending.len() >= window {
            check(pending.pop_front().expect("non-empty").await)?;
        }
    }
    for c in pending {
        check(c.await)?;
    }
    Ok(sent)
}

fn check(confirm: lapin::Result<lapin::Confirmation>) -> Res<()> {
    match confirm.ctx("confirm")? {
        lapin::Confirmation::Nack(_) => Err("negative confirm".into()),
        _ => Ok(()),
    }
}

/// One message seen by a [`Tap`].
#[derive(Clone, Debug)]
pub struct Seen {
    /// When the tap received it.
    pub at: Instant,
    /// The message.
    pub envelope: Envelope,
}

/// A private, exclusive queue bound to a fanout exchange, consumed without acks, recording
/// every message with its arrival time.
pub struct Tap {
    seen: Arc<Mutex<Vec<Seen>>>,
    _conn: Connection,
}

impl Tap {
    /// Binds a new tap to `exchange` (which must exist).
    pub async fn bind(url: &str, exchange: &str) -> Res<Tap> {
        let conn = connect(url).await?;
        let ch = conn.create_channel().await.ctx("channel")?;
        let q = ch
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .ctx("declare the tap queue")?;
        let name = q.name().clone();
        ch.queue_bind(
            name.clone(),
            exchange.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .ctx(&format!("bind the tap to {exchange}"))?;
        let mut consumer = ch
            .basic_consume(
                name,
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .ctx("consume the tap")?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let at = Instant::now();
                if let Some(envelope) = Envelope::decode(&d.properties, &d.data) {
                    sink.lock().expect("tap").push(Seen { at, envelope });
                }
            }
        });
        Ok(Tap { seen, _conn: conn })
    }

    /// How many messages arrived so far.
    pub fn count(&self) -> usize {
        self.seen.lock().expect("tap").len()
    }

    /// Every message so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("tap").clone()
    }

    /// Waits until `n` messages arrived or `timeout` passed; returns how many arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            if count >= n || Instant::now() >= deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Names of the example's queues and exchanges, with `prefix.` in front.
fn topology_names(prefix: &str) -> (Vec<String>, Vec<String>) {
    let t: Value = serde_json::from_str(TOPOLOGY).unwrap_or(Value::Null);
    let names = |key: &str| -> Vec<String> {
        t[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| Some(format!("{prefix}.{}", x["name"].as_str()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    (names("queues"), names("exchanges"))
}

/// Deletes the example's queues and exchanges with `prefix`, and the bench's own queues.
pub async fn delete_topology(url: &str, prefix: &str) -> Res<()> {
    let conn = connect(url).await?;
    let (mut queues, exchanges) = topology_names(prefix);
    queues.extend(
        crate::raw::BENCH_QUEUES
            .iter()
            .map(|q| format!("{prefix}.{q}")),
    );
    for q in queues {
        let ch = conn.create_channel().await.ctx("channel")?;
        let _ = ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    for e in exchanges.iter().chain([&format!("{prefix}.naive.events")]) {
        let ch = conn.create_channel().await.ctx("channel")?;
        let _ = ch
            .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "bye".into()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_through_the_wire_format() {
        let mut e = Envelope::root(
            "inventory.RegisterProduct",
            "p-1",
            serde_json::json!({"a": 1}),
        );
        e.causation_id = Some(Uuid::new_v4());
        e.aggregate_version = Some(3);
        let (body, props) = e.encode();
        let back = Envelope::decode(&props, &body).unwrap();
        assert_eq!(back.message_id, e.message_id);
        assert_eq!(back.message_type, "inventory.RegisterProduct");
        assert_eq!(back.causation_id, e.causation_id);
        assert_eq!(back.aggregate_id.as_deref(), Some("p-1"));
        assert_eq!(back.aggregate_version, Some(3));
        assert_eq!(back.payload["a"], 1);
        assert_eq!(header_str(&props, "x-tenant-id").as_deref(), Some("acme"));
    }

    #[test]
    fn the_topology_names_are_prefixed() {
        let (queues, exchanges) = topology_names("p");
        assert!(queues.contains(&"p.inventory.commands".to_owned()));
        assert!(exchanges.contains(&"p.inventory.events".to_owned()));
    }
}

//! Dead letters: reading, replaying and discarding the messages of a dead-letter queue — the
//! library behind the `dead-letters` binary.
//!
//! [`DeadLetterQueue::open`] takes every message of the queue without acknowledging it (the
//! broker keeps them, invisible to other readers, while the queue is open). Each one is then
//! settled: [`DeadLetterQueue::replay`] republishes the chosen ones to the queue they were
//! dead-lettered from (confirmed, dead-letter headers and attempt counter removed, message id
//! kept so de-duplication still applies) and acknowledges them; [`DeadLetterQueue::discard`]
//! acknowledges the chosen ones; everything else goes back to the queue unchanged
//! ([`DeadLetterQueue::release`], also what closing the connection does).

use super::bus::publish_confirmed;
use super::codec::{header_int, header_str, headers};
use super::{AmqpError, short};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use std::collections::BTreeMap;

/// Headers RabbitMQ itself adds when it dead-letters a message.
const BROKER_DEATH_HEADERS: [&str; 6] = [
    "x-death",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-first-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
];

/// One message of a dead-letter queue.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The message id (`message_id` property; empty when the message had none).
    pub message_id: String,
    /// The message type (`type` property; empty when the message had none).
    pub message_type: String,
    /// Why it was dead-lettered: the consumer's reason, or the broker's (`broker: ...`).
    pub reason: String,
    /// The queue it was dead-lettered from, where a replay sends it.
    pub from_queue: Option<String>,
    /// Handling attempts the consumer made (its `x-attempt` counter; 1 when absent).
    pub attempts: u32,
    /// The correlation id of its flow.
    pub correlation_id: Option<String>,
    /// Every header, rendered as text.
    pub headers: BTreeMap<String, String>,
    /// The body as received.
    pub body: Vec<u8>,
}

impl DeadLetter {
    fn from_parts(props: &BasicProperties, body: Vec<u8>) -> Self {
        let broker_reason = header_str(props, "x-first-death-reason");
        let reason = header_str(props, headers::DEAD_LETTER_REASON)
            .or_else(|| broker_reason.map(|r| format!("broker: {r}")))
            .unwrap_or_else(|| "unknown".to_owned());
        let from_queue = header_str(props, headers::DEAD_LETTER_QUEUE)
            .or_else(|| header_str(props, "x-first-death-queue"));
        let headers = props
            .headers()
            .as_ref()
            .map(|h| {
                h.inner()
                    .iter()
                    .map(|(k, v)| (k.to_string(), render(v)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            message_id: props
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            message_type: props
                .kind()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            reason,
            from_queue,
            attempts: header_int(props, headers::ATTEMPT)
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v >= 1)
                .unwrap_or(1),
            correlation_id: props.correlation_id().as_ref().map(|s| s.to_string()),
            headers,
            body,
        }
    }

    /// The body as pretty JSON, or as (lossy) text when it is not JSON.
    pub fn body_text(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned())
    }
}

/// A header value as text.
fn render(v: &AMQPValue) -> String {
    match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_owned(),
        other => format!("{other:?}"),
    }
}

/// Dead letters with the same reason and message type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The reason.
    pub reason: String,
    /// The message type.
    pub message_type: String,
    /// Their message ids, in queue order.
    pub message_ids: Vec<String>,
}

/// What settling a queue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Messages replayed to their queue or discarded.
    pub taken: usize,
    /// Messages put back into the dead-letter queue.
    pub kept: usize,
}

/// An open dead-letter queue: its messages, held unacknowledged until settled.
pub struct DeadLetterQueue {
    channel: Channel,
    queue: String,
    held: Vec<(u64, BasicProperties, DeadLetter)>,
}

impl DeadLetterQueue {
    /// Takes up to `max` messages of `queue` (unacknowledged) on a new channel of `conn`.
    pub async fn open(conn: &Connection, queue: &str, max: usize) -> Result<Self, AmqpError> {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut held = Vec::new();
        while held.len() < max {
            let Some(message) = channel
                .basic_get(short(queue)?, BasicGetOptions { no_ack: false })
                .await?
            else {
                break;
            };
            let delivery = message.delivery;
            let letter = DeadLetter::from_parts(&delivery.properties, delivery.data.clone());
            held.push((delivery.delivery_tag, delivery.properties, letter));
        }
        Ok(Self {
            channel,
            queue: queue.to_owned(),
            held,
        })
    }

    /// The queue's name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The dead letters, in queue order.
    pub fn letters(&self) -> impl Iterator<Item = &DeadLetter> {
        self.held.iter().map(|(_, _, l)| l)
    }

    /// The dead letters grouped by reason and message type (largest group first).
    pub fn groups(&self) -> Vec<Group> {
        let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for l in self.letters() {
            groups
                .entry((l.reason.clone(), l.message_type.clone()))
                .or_default()
                .push(l.message_id.clone());
        }
        let mut out: Vec<Group> = groups
            .into_iter()
            .map(|((reason, message_type), message_ids)| Group {
                reason,
                message_type,
                message_ids,
            })
            .collect();
        out.sort_by_key(|g| std::cmp::Reverse(g.message_ids.len()));
        out
    }

    /// Republishes the chosen dead letters to the queue they came from and removes them from
    /// the dead-letter queue; puts the others back. A letter without a known origin is kept
    /// and reported as an error after everything else is settled.
    pub async fn replay(self, choose: impl Fn(&DeadLetter) -> bool) -> Result<Settled, AmqpError> {
        let mut settled = Settled::default();
        let mut failure = None;
        for (tag, props, letter) in &self.held {
            if !choose(letter) || failure.is_some() {
                self.keep(*tag).await?;
                settled.kept += 1;
                continue;
            }
            let Some(queue) = &letter.from_queue else {
                self.keep(*tag).await?;
                settled.kept += 1;
                failure = Some(AmqpError::NoOrigin(letter.message_id.clone()));
                continue;
            };
            match publish_confirmed(&self.channel, "", queue, &letter.body, replayable(props)).await
            {
                Ok(()) => {
                    self.channel
                        .basic_ack(*tag, BasicAckOptions::default())
                        .await?;
                    settled.taken += 1;
                }
                Err(e) => {
                    self.keep(*tag).await?;
                    settled.kept += 1;
                    failure = Some(AmqpError::Publish(e));
                }
            }
        }
        self.close().await;
        failure.map_or(Ok(settled), Err)
    }

    /// Removes the chosen dead letters for good; puts the others back.
    pub async fn discard(self, choose: impl Fn(&DeadLetter) -> bool) -> Result<Settled, AmqpError> {
        let mut settled = Settled::default();
        for (tag, _, letter) in &self.held {
            if choose(letter) {
                self.channel
                    .basic_ack(*tag, BasicAckOptions::default())
                    .await?;
                settled.taken += 1;
            } else {
                self.keep(*tag).await?;
                settled.kept += 1;
            }
        }
        self.close().await;
        Ok(settled)
    }

    /// Puts every dead letter back, unchanged.
    pub async fn release(self) -> Result<Settled, AmqpError> {
        self.discard(|_| false).await
    }

    async fn keep(&self, tag: u64) -> Result<(), AmqpError> {
        self.channel
            .basic_nack(
                tag,
                BasicNackOptions {
                    multiple: false,
                    requeue: true,
                },
            )
            .await?;
        Ok(())
    }

    async fn close(&self) {
        let _ = self.channel.close(200, "dead letters settled".into()).await;
    }
}

/// The properties of a replayed message: the original ones without the dead-letter headers
/// and the attempt counter, so the consumer starts afresh (the message id is kept).
fn replayable(props: &BasicProperties) -> BasicProperties {
    let mut kept = FieldTable::default();
    for (k, v) in props
        .headers()
        .as_ref()
        .map(|h| h.inner().iter())
        .into_iter()
        .flatten()
    {
        let name = k.as_str();
        let dropped = name == headers::DEAD_LETTER_REASON
            || name == headers::DEAD_LETTER_QUEUE
            || name == headers::ATTEMPT
            || BROKER_DEATH_HEADERS.contains(&name);
        if !dropped {
            kept.insert(k.clone(), v.clone());
        }
    }
    props.clone().with_headers(kept)
}

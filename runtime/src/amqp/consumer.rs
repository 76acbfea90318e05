//! The consumer runner: handler trait, outcomes, delayed retry, dead-lettering, reconnection
//! and graceful shutdown.

use super::bus::{confirm_channel, publish_confirmed};
use super::codec::{self, from_delivery, headers};
use super::connection::{INITIAL_BACKOFF, connect_once, next_backoff};
use super::declare::declare;
use super::{AmqpError, redact_url, short};
use crate::bus::BusError;
use crate::envelope::RawEnvelope;
use crate::observability as obs;
use crate::topology::{Topology, WorkQueueSpec};
use async_trait::async_trait;
use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::Instrument;

/// Longest wait for the broker to take an ack or a nack. When the connection breaks under
/// one, lapin can leave it pending for ever; the session then ends and reconnects instead, and
/// the broker redelivers the unsettled message.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Acks or nacks a delivery within [`SETTLE_TIMEOUT`].
async fn settle<T>(op: impl Future<Output = Result<T, lapin::Error>>) -> Result<(), AmqpError> {
    match tokio::time::timeout(SETTLE_TIMEOUT, op).await {
        Ok(result) => result.map(drop).map_err(Into::into),
        Err(_) => Err(AmqpError::Lapin(lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the broker did not take an ack or nack in time (connection lost)",
        )))),
    }
}

/// What the handler decided about a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleOutcome {
    /// Done (work committed, or a duplicate that needs nothing): ack.
    Ack,
    /// Transient failure: retry later through the delayed-retry tiers (the `delay` hint picks
    /// a tier at least that long); dead-lettered after the work queue's `max_attempts`.
    Retry {
        /// Minimum delay wished before the next attempt.
        delay: Option<Duration>,
        /// What failed; part of the dead-letter reason when this was the last attempt.
        error: Option<String>,
    },
    /// Not a failure: the message cannot be handled *yet* (an event whose predecessor is not
    /// applied). Sent through the retry tier of at least `delay` without counting as a failed
    /// attempt; dead-lettered only after [`MAX_DEFERRALS`] deferrals.
    Defer {
        /// Minimum delay before the next try.
        delay: Duration,
        /// What it waits for (part of the dead-letter reason).
        reason: String,
    },
    /// Permanent failure: send to the dead-letter queue now.
    DeadLetter {
        /// Why (stored in the `x-dead-letter-reason` header).
        reason: String,
    },
}

/// Deferrals of one message ([`HandleOutcome::Defer`]) before it is dead-lettered: with the
/// shortest retry tier of 1 s, about ten minutes of waiting for a predecessor.
pub const MAX_DEFERRALS: u32 = 600;

/// Handles one message. Called again for a redelivered message (after a crash or a broker
/// restart), so it must be idempotent; the consumer acks only after it returned.
///
/// ```
/// use runtime::amqp::{HandleOutcome, MessageHandler};
/// use runtime::RawEnvelope;
/// use std::collections::HashSet;
/// use std::sync::Mutex;
///
/// /// Records each message id once (idempotent), asks for a retry on unknown types.
/// struct Recorder(Mutex<HashSet<uuid::Uuid>>);
///
/// #[async_trait::async_trait]
/// impl MessageHandler for Recorder {
///     async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
///         if !msg.meta.message_type.starts_with("ordering.") {
///             return HandleOutcome::DeadLetter { reason: "unexpected type".into() };
///         }
///         self.0.lock().unwrap().insert(msg.meta.message_id);
///         HandleOutcome::Ack
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let h = Recorder(Mutex::new(HashSet::new()));
/// let msg = runtime::Envelope {
///     meta: runtime::Metadata::new_root("ordering.PlaceOrder", "acme"),
///     payload: serde_json::json!({}),
/// };
/// assert_eq!(h.handle(msg.clone()).await, HandleOutcome::Ack);
/// assert_eq!(h.handle(msg).await, HandleOutcome::Ack); // duplicate: still one record
/// assert_eq!(h.0.lock().unwrap().len(), 1);
/// # });
/// ```
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    /// Handles the message; the outcome decides ack, retry or dead-letter.
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome;
}

#[async_trait]
impl<H: MessageHandler + ?Sized> MessageHandler for Arc<H> {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        (**self).handle(msg).await
    }
}

/// Default prefetch (same as `PREFETCH`'s default).
pub const DEFAULT_PREFETCH: u16 = crate::config::DEFAULT_PREFETCH;
/// Default interval of the queue-depth gauge update.
pub const DEFAULT_DEPTH_EVERY: Duration = Duration::from_secs(15);

/// Consumes one work queue of a [`Topology`] until shutdown:
///
/// 1. connects (retrying with backoff), declares the topology (idempotent), sets the prefetch,
///    starts consuming with manual acks;
/// 2. for each delivery, in order: decodes it (a message that cannot be decoded is poison:
///    published to the dead-letter queue with a reason header and acked, never retried);
///    runs the handler inside a [`crate::observability::message_span`]; then
///    - `Ack`: acks;
///    - `Retry`: republishes to the delayed-retry tier with `x-attempt + 1`,
///      waits for the confirm, then acks; after `max_attempts` dead-letters instead (with no
///      tiers: nack with requeue, the queue's `x-delivery-limit` being the backstop);
///    - `DeadLetter`: publishes to the dead-letter queue (confirmed), acks;
///    - a panicking handler counts as a retry;
/// 3. when the connection or channel fails (broker restart), logs, backs off and starts over
///    at 1 — unacked messages are redelivered by the broker;
/// 4. when `shutdown` completes, finishes the message in hand, cancels the consumer and
///    closes the connection (prefetched, unacked messages go back to the queue).
///
/// Metrics: `messages_handled_total`, `handler_duration_seconds`, `messages_retried_total`,
/// `messages_dead_lettered_total`, and `queue_depth{queue}` every [`DEFAULT_DEPTH_EVERY`].
///
/// ```no_run
/// use runtime::amqp::{Consumer, HandleOutcome, MessageHandler};
/// use runtime::topology::TopologyBuilder;
/// use std::sync::Arc;
///
/// struct Noop;
/// #[async_trait::async_trait]
/// impl MessageHandler for Noop {
///     async fn handle(&self, _msg: runtime::RawEnvelope) -> HandleOutcome { HandleOutcome::Ack }
/// }
///
/// # async fn run() -> Result<(), runtime::amqp::AmqpError> {
/// let topology = TopologyBuilder::new().context("ordering").build();
/// Consumer::new("amqp://guest:guest@127.0.0.1:5672/%2f", topology, "ordering.commands")?
///     .prefetch(32)
///     .run(Arc::new(Noop), async { let _ = tokio::signal::ctrl_c().await; })
///     .await
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Consumer {
    url: String,
    topology: Arc<Topology>,
    work: WorkQueueSpec,
    prefetch: u16,
    declare: bool,
    depth_every: Option<Duration>,
    ready: Option<Arc<AtomicBool>>,
}

enum SessionEnd {
    Shutdown,
    Failed(AmqpError),
}

impl Consumer {
    /// A consumer of `queue`, which must be a work queue of `topology`.
    pub fn new(url: &str, topology: Topology, queue: &str) -> Result<Self, AmqpError> {
        let work = topology
            .work_queue(queue)
            .cloned()
            .ok_or_else(|| AmqpError::UnknownQueue(queue.to_owned()))?;
        Ok(Self {
            url: url.to_owned(),
            topology: Arc::new(topology),
            prefetch: work.prefetch.unwrap_or(DEFAULT_PREFETCH).max(1),
            work,
            declare: true,
            depth_every: Some(DEFAULT_DEPTH_EVERY),
            ready: None,
        })
    }

    /// Sets the prefetch (unacked deliveries in flight); `0` is treated as 1. The default is
    /// the work queue's [`WorkQueueSpec::prefetch`], else [`DEFAULT_PREFETCH`].
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Whether to declare the whole topology on every (re)connection (default `true`).
    pub fn declare_topology(mut self, declare: bool) -> Self {
        self.declare = declare;
        self
    }

    /// How often to update `queue_depth{queue}` (`None`: never).
    pub fn report_depth_every(mut self, every: Option<Duration>) -> Self {
        self.depth_every = every;
        self
    }

    /// A flag the consumer keeps `true` while it is consuming and `false` otherwise (for a
    /// readiness probe).
    pub fn ready_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.ready = Some(flag);
        self
    }

    fn set_ready(&self, ready: bool) {
        if let Some(f) = &self.ready {
            f.store(ready, Ordering::SeqCst);
        }
    }

    /// The consumed queue.
    pub fn queue(&self) -> &str {
        &self.work.queue
    }

    /// Runs until `shutdown` completes (`Ok`) or a permanent error (the topology cannot be
    /// declared as given: `Err`). Connection failures are retried forever.
    pub async fn run<H: MessageHandler>(
        self,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), AmqpError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let work = self.run_sessions(handler, stop_rx);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => return r,
            _ = shutdown => { let _ = stop_tx.send(true); }
        }
        work.await
    }

    async fn run_sessions<H: MessageHandler>(
        &self,
        handler: Arc<H>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), AmqpError> {
        let mut backoff = INITIAL_BACKOFF;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let started = Instant::now();
            match self.session(&handler, &mut stop).await {
                SessionEnd::Shutdown => return Ok(()),
                SessionEnd::Failed(e) if is_permanent(&e) => {
                    tracing::error!(queue = %self.work.queue, error = %e, "consumer stopped");
                    return Err(e);
                }
                SessionEnd::Failed(e) => {
                    if started.elapsed() > Duration::from_secs(30) {
                        backoff = INITIAL_BACKOFF;
                    }
                    tracing::warn!(queue = %self.work.queue, error = %e, retry_in = ?backoff,
                        "consumer session ended, reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped(&mut stop) => return Ok(()),
                    }
                    backoff = next_backoff(backoff);
                }
            }
        }
    }

    async fn session<H: MessageHandler>(
        &self,
        handler: &Arc<H>,
        stop: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let queue = &self.work.queue;
        let connection = tokio::select! {
            c = connect_once(&self.url) => match c {
                Ok(c) => c,
                Err(source) => return SessionEnd::Failed(AmqpError::Connect { url: redact_url(&self.url), source }),
            },
            _ = stopped(stop) => return SessionEnd::Shutdown,
        };
        let result = self.consume_on(&connection, handler, stop).await;
        self.set_ready(false);
        // Closing a connection the broker already dropped can wait for ever: bound it, so a
        // broken session always gives way to a new one.
        let _ = tokio::time::timeout(
            SETTLE_TIMEOUT,
            connection.close(200, "consumer done".into()),
        )
        .await;
        match result {
            Ok(()) => SessionEnd::Shutdown,
            Err(e) => {
                tracing::debug!(%queue, error = %e, "session error");
                SessionEnd::Failed(e)
            }
        }
    }

    async fn consume_on<H: MessageHandler>(
        &self,
        connection: &Connection,
        handler: &Arc<H>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), AmqpError> {
        let queue = &self.work.queue;
        let channel = confirm_channel(connection).await?;
        if self.declare {
            declare(&channel, &self.topology).await?;
        }
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                short(queue)?,
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(%queue, prefetch = self.prefetch, "consuming");
        self.set_ready(true);
        let mut depth_tick = self.depth_every.map(|every| {
            let mut i = tokio::time::interval(every);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        loop {
            tokio::select! {
                biased;
                _ = stopped(stop) => {
                    let _ = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()).await;
                    let _ = channel.close(200, "shutdown".into()).await;
                    tracing::info!(%queue, "consumer shut down");
                    return Ok(());
                }
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => self.process(&channel, handler, delivery).await?,
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(AmqpError::Lapin(lapin::Error::from(std::io::Error::other(
                        "consumer stream ended (channel or connection closed)",
                    )))),
                },
                _ = async { depth_tick.as_mut().expect("guarded").tick().await }, if depth_tick.is_some() => {
                    match super::depth::queue_depth(connection, queue).await {
                        Ok(n) => obs::set_queue_depth(queue, n.into()),
                        Err(e) => tracing::debug!(%queue, error = %e, "queue depth unavailable"),
                    }
                }
            }
        }
    }

    async fn process<H: MessageHandler>(
        &self,
        channel: &Channel,
        handler: &Arc<H>,
        delivery: Delivery,
    ) -> Result<(), AmqpError> {
        let queue = self.work.queue.as_str();
        let envelope = match from_delivery(&delivery) {
            Ok(e) => e,
            Err(e) => {
                let message_type = delivery
                    .properties
                    .kind()
                    .as_ref()
                    .map(|k| k.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".to_owned());
                tracing::warn!(%queue, %message_type, error = %e, "poison message, dead-lettering");
                self.dead_letter(channel, &delivery, &format!("poison: {e}"))
                    .await?;
                obs::record_dead_lettered(queue, &message_type, "poison");
                obs::record_handled(queue, &message_type, "dead_letter", Duration::ZERO);
                return Ok(());
            }
        };
        let message_type = envelope.meta.message_type.clone();
        let attempt = codec::attempt(&delivery.properties);
        let span = obs::message_span(&envelope);
        let started = Instant::now();
        let outcome = AssertUnwindSafe(handler.handle(envelope))
            .catch_unwind()
            .instrument(span.clone())
            .await
            .unwrap_or_else(|_| {
                span.in_scope(|| tracing::error!(%queue, attempt, "handler panicked"));
                HandleOutcome::Retry {
                    delay: None,
                    error: Some("the handler panicked".into()),
                }
            });
        let elapsed = started.elapsed();
        let _entered = span.enter();
        match outcome {
            HandleOutcome::Ack => {
                settle(delivery.ack(BasicAckOptions::default())).await?;
                obs::record_handled(queue, &message_type, "ack", elapsed);
            }
            HandleOutcome::Retry { delay, error } if attempt >= self.work.max_attempts => {
                tracing::warn!(%queue, attempt, ?delay, "giving up after max attempts, dead-lettering");
                let reason = match error {
                    Some(e) => format!("max attempts ({}) reached: {e}", self.work.max_attempts),
                    None => format!("max attempts ({}) reached", self.work.max_attempts),
                };
                self.dead_letter(channel, &delivery, &reason).await?;
                obs::record_dead_lettered(queue, &message_type, "max_attempts");
                obs::record_handled(queue, &message_type, "dead_letter", elapsed);
            }
            HandleOutcome::Retry { delay, .. } => {
                let hint = delay.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                let tier = self.work.retry_tier(attempt, hint).cloned();
                let props = codec::with_header(
                    &delivery.properties,
                    headers::ATTEMPT,
                    AMQPValue::LongLongInt(i64::from(attempt) + 1),
                );
                self.republish(channel, &delivery, tier.as_ref(), props)
                    .await?;
                obs::record_retried(queue, &message_type);
                obs::record_handled(queue, &message_type, "retry", elapsed);
            }
            HandleOutcome::Defer { reason, .. }
                if codec::deferrals(&delivery.properties) >= MAX_DEFERRALS =>
            {
                let reason = format!("deferred {MAX_DEFERRALS} times: {reason}");
                tracing::warn!(%queue, %reason, "giving up waiting, dead-lettering");
                self.dead_letter(channel, &delivery, &reason).await?;
                obs::record_dead_lettered(queue, &message_type, "max_deferrals");
                obs::record_handled(queue, &message_type, "dead_letter", elapsed);
            }
            HandleOutcome::Defer { delay, .. } => {
                // The tier by the delay alone: waiting is not a failed attempt.
                let hint = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                let tier = self.work.retry_tier(1, Some(hint)).cloned();
                let props = codec::with_header(
                    &delivery.properties,
                    headers::DEFERRALS,
                    AMQPValue::LongLongInt(i64::from(codec::deferrals(&delivery.properties)) + 1),
                );
                self.republish(channel, &delivery, tier.as_ref(), props)
                    .await?;
                obs::record_handled(queue, &message_type, "defer", elapsed);
            }
            HandleOutcome::DeadLetter { reason } => {
                tracing::warn!(%queue, %reason, "handler dead-lettered the message");
                self.dead_letter(channel, &delivery, &reason).await?;
                obs::record_dead_lettered(queue, &message_type, "handler");
                obs::record_handled(queue, &message_type, "dead_letter", elapsed);
            }
        }
        Ok(())
    }

    /// Sends the delivery with `props` to the retry `tier` (confirmed) and acks it; requeues it
    /// when there is no tier or the tier refuses it.
    async fn republish(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        tier: Option<&crate::topology::RetryTier>,
        props: lapin::BasicProperties,
    ) -> Result<(), AmqpError> {
        let queue = &self.work.queue;
        let Some(tier) = tier else {
            tracing::info!(%queue, "no retry tier, requeueing");
            settle(delivery.nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            }))
            .await?;
            return Ok(());
        };
        match publish_confirmed(channel, "", &tier.queue, &delivery.data, props).await {
            Ok(()) => {
                settle(delivery.ack(BasicAckOptions::default())).await?;
                tracing::info!(%queue, tier = %tier.queue, "retry scheduled");
            }
            Err(e @ BusError::Unavailable(_)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(%queue, error = %e, "retry tier refused the message, requeueing");
                settle(delivery.nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                }))
                .await?;
            }
        }
        Ok(())
    }

    /// Publishes the delivery (body and properties kept, reason headers added) to the work
    /// queue's dead-letter queue with a confirm, then acks it. If the dead-letter queue refuses
    /// it, rejects without requeue (the broker then dead-letters it by the queue's arguments).
    async fn dead_letter(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), AmqpError> {
        let props = codec::with_header(
            &delivery.properties,
            headers::DEAD_LETTER_REASON,
            AMQPValue::LongString(LongString::from(reason)),
        );
        let props = codec::with_header(
            &props,
            headers::DEAD_LETTER_QUEUE,
            AMQPValue::LongString(LongString::from(self.work.queue.as_str())),
        );
        match publish_confirmed(
            channel,
            &self.work.dead_letter_exchange,
            &self.work.dead_letter_routing_key,
            &delivery.data,
            props,
        )
        .await
        {
            Ok(()) => {
                settle(delivery.ack(BasicAckOptions::default())).await?;
            }
            Err(e @ BusError::Unavailable(_)) => return Err(e.into()),
            Err(e) => {
                tracing::error!(queue = %self.work.queue, error = %e,
                    "dead-letter queue refused the message, rejecting it");
                settle(delivery.reject(BasicRejectOptions { requeue: false })).await?;
            }
        }
        Ok(())
    }
}

/// Completes when the stop flag is set (or its sender is gone). The `watch::Ref` is dropped
/// inside, so the future stays `Send`.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors a reconnection cannot fix.
fn is_permanent(e: &AmqpError) -> bool {
    match e {
        AmqpError::Declare { source, .. } => source.is_amqp_soft_error(),
        AmqpError::Topology(_) | AmqpError::UnknownQueue(_) | AmqpError::NameTooLong(_) => true,
        _ => false,
    }
}

/// Runs a [`Consumer`] of `queue` with `prefetch` until `shutdown` (shorthand).
pub async fn consume<H: MessageHandler>(
    url: &str,
    topology: Topology,
    queue: &str,
    prefetch: u16,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), AmqpError> {
    Consumer::new(url, topology, queue)?
        .prefetch(prefetch)
        .run(handler, shutdown)
        .await
}

//! The consumer runner: sessions with reconnection, concurrent handling in per-key lanes,
//! queue-depth reporting and graceful shutdown.

use super::bus::confirm_channel;
use super::connection::{INITIAL_BACKOFF, connect_once, next_backoff};
use super::declare::{declare, declare_replica};
use super::handler::MessageHandler;
use super::lanes::Lanes;
use super::settlement::{SETTLE_TIMEOUT, Settler};
use super::{AmqpError, redact_url, short};
use crate::observability as obs;
use crate::topology::{QueueSpec, Topology, WorkQueueSpec};
use futures_util::StreamExt;
use lapin::Connection;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Default prefetch (same as `PREFETCH`'s default).
pub const DEFAULT_PREFETCH: u16 = crate::config::DEFAULT_PREFETCH;
/// Default interval of the queue-depth gauge update.
pub const DEFAULT_DEPTH_EVERY: Duration = Duration::from_secs(15);

/// Consumes one work queue of a [`Topology`] until shutdown:
///
/// 1. connects (retrying with backoff), declares the topology (idempotent), sets the prefetch,
///    starts consuming with manual acks; a per-replica queue ([`QueueSpec::per_replica`]) is
///    consumed through this consumer's own exclusive copy `<queue>.<replica id>`, declared
///    and bound on every connection, so every replica receives every message;
/// 2. spreads the deliveries over up to `prefetch` lanes by the handler's
///    [`MessageHandler::ordering_key`] (by default the message's tenant and aggregate): each
///    lane handles its messages one at a time in delivery order, so an aggregate's messages
///    never overtake each other while other aggregates' messages are handled concurrently
///    (`prefetch(1)` handles everything in sequence). For each delivery: decodes it (a message
///    that cannot be decoded is poison: published to the dead-letter queue with a reason
///    header and acked, never retried); runs the handler inside a
///    [`crate::observability::message_span`]; then
///    - `Ack`: acks;
///    - `Retry`: republishes to the delayed-retry tier with `x-attempt + 1`,
///      waits for the confirm, then acks; after `max_attempts` dead-letters instead (with no
///      tiers: nack with requeue, the queue's `x-delivery-limit` being the backstop);
///    - `DeadLetter`: publishes to the dead-letter queue (confirmed), acks;
///    - a panicking handler counts as a retry;
/// 3. when the connection or channel fails (broker restart), logs, backs off and starts over
///    at 1 — unacked messages are redelivered by the broker;
/// 4. when `shutdown` completes, cancels the consumer, lets every lane finish the message in
///    hand and closes the connection (prefetched, unacked messages go back to the queue).
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
    /// For a per-replica queue: the template and this replica's copy's name.
    replica: Option<(QueueSpec, String)>,
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
        let replica = topology.queue(queue).filter(|q| q.per_replica).map(|q| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            (q.clone(), format!("{queue}.{}", &id[..12]))
        });
        Ok(Self {
            replica,
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

    /// The consumed work queue (for a per-replica queue: the template's name).
    pub fn queue(&self) -> &str {
        &self.work.queue
    }

    /// The queue this consumer reads: [`Consumer::queue`], or for a per-replica queue this
    /// replica's exclusive copy.
    pub fn consumed_queue(&self) -> &str {
        self.replica
            .as_ref()
            .map_or(self.work.queue.as_str(), |(_, name)| name.as_str())
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
        let queue = self.consumed_queue();
        let channel = confirm_channel(connection).await?;
        if self.declare {
            declare(&channel, &self.topology).await?;
        }
        if let Some((template, name)) = &self.replica {
            declare_replica(&channel, &self.topology, template, name).await?;
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
        let settler = Settler {
            work: Arc::new(self.work.clone()),
            channel: channel.clone(),
        };
        let mut lanes = Lanes::start(usize::from(self.prefetch), settler, handler.clone(), stop);
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
                    lanes.finish().await;
                    let _ = channel.close(200, "shutdown".into()).await;
                    tracing::info!(%queue, "consumer shut down");
                    return Ok(());
                }
                e = lanes.failure() => return Err(e),
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => lanes.dispatch(delivery),
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(AmqpError::Lapin(lapin::Error::from(std::io::Error::other(
                        "consumer stream ended (channel or connection closed)",
                    )))),
                },
                _ = async { depth_tick.as_mut().expect("guarded").tick().await }, if depth_tick.is_some() => {
                    match super::depth::queue_depth(connection, queue).await {
                        Ok(n) => obs::set_queue_depth(&self.work.queue, n.into()),
                        Err(e) => tracing::debug!(%queue, error = %e, "queue depth unavailable"),
                    }
                }
            }
        }
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

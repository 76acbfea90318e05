//! The fully resolved RabbitMQ topology, as plain data.
//!
//! The code generator computes every name from the catalog and emits one [`Topology`] value;
//! `crate::amqp::declare` declares exactly that, and `crate::amqp::AmqpBus` looks the
//! per-context routes up in it. [`TopologyBuilder`] encodes the naming convention once, so the
//! generator and the tests share a single definition:
//!
//! | what                       | name                        | kind / arguments                                   |
//! |----------------------------|-----------------------------|----------------------------------------------------|
//! | command queue              | `<ctx>.commands`            | quorum, DLX `<ctx>.dlx`, delivery limit            |
//! | event exchange             | `<ctx>.events`              | fanout                                             |
//! | outcome exchange           | `<ctx>.outcomes`            | fanout                                             |
//! | subscriber queue           | `<owner>.<subscription>`    | quorum, bound to every source exchange             |
//! | dead-letter exchange       | `<ctx>.dlx`                 | direct                                             |
//! | dead-letter queue          | `<queue>.dlq`               | quorum, bound to `<ctx>.dlx` with key `<queue>`    |
//! | delayed-retry queue        | `<queue>.retry.<delay>`     | classic, TTL `<delay>`, DLX `""` with key `<queue>`|
//!
//! (`<owner>` is the context owning the consumer: `ordering.event-handler`, or a pseudo-context
//! such as `sagas` for `sagas.order-fulfillment`.) Commands are published on the default
//! exchange with the command queue's name as routing key; events and outcomes on their fanout
//! exchange.
//!
//! # Delayed retry with backoff
//!
//! RabbitMQ has no native delayed delivery, so every work queue `Q` gets one *retry tier* queue
//! per delay (default 1 s, 10 s, 60 s): `Q.retry.1s`, `Q.retry.10s`, `Q.retry.1m`. A tier queue
//! has no consumer; its `x-message-ttl` is the delay and its dead-letter target is the default
//! exchange (`""`) with routing key `Q`. When a handler asks for a retry, the consumer
//! republishes the message (same body and properties, attempt counter header incremented) to
//! the tier — on the default exchange with the tier's name as routing key, with a publisher
//! confirm — and only then acks the original. When the TTL expires the broker dead-letters the
//! message back into `Q`. Because all messages of one tier share one TTL, the queue stays FIFO
//! and head-of-line expiry (RabbitMQ only expires messages at the head) is exact; that is why
//! there is one queue per delay rather than per-message TTLs.
//!
//! Attempt `n` (1-based, the delivery that just failed) goes to tier `min(n, tiers) - 1`, or to
//! the smallest tier at least as long as the handler's delay hint, whichever is longer. After
//! [`WorkQueueSpec::max_attempts`] failed attempts the message goes to the dead-letter queue
//! instead. Independently, quorum work queues carry `x-delivery-limit`: a message redelivered
//! too often (the handler crashed the process before acking, again and again) is dead-lettered
//! by the broker itself — the backstop against poison messages that kill the consumer.
//! Work queues and their retry tiers are quorum queues with `x-dead-letter-strategy =
//! at-least-once` (with `x-overflow = reject-publish`, which it requires), so broker-side
//! dead-lettering — a tier's expiry back into its work queue included — cannot lose a message.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The complete topology of a system (or of the part a process needs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// Every exchange to declare.
    pub exchanges: Vec<ExchangeSpec>,
    /// Every queue to declare.
    pub queues: Vec<QueueSpec>,
    /// Every binding to declare.
    pub bindings: Vec<BindingSpec>,
    /// Where each context's commands, events and outcomes go.
    #[serde(default)]
    pub contexts: Vec<ContextRoutes>,
    /// Retry and dead-letter plumbing of every queue that has consumers.
    #[serde(default)]
    pub work_queues: Vec<WorkQueueSpec>,
}

/// Kind of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// Every bound queue gets a copy (events, outcomes).
    Fanout,
    /// Routed by exact routing key (dead-letter exchanges).
    Direct,
    /// Routed by routing-key pattern.
    Topic,
}

impl ExchangeKind {
    /// The AMQP name of the kind (`fanout`, `direct`, `topic`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Direct => "direct",
            ExchangeKind::Topic => "topic",
        }
    }
}

/// An exchange to declare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeSpec {
    /// Exchange name.
    pub name: String,
    /// Exchange kind.
    pub kind: ExchangeKind,
    /// Survives a broker restart.
    pub durable: bool,
}

/// Kind of a queue (`x-queue-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// Replicated, durable, supports `x-delivery-limit` (work queues, dead-letter queues).
    Quorum,
    /// Classic queue (per-replica queues; the work queues and tiers of `queue_type: classic`).
    Classic,
}

impl QueueKind {
    /// The `x-queue-type` value (`quorum`, `classic`).
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Quorum => "quorum",
            QueueKind::Classic => "classic",
        }
    }
}

/// How a quorum queue dead-letters (`x-dead-letter-strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadLetterStrategy {
    /// Broker default: a dead-lettered message may be lost if the target is unavailable.
    AtMostOnce,
    /// The message stays in the source queue until the dead-letter target confirmed it
    /// (requires `x-overflow = reject-publish`).
    AtLeastOnce,
}

impl DeadLetterStrategy {
    /// The `x-dead-letter-strategy` value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterStrategy::AtMostOnce => "at-most-once",
            DeadLetterStrategy::AtLeastOnce => "at-least-once",
        }
    }
}

/// What a full queue does (`x-overflow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Drop the oldest message.
    DropHead,
    /// Refuse new publishes (negative confirm).
    RejectPublish,
}

impl Overflow {
    /// The `x-overflow` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Overflow::DropHead => "drop-head",
            Overflow::RejectPublish => "reject-publish",
        }
    }
}

/// Optional queue arguments, as typed fields; [`QueueSpec::amqp_arguments`] turns them into
/// the `x-*` arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueArguments {
    /// `x-delivery-limit` (quorum only): redeliveries before the broker dead-letters.
    pub delivery_limit: Option<u32>,
    /// `x-dead-letter-exchange` (`""` is the default exchange).
    pub dead_letter_exchange: Option<String>,
    /// `x-dead-letter-routing-key`.
    pub dead_letter_routing_key: Option<String>,
    /// `x-message-ttl` in milliseconds.
    pub message_ttl_ms: Option<u32>,
    /// `x-dead-letter-strategy` (quorum only).
    pub dead_letter_strategy: Option<DeadLetterStrategy>,
    /// `x-overflow`.
    pub overflow: Option<Overflow>,
    /// `x-max-length` (messages).
    pub max_length: Option<u32>,
    /// `x-single-active-consumer`: one consumer at a time receives the queue's messages, the
    /// others wait as hot standbys (keeps the order of an ordered stream across replicas).
    pub single_active_consumer: Option<bool>,
}

/// A queue argument value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArgumentValue {
    /// A string argument (`x-queue-type`, `x-dead-letter-exchange`, ...).
    Text(String),
    /// An integer argument (`x-delivery-limit`, `x-message-ttl`, ...).
    Int(i64),
    /// A boolean argument (`x-single-active-consumer`).
    Bool(bool),
}

/// A queue to declare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSpec {
    /// Queue name.
    pub name: String,
    /// Queue type.
    pub kind: QueueKind,
    /// Survives a broker restart (quorum queues always are).
    pub durable: bool,
    /// Optional arguments.
    #[serde(default)]
    pub arguments: QueueArguments,
    /// A template rather than a queue: every consumer replica declares its own exclusive,
    /// auto-deleted copy `<name>.<replica id>` with these arguments and bindings, so that every
    /// replica receives every message (the Command API's outcome queue: each replica answers
    /// `GET /commands/{id}` for commands any replica accepted). [`crate::amqp::declare`]
    /// skips it; it must be a classic, non-durable queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_replica: bool,
}

impl QueueSpec {
    /// The delayed-retry tier `name` of the work queue `queue`: messages wait `delay_ms`, then
    /// go back to `queue` through the default exchange. A quorum tier (that of a quorum work
    /// queue) dead-letters at least once; a classic queue's expiry dead-letters at most once,
    /// and loses the message when the broker stops at that moment.
    ///
    /// ```
    /// use runtime::topology::{ArgumentValue, QueueKind, QueueSpec};
    /// let q = QueueSpec::retry_tier("shop.commands.retry.1s", 1000, "shop.commands", QueueKind::Quorum);
    /// let args = q.amqp_arguments();
    /// assert_eq!(args["x-dead-letter-strategy"], ArgumentValue::Text("at-least-once".into()));
    /// assert_eq!(args["x-message-ttl"], ArgumentValue::Int(1000));
    /// ```
    pub fn retry_tier(name: &str, delay_ms: u32, queue: &str, kind: QueueKind) -> Self {
        let quorum = kind == QueueKind::Quorum;
        QueueSpec {
            name: name.to_owned(),
            kind,
            durable: true,
            arguments: QueueArguments {
                message_ttl_ms: Some(delay_ms),
                dead_letter_exchange: Some(String::new()),
                dead_letter_routing_key: Some(queue.to_owned()),
                dead_letter_strategy: quorum.then_some(DeadLetterStrategy::AtLeastOnce),
                overflow: quorum.then_some(Overflow::RejectPublish),
                ..Default::default()
            },
            per_replica: false,
        }
    }

    /// The exact AMQP arguments to declare the queue with: `x-queue-type` always, then each
    /// optional argument that is set.
    ///
    /// ```
    /// use runtime::topology::{ArgumentValue, QueueArguments, QueueKind, QueueSpec};
    /// let q = QueueSpec {
    ///     name: "ordering.commands".into(),
    ///     kind: QueueKind::Quorum,
    ///     durable: true,
    ///     arguments: QueueArguments { delivery_limit: Some(20), ..Default::default() },
    ///     per_replica: false,
    /// };
    /// let args = q.amqp_arguments();
    /// assert_eq!(args["x-queue-type"], ArgumentValue::Text("quorum".into()));
    /// assert_eq!(args["x-delivery-limit"], ArgumentValue::Int(20));
    /// assert_eq!(args.len(), 2);
    /// ```
    pub fn amqp_arguments(&self) -> BTreeMap<String, ArgumentValue> {
        let a = &self.arguments;
        let mut out = BTreeMap::new();
        let text = |s: &str| ArgumentValue::Text(s.to_owned());
        out.insert("x-queue-type".to_owned(), text(self.kind.as_str()));
        if let Some(v) = a.delivery_limit {
            out.insert("x-delivery-limit".to_owned(), ArgumentValue::Int(v.into()));
        }
        if let Some(v) = &a.dead_letter_exchange {
            out.insert("x-dead-letter-exchange".to_owned(), text(v));
        }
        if let Some(v) = &a.dead_letter_routing_key {
            out.insert("x-dead-letter-routing-key".to_owned(), text(v));
        }
        if let Some(v) = a.message_ttl_ms {
            out.insert("x-message-ttl".to_owned(), ArgumentValue::Int(v.into()));
        }
        if let Some(v) = a.dead_letter_strategy {
            out.insert("x-dead-letter-strategy".to_owned(), text(v.as_str()));
        }
        if let Some(v) = a.overflow {
            out.insert("x-overflow".to_owned(), text(v.as_str()));
        }
        if let Some(v) = a.max_length {
            out.insert("x-max-length".to_owned(), ArgumentValue::Int(v.into()));
        }
        if let Some(v) = a.single_active_consumer {
            out.insert(
                "x-single-active-consumer".to_owned(),
                ArgumentValue::Bool(v),
            );
        }
        out
    }
}

/// A binding of a queue to an exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingSpec {
    /// Source exchange.
    pub exchange: String,
    /// Destination queue.
    pub queue: String,
    /// Routing key (`""` for fanout exchanges).
    pub routing_key: String,
}

/// Where one context's messages go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextRoutes {
    /// Context name as used by `MessageBus` calls (`ordering`).
    pub context: String,
    /// Queue receiving the context's commands (published on the default exchange).
    pub command_queue: String,
    /// Fanout exchange of the context's events.
    pub event_exchange: String,
    /// Fanout exchange of the context's command outcomes.
    pub outcome_exchange: String,
    /// Fanout exchange of the context's public (integration) events, when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_exchange: Option<String>,
}

/// One delayed-retry tier of a work queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryTier {
    /// Delay before the message is back in the work queue, in milliseconds.
    pub delay_ms: u32,
    /// The tier queue (TTL = `delay_ms`, dead-letters to the work queue).
    pub queue: String,
}

/// Retry and dead-letter plumbing of a queue with consumers (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkQueueSpec {
    /// The consumed queue.
    pub queue: String,
    /// Retry tiers, shortest delay first (may be empty: no delayed retry).
    pub retry_tiers: Vec<RetryTier>,
    /// Dead-letter exchange (direct).
    pub dead_letter_exchange: String,
    /// Routing key to the dead-letter queue on that exchange.
    pub dead_letter_routing_key: String,
    /// The dead-letter queue.
    pub dead_letter_queue: String,
    /// Failed handling attempts before the consumer dead-letters a message.
    pub max_attempts: u32,
    /// Unacknowledged deliveries a consumer of the queue holds (the catalog's `prefetch`);
    /// `None`: the consumer's default. The `PREFETCH` environment variable overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch: Option<u16>,
}

impl WorkQueueSpec {
    /// The tier for a retry after failed attempt `attempt` (1-based) with an optional delay
    /// hint in milliseconds: the later of "tier `attempt - 1` (capped)" and "smallest tier at
    /// least as long as the hint (or the longest)". `None` when there are no tiers.
    ///
    /// ```
    /// use runtime::topology::TopologyBuilder;
    /// let t = TopologyBuilder::new().context("ordering").build();
    /// let w = t.work_queue("ordering.commands").unwrap();
    /// assert_eq!(w.retry_tier(1, None).unwrap().delay_ms, 1_000);
    /// assert_eq!(w.retry_tier(2, None).unwrap().delay_ms, 10_000);
    /// assert_eq!(w.retry_tier(9, None).unwrap().delay_ms, 60_000);
    /// assert_eq!(w.retry_tier(1, Some(5_000)).unwrap().delay_ms, 10_000);
    /// ```
    pub fn retry_tier(&self, attempt: u32, delay_hint_ms: Option<u64>) -> Option<&RetryTier> {
        let last = self.retry_tiers.len().checked_sub(1)?;
        let by_attempt = (attempt.max(1) as usize - 1).min(last);
        let by_hint = match delay_hint_ms {
            Some(hint) => self
                .retry_tiers
                .iter()
                .position(|t| u64::from(t.delay_ms) >= hint)
                .unwrap_or(last),
            None => 0,
        };
        self.retry_tiers.get(by_attempt.max(by_hint))
    }
}

/// An inconsistency found by [`Topology::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// Two exchanges or two queues share a name.
    #[error("duplicate {what} `{name}`")]
    Duplicate {
        /// `exchange` or `queue`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Something refers to an exchange or queue that is not declared.
    #[error("{referrer} refers to undeclared {what} `{name}`")]
    Undeclared {
        /// Who refers to it.
        referrer: String,
        /// `exchange` or `queue`.
        what: &'static str,
        /// The missing name.
        name: String,
    },
    /// A queue's arguments are not valid for its kind.
    #[error("queue `{queue}`: {message}")]
    InvalidQueue {
        /// The queue.
        queue: String,
        /// What is wrong.
        message: String,
    },
}

impl Topology {
    /// The routes of `context`, if the topology knows it.
    pub fn routes(&self, context: &str) -> Option<&ContextRoutes> {
        self.contexts.iter().find(|c| c.context == context)
    }

    /// The retry/dead-letter plumbing of the consumed queue `queue`.
    pub fn work_queue(&self, queue: &str) -> Option<&WorkQueueSpec> {
        self.work_queues.iter().find(|w| w.queue == queue)
    }

    /// The declared queue named `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// Names of the per-replica queue templates ([`QueueSpec::per_replica`]): neither they nor
    /// their bindings are declared (or exported) as such.
    pub fn per_replica_templates(&self) -> BTreeSet<&str> {
        self.queues
            .iter()
            .filter(|q| q.per_replica)
            .map(|q| q.name.as_str())
            .collect()
    }

    /// The same topology with every exchange and queue name prefixed by `prefix.` (tests
    /// isolate themselves with a unique prefix). Routing keys and dead-letter routing keys that
    /// name a queue of the topology are prefixed too; the default exchange `""` and other
    /// routing keys (`""` on fanout exchanges, patterns) are kept. Context names in
    /// [`ContextRoutes::context`] are not names on the broker and stay unchanged.
    ///
    /// ```
    /// use runtime::topology::TopologyBuilder;
    /// let t = TopologyBuilder::new().context("ordering").build().with_prefix("t_1");
    /// let r = t.routes("ordering").unwrap();
    /// assert_eq!(r.command_queue, "t_1.ordering.commands");
    /// assert_eq!(r.event_exchange, "t_1.ordering.events");
    /// assert!(t.validate().is_ok());
    /// ```
    pub fn with_prefix(&self, prefix: &str) -> Topology {
        if prefix.is_empty() {
            return self.clone();
        }
        let p = |name: &str| format!("{prefix}.{name}");
        let queue_names: BTreeSet<&str> = self.queues.iter().map(|q| q.name.as_str()).collect();
        let key = |k: &str| {
            if queue_names.contains(k) {
                p(k)
            } else {
                k.to_owned()
            }
        };
        let exchange = |e: &str| if e.is_empty() { String::new() } else { p(e) };
        Topology {
            exchanges: self
                .exchanges
                .iter()
                .map(|e| ExchangeSpec {
                    name: p(&e.name),
                    ..e.clone()
                })
                .collect(),
            queues: self
                .queues
                .iter()
                .map(|q| {
                    let mut arguments = q.arguments.clone();
                    arguments.dead_letter_exchange =
                        arguments.dead_letter_exchange.as_deref().map(exchange);
                    arguments.dead_letter_routing_key =
                        arguments.dead_letter_routing_key.as_deref().map(key);
                    QueueSpec {
                        name: p(&q.name),
                        arguments,
                        ..q.clone()
                    }
                })
                .collect(),
            bindings: self
                .bindings
                .iter()
                .map(|b| BindingSpec {
                    exchange: exchange(&b.exchange),
                    queue: p(&b.queue),
                    routing_key: key(&b.routing_key),
                })
                .collect(),
            contexts: self
                .contexts
                .iter()
                .map(|c| ContextRoutes {
                    context: c.context.clone(),
                    command_queue: p(&c.command_queue),
                    event_exchange: p(&c.event_exchange),
                    outcome_exchange: p(&c.outcome_exchange),
                    public_exchange: c.public_exchange.as_deref().map(p),
                })
                .collect(),
            work_queues: self
                .work_queues
                .iter()
                .map(|w| WorkQueueSpec {
                    queue: p(&w.queue),
                    retry_tiers: w
                        .retry_tiers
                        .iter()
                        .map(|t| RetryTier {
                            delay_ms: t.delay_ms,
                            queue: p(&t.queue),
                        })
                        .collect(),
                    dead_letter_exchange: exchange(&w.dead_letter_exchange),
                    dead_letter_routing_key: key(&w.dead_letter_routing_key),
                    dead_letter_queue: p(&w.dead_letter_queue),
                    max_attempts: w.max_attempts,
                    prefetch: w.prefetch,
                })
                .collect(),
        }
    }

    /// Checks that names are unique, that every binding, route, dead-letter target and work
    /// queue refers to declared exchanges and queues, and that quorum queues are durable and
    /// queue arguments fit the queue kind.
    pub fn validate(&self) -> Result<(), TopologyError> {
        let mut exchanges = BTreeSet::new();
        for e in &self.exchanges {
            if !exchanges.insert(e.name.as_str()) {
                return Err(TopologyError::Duplicate {
                    what: "exchange",
                    name: e.name.clone(),
                });
            }
        }
        let mut queues = BTreeSet::new();
        for q in &self.queues {
            if !queues.insert(q.name.as_str()) {
                return Err(TopologyError::Duplicate {
                    what: "queue",
                    name: q.name.clone(),
                });
            }
        }
        let exchange_ok = |referrer: &str, name: &str| {
            if name.is_empty() || exchanges.contains(name) {
                Ok(())
            } else {
                Err(TopologyError::Undeclared {
                    referrer: referrer.to_owned(),
                    what: "exchange",
                    name: name.to_owned(),
                })
            }
        };
        let queue_ok = |referrer: &str, name: &str| {
            if queues.contains(name) {
                Ok(())
            } else {
                Err(TopologyError::Undeclared {
                    referrer: referrer.to_owned(),
                    what: "queue",
                    name: name.to_owned(),
                })
            }
        };
        for q in &self.queues {
            let invalid = |message: &str| TopologyError::InvalidQueue {
                queue: q.name.clone(),
                message: message.to_owned(),
            };
            let a = &q.arguments;
            if q.kind == QueueKind::Quorum && !q.durable {
                return Err(invalid("quorum queues must be durable"));
            }
            if q.per_replica && (q.kind != QueueKind::Classic || q.durable) {
                return Err(invalid(
                    "a per-replica queue is exclusive: it must be classic and not durable",
                ));
            }
            if q.kind == QueueKind::Classic
                && (a.delivery_limit.is_some() || a.dead_letter_strategy.is_some())
            {
                return Err(invalid(
                    "x-delivery-limit and x-dead-letter-strategy need a quorum queue",
                ));
            }
            if a.dead_letter_strategy == Some(DeadLetterStrategy::AtLeastOnce)
                && a.overflow != Some(Overflow::RejectPublish)
            {
                return Err(invalid(
                    "at-least-once dead-lettering needs x-overflow = reject-publish",
                ));
            }
            if let Some(dlx) = &a.dead_letter_exchange {
                exchange_ok(&format!("queue `{}`", q.name), dlx)?;
            }
        }
        for b in &self.bindings {
            let who = format!("binding {} -> {}", b.exchange, b.queue);
            if b.exchange.is_empty() {
                return Err(TopologyError::Undeclared {
                    referrer: who,
                    what: "exchange",
                    name: String::new(),
                });
            }
            exchange_ok(&who, &b.exchange)?;
            queue_ok(&who, &b.queue)?;
        }
        for c in &self.contexts {
            let who = format!("context `{}`", c.context);
            queue_ok(&who, &c.command_queue)?;
            exchange_ok(&who, &c.event_exchange)?;
            exchange_ok(&who, &c.outcome_exchange)?;
            if let Some(public) = &c.public_exchange {
                exchange_ok(&who, public)?;
            }
        }
        for w in &self.work_queues {
            let who = format!("work queue `{}`", w.queue);
            queue_ok(&who, &w.queue)?;
            queue_ok(&who, &w.dead_letter_queue)?;
            exchange_ok(&who, &w.dead_letter_exchange)?;
            for t in &w.retry_tiers {
                queue_ok(&who, &t.queue)?;
            }
        }
        Ok(())
    }
}

/// Where a subscriber queue gets its messages from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    /// The event exchange of a context.
    Events(String),
    /// The outcome exchange of a context.
    Outcomes(String),
    /// The public (integration) event exchange of a context.
    Public(String),
}

impl Source {
    /// The event exchange of `context`.
    pub fn events(context: impl Into<String>) -> Self {
        Source::Events(context.into())
    }

    /// The outcome exchange of `context`.
    pub fn outcomes(context: impl Into<String>) -> Self {
        Source::Outcomes(context.into())
    }

    /// The public (integration) event exchange of `context`.
    pub fn public(context: impl Into<String>) -> Self {
        Source::Public(context.into())
    }
}

/// Builds a [`Topology`] following the naming convention of the module docs.
///
/// ```
/// use runtime::topology::{Source, TopologyBuilder};
/// let t = TopologyBuilder::new()
///     .context("ordering")
///     .context("inventory")
///     .subscriber("ordering", "event-handler", [Source::events("ordering"), Source::events("inventory")])
///     .subscriber("sagas", "order-fulfillment", [Source::events("ordering"), Source::events("inventory")])
///     .build();
/// assert!(t.validate().is_ok());
/// assert_eq!(t.routes("inventory").unwrap().command_queue, "inventory.commands");
/// assert!(t.queue("ordering.event-handler.retry.10s").is_some());
/// assert!(t.queue("sagas.order-fulfillment.dlq").is_some());
/// assert!(t.exchanges.iter().any(|e| e.name == "sagas.dlx"));
/// assert_eq!(t.bindings.iter().filter(|b| b.exchange == "ordering.events").count(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct TopologyBuilder {
    contexts: Vec<String>,
    /// `(owner, name, sources, per replica)`.
    subscribers: Vec<(String, String, Vec<Source>, bool)>,
    retry_delays_ms: Vec<u32>,
    delivery_limit: u32,
    max_attempts: u32,
}

impl Default for TopologyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Default delayed-retry tiers: 1 s, 10 s, 60 s.
pub const DEFAULT_RETRY_DELAYS_MS: [u32; 3] = [1_000, 10_000, 60_000];
/// Default `x-delivery-limit` of work queues.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 20;
/// `x-max-length` of a per-replica queue (the Command API's outcome copy): a replica that
/// falls this far behind drops the oldest outcomes (their commands then show `accepted` until
/// the status expires) instead of growing without bound.
pub const PER_REPLICA_MAX_LENGTH: u32 = 100_000;

/// Default number of failed attempts before a message is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Formats a delay for a retry queue name: `500ms`, `1s`, `10s`, `1m`.
pub fn delay_label(delay_ms: u32) -> String {
    if delay_ms > 0 && delay_ms.is_multiple_of(60_000) {
        format!("{}m", delay_ms / 60_000)
    } else if delay_ms > 0 && delay_ms.is_multiple_of(1_000) {
        format!("{}s", delay_ms / 1_000)
    } else {
        format!("{delay_ms}ms")
    }
}

impl TopologyBuilder {
    /// A builder with the default retry tiers, delivery limit and max attempts.
    pub fn new() -> Self {
        Self {
            contexts: Vec::new(),
            subscribers: Vec::new(),
            retry_delays_ms: DEFAULT_RETRY_DELAYS_MS.to_vec(),
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Adds a bounded context: command queue, event, outcome and public exchanges, dead-letter
    /// exchange.
    pub fn context(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.contexts.contains(&name) {
            self.contexts.push(name);
        }
        self
    }

    /// Adds the subscriber queue `<owner>.<name>` bound to every source. `owner` gets a
    /// dead-letter exchange `<owner>.dlx` even when it is not a context (e.g. `sagas`).
    pub fn subscriber(
        self,
        owner: impl Into<String>,
        name: impl Into<String>,
        sources: impl IntoIterator<Item = Source>,
    ) -> Self {
        self.add_subscriber(owner.into(), name.into(), sources, false)
    }

    /// Adds the per-replica subscriber queue template `<owner>.<name>` bound to every source
    /// (see [`QueueSpec::per_replica`]): classic, exclusive to each replica, at most
    /// [`PER_REPLICA_MAX_LENGTH`] messages (oldest dropped), no delayed retry.
    pub fn per_replica_subscriber(
        self,
        owner: impl Into<String>,
        name: impl Into<String>,
        sources: impl IntoIterator<Item = Source>,
    ) -> Self {
        self.add_subscriber(owner.into(), name.into(), sources, true)
    }

    fn add_subscriber(
        mut self,
        owner: String,
        name: String,
        sources: impl IntoIterator<Item = Source>,
        per_replica: bool,
    ) -> Self {
        self.subscribers
            .push((owner, name, sources.into_iter().collect(), per_replica));
        self
    }

    /// Replaces the delayed-retry tiers (milliseconds; sorted, duplicates removed; empty = no
    /// delayed retry).
    pub fn retry_delays_ms(mut self, delays: impl IntoIterator<Item = u32>) -> Self {
        let mut d: Vec<u32> = delays.into_iter().collect();
        d.sort_unstable();
        d.dedup();
        self.retry_delays_ms = d;
        self
    }

    /// Sets `x-delivery-limit` of the work queues.
    pub fn delivery_limit(mut self, limit: u32) -> Self {
        self.delivery_limit = limit;
        self
    }

    /// Sets the failed attempts before the consumer dead-letters a message.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Builds the topology.
    pub fn build(&self) -> Topology {
        let mut t = Topology::default();
        let mut dlx_owners: Vec<&str> = Vec::new();
        for ctx in &self.contexts {
            t.exchanges.push(fanout(&format!("{ctx}.events")));
            t.exchanges.push(fanout(&format!("{ctx}.outcomes")));
            t.exchanges.push(fanout(&format!("{ctx}.public")));
            t.contexts.push(ContextRoutes {
                context: ctx.clone(),
                command_queue: format!("{ctx}.commands"),
                event_exchange: format!("{ctx}.events"),
                outcome_exchange: format!("{ctx}.outcomes"),
                public_exchange: Some(format!("{ctx}.public")),
            });
            if !dlx_owners.contains(&ctx.as_str()) {
                dlx_owners.push(ctx);
            }
            self.work_queue(&mut t, ctx, &format!("{ctx}.commands"));
        }
        for (owner, name, sources, per_replica) in &self.subscribers {
            if !dlx_owners.contains(&owner.as_str()) {
                dlx_owners.push(owner);
            }
            let queue = format!("{owner}.{name}");
            if *per_replica {
                per_replica_queue(&mut t, owner, &queue, self.max_attempts);
            } else {
                self.work_queue(&mut t, owner, &queue);
            }
            for source in sources {
                let exchange = match source {
                    Source::Events(c) => format!("{c}.events"),
                    Source::Outcomes(c) => format!("{c}.outcomes"),
                    Source::Public(c) => format!("{c}.public"),
                };
                if !t.exchanges.iter().any(|e| e.name == exchange) {
                    t.exchanges.push(fanout(&exchange));
                }
                t.bindings.push(BindingSpec {
                    exchange,
                    queue: queue.clone(),
                    routing_key: String::new(),
                });
            }
        }
        for owner in dlx_owners {
            t.exchanges.push(ExchangeSpec {
                name: format!("{owner}.dlx"),
                kind: ExchangeKind::Direct,
                durable: true,
            });
        }
        t
    }

    fn work_queue(&self, t: &mut Topology, owner: &str, queue: &str) {
        let dlx = format!("{owner}.dlx");
        let dlq = format!("{queue}.dlq");
        t.queues.push(QueueSpec {
            name: queue.to_owned(),
            kind: QueueKind::Quorum,
            durable: true,
            arguments: QueueArguments {
                delivery_limit: Some(self.delivery_limit),
                dead_letter_exchange: Some(dlx.clone()),
                dead_letter_routing_key: Some(queue.to_owned()),
                dead_letter_strategy: Some(DeadLetterStrategy::AtLeastOnce),
                overflow: Some(Overflow::RejectPublish),
                ..Default::default()
            },
            per_replica: false,
        });
        dead_letter_queue(t, &dlx, &dlq, queue);
        let mut tiers = Vec::new();
        for &delay in &self.retry_delays_ms {
            let name = format!("{queue}.retry.{}", delay_label(delay));
            t.queues.push(QueueSpec::retry_tier(
                &name,
                delay,
                queue,
                QueueKind::Quorum,
            ));
            tiers.push(RetryTier {
                delay_ms: delay,
                queue: name,
            });
        }
        t.work_queues.push(WorkQueueSpec {
            queue: queue.to_owned(),
            retry_tiers: tiers,
            dead_letter_exchange: dlx,
            dead_letter_routing_key: queue.to_owned(),
            dead_letter_queue: dlq,
            max_attempts: self.max_attempts,
            prefetch: None,
        });
    }
}

/// Adds the quorum dead-letter queue `dlq` of `queue`, bound to `dlx` with the queue's name.
fn dead_letter_queue(t: &mut Topology, dlx: &str, dlq: &str, queue: &str) {
    t.queues.push(QueueSpec {
        name: dlq.to_owned(),
        kind: QueueKind::Quorum,
        durable: true,
        arguments: QueueArguments::default(),
        per_replica: false,
    });
    t.bindings.push(BindingSpec {
        exchange: dlx.to_owned(),
        queue: dlq.to_owned(),
        routing_key: queue.to_owned(),
    });
}

/// Adds the per-replica queue template `queue` with its dead-letter queue (no retry tiers).
fn per_replica_queue(t: &mut Topology, owner: &str, queue: &str, max_attempts: u32) {
    let dlx = format!("{owner}.dlx");
    let dlq = format!("{queue}.dlq");
    t.queues.push(QueueSpec {
        name: queue.to_owned(),
        kind: QueueKind::Classic,
        durable: false,
        arguments: QueueArguments {
            dead_letter_exchange: Some(dlx.clone()),
            dead_letter_routing_key: Some(queue.to_owned()),
            max_length: Some(PER_REPLICA_MAX_LENGTH),
            overflow: Some(Overflow::DropHead),
            ..Default::default()
        },
        per_replica: true,
    });
    dead_letter_queue(t, &dlx, &dlq, queue);
    t.work_queues.push(WorkQueueSpec {
        queue: queue.to_owned(),
        retry_tiers: Vec::new(),
        dead_letter_exchange: dlx,
        dead_letter_routing_key: queue.to_owned(),
        dead_letter_queue: dlq,
        max_attempts,
        prefetch: None,
    });
}

fn fanout(name: &str) -> ExchangeSpec {
    ExchangeSpec {
        name: name.to_owned(),
        kind: ExchangeKind::Fanout,
        durable: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Topology {
        TopologyBuilder::new()
            .context("ordering")
            .context("inventory")
            .subscriber(
                "ordering",
                "event-handler",
                [Source::events("ordering"), Source::events("inventory")],
            )
            .subscriber("ordering", "command-api", [Source::outcomes("ordering")])
            .subscriber(
                "sagas",
                "order-fulfillment",
                [Source::events("ordering"), Source::events("inventory")],
            )
            .build()
    }

    #[test]
    fn conventional_names() {
        let t = sample();
        t.validate().unwrap();
        let names: BTreeSet<_> = t.exchanges.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "ordering.events",
                "ordering.outcomes",
                "ordering.public",
                "ordering.dlx",
                "inventory.events",
                "inventory.outcomes",
                "inventory.public",
                "inventory.dlx",
                "sagas.dlx",
            ])
        );
        let q = t.queue("ordering.commands").unwrap();
        let args = q.amqp_arguments();
        assert_eq!(args["x-queue-type"], ArgumentValue::Text("quorum".into()));
        assert_eq!(
            args["x-dead-letter-exchange"],
            ArgumentValue::Text("ordering.dlx".into())
        );
        assert_eq!(
            args["x-dead-letter-routing-key"],
            ArgumentValue::Text("ordering.commands".into())
        );
        assert_eq!(args["x-delivery-limit"], ArgumentValue::Int(20));
        assert_eq!(
            args["x-dead-letter-strategy"],
            ArgumentValue::Text("at-least-once".into())
        );
        assert_eq!(
            args["x-overflow"],
            ArgumentValue::Text("reject-publish".into())
        );
        let r = t
            .queue("ordering.commands.retry.1m")
            .unwrap()
            .amqp_arguments();
        assert_eq!(r["x-queue-type"], ArgumentValue::Text("quorum".into()));
        assert_eq!(
            r["x-dead-letter-strategy"],
            ArgumentValue::Text("at-least-once".into())
        );
        assert_eq!(r["x-message-ttl"], ArgumentValue::Int(60_000));
        assert_eq!(
            r["x-dead-letter-exchange"],
            ArgumentValue::Text(String::new())
        );
        assert_eq!(
            r["x-dead-letter-routing-key"],
            ArgumentValue::Text("ordering.commands".into())
        );
        assert!(t.bindings.contains(&BindingSpec {
            exchange: "sagas.dlx".into(),
            queue: "sagas.order-fulfillment.dlq".into(),
            routing_key: "sagas.order-fulfillment".into(),
        }));
        assert!(t.bindings.contains(&BindingSpec {
            exchange: "ordering.outcomes".into(),
            queue: "ordering.command-api".into(),
            routing_key: String::new(),
        }));
        assert_eq!(t.work_queues.len(), 5);
    }

    #[test]
    fn prefix_renames_everything_consistently() {
        let t = sample().with_prefix("t_x");
        t.validate().unwrap();
        assert!(t.exchanges.iter().all(|e| e.name.starts_with("t_x.")));
        assert!(t.queues.iter().all(|q| q.name.starts_with("t_x.")));
        let r = t.queue("t_x.inventory.commands.retry.1s").unwrap();
        assert_eq!(r.arguments.dead_letter_exchange.as_deref(), Some(""));
        assert_eq!(
            r.arguments.dead_letter_routing_key.as_deref(),
            Some("t_x.inventory.commands")
        );
        let w = t.work_queue("t_x.sagas.order-fulfillment").unwrap();
        assert_eq!(w.dead_letter_exchange, "t_x.sagas.dlx");
        assert_eq!(w.dead_letter_routing_key, "t_x.sagas.order-fulfillment");
        assert!(t.bindings.iter().any(
            |b| b.exchange == "t_x.sagas.dlx" && b.routing_key == "t_x.sagas.order-fulfillment"
        ));
        assert_eq!(
            t.routes("ordering").unwrap().outcome_exchange,
            "t_x.ordering.outcomes"
        );
    }

    #[test]
    fn serde_round_trip() {
        let t = sample();
        let json = serde_json::to_string(&t).unwrap();
        let back: Topology = serde_json::from_str(&json).unwrap();
        assert_eq!(t, back);
    }

    #[test]
    fn validate_finds_undeclared_and_invalid() {
        let mut t = sample();
        t.bindings.push(BindingSpec {
            exchange: "nope.events".into(),
            queue: "ordering.commands".into(),
            routing_key: String::new(),
        });
        assert!(matches!(
            t.validate(),
            Err(TopologyError::Undeclared { .. })
        ));
        let mut t = sample();
        t.queues[0].durable = false;
        assert!(matches!(
            t.validate(),
            Err(TopologyError::InvalidQueue { .. })
        ));
        let mut t = sample();
        t.queues.push(t.queues[0].clone());
        assert!(matches!(t.validate(), Err(TopologyError::Duplicate { .. })));
    }

    #[test]
    fn retry_tier_selection() {
        let t = TopologyBuilder::new()
            .retry_delays_ms([60_000, 1_000, 10_000])
            .context("a")
            .build();
        let w = t.work_queue("a.commands").unwrap();
        let d = |a, h| w.retry_tier(a, h).map(|t| t.delay_ms);
        assert_eq!(d(1, None), Some(1_000));
        assert_eq!(d(3, None), Some(60_000));
        assert_eq!(d(1, Some(70_000)), Some(60_000));
        assert_eq!(d(2, Some(500)), Some(10_000));
        assert_eq!(delay_label(500), "500ms");
        assert_eq!(delay_label(1_000), "1s");
        assert_eq!(delay_label(120_000), "2m");
        let none = TopologyBuilder::new()
            .retry_delays_ms([])
            .context("a")
            .build();
        assert!(
            none.work_queue("a.commands")
                .unwrap()
                .retry_tier(1, None)
                .is_none()
        );
    }
}

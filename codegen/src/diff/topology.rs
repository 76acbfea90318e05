//! The `topology` audience: what is declared on RabbitMQ.
//!
//! What the runtime does: every generated process declares the whole topology of
//! `topology.json` when it starts (`runtime/src/amqp/declare.rs`). Declaring is idempotent,
//! but RabbitMQ refuses to declare an existing queue with other arguments
//! (`PRECONDITION_FAILED`), and declaring never deletes a queue, an exchange or a binding.
//! The arguments compared are exactly the `x-*` arguments the runtime sends
//! ([`crate::emit::topology::runtime_topology`] and `QueueSpec::amqp_arguments`). Prefetch and
//! handling attempts are consumer settings, not queue arguments. A retry queue's TTL
//! dead-letters its messages back into the work queue, so a retry queue that is no longer
//! declared still empties into it.

use super::impact::Impact;
use super::{Cx, Draft, Kind, Side, Verdict};
use crate::emit::topology::runtime_topology;
use crate::model::Model;
use crate::model::topology::ConsumedQueue;
use runtime::topology::{ArgumentValue, QueueSpec};
use std::collections::BTreeMap;

/// Compares the queues, exchanges and bindings both catalogs declare.
pub(super) fn compare(cx: &mut Cx<'_>) {
    consumers(cx);
    arguments(cx);
    exchanges(cx);
    bindings(cx);
}

fn owner(cx: &Cx<'_>, queue: &str) -> Impact {
    Impact::queue_owner(cx.before, queue).and(Impact::queue_owner(cx.after, queue))
}

/// The anchor of what declares a process's queue: its saga, or its context.
fn declared_by(process: &str) -> String {
    match process.strip_prefix("saga.") {
        Some(saga) => format!("@sagas.{saga}"),
        None => process.split('.').next().unwrap_or(process).to_owned(),
    }
}

/// The naming template of a queue: by the role it plays in the topology.
fn template(model: &Model, q: &ConsumedQueue) -> &'static str {
    if q.process.starts_with("saga.") {
        "saga_queue"
    } else if model
        .topology
        .contexts
        .iter()
        .any(|c| c.command_queue.name == q.name)
    {
        "command_queue"
    } else {
        "process_queue"
    }
}

fn consumers(cx: &mut Cx<'_>) {
    let before: Vec<ConsumedQueue> = cx.before.topology.consumed_queues().cloned().collect();
    let after: Vec<ConsumedQueue> = cx.after.topology.consumed_queues().cloned().collect();
    for q in &after {
        let settings = format!("@topology.processes.{}", q.process);
        let Some(old) = before.iter().find(|o| o.process == q.process) else {
            let draft = Draft::new(
                Kind::TopologyQueueAdded,
                Verdict::Compatible,
                q.name.clone(),
                format!("queue `{}` added for `{}`", q.name, q.process),
                "it is declared when the new processes start",
            )
            .impact(owner(cx, &q.name));
            cx.push_after(draft, &declared_by(&q.process));
            continue;
        };
        if old.name != q.name {
            let naming = format!("@topology.naming.{}", template(cx.after, q));
            let draft = Draft::new(
                Kind::TopologyQueueRenamed,
                Verdict::Breaking,
                old.name.clone(),
                format!("the queue of `{}` renamed from `{}` to `{}`", q.process, old.name, q.name),
                if old.bindings.is_empty() {
                    format!(
                        "messages waiting in `{}` and its retry queues are never consumed (move them with a shovel)",
                        old.name
                    )
                } else {
                    format!(
                        "messages waiting in `{}` and its retry queues are never consumed (move them with a shovel), and it stays bound to its exchanges, so it keeps filling",
                        old.name
                    )
                },
            )
            .impact(owner(cx, &q.name).and(owner(cx, &old.name)));
            cx.push(
                draft,
                &[
                    (Side::After, &naming),
                    (Side::Before, &naming),
                    (Side::After, &declared_by(&q.process)),
                ],
            );
            continue;
        }
        if (old.settings.prefetch, old.settings.max_attempts)
            != (q.settings.prefetch, q.settings.max_attempts)
        {
            let mut what = Vec::new();
            if old.settings.prefetch != q.settings.prefetch {
                what.push(format!(
                    "prefetch {} → {}",
                    old.settings.prefetch, q.settings.prefetch
                ));
            }
            if old.settings.max_attempts != q.settings.max_attempts {
                what.push(format!(
                    "max attempts {} → {}",
                    old.settings.max_attempts, q.settings.max_attempts
                ));
            }
            let draft = Draft::new(
                Kind::TopologyConsumerSettingsChanged,
                Verdict::Compatible,
                q.name.clone(),
                format!(
                    "consumer settings of `{}` changed: {}",
                    q.name,
                    what.join(", ")
                ),
                "prefetch and handling attempts are consumer settings, not queue arguments",
            )
            .impact(owner(cx, &q.name));
            let keys = ["prefetch", "max_attempts"].map(|k| {
                [
                    (Side::After, format!("{settings}.{k}")),
                    (Side::After, format!("@topology.defaults.{k}")),
                ]
            });
            let anchors: Vec<(Side, &str)> = keys
                .iter()
                .flatten()
                .map(|(s, a)| (*s, a.as_str()))
                .collect();
            cx.push(draft, &anchors);
        }
        satellites(cx, old, q, &settings);
    }
    for old in &before {
        if after.iter().any(|q| q.process == old.process) {
            continue;
        }
        let draft = Draft::new(
            Kind::TopologyQueueRemoved,
            Verdict::Migration,
            old.name.clone(),
            format!(
                "queue `{}` removed with its consumer `{}`",
                old.name, old.process
            ),
            "no process consumes it any more, and declaring never deletes a queue, so it stays with whatever waits in it",
        )
        .step(format!(
            "after the rollout, delete `{}`, `{}` and its retry queues",
            old.name, old.dead_letter_queue
        ))
        .impact(owner(cx, &old.name));
        cx.push_before(draft, &declared_by(&old.process));
    }
}

/// The dead-letter queue and the retry queues of a queue both catalogs declare.
fn satellites(cx: &mut Cx<'_>, old: &ConsumedQueue, q: &ConsumedQueue, settings: &str) {
    if old.dead_letter_queue != q.dead_letter_queue {
        let draft = Draft::new(
            Kind::TopologyDeadLetterQueueRenamed,
            Verdict::Migration,
            old.dead_letter_queue.clone(),
            format!(
                "the dead-letter queue of `{}` renamed from `{}` to `{}`",
                q.name, old.dead_letter_queue, q.dead_letter_queue
            ),
            format!(
                "dead letters already in `{}` stay there, and it stays bound to the dead-letter exchange",
                old.dead_letter_queue
            ),
        )
        .step(format!(
            "replay or discard the dead letters in `{}` (the `dead-letters` tool), then delete it",
            old.dead_letter_queue
        ))
        .impact(owner(cx, &q.name));
        cx.push(
            draft,
            &[
                (Side::After, "@topology.naming.dead_letter_queue"),
                (Side::Before, "@topology.naming.dead_letter_queue"),
            ],
        );
    }
    let retry_anchors = [
        (Side::After, format!("{settings}.retry_delays")),
        (Side::After, "@topology.defaults.retry_delays".to_owned()),
        (Side::Before, format!("{settings}.retry_delays")),
        (Side::Before, "@topology.defaults.retry_delays".to_owned()),
    ];
    let anchors: Vec<(Side, &str)> = retry_anchors
        .iter()
        .map(|(s, a)| (*s, a.as_str()))
        .collect();
    for (_, name) in &q.retry_queues {
        if old.retry_queues.iter().any(|(_, o)| o == name) {
            continue;
        }
        let draft = Draft::new(
            Kind::TopologyRetryQueueAdded,
            Verdict::Compatible,
            name.clone(),
            format!("retry queue `{name}` added to `{}`", q.name),
            "it is declared when the new processes start",
        )
        .impact(owner(cx, &q.name));
        cx.push(draft, &anchors);
    }
    for (_, name) in &old.retry_queues {
        if q.retry_queues.iter().any(|(_, n)| n == name) {
            continue;
        }
        let draft = Draft::new(
            Kind::TopologyRetryQueueRemoved,
            Verdict::Migration,
            name.clone(),
            format!("retry queue `{name}` of `{}` removed", q.name),
            format!(
                "messages waiting in it still return to `{}` when their delay expires, but nothing deletes it",
                q.name
            ),
        )
        .step(format!("delete `{name}` once it is empty"))
        .impact(owner(cx, &q.name));
        cx.push(draft, &anchors);
    }
}

/// The catalog setting behind an `x-*` argument, most telling first: the queue type decides
/// the dead-letter strategy and the overflow too.
fn setting_of(argument: &str) -> (u8, &'static str) {
    match argument {
        "x-queue-type" | "x-dead-letter-strategy" | "x-overflow" => (0, "queue_type"),
        "x-delivery-limit" => (1, "delivery_limit"),
        "x-message-ttl" => (2, "retry_delays"),
        "x-dead-letter-exchange" => (3, "@topology.naming.dead_letter_exchange"),
        "x-single-active-consumer" => (1, "single_active_consumer"),
        _ => (4, "@topology.naming"),
    }
}

fn show(v: Option<&ArgumentValue>) -> String {
    match v {
        None => "unset".to_owned(),
        Some(ArgumentValue::Text(s)) => format!("`{s}`"),
        Some(ArgumentValue::Int(i)) => i.to_string(),
        Some(ArgumentValue::Bool(b)) => b.to_string(),
    }
}

/// Queues both catalogs declare under one name, with other arguments.
fn arguments(cx: &mut Cx<'_>) {
    let before = runtime_topology(cx.before);
    let after = runtime_topology(cx.after);
    let specs = |t: &runtime::topology::Topology| -> BTreeMap<String, QueueSpec> {
        t.queues
            .iter()
            .map(|q| (q.name.clone(), q.clone()))
            .collect()
    };
    let old_specs = specs(&before);
    for q in &after.queues {
        let Some(old) = old_specs.get(&q.name) else {
            continue;
        };
        if q.per_replica && old.per_replica {
            // Each replica declares its own copy on every connection: new arguments apply
            // to the new replicas' copies, nothing is redeclared.
            continue;
        }
        let (a, b) = (old.amqp_arguments(), q.amqp_arguments());
        if a == b && old.durable == q.durable {
            continue;
        }
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        let changed: Vec<&String> = keys
            .into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .collect();
        let what: Vec<String> = changed
            .iter()
            .map(|k| format!("{k} {} → {}", show(a.get(*k)), show(b.get(*k))))
            .collect();
        let impact = owner(cx, &q.name);
        let process = cx
            .after
            .topology
            .consumed_queues()
            .find(|c| {
                c.name == q.name
                    || c.dead_letter_queue == q.name
                    || c.retry_queues.iter().any(|(_, r)| r == &q.name)
            })
            .map(|c| c.process.clone())
            .unwrap_or_default();
        let mut settings: Vec<(u8, &str)> = changed.iter().map(|k| setting_of(k)).collect();
        settings.sort();
        settings.dedup();
        let mut anchors: Vec<String> = Vec::new();
        for (_, s) in settings {
            if s.starts_with('@') {
                anchors.push(s.to_owned());
            } else {
                anchors.push(format!("@topology.processes.{process}.{s}"));
                anchors.push(format!("@topology.defaults.{s}"));
            }
        }
        let sided: Vec<(Side, &str)> = [Side::After, Side::Before]
            .into_iter()
            .flat_map(|side| anchors.iter().map(move |a| (side, a.as_str())))
            .collect();
        let draft = Draft::new(
            Kind::TopologyQueueArgumentsChanged,
            Verdict::Breaking,
            q.name.clone(),
            format!("arguments of queue `{}` changed: {}", q.name, what.join(", ")),
            format!(
                "every process declares the whole topology at start, and RabbitMQ refuses to declare the existing `{}` with other arguments (PRECONDITION_FAILED), so the new processes fail to start until it is drained and deleted",
                q.name
            ),
        )
        .impact(impact);
        cx.push(draft, &sided);
    }
}

/// Exchanges by the role they play: `(role, name, anchor of their template)`.
fn exchange_roles(model: &Model) -> Vec<(String, String, &'static str)> {
    let mut out = vec![(
        "dead-letter".to_owned(),
        model.topology.naming.dead_letter_exchange.clone(),
        "dead_letter_exchange",
    )];
    for c in &model.topology.contexts {
        out.push((
            format!("{}.events", c.context),
            c.event_exchange.clone(),
            "event_exchange",
        ));
        out.push((
            format!("{}.outcomes", c.context),
            c.outcome_exchange.clone(),
            "outcome_exchange",
        ));
    }
    out
}

/// The publisher of an exchange (the CommandHandler of its context, for events and
/// outcomes) and the owners of the queues bound to it.
fn exchange_impact(cx: &Cx<'_>, name: &str) -> Impact {
    let mut impact = Impact::default();
    for model in [cx.before, cx.after] {
        for c in &model.topology.contexts {
            if c.event_exchange == name || c.outcome_exchange == name {
                impact.merge(Impact::publisher(model, &c.context));
            }
        }
        for b in runtime_topology(model).bindings {
            if b.exchange == name {
                impact.merge(Impact::queue_owner(model, &b.queue));
            }
        }
    }
    impact
}

fn exchanges(cx: &mut Cx<'_>) {
    let (before, after) = (exchange_roles(cx.before), exchange_roles(cx.after));
    for (role, name, template) in &after {
        let anchor = format!("@topology.naming.{template}");
        let context = role.split('.').next().unwrap_or_default().to_owned();
        match before.iter().find(|(r, ..)| r == role) {
            Some((_, old, _)) if old == name => {}
            Some((_, old, _)) => {
                let draft = Draft::new(
                    Kind::TopologyExchangeRenamed,
                    Verdict::Migration,
                    old.clone(),
                    format!("exchange `{old}` renamed to `{name}`"),
                    format!(
                        "declaring never deletes an exchange or a binding: queues stay bound to `{old}`, so messages published there during the rollout still arrive"
                    ),
                )
                .step(format!("after the rollout, delete the exchange `{old}`"))
                .impact(exchange_impact(cx, old).and(exchange_impact(cx, name)));
                cx.push(draft, &[(Side::After, &anchor), (Side::Before, &anchor)]);
            }
            None => {
                let draft = Draft::new(
                    Kind::TopologyExchangeAdded,
                    Verdict::Compatible,
                    name.clone(),
                    format!("exchange `{name}` added"),
                    "it is declared when the new processes start",
                )
                .impact(exchange_impact(cx, name));
                cx.push_after(draft, &context);
            }
        }
    }
    for (role, old, _) in &before {
        if after.iter().any(|(r, ..)| r == role) {
            continue;
        }
        let context = role.split('.').next().unwrap_or_default().to_owned();
        let draft = Draft::new(
            Kind::TopologyExchangeRemoved,
            Verdict::Migration,
            old.clone(),
            format!("exchange `{old}` removed"),
            "declaring never deletes an exchange, so it stays with its bindings",
        )
        .step(format!("after the rollout, delete the exchange `{old}`"))
        .impact(exchange_impact(cx, old));
        cx.push_before(draft, &context);
    }
}

fn bindings(cx: &mut Cx<'_>) {
    let before = runtime_topology(cx.before);
    let after = runtime_topology(cx.after);
    let exchanges_before: Vec<&String> = before.exchanges.iter().map(|e| &e.name).collect();
    let exchanges_after: Vec<&String> = after.exchanges.iter().map(|e| &e.name).collect();
    let queues_before: Vec<&String> = before.queues.iter().map(|q| &q.name).collect();
    let queues_after: Vec<&String> = after.queues.iter().map(|q| &q.name).collect();
    for b in &after.bindings {
        let known = exchanges_before.contains(&&b.exchange) && queues_before.contains(&&b.queue);
        if !known || before.bindings.contains(b) {
            continue;
        }
        let draft = Draft::new(
            Kind::TopologyBindingAdded,
            Verdict::Compatible,
            format!("{}<-{}", b.queue, b.exchange),
            format!("queue `{}` now bound to `{}`", b.queue, b.exchange),
            "the binding is declared when the new processes start",
        )
        .impact(owner(cx, &b.queue));
        let anchor = binding_anchor(cx.after, &b.queue, &b.exchange);
        cx.push_after(draft, &anchor);
    }
    for b in &before.bindings {
        let known = exchanges_after.contains(&&b.exchange) && queues_after.contains(&&b.queue);
        if !known || after.bindings.contains(b) {
            continue;
        }
        let draft = Draft::new(
            Kind::TopologyBindingRemoved,
            Verdict::Migration,
            format!("{}<-{}", b.queue, b.exchange),
            format!("queue `{}` no longer bound to `{}`", b.queue, b.exchange),
            format!(
                "declaring never removes a binding, so `{}` keeps receiving the messages of `{}`, which its consumer skips",
                b.queue, b.exchange
            ),
        )
        .step(format!("unbind `{}` from `{}`", b.queue, b.exchange))
        .impact(owner(cx, &b.queue));
        let anchor = binding_anchor(cx.before, &b.queue, &b.exchange);
        cx.push_before(draft, &anchor);
    }
}

/// Where a binding comes from: the first projection (or saga) that reads events of the
/// exchange's context, else the queue's owner.
fn binding_anchor(model: &Model, queue: &str, exchange: &str) -> String {
    let source = model
        .topology
        .contexts
        .iter()
        .find(|c| c.event_exchange == exchange)
        .map(|c| c.context.clone());
    for c in &model.topology.contexts {
        if c.event_queue.name == queue
            && let Some(ctx) = model.context(&c.context)
        {
            for rm in &ctx.read_models {
                if let Some(p) = rm
                    .projections
                    .iter()
                    .find(|p| Some(&p.event.context) == source.as_ref())
                {
                    return format!("{}.read_models.{}.from.{}", ctx.name, rm.name, p.event);
                }
            }
            return ctx.name.clone();
        }
    }
    for s in &model.topology.sagas {
        if s.queue.name == queue {
            return format!("@sagas.{}", s.saga);
        }
    }
    "@topology".to_owned()
}

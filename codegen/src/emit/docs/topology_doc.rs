//! `docs/topology.md`: the naming conventions in force and every exchange, queue (with its
//! arguments), binding, dead-letter and retry queue — rendered from
//! [`crate::emit::topology::runtime_topology`], the value the generated processes declare,
//! so the document cannot disagree with them.

use super::flows::process_of_key;
use super::{Docs, md_cell};
use crate::emit::EmitError;
use askama::Template;
use runtime::topology::{ArgumentValue, Topology, delay_label};

/// A row of (name, kind, details...) cells, Markdown-ready.
pub type Row = Vec<String>;

#[derive(Template)]
#[template(path = "docs/topology.md")]
struct TopologyTemplate {
    naming: Vec<(String, String, String)>,
    routes: Vec<Row>,
    exchanges: Vec<Row>,
    queues: Vec<Row>,
    bindings: Vec<Row>,
    work_queues: Vec<Row>,
}

/// `x-key=value` pairs of a queue, sorted by key.
pub fn arguments_text(args: &std::collections::BTreeMap<String, ArgumentValue>) -> String {
    args.iter()
        .map(|(k, v)| match v {
            ArgumentValue::Text(s) if s.is_empty() => format!("`{k}=\"\"`"),
            ArgumentValue::Text(s) => format!("`{k}={s}`"),
            ArgumentValue::Int(i) => format!("`{k}={i}`"),
            ArgumentValue::Bool(b) => format!("`{k}={b}`"),
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// What a queue is for: the process consuming it, or whose dead-letter / retry queue it is.
pub fn queue_role(docs: &Docs<'_>, t: &Topology, queue: &str) -> String {
    for q in docs.model.topology.consumed_queues() {
        if q.name == queue && q.per_replica {
            return format!(
                "template: each replica of `{}` declares its own exclusive, auto-deleted copy `{}.<replica>` with these arguments and bindings, so every replica sees every message",
                process_of_key(&q.process),
                q.name
            );
        }
        if q.name == queue {
            return format!("work queue of `{}`", process_of_key(&q.process));
        }
    }
    for w in &t.work_queues {
        if w.dead_letter_queue == queue {
            return format!("dead letters of `{}`", w.queue);
        }
        if let Some(tier) = w.retry_tiers.iter().find(|r| r.queue == queue) {
            return format!(
                "retry tier {} of `{}` (TTL, then back to it)",
                delay_label(tier.delay_ms),
                w.queue
            );
        }
    }
    String::new()
}

/// Renders `docs/topology.md`.
pub fn render(docs: &Docs<'_>) -> Result<String, EmitError> {
    let t = &docs.topology;
    let n = &docs.model.topology.naming;
    let naming = vec![
        (
            "command queue".into(),
            n.command_queue.clone(),
            "queue of a context's commands, consumed by its CommandHandler".into(),
        ),
        (
            "event exchange".into(),
            n.event_exchange.clone(),
            "fanout exchange of a context's events".into(),
        ),
        (
            "outcome exchange".into(),
            n.outcome_exchange.clone(),
            "fanout exchange of a context's command outcomes (read by its Command API)".into(),
        ),
        (
            "process queue".into(),
            n.process_queue.clone(),
            "queue of a context process (`event-handler`, `command-api`)".into(),
        ),
        (
            "saga queue".into(),
            n.saga_queue.clone(),
            "queue of a saga orchestrator (`{saga}` in kebab-case)".into(),
        ),
        (
            "dead-letter exchange".into(),
            n.dead_letter_exchange.clone(),
            "direct exchange; routing key = the failing queue".into(),
        ),
        (
            "dead-letter queue".into(),
            n.dead_letter_queue.clone(),
            "one per consumed queue".into(),
        ),
        (
            "retry queue".into(),
            n.retry_queue.clone(),
            "one per consumed queue and delay tier (`500ms`, `10s`, `1m`)".into(),
        ),
    ]
    .into_iter()
    .map(|(a, b, c): (String, String, String)| (a, md_cell(&b), c))
    .collect();
    let routes = t
        .contexts
        .iter()
        .map(|r| {
            vec![
                r.context.clone(),
                r.command_queue.clone(),
                r.event_exchange.clone(),
                r.outcome_exchange.clone(),
            ]
        })
        .collect();
    let exchanges = t
        .exchanges
        .iter()
        .map(|e| {
            let purpose = if e.name == docs.model.topology.naming.dead_letter_exchange {
                "dead letters of every consumed queue".to_owned()
            } else if let Some(r) = t.contexts.iter().find(|r| r.event_exchange == e.name) {
                format!("events of `{}`", r.context)
            } else if let Some(r) = t.contexts.iter().find(|r| r.outcome_exchange == e.name) {
                format!("command outcomes of `{}`", r.context)
            } else {
                String::new()
            };
            vec![
                e.name.clone(),
                e.kind.as_str().to_owned(),
                if e.durable { "yes" } else { "no" }.to_owned(),
                purpose,
            ]
        })
        .collect();
    let queues = t
        .queues
        .iter()
        .map(|q| {
            vec![
                q.name.clone(),
                q.kind.as_str().to_owned(),
                if q.durable { "yes" } else { "no" }.to_owned(),
                arguments_text(&q.amqp_arguments()),
                queue_role(docs, t, &q.name),
            ]
        })
        .collect();
    let bindings = t
        .bindings
        .iter()
        .map(|b| {
            vec![
                b.exchange.clone(),
                b.queue.clone(),
                if b.routing_key.is_empty() {
                    "(none)".to_owned()
                } else {
                    format!("`{}`", b.routing_key)
                },
            ]
        })
        .collect();
    let work_queues = t
        .work_queues
        .iter()
        .map(|w| {
            let prefetch = docs
                .model
                .topology
                .consumed_queues()
                .find(|q| q.name == w.queue)
                .map(|q| q.settings.prefetch.to_string())
                .unwrap_or_default();
            vec![
                w.queue.clone(),
                prefetch,
                w.max_attempts.to_string(),
                if w.retry_tiers.is_empty() {
                    "none".to_owned()
                } else {
                    w.retry_tiers
                        .iter()
                        .map(|r| format!("{} → `{}`", delay_label(r.delay_ms), r.queue))
                        .collect::<Vec<_>>()
                        .join("<br>")
                },
                format!("`{}` → `{}`", w.dead_letter_exchange, w.dead_letter_queue),
            ]
        })
        .collect();
    TopologyTemplate {
        naming,
        routes,
        exchanges,
        queues,
        bindings,
        work_queues,
    }
    .render()
    .map_err(|e| EmitError(format!("docs/topology.md: {e}")))
}

//! `docs/process-map.md`: per context the four processes with their queues, exchanges and
//! stores, the saga processes, and the arrows between them (Mermaid flowcharts; the site
//! draws the same [`Diagram`]s as SVG).

use super::diagram::{Diagram, NodeKind};
use super::flows::{Kind, process, process_of_key, saga_commands, saga_process};
use super::{Docs, md_code_list};
use crate::emit::EmitError;
use crate::model::{Context, PolicyAction};
use askama::Template;

fn queue_id(name: &str) -> String {
    format!("q:{name}")
}

fn exchange_id(name: &str) -> String {
    format!("x:{name}")
}

fn process_id(name: &str) -> String {
    format!("p:{name}")
}

/// The diagram of one context: its processes, queues, exchanges and stores, and the sagas
/// and other contexts it talks to.
pub fn context_diagram(docs: &Docs<'_>, ctx: &Context) -> Diagram {
    let model = docs.model;
    let mut d = Diagram::default();
    let Some(t) = model.topology.context(&ctx.name) else {
        return d;
    };
    let api = process(&ctx.name, "command-api");
    let ch = process(&ctx.name, "command-handler");
    let eh = process(&ctx.name, "event-handler");
    let qa = process(&ctx.name, "query-api");
    let clients = d.node("clients", "HTTP clients", NodeKind::External);
    let p_api = d.node(process_id(&api), api.clone(), NodeKind::Process);
    let p_qa = d.node(process_id(&qa), qa.clone(), NodeKind::Process);
    let cq = d.node(
        queue_id(&t.command_queue.name),
        t.command_queue.name.clone(),
        NodeKind::Queue,
    );
    let p_ch = d.node(process_id(&ch), ch.clone(), NodeKind::Process);
    let pg = d.node(
        format!("db:pg:{}", ctx.name),
        "PostgreSQL\nstate + outbox",
        NodeKind::Store,
    );
    let evx = d.node(
        exchange_id(&t.event_exchange),
        t.event_exchange.clone(),
        NodeKind::Exchange,
    );
    let outx = d.node(
        exchange_id(&t.outcome_exchange),
        t.outcome_exchange.clone(),
        NodeKind::Exchange,
    );
    let p_eh = d.node(process_id(&eh), eh.clone(), NodeKind::Process);
    let mongo = d.node(
        format!("db:mongo:{}", ctx.name),
        "MongoDB\nread models",
        NodeKind::Store,
    );
    d.edge(&clients, &p_api, "POST/PUT/PATCH/DELETE", false);
    d.edge(&clients, &p_qa, "GET", false);
    d.edge(&p_api, &cq, "commands", false);
    d.edge(&p_ch, &pg, "state, outbox", false);
    d.edge(&p_ch, &evx, "events", false);
    d.edge(&p_ch, &outx, "outcomes", false);
    d.edge(&p_eh, &mongo, "projections", false);
    d.edge(&p_qa, &mongo, "reads", true);
    // Every consumed queue of this context's processes, and saga queues fed by its events.
    for q in model.topology.consumed_queues() {
        let owner = process_of_key(&q.process);
        let ours = q.process.split_once('.').map(|(c, _)| c) == Some(ctx.name.as_str());
        let fed_by_us = q.bindings.contains(&t.event_exchange);
        if !ours && !fed_by_us {
            continue;
        }
        let qn = d.node(queue_id(&q.name), q.name.clone(), NodeKind::Queue);
        for x in &q.bindings {
            let xn = d.node(exchange_id(x), x.clone(), NodeKind::Exchange);
            d.edge(&xn, &qn, "", false);
        }
        let pn = d.node(process_id(&owner), owner.clone(), NodeKind::Process);
        d.edge(&qn, &pn, "", false);
        if owner.ends_with("-saga") {
            let store = d.node("db:mongo:sagas", "MongoDB\nsaga instances", NodeKind::Store);
            d.edge(&pn, &store, "state", false);
        }
    }
    // Sagas that send commands to this context.
    for s in &model.sagas {
        let sent: Vec<String> = saga_commands(s)
            .into_iter()
            .filter(|c| c.context == ctx.name)
            .map(|c| c.name.clone())
            .collect();
        if sent.is_empty() {
            continue;
        }
        let sp = saga_process(&s.name);
        let pn = d.node(process_id(&sp), sp.clone(), NodeKind::Process);
        d.edge(&pn, &cq, sent.join(", "), false);
    }
    d.edge(&cq, &p_ch, "", false);
    d
}

/// The whole system: command queues, event exchanges, the command and event handlers of
/// every context and the sagas, with who publishes and who consumes what.
pub fn system_diagram(docs: &Docs<'_>) -> Diagram {
    let model = docs.model;
    let mut d = Diagram::default();
    for ctx in &model.contexts {
        let Some(t) = model.topology.context(&ctx.name) else {
            continue;
        };
        let api = process(&ctx.name, "command-api");
        let ch = process(&ctx.name, "command-handler");
        let p_api = d.node(process_id(&api), api, NodeKind::Process);
        let cq = d.node(
            queue_id(&t.command_queue.name),
            t.command_queue.name.clone(),
            NodeKind::Queue,
        );
        let p_ch = d.node(process_id(&ch), ch, NodeKind::Process);
        let evx = d.node(
            exchange_id(&t.event_exchange),
            t.event_exchange.clone(),
            NodeKind::Exchange,
        );
        d.edge(&p_api, &cq, "", false);
        d.edge(&cq, &p_ch, "", false);
        d.edge(&p_ch, &evx, "", false);
    }
    for ctx in &model.contexts {
        let Some(t) = model.topology.context(&ctx.name) else {
            continue;
        };
        let eh = process(&ctx.name, "event-handler");
        let p_eh = d.node(process_id(&eh), eh, NodeKind::Process);
        for x in &t.event_queue.bindings {
            let xn = d.node(exchange_id(x), x.clone(), NodeKind::Exchange);
            d.edge(&xn, &p_eh, "", false);
        }
    }
    for s in &model.sagas {
        let sp = saga_process(&s.name);
        let pn = d.node(process_id(&sp), sp, NodeKind::Process);
        if let Some(st) = model.topology.sagas.iter().find(|x| x.saga == s.name) {
            for x in &st.queue.bindings {
                let xn = d.node(exchange_id(x), x.clone(), NodeKind::Exchange);
                d.edge(&xn, &pn, "", false);
            }
        }
        let mut targets: Vec<&str> = Vec::new();
        for c in saga_commands(s) {
            if !targets.contains(&c.context.as_str()) {
                targets.push(&c.context);
            }
        }
        for ctx in targets {
            if let Some(t) = model.topology.context(ctx) {
                let cq = queue_id(&t.command_queue.name);
                d.edge(&pn, &cq, "commands", false);
            }
        }
    }
    d
}

/// A process row of the table.
pub struct ProcessRow {
    /// Process name.
    pub name: String,
    /// What it does.
    pub role: String,
    /// Queues it consumes, Markdown.
    pub consumes: String,
    /// Where it sends or publishes, Markdown.
    pub produces: String,
    /// Its store.
    pub store: String,
}

/// The process rows of one context.
pub fn process_rows(docs: &Docs<'_>, ctx: &Context) -> Vec<ProcessRow> {
    let model = docs.model;
    let Some(t) = model.topology.context(&ctx.name) else {
        return Vec::new();
    };
    let routes = docs
        .messages
        .iter()
        .filter(|m| m.name.context == ctx.name && m.kind == Kind::Command && m.route().is_some())
        .count();
    let read_models: Vec<String> = ctx.read_models.iter().map(|r| r.name.clone()).collect();
    let queried: Vec<String> = ctx
        .read_models
        .iter()
        .filter(|r| r.query.is_some())
        .map(|r| r.name.clone())
        .collect();
    vec![
        ProcessRow {
            name: process(&ctx.name, "command-api"),
            role: format!(
                "REST ingress: {routes} command route(s) and `GET /commands/{{id}}`; JWT, validation, `202 Accepted`"
            ),
            consumes: format!(
                "`{}.<replica>` (outcomes, for command status; one exclusive copy per replica)",
                t.outcome_queue.name
            ),
            produces: format!("`{}` (commands)", t.command_queue.name),
            store: "none".into(),
        },
        ProcessRow {
            name: process(&ctx.name, "command-handler"),
            role: "Executes commands on aggregates; idempotent; outbox relay".into(),
            consumes: format!("`{}`", t.command_queue.name),
            produces: format!(
                "`{}` (events), `{}` (outcomes)",
                t.event_exchange, t.outcome_exchange
            ),
            store: "PostgreSQL: aggregate state, processed-command markers, outbox".into(),
        },
        ProcessRow {
            name: process(&ctx.name, "event-handler"),
            role: event_handler_role(ctx),
            consumes: format!(
                "`{}` (bound to {})",
                t.event_queue.name,
                if t.event_queue.bindings.is_empty() {
                    "nothing".to_owned()
                } else {
                    md_code_list(&t.event_queue.bindings)
                }
            ),
            produces: event_handler_sends(docs, ctx),
            store: if read_models.is_empty() {
                "MongoDB (no read model yet)".into()
            } else {
                format!("MongoDB: {}", md_code_list(&read_models))
            },
        },
        ProcessRow {
            name: process(&ctx.name, "query-api"),
            role: "REST reads with filters, sorting, paging, tenant and row security".into(),
            consumes: "none".into(),
            produces: "none".into(),
            store: if queried.is_empty() {
                "MongoDB (no query route)".into()
            } else {
                format!("MongoDB (reads): {}", md_code_list(&queried))
            },
        },
    ]
}

/// What the EventHandler of `ctx` does: projections, public events, policies.
fn event_handler_role(ctx: &Context) -> String {
    let mut jobs = vec!["Projects events into read models".to_owned()];
    if ctx.public_events().next().is_some() {
        jobs.push("publishes public events".into());
    }
    let sends = ctx
        .policies
        .iter()
        .filter(|p| p.command().is_some())
        .count();
    if sends > 0 {
        jobs.push(format!("sends the commands of {sends} policy(ies)"));
    }
    let hooks = ctx.event_hooks().count();
    if hooks > 0 {
        jobs.push(format!("runs {hooks} hand-written hook(s)"));
    }
    jobs.join("; ")
}

/// Where the EventHandler of `ctx` sends messages, Markdown.
fn event_handler_sends(docs: &Docs<'_>, ctx: &Context) -> String {
    let model = docs.model;
    let mut out = Vec::new();
    if ctx.public_events().next().is_some()
        && let Some(x) = model
            .topology
            .context(&ctx.name)
            .and_then(|t| t.public_exchange.as_ref())
    {
        out.push(format!("`{x}` (public events)"));
    }
    let mut queues: Vec<String> = Vec::new();
    for c in ctx.policies.iter().filter_map(|p| p.command()) {
        if let Some(t) = model.topology.context(&c.command.context)
            && !queues.contains(&t.command_queue.name)
        {
            queues.push(t.command_queue.name.clone());
        }
    }
    out.extend(queues.iter().map(|q| format!("`{q}` (policy commands)")));
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

/// A policy row of a context section.
pub struct PolicyRow {
    /// Policy name.
    pub name: String,
    /// The event it reacts to.
    pub on: String,
    /// What it does, Markdown.
    pub does: String,
}

/// The policy rows of one context.
pub fn policy_rows(ctx: &Context) -> Vec<PolicyRow> {
    ctx.policies
        .iter()
        .map(|p| PolicyRow {
            name: p.name.clone(),
            on: p.on.to_string(),
            does: match &p.action {
                PolicyAction::Send(c) => format!(
                    "sends `{}` to `{}` (id derived from the event's)",
                    c.command, c.to.source
                ),
                PolicyAction::Hook(h) => format!(
                    "runs hook `{}` (hand-written, `hooks/{}/`; until it succeeds once per event, {} per run)",
                    h.name,
                    ctx.name,
                    super::saga_diagram::duration(h.timeout)
                ),
            },
        })
        .collect()
}

/// A context section.
pub struct ContextMap {
    /// Context name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Process rows.
    pub processes: Vec<ProcessRow>,
    /// Policy rows.
    pub policies: Vec<PolicyRow>,
    /// The EventHandler process that runs the policies.
    pub event_handler: String,
    /// Mermaid flowchart.
    pub mermaid: String,
}

/// A saga row.
pub struct SagaRow {
    /// Process name.
    pub process: String,
    /// Saga name.
    pub saga: String,
    /// Document link.
    pub slug: String,
    /// Queue and bindings, Markdown.
    pub consumes: String,
    /// Commands sent, Markdown.
    pub sends: String,
}

#[derive(Template)]
#[template(path = "docs/process-map.md")]
struct ProcessMapTemplate<'a> {
    system: String,
    contexts: &'a [ContextMap],
    sagas: &'a [SagaRow],
}

/// The saga rows.
pub fn saga_rows(docs: &Docs<'_>) -> Vec<SagaRow> {
    docs.model
        .sagas
        .iter()
        .map(|s| {
            let q = docs.model.topology.sagas.iter().find(|t| t.saga == s.name);
            let sends: Vec<String> = saga_commands(s).iter().map(|c| c.to_string()).collect();
            SagaRow {
                process: saga_process(&s.name),
                saga: s.name.clone(),
                slug: super::saga_slug(&s.name),
                consumes: q
                    .map(|q| {
                        format!(
                            "`{}` (bound to {})",
                            q.queue.name,
                            md_code_list(&q.queue.bindings)
                        )
                    })
                    .unwrap_or_default(),
                sends: md_code_list(&sends),
            }
        })
        .collect()
}

/// Renders `docs/process-map.md`.
pub fn render(docs: &Docs<'_>) -> Result<String, EmitError> {
    let contexts: Vec<ContextMap> = docs
        .model
        .contexts
        .iter()
        .map(|c| ContextMap {
            name: c.name.clone(),
            description: c.description.clone().unwrap_or_default(),
            processes: process_rows(docs, c),
            policies: policy_rows(c),
            event_handler: process(&c.name, "event-handler"),
            mermaid: context_diagram(docs, c).mermaid_flowchart(),
        })
        .collect();
    let sagas = saga_rows(docs);
    ProcessMapTemplate {
        system: system_diagram(docs).mermaid_flowchart(),
        contexts: &contexts,
        sagas: &sagas,
    }
    .render()
    .map_err(|e| EmitError(format!("docs/process-map.md: {e}")))
}

//! Who sends and who receives every message, and what carries it: the facts the catalog,
//! the process map, the AsyncAPI document and the site share.

use crate::model::{Command, Context, Event, Field, MessageName, Model, Route, Saga, Versioning};
use heck::ToKebabCase;

/// Whether a message is a command or an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A request to change one aggregate, sent to a command queue.
    Command,
    /// A fact, published on a fanout event exchange.
    Event,
}

impl Kind {
    /// `command` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::Event => "event",
        }
    }
}

/// The four processes of a context.
pub const ROLES: [&str; 4] = [
    "command-api",
    "command-handler",
    "event-handler",
    "query-api",
];

/// The process name of a context role: `ordering-command-api`.
pub fn process(context: &str, role: &str) -> String {
    format!("{}-{role}", context.to_kebab_case())
}

/// The process name of a saga orchestrator: `order-fulfillment-saga`.
pub fn saga_process(saga: &str) -> String {
    format!("{}-saga", saga.to_kebab_case())
}

/// The process name for a topology process key (`ordering.command-handler`,
/// `saga.OrderFulfillment`).
pub fn process_of_key(key: &str) -> String {
    match key.split_once('.') {
        Some(("saga", name)) => saga_process(name),
        Some((ctx, role)) => process(ctx, role),
        None => key.to_owned(),
    }
}

/// One command or event with its routes.
#[derive(Clone, Debug)]
pub struct MessageDoc<'m> {
    /// Command or event.
    pub kind: Kind,
    /// The declaring context.
    pub context: &'m Context,
    /// The qualified name.
    pub name: MessageName,
    /// What it means.
    pub description: Option<&'m str>,
    /// The aggregate it targets or that raises it.
    pub aggregate: &'m str,
    /// Payload fields.
    pub fields: &'m [Field],
    /// Processes that send or publish it.
    pub producers: Vec<String>,
    /// Processes that handle it.
    pub consumers: Vec<String>,
    /// The queue (commands) or exchange (events) it travels on.
    pub carrier: String,
    /// The command, for commands.
    pub command: Option<&'m Command>,
    /// The event, for events.
    pub event: Option<&'m Event>,
}

impl MessageDoc<'_> {
    /// The AMQP `type` property: `context.Name`.
    pub fn type_name(&self) -> String {
        self.name.to_string()
    }

    /// Its schema version, upcasters, deprecation and owner.
    pub fn versioning(&self) -> &Versioning {
        match (self.command, self.event) {
            (Some(c), _) => &c.versioning,
            (None, Some(e)) => &e.versioning,
            (None, None) => const { &Versioning::EMPTY },
        }
    }

    /// The Command API route, for commands that have one.
    pub fn route(&self) -> Option<&Route> {
        self.command.and_then(|c| c.route.as_ref())
    }

    /// The path of its JSON Schema under `docs/`.
    pub fn schema_path(&self) -> String {
        format!("schemas/{}/{}.json", self.name.context, self.name.name)
    }

    /// A stable identifier (`ordering.PlaceOrder`) usable as a file stem and anchor.
    pub fn id(&self) -> String {
        self.name.to_string()
    }

    /// The Markdown anchor of its section in `catalog.md`.
    pub fn anchor(&self) -> String {
        format!(
            "{}-{}-{}",
            self.name.context.replace('_', "-"),
            self.name.name.to_lowercase(),
            self.kind.as_str()
        )
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// The commands a saga sends (on entry and as compensations), in state order.
pub fn saga_commands(saga: &Saga) -> Vec<&MessageName> {
    let mut out: Vec<&MessageName> = Vec::new();
    for s in &saga.states {
        for c in s.send.iter().chain(s.compensation.iter()) {
            if !out.contains(&&c.command) {
                out.push(&c.command);
            }
        }
    }
    out
}

/// Every message of the model, context by context, commands before events.
pub fn messages(model: &Model) -> Vec<MessageDoc<'_>> {
    let mut out = Vec::new();
    for ctx in &model.contexts {
        let topo = model.topology.context(&ctx.name);
        for c in &ctx.commands {
            let name = MessageName {
                context: ctx.name.clone(),
                name: c.name.clone(),
            };
            let mut producers = Vec::new();
            if c.route.is_some() {
                producers.push(process(&ctx.name, "command-api"));
            }
            for s in &model.sagas {
                if saga_commands(s).contains(&&name) {
                    push_unique(&mut producers, saga_process(&s.name));
                }
            }
            for other in &model.contexts {
                if other
                    .policies
                    .iter()
                    .any(|p| p.command().is_some_and(|c| c.command == name))
                {
                    push_unique(&mut producers, process(&other.name, "event-handler"));
                }
            }
            out.push(MessageDoc {
                kind: Kind::Command,
                context: ctx,
                name,
                description: c.description.as_deref(),
                aggregate: &c.aggregate,
                fields: &c.fields,
                producers,
                consumers: vec![process(&ctx.name, "command-handler")],
                carrier: topo
                    .map(|t| t.command_queue.name.clone())
                    .unwrap_or_default(),
                command: Some(c),
                event: None,
            });
        }
        for e in &ctx.events {
            let name = MessageName {
                context: ctx.name.clone(),
                name: e.name.clone(),
            };
            let mut consumers = Vec::new();
            if ctx
                .public_events()
                .any(|p| p.public.as_ref().is_some_and(|p| p.from == e.name))
            {
                push_unique(&mut consumers, process(&ctx.name, "event-handler"));
            }
            for other in &model.contexts {
                if other
                    .read_models
                    .iter()
                    .any(|rm| rm.projections.iter().any(|p| p.event == name))
                    || other.policies.iter().any(|p| p.on == name)
                {
                    push_unique(&mut consumers, process(&other.name, "event-handler"));
                }
            }
            for s in &model.sagas {
                if s.events().contains(&&name) {
                    push_unique(&mut consumers, saga_process(&s.name));
                }
            }
            out.push(MessageDoc {
                kind: Kind::Event,
                context: ctx,
                name,
                description: e.description.as_deref(),
                aggregate: &e.aggregate,
                fields: &e.fields,
                producers: vec![process(
                    &ctx.name,
                    if e.is_public() {
                        "event-handler"
                    } else {
                        "command-handler"
                    },
                )],
                consumers,
                carrier: topo
                    .map(|t| match (e.is_public(), &t.public_exchange) {
                        (true, Some(public)) => public.clone(),
                        _ => t.event_exchange.clone(),
                    })
                    .unwrap_or_default(),
                command: None,
                event: Some(e),
            });
        }
    }
    out
}

//! Which generated processes and queues a change affects, read from the model and its
//! topology: who consumes and who produces a message, who loads a snapshot, who builds a
//! read model, who runs a saga.

use crate::emit::rust::names::{Process, process_package, saga_package};
use crate::model::{Event, MessageName, Model, Saga};
use std::collections::BTreeSet;

/// The processes (package names, `inventory-command-handler`) and queues a change affects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Impact {
    /// Generated processes, sorted.
    pub processes: BTreeSet<String>,
    /// RabbitMQ queues, sorted.
    pub queues: BTreeSet<String>,
}

impl Impact {
    /// Adds everything `other` affects.
    pub fn merge(&mut self, other: Impact) {
        self.processes.extend(other.processes);
        self.queues.extend(other.queues);
    }

    /// The two impacts together.
    #[must_use]
    pub fn and(mut self, other: Impact) -> Impact {
        self.merge(other);
        self
    }

    fn process(&mut self, name: String) {
        self.processes.insert(name);
    }

    fn queue(&mut self, name: &str) {
        self.queues.insert(name.to_owned());
    }

    /// The consumer of a command (its context's CommandHandler and command queue) and its
    /// producers (the Command API when it has a route, the EventHandler of every context with
    /// a policy that sends it, every saga that sends it or compensates with it).
    pub fn command(model: &Model, name: &MessageName) -> Impact {
        let mut i = Impact::default();
        let Some(cmd) = model.command(name) else {
            return i;
        };
        i.process(process_package(&name.context, Process::CommandHandler));
        if let Some(t) = model.topology.context(&name.context) {
            i.queue(&t.command_queue.name);
        }
        if cmd.route.is_some() {
            i.process(process_package(&name.context, Process::CommandApi));
        }
        for ctx in &model.contexts {
            if ctx
                .policies
                .iter()
                .any(|p| p.command().is_some_and(|c| &c.command == name))
            {
                i.merge(Impact::event_handler(model, &ctx.name));
            }
        }
        for saga in &model.sagas {
            let sends = saga.states.iter().any(|s| {
                [&s.send, &s.compensation]
                    .into_iter()
                    .flatten()
                    .any(|c| &c.command == name)
            });
            if sends {
                i.process(saga_package(saga));
            }
        }
        i
    }

    /// The consumers of an event: the EventHandler (and its queue) of every context whose read
    /// models project it, whose policies react to it or whose public events are mapped from
    /// it, and every saga that listens to it (and its queue).
    pub fn event_consumers(model: &Model, name: &MessageName) -> Impact {
        let mut i = Impact::default();
        for ctx in &model.contexts {
            let projects = ctx
                .read_models
                .iter()
                .any(|rm| rm.projections.iter().any(|p| &p.event == name));
            let reacts = ctx.policies.iter().any(|p| &p.on == name);
            let publishes = ctx.name == name.context
                && ctx
                    .public_events()
                    .any(|e| e.public.as_ref().is_some_and(|p| p.from == name.name));
            if projects || reacts || publishes {
                i.merge(Impact::event_handler(model, &ctx.name));
            }
        }
        for saga in &model.sagas {
            if saga.events().contains(&name) {
                i.merge(Impact::saga(model, saga));
            }
        }
        i
    }

    /// An event's consumers and its producer: the CommandHandler of its context, whose outbox
    /// relay publishes it, or for a public event the context's EventHandler.
    pub fn event(model: &Model, name: &MessageName) -> Impact {
        let mut i = Impact::event_consumers(model, name);
        if let Some(e) = model.event(name) {
            i.process(process_package(&name.context, publisher_of(e)));
        }
        i
    }

    /// The CommandHandler that loads and saves an aggregate's snapshots, and its command queue.
    pub fn aggregate(model: &Model, context: &str) -> Impact {
        let mut i = Impact::default();
        if let Some(t) = model.topology.context(context) {
            i.process(process_package(context, Process::CommandHandler));
            i.queue(&t.command_queue.name);
        }
        i
    }

    /// The CommandHandler of a context alone: the process whose outbox relay publishes its
    /// events and outcomes.
    pub fn publisher(model: &Model, context: &str) -> Impact {
        let mut i = Impact::default();
        if model.context(context).is_some() {
            i.process(process_package(context, Process::CommandHandler));
        }
        i
    }

    /// The EventHandler of a context and its queue.
    pub fn event_handler(model: &Model, context: &str) -> Impact {
        let mut i = Impact::default();
        if let Some(t) = model.topology.context(context) {
            i.process(process_package(context, Process::EventHandler));
            i.queue(&t.event_queue.name);
        }
        i
    }

    /// The processes of a context's read models: the EventHandler that builds them (and its
    /// queue) and the Query API that serves them.
    pub fn read_models(model: &Model, context: &str) -> Impact {
        let mut i = Impact::event_handler(model, context);
        if model.context(context).is_some() {
            i.process(process_package(context, Process::QueryApi));
        }
        i
    }

    /// A saga's orchestrator and its queue.
    pub fn saga(model: &Model, saga: &Saga) -> Impact {
        let mut i = Impact::default();
        i.process(saga_package(saga));
        if let Some(t) = model.topology.sagas.iter().find(|t| t.saga == saga.name) {
            i.queue(&t.queue.name);
        }
        i
    }

    /// The consumer of a queue named by its process (`inventory.command-handler`,
    /// `saga.OrderFulfillment`), and the queue.
    pub fn queue_owner(model: &Model, queue: &str) -> Impact {
        let mut i = Impact::default();
        for c in &model.topology.contexts {
            let owned = [
                (&c.command_queue, Process::CommandHandler),
                (&c.event_queue, Process::EventHandler),
                (&c.outcome_queue, Process::CommandApi),
            ];
            for (q, process) in owned {
                if owns(q, queue) {
                    i.process(process_package(&c.context, process));
                    i.queue(&q.name);
                }
            }
        }
        for t in &model.topology.sagas {
            if owns(&t.queue, queue)
                && let Some(saga) = model.sagas.iter().find(|s| s.name == t.saga)
            {
                i.process(saga_package(saga));
                i.queue(&t.queue.name);
            }
        }
        i
    }
}

/// Whether `name` is the queue `q`, its dead-letter queue or one of its retry queues.
fn owns(q: &crate::model::topology::ConsumedQueue, name: &str) -> bool {
    q.name == name || q.dead_letter_queue == name || q.retry_queues.iter().any(|(_, r)| r == name)
}

/// The process that publishes `event`: the CommandHandler (through its outbox) for a domain
/// event, the EventHandler for a public event.
pub fn publisher_of(event: &Event) -> Process {
    if event.is_public() {
        Process::EventHandler
    } else {
        Process::CommandHandler
    }
}

//! The validated intermediate model: what every emitter reads.
//!
//! A [`Model`] only exists when the catalog is valid: every reference resolves, every name is
//! unique and a valid identifier, every expression is type-checked. Emitters never read YAML.
//! Collections keep the order of the catalog files, so output is deterministic.

pub mod evolution;
pub mod expr;
pub mod saga;
pub mod topology;
pub mod types;

pub use evolution::{Deprecation, Upcast, Versioning};
pub use expr::{Expr, ExprKind, Root, SourceExpr};
pub use saga::{RetryPolicy, Saga, SagaCommand, SagaState, Terminal, Transition, VisitLimit};
pub use topology::{QueueKind, QueueSettings, Topology};
pub use types::{Constraints, Field, Type, TypeName, ValueKind, ValueType};

/// A whole validated catalog.
#[derive(Clone, Debug)]
pub struct Model {
    /// Bounded contexts, in file-name order.
    pub contexts: Vec<Context>,
    /// Sagas, in file order.
    pub sagas: Vec<Saga>,
    /// The resolved RabbitMQ topology.
    pub topology: Topology,
}

impl Model {
    /// The context with this name.
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.iter().find(|c| c.name == name)
    }

    /// The value type with this name.
    pub fn value_type(&self, name: &TypeName) -> Option<&ValueType> {
        self.context(&name.context)?
            .types
            .iter()
            .find(|t| t.name == name.name)
    }

    /// The event with this qualified name.
    pub fn event(&self, name: &MessageName) -> Option<&Event> {
        self.context(&name.context)?.event(&name.name)
    }

    /// The command with this qualified name.
    pub fn command(&self, name: &MessageName) -> Option<&Command> {
        self.context(&name.context)?.command(&name.name)
    }
}

/// A message (command or event) named with its context.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageName {
    /// The context that declares it.
    pub context: String,
    /// Its name (PascalCase).
    pub name: String,
}

impl std::fmt::Display for MessageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.context, self.name)
    }
}

/// A bounded context: one microservice of four processes.
#[derive(Clone, Debug)]
pub struct Context {
    /// Name (snake_case).
    pub name: String,
    /// What it is responsible for.
    pub description: Option<String>,
    /// Who owns it, if the catalog says.
    pub owner: Option<String>,
    /// The catalog file it comes from, relative to the catalog root.
    pub source: String,
    /// Value types (aggregate status enums included, after the declared ones).
    pub types: Vec<ValueType>,
    /// Aggregates.
    pub aggregates: Vec<Aggregate>,
    /// Commands.
    pub commands: Vec<Command>,
    /// Events.
    pub events: Vec<Event>,
    /// Read models.
    pub read_models: Vec<ReadModel>,
    /// Policies run by the EventHandler.
    pub policies: Vec<Policy>,
}

impl Context {
    /// The command with this name.
    pub fn command(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name == name)
    }

    /// The event with this name.
    pub fn event(&self, name: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The public (integration) events, in catalog order.
    pub fn public_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| e.is_public())
    }

    /// The domain events (raised by aggregates), in catalog order.
    pub fn domain_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| !e.is_public())
    }

    /// The aggregate with this name.
    pub fn aggregate(&self, name: &str) -> Option<&Aggregate> {
        self.aggregates.iter().find(|a| a.name == name)
    }

    /// Every hook named by the rules of the context, with the command that uses it.
    pub fn hooks(&self) -> impl Iterator<Item = (&Command, &Rule, &str)> {
        self.commands.iter().flat_map(|c| {
            c.rules.iter().filter_map(move |r| match &r.check {
                RuleCheck::Hook(name) => Some((c, r, name.as_str())),
                RuleCheck::Expr(_) => None,
            })
        })
    }

    /// Every hook run for events by the policies of the context, with its policy.
    pub fn event_hooks(&self) -> impl Iterator<Item = (&Policy, &EventHook)> {
        self.policies.iter().filter_map(|p| Some((p, p.hook()?)))
    }

    /// Whether some policy of the context runs a hook.
    pub fn has_event_hooks(&self) -> bool {
        self.event_hooks().next().is_some()
    }

    /// Whether the context has a hand-written hooks crate (`hooks/<context>/`): some rule or
    /// policy names a hook.
    pub fn has_hooks_crate(&self) -> bool {
        self.hooks().next().is_some() || self.has_event_hooks()
    }
}

/// The type of an aggregate id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdType {
    /// A UUID (the default); the Command API generates one for creating commands.
    Uuid,
    /// A string chosen by the client.
    String,
    /// A 64-bit integer chosen by the client.
    I64,
}

impl IdType {
    /// The field type of the id.
    pub fn ty(self) -> Type {
        match self {
            IdType::Uuid => Type::Uuid,
            IdType::String => Type::String,
            IdType::I64 => Type::I64,
        }
    }
}

/// An aggregate: state stored as a full snapshot with a version.
#[derive(Clone, Debug)]
pub struct Aggregate {
    /// Name (PascalCase).
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Type of its id.
    pub id: IdType,
    /// Lifecycle statuses (snake_case); the first is the initial one.
    pub statuses: Vec<String>,
    /// The enum type generated for the statuses (`<Aggregate>Status`).
    pub status_type: TypeName,
    /// State fields besides `id` and `status`.
    pub fields: Vec<Field>,
}

/// An HTTP route of the Command API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Path; `{id}` is the aggregate id.
    pub path: String,
}

impl Route {
    /// Whether the path carries the aggregate id.
    pub fn has_id(&self) -> bool {
        self.path.contains("{id}")
    }
}

/// A command.
#[derive(Clone, Debug)]
pub struct Command {
    /// Name (PascalCase).
    pub name: String,
    /// What it asks for.
    pub description: Option<String>,
    /// Schema version, upcasters, deprecation and owner.
    pub versioning: Versioning,
    /// The aggregate it targets.
    pub aggregate: String,
    /// Whether it creates the aggregate.
    pub creates: bool,
    /// Its Command API route (none: internal, sent by sagas).
    pub route: Option<Route>,
    /// Roles allowed to send it over HTTP.
    pub roles: Vec<String>,
    /// Statuses it is allowed in (empty: any).
    pub allowed_in: Vec<String>,
    /// Rejection event when the status is not allowed.
    pub on_wrong_status: Option<Emit>,
    /// Payload fields.
    pub fields: Vec<Field>,
    /// Rules checked in order.
    pub rules: Vec<Rule>,
    /// Events emitted on success, in order.
    pub emits: Vec<Emit>,
}

/// An emitted event with every field's value.
#[derive(Clone, Debug)]
pub struct Emit {
    /// The event (of the command's context).
    pub event: String,
    /// A value for every event field, in the event's field order.
    pub values: Vec<(String, SourceExpr)>,
}

/// A rule of a command.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Name (snake_case): the rejection code.
    pub name: String,
    /// What it protects.
    pub description: Option<String>,
    /// The rejection message.
    pub message: String,
    /// How it is decided.
    pub check: RuleCheck,
    /// Rejection event when it fails.
    pub reject: Option<Emit>,
}

/// How a rule is decided.
#[derive(Clone, Debug)]
pub enum RuleCheck {
    /// A boolean expression that must hold.
    Expr(SourceExpr),
    /// A hand-written hook method (snake_case name).
    Hook(String),
}

/// An event.
#[derive(Clone, Debug)]
pub struct Event {
    /// Name (PascalCase).
    pub name: String,
    /// What happened.
    pub description: Option<String>,
    /// Schema version, upcasters, deprecation and owner.
    pub versioning: Versioning,
    /// The aggregate that raises it.
    pub aggregate: String,
    /// Payload fields.
    pub fields: Vec<Field>,
    /// State changes when applied (empty for rejection events).
    pub changes: Vec<Change>,
    /// The new status, if the event changes it.
    pub status: Option<String>,
    /// Whether the event is emitted as a rejection (it then changes no state).
    pub is_rejection: bool,
    /// For a public (integration) event: the domain event it is published for and how.
    pub public: Option<Publication>,
}

impl Event {
    /// Whether it is a public (integration) event, published on the public exchange.
    pub fn is_public(&self) -> bool {
        self.public.is_some()
    }
}

/// How a public event is made from a domain event of its context.
#[derive(Clone, Debug)]
pub struct Publication {
    /// The domain event (of the same context).
    pub from: String,
    /// A value for every field of the public event, in field order, over `event.*` (the
    /// domain event) and `meta.*`.
    pub values: Vec<(String, SourceExpr)>,
}

/// A policy: on an event, send a command or run a hand-written hook, without state of its own.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Name (PascalCase); part of the id of every command it sends.
    pub name: String,
    /// Why it exists.
    pub description: Option<String>,
    /// The event it reacts to (a domain or public event of any context).
    pub on: MessageName,
    /// What it does.
    pub action: PolicyAction,
}

/// What a policy does with its event.
#[derive(Clone, Debug)]
pub enum PolicyAction {
    /// Sends the command (its target and field values over `event.*` and `meta.*`).
    Send(Box<SagaCommand>),
    /// Runs the hand-written hook.
    Hook(EventHook),
}

/// A hand-written hook run for an event by the EventHandler.
#[derive(Clone, Debug)]
pub struct EventHook {
    /// The method of the context's event-hooks trait (snake_case).
    pub name: String,
    /// How long one run may take before it counts as a failed attempt.
    pub timeout: std::time::Duration,
}

/// The timeout of an event hook whose policy names none.
pub const DEFAULT_HOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Policy {
    /// The command the policy sends, if it sends one.
    pub fn command(&self) -> Option<&SagaCommand> {
        match &self.action {
            PolicyAction::Send(c) => Some(c),
            PolicyAction::Hook(_) => None,
        }
    }

    /// The hook the policy runs, if it runs one.
    pub fn hook(&self) -> Option<&EventHook> {
        match &self.action {
            PolicyAction::Hook(h) => Some(h),
            PolicyAction::Send(_) => None,
        }
    }
}

/// How one field changes.
#[derive(Clone, Debug)]
pub struct Change {
    /// The field of the state or document.
    pub field: String,
    /// The operation.
    pub op: ChangeOp,
    /// Its operand.
    pub value: SourceExpr,
}

/// A change operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOp {
    /// Replace the value.
    Set,
    /// Add to a number.
    Increment,
    /// Subtract from a number.
    Decrement,
    /// Append an item to a list.
    Add,
    /// Remove every equal item from a list.
    Remove,
}

/// A read model.
#[derive(Clone, Debug)]
pub struct ReadModel {
    /// Name (PascalCase).
    pub name: String,
    /// What it shows.
    pub description: Option<String>,
    /// The key field.
    pub key: String,
    /// Document fields.
    pub fields: Vec<Field>,
    /// Events that build it.
    pub projections: Vec<Projection>,
    /// Its Query API routes.
    pub query: Option<QuerySpec>,
}

impl ReadModel {
    /// The key field.
    pub fn key_field(&self) -> &Field {
        self.fields
            .iter()
            .find(|f| f.name == self.key)
            .expect("validated: the key is a field")
    }
}

/// How an event changes documents of a read model.
#[derive(Clone, Debug)]
pub struct Projection {
    /// The event.
    pub event: MessageName,
    /// The key of the document it changes.
    pub key: SourceExpr,
    /// Whether it creates a missing document.
    pub creates: bool,
    /// The changes.
    pub changes: Vec<Change>,
}

/// Filter operators of the Query API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterOp {
    /// `field=value`
    Eq,
    /// `field[ne]=value`
    Ne,
    /// `field[gt]=value`
    Gt,
    /// `field[gte]=value`
    Gte,
    /// `field[lt]=value`
    Lt,
    /// `field[lte]=value`
    Lte,
    /// `field[in]=a,b`
    In,
}

impl FilterOp {
    /// Every operator with its catalog name.
    pub const ALL: [(&'static str, FilterOp); 7] = [
        ("eq", FilterOp::Eq),
        ("ne", FilterOp::Ne),
        ("gt", FilterOp::Gt),
        ("gte", FilterOp::Gte),
        ("lt", FilterOp::Lt),
        ("lte", FilterOp::Lte),
        ("in", FilterOp::In),
    ];

    /// The catalog name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(n, _)| *n)
            .unwrap_or("eq")
    }
}

/// The Query API of a read model.
#[derive(Clone, Debug)]
pub struct QuerySpec {
    /// Route path of the list (`GET path`) and of one document (`GET path/{key}`).
    pub path: String,
    /// Roles allowed to query.
    pub roles: Vec<String>,
    /// Filterable fields and their operators.
    pub filters: Vec<(String, Vec<FilterOp>)>,
    /// Sortable fields.
    pub sort: Vec<String>,
    /// Default sort field and whether it is descending.
    pub default_sort: Option<(String, bool)>,
    /// Default page size.
    pub page_size: u32,
    /// Largest page size.
    pub max_page_size: u32,
    /// Row-level filter.
    pub row_filter: Option<RowFilter>,
}

/// Row-level security of a read model.
#[derive(Clone, Debug)]
pub struct RowFilter {
    /// Document field compared with the claim.
    pub field: String,
    /// JWT claim.
    pub claim: String,
    /// Roles that see every document of their tenant.
    pub except_roles: Vec<String>,
}

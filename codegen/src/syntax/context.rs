//! The file format of one bounded context, `catalog/<context>.yaml`.

use super::loc::{ExpressionSchema, Loc, NamedMap};
use super::shorthand::{ShortOr, Shorthand};
use schemars::JsonSchema;
use serde::Deserialize;

/// One bounded context: its value types, aggregates, commands, events and read models.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextFile {
    /// Name of the context (snake_case); it names the service crates and the queues.
    #[schemars(regex(pattern = r"^[a-z]([a-z0-9]|_[a-z0-9])*$"))]
    pub context: Loc<String>,
    /// What the context is responsible for.
    #[serde(default)]
    pub description: Option<String>,
    /// Who owns the context (a team or a person), shown in the generated docs.
    #[serde(default)]
    pub owner: Option<String>,
    /// Value types: records (`fields`) and enums (`variants`).
    #[serde(default)]
    pub types: NamedMap<Loc<TypeDef>>,
    /// Aggregates: state stored as full snapshots.
    #[serde(default)]
    pub aggregates: NamedMap<Loc<AggregateDef>>,
    /// Commands: requests to change one aggregate.
    #[serde(default)]
    pub commands: NamedMap<Loc<CommandDef>>,
    /// Events: facts raised by aggregates.
    #[serde(default)]
    pub events: NamedMap<Loc<EventDef>>,
    /// Read models: denormalized documents served by the Query API.
    #[serde(default)]
    pub read_models: NamedMap<Loc<ReadModelDef>>,
    /// Public (integration) events: the contract other teams subscribe to, each mapped from
    /// one domain event and published by the EventHandler on the context's public exchange.
    #[serde(default)]
    pub public_events: NamedMap<Loc<PublicEventDef>>,
    /// Policies: "on event X, send command C" or "on event X, run hand-written hook H", run by
    /// the EventHandler without saga state.
    #[serde(default)]
    pub policies: NamedMap<Loc<PolicyDef>>,
}

/// A field: a type written alone (`quantity: i32`) or with constraints.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// The type: `string`, `bool`, `i32`, `i64`, `u32`, `u64`, `money` (integer minor units),
    /// `uuid`, `timestamp`, `date`, a value type (`Address`, `ordering.Address`),
    /// `list<T>`, `optional<T>` or `T?`.
    #[serde(rename = "type")]
    pub ty: Loc<String>,
    /// What the field means.
    #[serde(default)]
    pub description: Option<String>,
    /// Smallest allowed value (integers and money).
    #[serde(default)]
    pub min: Option<Loc<i64>>,
    /// Largest allowed value (integers and money).
    #[serde(default)]
    pub max: Option<Loc<i64>>,
    /// Smallest length in characters (strings) or items (lists).
    #[serde(default)]
    pub min_length: Option<Loc<u64>>,
    /// Largest length in characters (strings) or items (lists).
    #[serde(default)]
    pub max_length: Option<Loc<u64>>,
    /// Regular expression a string must match (anchor it with `^...$` to match the whole value).
    #[serde(default)]
    pub pattern: Option<Loc<String>>,
    /// The string or list must not be empty.
    #[serde(default)]
    pub non_empty: bool,
    /// The string must be one of these values.
    #[serde(default, rename = "enum")]
    #[schemars(extend("minItems" = 1))]
    pub one_of: Option<Loc<Vec<String>>>,
    /// An example value, used in the generated documentation.
    #[serde(default)]
    pub example: Option<serde_json::Value>,
    /// The value a reader uses when the field is missing: in snapshots, saga instances and
    /// messages written before the field existed, and in requests that leave it out. A YAML
    /// value of the field's type (enum variants by name, `[]` for an empty list, `null` for none).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<Loc<serde_json::Value>>,
    /// The field is on its way out: `true`, or a note saying what to use instead. A deprecated
    /// field must be optional or have a `default`, so that writers may leave it out.
    #[serde(default)]
    pub deprecated: Option<Loc<Deprecation>>,
}

/// `deprecated: true` or `deprecated: "use X instead"`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Deprecation {
    /// `true` deprecates, `false` does not.
    Flag(bool),
    /// Deprecates, with a note for readers (what to use instead, when it goes away).
    Note(String),
}

/// One step of an upcaster: how a payload written with schema version `from` becomes version
/// `from + 1`. Applied in this order: rename, remove, set.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpcastDef {
    /// The schema version the step reads (1 or more, below the message's `version`).
    pub from: Loc<u32>,
    /// Fields renamed: `old_name: new_name`.
    #[serde(default)]
    pub rename: NamedMap<Loc<String>>,
    /// Fields dropped from the old payload.
    #[serde(default)]
    pub remove: Vec<Loc<String>>,
    /// Fields added with a constant value (a YAML value of the field's type), when the old
    /// payload lacks them.
    #[serde(default)]
    #[schemars(with = "NamedMap<serde_json::Value>")]
    pub set: NamedMap<Loc<serde_json::Value>>,
}

impl Shorthand for FieldDef {
    const EXPECTING: &'static str = "a type name or a field definition with `type`";
    fn from_short(short: String) -> Self {
        Self {
            ty: Loc::new(short, Default::default()),
            ..Self::default()
        }
    }
}

/// Named fields in file order.
pub type Fields = NamedMap<Loc<ShortOr<FieldDef>>>;

/// A value type: a record with `fields` or an enum with `variants`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeDef {
    /// What the type means.
    #[serde(default)]
    pub description: Option<String>,
    /// Record fields (a record type).
    #[serde(default)]
    #[schemars(extend("minProperties" = 1))]
    pub fields: Option<Fields>,
    /// Enum variants in snake_case (an enum type).
    #[serde(default)]
    #[schemars(extend("minItems" = 1))]
    pub variants: Option<Vec<Loc<String>>>,
}

/// An aggregate: its id type, lifecycle statuses and state fields.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateDef {
    /// What the aggregate is.
    #[serde(default)]
    pub description: Option<String>,
    /// Type of the id: `uuid` (default), `string` or `i64`.
    #[serde(default)]
    pub id: Option<Loc<String>>,
    /// Lifecycle statuses in snake_case; the first is the status of a new aggregate unless
    /// its creating event sets another.
    #[schemars(extend("minItems" = 1))]
    pub statuses: Loc<Vec<Loc<String>>>,
    /// State fields (besides the implicit `id` and `status`).
    #[serde(default)]
    pub state: Fields,
}

/// A command: a request to change one aggregate.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandDef {
    /// What the command asks for.
    #[serde(default)]
    pub description: Option<String>,
    /// Schema version of the payload (default 1). Raise it when the shape changes and add
    /// `upcast` steps so that consumers still read payloads of the earlier versions.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub version: Option<Loc<u32>>,
    /// How payloads of earlier versions are read: one step per version change.
    #[serde(default)]
    pub upcast: Vec<Loc<UpcastDef>>,
    /// The message is on its way out: `true`, or a note saying what to use instead.
    #[serde(default)]
    pub deprecated: Option<Loc<Deprecation>>,
    /// Who owns the message (default: the context's owner), shown in the generated docs.
    #[serde(default)]
    pub owner: Option<String>,
    /// The aggregate it targets.
    pub aggregate: Loc<String>,
    /// Whether the command creates the aggregate (it must not exist yet).
    #[serde(default)]
    pub creates: bool,
    /// REST route of the Command API, `METHOD /path`; `{id}` in the path is the aggregate id.
    /// Without a route the command is internal (sent by sagas only).
    #[serde(default)]
    pub route: Option<Loc<String>>,
    /// Roles allowed to send the command through the Command API.
    #[serde(default)]
    pub roles: Vec<Loc<String>>,
    /// Statuses the aggregate must be in (default: any).
    #[serde(default)]
    pub allowed_in: Vec<Loc<String>>,
    /// Event emitted when the aggregate is in a status outside `allowed_in` (a rejection).
    #[serde(default)]
    pub on_wrong_status: Option<Loc<String>>,
    /// Payload fields.
    #[serde(default)]
    pub fields: Fields,
    /// Rules checked in order before the command is accepted.
    #[serde(default)]
    pub rules: Vec<Loc<RuleDef>>,
    /// Events emitted when the command is accepted.
    #[schemars(extend("minItems" = 1))]
    pub emits: Loc<Vec<Loc<ShortOr<EmitDef>>>>,
}

/// A rule: a boolean Rust expression over `cmd.*`, `state.*` and `meta.*`, or a hook
/// implemented by hand.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Name of the rule (snake_case); the rejection code when it fails.
    pub name: Loc<String>,
    /// What the rule protects.
    #[serde(default)]
    pub description: Option<String>,
    /// The condition that must hold, in Rust expression syntax (`state.available >= cmd.quantity`).
    #[serde(default)]
    #[schemars(with = "Option<ExpressionSchema>")]
    pub check: Option<Loc<String>>,
    /// Name of a hand-written hook (snake_case) deciding the rule instead of `check`.
    #[serde(default)]
    pub hook: Option<Loc<String>>,
    /// Message of the rejection when the rule fails.
    #[serde(default)]
    pub message: Option<String>,
    /// Rejection event emitted when the rule fails (so sagas can react); without it the
    /// command is rejected without an event.
    #[serde(default)]
    pub reject: Option<Loc<ShortOr<EmitDef>>>,
}

/// An emitted event and how its fields are filled. Fields not listed in `with` take the
/// command field, else the state field, of the same name.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmitDef {
    /// The event.
    pub event: Loc<String>,
    /// Field values as Rust expressions over `cmd.*`, `state.*` and `meta.*`.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub with: NamedMap<Loc<String>>,
}

impl Shorthand for EmitDef {
    const EXPECTING: &'static str = "an event name or `{ event, with }`";
    fn from_short(short: String) -> Self {
        Self {
            event: Loc::new(short, Default::default()),
            with: NamedMap::default(),
        }
    }
}

/// An event: its payload and how it changes the state of its aggregate.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDef {
    /// What happened.
    #[serde(default)]
    pub description: Option<String>,
    /// Schema version of the payload (default 1). Raise it when the shape changes and add
    /// `upcast` steps so that consumers still read payloads of the earlier versions.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub version: Option<Loc<u32>>,
    /// How payloads of earlier versions are read: one step per version change.
    #[serde(default)]
    pub upcast: Vec<Loc<UpcastDef>>,
    /// The message is on its way out: `true`, or a note saying what to use instead.
    #[serde(default)]
    pub deprecated: Option<Loc<Deprecation>>,
    /// Who owns the message (default: the context's owner), shown in the generated docs.
    #[serde(default)]
    pub owner: Option<String>,
    /// Payload fields.
    #[serde(default)]
    pub fields: Fields,
    /// How the event changes the aggregate state (rejection events change nothing).
    #[serde(default)]
    pub apply: Option<Loc<ChangeSet>>,
}

/// Changes to an aggregate state (an event's `apply`) or to a read-model document (a `from`
/// entry), applied in this order: copy, set, increment, decrement, add, remove, status.
/// Right-hand sides are Rust expressions over `event.*` and `meta.*`, and `state.*` in an
/// aggregate's `apply`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSet {
    /// Read models only: key of the document the event changes, a Rust expression over
    /// `event.*` and `meta.*` (default: the event field named like the key, else the id of
    /// the event's aggregate).
    #[serde(default)]
    #[schemars(with = "Option<ExpressionSchema>")]
    pub key: Option<Loc<String>>,
    /// Read models only: whether the event creates the document when it does not exist
    /// (default: true for the first `from` entry, false for the others, which skip a
    /// missing document).
    #[serde(default)]
    pub creates: Option<Loc<bool>>,
    /// Fields copied from the event field of the same name.
    #[serde(default)]
    pub copy: Vec<Loc<String>>,
    /// Fields set to an expression.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub set: NamedMap<Loc<String>>,
    /// Numeric fields increased by an expression.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub increment: NamedMap<Loc<String>>,
    /// Numeric fields decreased by an expression.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub decrement: NamedMap<Loc<String>>,
    /// List fields an item is appended to.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub add: NamedMap<Loc<String>>,
    /// List fields every item equal to the expression is removed from.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub remove: NamedMap<Loc<String>>,
    /// Aggregates only: the new lifecycle status.
    #[serde(default)]
    pub status: Option<Loc<String>>,
}

/// A read model: a denormalized document collection built from events and served by the
/// Query API.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadModelDef {
    /// What the read model shows.
    #[serde(default)]
    pub description: Option<String>,
    /// The field that identifies a document (unique per tenant).
    pub key: Loc<String>,
    /// Document fields (besides the implicit tenant).
    pub fields: Fields,
    /// Events that build the documents: `Event` of this context or `context.Event`.
    #[schemars(extend("minProperties" = 1))]
    pub from: NamedMap<Loc<ChangeSet>>,
    /// The Query API routes of the read model.
    #[serde(default)]
    pub query: Option<Loc<QueryDef>>,
}

/// Query API routes of a read model: `GET <path>` (list) and `GET <path>/{key}` (one).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryDef {
    /// Route path, e.g. `/orders`.
    pub path: Loc<String>,
    /// Roles allowed to query.
    #[schemars(extend("minItems" = 1))]
    pub roles: Vec<Loc<String>>,
    /// Filterable fields and their operators (`eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in`).
    #[serde(default)]
    pub filters: NamedMap<Vec<Loc<String>>>,
    /// Fields the client may sort by.
    #[serde(default)]
    pub sort: Vec<Loc<String>>,
    /// Default sort, `field` or `-field` (descending).
    #[serde(default)]
    pub default_sort: Option<Loc<String>>,
    /// Default page size (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub page_size: Option<Loc<u32>>,
    /// Largest page size a client may ask for (default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub max_page_size: Option<Loc<u32>>,
    /// Row-level security: a document is visible only when `field` equals a JWT claim.
    #[serde(default)]
    pub row_filter: Option<Loc<RowFilterDef>>,
}

/// Row-level filter: documents whose `field` equals the caller's `claim`, unless the caller
/// has one of `except_roles`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowFilterDef {
    /// The document field compared with the claim.
    pub field: Loc<String>,
    /// The JWT claim (`sub` by default).
    #[serde(default)]
    pub claim: Option<Loc<String>>,
    /// Roles that see every document of their tenant.
    #[serde(default)]
    pub except_roles: Vec<Loc<String>>,
}

/// A public (integration) event: a stable contract for other contexts and teams, published
/// once per occurrence of its domain event `from`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicEventDef {
    /// What happened, for readers outside the context.
    #[serde(default)]
    pub description: Option<String>,
    /// The domain event of this context it is published for.
    pub from: Loc<String>,
    /// Schema version of the payload (default 1). Raise it when the shape changes and add
    /// `upcast` steps so that consumers still read payloads of the earlier versions.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub version: Option<Loc<u32>>,
    /// How payloads of earlier versions are read: one step per version change.
    #[serde(default)]
    pub upcast: Vec<Loc<UpcastDef>>,
    /// The message is on its way out: `true`, or a note saying what to use instead.
    #[serde(default)]
    pub deprecated: Option<Loc<Deprecation>>,
    /// Who owns the message (default: the context's owner), shown in the generated docs.
    #[serde(default)]
    pub owner: Option<String>,
    /// Payload fields.
    #[serde(default)]
    pub fields: Fields,
    /// Field values as Rust expressions over the domain event (`event.*`) and its metadata
    /// (`meta.*`); a field not listed takes the domain event's field of the same name.
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub with: NamedMap<Loc<String>>,
}

/// A policy: when event `on` happens, send a command or run a hand-written hook (no state is
/// kept between events). Exactly one of `send` and `hook`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    /// Why the policy exists.
    #[serde(default)]
    pub description: Option<String>,
    /// The event: `Event` of this context or `context.Event` (a domain or public event).
    pub on: Loc<String>,
    /// The command to send.
    #[serde(default)]
    pub send: Option<Loc<PolicySendDef>>,
    /// The hand-written hook to run (snake_case method name; implemented in `hooks/<context>/`).
    #[serde(default)]
    pub hook: Option<Loc<String>>,
    /// How long one run of the hook may take before it counts as a failed attempt (default
    /// `30s`); only with `hook`.
    #[serde(default)]
    pub timeout: Option<Loc<String>>,
}

/// The command a policy sends.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySendDef {
    /// The command: `Command` of this context or `context.Command`.
    pub command: Loc<String>,
    /// Id of the target aggregate, a Rust expression over `event.*` and `meta.*`.
    #[schemars(with = "ExpressionSchema")]
    pub to: Loc<String>,
    /// Field values: command field -> Rust expression over `event.*` and `meta.*` (default:
    /// the event field of the same name).
    #[serde(default)]
    #[schemars(with = "NamedMap<ExpressionSchema>")]
    pub with: NamedMap<Loc<String>>,
}

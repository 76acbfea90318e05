//! The core abstractions of the architecture plan (section D), as Rust traits.
//!
//! | plan                          | here                                   |
//! |-------------------------------|----------------------------------------|
//! | `ICommand<TResult>`           | [`Command`] (its result is a [`Decision`]) |
//! | `IDomainEvent`                | [`DomainEvent`]                        |
//! | `EventEnvelope<T>`            | [`crate::envelope::Envelope`]          |
//! | `IAggregateRoot<TId>`         | [`AggregateRoot`]                      |
//! | `ICommandHandler<TCommand,R>` | `crate::command_handler`               |
//! | `IRepository<TAggregate,TId>` | `crate::store::StateStore`             |
//! | `IMessageBus`                 | [`crate::bus::MessageBus`]             |
//! | `ISagaState<TData>`, `ISagaOrchestrator<TEvent>` | `crate::saga`       |
//!
//! Generated contracts crates implement these traits for their typed messages and state; the
//! generic engines of this crate do everything else.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A single typed message (command or event) with a stable, fully qualified type name.
pub trait Message: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Fully qualified type name, `context.Name`, used as the AMQP `type` property.
    const TYPE: &'static str;
    /// Schema version of the payload.
    const VERSION: u32 = 1;
    /// How payloads of earlier versions become this one (see [`crate::evolution`]).
    const UPCASTS: &'static [crate::evolution::Upcast] = &[];

    /// Decodes a payload written with `schema_version`, upcasting it first when it is older.
    fn read(schema_version: u32, mut payload: serde_json::Value) -> serde_json::Result<Self> {
        if schema_version < Self::VERSION {
            crate::evolution::upcast(Self::UPCASTS, schema_version, &mut payload)?;
        }
        serde_json::from_value(payload)
    }
}

/// A command: a request to change one aggregate.
pub trait Command: Message {
    /// The aggregate type the command targets (`context.Aggregate`).
    const AGGREGATE: &'static str;
}

/// A domain event: a fact raised by an aggregate.
pub trait DomainEvent: Message {}

/// Error decoding a message from its type name and JSON payload.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// No message of this set has the type name.
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    /// The payload does not match the message's schema.
    #[error("invalid payload for `{message_type}`: {source}")]
    InvalidPayload {
        /// The message type whose payload was invalid.
        message_type: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// A closed set of messages (for example every command of one aggregate), decodable by type
/// name. Generated code implements this for its message enums.
pub trait MessageSet: Sized + Send + Sync + 'static {
    /// Every type name of the set.
    const TYPES: &'static [&'static str];
    /// Decodes a message of the set written in its current schema version.
    fn decode(message_type: &str, payload: serde_json::Value) -> Result<Self, DecodeError>;
    /// Decodes a message of the set written with `schema_version` (upcast when older).
    fn decode_versioned(
        message_type: &str,
        schema_version: u32,
        payload: serde_json::Value,
    ) -> Result<Self, DecodeError> {
        let _ = schema_version;
        Self::decode(message_type, payload)
    }
    /// The type name of this message.
    fn message_type(&self) -> &'static str;
    /// The schema version this message is written with.
    fn schema_version(&self) -> u32 {
        1
    }
    /// The JSON payload of this message.
    fn encode(&self) -> serde_json::Value;
}

/// What handling a command decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision<E> {
    /// The command is accepted; the events are applied to the state and published.
    Accept(Vec<E>),
    /// The command is rejected; state is unchanged; the events (rejection events, possibly
    /// none) are still published so that sagas can react.
    Reject {
        /// Machine-readable reason (the rule's name, `status`, `not_found`, ...).
        code: String,
        /// Human-readable reason.
        message: String,
        /// Rejection events to publish.
        events: Vec<E>,
    },
}

/// What a command handler knows about the command being handled, besides its payload.
#[derive(Clone, Debug)]
pub struct CommandContext {
    /// Id of the target aggregate.
    pub aggregate_id: String,
    /// Tenant of the command.
    pub tenant_id: String,
    /// User who sent the command, if any.
    pub user_id: Option<String>,
    /// Time of handling.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// An aggregate root stored as a full state snapshot (never event sourced).
///
/// `decide` checks the rules and produces events; `apply` evolves the state by one event.
/// The command handler engine runs `decide`, then `apply` for each accepted event, then saves
/// the new snapshot together with the events (outbox) in one transaction.
pub trait AggregateRoot: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Fully qualified aggregate type, `context.Aggregate`.
    const TYPE: &'static str;
    /// The commands this aggregate handles.
    type Command: MessageSet;
    /// The events this aggregate raises.
    type Event: MessageSet + Clone;
    /// Hand-written rule hooks (`()` when the aggregate has none).
    type Hooks: Send + Sync + 'static;

    /// Checks the command against the current state (`None`: the aggregate does not exist).
    fn decide(
        hooks: &Self::Hooks,
        state: Option<&Self>,
        ctx: &CommandContext,
        command: &Self::Command,
    ) -> Decision<Self::Event>;

    /// Applies one accepted event to the state (`None`: the event creates the aggregate).
    fn apply(state: Option<Self>, ctx: &CommandContext, event: &Self::Event) -> Self;
}

impl<E> Decision<E> {
    /// A rejection with a code, a message and rejection events.
    pub fn reject(code: &str, message: impl Into<String>, events: Vec<E>) -> Self {
        Decision::Reject {
            code: code.to_owned(),
            message: message.into(),
            events,
        }
    }

    /// The command targets an aggregate that does not exist.
    pub fn not_found(aggregate: &str, id: &str) -> Self {
        Self::reject(
            "not_found",
            format!("{aggregate} `{id}` does not exist"),
            Vec::new(),
        )
    }

    /// The command creates an aggregate that exists already.
    pub fn already_exists(aggregate: &str, id: &str) -> Self {
        Self::reject(
            "already_exists",
            format!("{aggregate} `{id}` exists already"),
            Vec::new(),
        )
    }

    /// The aggregate id of the command is not a valid id.
    pub fn invalid_id(aggregate: &str, id: &str) -> Self {
        Self::reject(
            "invalid_id",
            format!("`{id}` is not a valid {aggregate} id"),
            Vec::new(),
        )
    }
}

/// Decodes the payload of an envelope as message `T` (checking its type name).
pub fn decode_payload<T: Message>(envelope: &crate::RawEnvelope) -> Result<T, DecodeError> {
    if envelope.meta.message_type != T::TYPE {
        return Err(DecodeError::UnknownType(envelope.meta.message_type.clone()));
    }
    T::read(envelope.meta.schema_version, envelope.payload.clone()).map_err(|source| {
        DecodeError::InvalidPayload {
            message_type: T::TYPE.to_owned(),
            source,
        }
    })
}

/// The aggregate id of an envelope, parsed as the aggregate's id type.
pub fn aggregate_id<I: std::str::FromStr>(envelope: &crate::RawEnvelope) -> Result<I, DecodeError> {
    let raw = envelope.meta.aggregate_id.as_deref().unwrap_or_default();
    raw.parse().map_err(|_| DecodeError::InvalidPayload {
        message_type: envelope.meta.message_type.clone(),
        source: <serde_json::Error as serde::de::Error>::custom(format!(
            "invalid aggregate id `{raw}`"
        )),
    })
}

/// Declares an enum over message types with its [`MessageSet`] implementation and `From`
/// conversions — what generated contracts use for "every command (event) of an aggregate".
///
/// ```
/// use runtime::{Message, MessageSet};
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// pub struct Opened { pub by: String }
/// impl Message for Opened { const TYPE: &'static str = "shop.Opened"; }
///
/// runtime::message_set! {
///     /// Events of a cart.
///     pub enum CartEvent { Opened }
/// }
/// let e = CartEvent::decode("shop.Opened", serde_json::json!({"by": "ann"})).unwrap();
/// assert_eq!(e, CartEvent::Opened(Opened { by: "ann".into() }));
/// assert_eq!(e.message_type(), "shop.Opened");
/// assert!(CartEvent::decode("shop.Closed", serde_json::json!({})).is_err());
/// ```
#[macro_export]
macro_rules! message_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant($variant),)+
        }
        impl $crate::MessageSet for $name {
            const TYPES: &'static [&'static str] = &[$(<$variant as $crate::Message>::TYPE),+];
            fn decode(
                message_type: &str,
                payload: $crate::serde_json::Value,
            ) -> ::std::result::Result<Self, $crate::message::DecodeError> {
                $(
                    if message_type == <$variant as $crate::Message>::TYPE {
                        return Self::decode_versioned(message_type, <$variant as $crate::Message>::VERSION, payload);
                    }
                )+
                Err($crate::message::DecodeError::UnknownType(message_type.to_owned()))
            }
            fn decode_versioned(
                message_type: &str,
                schema_version: u32,
                payload: $crate::serde_json::Value,
            ) -> ::std::result::Result<Self, $crate::message::DecodeError> {
                $(
                    if message_type == <$variant as $crate::Message>::TYPE {
                        return <$variant as $crate::Message>::read(schema_version, payload).map($name::$variant).map_err(|source| {
                            $crate::message::DecodeError::InvalidPayload { message_type: message_type.to_owned(), source }
                        });
                    }
                )+
                Err($crate::message::DecodeError::UnknownType(message_type.to_owned()))
            }
            fn message_type(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => <$variant as $crate::Message>::TYPE,)+
                }
            }
            fn schema_version(&self) -> u32 {
                match self {
                    $($name::$variant(_) => <$variant as $crate::Message>::VERSION,)+
                }
            }
            fn encode(&self) -> $crate::serde_json::Value {
                match self {
                    $($name::$variant(m) => $crate::serde_json::to_value(m).unwrap_or($crate::serde_json::Value::Null),)+
                }
            }
        }
        $(
            impl ::std::convert::From<$variant> for $name {
                fn from(m: $variant) -> Self {
                    $name::$variant(m)
                }
            }
        )+
    };
}

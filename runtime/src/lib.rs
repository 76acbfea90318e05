//! # runtime
//!
//! All generic machinery of a generated system lives here, once; generated crates only plug
//! typed messages, state, rules and wiring into it (see the architecture plan, sections B–G).
//!
//! Cargo features keep each process lean: a Query API links no AMQP client, a Command API no
//! database driver.
//!
//! | feature    | adds                                                              |
//! |------------|-------------------------------------------------------------------|
//! | `amqp`     | [`amqp`]: RabbitMQ topology, confirmed publisher, consumers        |
//! | `postgres` | [`postgres`]: state store, processed markers, outbox and relay     |
//! | `mongo`    | [`mongo`]: read-model store and saga store                         |
//! | `http`     | [`http`]: axum server with health, readiness and `/metrics`        |
//! | `auth`     | JWT validation and Command/Query API plumbing in [`http`]          |
//!
//! [`process`] holds one runner per generated process kind (Command API, CommandHandler,
//! EventHandler, Query API, saga), each available when its features are on, and the
//! `dev-token` binary (feature `auth`) prints development JWTs.
#![warn(missing_docs)]

pub mod bus;
pub mod command_handler;
pub mod config;
pub mod envelope;
pub mod evolution;
pub mod hook;
pub mod memory;
pub mod message;
pub mod observability;
pub mod process;
pub mod reaction;
pub mod read_model;
pub mod saga;
pub mod store;
pub mod topology;
pub mod validation;

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "mongo")]
pub mod mongo;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use envelope::{Envelope, Metadata, RawEnvelope};
pub use message::{
    AggregateRoot, Command, CommandContext, Decision, DomainEvent, Message, MessageSet,
};
/// Re-exported for generated code and the [`message_set!`] macro.
pub use serde_json;
/// Re-exported for generated code.
pub use {chrono, uuid};

//! Process runners: everything a generated `main.rs` does, behind one function call per
//! process kind, so that generated binaries are a few lines.
//!
//! | process                  | runner                                       | features                  |
//! |--------------------------|----------------------------------------------|---------------------------|
//! | `<ctx>-command-api`      | `command_api::run_command_api`             | `auth`, `amqp`            |
//! | `<ctx>-command-handler`  | `command_handler::run_command_handler`     | `amqp`, `postgres`, `http`|
//! | `<ctx>-event-handler`    | `event_handler::run_event_handler`         | `amqp`, `mongo`, `http`   |
//! | `<ctx>-query-api`        | `query_api::run_query_api`                 | `auth`, `mongo`           |
//! | `<saga>-saga`            | `saga::run_saga`                           | `amqp`, `mongo`, `http`   |
//!
//! Every runner reads its [`ServiceConfig`] from the environment (`HTTP_ADDR` defaults to
//! [`ProcessInfo::default_http_addr`]), initialises logging and the Prometheus recorder,
//! prefixes the topology and its queue with `NAME_PREFIX`, connects to what it needs (retrying
//! while the servers come up, for at most [`RunOptions::startup_timeout`]), serves
//! `/health/live`, `/health/ready` (real checks) and `/metrics` on `HTTP_ADDR` (merged into the
//! API router for the API processes), logs one `listening` line with the bound address and
//! runs until [`shutdown_signal`] (Ctrl-C or SIGTERM): then the consumer finishes the message
//! in hand, the background loops stop and the runner returns `Ok(())`. Failures are returned
//! as [`ProcessError`]s with their causes; [`main_exit`] prints them.
//!
//! Each `run_*` has a `run_*_with` twin taking [`RunOptions`] (configuration, shutdown future,
//! bound-address notification) instead of reading the environment, for tests and embedding.
//!
//! A generated `main.rs`:
//!
//! ```no_run
//! # #[cfg(all(feature = "amqp", feature = "postgres", feature = "http"))]
//! # mod generated {
//! use runtime::command_handler::CommandDispatcher;
//! use runtime::postgres::PgStateStore;
//! use runtime::process::{ProcessInfo, main_exit, run_command_handler, topology_from_json};
//! use std::process::ExitCode;
//!
//! const INFO: ProcessInfo = ProcessInfo {
//!     name: "ordering-command-handler",
//!     context: "ordering",
//!     queue: Some("ordering.commands"),
//!     default_http_addr: "127.0.0.1:8081",
//! };
//! # const TOPOLOGY_JSON: &str = "{}";
//! # fn handlers(_: PgStateStore) -> CommandDispatcher { CommandDispatcher::new() }
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     let run = async { run_command_handler(INFO, topology_from_json(TOPOLOGY_JSON)?, handlers).await };
//!     main_exit(run.await)
//! }
//! # }
//! # fn main() {}
//! ```

use crate::config::{ConfigError, ServiceConfig};
use crate::topology::{Topology, TopologyError};
use std::net::SocketAddr;
use std::process::ExitCode;

#[cfg(all(feature = "auth", feature = "amqp"))]
pub mod command_api;
#[cfg(all(feature = "amqp", feature = "postgres", feature = "http"))]
pub mod command_handler;
#[cfg(feature = "amqp")]
pub mod dead_letters;
#[cfg(feature = "auth")]
pub mod dev_token;
#[cfg(all(feature = "amqp", feature = "mongo", feature = "http"))]
pub mod event_handler;
#[cfg(all(feature = "auth", feature = "mongo"))]
pub mod query_api;
#[cfg(all(
    feature = "amqp",
    feature = "mongo",
    feature = "http",
    feature = "postgres"
))]
pub mod rebuild;
#[cfg(all(feature = "amqp", feature = "mongo", feature = "http"))]
pub mod saga;

#[cfg(any(
    all(feature = "auth", feature = "amqp"),
    all(feature = "amqp", feature = "postgres", feature = "http"),
    all(feature = "amqp", feature = "mongo", feature = "http"),
    all(feature = "auth", feature = "mongo"),
))]
mod support;

mod options;
pub use options::*;

#[cfg(all(feature = "auth", feature = "amqp"))]
pub use command_api::{run_command_api, run_command_api_with};
#[cfg(all(feature = "amqp", feature = "postgres", feature = "http"))]
pub use command_handler::{run_command_handler, run_command_handler_with};
#[cfg(all(feature = "amqp", feature = "mongo", feature = "http"))]
pub use event_handler::{Projection, run_event_handler, run_event_handler_with};
#[cfg(all(feature = "auth", feature = "mongo"))]
pub use query_api::{run_query_api, run_query_api_with};
#[cfg(all(feature = "amqp", feature = "mongo", feature = "http"))]
pub use saga::{run_saga, run_saga_with};

/// Static facts about one generated process.
///
/// ```
/// use runtime::process::ProcessInfo;
/// const INFO: ProcessInfo = ProcessInfo {
///     name: "ordering-event-handler",
///     context: "ordering",
///     queue: Some("ordering.event-handler"),
///     default_http_addr: "127.0.0.1:8082",
/// };
/// assert_eq!(INFO.prefixed_queue("t_1").as_deref(), Some("t_1.ordering.event-handler"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Service name in logs, metrics and the broker's connection list
    /// (`ordering-command-api`).
    pub name: &'static str,
    /// The bounded context (`ordering`); for a saga, the saga name (`OrderFulfillment`).
    pub context: &'static str,
    /// The queue the process consumes, without `NAME_PREFIX` (`ordering.commands`,
    /// `ordering.event-handler`, `ordering.command-api` (outcomes), `saga.order-fulfillment`);
    /// `None` for the Query API.
    pub queue: Option<&'static str>,
    /// `HTTP_ADDR` when the variable is unset (`127.0.0.1:8080`).
    pub default_http_addr: &'static str,
}

impl ProcessInfo {
    /// [`queue`](Self::queue) with `NAME_PREFIX` applied the way
    /// [`Topology::with_prefix`] applies it (`<prefix>.<queue>`; unchanged without prefix).
    pub fn prefixed_queue(&self, prefix: &str) -> Option<String> {
        self.queue.map(|q| {
            if prefix.is_empty() {
                q.to_owned()
            } else {
                format!("{prefix}.{q}")
            }
        })
    }

    /// The default configuration of this process: [`ServiceConfig::default`] with
    /// `http_addr` = [`default_http_addr`](Self::default_http_addr).
    pub fn default_config(&self) -> Result<ServiceConfig, ProcessError> {
        let http_addr =
            self.default_http_addr
                .parse()
                .map_err(|source| ProcessError::DefaultHttpAddr {
                    process: self.name,
                    addr: self.default_http_addr,
                    source,
                })?;
        Ok(ServiceConfig {
            http_addr,
            ..ServiceConfig::default()
        })
    }
}

/// Why a process could not start or stopped with an error. Each variant names what failed;
/// the underlying error is its [`source`](std::error::Error::source) ([`main_exit`] prints
/// the whole chain).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// An environment variable has a bad value.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The generated default HTTP address does not parse.
    #[error("process `{process}`: invalid default HTTP address {addr:?}")]
    DefaultHttpAddr {
        /// The process.
        process: &'static str,
        /// The address.
        addr: &'static str,
        /// Parser error.
        #[source]
        source: std::net::AddrParseError,
    },
    /// A read-model rebuild stopped (`<context>-event-handler rebuild`).
    #[cfg(all(
        feature = "amqp",
        feature = "mongo",
        feature = "http",
        feature = "postgres"
    ))]
    #[error("the read-model rebuild stopped")]
    Rebuild(#[from] rebuild::RebuildError),
    /// A subcommand this process does not have.
    #[error("{0}")]
    Usage(String),
    /// The embedded topology JSON does not parse.
    #[error("the embedded topology is not valid JSON for a Topology")]
    TopologyJson(#[source] serde_json::Error),
    /// The topology is inconsistent.
    #[error("invalid topology")]
    Topology(#[from] TopologyError),
    /// The process needs a queue but [`ProcessInfo::queue`] is `None`.
    #[error("process `{0}` consumes a queue but ProcessInfo::queue is None")]
    MissingQueue(&'static str),
    /// The process's queue is not a work queue of the topology.
    #[error("process `{process}` consumes `{queue}`, which is not a work queue of the topology")]
    UnknownQueue {
        /// The process.
        process: &'static str,
        /// The (prefixed) queue.
        queue: String,
    },
    /// Logging could not be initialised (bad `RUST_LOG`).
    #[error("cannot initialise logging")]
    Tracing(#[source] crate::observability::ObservabilityError),
    /// The Prometheus recorder could not be installed.
    #[cfg(feature = "http")]
    #[error("cannot install the Prometheus metrics recorder")]
    Metrics(#[source] crate::http::MetricsInstallError),
    /// No JWT key is configured.
    #[cfg(feature = "auth")]
    #[error(
        "no JWT key configured: set JWT_HS256_SECRET, JWT_RS256_PUBLIC_KEY_FILE or JWT_JWKS_FILE"
    )]
    JwtNotConfigured,
    /// More than one JWT key is configured.
    #[cfg(feature = "auth")]
    #[error("several JWT keys configured ({0}): set exactly one")]
    JwtAmbiguous(String),
    /// The JWT key material cannot be loaded.
    #[cfg(feature = "auth")]
    #[error("invalid {variable}")]
    Jwt {
        /// The variable naming the key.
        variable: &'static str,
        /// Why.
        #[source]
        source: crate::http::auth::AuthConfigError,
    },
    /// A RabbitMQ operation failed (connect, declare, consume).
    #[cfg(feature = "amqp")]
    #[error("RabbitMQ: {what} failed")]
    Amqp {
        /// What was attempted.
        what: &'static str,
        /// The adapter's error.
        #[source]
        source: Box<crate::amqp::AmqpError>,
    },
    /// PostgreSQL could not be reached.
    #[cfg(feature = "postgres")]
    #[error("cannot connect to PostgreSQL at {url}")]
    Postgres {
        /// The URL, password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database migrations failed.
    #[cfg(feature = "postgres")]
    #[error("cannot apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// MongoDB could not be reached.
    #[cfg(feature = "mongo")]
    #[error("cannot connect to MongoDB at {url}")]
    Mongo {
        /// The URL, password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: mongodb::error::Error,
    },
    /// Read-model indexes could not be created.
    #[error("cannot create the read-model indexes of `{collection}`")]
    ReadModelIndexes {
        /// The collection.
        collection: String,
        /// The store's error.
        #[source]
        source: crate::read_model::ReadModelError,
    },
    /// The saga store could not be opened.
    #[error("cannot open the saga store")]
    SagaStore(#[source] crate::saga::SagaStoreError),
    /// The saga machine is not well formed.
    #[error("invalid saga machine")]
    SagaMachine(#[source] crate::saga::MachineError),
    /// `HTTP_ADDR` cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    /// A background task of the process stopped unexpectedly or panicked.
    #[error("background task `{task}` stopped: {reason}")]
    Task {
        /// The task (`consumer`, `outbox-relay`, `http`, ...).
        task: &'static str,
        /// What happened.
        reason: String,
    },
}

/// Parses the topology the generator embeds as JSON and validates it.
///
/// ```
/// use runtime::topology::TopologyBuilder;
/// let json = serde_json::to_string(&TopologyBuilder::new().context("ordering").build()).unwrap();
/// let topology = runtime::process::topology_from_json(&json).unwrap();
/// assert!(topology.routes("ordering").is_some());
/// assert!(runtime::process::topology_from_json("{").is_err());
/// ```
pub fn topology_from_json(json: &str) -> Result<Topology, ProcessError> {
    let topology: Topology = serde_json::from_str(json).map_err(ProcessError::TopologyJson)?;
    topology.validate()?;
    Ok(topology)
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM. If a handler cannot be installed, that
/// signal is not awaited (the other one still is).
///
/// ```no_run
/// # async fn run() {
/// runtime::process::shutdown_signal().await;
/// println!("stopping");
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Turns the result of a runner into the process exit code: `SUCCESS` for `Ok`; for `Err`,
/// prints `error: <what failed>` and each distinct cause (`caused by: ...`) on stderr and
/// returns `FAILURE`.
///
/// ```
/// use runtime::process::{ProcessError, main_exit};
/// assert_eq!(main_exit(Ok(())), std::process::ExitCode::SUCCESS);
/// assert_eq!(
///     main_exit(Err(ProcessError::MissingQueue("x"))),
///     std::process::ExitCode::FAILURE
/// );
/// ```
pub fn main_exit(result: Result<(), ProcessError>) -> ExitCode {
    let code = exit_code(result);
    crate::observability::shutdown_tracing();
    code
}

fn exit_code(result: Result<(), ProcessError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let report = error_report(&e);
            tracing::error!(error = %report.replace('\n', " "), "process failed");
            eprintln!("{report}");
            ExitCode::FAILURE
        }
    }
}

/// `error: <e>` followed by one `caused by: <source>` line per cause whose text the previous
/// messages do not already contain.
///
/// ```
/// use runtime::process::{ProcessError, error_report};
/// let e = runtime::process::topology_from_json("[").unwrap_err();
/// let report = error_report(&e);
/// assert!(report.starts_with("error: the embedded topology is not valid JSON"));
/// assert!(report.contains("\n  caused by: "));
/// ```
pub fn error_report(e: &dyn std::error::Error) -> String {
    let mut out = format!("error: {e}");
    let mut seen = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !seen.contains(&text) {
            out.push_str("\n  caused by: ");
            out.push_str(&text);
            seen.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// `scheme://user:***@host/...`: a URL safe to log.
#[cfg(any(feature = "postgres", feature = "mongo", test))]
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:pw@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact("mongodb://db"), "mongodb://db");
    }

    #[test]
    fn default_config_uses_the_process_address() {
        let info = ProcessInfo {
            name: "a",
            context: "a",
            queue: None,
            default_http_addr: "127.0.0.1:8089",
        };
        assert_eq!(info.default_config().unwrap().http_addr.port(), 8089);
        let bad = ProcessInfo {
            default_http_addr: "nope",
            ..info
        };
        let e = bad.default_config().unwrap_err();
        assert!(error_report(&e).contains("nope"), "{}", error_report(&e));
        assert_eq!(info.prefixed_queue("p"), None);
    }

    #[test]
    fn report_lists_distinct_causes() {
        let e = ProcessError::Bind {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: std::io::Error::other("address in use"),
        };
        assert_eq!(
            error_report(&e),
            "error: cannot listen on 127.0.0.1:1\n  caused by: address in use"
        );
    }
}

//! The CommandHandler process: PostgreSQL state store with outbox, the outbox relay, and the
//! command consumer.

use super::support::{self, Check, Process};
use super::{ProcessError, ProcessInfo, RunOptions, redact};
use crate::amqp::{HandleOutcome, MessageHandler};
use crate::bus::MessageBus;
use crate::command_handler::{CommandDispatcher, CommandHandler};
use crate::envelope::RawEnvelope;
use crate::postgres::{OutboxRelay, PgStateStore, run_retention};
use crate::topology::Topology;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Runs a CommandHandler process with the configuration from the environment until
/// [`super::shutdown_signal`]; see [`run_command_handler_with`].
///
/// ```no_run
/// use runtime::command_handler::CommandDispatcher;
/// use runtime::postgres::PgStateStore;
/// use runtime::process::{ProcessInfo, main_exit, topology_from_json, run_command_handler};
///
/// fn handlers(store: PgStateStore) -> CommandDispatcher {
///     # let _ = store;
///     CommandDispatcher::new() // .register(Arc::new(AggregateCommandHandler::<Order, _>::new(store, ())))
/// }
///
/// # async fn main_(topology_json: &str) -> std::process::ExitCode {
/// const INFO: ProcessInfo = ProcessInfo {
///     name: "ordering-command-handler",
///     context: "ordering",
///     queue: Some("ordering.commands"),
///     default_http_addr: "127.0.0.1:8081",
/// };
/// main_exit(async { run_command_handler(INFO, topology_from_json(topology_json)?, handlers).await }.await)
/// # }
/// ```
pub async fn run_command_handler(
    info: ProcessInfo,
    topology: Topology,
    handlers: fn(PgStateStore) -> CommandDispatcher,
) -> Result<(), ProcessError> {
    run_command_handler_with(info, RunOptions::from_env(&info)?, topology, handlers).await
}

/// Runs a CommandHandler process with `options`:
///
/// 1. connects to PostgreSQL (`DATABASE_URL`, retrying until it is up), runs the migrations,
///    builds the dispatcher with `handlers(PgStateStore)`;
/// 2. declares the (prefixed) topology and opens a confirmed [`crate::amqp::AmqpBus`];
/// 3. spawns the [`OutboxRelay`] (`LISTEN/NOTIFY` + polling) publishing events and outcomes,
///    and [`run_retention`] deleting old markers and published rows
///    ([`crate::store::Retention`], from `PROCESSED_COMMAND_RETENTION`, `OUTBOX_RETENTION`,
///    `RETENTION_INTERVAL`);
/// 4. consumes `info.queue`: `Ok` → ack; a transient [`crate::command_handler::HandlerError`]
///    → delayed retry; a permanent one → dead-letter. The consumer also reports
///    `queue_depth{queue}` periodically;
/// 5. serves `/health/*` (checks: `postgres`, `rabbitmq`, `command-consumer`) and `/metrics`.
///
/// On shutdown the consumer finishes the command in hand and the relay stops.
pub async fn run_command_handler_with(
    info: ProcessInfo,
    options: RunOptions,
    topology: Topology,
    handlers: fn(PgStateStore) -> CommandDispatcher,
) -> Result<(), ProcessError> {
    let mut process = Process::start(info, options)?;
    let topology = topology.with_prefix(&process.options.config.name_prefix);
    topology.validate()?;
    let queue = process.queue(&topology)?;

    let url = process.options.config.database_url.clone();
    let pg_error = |source| ProcessError::Postgres {
        url: redact(&url),
        source,
    };
    let max = process.options.db_max_connections;
    // sqlx itself retries a refused connection for its 30 s acquire timeout: bound each
    // attempt so that the startup timeout holds.
    let per_attempt = process.options.startup_timeout.min(Duration::from_secs(10));
    let Some(pool) = process
        .retry("PostgreSQL", || async {
            tokio::time::timeout(per_attempt, crate::postgres::connect(&url, max))
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        })
        .await
        .map_err(pg_error)?
    else {
        return process.run().await;
    };
    crate::postgres::run_migrations(&pool)
        .await
        .map_err(ProcessError::Migrate)?;
    let dispatcher = handlers(PgStateStore::new(pool.clone()));
    tracing::info!(
        service = info.name,
        commands = ?dispatcher.command_types(),
        "database ready"
    );

    let Some(bus) = support::connect_bus(&process, &topology).await? else {
        pool.close().await;
        return process.run().await;
    };
    let relay = OutboxRelay::new(pool.clone(), bus.clone() as Arc<dyn MessageBus>)
        .with_poll_interval(process.options.outbox_poll);
    let stop = process.stop.wait();
    process.spawn("outbox-relay", async move {
        relay.run(stop).await;
        Ok(())
    });
    let (stop, db, retention) = (process.stop.wait(), pool.clone(), process.options.retention);
    process.spawn("retention", async move {
        run_retention(db, retention, stop).await;
        Ok(())
    });

    let ready = Arc::new(AtomicBool::new(false));
    let consumer = support::consumer(&process, &topology, &queue, ready.clone())?;
    support::spawn_consumer(
        &mut process,
        consumer,
        CommandConsumer {
            dispatcher: Arc::new(dispatcher),
        },
    );

    let db = pool.clone();
    let checks = vec![
        Check::from_fn("postgres", move || {
            let db = db.clone();
            async move {
                sqlx::query("SELECT 1")
                    .execute(&db)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }),
        support::bus_check(bus.clone(), process.options.config.amqp_url.clone()),
        Check::flag("command-consumer", ready),
    ];
    process.serve(axum::Router::new(), checks).await?;
    let result = process.run().await;
    bus.close().await;
    pool.close().await;
    result
}

/// Maps the dispatcher's result to the consumer's outcome.
struct CommandConsumer {
    dispatcher: Arc<CommandDispatcher>,
}

#[async_trait]
impl MessageHandler for CommandConsumer {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        match self.dispatcher.handle(msg).await {
            Ok(outcome) => {
                tracing::debug!(status = ?outcome.status, "command handled");
                HandleOutcome::Ack
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "command failed; retrying later");
                HandleOutcome::retry(e.to_string())
            }
            Err(e) => {
                tracing::error!(error = %e, "command cannot be handled; dead-lettering it");
                HandleOutcome::DeadLetter {
                    reason: e.to_string(),
                }
            }
        }
    }
}

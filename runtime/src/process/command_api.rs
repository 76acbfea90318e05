//! The Command API process: JWT, [`CommandApi`] routes, the outcome consumer feeding the
//! command-status tracker, and the ops routes, on one HTTP listener.

use super::support::{self, Check, Process};
use super::{ProcessError, ProcessInfo, RunOptions};
use crate::amqp::{HandleOutcome, MessageHandler};
use crate::envelope::RawEnvelope;
use crate::http::command_api::CommandApi;
use crate::http::command_status::CommandStatusTracker;
use crate::topology::Topology;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Runs a Command API process with the configuration from the environment until
/// [`super::shutdown_signal`]; see [`run_command_api_with`].
///
/// ```no_run
/// use runtime::http::command_api::CommandApi;
/// use runtime::process::{ProcessInfo, main_exit, topology_from_json, run_command_api};
///
/// fn routes(api: CommandApi) -> CommandApi {
///     api // .command::<PlaceOrder>(Method::POST, "/orders", &["customer"], IdSource::New)
/// }
///
/// # async fn main_(topology_json: &str) -> std::process::ExitCode {
/// const INFO: ProcessInfo = ProcessInfo {
///     name: "ordering-command-api",
///     context: "ordering",
///     queue: Some("ordering.command-api"),
///     default_http_addr: "127.0.0.1:8080",
/// };
/// main_exit(async { run_command_api(INFO, topology_from_json(topology_json)?, routes).await }.await)
/// # }
/// ```
pub async fn run_command_api(
    info: ProcessInfo,
    topology: Topology,
    routes: fn(CommandApi) -> CommandApi,
) -> Result<(), ProcessError> {
    run_command_api_with(info, RunOptions::from_env(&info)?, topology, routes).await
}

/// Runs a Command API process with `options`:
///
/// 1. JWT validation from `JWT_*` (exactly one key source; none is an error);
/// 2. declares the (prefixed) topology once the broker is up and opens a confirmed
///    [`crate::amqp::AmqpBus`];
/// 3. builds `routes(CommandApi::new(info.context, bus, auth))`;
/// 4. consumes `info.queue` (the context's outcome queue): each outcome goes to the
///    API's [`CommandStatusTracker`] (so `GET /commands/{id}` moves from `accepted` to
///    `processed`/`rejected`) and is acked;
/// 5. serves the API merged with `/health/*` (checks: `rabbitmq`, `outcome-consumer`) and
///    `/metrics`.
///
/// Needs neither PostgreSQL nor MongoDB.
pub async fn run_command_api_with(
    info: ProcessInfo,
    options: RunOptions,
    topology: Topology,
    routes: fn(CommandApi) -> CommandApi,
) -> Result<(), ProcessError> {
    let auth = Arc::new(support::jwt_auth(&options.config().jwt)?);
    let mut process = Process::start(info, options)?;
    let topology = topology.with_prefix(&process.options.config.name_prefix);
    topology.validate()?;
    let queue = process.queue(&topology)?;

    let Some(bus) = support::connect_bus(&process, &topology).await? else {
        return process.run().await;
    };
    let api = routes(CommandApi::new(info.context, bus.clone(), auth));
    let tracker = api.tracker();

    let ready = Arc::new(AtomicBool::new(false));
    let consumer = support::consumer(&process, &topology, &queue, ready.clone())?;
    support::spawn_consumer(&mut process, consumer, OutcomeFeeder { tracker });

    let checks = vec![
        support::bus_check(bus.clone(), process.options.config.amqp_url.clone()),
        Check::flag("outcome-consumer", ready),
    ];
    process.serve(api.router(), checks).await?;
    let result = process.run().await;
    bus.close().await;
    result
}

/// Feeds command outcomes to the status tracker.
struct OutcomeFeeder {
    tracker: Arc<CommandStatusTracker>,
}

#[async_trait]
impl MessageHandler for OutcomeFeeder {
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        // An invalid outcome is logged by the tracker; nothing to retry either way.
        self.tracker.record_outcome(&msg);
        HandleOutcome::Ack
    }
}

//! The saga orchestrator process: one [`SagaMachine`] run by a [`SagaEngine`] over
//! MongoDB and RabbitMQ.

use super::support::{self, Check, Process};
use super::{ProcessError, ProcessInfo, RunOptions};
use crate::amqp::{HandleOutcome, MessageHandler};
use crate::bus::MessageBus;
use crate::envelope::RawEnvelope;
use crate::mongo::MongoSagaStore;
use crate::mongo::saga_store::DEFAULT_COLLECTION;
use crate::saga::{EventOutcome, SagaEngine, SagaMachine, SagaStore, SystemClock};
use crate::topology::Topology;
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Runs a saga process with the configuration from the environment (plus `SAGA_TICK_MS`,
/// `SAGA_RECOVER_MS`) until [`super::shutdown_signal`]; see [`run_saga_with`].
///
/// ```no_run
/// use runtime::process::{ProcessInfo, main_exit, topology_from_json, run_saga};
/// use runtime::saga::SagaMachine;
///
/// # async fn main_(topology_json: &str, machine: SagaMachine<serde_json::Value>) -> std::process::ExitCode {
/// const INFO: ProcessInfo = ProcessInfo {
///     name: "order-fulfillment-saga",
///     context: "OrderFulfillment",
///     queue: Some("saga.order-fulfillment"),
///     default_http_addr: "127.0.0.1:8090",
/// };
/// main_exit(async { run_saga(INFO, topology_from_json(topology_json)?, machine).await }.await)
/// # }
/// ```
pub async fn run_saga<D>(
    info: ProcessInfo,
    topology: Topology,
    machine: SagaMachine<D>,
) -> Result<(), ProcessError>
where
    D: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    run_saga_with(info, RunOptions::from_env(&info)?, topology, machine).await
}

/// Runs a saga process with `options`:
///
/// 1. validates the machine; connects to MongoDB and opens the [`MongoSagaStore`]
///    (collection `sagas`, indexes created);
/// 2. declares the (prefixed) topology and opens a confirmed [`crate::amqp::AmqpBus`];
/// 3. `SagaEngine::new(machine, store, bus, SystemClock)`; spawns `engine.run` (timers every
///    [`RunOptions::saga_tick_every`], recovery of unpublished commands every
///    [`RunOptions::saga_recover_every`]);
/// 4. consumes `info.queue` with `handle_event`: `Ok` → ack, a permanent error → dead-letter,
///    any other error → retry;
/// 5. serves `/health/*` (checks: `mongodb`, `rabbitmq`, `saga-consumer`) and `/metrics`.
pub async fn run_saga_with<D>(
    info: ProcessInfo,
    options: RunOptions,
    topology: Topology,
    machine: SagaMachine<D>,
) -> Result<(), ProcessError>
where
    D: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    machine.validate().map_err(ProcessError::SagaMachine)?;
    let machine = scaled(machine, options.saga_time_scale);
    let mut process = Process::start(info, options)?;
    let topology = topology.with_prefix(&process.options.config.name_prefix);
    topology.validate()?;
    let queue = process.queue(&topology)?;

    let Some(db) = support::connect_mongo(&process).await? else {
        return process.run().await;
    };
    let store = MongoSagaStore::open(&db, DEFAULT_COLLECTION)
        .await
        .map_err(ProcessError::SagaStore)?;
    let Some(bus) = support::connect_bus(&process, &topology).await? else {
        return process.run().await;
    };
    let engine = SagaEngine::new(
        machine,
        Arc::new(store) as Arc<dyn SagaStore>,
        bus.clone() as Arc<dyn MessageBus>,
        Arc::new(SystemClock),
    )
    .map_err(ProcessError::SagaMachine)?;
    let engine = Arc::new(engine);

    let (tick, recover) = (process.options.saga_tick, process.options.saga_recover);
    let timers = engine.clone();
    let stop = process.stop.wait();
    process.spawn("saga-timers", async move {
        timers.run(tick, recover, stop).await;
        Ok(())
    });

    let ready = Arc::new(AtomicBool::new(false));
    let consumer = support::consumer(&process, &topology, &queue, ready.clone())?;
    support::spawn_consumer(&mut process, consumer, SagaConsumer { engine });

    let checks = vec![
        support::mongo_check(db.clone()),
        support::bus_check(bus.clone(), process.options.config.amqp_url.clone()),
        Check::flag("saga-consumer", ready),
    ];
    process.serve(axum::Router::new(), checks).await?;
    let result = process.run().await;
    bus.close().await;
    support::close_mongo(db).await;
    result
}

/// The machine with every timeout and retry delay multiplied by `factor`.
fn scaled<D>(mut machine: SagaMachine<D>, factor: f64) -> SagaMachine<D> {
    if factor != 1.0 {
        for state in &mut machine.states {
            state.timeout = state.timeout.map(|t| t.mul_f64(factor));
            state.retry.initial_delay = state.retry.initial_delay.mul_f64(factor);
            state.retry.max_delay = state.retry.max_delay.mul_f64(factor);
        }
    }
    machine
}

struct SagaConsumer<D> {
    engine: Arc<SagaEngine<D>>,
}

#[async_trait]
impl<D> MessageHandler for SagaConsumer<D>
where
    D: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn handle(&self, msg: RawEnvelope) -> HandleOutcome {
        match self.engine.handle_event(&msg).await {
            Ok(outcome) => {
                if !matches!(
                    outcome,
                    EventOutcome::NotCorrelated | EventOutcome::Duplicate
                ) {
                    tracing::debug!(?outcome, "saga event handled");
                }
                HandleOutcome::Ack
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(error = %e, "saga event cannot be handled; dead-lettering it");
                HandleOutcome::DeadLetter {
                    reason: e.to_string(),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "saga event failed; retrying later");
                HandleOutcome::retry(e.to_string())
            }
        }
    }

    /// One saga instance's events in order (they come from several aggregates); events of
    /// different instances concurrently.
    fn ordering_key(&self, msg: &RawEnvelope) -> Option<String> {
        self.engine
            .correlation_key(msg)
            .map(|key| format!("{}/{key}", msg.meta.tenant_id))
    }
}

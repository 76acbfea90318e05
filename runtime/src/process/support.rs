//! Plumbing shared by the runners: startup, shutdown fan-out, task supervision, readiness
//! checks, HTTP serving, JWT and broker setup.

use super::{ProcessError, ProcessInfo, RunOptions};
use crate::http::ReadinessCheck;
use crate::observability::ObservabilityError;
use async_trait::async_trait;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A cloneable "stop now" signal.
#[derive(Clone)]
pub(crate) struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Completes once the stop is triggered (or its trigger is gone).
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Runs `fut` unless the stop comes first (`None`).
    pub(crate) async fn or_stop<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.wait() => None,
            v = fut => Some(v),
        }
    }
}

type TaskResult = (&'static str, Result<(), ProcessError>);

/// The running process: settings from [`RunOptions`], the stop signal, the background tasks.
pub(crate) struct Process {
    pub(crate) info: ProcessInfo,
    pub(crate) options: RunOptions,
    pub(crate) metrics: metrics_exporter_prometheus::PrometheusHandle,
    stop_tx: Arc<watch::Sender<bool>>,
    pub(crate) stop: Stop,
    tasks: JoinSet<TaskResult>,
    signal: tokio::task::JoinHandle<()>,
}

impl Process {
    /// Logging, metrics, and the shutdown future wired to the stop signal.
    pub(crate) fn start(info: ProcessInfo, mut options: RunOptions) -> Result<Self, ProcessError> {
        let cfg = &options.config;
        match crate::observability::init_tracing_with_filter(
            info.name,
            cfg.log_format,
            &cfg.rust_log,
        ) {
            Ok(()) | Err(ObservabilityError::AlreadyInitialised) => {}
            Err(e) => return Err(ProcessError::Tracing(e)),
        }
        let metrics = crate::http::install_metrics_recorder().map_err(ProcessError::Metrics)?;
        crate::observability::describe_metrics();
        let (tx, rx) = watch::channel(false);
        let stop_tx = Arc::new(tx);
        let shutdown: super::ShutdownFuture = options
            .shutdown
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| Box::pin(std::future::pending()));
        let trigger = stop_tx.clone();
        let signal = tokio::spawn(async move {
            shutdown.await;
            let _ = trigger.send(true);
        });
        tracing::info!(
            service = info.name,
            context = info.context,
            prefix = %options.config.name_prefix,
            "starting"
        );
        Ok(Process {
            info,
            options,
            metrics,
            stop_tx,
            stop: Stop(rx),
            tasks: JoinSet::new(),
            signal,
        })
    }

    /// The consumed queue with `NAME_PREFIX`, which must be a work queue of `topology`.
    #[cfg(feature = "amqp")]
    pub(crate) fn queue(
        &self,
        topology: &crate::topology::Topology,
    ) -> Result<String, ProcessError> {
        let queue = self
            .info
            .prefixed_queue(&self.options.config.name_prefix)
            .ok_or(ProcessError::MissingQueue(self.info.name))?;
        if topology.work_queue(&queue).is_none() {
            return Err(ProcessError::UnknownQueue {
                process: self.info.name,
                queue,
            });
        }
        Ok(queue)
    }

    /// Runs `task` in the background until the stop; an early end (or an error) stops the
    /// whole process.
    pub(crate) fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = Result<(), ProcessError>> + Send + 'static,
    ) {
        self.tasks.spawn(async move { (name, task.await) });
    }

    /// Binds `HTTP_ADDR`, reports the address and serves `router` merged with the ops
    /// routes (health, readiness with `checks`, metrics) until the stop.
    pub(crate) async fn serve(
        &mut self,
        router: Router,
        checks: Vec<Arc<dyn ReadinessCheck>>,
    ) -> Result<SocketAddr, ProcessError> {
        let addr = self.options.config.http_addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ProcessError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| ProcessError::Bind { addr, source })?;
        let app = router.merge(crate::http::ops_router(checks, Some(self.metrics.clone())));
        let stop = self.stop.wait();
        self.spawn("http", async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
                .map_err(ProcessError::Serve)
        });
        tracing::info!(service = self.info.name, addr = %bound, "listening on http://{bound}");
        if let Some(tx) = self.options.bound.take() {
            let _ = tx.send(bound);
        }
        Ok(bound)
    }

    /// Waits for the stop or the first task to end; then stops everything, waits for the
    /// tasks (at most the shutdown grace) and returns the first error.
    pub(crate) async fn run(mut self) -> Result<(), ProcessError> {
        let mut first: Option<ProcessError> = None;
        tokio::select! {
            _ = self.stop.wait() => {}
            Some(joined) = self.tasks.join_next() => {
                record(&mut first, joined, self.stop.is_set());
            }
        }
        let _ = self.stop_tx.send(true);
        tracing::info!(service = self.info.name, "stopping");
        let grace = self.options.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = self.tasks.join_next().await {
                record(&mut first, joined, true);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                service = self.info.name,
                ?grace,
                "tasks still running after the shutdown grace; aborting them"
            );
            self.tasks.abort_all();
        }
        self.signal.abort();
        match first {
            None => {
                tracing::info!(service = self.info.name, "stopped");
                Ok(())
            }
            Some(e) => Err(e),
        }
    }

    /// Retries `attempt` with backoff (100 ms doubling to 5 s) until it succeeds, the
    /// startup timeout passes (the last error) or the stop comes (`Ok(None)`).
    pub(crate) async fn retry<T, E: std::fmt::Display, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
    ) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let deadline = tokio::time::Instant::now() + self.options.startup_timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            let Some(result) = self.stop.or_stop(attempt()).await else {
                return Ok(None);
            };
            match result {
                Ok(v) => return Ok(Some(v)),
                Err(e) if tokio::time::Instant::now() + delay >= deadline => return Err(e),
                Err(e) => {
                    tracing::warn!(service = self.info.name, error = %e, retry_in = ?delay, "{what} not available yet");
                    if self.stop.or_stop(tokio::time::sleep(delay)).await.is_none() {
                        return Ok(None);
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

fn record(
    first: &mut Option<ProcessError>,
    joined: Result<TaskResult, tokio::task::JoinError>,
    stopping: bool,
) {
    let error = match joined {
        Ok((_, Ok(()))) if stopping => return,
        Ok((task, Ok(()))) => ProcessError::Task {
            task,
            reason: "ended before the shutdown".into(),
        },
        Ok((task, Err(e))) => {
            tracing::error!(task, error = %super::error_report(&e).replace('\n', " "), "task failed");
            e
        }
        Err(e) if e.is_cancelled() => return,
        Err(e) => ProcessError::Task {
            task: "background",
            reason: format!("panicked: {e}"),
        },
    };
    if first.is_none() {
        *first = Some(error);
    }
}

type CheckFn = dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync;

/// A readiness check from a closure.
pub(crate) struct Check {
    name: &'static str,
    check: Box<CheckFn>,
}

impl Check {
    pub(crate) fn from_fn<F, Fut>(name: &'static str, f: F) -> Arc<dyn ReadinessCheck>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Arc::new(Check {
            name,
            check: Box::new(move || Box::pin(f())),
        })
    }

    /// Ready while `flag` is set (a consumer's ready flag).
    #[cfg(feature = "amqp")]
    pub(crate) fn flag(
        name: &'static str,
        flag: Arc<std::sync::atomic::AtomicBool>,
    ) -> Arc<dyn ReadinessCheck> {
        Check::from_fn(name, move || {
            let ready = flag.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if ready {
                    Ok(())
                } else {
                    Err("not consuming".to_owned())
                }
            }
        })
    }
}

#[async_trait]
impl ReadinessCheck for Check {
    fn name(&self) -> &str {
        self.name
    }

    async fn check(&self) -> Result<(), String> {
        (self.check)().await
    }
}

/// The JWT validator configured by `JWT_*`: exactly one key source, plus issuer/audience.
#[cfg(feature = "auth")]
pub(crate) fn jwt_auth(
    settings: &crate::config::JwtSettings,
) -> Result<crate::http::auth::JwtAuth, ProcessError> {
    use crate::http::auth::JwtAuth;
    let given: Vec<&str> = [
        ("JWT_HS256_SECRET", settings.hs256_secret.is_some()),
        (
            "JWT_RS256_PUBLIC_KEY_FILE",
            settings.rs256_public_key_file.is_some(),
        ),
        ("JWT_JWKS_FILE", settings.jwks_file.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, set)| set.then_some(n))
    .collect();
    if given.len() > 1 {
        return Err(ProcessError::JwtAmbiguous(given.join(", ")));
    }
    let mut auth = if let Some(secret) = &settings.hs256_secret {
        JwtAuth::hs256(secret.as_bytes())
    } else if let Some(path) = &settings.rs256_public_key_file {
        JwtAuth::rs256_pem_file(path).map_err(|source| ProcessError::Jwt {
            variable: "JWT_RS256_PUBLIC_KEY_FILE",
            source,
        })?
    } else if let Some(path) = &settings.jwks_file {
        JwtAuth::rs256_jwks_file(path).map_err(|source| ProcessError::Jwt {
            variable: "JWT_JWKS_FILE",
            source,
        })?
    } else {
        return Err(ProcessError::JwtNotConfigured);
    };
    if let Some(issuer) = &settings.issuer {
        auth = auth.with_issuer(issuer.clone());
    }
    if let Some(audience) = &settings.audience {
        auth = auth.with_audience(audience.clone());
    }
    Ok(auth)
}

/// Connects to the broker (retrying until it is up), declares `topology` and opens a
/// confirmed [`crate::amqp::AmqpBus`]. `Ok(None)`: stopped during startup.
#[cfg(feature = "amqp")]
pub(crate) async fn connect_bus(
    process: &Process,
    topology: &crate::topology::Topology,
) -> Result<Option<Arc<crate::amqp::AmqpBus>>, ProcessError> {
    use crate::amqp::{AmqpBus, AmqpError, connect_with_retry, declare};
    let url = process.options.config.amqp_url.clone();
    let amqp = |what| {
        move |source| ProcessError::Amqp {
            what,
            source: Box::new(source),
        }
    };
    let Some(connection) = process
        .retry("RabbitMQ", || connect_with_retry(&url, Duration::ZERO))
        .await
        .map_err(amqp("connecting"))?
    else {
        return Ok(None);
    };
    let declared = async {
        let channel = connection.create_channel().await.map_err(AmqpError::from)?;
        declare(&channel, topology).await?;
        let _ = channel.close(200, "declared".into()).await;
        Ok::<_, AmqpError>(())
    }
    .await;
    let _ = connection.close(200, "declared".into()).await;
    declared.map_err(amqp("declaring the topology"))?;
    tracing::info!(service = process.info.name, "topology declared");
    let Some(bus) = process
        .stop
        .or_stop(AmqpBus::connect(&url, topology.clone()))
        .await
    else {
        return Ok(None);
    };
    Ok(Some(Arc::new(bus.map_err(amqp("opening the publisher"))?)))
}

/// Readiness of the publisher: connected, or (it reconnects on the next publish) the broker
/// at least accepts a connection now.
#[cfg(feature = "amqp")]
pub(crate) fn bus_check(bus: Arc<crate::amqp::AmqpBus>, url: String) -> Arc<dyn ReadinessCheck> {
    Check::from_fn("rabbitmq", move || {
        let (bus, url) = (bus.clone(), url.clone());
        async move {
            if bus.is_connected().await {
                return Ok(());
            }
            match crate::amqp::connect_with_retry(&url, Duration::ZERO).await {
                Ok(c) => {
                    let _ = c.close(200, "readiness probe".into()).await;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    })
}

/// A consumer of `queue` with the process's prefetch, depth reporting and a ready flag.
#[cfg(feature = "amqp")]
pub(crate) fn consumer(
    process: &Process,
    topology: &crate::topology::Topology,
    queue: &str,
    ready: Arc<std::sync::atomic::AtomicBool>,
) -> Result<crate::amqp::Consumer, ProcessError> {
    let consumer =
        crate::amqp::Consumer::new(&process.options.config.amqp_url, topology.clone(), queue)
            .map_err(|source| ProcessError::Amqp {
                what: "creating the consumer",
                source: Box::new(source),
            })?;
    // `PREFETCH` overrides the catalog's value, which the topology carries.
    let consumer = match process.options.config.prefetch {
        Some(p) => consumer.prefetch(p),
        None => consumer,
    };
    Ok(consumer
        .declare_topology(true)
        .report_depth_every(process.options.depth_every)
        .ready_flag(ready))
}

/// Spawns `consumer` with `handler` as the `consumer` task.
#[cfg(feature = "amqp")]
pub(crate) fn spawn_consumer<H: crate::amqp::MessageHandler>(
    process: &mut Process,
    consumer: crate::amqp::Consumer,
    handler: H,
) {
    let stop = process.stop.wait();
    process.spawn("consumer", async move {
        consumer
            .run(Arc::new(handler), stop)
            .await
            .map_err(|source| ProcessError::Amqp {
                what: "consuming",
                source: Box::new(source),
            })
    });
}

/// Shuts the MongoDB client down inside the process's runtime. Dropping the last client
/// instead spawns its session cleanup while the runtime is going away, where the driver
/// (3.9) panics.
#[cfg(feature = "mongo")]
pub(crate) async fn close_mongo(db: mongodb::Database) {
    let client = db.client().clone();
    drop(db);
    client.shutdown().immediate(true).await;
}

/// Connects to MongoDB (retrying a `ping` until it answers). `Ok(None)`: stopped.
#[cfg(feature = "mongo")]
pub(crate) async fn connect_mongo(
    process: &Process,
) -> Result<Option<mongodb::Database>, ProcessError> {
    let cfg = &process.options.config;
    let url = cfg.mongodb_url.clone();
    let err = |source| ProcessError::Mongo {
        url: super::redact(&url),
        source,
    };
    let db = crate::mongo::connect(&url, &cfg.mongodb_database)
        .await
        .map_err(err)?;
    // The driver waits up to its server selection timeout (30 s by default) per attempt:
    // bound each attempt so that the startup timeout holds.
    let per_attempt = process.options.startup_timeout.min(Duration::from_secs(10));
    let ping = process
        .retry("MongoDB", || async {
            tokio::time::timeout(per_attempt, crate::mongo::ping(&db))
                .await
                .unwrap_or_else(|_| {
                    Err(mongodb::error::Error::custom(format!(
                        ": no answer to ping within {per_attempt:?}"
                    )))
                })
        })
        .await
        .map_err(err)?;
    Ok(ping.map(|()| db))
}

/// Readiness of MongoDB: `ping`.
#[cfg(feature = "mongo")]
pub(crate) fn mongo_check(db: mongodb::Database) -> Arc<dyn ReadinessCheck> {
    Check::from_fn("mongodb", move || {
        let db = db.clone();
        async move { crate::mongo::ping(&db).await.map_err(|e| e.to_string()) }
    })
}

/// Creates the indexes of every collection.
#[cfg(feature = "mongo")]
pub(crate) async fn ensure_indexes(
    store: &dyn crate::read_model::ReadModelStore,
    indexes: &[(&'static str, crate::read_model::IndexSpec)],
) -> Result<(), ProcessError> {
    let mut by_collection: Vec<(&str, Vec<crate::read_model::IndexSpec>)> = Vec::new();
    for (collection, index) in indexes {
        match by_collection.iter_mut().find(|(c, _)| c == collection) {
            Some((_, list)) => list.push(index.clone()),
            None => by_collection.push((collection, vec![index.clone()])),
        }
    }
    for (collection, list) in by_collection {
        store
            .ensure_indexes(collection, &list)
            .await
            .map_err(|source| ProcessError::ReadModelIndexes {
                collection: collection.to_owned(),
                source,
            })?;
    }
    Ok(())
}

//! [`RunOptions`]: what a process runner needs besides its [`ServiceConfig`] — shutdown
//! trigger, startup and shutdown timeouts, saga timing, pool size, outbox polling and the
//! retention of bookkeeping — with defaults and the environment variables that override them.

use super::{ProcessError, ProcessInfo, shutdown_signal};
use crate::config::{ConfigError, ServiceConfig};
use crate::store::Retention;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

pub(crate) type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Default [`RunOptions::startup_timeout`].
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`RunOptions::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Default [`RunOptions::depth_every`].
pub const DEFAULT_DEPTH_EVERY: Duration = Duration::from_secs(15);
/// Default [`RunOptions::saga_tick_every`] (`SAGA_TICK_MS`).
pub const DEFAULT_SAGA_TICK: Duration = Duration::from_secs(1);
/// Default [`RunOptions::saga_recover_every`] (`SAGA_RECOVER_MS`).
pub const DEFAULT_SAGA_RECOVER: Duration = Duration::from_secs(30);
/// Default [`RunOptions::db_max_connections`].
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 10;
/// Default [`RunOptions::outbox_poll_every`].
pub const DEFAULT_OUTBOX_POLL: Duration = Duration::from_secs(1);

/// How a runner is run: its configuration, when it stops, and tuning knobs. The plain
/// `run_*` functions use [`RunOptions::from_env`]; tests build one with
/// [`RunOptions::new`] and a shutdown future of their own, without touching the process
/// environment.
///
/// ```
/// use runtime::config::ServiceConfig;
/// use runtime::process::RunOptions;
/// use std::time::Duration;
///
/// let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
/// let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
/// let options = RunOptions::new(ServiceConfig { name_prefix: "t_1".into(), ..ServiceConfig::default() })
///     .with_shutdown(async move { let _ = stop_rx.await; })
///     .notify_bound(addr_tx)
///     .saga_tick_every(Duration::from_millis(100));
/// assert_eq!(options.config().name_prefix, "t_1");
/// # drop((stop_tx, addr_rx));
/// ```
pub struct RunOptions {
    pub(super) config: ServiceConfig,
    // In a mutex only to make `RunOptions` (and the runner futures holding it) `Sync`.
    pub(super) shutdown: std::sync::Mutex<Option<ShutdownFuture>>,
    pub(super) bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    pub(super) startup_timeout: Duration,
    pub(super) shutdown_grace: Duration,
    pub(super) depth_every: Option<Duration>,
    pub(super) saga_tick: Duration,
    pub(super) saga_recover: Duration,
    pub(super) saga_time_scale: f64,
    pub(super) db_max_connections: u32,
    pub(super) outbox_poll: Duration,
    pub(super) retention: Retention,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("http_addr", &self.config.http_addr)
            .field("name_prefix", &self.config.name_prefix)
            .field("startup_timeout", &self.startup_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("depth_every", &self.depth_every)
            .field("saga_tick", &self.saga_tick)
            .field("saga_recover", &self.saga_recover)
            .field("saga_time_scale", &self.saga_time_scale)
            .field("db_max_connections", &self.db_max_connections)
            .field("outbox_poll", &self.outbox_poll)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Options with `config`, stopping on [`shutdown_signal`], with the default knobs.
    pub fn new(config: ServiceConfig) -> Self {
        RunOptions {
            config,
            shutdown: std::sync::Mutex::new(Some(Box::pin(shutdown_signal()))),
            bound: None,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            depth_every: Some(DEFAULT_DEPTH_EVERY),
            saga_tick: DEFAULT_SAGA_TICK,
            saga_recover: DEFAULT_SAGA_RECOVER,
            saga_time_scale: 1.0,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            outbox_poll: DEFAULT_OUTBOX_POLL,
            retention: Retention::default(),
        }
    }

    /// Options from the process environment: [`ServiceConfig::from_env_with`] over
    /// [`ProcessInfo::default_config`], plus `SAGA_TICK_MS` and `SAGA_RECOVER_MS`
    /// (milliseconds, at least 1) and `SAGA_TIME_SCALE` for saga processes, and
    /// `PROCESSED_COMMAND_RETENTION`, `OUTBOX_RETENTION`, `REACTION_MARKER_RETENTION` and
    /// `RETENTION_INTERVAL` (durations such as `7d`, `12h`, `30min`) for command and event
    /// handlers.
    pub fn from_env(info: &ProcessInfo) -> Result<Self, ProcessError> {
        let config = ServiceConfig::from_env_with(info.default_config()?)?;
        let mut options = Self::new(config);
        if let Some(ms) = env_millis("SAGA_TICK_MS")? {
            options.saga_tick = ms;
        }
        if let Some(ms) = env_millis("SAGA_RECOVER_MS")? {
            options.saga_recover = ms;
        }
        if let Some(d) = env_duration("PROCESSED_COMMAND_RETENTION")? {
            options.retention.processed_commands = d;
        }
        if let Some(d) = env_duration("OUTBOX_RETENTION")? {
            options.retention.published_outbox = d;
        }
        if let Some(d) = env_duration("REACTION_MARKER_RETENTION")? {
            options.retention.reaction_markers = d;
        }
        if let Some(d) = env_duration("RETENTION_INTERVAL")? {
            options.retention.every = d;
        }
        if let Ok(raw) = std::env::var("SAGA_TIME_SCALE")
            && !raw.trim().is_empty()
        {
            match raw.trim().parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 && f <= 1.0 => options.saga_time_scale = f,
                _ => {
                    return Err(ProcessError::Config(crate::config::ConfigError {
                        variable: "SAGA_TIME_SCALE",
                        value: raw,
                        reason: "expected a number in (0, 1]".into(),
                    }));
                }
            }
        }
        Ok(options)
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Stops the process when `shutdown` completes (instead of [`shutdown_signal`]).
    pub fn with_shutdown(mut self, shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = std::sync::Mutex::new(Some(Box::pin(shutdown)));
        self
    }

    /// Sends the bound HTTP address on `tx` once the listener is bound (useful with port 0).
    pub fn notify_bound(mut self, tx: tokio::sync::oneshot::Sender<SocketAddr>) -> Self {
        self.bound = Some(tx);
        self
    }

    /// How long to wait for the servers (broker, databases) at startup (default 60 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// How long to wait for the background tasks after shutdown before aborting them
    /// (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// How often the consumer updates `queue_depth{queue}` (`None`: never; default 15 s).
    pub fn depth_every(mut self, every: Option<Duration>) -> Self {
        self.depth_every = every;
        self
    }

    /// How often a saga process fires due timers (default 1 s).
    pub fn saga_tick_every(mut self, every: Duration) -> Self {
        self.saga_tick = every;
        self
    }

    /// How often a saga process republishes pending commands (default 30 s).
    pub fn saga_recover_every(mut self, every: Duration) -> Self {
        self.saga_recover = every;
        self
    }

    /// Scales every saga timeout and retry delay by `factor` in (0, 1] (`SAGA_TIME_SCALE`),
    /// so that tests can exercise timeouts quickly. The default, 1, runs the catalog's times.
    pub fn saga_time_scale(mut self, factor: f64) -> Self {
        if factor.is_finite() && factor > 0.0 && factor <= 1.0 {
            self.saga_time_scale = factor;
        }
        self
    }

    /// PostgreSQL pool size of a command handler (default 10).
    pub fn db_max_connections(mut self, n: u32) -> Self {
        self.db_max_connections = n.max(1);
        self
    }

    /// Polling fallback of the outbox relay (default 1 s; `NOTIFY` wakes it sooner).
    pub fn outbox_poll_every(mut self, every: Duration) -> Self {
        self.outbox_poll = every;
        self
    }

    /// Retention of a command handler's markers and published outbox rows (default
    /// [`Retention::default`]).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }
}

/// A positive duration (`7d`, `12h`, `30min`, `500ms`) from `variable`; unset or empty: `None`.
fn env_duration(variable: &'static str) -> Result<Option<Duration>, ConfigError> {
    let Ok(value) = std::env::var(variable) else {
        return Ok(None);
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    match humantime::parse_duration(value.trim()) {
        Ok(d) if !d.is_zero() => Ok(Some(d)),
        Ok(_) => Err(ConfigError {
            variable,
            value,
            reason: "expected a positive duration".into(),
        }),
        Err(e) => Err(ConfigError {
            variable,
            value,
            reason: format!("expected a duration such as `7d` or `12h` ({e})"),
        }),
    }
}

fn env_millis(variable: &'static str) -> Result<Option<Duration>, ConfigError> {
    let Ok(value) = std::env::var(variable) else {
        return Ok(None);
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
        _ => Err(ConfigError {
            variable,
            value,
            reason: "expected a positive number of milliseconds".into(),
        }),
    }
}

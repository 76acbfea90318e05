//! Shared helpers for the integration tests (`mod support;` in a `tests/*.rs` file).
//!
//! Tests run against the real servers of this machine and isolate themselves:
//! - RabbitMQ: every queue/exchange name starts with [`unique_prefix`] (see `Topology::with_prefix`);
//! - PostgreSQL: a database of its own ([`create_database`] / [`drop_database`], feature `postgres`);
//! - MongoDB: a database of its own, named with [`unique_prefix`].
//!
//! Call [`ensure_services`] first: it runs `scripts/services.sh` once per test binary.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

/// Default AMQP URL (overridden by `AMQP_URL`).
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Default PostgreSQL URL (overridden by `DATABASE_URL`).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Default MongoDB URL (overridden by `MONGODB_URL`).
pub const DEFAULT_MONGODB_URL: &str = "mongodb://127.0.0.1:27017";

/// A name unique to this test run, valid as a RabbitMQ name prefix, a PostgreSQL database name
/// and a MongoDB database name: lowercase ASCII letters, digits and `_`, at most 48 characters,
/// starting with `t_`. Example: `t_routes_commands_3f9a1c2b7d`.
pub fn unique_prefix(test_name: &str) -> String {
    let mut clean: String = test_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    clean.truncate(34);
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{clean}_{}", &id[..10])
}

/// `AMQP_URL` or the local default.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// `DATABASE_URL` or the local default (the maintenance database `postgres`).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// `MONGODB_URL` or the local default.
pub fn mongo_url() -> String {
    std::env::var("MONGODB_URL").unwrap_or_else(|_| DEFAULT_MONGODB_URL.to_owned())
}

/// Path of `scripts/services.sh` in the repository.
pub fn services_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("services.sh")
}

/// Makes RabbitMQ, PostgreSQL and the MongoDB-protocol server available: runs
/// `scripts/services.sh` once per test binary (the script itself is idempotent and
/// serialised with `flock`, so concurrent test binaries are fine). Panics with the script's
/// output when it fails.
pub fn ensure_services() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let script = services_script();
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Replaces the database name (the path) of a PostgreSQL URL.
pub fn database_url_for(name: &str) -> String {
    let base = database_url();
    let (without_query, query) = match base.split_once('?') {
        Some((a, q)) => (a.to_owned(), Some(q.to_owned())),
        None => (base.clone(), None),
    };
    let scheme_end = without_query.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = without_query[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(without_query.len());
    let mut url = format!("{}/{}", &without_query[..host_end], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(&q);
    }
    url
}

/// Creates the PostgreSQL database `name` (use [`unique_prefix`]) and returns its URL.
#[cfg(feature = "postgres")]
pub async fn create_database(name: &str) -> String {
    use sqlx::Connection;
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "unsafe database name {name:?}"
    );
    let mut conn = sqlx::PgConnection::connect(&database_url())
        .await
        .expect("connect to the maintenance database");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create database");
    conn.close().await.ok();
    database_url_for(name)
}

/// Drops the PostgreSQL database `name`, disconnecting its remaining sessions.
#[cfg(feature = "postgres")]
pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "unsafe database name {name:?}"
    );
    let mut conn = sqlx::PgConnection::connect(&database_url())
        .await
        .expect("connect to the maintenance database");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .expect("drop database");
    conn.close().await.ok();
}

/// Polls `poll` (every 25 ms) until it returns `true`; panics with `what` when `timeout`
/// passes first. Use it instead of fixed sleeps.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut poll: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if poll().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `poll` (every 25 ms) until it returns `Some`, and returns the value; panics with
/// `what` when `timeout` passes first.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut poll: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = poll().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Lock file serialising tests that restart the broker against tests that use it.
pub const BROKER_LOCK_FILE: &str = "/var/tmp/runtime-broker-restart.lock";

/// Holds a broker lock until dropped.
pub struct BrokerLock(std::fs::File);

impl Drop for BrokerLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn open_broker_lock() -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(BROKER_LOCK_FILE)
        .unwrap_or_else(|e| panic!("cannot open {BROKER_LOCK_FILE}: {e}"))
}

/// A shared lock on the broker: tests that talk to RabbitMQ hold it so that a
/// broker-restart test (which takes [`broker_exclusive_lock`]) never runs in their middle.
/// Blocks while a restart test runs.
pub fn broker_shared_lock() -> BrokerLock {
    let f = open_broker_lock();
    f.lock_shared().expect("shared broker lock");
    BrokerLock(f)
}

/// The exclusive broker lock, for tests that stop/start the RabbitMQ app. Blocks until no
/// other test holds the broker lock.
pub fn broker_exclusive_lock() -> BrokerLock {
    let f = open_broker_lock();
    f.lock().expect("exclusive broker lock");
    BrokerLock(f)
}

/// Connects to the broker and declares `topology` with `runtime::amqp::declare`; returns the
/// connection (close it when done).
#[cfg(feature = "amqp")]
pub async fn declare_on_broker(topology: &runtime::topology::Topology) -> lapin::Connection {
    let conn = lapin::Connection::connect(&amqp_url(), Default::default())
        .await
        .expect("connect to RabbitMQ");
    runtime::amqp::declare(&conn.create_channel().await.expect("channel"), topology)
        .await
        .expect("declare the topology");
    conn
}

/// Deletes every queue and exchange of `topology` (test clean-up; errors are ignored).
#[cfg(feature = "amqp")]
pub async fn delete_topology(topology: &runtime::topology::Topology) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) = lapin::Connection::connect(&amqp_url(), Default::default()).await else {
        return;
    };
    for q in &topology.queues {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
                .await;
            let _ = ch.close(200, "".into()).await;
        }
    }
    for e in &topology.exchanges {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete(e.name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
            let _ = ch.close(200, "".into()).await;
        }
    }
    let _ = conn.close(200, "".into()).await;
}

/// Takes (and acks) the next message of `queue`, if any.
#[cfg(feature = "amqp")]
pub async fn get_message(
    channel: &lapin::Channel,
    queue: &str,
) -> Option<lapin::message::Delivery> {
    use lapin::options::{BasicAckOptions, BasicGetOptions};
    let msg = channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .expect("basic.get")?;
    msg.delivery
        .ack(BasicAckOptions::default())
        .await
        .expect("ack");
    Some(msg.delivery)
}

/// Waits (up to `timeout`) for the next message of `queue` and takes it.
#[cfg(feature = "amqp")]
pub async fn next_message(
    channel: &lapin::Channel,
    queue: &str,
    timeout: Duration,
) -> lapin::message::Delivery {
    wait_for(timeout, &format!("a message in {queue}"), || async {
        get_message(channel, queue).await
    })
    .await
}

/// Runs `rabbitmqctl <arg>` (the tests run as root beside the broker).
pub fn rabbitmqctl(arg: &str) -> std::process::Output {
    std::process::Command::new("rabbitmqctl")
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl {arg}: {e}"))
}

/// Starts the RabbitMQ app when dropped (also on panic) and waits up to 90 s for the AMQP
/// port: what a test that runs `rabbitmqctl stop_app` holds so the broker always comes back.
pub struct StartAppGuard;

impl Drop for StartAppGuard {
    fn drop(&mut self) {
        let out = rabbitmqctl("start_app");
        if !out.status.success() {
            eprintln!(
                "rabbitmqctl start_app failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect("127.0.0.1:5672").is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

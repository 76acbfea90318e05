//! Harness of the end-to-end tests: starts the generated processes of the example system as
//! separate OS processes (the binaries built in the shared target dir), each test run isolated
//! by a unique `NAME_PREFIX`, a fresh PostgreSQL database, a fresh MongoDB database and ports
//! chosen by the OS (`HTTP_ADDR=127.0.0.1:0`; the bound address is read from the process's
//! JSON `listening` log line), and drives them over HTTP.
//!
//! Dropping a [`System`] kills every process (SIGTERM, bounded wait, SIGKILL), deletes the
//! prefixed RabbitMQ queues and exchanges and drops the PostgreSQL database (and the MongoDB
//! one on a real MongoDB; see `drop_mongo`), also when a test panics.
//! Process logs (`LOG_FORMAT=json`) stay in `target/e2e-logs/<prefix>/` for inspection.
//!
//! The binaries must be built first (`scripts/test.sh` does it):
//! `cargo build -p <every process package> -p order-fulfillment-saga`.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The HS256 secret the test processes accept.
pub const SECRET: &str = "e2e-test-secret";
/// Every process of the example system (package = binary name).
pub const PROCESSES: &[&str] = &[
    "inventory-command-api",
    "inventory-command-handler",
    "inventory-event-handler",
    "inventory-query-api",
    "ordering-command-api",
    "ordering-command-handler",
    "ordering-event-handler",
    "ordering-query-api",
    "payments-command-api",
    "payments-command-handler",
    "payments-event-handler",
    "payments-query-api",
    "shipping-command-api",
    "shipping-command-handler",
    "shipping-event-handler",
    "shipping-query-api",
    "order-fulfillment-saga",
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Admin PostgreSQL URL (`DATABASE_URL` or the local default).
pub fn pg_admin_url() -> String {
    env_or(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// `AMQP_URL` or the local default.
pub fn amqp_url() -> String {
    env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
}

/// `MONGODB_URL` or the local default.
pub fn mongodb_url() -> String {
    env_or("MONGODB_URL", "mongodb://127.0.0.1:27017")
}

/// Runs `scripts/services.sh` once per test binary.
pub fn ensure_services() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/services.sh"))
            .output()
            .expect("run scripts/services.sh");
        assert!(
            out.status.success(),
            "scripts/services.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Polls `f` until it returns `Some`, at most `timeout`; panics with `what` and the last
/// value seen on the deadline.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match f() {
            Ok(v) => return v,
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last: {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The `Content-Type` header, lower-cased (empty when absent).
    pub content_type: String,
    /// Body text.
    pub body: String,
}

impl Response {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A minimal HTTP/1.1 client for 127.0.0.1 (`Connection: close`, `Content-Length` or chunked
/// bodies): enough for the APIs, health and metrics endpoints, without a client library.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Response, String> {
    let body = body.map(|b| b.to_string());
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if body.is_some() {
        all.push(("Content-Type", "application/json"));
    }
    http_raw(
        addr,
        method,
        path,
        &all,
        body.as_deref().unwrap_or("").as_bytes(),
    )
}

/// [`http`] with the body sent as given (any bytes, any content type in `headers`).
pub fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    // A server may answer (413) and close before reading a huge body: a failed write is
    // fine as long as a response can be read.
    let _ = s.write_all(&bytes);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("bad response: {text}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    let lower = head.to_ascii_lowercase();
    let content_type = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-type:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    let chunked = lower.contains("transfer-encoding: chunked");
    let body = if chunked {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_owned()
    };
    Ok(Response {
        status,
        content_type,
        body,
    })
}

/// One running process.
pub struct Proc {
    /// Package / binary name.
    pub name: String,
    /// Bound HTTP address.
    pub addr: SocketAddr,
    /// Its log file (stdout + stderr, JSON lines); a new one per start.
    pub log: PathBuf,
    child: Child,
    starts: u32,
}

/// The example system, started for one test.
pub struct System {
    /// The unique name of this run: RabbitMQ prefix, PostgreSQL and MongoDB database name.
    pub prefix: String,
    /// Running processes by key: the binary name, or `name#replica` for extra replicas.
    pub procs: BTreeMap<String, Proc>,
    db_url: String,
    log_dir: PathBuf,
    extra_env: Vec<(String, String)>,
    db_created: bool,
    _broker_lock: File,
}

impl System {
    /// Starts every process of [`PROCESSES`] except `skip`, waits until each reports ready,
    /// with `extra_env` added to each process's environment.
    pub fn start(test: &str, skip: &[&str], extra_env: &[(&str, &str)]) -> System {
        Self::start_locked(test, skip, extra_env, false)
    }

    /// [`System::start`] holding the broker-restart lock exclusively, for a test that restarts
    /// RabbitMQ itself (no other broker test runs meanwhile).
    pub fn start_exclusive(test: &str, skip: &[&str], extra_env: &[(&str, &str)]) -> System {
        Self::start_locked(test, skip, extra_env, true)
    }

    fn start_locked(
        test: &str,
        skip: &[&str],
        extra_env: &[(&str, &str)],
        exclusive: bool,
    ) -> System {
        ensure_services();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("e2e_{}_{}", test.to_ascii_lowercase(), &id[..8]);
        // Shared with the runtime's broker tests: no broker restart in the middle of a run.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/var/tmp/runtime-broker-restart.lock")
            .expect("broker lock file");
        if exclusive {
            lock.lock().expect("exclusive broker lock");
        } else {
            lock.lock_shared().expect("shared broker lock");
        }
        let db_url = format!(
            "{}/{prefix}",
            pg_admin_url().rsplit_once('/').expect("database URL").0
        );
        let log_dir = target_dir().join("e2e-logs").join(&prefix);
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let mut sys = System {
            prefix: prefix.clone(),
            procs: BTreeMap::new(),
            db_url,
            log_dir,
            extra_env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            db_created: false,
            _broker_lock: lock,
        };
        psql(&format!("CREATE DATABASE {prefix}"));
        sys.db_created = true;
        let names: Vec<String> = PROCESSES
            .iter()
            .filter(|p| !skip.contains(p))
            .map(|p| p.to_string())
            .collect();
        for name in &names {
            sys.spawn(name, name);
        }
        for name in &names {
            sys.wait_ready(name);
        }
        sys
    }

    /// Starts the binary `name` as the process `key` (not waiting for it).
    /// The command that runs the binary `name` with this run's environment.
    fn command(&self, name: &str) -> Command {
        let bin = target_dir().join("debug").join(name);
        assert!(
            bin.exists(),
            "{} is missing: build the processes first (cargo build -p {name} ...; scripts/test.sh does)",
            bin.display()
        );
        let mut cmd = Command::new(&bin);
        cmd.env("AMQP_URL", amqp_url())
            .env("DATABASE_URL", &self.db_url)
            .env("MONGODB_URL", mongodb_url())
            .env("MONGODB_DATABASE", &self.prefix)
            .env("NAME_PREFIX", &self.prefix)
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            // per-message debug lines ("command handled", "saga event handled") carry the
            // message span with its correlation id
            .env("RUST_LOG", "info,runtime=debug")
            .env("JWT_HS256_SECRET", SECRET)
            .env("SAGA_TICK_MS", "200")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the binary `name` once with `args` and this run's environment, to its end.
    pub fn run_once(&self, name: &str, args: &[&str]) -> std::process::Output {
        self.command(name)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {name}: {e}"))
    }

    fn spawn(&mut self, name: &str, key: &str) {
        let starts = self.procs.get(key).map_or(0, |p| p.starts) + 1;
        let log = self
            .log_dir
            .join(format!("{}.{starts}.log", key.replace('#', "-")));
        let file = File::create(&log).expect("log file");
        let mut cmd = self.command(name);
        cmd.stdout(file.try_clone().expect("log")).stderr(file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        self.procs.insert(
            key.to_owned(),
            Proc {
                name: name.to_owned(),
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                log,
                child,
                starts,
            },
        );
    }

    /// Waits until the process `key` listens and reports ready.
    pub fn wait_ready(&mut self, key: &str) {
        let addr = {
            let p = self.procs.get_mut(key).expect("proc");
            let log = p.log.clone();
            let child = &mut p.child;
            wait_for(Duration::from_secs(90), &format!("{key} listening"), || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{key} exited ({status}) during startup:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                listening_addr(&log).ok_or_else(|| "no listening line yet".to_owned())
            })
        };
        self.procs.get_mut(key).expect("proc").addr = addr;
        wait_for(Duration::from_secs(90), &format!("{key} ready"), || {
            let r = http(addr, "GET", "/health/ready", &[], None)?;
            if r.status == 200 {
                Ok(())
            } else {
                Err(format!("{} {}", r.status, r.body))
            }
        });
    }

    /// Starts one more replica of the process `name` as `name#replica` and waits until it is
    /// ready.
    pub fn start_replica(&mut self, name: &str, replica: &str) -> String {
        let key = format!("{name}#{replica}");
        self.spawn(name, &key);
        self.wait_ready(&key);
        key
    }

    /// SIGKILLs the process `key` (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self, key: &str) {
        let p = self
            .procs
            .get_mut(key)
            .unwrap_or_else(|| panic!("{key} is not running"));
        let _ = p.child.kill();
        let _ = p.child.wait();
    }

    /// Starts the process `key` again (after [`System::kill`]) and waits until it is ready.
    pub fn restart(&mut self, key: &str) {
        let name = self.procs[key].name.clone();
        self.spawn(&name, key);
        self.wait_ready(key);
    }

    /// The keys of the running processes.
    pub fn keys(&self) -> Vec<String> {
        self.procs.keys().cloned().collect()
    }

    /// `GET path` on the running process `name` with the `Authorization` header `auth`: the
    /// JSON body of a 200 answer, else `None`.
    pub fn get_json(&self, name: &str, path: &str, auth: &str) -> Option<Value> {
        let r = http(
            self.addr(name),
            "GET",
            path,
            &[("Authorization", auth)],
            None,
        )
        .ok()?;
        (r.status == 200).then(|| r.json())
    }

    /// The address of a running process.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.procs
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not running"))
            .addr
    }

    /// Every JSON log line of a process.
    pub fn logs(&self, name: &str) -> Vec<Value> {
        let Some(p) = self.procs.get(name) else {
            return Vec::new();
        };
        let Ok(f) = File::open(&p.log) else {
            return Vec::new();
        };
        std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }

    /// A dev token of `sub` in tenant `acme` with `roles`.
    pub fn token(&self, sub: &str, roles: &str) -> String {
        runtime::process::dev_token::DevTokenArgs::parse([
            "--secret", SECRET, "--sub", sub, "--tenant", "acme", "--roles", roles,
        ])
        .and_then(|a| a.token())
        .expect("dev token")
    }

    /// Runs `query` on this run's PostgreSQL database (`psql -At`): one string per row, the
    /// columns separated by `|`. Panics when psql fails.
    pub fn sql(&self, query: &str) -> Vec<String> {
        let out = Command::new("psql")
            .args([&self.db_url, "-v", "ON_ERROR_STOP=1", "-Atc", query])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The MongoDB database of this run.
    pub fn mongo_database(&self) -> &str {
        &self.prefix
    }

    fn stop(&mut self) {
        for p in self.procs.values() {
            // SIGTERM: the runners shut down gracefully on it.
            let _ = Command::new("kill")
                .args(["-TERM", &p.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for p in self.procs.values_mut() {
            while Instant::now() < deadline && matches!(p.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(p.child.try_wait(), Ok(None)) {
                eprintln!("{} did not stop on SIGTERM; killing it", p.name);
                let _ = p.child.kill();
            }
            let _ = p.child.wait();
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.stop();
        let prefix = self.prefix.clone();
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                let _ =
                    tokio::time::timeout(Duration::from_secs(30), cleanup_broker(&prefix)).await;
                let _ = tokio::time::timeout(Duration::from_secs(30), drop_mongo(&prefix)).await;
            });
        }
        if self.db_created {
            psql(&format!("DROP DATABASE IF EXISTS {prefix} WITH (FORCE)"));
        }
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .arg(pg_admin_url())
        .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn listening_addr(log: &Path) -> Option<SocketAddr> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening"))
        })
        .and_then(|v| v["fields"]["addr"].as_str()?.parse().ok())
}

/// Deletes every queue and exchange of the generated topology, prefixed.
async fn cleanup_broker(prefix: &str) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let json = include_str!("../../../generated/topology.json");
    let Ok(topology) = runtime::process::topology_from_json(json) else {
        return;
    };
    let topology = topology.with_prefix(prefix);
    let Ok(conn) = lapin::Connection::connect(&amqp_url(), Default::default()).await else {
        return;
    };
    if let Ok(ch) = conn.create_channel().await {
        for q in &topology.queues {
            let _ = ch
                .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for e in &topology.exchanges {
            let _ = ch
                .exchange_delete(e.name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "".into()).await;
}

/// Drops the run's MongoDB database on a real MongoDB (`MONGODB_URL` set). On the local
/// SecantusDB it is left behind: SecantusDB's `dropDatabase` holds the server's global lock
/// while it deletes key by key, which once took over 20 minutes after an end-to-end run and
/// starved every other test; `scripts/test.sh` starts SecantusDB on an empty data directory
/// instead (`SERVICES_FRESH_MONGO=1`).
async fn drop_mongo(db: &str) {
    if std::env::var("MONGODB_URL").is_ok_and(|u| !u.is_empty())
        && let Ok(client) = mongodb::Client::with_uri_str(mongodb_url()).await
    {
        let _ = client.database(db).drop().await;
    }
}

/// Reads a saga instance document (`sagas` collection) by correlation key, as JSON.
pub fn saga_document(sys: &System, key: &str) -> Option<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let client = mongodb::Client::with_uri_str(mongodb_url()).await.ok()?;
        let coll = client
            .database(sys.mongo_database())
            .collection::<mongodb::bson::Document>("sagas");
        let doc = coll
            .find_one(mongodb::bson::doc! { "correlation_key": key })
            .await
            .ok()??;
        mongodb::bson::deserialize_from_document::<Value>(doc).ok()
    })
}

/// The value of metric `name` with all `labels` in a Prometheus text exposition.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
}

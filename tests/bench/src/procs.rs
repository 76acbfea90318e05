//! Starting the generated processes (release binaries) for one isolated run: a unique
//! `NAME_PREFIX`, its own PostgreSQL database and MongoDB database, ports chosen by the OS;
//! and removing all of it afterwards. (The e2e harness does the same for the tests; it is not
//! reused because its crate links lapin with rustls on aws-lc, which the bench stays free of.)

use crate::{Ctx, Res};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The HS256 secret the started processes accept.
pub const SECRET: &str = "msgen-bench-secret";
/// The tenant of every command and query of the bench.
pub const TENANT: &str = "acme";
/// Log filter of the processes: warnings only (per-message debug logging off), plus the
/// `listening` line the launcher reads the bound address from.
pub const RUST_LOG: &str = "warn,runtime::process::support=info";

/// Where the servers and the binaries are.
#[derive(Clone, Debug)]
pub struct Env {
    /// `AMQP_URL`.
    pub amqp_url: String,
    /// Admin PostgreSQL URL (`DATABASE_URL`); run databases are created beside it.
    pub pg_admin_url: String,
    /// `MONGODB_URL`.
    pub mongodb_url: String,
    /// Folder of the release binaries.
    pub bin_dir: PathBuf,
    /// Folder of the results and process logs.
    pub out_dir: PathBuf,
    /// A bearer token of tenant [`TENANT`] with every role, made by the runtime's `dev-token`.
    pub token: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Env {
    /// From the environment (`AMQP_URL`, `DATABASE_URL`, `MONGODB_URL`, `CARGO_TARGET_DIR`)
    /// with the local defaults.
    pub fn from_env() -> Res<Env> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
        let bin_dir = target.join("release");
        let out = Command::new(bin_dir.join("dev-token"))
            .args(["--secret", SECRET, "--sub", "bench", "--tenant", TENANT])
            .args([
                "--roles",
                "warehouse,admin,customer,support",
                "--ttl",
                "86400",
            ])
            .output()
            .ctx("run dev-token (build it: cargo build --release -p runtime --features auth)")?;
        if !out.status.success() {
            return Err(format!(
                "dev-token failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Env {
            amqp_url: env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            pg_admin_url: env_or(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            mongodb_url: env_or("MONGODB_URL", "mongodb://127.0.0.1:27017"),
            bin_dir,
            out_dir: target.join("bench"),
            token: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        })
    }

    /// A MongoDB client.
    pub async fn mongo(&self) -> Res<mongodb::Client> {
        mongodb::Client::with_uri_str(&self.mongodb_url)
            .await
            .ctx("connect to MongoDB")
    }
}

struct Proc {
    child: Child,
    addr: SocketAddr,
}

/// One isolated run: prefix, databases, started processes.
pub struct Run {
    /// `NAME_PREFIX`, PostgreSQL and MongoDB database name.
    pub prefix: String,
    /// URL of this run's PostgreSQL database.
    pub db_url: String,
    env: Env,
    log_dir: PathBuf,
    procs: BTreeMap<String, Proc>,
    _broker_lock: File,
}

impl Run {
    /// A new run named after `phase`: creates its PostgreSQL database and takes the broker
    /// lock shared (tests that restart RabbitMQ take it exclusively, so none runs meanwhile).
    pub async fn new(env: &Env, phase: &str) -> Res<Run> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("bench_{phase}_{}", &id[..8]);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/var/tmp/runtime-broker-restart.lock")
            .ctx("broker lock file")?;
        lock.lock_shared().ctx("broker lock")?;
        admin_sql(env, &format!("CREATE DATABASE {prefix}")).await?;
        let base = env.pg_admin_url.rsplit_once('/').ctx("database URL")?.0;
        let log_dir = env.out_dir.join("logs").join(&prefix);
        std::fs::create_dir_all(&log_dir).ctx("log dir")?;
        Ok(Run {
            db_url: format!("{base}/{prefix}"),
            prefix,
            env: env.clone(),
            log_dir,
            procs: BTreeMap::new(),
            _broker_lock: lock,
        })
    }

    /// Starts the release binary `name` with `extra` environment and waits until it listens
    /// and reports ready; returns its HTTP address.
    pub async fn start(&mut self, name: &str, extra: &[(&str, &str)]) -> Res<SocketAddr> {
        let bin = self.env.bin_dir.join(name);
        if !bin.exists() {
            return Err(format!(
                "{} is missing: cargo build --release -p {name}",
                bin.display()
            ));
        }
        if let Some(mut old) = self.procs.remove(name) {
            terminate(&mut old.child);
        }
        let log = self.log_dir.join(format!("{name}.{}.log", now_ms()));
        let file = File::create(&log).ctx("log file")?;
        let mut cmd = Command::new(&bin);
        cmd.env("AMQP_URL", &self.env.amqp_url)
            .env("DATABASE_URL", &self.db_url)
            .env("MONGODB_URL", &self.env.mongodb_url)
            .env("MONGODB_DATABASE", &self.prefix)
            .env("NAME_PREFIX", &self.prefix)
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", RUST_LOG)
            .env("JWT_HS256_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(file.try_clone().ctx("log")?)
            .stderr(file);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().ctx(&format!("spawn {name}"))?;
        let deadline = Instant::now() + Duration::from_secs(90);
        let addr = loop {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("{name} exited ({status}) during startup:\n{text}"));
            }
            if let Some(addr) = listening_addr(&std::fs::read_to_string(&log).unwrap_or_default()) {
                break addr;
            }
            if Instant::now() > deadline {
                terminate(&mut child);
                return Err(format!("{name} did not listen within 90 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.procs.insert(name.to_owned(), Proc { child, addr });
        let mut conn = crate::load::Conn::new(addr);
        let ready = crate::load::request("GET", "/health/ready", &[], b"");
        loop {
            if let Ok((200, _)) = conn.send(&ready).await {
                return Ok(addr);
            }
            if Instant::now() > deadline {
                return Err(format!("{name} was not ready within 90 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process `name` (SIGTERM, then SIGKILL after 20 s).
    pub fn stop(&mut self, name: &str) {
        if let Some(mut p) = self.procs.remove(name) {
            terminate(&mut p.child);
        }
    }

    /// The HTTP address of the running process `name`.
    pub fn addr(&self, name: &str) -> Res<SocketAddr> {
        self.procs
            .get(name)
            .map(|p| p.addr)
            .ok_or_else(|| format!("{name} is not running"))
    }

    /// The process id of the running process `name`.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.procs.get(name).map(|p| p.child.id())
    }

    /// CPU seconds every running process used since it started, by name.
    pub fn cpu(&self) -> Vec<(String, f64)> {
        self.procs
            .iter()
            .filter_map(|(n, p)| Some((n.clone(), crate::profile::cpu_secs(p.child.id())?)))
            .collect()
    }

    /// Peak RSS in kB of every running process, by name.
    pub fn peak_rss(&self) -> Vec<(String, u64)> {
        self.procs
            .iter()
            .filter_map(|(n, p)| Some((n.clone(), crate::rss::peak_rss_kb(p.child.id())?)))
            .collect()
    }

    /// Stops every process and deletes the run's queues, exchanges and databases.
    pub async fn close(mut self) {
        for p in self.procs.values_mut() {
            let _ = Command::new("kill")
                .args(["-TERM", &p.child.id().to_string()])
                .status();
        }
        for p in self.procs.values_mut() {
            terminate(&mut p.child);
        }
        self.procs.clear();
        let cleanup = async {
            if let Err(e) = crate::amqp::delete_topology(&self.env.amqp_url, &self.prefix).await {
                eprintln!("bench: cleaning the broker: {e}");
            }
            // a disposable server (bench.sh's own) is removed whole instead: SecantusDB drops a
            // database key by key under its global lock
            if std::env::var_os("BENCH_MONGO_DISPOSABLE").is_none()
                && let Ok(client) = self.env.mongo().await
            {
                let _ = client.database(&self.prefix).drop().await;
            }
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.prefix);
            if let Err(e) = admin_sql(&self.env, &sql).await {
                eprintln!("bench: {e}");
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), cleanup).await;
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        for p in self.procs.values_mut() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// SIGTERM, up to 20 s for a graceful stop, then SIGKILL.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The address of the JSON `listening` log line, if it was written.
fn listening_addr(log: &str) -> Option<SocketAddr> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening"))
        })
        .and_then(|v| v["fields"]["addr"].as_str()?.parse().ok())
}

/// Runs one statement on the admin database.
pub async fn admin_sql(env: &Env, sql: &str) -> Res<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&env.pg_admin_url)
        .await
        .ctx("connect to PostgreSQL")?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .ctx(sql)?;
    let _ = conn.close().await;
    Ok(())
}

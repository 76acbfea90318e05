//! `msgen-bench`: the runtime benchmark of the generated example system (issue 11).
//!
//! Measures, in one run and on the local servers, the raw limits of RabbitMQ, PostgreSQL and
//! the MongoDB-protocol server; a hand-written naive pipeline; the generated inventory
//! CommandHandler alone; the inventory write path end to end (HTTP → read model) with a closed
//! and an open loop; the Query API against a direct query; the order-fulfillment saga with
//! stub participants; and the peak RSS of every process started. Prints one markdown table
//! and writes it to `$CARGO_TARGET_DIR/bench/results.md`.
//!
//! Run it through `scripts/bench.sh [--quick]`, which starts the servers and builds the
//! release binaries this needs (`dev-token` of the runtime and the processes).

mod amqp;
mod e2e;
mod handler;
mod load;
mod naive;
mod procs;
mod profile;
mod raw;
mod read;
mod rss;
mod saga;
mod stats;
mod table;

use std::fmt::Display;
use std::time::{Duration, Instant};
use table::{Goal, Row};

/// The bench's error: a sentence saying what failed.
pub type Res<T> = Result<T, String>;

/// Adds what was being done to an error.
pub trait Ctx<T> {
    /// The error as `what: error`.
    fn ctx(self, what: &str) -> Res<T>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Res<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

impl<T> Ctx<T> for Option<T> {
    fn ctx(self, what: &str) -> Res<T> {
        self.ok_or_else(|| format!("{what}: missing"))
    }
}

/// Open loops of `--quick`: rate and duration.
const QUICK_OPEN: &[(f64, Duration)] = &[(100.0, Duration::from_secs(3))];
/// Open loops of the full size: a rate the pipeline keeps up with, then the 1,000/s.
const FULL_OPEN: &[(f64, Duration)] = &[
    (50.0, Duration::from_secs(10)),
    (1_000.0, Duration::from_secs(10)),
];

/// How big each measure is.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    rabbit: usize,
    postgres: usize,
    mongo: usize,
    naive: usize,
    handler: usize,
    e2e: e2e::Sizes,
    sagas: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                rabbit: 5_000,
                postgres: 5_000,
                mongo: 3_000,
                naive: 300,
                handler: 2_000,
                e2e: e2e::Sizes {
                    connections: 64,
                    closed: Duration::from_secs(3),
                    open: QUICK_OPEN,
                    drain: Duration::from_secs(60),
                    read: Duration::from_secs(3),
                },
                sagas: 100,
            }
        } else {
            Sizes {
                rabbit: 50_000,
                postgres: 50_000,
                mongo: 20_000,
                naive: 1_500,
                handler: 15_000,
                e2e: e2e::Sizes {
                    connections: 64,
                    closed: Duration::from_secs(20),
                    open: FULL_OPEN,
                    drain: Duration::from_secs(180),
                    read: Duration::from_secs(10),
                },
                sagas: 1_000,
            }
        }
    }
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A rate row, or the reason it is missing.
fn rate_row(measure: String, value: &Res<f64>, unit: &str) -> Row {
    match value {
        Ok(v) => Row::new(measure, *v, unit),
        Err(e) => Row::missing(measure, e.clone()),
    }
}

/// Adds a baseline when it was measured.
fn with_baseline(row: Row, baseline: &Res<f64>, what: &str) -> Row {
    match baseline {
        Ok(b) => row.baseline(*b, what),
        Err(_) => row,
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--only=<parts|handler|e2e|saga>`: one phase, e.g. to profile it
    let only: Option<String> =
        std::env::args().find_map(|a| Some(a.strip_prefix("--only=")?.to_owned()));
    let want = |phase: &str| only.as_deref().is_none_or(|o| o == phase);
    let skipped = || Err::<f64, String>("skipped (--only)".into());
    let sizes = Sizes::new(quick);
    let env = match procs::Env::from_env() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("msgen-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let began = Instant::now();
    let load_before = uptime();
    let mut rss = rss::PeakRss::default();
    let mut notes = Vec::new();
    let mut rows = Vec::new();
    let say = |what: &str| eprintln!("[{:>5.0} s] {what}", began.elapsed().as_secs_f64());

    say("raw limits and the naive pipeline");
    let parts = if want("parts") {
        procs::Run::new(&env, "parts").await.map(Some)
    } else {
        Ok(None)
    };
    let (rabbit, postgres, mongo, naive) = match parts {
        Ok(None) => (skipped(), skipped(), skipped(), skipped()),
        Ok(Some(run)) => {
            let rabbit = raw::rabbitmq(&env.amqp_url, &run.prefix, sizes.rabbit).await;
            let postgres = raw::postgres(&run.db_url, sizes.postgres, 100, 2).await;
            let mongo = match env.mongo().await {
                Ok(c) => raw::mongodb(&c, &run.prefix, sizes.mongo, 500).await,
                Err(e) => Err(e),
            };
            let naive = naive::run(&env.amqp_url, &run.prefix, &run.db_url, sizes.naive).await;
            run.close().await;
            (rabbit, postgres, mongo, naive)
        }
        Err(e) => (Err(e.clone()), Err(e.clone()), Err(e.clone()), Err(e)),
    };
    rows.push(rate_row(
        format!(
            "RabbitMQ raw: publish + consume, quorum queue, 1,000 confirms in flight ({} msgs)",
            sizes.rabbit
        ),
        &rabbit,
        "msgs/s",
    ));
    rows.push(rate_row(
        format!("PostgreSQL raw: a command's rows (marker, snapshot, 2 outbox rows), 100 commands a transaction, 2 connections ({} commands)", sizes.postgres),
        &postgres,
        "commands/s",
    ));
    rows.push(rate_row(
        format!(
            "MongoDB-protocol server raw: insert_many of 500 read-model documents ({} docs)",
            sizes.mongo
        ),
        &mongo,
        "docs/s",
    ));
    rows.push(rate_row(
        format!("naive pipeline: prefetch 1, a transaction and a confirmed publish per command ({} commands)", sizes.naive),
        &naive,
        "commands/s",
    ));

    say("the CommandHandler alone");
    let handler = if want("handler") {
        handler::run(&env, sizes.handler, &mut rss).await
    } else {
        Err("skipped (--only)".into())
    };
    let handler_rate = handler.as_ref().map(|h| h.rate).map_err(Clone::clone);
    if let Ok(h) = &handler {
        let n = sizes.handler as f64;
        notes.push(format!(
            "CommandHandler alone: {:.1} s from process start to the last of {} events; CPU per command: {:.2} ms in the process, {:.2} ms in its PostgreSQL sessions",
            h.total_secs, sizes.handler, h.cpu_secs * 1000.0 / n, h.pg_cpu_secs * 1000.0 / n
        ));
        let busy: Vec<String> = h
            .pg_busy
            .iter()
            .map(|(q, s)| format!("{s:.2} × `{q}`"))
            .collect();
        notes.push(format!(
            "CommandHandler alone, PostgreSQL sessions busy (average sessions per sample): {}",
            busy.join("; ")
        ));
    }
    let row = rate_row(
        format!(
            "generated CommandHandler alone, release, {} queued commands",
            sizes.handler
        ),
        &handler_rate,
        "commands/s",
    );
    rows.push(
        with_baseline(row, &naive, "naive")
            .goal(Goal::RatioAtLeast(3.0))
            .goal(Goal::AtLeast(3000.0)),
    );

    say("end to end");
    let e = sizes.e2e;
    if want("e2e") {
        let r = e2e::run(&env, e, &mut rss, &mut notes).await;
        e2e_rows(&mut rows, &mut notes, &r, e, &rabbit, &naive, &mongo);
    }

    say("sagas");
    let sagas = if want("saga") {
        saga::run(&env, sizes.sagas, &mut rss, &mut notes).await
    } else {
        skipped()
    };
    let row = rate_row(
        format!(
            "order-fulfillment sagas completed, happy path, stub participants ({} sagas started at once)",
            sizes.sagas
        ),
        &sagas,
        "sagas/s",
    );
    rows.push(with_baseline(row, &mongo, "MongoDB raw docs/s"));

    for (process, kb, phase) in rss.peaks() {
        rows.push(
            Row::new(
                format!("peak RSS (VmHWM) of {process}, under {phase}"),
                kb as f64 / 1024.0,
                "MB",
            )
            .goal(Goal::Below(50.0)),
        );
    }

    let mut out = format!(
        "Runtime benchmark ({}), {} s; load average before: {load_before}, after: {}\n\n",
        if quick { "--quick" } else { "full size" },
        began.elapsed().as_secs(),
        uptime()
    );
    out.push_str(&table::render(&rows));
    if !notes.is_empty() {
        out.push('\n');
        for n in &notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    println!("{out}");
    let path = env.out_dir.join("results.md");
    if let Err(e) = std::fs::create_dir_all(&env.out_dir).and_then(|_| std::fs::write(&path, &out))
    {
        eprintln!("msgen-bench: cannot write {}: {e}", path.display());
        return std::process::ExitCode::FAILURE;
    }
    eprintln!("written to {}", path.display());
    std::process::ExitCode::SUCCESS
}

/// The rows of the end-to-end phase.
fn e2e_rows(
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
    r: &e2e::E2eResult,
    s: e2e::Sizes,
    rabbit: &Res<f64>,
    naive: &Res<f64>,
    mongo: &Res<f64>,
) {
    let secs = s.closed.as_secs();
    match &r.closed {
        Ok(c) => {
            notes.push(format!(
                "closed loop answers: {}; {} commands accepted",
                c.statuses, c.accepted
            ));
            let name = |what: &str| {
                format!(
                    "end to end, closed loop ({} connections, {secs} s): {what}",
                    s.connections
                )
            };
            let accepted = Row::new(
                name("accepted (202) by the Command API"),
                c.accepted_per_s,
                "commands/s",
            );
            rows.push(with_baseline(accepted, rabbit, "RabbitMQ raw"));
            let processed = Row::new(name("events published"), c.processed_per_s, "commands/s");
            rows.push(
                with_baseline(processed, naive, "naive")
                    .goal(Goal::RatioAtLeast(3.0))
                    .goal(Goal::AtLeast(3000.0)),
            );
            let projected = Row::new(
                name("read-model documents written"),
                c.read_model_per_s,
                "commands/s",
            );
            rows.push(
                with_baseline(projected, mongo, "MongoDB raw docs/s").goal(Goal::AtLeast(3000.0)),
            );
        }
        Err(e) => rows.push(Row::missing("end to end, closed loop", e.clone())),
    }
    for open in &r.open {
        let o = match open {
            Ok(o) => o,
            Err(e) => {
                rows.push(Row::missing("end to end, open loop", e.clone()));
                continue;
            }
        };
        notes.push(format!(
            "open loop at {}/s: {:.0} requests/s sent; answers: {}; {} accepted commands without event or document after the drain time",
            table::fmt_num(o.rate), o.sent_per_s, o.statuses, o.missing
        ));
        let at = format!("open loop at {}/s", table::fmt_num(o.rate));
        let p99_goal = (o.rate >= 1000.0).then_some(50.0);
        let mut lat = |what: &str, l: &Option<stats::LatencySummary>, goal: Option<f64>| match l {
            Some(l) => {
                rows.push(Row::new(format!("{at}: {what}, p50"), l.p50, "ms"));
                let p99 = Row::new(
                    format!("{at}: {what}, p99 ({} samples)", l.samples),
                    l.p99,
                    "ms",
                );
                rows.push(match goal {
                    Some(g) => p99.goal(Goal::Below(g)),
                    None => p99,
                });
            }
            None => rows.push(Row::missing(format!("{at}: {what}"), "no sample")),
        };
        lat("202 → event on the fanout exchange", &o.to_event, p99_goal);
        lat(
            "202 → read-model document found (polled every 20 ms)",
            &o.to_read_model,
            None,
        );
        lat(
            "projection lag, event → document found",
            &o.projection_lag,
            None,
        );
    }
    match &r.read {
        Ok(q) => {
            notes.push(format!(
                "Query API answers: {}; one direct count_documents took {:.0} ms, one direct page find {:.0} ms",
                q.statuses, q.count_ms, q.find_ms
            ));
            rows.push(
                Row::new(
                    format!(
                        "Query API `GET {}`, 16 clients, {} documents",
                        read::QUERY,
                        q.documents
                    ),
                    q.api_per_s,
                    "requests/s",
                )
                .baseline(q.direct_per_s, "same query with the mongodb crate"),
            );
        }
        Err(e) => rows.push(Row::missing("Query API", e.clone())),
    }
}

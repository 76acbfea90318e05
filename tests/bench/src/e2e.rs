//! End to end: Command API, CommandHandler, EventHandler and Query API of the inventory
//! context running; `POST /products` load over HTTP. A closed loop gives the sustained rates
//! (accepted, events published, read models updated); an open loop at a fixed rate gives the
//! latencies from `202 Accepted` to the event on the fanout exchange and to the read-model
//! document, and the projection lag between the two. The read path is measured last, on the
//! documents the load left (see `read.rs`).

use crate::amqp::Tap;
use crate::load::{self, Answer, Pace};
use crate::procs::{Env, Run, TENANT};
use crate::profile::ServerCpu;
use crate::rss::PeakRss;
use crate::stats::{LatencySummary, per_second};
use crate::{Ctx, Res, read};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The processes of the write and read path.
pub const PROCESSES: &[&str] = &[
    "inventory-command-api",
    "inventory-command-handler",
    "inventory-event-handler",
    "inventory-query-api",
];
/// The read-model collection of `StockLevel`.
pub const COLLECTION: &str = "stock_level";

/// Sizes of the end-to-end measures.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// HTTP connections of the closed loop (and the pool of the open loop).
    pub connections: usize,
    /// Duration of the closed loop.
    pub closed: Duration,
    /// Open loops, in order: rate (commands per second) and duration.
    pub open: &'static [(f64, Duration)],
    /// Longest wait for the backlog to drain after an open loop.
    pub drain: Duration,
    /// Duration of each read-path measure.
    pub read: Duration,
}

/// What the closed loop measured, all over the load's duration.
#[derive(Clone, Debug)]
pub struct Closed {
    /// `202` answers per second.
    pub accepted_per_s: f64,
    /// Answers by status.
    pub statuses: String,
    /// Commands accepted.
    pub accepted: usize,
    /// Events that reached the fanout exchange per second.
    pub processed_per_s: f64,
    /// Read-model documents written per second.
    pub read_model_per_s: f64,
}

/// What one open loop measured.
#[derive(Clone, Debug)]
pub struct Open {
    /// The scheduled rate.
    pub rate: f64,
    /// Requests sent per second (the achieved schedule).
    pub sent_per_s: f64,
    /// Answers by status.
    pub statuses: String,
    /// `202` → event on the fanout exchange, ms.
    pub to_event: Option<LatencySummary>,
    /// `202` → read-model document found, ms.
    pub to_read_model: Option<LatencySummary>,
    /// Event on the exchange → read-model document found, ms.
    pub projection_lag: Option<LatencySummary>,
    /// Accepted commands whose event or document did not show within the drain time.
    pub missing: usize,
}

/// Everything the end-to-end phase measured.
#[derive(Clone, Debug)]
pub struct E2eResult {
    /// The closed loop.
    pub closed: Result<Closed, String>,
    /// The open loops.
    pub open: Vec<Result<Open, String>>,
    /// The read path.
    pub read: Result<read::ReadResult, String>,
}

/// Runs the phase: the closed loop in a run of its own (its backlog is thrown away with it),
/// then the open loops and the read path in a fresh run.
pub async fn run(env: &Env, sizes: Sizes, rss: &mut PeakRss, notes: &mut Vec<String>) -> E2eResult {
    let closed = match Run::new(env, "closed").await {
        Ok(mut run) => {
            let mongo_cpu = ServerCpu::start("SecantusDB", "secantusd");
            let r = with_processes(env, &mut run, async |tap, coll, api, _| {
                closed_loop(env, api, tap, coll, sizes).await
            })
            .await;
            record(&run, rss, "end-to-end closed loop");
            notes.push(mongo_cpu.note("end-to-end closed loop", &run.cpu()));
            run.close().await;
            r
        }
        Err(e) => Err(e),
    };
    let (open, read) = match Run::new(env, "open").await {
        Ok(mut run) => {
            let mongo_cpu = ServerCpu::start("SecantusDB", "secantusd");
            let r = with_processes(env, &mut run, async |tap, coll, api, query_api| {
                let mut open = Vec::new();
                for (rate, secs) in sizes.open {
                    open.push(open_loop(env, api, tap, coll, sizes, *rate, *secs).await);
                }
                let read = read::run(env, query_api, coll, sizes.read, 16).await;
                Ok((open, read))
            })
            .await;
            record(&run, rss, "end-to-end open loops and reads");
            notes.push(mongo_cpu.note("end-to-end open loops and reads", &run.cpu()));
            run.close().await;
            match r {
                Ok(x) => x,
                Err(e) => (vec![Err(e.clone())], Err(e)),
            }
        }
        Err(e) => (vec![Err(e.clone())], Err(e)),
    };
    E2eResult { closed, open, read }
}

fn record(run: &Run, rss: &mut PeakRss, phase: &str) {
    for (name, kb) in run.peak_rss() {
        rss.record(&name, kb, phase);
    }
}

/// Starts the processes, binds a tap to the events and opens the read-model collection,
/// then runs `body` with them and the addresses of the Command API and the Query API.
async fn with_processes<T>(
    env: &Env,
    run: &mut Run,
    body: impl AsyncFnOnce(&Tap, &mongodb::Collection<Document>, SocketAddr, SocketAddr) -> Res<T>,
) -> Res<T> {
    for p in PROCESSES {
        run.start(p, &[]).await?;
    }
    let tap = Tap::bind(&env.amqp_url, &format!("{}.inventory.events", run.prefix)).await?;
    let client = env.mongo().await?;
    let coll = client
        .database(&run.prefix)
        .collection::<Document>(COLLECTION);
    let api = run.addr("inventory-command-api")?;
    let query_api = run.addr("inventory-query-api")?;
    body(&tap, &coll, api, query_api).await
}

fn register(env: &Env, sku: String) -> Vec<u8> {
    let auth = format!("Bearer {}", env.token);
    let body = serde_json::json!({"sku": sku, "name": "Bench keyboard", "initial_stock": 25});
    load::request(
        "POST",
        "/products",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

async fn closed_loop(
    env: &Env,
    api: SocketAddr,
    tap: &Tap,
    coll: &mongodb::Collection<Document>,
    sizes: Sizes,
) -> Res<Closed> {
    let env2 = env.clone();
    let start = Instant::now();
    let (answers, took) = load::run(
        api,
        sizes.connections,
        Pace::Closed(sizes.closed),
        move |i| register(&env2, format!("C-{i:08}")),
    )
    .await;
    let end = start + took;
    let documents = coll.count_documents(doc! {}).await.ctx("count")?;
    let events = tap.seen().iter().filter(|s| s.at <= end).count();
    let accepted = answers.iter().filter(|a| a.status == 202).count();
    Ok(Closed {
        accepted_per_s: per_second(accepted as u64, took),
        statuses: load::status_counts(&answers),
        accepted,
        processed_per_s: per_second(events as u64, took),
        read_model_per_s: per_second(documents, took),
    })
}

/// Read-model documents found by the poller, by request sequence number.
struct Found {
    at: Vec<Option<Instant>>,
    ignored: Vec<bool>,
    done: bool,
}

async fn open_loop(
    env: &Env,
    api: SocketAddr,
    tap: &Tap,
    coll: &mongodb::Collection<Document>,
    sizes: Sizes,
    rate: f64,
    duration: Duration,
) -> Res<Open> {
    let count = (rate * duration.as_secs_f64()).round() as u64;
    // SKUs unique across the open loops of a run
    let tag = format!("O{}", rate as u64);
    let before = tap.count();
    let found = Arc::new(Mutex::new(Found {
        at: vec![None; count as usize],
        ignored: vec![false; count as usize],
        done: false,
    }));
    let start = Instant::now();
    let poller = tokio::spawn(poll_read_model(
        coll.clone(),
        found.clone(),
        start,
        rate,
        tag.clone(),
    ));
    let (env2, tag2) = (env.clone(), tag.clone());
    let pace = Pace::Open { rate, count };
    let (answers, took) = load::run(api, sizes.connections, pace, move |i| {
        register(&env2, format!("{tag2}-{i:08}"))
    })
    .await;
    let accepted: HashMap<u64, Instant> = answers
        .iter()
        .filter(|a| a.status == 202)
        .map(|a: &Answer| (a.seq, a.answered))
        .collect();
    {
        let mut f = found.lock().expect("found");
        for seq in 0..count {
            f.ignored[seq as usize] = !accepted.contains_key(&seq);
        }
    }
    tap.wait_for(before + accepted.len(), sizes.drain).await;
    let deadline = Instant::now() + sizes.drain;
    loop {
        let all = {
            let f = found.lock().expect("found");
            (0..count as usize).all(|i| f.ignored[i] || f.at[i].is_some())
        };
        if all || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found.lock().expect("found").done = true;
    let _ = poller.await;

    let events: HashMap<u64, Instant> = tap.seen()[before..]
        .iter()
        .filter_map(|s| {
            let sku = s.envelope.payload["sku"].as_str()?;
            let seq = sku.strip_prefix(tag.as_str())?.strip_prefix('-')?;
            Some((seq.parse().ok()?, s.at))
        })
        .collect();
    let f = found.lock().expect("found");
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    let (mut to_event, mut to_doc, mut lag, mut missing) = (vec![], vec![], vec![], 0);
    for (seq, at) in &accepted {
        let event = events.get(seq);
        let doc = f.at[*seq as usize];
        if let Some(e) = event {
            to_event.push(ms(*at, *e));
        }
        if let Some(d) = doc {
            to_doc.push(ms(*at, d));
        }
        match (event, doc) {
            (Some(e), Some(d)) => lag.push(ms(*e, d)),
            _ => missing += 1,
        }
    }
    Ok(Open {
        rate,
        sent_per_s: per_second(count, took),
        statuses: load::status_counts(&answers),
        to_event: LatencySummary::of(&to_event),
        to_read_model: LatencySummary::of(&to_doc),
        projection_lag: LatencySummary::of(&lag),
        missing,
    })
}

/// Every 20 ms, looks up (by SKU, at most 200 at a time, oldest first) the documents of the
/// requests sent so far that were not found yet, and notes when each was found.
async fn poll_read_model(
    coll: mongodb::Collection<Document>,
    found: Arc<Mutex<Found>>,
    start: Instant,
    rate: f64,
    tag: String,
) {
    let mut low = 0usize;
    loop {
        let wanted: Vec<String> = {
            let f = found.lock().expect("found");
            if f.done {
                return;
            }
            let sent = ((start.elapsed().as_secs_f64() * rate) as usize + 1).min(f.at.len());
            while low < sent && (f.at[low].is_some() || f.ignored[low]) {
                low += 1;
            }
            (low..sent)
                .filter(|i| f.at[*i].is_none() && !f.ignored[*i])
                .take(200)
                .map(|i| format!("{tag}-{i:08}"))
                .collect()
        };
        if !wanted.is_empty() {
            let filter = doc! {"tenant_id": TENANT, "sku": {"$in": wanted}};
            let docs: Vec<Document> = match coll.find(filter).projection(doc! {"sku": 1}).await {
                Ok(cursor) => cursor.try_collect().await.unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            let now = Instant::now();
            let mut f = found.lock().expect("found");
            for d in docs {
                if let Some(seq) = d.get_str("sku").ok().and_then(|s| {
                    s.strip_prefix(tag.as_str())?
                        .strip_prefix('-')?
                        .parse::<usize>()
                        .ok()
                }) && seq < f.at.len()
                    && f.at[seq].is_none()
                {
                    f.at[seq] = Some(now);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

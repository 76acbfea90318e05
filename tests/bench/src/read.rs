//! The read path: the Query API's `GET /stock` with a filter, a sort and a page, against the
//! same query made directly with the mongodb crate (count + sorted, skipped, limited find, as
//! the runtime's read-model store does it), each with the same number of concurrent clients.

use crate::load::{self, Pace};
use crate::procs::{Env, TENANT};
use crate::{Ctx, Res, stats};
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The query: in stock, sorted by SKU, second page of 20.
pub const QUERY: &str = "/stock?available%5Bgte%5D=10&sort=sku&page=2&page_size=20";

/// What the read path measured.
#[derive(Clone, Debug)]
pub struct ReadResult {
    /// Query API requests per second (200 answers).
    pub api_per_s: f64,
    /// Answers by status.
    pub statuses: String,
    /// Direct queries per second.
    pub direct_per_s: f64,
    /// Documents in the collection while measuring.
    pub documents: u64,
    /// One direct `count_documents` of the query alone, ms.
    pub count_ms: f64,
    /// One direct page `find` of the query alone, ms.
    pub find_ms: f64,
}

/// Measures both for `duration` each with `clients` concurrent clients.
pub async fn run(
    env: &Env,
    query_api: SocketAddr,
    coll: &mongodb::Collection<Document>,
    duration: Duration,
    clients: usize,
) -> Res<ReadResult> {
    let documents = coll.count_documents(doc! {}).await.ctx("count")?;
    let t = Instant::now();
    coll.count_documents(filter()).await.ctx("count")?;
    let count_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    page(coll).await?;
    let find_ms = t.elapsed().as_secs_f64() * 1000.0;
    let direct_per_s = direct(coll, duration, clients).await?;
    let auth = format!("Bearer {}", env.token);
    let req = load::request("GET", QUERY, &[("Authorization", &auth)], b"");
    let (answers, took) = load::run(query_api, clients, Pace::Closed(duration), move |_| {
        req.clone()
    })
    .await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    Ok(ReadResult {
        api_per_s: stats::per_second(ok as u64, took),
        statuses: load::status_counts(&answers),
        direct_per_s,
        documents,
        count_ms,
        find_ms,
    })
}

async fn direct(
    coll: &mongodb::Collection<Document>,
    duration: Duration,
    clients: usize,
) -> Res<f64> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let coll = coll.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while start.elapsed() < duration {
                coll.count_documents(filter()).await.ctx("count")?;
                page(&coll).await?;
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.ctx("task")??;
    }
    Ok(stats::per_second(total, start.elapsed()))
}

/// The filter of [`QUERY`], as the runtime's read-model store builds it.
fn filter() -> Document {
    doc! {"$and": [{"tenant_id": TENANT}, {"available": {"$gte": 10_i64}}]}
}

/// The page of [`QUERY`].
async fn page(coll: &mongodb::Collection<Document>) -> Res<Vec<Document>> {
    coll.find(filter())
        .sort(doc! {"sku": 1, "_id": 1})
        .skip(20)
        .limit(20)
        .await
        .ctx("find")?
        .try_collect()
        .await
        .ctx("cursor")
}

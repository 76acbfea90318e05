//! Raw limits of the parts, measured with their client libraries and nothing of ours:
//! RabbitMQ publish + consume with pipelined confirms, PostgreSQL batched commits of the rows a
//! command writes, and MongoDB-protocol bulk inserts.

use crate::amqp::{self, Envelope};
use crate::{Ctx, Res, stats};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use mongodb::bson::doc;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::types::Json;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Queues the bench declares itself (without prefix), deleted with the run.
pub const BENCH_QUEUES: &[&str] = &["raw.rabbit", "naive.commands"];

/// A `RegisterProduct` payload with a distinct SKU per `seq`.
pub fn register_payload(seq: u64) -> Value {
    json!({"sku": format!("B-{seq:08}"), "name": "Bench keyboard", "initial_stock": 25})
}

/// `n` encoded `RegisterProduct` commands (a new aggregate each), as the Command API enqueues
/// them.
pub fn register_commands(n: usize) -> impl Iterator<Item = (Vec<u8>, lapin::BasicProperties)> {
    (0..n as u64).map(|i| {
        Envelope::root(
            "inventory.RegisterProduct",
            &Uuid::new_v4().to_string(),
            register_payload(i),
        )
        .encode()
    })
}

/// The aggregate state a `RegisterProduct` leaves (what a snapshot holds).
pub fn product_state(seq: u64) -> Value {
    json!({"sku": format!("B-{seq:08}"), "name": "Bench keyboard", "available": 25,
           "reserved": 0, "reservations": [], "status": "active"})
}

/// RabbitMQ: `n` persistent messages of a command's size through a quorum queue, published
/// with up to 1,000 confirms outstanding while a consumer (prefetch 1,000, one ack each)
/// drains it. Messages per second from the first publish to the last delivery.
pub async fn rabbitmq(url: &str, prefix: &str, n: usize) -> Res<f64> {
    let queue = format!("{prefix}.raw.rabbit");
    let consumer_conn = amqp::connect(url).await?;
    let ch = consumer_conn.create_channel().await.ctx("channel")?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        },
        args,
    )
    .await
    .ctx("declare the raw queue")?;
    let mut consumer = crate::amqp::consume(&ch, queue.as_str(), 1000).await?;
    let drained = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(Duration::from_secs(60), consumer.next()).await {
                Ok(Some(Ok(d))) => {
                    let _ = d.ack(BasicAckOptions::default()).await;
                    got += 1;
                }
                _ => break,
            }
        }
        (got, Instant::now())
    });
    let publisher = amqp::connect(url).await?;
    let pch = amqp::confirm_channel(&publisher).await?;
    let start = Instant::now();
    let messages = register_commands(n);
    amqp::publish_all(&pch, "", &queue, messages, 1000).await?;
    let (got, end) = drained.await.ctx("consumer task")?;
    let _ = publisher.close(200, "bye".into()).await;
    let _ = consumer_conn.close(200, "bye".into()).await;
    if got < n {
        return Err(format!("raw RabbitMQ: consumed {got} of {n}"));
    }
    Ok(stats::per_second(n as u64, end - start))
}

/// Applies the runtime's migrations (the state-store schema the CommandHandler uses).
pub async fn migrate(pool: &PgPool) -> Res<()> {
    sqlx::migrate!("../../runtime/migrations")
        .run(pool)
        .await
        .ctx("migrations")
}

/// PostgreSQL: what `n` commands write — marker, snapshot, event and outcome outbox rows —
/// committed `batch` commands per transaction by `workers` connections at once. Commands
/// per second.
pub async fn postgres(db_url: &str, n: usize, batch: usize, workers: usize) -> Res<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(workers as u32)
        .connect(db_url)
        .await
        .ctx("connect")?;
    migrate(&pool).await?;
    let per_worker = n / workers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < per_worker {
                let size = batch.min(per_worker - done);
                let seqs: Vec<u64> = (0..size)
                    .map(|i| (w * per_worker + done + i) as u64)
                    .collect();
                commit_batch(&pool, &seqs).await?;
                done += size;
            }
            Ok::<usize, String>(done)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.ctx("worker")??;
    }
    let took = start.elapsed();
    pool.close().await;
    Ok(stats::per_second(total as u64, took))
}

/// One transaction: the rows of the commands `seqs`, each kind in one multi-row insert.
async fn commit_batch(pool: &PgPool, seqs: &[u64]) -> Res<()> {
    let ids: Vec<Uuid> = seqs.iter().map(|_| Uuid::new_v4()).collect();
    let aggregates: Vec<String> = seqs.iter().map(|_| Uuid::new_v4().to_string()).collect();
    let outcomes: Vec<Json<Value>> = ids
        .iter()
        .map(|id| Json(json!({"command_id": id, "status": "accepted", "events": 1})))
        .collect();
    let states: Vec<Json<Value>> = seqs.iter().map(|s| Json(product_state(*s))).collect();
    let mut o_agg = Vec::new();
    let mut o_dest = Vec::new();
    let mut o_ids = Vec::new();
    let mut o_env = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        for dest in ["event", "outcome"] {
            o_agg.push(aggregates[i].clone());
            o_dest.push(dest);
            o_ids.push(Uuid::new_v4());
            o_env.push(Json(
                json!({"meta": {"message_id": o_ids.last(), "message_type":
                "inventory.ProductRegistered", "tenant_id": "acme", "aggregate_id": aggregates[i],
                "aggregate_version": 1, "correlation_id": ids[i], "causation_id": ids[i]},
                "payload": register_payload(*s)}),
            ));
        }
    }
    let mut tx = pool.begin().await.ctx("begin")?;
    sqlx::query(
        "INSERT INTO processed_commands (command_id, outcome) \
         SELECT * FROM UNNEST($1::uuid[], $2::jsonb[])",
    )
    .bind(&ids)
    .bind(&outcomes)
    .execute(&mut *tx)
    .await
    .ctx("markers")?;
    sqlx::query(
        "INSERT INTO aggregate_snapshots (tenant_id, aggregate_type, aggregate_id, version, state) \
         SELECT 'acme', 'inventory.Product', a, 1, s FROM UNNEST($1::text[], $2::jsonb[]) AS t(a, s) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&aggregates)
    .bind(&states)
    .execute(&mut *tx)
    .await
    .ctx("snapshots")?;
    sqlx::query(
        "INSERT INTO outbox (tenant_id, aggregate_type, aggregate_id, destination, context, \
           message_id, envelope) \
         SELECT 'acme', 'inventory.Product', a, d, 'inventory', m, e \
         FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::jsonb[]) AS t(a, d, m, e)",
    )
    .bind(&o_agg)
    .bind(&o_dest)
    .bind(&o_ids)
    .bind(&o_env)
    .execute(&mut *tx)
    .await
    .ctx("outbox")?;
    tx.commit().await.ctx("commit")
}

/// MongoDB protocol: `n` read-model-shaped documents inserted `batch` per `insert_many`.
/// Documents per second.
pub async fn mongodb(client: &mongodb::Client, db: &str, n: usize, batch: usize) -> Res<f64> {
    let coll = client
        .database(db)
        .collection::<mongodb::bson::Document>("raw_bulk");
    let start = Instant::now();
    let mut done = 0;
    while done < n {
        let size = batch.min(n - done);
        let docs = (done..done + size).map(|i| {
            let id = Uuid::new_v4().to_string();
            doc! {"_id": format!("acme/{id}"), "_key": &id, "tenant_id": "acme",
            "product_id": &id, "sku": format!("B-{i:08}"), "name": "Bench keyboard",
            "available": 25_i64, "reserved": 0_i64, "active": true}
        });
        coll.insert_many(docs.collect::<Vec<_>>())
            .await
            .ctx("insert_many")?;
        done += size;
    }
    Ok(stats::per_second(n as u64, start.elapsed()))
}

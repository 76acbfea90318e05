//! The hand-written naive pipeline, the baseline of the generated CommandHandler: a lapin
//! consumer with prefetch 1 that, for each command, loads the snapshot, writes marker,
//! snapshot and outbox rows in one PostgreSQL transaction, publishes the event and waits for
//! its confirm, then acks.

use crate::amqp::{self, Envelope, Tap};
use crate::raw::register_commands;
use crate::{Ctx, Res};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;
use sqlx::types::Json;
use std::time::Duration;
use uuid::Uuid;

/// Runs the naive pipeline over `n` pre-filled `RegisterProduct` commands (distinct
/// aggregates) in the database `db_url`; commands per second from the first event published
/// to the last.
pub async fn run(url: &str, prefix: &str, db_url: &str, n: usize) -> Res<f64> {
    let queue = format!("{prefix}.naive.commands");
    let exchange = format!("{prefix}.naive.events");
    let conn = amqp::connect(url).await?;
    let ch = conn.create_channel().await.ctx("channel")?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(queue.as_str().into(), durable, args)
        .await
        .ctx("declare the naive queue")?;
    ch.exchange_declare(
        exchange.as_str().into(),
        lapin::ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .ctx("declare the naive exchange")?;
    let tap = Tap::bind(url, &exchange).await?;
    let pch = amqp::confirm_channel(&conn).await?;
    let commands = register_commands(n);
    amqp::publish_all(&pch, "", &queue, commands, 1000).await?;

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await
        .ctx("connect")?;
    crate::raw::migrate(&pool).await?;
    sqlx::query("TRUNCATE processed_commands, aggregate_snapshots, outbox")
        .execute(&pool)
        .await
        .ctx("truncate")?;
    let mut consumer = crate::amqp::consume(&ch, queue.as_str(), 1).await?;
    let worker = tokio::spawn(async move {
        let mut handled = 0;
        while handled < n {
            let Ok(Some(Ok(d))) =
                tokio::time::timeout(Duration::from_secs(60), consumer.next()).await
            else {
                return Err(format!("naive: the queue ran dry after {handled}"));
            };
            let command = Envelope::decode(&d.properties, &d.data).ctx("decode")?;
            if let Some(event) = handle(&pool, &command).await? {
                let (body, props) = event.encode();
                let confirm = pch
                    .basic_publish(
                        exchange.as_str().into(),
                        "".into(),
                        BasicPublishOptions::default(),
                        &body,
                        props,
                    )
                    .await
                    .ctx("publish")?;
                confirm.await.ctx("confirm")?;
            }
            d.ack(BasicAckOptions::default()).await.ctx("ack")?;
            handled += 1;
        }
        pool.close().await;
        Ok::<(), String>(())
    });
    worker.await.ctx("naive worker")??;
    let seen = tap.wait_for(n, Duration::from_secs(30)).await;
    let _ = conn.close(200, "bye".into()).await;
    first_to_last(&tap.seen(), n).ok_or_else(|| format!("naive: {seen} of {n} events seen"))
}

/// Messages per second between the first and the `n`-th seen (`n - 1` intervals).
pub fn first_to_last(seen: &[amqp::Seen], n: usize) -> Option<f64> {
    if seen.len() < n || n < 2 {
        return None;
    }
    let first = seen.iter().map(|s| s.at).min()?;
    let last = seen.iter().map(|s| s.at).max()?;
    Some(crate::stats::per_second((n - 1) as u64, last - first))
}

/// Load, decide (register: always accepted), one transaction; the event to publish, or
/// `None` for a duplicate.
async fn handle(pool: &sqlx::PgPool, command: &Envelope) -> Res<Option<Envelope>> {
    let aggregate = command.aggregate_id.clone().unwrap_or_default();
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM aggregate_snapshots \
         WHERE tenant_id = 'acme' AND aggregate_type = 'inventory.Product' AND aggregate_id = $1",
    )
    .bind(&aggregate)
    .fetch_optional(pool)
    .await
    .ctx("load")?;
    if existing.is_some() {
        return Ok(None);
    }
    let p = &command.payload;
    let mut event = Envelope::root(
        "inventory.ProductRegistered",
        &aggregate,
        json!({"sku": p["sku"], "name": p["name"], "available": p["initial_stock"]}),
    );
    event.correlation_id = command.correlation_id;
    event.causation_id = Some(command.message_id);
    event.aggregate_version = Some(1);
    let state = json!({"sku": p["sku"], "name": p["name"], "available": p["initial_stock"],
                       "reserved": 0, "reservations": [], "status": "active"});
    let outcome = json!({"command_id": command.message_id, "status": "accepted", "events": 1});
    let envelope = json!({"meta": {"message_id": event.message_id, "aggregate_id": aggregate},
                          "payload": event.payload});
    let mut tx = pool.begin().await.ctx("begin")?;
    let fresh = sqlx::query(
        "INSERT INTO processed_commands (command_id, outcome) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING",
    )
    .bind(command.message_id)
    .bind(Json(&outcome))
    .execute(&mut *tx)
    .await
    .ctx("marker")?
    .rows_affected();
    if fresh == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO aggregate_snapshots (tenant_id, aggregate_type, aggregate_id, version, state) \
         VALUES ('acme', 'inventory.Product', $1, 1, $2)",
    )
    .bind(&aggregate)
    .bind(Json(&state))
    .execute(&mut *tx)
    .await
    .ctx("snapshot")?;
    sqlx::query(
        "INSERT INTO outbox (tenant_id, aggregate_type, aggregate_id, destination, context, \
           message_id, envelope) \
         VALUES ('acme', 'inventory.Product', $1, 'event', 'inventory', $2, $3), \
                ('acme', 'inventory.Product', $1, 'outcome', 'inventory', $4, $5)",
    )
    .bind(&aggregate)
    .bind(event.message_id)
    .bind(Json(&envelope))
    .bind(Uuid::new_v4())
    .bind(Json(&outcome))
    .execute(&mut *tx)
    .await
    .ctx("outbox")?;
    tx.commit().await.ctx("commit")?;
    Ok(Some(event))
}

//! Settling one delivery: run the handler, then ack, schedule a retry, defer, or
//! dead-letter by its [`HandleOutcome`], each copy published with a confirm before the
//! original is acked.

use super::AmqpError;
use super::bus::publish_confirmed;
use super::codec::{self, WireError, headers};
use super::handler::{HandleOutcome, MAX_DEFERRALS, MessageHandler};
use crate::bus::BusError;
use crate::envelope::RawEnvelope;
use crate::observability as obs;
use crate::topology::WorkQueueSpec;
use futures_util::FutureExt;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, LongString};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Longest wait for the broker to take an ack or a nack. When the connection breaks under
/// one, lapin can leave it pending for ever; the session then ends and reconnects instead, and
/// the broker redelivers the unsettled message.
pub(super) const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Acks or nacks a delivery within [`SETTLE_TIMEOUT`].
pub(super) async fn settle<T>(
    op: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<(), AmqpError> {
    match tokio::time::timeout(SETTLE_TIMEOUT, op).await {
        Ok(result) => result.map(drop).map_err(Into::into),
        Err(_) => Err(AmqpError::Lapin(lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the broker did not take an ack or nack in time (connection lost)",
        )))),
    }
}

/// Settles the deliveries of one work queue on one channel.
#[derive(Clone)]
pub(super) struct Settler {
    /// The consumed work queue.
    pub(super) work: Arc<WorkQueueSpec>,
    /// The consuming (confirm-mode) channel.
    pub(super) channel: Channel,
}

impl Settler {
    /// Runs `handler` on one delivery (decoded as `decoded`) and settles it by the outcome:
    /// see [`super::Consumer`]. `Err`: the channel or connection failed; the delivery is then
    /// left unsettled, and the broker redelivers it.
    pub(super) async fn process<H: MessageHandler>(
        &self,
        handler: &H,
        delivery: Delivery,
        decoded: Result<RawEnvelope, WireError>,
    ) -> Result<(), AmqpError> {
        let queue = self.work.queue.as_str();
        let envelope = match decoded {
            Ok(e) => e,
            Err(e) => {
                let message_type = delivery
                    .properties
                    .kind()
                    .as_ref()
                    .map(|k| k.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".to_owned());
                tracing::warn!(%queue, %message_type, error = %e, "poison message, dead-lettering");
                self.dead_letter(&delivery, &format!("poison: {e}")).await?;
                obs::record_dead_lettered(queue, &message_type, "poison");
                obs::record_handled(queue, &message_type, "dead_letter", Duration::ZERO);
                return Ok(());
            }
        };
        let message_type = envelope.meta.message_type.clone();
        let attempt = codec::attempt(&delivery.properties);
        let span = obs::message_span(&envelope);
        let started = Instant::now();
        let outcome = AssertUnwindSafe(handler.handle(envelope))
            .catch_unwind()
            .instrument(span.clone())
            .await
            .unwrap_or_else(|_| {
                span.in_scope(|| tracing::error!(%queue, attempt, "handler panicked"));
                HandleOutcome::retry("the handler panicked")
            });
        let elapsed = started.elapsed();
        // Instrumented, not entered: an `Entered` guard held across an `.await` corrupts the
        // span stack when the task resumes on another worker thread.
        self.settle_outcome(&delivery, outcome, &message_type, attempt, elapsed)
            .instrument(span)
            .await
    }

    /// Acks, retries, defers or dead-letters `delivery` by the handler's `outcome`.
    async fn settle_outcome(
        &self,
        delivery: &Delivery,
        outcome: HandleOutcome,
        message_type: &str,
        attempt: u32,
        elapsed: Duration,
    ) -> Result<(), AmqpError> {
        let queue = self.work.queue.as_str();
        let message_type = message_type.to_owned();
        match outcome {
            HandleOutcome::Ack => {
                settle(delivery.ack(BasicAckOptions::default())).await?;
                obs::record_handled(queue, &message_type, "ack", elapsed);
            }
            HandleOutcome::Retry { delay, error } if attempt >= self.work.max_attempts => {
                tracing::warn!(%queue, attempt, ?delay, "giving up after max attempts, dead-lettering");
                let reason = match error {
                    Some(e) => format!("max attempts ({}) reached: {e}", self.work.max_attempts),
                    None => format!("max attempts ({}) reached", self.work.max_attempts),
                };
                self.dead_letter(delivery, &reason).await?;
                obs::record_dead_lettered(queue, &message_type, "max_attempts");
                obs::record_handled(queue, &message_type, "dead_letter", elapsed);
            }
            HandleOutcome::Retry { delay, .. } => {
                let hint = delay.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                let tier = self.work.retry_tier(attempt, hint).cloned();
                let props = codec::with_header(
                    &delivery.properties,
                    headers::ATTEMPT,
                    AMQPValue::LongLongInt(i64::from(attempt) + 1),
                );
                self.republish(delivery, tier.as_ref(), props).await?;
                obs::record_retried(queue, &message_type);
                obs::record_handled(queue, &message_type, "retry", elapsed);
            }
            HandleOutcome::Defer { reason, .. }
                if codec::deferrals(&delivery.properties) >= MAX_DEFERRALS =>
            {
                let reason = format!("deferred {MAX_DEFERRALS} times: {reason}");
                tracing::warn!(%queue, %reason, "giving up waiting, dead-lettering");
                self.dead_letter(delivery, &reason).await?;
                obs::record_dead_lettered(queue, &message_type, "max_deferrals");
                obs::record_handled(queue, &message_type, "dead_letter", elapsed);
            }
            HandleOutcome::Defer { delay, .. } => {
                // The tier by the delay alone: waiting is not a failed attempt.
                let hint = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                let tier = self.work.retry_tier(1, Some(hint)).cloned();
                let props = codec::with_header(
                    &delivery.properties,
                    headers::DEFERRALS,
                    AMQPValue::LongLongInt(i64::from(codec::deferrals(&delivery.properties)) + 1),
                );
                self.republish(delivery, tier.as_ref(), props).await?;
                obs::record_handled(queue, &message_type, "defer", elapsed);
            }
            HandleOutcome::DeadLetter { reason } => {
                tracing::warn!(%queue, %reason, "handler dead-lettered the message");
                self.dead_letter(delivery, &reason).await?;
                obs::record_dead_lettered(queue, &message_type, "handler");
                obs::record_handled(queue, &message_type, "dead_letter", elapsed);
            }
        }
        Ok(())
    }

    /// Sends the delivery with `props` to the retry `tier` (confirmed) and acks it; requeues it
    /// when there is no tier or the tier refuses it.
    async fn republish(
        &self,
        delivery: &Delivery,
        tier: Option<&crate::topology::RetryTier>,
        props: lapin::BasicProperties,
    ) -> Result<(), AmqpError> {
        let queue = &self.work.queue;
        let Some(tier) = tier else {
            tracing::info!(%queue, "no retry tier, requeueing");
            settle(delivery.nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            }))
            .await?;
            return Ok(());
        };
        match publish_confirmed(&self.channel, "", &tier.queue, &delivery.data, props).await {
            Ok(()) => {
                settle(delivery.ack(BasicAckOptions::default())).await?;
                tracing::info!(%queue, tier = %tier.queue, "retry scheduled");
            }
            Err(e @ BusError::Unavailable(_)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(%queue, error = %e, "retry tier refused the message, requeueing");
                settle(delivery.nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                }))
                .await?;
            }
        }
        Ok(())
    }

    /// Publishes the delivery (body and properties kept, reason headers added) to the work
    /// queue's dead-letter queue with a confirm, then acks it. If the dead-letter queue refuses
    /// it, rejects without requeue (the broker then dead-letters it by the queue's arguments).
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), AmqpError> {
        let props = codec::with_header(
            &delivery.properties,
            headers::DEAD_LETTER_REASON,
            AMQPValue::LongString(LongString::from(reason)),
        );
        let props = codec::with_header(
            &props,
            headers::DEAD_LETTER_QUEUE,
            AMQPValue::LongString(LongString::from(self.work.queue.as_str())),
        );
        match publish_confirmed(
            &self.channel,
            &self.work.dead_letter_exchange,
            &self.work.dead_letter_routing_key,
            &delivery.data,
            props,
        )
        .await
        {
            Ok(()) => {
                settle(delivery.ack(BasicAckOptions::default())).await?;
            }
            Err(e @ BusError::Unavailable(_)) => return Err(e.into()),
            Err(e) => {
                tracing::error!(queue = %self.work.queue, error = %e,
                    "dead-letter queue refused the message, rejecting it");
                settle(delivery.reject(BasicRejectOptions { requeue: false })).await?;
            }
        }
        Ok(())
    }
}

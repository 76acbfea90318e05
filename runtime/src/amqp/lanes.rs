//! Concurrent handling with per-key order: a consumer's deliveries are spread over lanes by
//! their [`MessageHandler::ordering_key`]; each lane handles its deliveries one at a time, in
//! delivery order, so messages with the same key (by default: of the same aggregate) never
//! overtake each other, while different keys proceed side by side. The number of deliveries in
//! flight stays bounded by the channel's prefetch.

use super::AmqpError;
use super::codec::{WireError, from_delivery};
use super::handler::MessageHandler;
use super::settlement::Settler;
use crate::envelope::RawEnvelope;
use futures_util::FutureExt;
use lapin::message::Delivery;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

type Work = (Delivery, Result<RawEnvelope, WireError>);

/// The lanes of one consumer session.
pub(super) struct Lanes<H> {
    handler: Arc<H>,
    senders: Vec<mpsc::UnboundedSender<Work>>,
    tasks: JoinSet<()>,
    failed: mpsc::UnboundedReceiver<AmqpError>,
    fail_tx: mpsc::UnboundedSender<AmqpError>,
    round_robin: usize,
}

fn lane_failed(what: &str) -> AmqpError {
    AmqpError::Lapin(lapin::Error::from(std::io::Error::other(what.to_owned())))
}

/// The lane of `key` among `lanes` (stable within a process).
pub(super) fn lane_of(key: &str, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % lanes.max(1) as u64) as usize
}

impl<H: MessageHandler> Lanes<H> {
    /// Starts `lanes` lanes (at least one) settling through `settler`. A lane stops taking
    /// new deliveries once `stop` is set, finishing the one in hand.
    pub(super) fn start(
        lanes: usize,
        settler: Settler,
        handler: Arc<H>,
        stop: &watch::Receiver<bool>,
    ) -> Self {
        let (fail_tx, failed) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        let senders = (0..lanes.max(1))
            .map(|_| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Work>();
                let (settler, handler, stop, fail_tx) = (
                    settler.clone(),
                    handler.clone(),
                    stop.clone(),
                    fail_tx.clone(),
                );
                tasks.spawn(async move {
                    while let Some((delivery, decoded)) = rx.recv().await {
                        if *stop.borrow() {
                            // Left unacked: the broker redelivers it when the channel closes.
                            break;
                        }
                        // The handler's own panics are caught inside `process`; anything else
                        // that panics here must still end the session, or this lane's
                        // deliveries would stay unacked for ever.
                        let settled =
                            AssertUnwindSafe(settler.process(&*handler, delivery, decoded))
                                .catch_unwind()
                                .await
                                .unwrap_or_else(|_| Err(lane_failed("a consumer lane panicked")));
                        if let Err(e) = settled {
                            let _ = fail_tx.send(e);
                            break;
                        }
                    }
                });
                tx
            })
            .collect();
        Self {
            handler,
            senders,
            tasks,
            failed,
            fail_tx,
            round_robin: 0,
        }
    }

    /// Decodes `delivery` and queues it on the lane of its ordering key (a message without a
    /// key, or one that cannot be decoded, goes to the next lane in turn).
    pub(super) fn dispatch(&mut self, delivery: Delivery) {
        let decoded = from_delivery(&delivery);
        let key = decoded
            .as_ref()
            .ok()
            .and_then(|e| self.handler.ordering_key(e));
        let lane = match key {
            Some(key) => lane_of(&key, self.senders.len()),
            None => {
                self.round_robin = (self.round_robin + 1) % self.senders.len();
                self.round_robin
            }
        };
        // A lane only goes away after a failure, which ends the session: the delivery is then
        // redelivered by the broker.
        if self.senders[lane].send((delivery, decoded)).is_err() {
            let _ = self.fail_tx.send(lane_failed(
                "a consumer lane stopped; restarting the session",
            ));
        }
    }

    /// Completes with the first lane's failure (a broken channel or connection).
    pub(super) async fn failure(&mut self) -> AmqpError {
        match self.failed.recv().await {
            Some(e) => e,
            // Never: `self` holds a sender itself.
            None => std::future::pending().await,
        }
    }

    /// Lets the lanes finish what they hold (under a set stop: only the delivery in hand)
    /// and waits for them.
    pub(super) async fn finish(mut self) {
        self.senders.clear();
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::lane_of;

    #[test]
    fn a_key_always_maps_to_the_same_lane_and_keys_spread() {
        assert_eq!(lane_of("acme/o-1", 16), lane_of("acme/o-1", 16));
        let used: std::collections::HashSet<usize> = (0..200)
            .map(|i| lane_of(&format!("acme/o-{i}"), 16))
            .collect();
        assert_eq!(used.len(), 16, "200 keys should use all 16 lanes");
        assert_eq!(lane_of("anything", 1), 0);
    }
}

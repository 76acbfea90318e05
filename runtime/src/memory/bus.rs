//! [`MemoryBus`]: an in-memory [`MessageBus`] that records what was sent, for simulation and
//! process-isolation tests.

use crate::bus::{BusError, MessageBus};
use crate::envelope::RawEnvelope;
use async_trait::async_trait;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Which [`MessageBus`] operation sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SentKind {
    /// [`MessageBus::send_command`].
    Command,
    /// [`MessageBus::publish_event`].
    Event,
    /// [`MessageBus::publish_outcome`].
    Outcome,
    /// [`MessageBus::publish_public`].
    Public,
}

/// One message recorded by the [`MemoryBus`].
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    /// The operation that sent it.
    pub kind: SentKind,
    /// The target context (`send_command("inventory", ..)` → `"inventory"`).
    pub context: String,
    /// The message.
    pub envelope: RawEnvelope,
}

#[derive(Default)]
struct State {
    sent: Vec<SentMessage>,
    unavailable: bool,
    fail_next: usize,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    notify: Notify,
}

/// An in-memory message bus. Every successful send is recorded in order; the test inspects
/// ([`commands`](Self::commands), [`events`](Self::events), [`outcomes`](Self::outcomes),
/// [`sent`](Self::sent)) or drains ([`drain`](Self::drain), [`drain_commands`](Self::drain_commands),
/// ...) the records. Clones share the same records, so a test keeps one clone and hands another
/// (or an `Arc<dyn MessageBus>`) to the engine under test.
///
/// Failures can be injected to exercise retry paths: [`set_unavailable`](Self::set_unavailable)
/// makes every send fail with [`BusError::Unavailable`]; [`fail_next`](Self::fail_next) fails
/// the next `n` sends. Failed sends are not recorded (like an unconfirmed publish).
///
/// ```
/// use runtime::bus::MessageBus;
/// use runtime::memory::MemoryBus;
/// use runtime::{Envelope, Metadata};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let bus = MemoryBus::new();
/// let cmd = Envelope {
///     meta: Metadata::new_root("inventory.ReserveStock", "acme"),
///     payload: serde_json::json!({ "sku": "A-1", "quantity": 2 }),
/// };
/// bus.send_command("inventory", &cmd).await.unwrap();
///
/// assert_eq!(bus.commands("inventory"), vec![cmd]);
/// assert!(bus.events("inventory").is_empty());
///
/// bus.set_unavailable(true);
/// assert!(bus.publish_event("inventory", &bus.commands("inventory")[0]).await.is_err());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBus")
            .field("sent", &self.lock().sent.len())
            .finish()
    }
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent (plain pushes).
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(
        &self,
        kind: SentKind,
        context: &str,
        envelope: &RawEnvelope,
    ) -> Result<(), BusError> {
        {
            let mut state = self.lock();
            if state.unavailable {
                return Err(BusError::Unavailable("memory bus set unavailable".into()));
            }
            if state.fail_next > 0 {
                state.fail_next -= 1;
                return Err(BusError::Unavailable("memory bus injected failure".into()));
            }
            state.sent.push(SentMessage {
                kind,
                context: context.to_owned(),
                envelope: envelope.clone(),
            });
        }
        self.inner.notify.notify_waiters();
        Ok(())
    }

    /// Makes every following send fail with [`BusError::Unavailable`] (`true`) or succeed again.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// Makes the next `n` sends fail with [`BusError::Unavailable`].
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// Every recorded message, in send order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    /// Number of recorded messages.
    pub fn len(&self) -> usize {
        self.lock().sent.len()
    }

    /// Whether nothing has been recorded (or everything was drained).
    pub fn is_empty(&self) -> bool {
        self.lock().sent.is_empty()
    }

    fn of(&self, kind: SentKind, context: &str) -> Vec<RawEnvelope> {
        self.lock()
            .sent
            .iter()
            .filter(|m| m.kind == kind && m.context == context)
            .map(|m| m.envelope.clone())
            .collect()
    }

    /// Commands sent to `context`, in order.
    pub fn commands(&self, context: &str) -> Vec<RawEnvelope> {
        self.of(SentKind::Command, context)
    }

    /// Events published by `context`, in order.
    pub fn events(&self, context: &str) -> Vec<RawEnvelope> {
        self.of(SentKind::Event, context)
    }

    /// Outcomes published by `context`, in order.
    pub fn outcomes(&self, context: &str) -> Vec<RawEnvelope> {
        self.of(SentKind::Outcome, context)
    }

    /// Removes and returns every recorded message, in send order.
    pub fn drain(&self) -> Vec<SentMessage> {
        std::mem::take(&mut self.lock().sent)
    }

    fn drain_of(&self, kind: SentKind, context: &str) -> Vec<RawEnvelope> {
        let mut state = self.lock();
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut state.sent)
            .into_iter()
            .partition(|m| m.kind == kind && m.context == context);
        state.sent = kept;
        taken.into_iter().map(|m| m.envelope).collect()
    }

    /// Removes and returns the commands sent to `context`, in order (others stay recorded).
    pub fn drain_commands(&self, context: &str) -> Vec<RawEnvelope> {
        self.drain_of(SentKind::Command, context)
    }

    /// Removes and returns the events published by `context`, in order.
    pub fn drain_events(&self, context: &str) -> Vec<RawEnvelope> {
        self.drain_of(SentKind::Event, context)
    }

    /// Removes and returns the outcomes published by `context`, in order.
    pub fn drain_outcomes(&self, context: &str) -> Vec<RawEnvelope> {
        self.drain_of(SentKind::Outcome, context)
    }

    /// Waits until `condition` holds for the recorded messages, or `timeout` passes; returns
    /// whether it held. For tests where another task sends (an outbox relay, a saga timer).
    pub async fn wait_until<F>(&self, timeout: Duration, mut condition: F) -> bool
    where
        F: FnMut(&[SentMessage]) -> bool,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a send between the check and the await is not missed.
            notified.as_mut().enable();
            if condition(&self.lock().sent) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return condition(&self.lock().sent);
            }
        }
    }
}

#[async_trait]
impl MessageBus for MemoryBus {
    async fn send_command(&self, context: &str, command: &RawEnvelope) -> Result<(), BusError> {
        self.record(SentKind::Command, context, command)
    }

    async fn publish_event(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError> {
        self.record(SentKind::Event, context, event)
    }

    async fn publish_outcome(&self, context: &str, outcome: &RawEnvelope) -> Result<(), BusError> {
        self.record(SentKind::Outcome, context, outcome)
    }

    async fn publish_public(&self, context: &str, event: &RawEnvelope) -> Result<(), BusError> {
        self.record(SentKind::Public, context, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, Metadata};

    fn msg(t: &str) -> RawEnvelope {
        Envelope {
            meta: Metadata::new_root(t, "acme"),
            payload: serde_json::json!({ "t": t }),
        }
    }

    #[tokio::test]
    async fn records_per_kind_and_context_in_order() {
        let bus = MemoryBus::new();
        let (a, b, c, d) = (msg("a.A"), msg("a.B"), msg("b.C"), msg("a.D"));
        bus.send_command("a", &a).await.unwrap();
        bus.publish_event("a", &b).await.unwrap();
        bus.send_command("b", &c).await.unwrap();
        bus.send_command("a", &d).await.unwrap();
        bus.publish_outcome("a", &b).await.unwrap();
        assert_eq!(bus.commands("a"), vec![a.clone(), d.clone()]);
        assert_eq!(bus.commands("b"), vec![c.clone()]);
        assert_eq!(bus.events("a"), vec![b.clone()]);
        assert_eq!(bus.outcomes("a"), vec![b.clone()]);
        assert_eq!(bus.len(), 5);
        assert_eq!(bus.drain_commands("a"), vec![a, d]);
        assert_eq!(bus.len(), 3);
        let rest = bus.drain();
        assert_eq!(
            rest.iter().map(|m| m.kind).collect::<Vec<_>>(),
            vec![SentKind::Event, SentKind::Command, SentKind::Outcome]
        );
        assert!(bus.is_empty());
    }

    #[tokio::test]
    async fn injected_failures_are_not_recorded() {
        let bus = MemoryBus::new();
        bus.fail_next(2);
        assert!(matches!(
            bus.send_command("a", &msg("a.A")).await,
            Err(BusError::Unavailable(_))
        ));
        assert!(bus.send_command("a", &msg("a.A")).await.is_err());
        bus.send_command("a", &msg("a.A")).await.unwrap();
        bus.set_unavailable(true);
        assert!(bus.publish_event("a", &msg("a.E")).await.is_err());
        bus.set_unavailable(false);
        bus.publish_event("a", &msg("a.E")).await.unwrap();
        assert_eq!(bus.len(), 2);
    }

    #[tokio::test]
    async fn wait_until_sees_sends_from_another_task() {
        let bus = MemoryBus::new();
        let sender = bus.clone();
        let task = tokio::spawn(async move {
            for i in 0..3 {
                sender
                    .publish_event("a", &msg(&format!("a.E{i}")))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        });
        assert!(
            bus.wait_until(Duration::from_secs(5), |s| s.len() == 3)
                .await
        );
        task.await.unwrap();
        assert!(
            !bus.wait_until(Duration::from_millis(20), |s| s.len() == 4)
                .await
        );
    }
}

//! The command-handler engine on the in-memory state store (no servers needed).

mod command_handler_fixture;

use command_handler_fixture::{Account, AccountCommand, command};
use runtime::command_handler::{
    AggregateCommandHandler, CommandDispatcher, CommandHandler, HandlerError,
};
use runtime::envelope::deterministic_id;
use runtime::memory::state::MemoryStateStore;
use runtime::store::{
    AggregateKey, CommandStatus, OUTCOME_MESSAGE_TYPE, OutboxDestination, StateStore,
};
use std::sync::Arc;

fn handler() -> AggregateCommandHandler<Account, Arc<MemoryStateStore>> {
    AggregateCommandHandler::new(Arc::new(MemoryStateStore::new()), ())
}

fn key(id: &str) -> AggregateKey {
    AggregateKey::new("acme", "bank.Account", id)
}

#[tokio::test]
async fn accepted_command_stamps_events_and_writes_the_outbox() {
    let h = handler();
    let cmd = command("acme", "a1", AccountCommand::Open { initial: 10 });
    let outcome = h.handle(cmd.clone()).await.unwrap();
    assert_eq!(outcome.status, CommandStatus::Processed);
    assert_eq!(outcome.aggregate_version, Some(2));
    let state = h.store().load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(state.state["balance"], 10);

    let outbox = h.store().outbox();
    assert_eq!(outbox.len(), 3);
    for (i, m) in outbox[..2].iter().enumerate() {
        assert_eq!(m.destination, OutboxDestination::Event);
        assert_eq!(m.context, "bank");
        assert_eq!(
            m.envelope.meta.message_id,
            deterministic_id(cmd.meta.message_id, &format!("event/{i}"))
        );
        assert_eq!(m.envelope.meta.causation_id, Some(cmd.meta.message_id));
        assert_eq!(m.envelope.meta.correlation_id, cmd.meta.correlation_id);
        assert_eq!(m.envelope.meta.aggregate_id.as_deref(), Some("a1"));
        assert_eq!(m.envelope.meta.aggregate_version, Some(i as i64 + 1));
    }
    assert_eq!(outbox[0].envelope.meta.message_type, "bank.AccountOpened");
    assert_eq!(outbox[1].envelope.meta.message_type, "bank.Deposited");
    assert_eq!(outbox[2].destination, OutboxDestination::Outcome);
    assert_eq!(outbox[2].envelope.meta.message_type, OUTCOME_MESSAGE_TYPE);
    assert_eq!(
        outcome.event_ids,
        vec![
            outbox[0].envelope.meta.message_id,
            outbox[1].envelope.meta.message_id
        ]
    );
}

#[tokio::test]
async fn duplicate_delivery_returns_the_stored_outcome_and_changes_nothing() {
    let h = handler();
    h.handle(command("acme", "a1", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    let deposit = command("acme", "a1", AccountCommand::Deposit { amount: 5 });
    let first = h.handle(deposit.clone()).await.unwrap();
    let outbox_len = h.store().outbox().len();
    let second = h.handle(deposit).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(h.store().outbox().len(), outbox_len);
    let state = h.store().load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(
        (state.version, state.state["balance"].as_i64()),
        (2, Some(5))
    );
}

#[tokio::test]
async fn rejection_keeps_state_and_publishes_rejection_events_without_version() {
    let h = handler();
    h.handle(command("acme", "a1", AccountCommand::Open { initial: 3 }))
        .await
        .unwrap();
    h.store().drain_outbox();
    let outcome = h
        .handle(command(
            "acme",
            "a1",
            AccountCommand::Withdraw { amount: 5 },
        ))
        .await
        .unwrap();
    assert_eq!(outcome.status, CommandStatus::Rejected);
    assert_eq!(outcome.code.as_deref(), Some("insufficient_funds"));
    assert_eq!(outcome.aggregate_version, None);
    let state = h.store().load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(
        (state.version, state.state["balance"].as_i64()),
        (2, Some(3))
    );
    let outbox = h.store().drain_outbox();
    assert_eq!(outbox.len(), 2);
    assert_eq!(
        outbox[0].envelope.meta.message_type,
        "bank.WithdrawalRejected"
    );
    assert_eq!(outbox[0].envelope.meta.aggregate_version, None);
    assert_eq!(outcome.event_ids, vec![outbox[0].envelope.meta.message_id]);

    // Rejecting a command for a missing aggregate writes no snapshot.
    let o = h
        .handle(command(
            "acme",
            "nope",
            AccountCommand::Deposit { amount: 1 },
        ))
        .await
        .unwrap();
    assert_eq!(o.code.as_deref(), Some("not_found"));
    assert!(h.store().load(&key("nope")).await.unwrap().is_none());
}

#[tokio::test]
async fn undecodable_and_malformed_commands_are_permanent_errors() {
    let h = handler();
    let mut unknown = command("acme", "a1", AccountCommand::Deposit { amount: 1 });
    unknown.meta.message_type = "bank.Explode".into();
    let e = h.handle(unknown).await.unwrap_err();
    assert!(
        matches!(e, HandlerError::Decode(_)) && e.is_permanent(),
        "{e:?}"
    );

    let mut bad_payload = command("acme", "a1", AccountCommand::Deposit { amount: 1 });
    bad_payload.payload = serde_json::json!({ "amount": "lots" });
    assert!(h.handle(bad_payload).await.unwrap_err().is_permanent());

    let mut no_id = command("acme", "a1", AccountCommand::Deposit { amount: 1 });
    no_id.meta.aggregate_id = None;
    let e = h.handle(no_id).await.unwrap_err();
    assert!(matches!(e, HandlerError::MissingAggregateId(_)) && !e.is_transient());
    assert!(h.store().outbox().is_empty());
}

#[tokio::test]
async fn store_failure_is_transient_and_leaves_nothing() {
    let h = handler();
    h.store().fail_next_commits(1);
    let cmd = command("acme", "a1", AccountCommand::Open { initial: 1 });
    let e = h.handle(cmd.clone()).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(
        h.store()
            .processed(cmd.meta.message_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.store().load(&key("a1")).await.unwrap().is_none());
    assert!(h.store().outbox().is_empty());
    // The redelivery succeeds.
    assert_eq!(
        h.handle(cmd).await.unwrap().status,
        CommandStatus::Processed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_handlers_retry_conflicts_without_losing_updates() {
    let store = Arc::new(MemoryStateStore::new());
    let h: Arc<AggregateCommandHandler<Account, _>> =
        Arc::new(AggregateCommandHandler::new(store.clone(), ()).with_max_attempts(100));
    h.handle(command("acme", "a1", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                h.handle(command("acme", "a1", AccountCommand::Deposit { amount: 1 }))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let state = store.load(&key("a1")).await.unwrap().unwrap();
    assert_eq!(
        (state.version, state.state["balance"].as_i64()),
        (101, Some(100))
    );
    let versions: Vec<i64> = store
        .outbox()
        .iter()
        .filter_map(|m| {
            m.envelope
                .meta
                .aggregate_version
                .filter(|_| m.destination == OutboxDestination::Event)
        })
        .collect();
    assert_eq!(versions, (1..=101).collect::<Vec<_>>());
}

#[tokio::test]
async fn dispatcher_routes_by_command_type() {
    let h: Arc<dyn CommandHandler> = Arc::new(handler());
    let d = CommandDispatcher::new().register(h);
    assert_eq!(
        d.command_types(),
        vec!["bank.Deposit", "bank.OpenAccount", "bank.Withdraw"]
    );
    let o = d
        .handle(command("acme", "x", AccountCommand::Open { initial: 0 }))
        .await
        .unwrap();
    assert_eq!(o.status, CommandStatus::Processed);
    let mut other = command("acme", "x", AccountCommand::Open { initial: 0 });
    other.meta.message_type = "shop.Order".into();
    assert!(matches!(
        d.handle(other).await.unwrap_err(),
        HandlerError::NoHandler(_)
    ));
}

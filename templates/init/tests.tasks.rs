//! Tests of the `tasks` context's CommandHandler with the in-memory state store: no broker and
//! no database. Yours to edit: `codegen generate` never touches this folder.

use runtime::command_handler::CommandHandler;
use runtime::memory::state::MemoryStateStore;
use runtime::store::{CommandStatus, OutboxDestination};
use runtime::{Message, Metadata, RawEnvelope};
use std::sync::Arc;
use tasks_contracts::task::{AssignTask, CompleteTask, CreateTask, TaskCreated};
use tasks_contracts::types::Priority;

/// A command envelope as the Command API sends it, for the aggregate `aggregate_id`.
fn command<T: Message>(message: &T, aggregate_id: &str) -> RawEnvelope {
    let mut meta = Metadata::new_root(T::TYPE, "acme");
    meta.user_id = Some("alice".into());
    meta.aggregate_id = Some(aggregate_id.to_owned());
    RawEnvelope {
        meta,
        payload: serde_json::to_value(message).expect("commands serialize"),
    }
}

#[tokio::test]
async fn a_task_is_completed_only_once_assigned() {
    let store = Arc::new(MemoryStateStore::new());
    let handler = tasks_command_handler::wiring::handlers(store.clone());
    let id = runtime::uuid::Uuid::new_v4().to_string();

    let create = CreateTask {
        title: "Write the README".into(),
        priority: Priority::High,
    };
    let created = handler.handle(command(&create, &id)).await.expect("handled");
    assert_eq!(created.status, CommandStatus::Processed);
    let events: Vec<RawEnvelope> = store
        .drain_outbox()
        .into_iter()
        .filter(|m| m.destination == OutboxDestination::Event)
        .map(|m| m.envelope)
        .collect();
    assert_eq!(events.len(), 1);
    let event: TaskCreated = runtime::message::decode_payload(&events[0]).expect("TaskCreated");
    assert_eq!(event.title, "Write the README");

    // The rule `assigned` rejects completing an unassigned task.
    let rejected = handler
        .handle(command(&CompleteTask {}, &id))
        .await
        .expect("handled");
    assert_eq!(rejected.status, CommandStatus::Rejected);
    assert_eq!(rejected.code.as_deref(), Some("assigned"));

    let assign = AssignTask {
        assignee: "bob".into(),
    };
    let assigned = handler.handle(command(&assign, &id)).await.expect("handled");
    assert_eq!(assigned.status, CommandStatus::Processed);
    let done = handler
        .handle(command(&CompleteTask {}, &id))
        .await
        .expect("handled");
    assert_eq!(done.status, CommandStatus::Processed);
}

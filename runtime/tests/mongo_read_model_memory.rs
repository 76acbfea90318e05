//! The read-model scenarios of `mongo_read_model.rs` on the in-memory store.

mod mongo_read_model_scenarios;

use mongo_read_model_scenarios as scenarios;
use runtime::memory::read_model::MemoryReadModelStore;
use std::sync::Arc;

#[tokio::test]
async fn memory_projection_is_idempotent_and_ordered() {
    scenarios::projection_is_idempotent_and_ordered(MemoryReadModelStore::new()).await;
}

#[tokio::test]
async fn memory_failed_projection_writes_nothing() {
    scenarios::failed_projection_writes_nothing(MemoryReadModelStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn memory_concurrent_duplicates_apply_once() {
    scenarios::concurrent_duplicates_apply_once(Arc::new(MemoryReadModelStore::new())).await;
}

#[tokio::test]
async fn memory_queries_filter_sort_page_and_isolate_tenants() {
    scenarios::queries_filter_sort_page_and_isolate_tenants(MemoryReadModelStore::new()).await;
}

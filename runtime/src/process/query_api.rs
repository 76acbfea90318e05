//! The Query API process: JWT, the read-model routes over MongoDB, and the ops routes.

use super::support::{self, Process};
use super::{ProcessError, ProcessInfo, RunOptions};
use crate::http::query_api::{QueryApi, ReadModelRoute};
use crate::mongo::MongoReadModelStore;
use crate::read_model::{IndexSpec, ReadModelStore};
use std::sync::Arc;

/// Runs a Query API process with the configuration from the environment until
/// [`super::shutdown_signal`]; see [`run_query_api_with`].
///
/// ```no_run
/// use runtime::http::query_api::ReadModelRoute;
/// use runtime::process::{ProcessInfo, main_exit, run_query_api};
///
/// const ROUTES: &[ReadModelRoute] = &[/* generated */];
/// # async fn main_() -> std::process::ExitCode {
/// const INFO: ProcessInfo = ProcessInfo {
///     name: "ordering-query-api",
///     context: "ordering",
///     queue: None,
///     default_http_addr: "127.0.0.1:8083",
/// };
/// main_exit(run_query_api(INFO, ROUTES, vec![]).await)
/// # }
/// ```
pub async fn run_query_api(
    info: ProcessInfo,
    routes: &'static [ReadModelRoute],
    indexes: Vec<(&'static str, IndexSpec)>,
) -> Result<(), ProcessError> {
    run_query_api_with(info, RunOptions::from_env(&info)?, routes, indexes).await
}

/// Runs a Query API process with `options`: JWT validation from `JWT_*` (exactly one key
/// source; none is an error), MongoDB (`MONGODB_URL`, `MONGODB_DATABASE`, retrying until it
/// answers), the `indexes`, a [`QueryApi`] with every route, served merged with `/health/*`
/// (check: `mongodb`) and `/metrics`. Needs neither RabbitMQ nor PostgreSQL.
pub async fn run_query_api_with(
    info: ProcessInfo,
    options: RunOptions,
    routes: &'static [ReadModelRoute],
    indexes: Vec<(&'static str, IndexSpec)>,
) -> Result<(), ProcessError> {
    let auth = Arc::new(support::jwt_auth(&options.config().jwt)?);
    let mut process = Process::start(info, options)?;
    let Some(db) = support::connect_mongo(&process).await? else {
        return process.run().await;
    };
    let store = MongoReadModelStore::new(db.clone());
    support::ensure_indexes(&store, &indexes).await?;
    let store: Arc<dyn ReadModelStore> = Arc::new(store);
    let api = routes
        .iter()
        .fold(QueryApi::new(store, auth), |api, route| {
            api.read_model(*route)
        });
    process
        .serve(api.router(), vec![support::mongo_check(db.clone())])
        .await?;
    let result = process.run().await;
    support::close_mongo(db).await;
    result
}

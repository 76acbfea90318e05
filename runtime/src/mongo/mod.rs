//! MongoDB adapters (feature `mongo`, mongodb 3.9 with bson 3): read models
//! ([`read_model::MongoReadModelStore`]) and sagas ([`saga_store::MongoSagaStore`]).

mod markers;
pub mod read_model;
pub mod saga_store;

pub use read_model::MongoReadModelStore;
pub use saga_store::MongoSagaStore;

/// Connects to `url` and returns the database `db` (the connection is established lazily by
/// the driver; use [`ping`] to check it).
pub async fn connect(url: &str, db: &str) -> Result<mongodb::Database, mongodb::error::Error> {
    let client = mongodb::Client::with_uri_str(url).await?;
    Ok(client.database(db))
}

/// Checks that the server answers (`ping`), for readiness probes.
pub async fn ping(db: &mongodb::Database) -> Result<(), mongodb::error::Error> {
    db.run_command(mongodb::bson::doc! { "ping": 1 }).await?;
    Ok(())
}

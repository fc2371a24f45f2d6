//! Schema migrations for cutover's store, one file per change, each with `up` and `down`.
//!
//! The same migrations run on SQLite (the embedded default) and Postgres. [`upgrade`] is
//! the one way the store applies them: all pending migrations and their bookkeeping rows
//! in one transaction (SQLite and Postgres both have transactional DDL), taken under a
//! lock, so an interrupted or failed upgrade leaves the schema as it was and two first
//! commands racing never both create it.

pub use sea_orm_migration::prelude::*;

use sea_orm_migration::sea_orm::{
    DatabaseConnection, DbBackend, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};

mod m20261125_000001_initial;
mod m20261125_000002_source_snapshots;
mod m20261125_000003_check_findings;
mod m20261201_000004_log_binding;
mod m20261201_000005_outbox;
mod m20261201_000006_variances;
mod m20261201_000007_variance_policy;
mod m20261201_000008_runtime;
mod m20261201_000009_compact_store;

/// Every schema change, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_source_snapshots::Migration),
            Box::new(m20261125_000003_check_findings::Migration),
            Box::new(m20261201_000004_log_binding::Migration),
            Box::new(m20261201_000005_outbox::Migration),
            Box::new(m20261201_000006_variances::Migration),
            Box::new(m20261201_000007_variance_policy::Migration),
            Box::new(m20261201_000008_runtime::Migration),
            Box::new(m20261201_000009_compact_store::Migration),
        ]
    }
}

/// The key of the Postgres advisory lock taken while the schema is upgraded.
const UPGRADE_LOCK: i64 = 0x6375_746f_7665_7201; // "cutover" + 1

/// Brings the schema up to date, atomically.
///
/// The common case (nothing pending) is one read and takes no lock. Otherwise one
/// transaction, opened with the write lock (SQLite `BEGIN IMMEDIATE`, a Postgres advisory
/// lock), re-reads what is pending and applies it together with its `seaql_migrations`
/// rows: a process killed or a disk filling up mid-way leaves the schema exactly as it was
/// before, and the next command upgrades it again.
pub async fn upgrade(db: &DatabaseConnection) -> Result<(), DbErr> {
    if up_to_date(db).await {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let options = TransactionOptions {
        sqlite_transaction_mode: (backend == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let txn = db.begin_with_options(options).await?;
    if backend == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({UPGRADE_LOCK})"))
            .await?;
    }
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Whether every migration is recorded as applied (false when the bookkeeping table is
/// missing or cannot be read).
async fn up_to_date(db: &DatabaseConnection) -> bool {
    let backend = db.get_database_backend();
    let Ok(rows) = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations",
        ))
        .await
    else {
        return false;
    };
    let applied: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "version").ok())
        .collect();
    Migrator::migrations()
        .iter()
        .all(|m| applied.iter().any(|a| a == m.name()))
}

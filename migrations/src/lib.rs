//! Schema migrations for cutover's store, one file per change, each with `up` and `down`.
//!
//! The same migrations run on SQLite (the embedded default) and Postgres.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261125_000002_source_snapshots;
mod m20261125_000003_check_findings;

/// Every schema change, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_source_snapshots::Migration),
            Box::new(m20261125_000003_check_findings::Migration),
        ]
    }
}

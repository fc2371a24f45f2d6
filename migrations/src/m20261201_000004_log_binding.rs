//! Binds the migration's state to the transition log: every entry gets `state` (JSON: the
//! sha256 of the state rows after it and, for an accepted entry, the rows it changed) and
//! `mac` (HMAC-SHA256 of its hash under `CUTOVER_LOG_KEY`, when that key is set).
//!
//! Entries written before this change keep an empty `state` and no `mac`.
//!
//! Every command derives the phase visits from the log's accepted start, advance and
//! rollback entries; an index on (migration, result, kind, seq) keeps that read from
//! scanning the whole log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table("transition_log")
                    .add_column(text("state").default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("transition_log")
                    .add_column(text_null("mac"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transition_log_visits")
                    .table("transition_log")
                    .col("migration_id")
                    .col("result")
                    .col("kind")
                    .col("seq")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_transition_log_visits")
                    .table("transition_log")
                    .to_owned(),
            )
            .await?;
        for col in ["mac", "state"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("transition_log")
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

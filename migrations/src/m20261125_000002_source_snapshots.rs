//! Source snapshots: every pull of a source's window, with the hashes and redacted
//! requests of the raw payloads it read and its normalised rows (JSON, in chunks).
//!
//! A snapshot's header and rows are written in one transaction; only a snapshot whose
//! status is `complete` may be read by a check.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("source_snapshots")
                    .col(pk_auto("id"))
                    .col(string("source_id"))
                    .col(string("system"))
                    .col(date("window_from"))
                    .col(date("window_to"))
                    .col(string("status"))
                    .col(text_null("reason"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("finished_at"))
                    .col(integer("page_count"))
                    .col(big_integer("bytes"))
                    .col(big_integer("row_count"))
                    .col(string("payload_sha256"))
                    .col(string("rows_sha256"))
                    .col(text("pages"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_source_snapshots_window")
                    .table("source_snapshots")
                    .col("source_id")
                    .col("window_from")
                    .col("window_to")
                    .col("status")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("source_snapshot_rows")
                    .col(pk_auto("id"))
                    .col(integer("snapshot_id"))
                    .col(integer("chunk"))
                    .col(text("rows"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_source_snapshot_rows_snapshot")
                            .from("source_snapshot_rows", "snapshot_id")
                            .to("source_snapshots", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_source_snapshot_rows_chunk")
                    .table("source_snapshot_rows")
                    .col("snapshot_id")
                    .col("chunk")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("source_snapshot_rows").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("source_snapshots").to_owned())
            .await
    }
}

//! The notification outbox: one row per email a decision implies, written in the same
//! transaction as the decision, delivered later (with retries) and marked sent only once
//! the mail server accepted it.
//!
//! `dedupe_key` makes enqueueing idempotent (a retried job queues nothing twice);
//! `message_id` is the stable `Message-ID` every delivery attempt of the row carries.

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
                    .table("outbox")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(string_uniq("dedupe_key"))
                    .col(string("kind"))
                    .col(string("recipient"))
                    .col(text("address"))
                    .col(text("subject"))
                    .col(text("body_text"))
                    .col(text("body_html"))
                    .col(string_uniq("message_id"))
                    .col(string("status"))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_migration_id")
                            .from("outbox", "migration_id")
                            .to("migrations", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table("outbox")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("outbox").if_exists().to_owned())
            .await
    }
}

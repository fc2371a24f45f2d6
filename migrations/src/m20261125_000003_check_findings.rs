//! Findings of scheduled check runs: one row per key or subject a check reported
//! (variance, only_old, unmapped_partner...), tied to the run that found it.

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
                    .table("check_findings")
                    .col(pk_auto("id"))
                    .col(integer("check_run_id"))
                    .col(string("code"))
                    .col(text("subject"))
                    // Decimals as text: exact on both databases.
                    .col(string_null("old_value"))
                    .col(string_null("new_value"))
                    .col(string_null("expected_value"))
                    .col(text("detail"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_check_findings_check_run_id")
                            .from("check_findings", "check_run_id")
                            .to("check_runs", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_check_findings_run")
                    .table("check_findings")
                    .col("check_run_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("check_findings").if_exists().to_owned())
            .await
    }
}

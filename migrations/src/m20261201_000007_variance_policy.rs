//! Acceptance by more than one layer: `variances.acceptances` keeps every acceptance a
//! variance received since its last explanation (JSON list of `{by, layers, at}`), so a
//! variance that the plan asks finance and BI to accept is `accepted` only once both did.
//! Rows written before this change have none (their `accepted_by` still names the one
//! acceptor).

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
            .alter_table(
                Table::alter()
                    .table("variances")
                    .add_column(text_null("acceptances"))
                    .to_owned(),
            )
            .await?;
        // The gate reads the live variances of a migration with every command.
        manager
            .create_index(
                Index::create()
                    .name("idx_variances_status")
                    .table("variances")
                    .col("migration_id")
                    .col("status")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_variances_status")
                    .table("variances")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("variances")
                    .drop_column("acceptances")
                    .to_owned(),
            )
            .await
    }
}

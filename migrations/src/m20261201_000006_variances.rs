//! The variance register: every non-matching key a check run found, kept across runs
//! (`variances`, unique per migration and key), and every change to one with who, when
//! and why (`variance_events`).

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
                    .table("variances")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    // check|partner|day|metric|link|coupon: the register's key.
                    .col(string("key_text"))
                    .col(string("check_id"))
                    .col(string("partner"))
                    .col(date("day"))
                    .col(string("metric"))
                    .col(string_null("link"))
                    .col(string_null("coupon"))
                    .col(string("code"))
                    // Decimals as text: exact on both databases.
                    .col(string_null("old_value"))
                    .col(string_null("new_value"))
                    .col(string("delta"))
                    .col(string_null("money_impact"))
                    .col(timestamp_with_time_zone("first_seen"))
                    .col(timestamp_with_time_zone("last_seen"))
                    // JSON arrays of check_runs ids and source snapshot ids.
                    .col(text("runs"))
                    .col(text("snapshots"))
                    .col(string("status"))
                    // JSON {category, confidence, evidence} or NULL.
                    .col(text_null("proposed"))
                    .col(string_null("group_key"))
                    // JSON {category, note, by, at, expires} or NULL.
                    .col(text_null("explanation"))
                    .col(string_null("accepted_by"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_variances_migration_id")
                            .from("variances", "migration_id")
                            .to("migrations", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_variances_key")
                    .table("variances")
                    .col("migration_id")
                    .col("key_text")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("variance_events")
                    .col(pk_auto("id"))
                    .col(integer("variance_id"))
                    .col(timestamp_with_time_zone("at"))
                    // A person, or `check run` for what a run did.
                    .col(string("actor"))
                    .col(string("action"))
                    .col(string_null("from_status"))
                    .col(string("to_status"))
                    .col(text("why"))
                    .col(integer_null("check_run_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_variance_events_variance_id")
                            .from("variance_events", "variance_id")
                            .to("variances", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_variance_events_variance")
                    .table("variance_events")
                    .col("variance_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("variance_events")
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("variances").if_exists().to_owned())
            .await
    }
}

//! The job runtime's own bookkeeping: `schedule_ticks` (one row per cron tick of a check
//! that the scheduler handled, unique per migration, check and tick, so two schedulers on
//! one database queue a tick once) and `run_keys` (one row per scheduled run stored,
//! unique per migration and key `check/from/to/plan version`, written in the run's own
//! transaction, so a retried or duplicated job never stores a second run).

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
                    .table("schedule_ticks")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(string("check_id"))
                    .col(timestamp_with_time_zone("tick_at"))
                    .col(integer("plan_version"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_schedule_ticks_migration_id")
                            .from("schedule_ticks", "migration_id")
                            .to("migrations", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedule_ticks_unique")
                    .table("schedule_ticks")
                    .col("migration_id")
                    .col("check_id")
                    .col("tick_at")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("run_keys")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(string("run_key"))
                    .col(big_integer("log_seq"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_run_keys_migration_id")
                            .from("run_keys", "migration_id")
                            .to("migrations", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_run_keys_unique")
                    .table("run_keys")
                    .col("migration_id")
                    .col("run_key")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("run_keys").if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("schedule_ticks").if_exists().to_owned())
            .await
    }
}

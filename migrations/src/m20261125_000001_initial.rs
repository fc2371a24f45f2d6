//! The first schema: migrations, plan versions, check runs, sign-offs, waivers and the
//! hash-chained transition log.
//!
//! JSON payloads are `text`, not `json`/`jsonb`, so the bytes hashed into the log are the
//! bytes read back (jsonb would reorder keys and break `history verify`).

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
                    .table("migrations")
                    .col(pk_auto("id"))
                    .col(string_uniq("name"))
                    .col(string("status"))
                    .col(string_null("current_phase"))
                    .col(timestamp_with_time_zone_null("phase_entered_at"))
                    .col(integer("plan_version"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("plans")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(integer("version"))
                    .col(string("file_name"))
                    .col(text("content"))
                    .col(string("content_hash"))
                    .col(timestamp_with_time_zone("applied_at"))
                    .col(string_null("applied_by"))
                    .foreign_key(&mut fk("plans", "migration_id"))
                    .to_owned(),
            )
            .await?;
        unique(manager, "plans", &["migration_id", "version"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("check_runs")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(string("check_id"))
                    .col(string("phase"))
                    .col(string("outcome"))
                    .col(date_null("window_from"))
                    .col(date_null("window_to"))
                    .col(text_null("detail"))
                    .col(string_null("recorded_by"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .col(string("source"))
                    .foreign_key(&mut fk("check_runs", "migration_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_check_runs_lookup")
                    .table("check_runs")
                    .col("migration_id")
                    .col("recorded_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("signoffs")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(integer("seq"))
                    .col(string("phase"))
                    .col(string("layer"))
                    .col(string("signed_by"))
                    .col(timestamp_with_time_zone("signed_at"))
                    .col(text_null("comment"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(string_null("revoked_by"))
                    .col(text_null("revoke_reason"))
                    .col(timestamp_with_time_zone_null("voided_at"))
                    .col(string_null("voided_by"))
                    .col(text_null("void_reason"))
                    .foreign_key(&mut fk("signoffs", "migration_id"))
                    .to_owned(),
            )
            .await?;
        unique(manager, "signoffs", &["migration_id", "seq"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("waivers")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(integer("seq"))
                    .col(string("condition_id"))
                    .col(string("granted_by"))
                    .col(timestamp_with_time_zone("granted_at"))
                    .col(text("justification"))
                    .col(date("expires"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk("waivers", "migration_id"))
                    .to_owned(),
            )
            .await?;
        unique(manager, "waivers", &["migration_id", "seq"]).await?;
        manager
            .create_table(
                Table::create()
                    .table("transition_log")
                    .col(pk_auto("id"))
                    .col(integer("migration_id"))
                    .col(big_integer("seq"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string("kind"))
                    .col(string("result"))
                    .col(string_null("actor"))
                    .col(string_null("from_phase"))
                    .col(string_null("to_phase"))
                    .col(integer("plan_version"))
                    .col(text("summary"))
                    .col(text("command"))
                    .col(text("effects"))
                    .col(text("facts"))
                    .col(string("prev_hash"))
                    .col(string("hash"))
                    .foreign_key(&mut fk("transition_log", "migration_id"))
                    .to_owned(),
            )
            .await?;
        // The unique (migration, seq) pair is what keeps two writers from forking the chain.
        unique(manager, "transition_log", &["migration_id", "seq"]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "transition_log",
            "waivers",
            "signoffs",
            "check_runs",
            "plans",
            "migrations",
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn fk(table: &'static str, col: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(table, col)
        .to("migrations", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn unique(
    manager: &SchemaManager<'_>,
    table: &'static str,
    cols: &[&'static str],
) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(format!("uq_{table}_{}", cols.join("_")))
        .table(table)
        .unique();
    for c in cols {
        idx.col(*c);
    }
    manager.create_index(idx.to_owned()).await
}

//! Compact snapshot rows: a chunk of a snapshot's rows may be stored compressed
//! (`packed`: the chunk's JSON rows, LZ4-compressed) instead of as text in `rows` (then empty).
//! Chunks written before keep their text and still read.

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
                    .table("source_snapshot_rows")
                    .add_column(blob_null("packed"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("source_snapshot_rows")
                    .drop_column("packed")
                    .to_owned(),
            )
            .await
    }
}

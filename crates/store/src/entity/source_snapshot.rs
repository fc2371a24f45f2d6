//! `source_snapshots`: one pull of one source's window (header; rows are in chunks).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source_snapshots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub source_id: String,
    pub system: String,
    pub window_from: Date,
    pub window_to: Date,
    /// complete, inconclusive or failed.
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    pub page_count: i32,
    pub bytes: i64,
    pub row_count: i64,
    pub payload_sha256: String,
    pub rows_sha256: String,
    /// JSON list of the pages read (redacted request, status, size, sha256).
    #[sea_orm(column_type = "Text")]
    pub pages: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

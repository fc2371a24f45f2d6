//! `plans`: every plan version applied to a migration, with its text and sha256.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub version: i32,
    pub file_name: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub content_hash: String,
    pub applied_at: DateTimeUtc,
    pub applied_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

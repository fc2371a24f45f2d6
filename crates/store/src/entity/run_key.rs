//! `run_keys`: the idempotency key of every scheduled run stored, with its log entry.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub run_key: String,
    pub log_seq: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

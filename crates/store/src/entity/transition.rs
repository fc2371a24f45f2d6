//! `transition_log`: the append-only, hash-chained record of every command taken or refused.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transition_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub seq: i64,
    pub at: DateTimeUtc,
    pub kind: String,
    pub result: String,
    pub actor: Option<String>,
    pub from_phase: Option<String>,
    pub to_phase: Option<String>,
    pub plan_version: i32,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "Text")]
    pub command: String,
    #[sea_orm(column_type = "Text")]
    pub effects: String,
    #[sea_orm(column_type = "Text")]
    pub facts: String,
    /// JSON binding the state rows to this entry (empty on entries from before it).
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub prev_hash: String,
    pub hash: String,
    /// HMAC-SHA256 of `hash` under `CUTOVER_LOG_KEY`, when set.
    #[sea_orm(column_type = "Text", nullable)]
    pub mac: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

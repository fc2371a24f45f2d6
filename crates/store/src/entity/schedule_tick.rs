//! `schedule_ticks`: cron ticks of scheduled checks the scheduler handled (queued or skipped).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule_ticks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub check_id: String,
    pub tick_at: DateTimeUtc,
    pub plan_version: i32,
    pub status: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

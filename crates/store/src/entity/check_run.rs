//! `check_runs`: every recorded outcome of a check, manual or scheduled.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "check_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub check_id: String,
    pub phase: String,
    pub outcome: String,
    /// First report day the run compared (plan zone), for scheduled runs.
    pub window_from: Option<Date>,
    pub window_to: Option<Date>,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: DateTimeUtc,
    pub source: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

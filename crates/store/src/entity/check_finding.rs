//! `check_findings`: what a scheduled check run found, one row per key or subject.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "check_findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub check_run_id: i32,
    pub code: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub expected_value: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

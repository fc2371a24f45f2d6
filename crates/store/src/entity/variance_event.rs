//! `variance_events`: every change to a variance, with who, when and why.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "variance_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub variance_id: i32,
    pub at: DateTimeUtc,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    #[sea_orm(column_type = "Text")]
    pub why: String,
    pub check_run_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

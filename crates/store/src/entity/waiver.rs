//! `waivers`: every waiver granted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "waivers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub seq: i32,
    pub condition_id: String,
    pub granted_by: String,
    pub granted_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub justification: String,
    pub expires: Date,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

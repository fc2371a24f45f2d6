//! `signoffs`: every sign-off given, with its revocation or voiding.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signoffs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub seq: i32,
    pub phase: String,
    pub layer: String,
    pub signed_by: String,
    pub signed_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub comment: Option<String>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub revoke_reason: Option<String>,
    pub voided_at: Option<DateTimeUtc>,
    pub voided_by: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub void_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

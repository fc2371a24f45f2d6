//! `variances`: the register, one row per (migration, key) a check run found not matching.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "variances")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub migration_id: i32,
    pub key_text: String,
    pub check_id: String,
    pub partner: String,
    pub day: Date,
    pub metric: String,
    pub link: Option<String>,
    pub coupon: Option<String>,
    pub code: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub delta: String,
    pub money_impact: Option<String>,
    pub first_seen: DateTimeUtc,
    pub last_seen: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub runs: String,
    #[sea_orm(column_type = "Text")]
    pub snapshots: String,
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub proposed: Option<String>,
    pub group_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub explanation: Option<String>,
    pub accepted_by: Option<String>,
    /// JSON list of `{by, layers, at}` since the last explanation, or NULL.
    #[sea_orm(column_type = "Text", nullable)]
    pub acceptances: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

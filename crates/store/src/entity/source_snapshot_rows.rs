//! `source_snapshot_rows`: the normalised rows of a snapshot, as JSON arrays in chunks,
//! each stored as text (`rows`) or LZ4-compressed (`packed`, `rows` then empty).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source_snapshot_rows")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub snapshot_id: i32,
    pub chunk: i32,
    #[sea_orm(column_type = "Text")]
    pub rows: String,
    #[sea_orm(column_type = "Blob", nullable)]
    pub packed: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

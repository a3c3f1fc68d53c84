//! `crm_comms_log`: one row per logged communication with a customer.

use crate::{Attachments, CommDirection, CommType};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "crm_comms_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub customer_id: String,
    #[sea_orm(column_name = "type")]
    pub comm_type: CommType,
    pub direction: CommDirection,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// NULL is possible in a seed database (the column only has a default); read as `[]`.
    pub attachments: Option<Attachments>,
    pub ext_message_id: Option<String>,
    pub logged_by: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

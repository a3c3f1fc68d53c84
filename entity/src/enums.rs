//! The seed's three enums, stored as their lowercase string values.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Channel of a communication.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CommType {
    #[sea_orm(string_value = "email")]
    Email,
    #[sea_orm(string_value = "whatsapp")]
    Whatsapp,
    #[sea_orm(string_value = "call")]
    Call,
    #[sea_orm(string_value = "sms")]
    Sms,
    #[sea_orm(string_value = "note")]
    Note,
    #[sea_orm(string_value = "in_person")]
    InPerson,
}

/// Direction of a communication relative to the business.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CommDirection {
    #[sea_orm(string_value = "inbound")]
    Inbound,
    #[sea_orm(string_value = "outbound")]
    Outbound,
    #[sea_orm(string_value = "internal")]
    Internal,
}

/// Direction of a media file relative to the business.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MediaDirection {
    #[sea_orm(string_value = "received")]
    Received,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "internal")]
    Internal,
}

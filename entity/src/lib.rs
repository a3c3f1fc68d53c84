//! SeaORM entities for the two tables of the seed's step 04: `crm_comms_log` and `crm_media`.
//!
//! Table and column names are exactly the seed's, so a database file written by the Python
//! backend is read as it is. `attachments` and `tags` are JSON lists; on SQLite they are stored
//! as JSON text (the seed's encoding), on PostgreSQL/MySQL in native JSON columns.

pub mod comm;
pub mod enums;
pub mod json;
pub mod media;

pub use enums::{CommDirection, CommType, MediaDirection};
pub use json::{Attachment, Attachments, Tags};

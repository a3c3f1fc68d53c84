//! `store::pooled::PoolRow` (rows decoded by column position on PostgreSQL and MySQL) decodes
//! every row exactly as SeaORM's `FromQueryResult` (by column name) does, on every backend:
//! NULLs, enums, JSON lists, times, non-ASCII text.

use crate::common::{TestApp, backend_tests};
use crm_comms::store::pooled::{PoolRow, all_rows};
use entity::{comm, media};
use sea_orm::{ConnectionTrait, Database, EntityTrait, QueryOrder, QueryTrait};
use serde_json::json;

async fn rows_decode_as_seaorm_decodes_them(app: &TestApp) {
    app.create_comm(json!({
        "customerId": "pool-rows", "type": "EMAIL", "direction": "INBOUND",
        "subject": "Quote \"Q-7\" — ünï 😀", "body": "line 1\nline 2\t\\",
        "attachments": [
            { "filename": "a.pdf", "nextcloudPath": "/Customers/pool-rows/a.pdf" },
            { "filename": "b.jpg", "nextcloudPath": "/Customers/pool-rows/b.jpg" }
        ],
        "extMessageId": "<m@x>", "loggedBy": "ana", "occurredAt": "2026-11-24T10:00:00.123456+02:00"
    }))
    .await;
    app.create_comm(json!({ "customerId": "pool-rows", "type": "NOTE", "direction": "INTERNAL" }))
        .await;
    app.create_media(json!({
        "customerId": "pool-rows", "orderId": "o-1", "filename": "front.jpg",
        "nextcloudPath": "/Customers/pool-rows/front.jpg", "mimeType": "image/jpeg",
        "direction": "RECEIVED", "tags": ["front", "ünï 😀"], "uploadedBy": "ana"
    }))
    .await;
    app.create_media(json!({ "filename": "bare.bin", "nextcloudPath": "/bare.bin" }))
        .await;

    let db = Database::connect(app.db.url.clone()).await.unwrap();
    let backend = db.get_database_backend();
    let comms = comm::Entity::find().order_by_asc(comm::Column::Id);
    let by_name = comms.clone().all(&db).await.unwrap();
    let by_position: Vec<comm::Model> = all_rows(&db, comms.build(backend)).await.unwrap();
    assert_eq!(by_name.len(), 2);
    assert_eq!(by_position, by_name);
    let media = media::Entity::find().order_by_asc(media::Column::Id);
    let by_name = media.clone().all(&db).await.unwrap();
    let by_position: Vec<media::Model> = all_rows(&db, media.build(backend)).await.unwrap();
    assert_eq!(by_name.len(), 2);
    assert_eq!(by_position, by_name);
    // A row of another shape is an error, not a wrong model.
    let other = sea_orm::Statement::from_string(backend, "SELECT 1");
    let row = db.query_one_raw(other).await.unwrap().unwrap();
    assert!(comm::Model::pool_row(&row).is_err());
}

backend_tests!(rows_decode_as_seaorm_decodes_them);

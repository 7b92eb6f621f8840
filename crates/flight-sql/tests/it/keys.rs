//! GetPrimaryKeys answers from the keys the connector reports (a model
//! file's `#key` columns here).

use arrow_flight::sql::CommandGetPrimaryKeys;
use serde_json::json;

use crate::custom::serve_model;
use crate::*;

const MODEL: &str = r##"{
  "lines": {
    "#path": ["{base}/lines /data"],
    "note": "VarChar(32)",
    "order_id": "Integer,#key",
    "line": "Integer,#key"
  },
  "events": {
    "#path": ["{base}/events /data"],
    "at": "Timestamp",
    "what": "VarChar(32)"
  },
  "items": {
    "#path": ["{base}/items /data"],
    "id": "Integer,#key",
    "name": "VarChar(32)"
  }
}"##;

async fn keys(
    c: &mut arrow_flight::sql::client::FlightSqlServiceClient<tonic::transport::Channel>,
    catalog: Option<&str>,
    schema: Option<&str>,
    table: &str,
) -> Vec<serde_json::Value> {
    let info = c
        .get_primary_keys(CommandGetPrimaryKeys {
            catalog: catalog.map(str::to_owned),
            db_schema: schema.map(str::to_owned),
            table: table.to_owned(),
        })
        .await
        .unwrap();
    to_json(&fetch(c, info).await.unwrap())
}

#[tokio::test]
async fn primary_keys_are_the_key_columns_in_table_order() {
    let served = serve_model(vec![], MODEL, "", "").await;
    let mut c = alice(served.addr).await;
    // A composite key, in the order of the table's columns; key_name is null.
    assert_eq!(
        keys(&mut c, None, Some("shop"), "lines").await,
        [
            json!({"catalog_name": "connectkit", "db_schema_name": "shop", "table_name": "lines",
                   "column_name": "order_id", "key_sequence": 1}),
            json!({"catalog_name": "connectkit", "db_schema_name": "shop", "table_name": "lines",
                   "column_name": "line", "key_sequence": 2}),
        ]
    );
    // Any schema, and the table named in another case: the source's spelling.
    assert_eq!(
        keys(&mut c, Some("connectkit"), None, "ITEMS").await,
        [
            json!({"catalog_name": "connectkit", "db_schema_name": "shop", "table_name": "items",
                   "column_name": "id", "key_sequence": 1})
        ]
    );
    // No key, another catalog or schema, an unknown table: no rows.
    assert!(keys(&mut c, None, None, "events").await.is_empty());
    assert!(keys(&mut c, Some("other"), None, "items").await.is_empty());
    assert!(keys(&mut c, None, Some("crm"), "items").await.is_empty());
    assert!(keys(&mut c, None, None, "nothing").await.is_empty());
    // Keys come from the model file: the API was never asked.
    assert!(
        served
            .upstream
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
    served.stop().await;
}

#[tokio::test]
async fn primary_keys_need_a_login() {
    let served = serve_model(vec![], MODEL, "", "").await;
    let mut c = anonymous(served.addr).await;
    let e = c
        .get_primary_keys(CommandGetPrimaryKeys {
            catalog: None,
            db_schema: None,
            table: "items".into(),
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(has_code(&e, tonic::Code::Unauthenticated), "{e}");
    served.stop().await;
}

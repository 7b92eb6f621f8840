//! Catalogue metadata as a database browser (ADBC's get_objects, DBeaver)
//! reads it.

use arrow_array::{Array, BinaryArray, StringArray, UnionArray};
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables, SqlInfo};
use arrow_ipc::convert::try_schema_from_ipc_buffer;
use serde_json::json;

use crate::*;

#[tokio::test]
async fn catalogs_schemas_tables_and_types() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;

    let info = c.get_catalogs().await.unwrap();
    assert_eq!(
        to_json(&fetch(&mut c, info).await.unwrap()),
        [json!({"catalog_name": "connectkit"})]
    );

    let info = c
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: Some("sh%".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        to_json(&fetch(&mut c, info).await.unwrap()),
        [json!({"catalog_name": "connectkit", "db_schema_name": "shop"})]
    );

    let info = c
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: None,
            table_name_filter_pattern: Some("it%".into()),
            table_types: vec![],
            include_schema: true,
        })
        .await
        .unwrap();
    let batches = fetch(&mut c, info).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    let b = &batches[0];
    let name = b
        .column_by_name("table_name")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(name.value(0), "items");
    let kind = b
        .column_by_name("table_type")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(kind.value(0), "TABLE");
    let schema = b
        .column_by_name("table_schema")
        .unwrap()
        .as_any()
        .downcast_ref::<BinaryArray>()
        .unwrap();
    assert!(!schema.is_null(0));
    let schema = try_schema_from_ipc_buffer(schema.value(0)).unwrap();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(columns, ["id", "name", "qty"]);

    let info = c.get_table_types().await.unwrap();
    assert_eq!(
        to_json(&fetch(&mut c, info).await.unwrap()),
        [json!({"table_type": "TABLE"})]
    );

    // Listing reads the model file, never the API.
    assert!(served.requests_to("/items").await.is_empty());
    served.stop().await;
}

#[tokio::test]
async fn sql_info_says_read_only_and_names_the_server() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;
    let info = c
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let batches = fetch(&mut c, info).await.unwrap();
    let b = &batches[0];
    assert_eq!(b.num_rows(), 2);
    let values = b.column_by_name("value").unwrap();
    let union = values.as_any().downcast_ref::<UnionArray>().unwrap();
    let shown: Vec<String> = (0..2).map(|i| format!("{:?}", union.value(i))).collect();
    assert!(shown[0].contains("\"connectkit\""), "{shown:?}");
    assert!(shown[1].contains("true"), "{shown:?}");
    served.stop().await;
}

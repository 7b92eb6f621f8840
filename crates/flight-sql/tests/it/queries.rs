//! Queries, prepared statements, read-only refusals, errors, limits and
//! cancellation, with what the upstream API received.

use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch};
use arrow_flight::{Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus};
use arrow_schema::{DataType, Field, Schema};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use serde_json::json;

use tonic::Code;

use crate::*;

#[tokio::test]
async fn a_query_streams_its_rows_and_a_limit_reaches_the_source() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;
    let rows = query(
        &mut c,
        "SELECT id, name FROM shop.items WHERE qty > 20 ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            json!({"id": 3, "name": "item 3"}),
            json!({"id": 4, "name": "item 4"}),
            json!({"id": 5, "name": "item 5"})
        ]
    );
    let pages: Vec<String> = served
        .requests_to("/items")
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        pages,
        ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"]
    );

    let rows = query(&mut c, "SELECT id FROM shop.items LIMIT 2")
        .await
        .unwrap();
    assert_eq!(rows, [json!({"id": 1}), json!({"id": 2})]);
    // One more page only: the limit stopped the scan after the first.
    assert_eq!(served.requests_to("/items").await.len(), 4);
    served.stop().await;
}

#[tokio::test]
async fn statements_that_change_anything_are_refused_before_the_source_is_asked() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;
    for sql in [
        "INSERT INTO shop.items VALUES (9, 'x', 1)",
        "CREATE TABLE t AS SELECT * FROM shop.items",
        "DROP TABLE shop.items",
        "COPY (SELECT * FROM shop.items) TO '/tmp/stolen.csv'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let e = query(&mut c, sql).await.unwrap_err();
        assert!(has_code(&e, Code::PermissionDenied), "{sql}: {e}");
        assert!(e.contains("connectkit serve is read-only"), "{sql}: {e}");
    }
    let e = c
        .execute_update("DELETE FROM shop.items".into(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    assert!(served.requests_to("/items").await.is_empty());
    assert!(!std::path::Path::new("/tmp/stolen.csv").exists());
    served.stop().await;
}

#[tokio::test]
async fn a_prepared_statement_binds_its_parameter_each_execution() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;
    let mut stmt = c
        .prepare("SELECT name FROM shop.items WHERE id = ?".into(), None)
        .await
        .unwrap();
    let params = stmt.parameter_schema().unwrap().clone();
    assert_eq!(params.fields().len(), 1);
    assert_eq!(params.field(0).name(), "$1");
    // `id` is an Integer column of the model file.
    assert_eq!(params.field(0).data_type(), &DataType::Int32);
    assert_eq!(stmt.dataset_schema().unwrap().field(0).name(), "name");
    // Bound as Int64, as Python's integers are: cast to the column's type.
    for id in [3_i64, 4] {
        let schema = Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, false)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![id]))]).unwrap();
        stmt.set_parameters(batch).unwrap();
        let info = stmt.execute().await.unwrap();
        let rows = to_json(&fetch(&mut c, info).await.unwrap());
        assert_eq!(rows, [json!({"name": format!("item {id}")})]);
    }
    stmt.close().await.unwrap();

    // Without parameters, as ADBC prepares every query.
    let mut plain = c
        .prepare("SELECT count(*) AS n FROM shop.items".into(), None)
        .await
        .unwrap();
    let info = plain.execute().await.unwrap();
    assert_eq!(
        to_json(&fetch(&mut c, info).await.unwrap()),
        [json!({"n": 5})]
    );
    served.stop().await;
}

#[tokio::test]
async fn errors_name_the_table_and_the_cause_and_no_secret() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;
    let e = query(&mut c, "SELECT * FROM shop.broken")
        .await
        .unwrap_err();
    assert!(e.contains("shop.broken"), "{e}");
    assert!(e.contains("500"), "{e}");
    assert!(
        !e.contains("svc-s3cret") && !e.contains("upstream-access"),
        "{e}"
    );

    let e = query(&mut c, "SELECT * FROM shop.nope").await.unwrap_err();
    assert!(
        has_code(&e, Code::InvalidArgument) && e.contains("shop.nope"),
        "{e}"
    );
    served.stop().await;
}

#[tokio::test]
async fn a_result_over_max_rows_ends_with_resource_exhausted() {
    let served = serve("max_rows = 3").await;
    let mut c = alice(served.addr).await;
    let e = query(&mut c, "SELECT id FROM shop.items")
        .await
        .unwrap_err();
    assert!(
        has_code(&e, Code::ResourceExhausted) && e.contains("limits.max_rows"),
        "{e}"
    );
    assert_eq!(
        query(&mut c, "SELECT id FROM shop.items LIMIT 3")
            .await
            .unwrap()
            .len(),
        3
    );
    served.stop().await;
}

#[tokio::test]
async fn queries_per_user_and_in_total_are_limited() {
    let served = serve("queries_per_user = 1\nqueries = 2").await;
    let mut a = alice(served.addr).await;
    let mut b = login(served.addr, "bob", "bob-pw").await;
    // A query that waits on its first page holds its place.
    let first = a
        .execute("SELECT * FROM shop.slow".into(), None)
        .await
        .unwrap();
    let ticket = first.endpoint[0].ticket.clone().unwrap();
    let _running = a.do_get(ticket).await.unwrap();
    let e = query(&mut a, "SELECT id FROM shop.items")
        .await
        .unwrap_err();
    assert!(
        has_code(&e, Code::ResourceExhausted) && e.contains("limits.queries_per_user"),
        "{e}"
    );
    // Bob has a place of his own, and then the server is full.
    let second = b
        .execute("SELECT * FROM shop.slow".into(), None)
        .await
        .unwrap();
    let _also = b
        .do_get(second.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    let mut b2 = login(served.addr, "bob", "bob-pw").await;
    let e = query(&mut b2, "SELECT id FROM shop.items")
        .await
        .unwrap_err();
    assert!(has_code(&e, Code::ResourceExhausted), "{e}");
    // Clients that go away (their streams dropped mid-scan, their
    // connections closed) free their places: the server sees the
    // disconnects and drops the scans, so a new query runs. The server
    // learns of a disconnect asynchronously, hence the retries.
    drop((_running, _also, a, b, b2));
    let mut c = alice(served.addr).await;
    let mut attempts = 0;
    let rows = loop {
        match query(&mut c, "SELECT id FROM shop.items LIMIT 1").await {
            Ok(rows) => break rows,
            Err(e) if has_code(&e, Code::ResourceExhausted) && attempts < 200 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            Err(e) => panic!("the places of clients gone were kept: {e}"),
        }
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    served.stop().await;
}

#[tokio::test]
async fn cancel_flight_info_stops_a_running_query() {
    let served = serve("").await;
    let mut c = alice(served.addr).await;
    let info = c
        .execute("SELECT * FROM shop.slow".into(), None)
        .await
        .unwrap();
    let mut stream = c
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    let action = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(info.clone()).encode_to_vec(),
    );
    let results: Vec<_> = c
        .do_action(action)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let result = CancelFlightInfoResult::decode(&*results[0].body).unwrap();
    assert_eq!(result.status, CancelStatus::Cancelled as i32);
    let e = loop {
        match stream.next().await {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e.to_string(),
            None => panic!("the stream ended without the cancellation"),
        }
    };
    assert!(
        has_code(&e, Code::Cancelled) && e.contains("the query was cancelled"),
        "{e}"
    );
    // The same ticket is gone.
    let e = c
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .err()
        .unwrap();
    assert!(has_code(&e.to_string(), Code::NotFound), "{e}");
    served.stop().await;
}

//! SQL over the Autonomous REST connector: it applies no filter, so the
//! engine does; projection and limit still shape what is read.

use std::io::Write;
use std::sync::Arc;

use connectkit_core::Connector;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

pub const ORDERS: &str = "/shop/orders";

pub fn orders() -> Vec<Value> {
    vec![
        json!({"order_id": 1, "accountid": "a0000000-0000-0000-0000-000000000001", "amount": 100.5, "status": "open", "placed": "2024-01-10"}),
        json!({"order_id": 2, "accountid": "a0000000-0000-0000-0000-000000000003", "amount": 20, "status": "shipped", "placed": "2024-02-01"}),
        json!({"order_id": 3, "accountid": "a0000000-0000-0000-0000-000000000001", "amount": 5.25, "status": "shipped", "placed": "2024-03-15"}),
        json!({"order_id": 4, "accountid": "a0000000-0000-0000-0000-000000000005", "amount": 300, "status": "open", "placed": "2024-04-01"}),
        json!({"order_id": 5, "accountid": "a0000000-0000-0000-0000-000000000003", "amount": 10, "status": "cancelled", "placed": "2024-05-05"}),
    ]
}

/// The orders, `limit`/`offset` paged.
struct Orders;

impl Respond for Orders {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let limit: usize = q["limit"].parse().unwrap();
        let offset: usize = q["offset"].parse().unwrap();
        let rows: Vec<Value> = orders().into_iter().skip(offset).take(limit).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": rows }))
    }
}

/// The orders API on `server` and a connector reading it through a model
/// file (pages of 2 rows).
pub async fn shop(server: &MockServer) -> (Arc<dyn Connector>, tempfile::NamedTempFile) {
    Mock::given(method("GET"))
        .and(path(ORDERS))
        .respond_with(Orders)
        .mount(server)
        .await;
    let model = format!(
        r##"{{
  "#maximumPageSize": 2,
  "#pageSizeParameter": "limit",
  "#rowOffsetParameter": "offset",
  "orders": {{
    "#path": ["{}{ORDERS} /data"],
    "order_id": "Integer,#key",
    "accountid": "VarChar(36)",
    "amount": "Decimal(10,2)",
    "status": "VarChar(16)",
    "placed": "Date"
  }}
}}"##,
        server.uri()
    );
    let mut file = tempfile::Builder::new().suffix(".rest").tempfile().unwrap();
    file.write_all(model.as_bytes()).unwrap();
    // One page at a time: the tests assert the exact pages requested.
    let c = connectkit_autorest::AutoRestDataSource::new()
        .config(file.path().to_str().unwrap())
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    (Arc::new(c), file)
}

fn order_ids(rows: &[Value]) -> Vec<i64> {
    column(rows, "order_id")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

async fn pages(server: &MockServer) -> Vec<String> {
    requests_to(server, ORDERS)
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn projection_and_a_filter_the_engine_applies() {
    let server = MockServer::builder().start().await;
    let (c, _model) = shop(&server).await;
    let ctx = session("shop", c).await;
    let rows = query(&ctx, "SELECT order_id, amount FROM shop.ORDERS").await;
    assert_eq!(order_ids(&rows), [1, 2, 3, 4, 5]);
    assert_eq!(rows[0].as_object().unwrap().len(), 2);
    let rows = query(
        &ctx,
        "SELECT order_id FROM shop.orders WHERE status = 'open' OR amount < 6",
    )
    .await;
    assert_eq!(order_ids(&rows), [1, 3, 4]);
    // The API takes no filter: every page is read, each request only pages.
    let all = ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"];
    assert_eq!(pages(&server).await, [all, all].concat());
}

#[tokio::test]
async fn limits_with_and_without_filters() {
    let server = MockServer::builder().start().await;
    let (c, _model) = shop(&server).await;
    let ctx = session("shop", c).await;
    let rows = query(&ctx, "SELECT order_id FROM shop.orders LIMIT 3").await;
    assert_eq!(order_ids(&rows), [1, 2, 3]);
    // No filter: the limit reaches the source, which stops after 2 pages.
    assert_eq!(
        pages(&server).await,
        ["limit=2&offset=0", "limit=2&offset=2"]
    );
    let rows = query(
        &ctx,
        "SELECT order_id FROM shop.orders WHERE status = 'cancelled' LIMIT 1",
    )
    .await;
    assert_eq!(order_ids(&rows), [5]);
    let rows = query(
        &ctx,
        "SELECT order_id FROM shop.orders WHERE status = 'shipped' ORDER BY order_id DESC LIMIT 1",
    )
    .await;
    assert_eq!(order_ids(&rows), [3]);
}

#[tokio::test]
async fn order_by_and_group_by() {
    let server = MockServer::builder().start().await;
    let (c, _model) = shop(&server).await;
    let ctx = session("shop", c).await;
    let rows = query(
        &ctx,
        "SELECT order_id FROM shop.orders ORDER BY placed DESC",
    )
    .await;
    assert_eq!(order_ids(&rows), [5, 4, 3, 2, 1]);
    let rows = query(
        &ctx,
        "SELECT status, COUNT(*) AS n, CAST(SUM(amount) AS DOUBLE) AS total \
         FROM shop.orders GROUP BY status ORDER BY status",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!({"status": "cancelled", "n": 1, "total": 10.0}),
            json!({"status": "open", "n": 2, "total": 400.5}),
            json!({"status": "shipped", "n": 2, "total": 25.25}),
        ]
    );
}

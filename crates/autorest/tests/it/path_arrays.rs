//! `#path` arrays, as the vendor chooses among them: the first endpoint
//! (most specific first) whose `{inputs}` the WHERE clause supplies; an
//! error naming each endpoint's inputs when none has them.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, Filter, FilterOp, FilterSupport, ScanRequest};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{model_text, rows};

const MODEL: &str = r##"{
  "orders": {
    "#path": [
      "https://api.example.com/orders/{orderid}",
      "https://api.example.com/customer/{custid}/orders",
      "https://api.example.com/orders"
    ],
    "orderid": "VarChar(16),#key",
    "custid": "VarChar(16)",
    "total": "Double"
  }
}"##;

async fn orders() -> MockServer {
    let server = MockServer::builder().start().await;
    let order = |o: &str, c: &str, t: f64| json!({"orderid": o, "custid": c, "total": t});
    Mock::given(method("GET"))
        .and(path("/orders/a1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("a1", "c1", 10.0)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/customer/c2/orders"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([order("b1", "c2", 5.0), order("b2", "c2", 7.5)])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            order("a1", "c1", 10.0),
            order("b1", "c2", 5.0),
            order("b2", "c2", 7.5)
        ])))
        .mount(&server)
        .await;
    server
}

/// The path of the only request the scan sent, with its query.
async fn scanned(server: &MockServer, filters: Vec<Filter>) -> (usize, String) {
    let file = model_text(MODEL, "rest", server);
    let c = AutoRestDataSource::new()
        .config(file.path().to_str().unwrap())
        .build()
        .unwrap();
    let n = rows(
        &c,
        "orders",
        filters
            .into_iter()
            .fold(ScanRequest::new(), ScanRequest::with_filter),
    )
    .await
    .unwrap()
    .len();
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let url = &received[0].url;
    (
        n,
        format!(
            "{}{}",
            url.path(),
            url.query().map(|q| format!("?{q}")).unwrap_or_default()
        ),
    )
}

#[tokio::test]
async fn the_first_endpoint_whose_inputs_the_filters_supply_is_read() {
    let by_order = vec![Filter::new("orderid", FilterOp::Eq, "a1")];
    assert_eq!(
        scanned(&orders().await, by_order).await,
        (1, "/orders/a1".into())
    );
    let by_customer = vec![Filter::new("custid", FilterOp::Eq, "c2")];
    assert_eq!(
        scanned(&orders().await, by_customer).await,
        (2, "/customer/c2/orders".into())
    );
    assert_eq!(
        scanned(&orders().await, vec![]).await,
        (3, "/orders".into())
    );
    // Both: the most specific; the customer filter is not sent anywhere,
    // so it is left to the caller.
    let both = vec![
        Filter::new("custid", FilterOp::Eq, "c9"),
        Filter::new("orderid", FilterOp::Eq, "a1"),
    ];
    let server = orders().await;
    let file = model_text(MODEL, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(file.path().to_str().unwrap())
        .build()
        .unwrap();
    c.tables().await.unwrap();
    use FilterSupport::{Exact, Unsupported};
    assert_eq!(c.filter_support("orders", &both), [Unsupported, Exact]);
    let scan = c
        .scan(
            "orders",
            both.iter()
                .cloned()
                .fold(ScanRequest::new(), ScanRequest::with_filter),
        )
        .await
        .unwrap();
    assert_eq!(scan.unapplied_filters, [both[0].clone()]);
    drop(scan);
    assert_eq!(scanned(&server, both).await, (1, "/orders/a1".into()));
}

#[tokio::test]
async fn no_endpoint_with_its_inputs_is_an_error_naming_each() {
    let server = orders().await;
    let text = MODEL.replace(",\n      \"https://api.example.com/orders\"", "");
    let file = model_text(&text, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(file.path().to_str().unwrap())
        .build()
        .unwrap();
    let e = c.scan("orders", ScanRequest::new()).await.err().unwrap();
    let base = server.uri();
    assert_eq!(
        e.to_string(),
        format!(
            "table orders: no endpoint of its #path has all its inputs in the query: \
             {base}/orders/{{orderid}} needs WHERE orderid = <value>; \
             {base}/customer/{{custid}}/orders needs WHERE custid = <value>"
        )
    );
    assert_eq!(e.kind().exit_code(), 2);
    assert!(server.received_requests().await.unwrap().is_empty());
}

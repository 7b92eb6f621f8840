//! SQL across two sources: two REST APIs read by the Autonomous REST
//! connector (`Sample`: the columns are inferred from a response), each
//! registered as a schema of one DataFusion `SessionContext`, then joined
//! and aggregated in one query.
//!
//! A wiremock server on 127.0.0.1 stands in for both APIs.
//!
//! ```text
//! cargo run -p connectkit-datafusion --example sql_two_sources
//! ```

use std::sync::Arc;

use connectkit_autorest::AutoRestDataSource;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder().start().await;
    // A CRM's customers ...
    Mock::given(method("GET"))
        .and(path("/crm/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "name": "Contoso", "country": "US"},
            {"id": 2, "name": "Fabrikam", "country": "DE"},
            {"id": 3, "name": "Northwind", "country": "UK"}
        ])))
        .mount(&server)
        .await;
    // ... and a shop's orders.
    Mock::given(method("GET"))
        .and(path("/shop/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"order_id": 10, "customer_id": 1, "amount": 120.5},
            {"order_id": 11, "customer_id": 2, "amount": 80.0},
            {"order_id": 12, "customer_id": 1, "amount": 35.25},
            {"order_id": 13, "customer_id": 3, "amount": 12.0},
            {"order_id": 14, "customer_id": 1, "amount": 9.75}
        ])))
        .mount(&server)
        .await;

    let crm = AutoRestDataSource::new()
        .sample(format!("{}/crm/customers", server.uri()))
        .build()?;
    let shop = AutoRestDataSource::new()
        .sample(format!("{}/shop/orders", server.uri()))
        .build()?;

    // Each connector becomes a schema: `crm.customers`, `shop.orders`.
    let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
    connectkit_datafusion::register(&ctx, "crm", Arc::new(crm)).await?;
    connectkit_datafusion::register(&ctx, "shop", Arc::new(shop)).await?;

    let sql = "SELECT c.name, c.country, COUNT(*) AS orders, SUM(o.amount) AS total \
               FROM shop.orders o JOIN crm.customers c ON o.customer_id = c.id \
               GROUP BY c.name, c.country \
               ORDER BY total DESC";
    println!("{sql}");
    let batches = ctx.sql(sql).await?.collect().await?;
    println!("{}", pretty_format_batches(&batches)?);

    // The biggest customer first: three orders, 120.5 + 35.25 + 9.75.
    let top = |column: &str| array_value_to_string(batches[0].column_by_name(column).unwrap(), 0);
    assert_eq!(
        [top("name")?, top("orders")?, top("total")?],
        ["Contoso", "3", "165.5"]
    );

    // Each API was read once: Sample's inference request also served the scan.
    let received = server.received_requests().await.unwrap_or_default();
    let paths: Vec<_> = received.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths.len(), 2);
    assert!(paths.contains(&"/crm/customers") && paths.contains(&"/shop/orders"));
    println!("requests: {}", paths.join(", "));
    Ok(())
}

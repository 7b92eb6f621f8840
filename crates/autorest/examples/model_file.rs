//! AutoREST from a model file: a `.rest` file declares a table (its URL,
//! the JSON path of its rows, typed columns, a key, a nested object
//! flattened into a column) and page-number paging; the connector reads it
//! (`Config=<path>`), scans the table page by page into Arrow record
//! batches, and the rows are printed.
//!
//! A wiremock server on 127.0.0.1 stands in for the REST API.
//!
//! ```text
//! cargo run -p connectkit-autorest --example model_file
//! ```

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type};
use connectkit_autorest::{AutoRestDataSource, TYPE_METADATA_KEY};
use connectkit_core::{Connector, ScanRequest};
use futures::TryStreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The API: five products, `?per_page=N&page=P` (1-based), rows under `data`.
    let products: Vec<Value> = (1..=5)
        .map(|i| {
            json!({
                "sku": format!("SKU-{i}"),
                "name": format!("Widget {i}"),
                "price": format!("{i}9.95"),
                "dimensions": {"weight_kg": 0.5 * i as f64}
            })
        })
        .collect();
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/v1/products"))
        .respond_with(move |req: &Request| {
            let q = |k: &str| {
                req.url
                    .query_pairs()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.parse::<usize>().unwrap())
            };
            let (size, page) = (q("per_page").unwrap_or(10), q("page").unwrap_or(1));
            let rows: Vec<_> = products.iter().skip((page - 1) * size).take(size).collect();
            ResponseTemplate::new(200).set_body_json(json!({ "data": rows }))
        })
        .mount(&server)
        .await;

    // The model file: one table; a page shorter than #maximumPageSize is the last.
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("shop.rest");
    std::fs::write(
        &model,
        json!({
            "products": {
                "#path": [format!("{}/v1/products /data", server.uri())],
                "#maximumPageSize": 2,
                "#pageSizeParameter": "per_page",
                "#pageNumberParameter": "page",
                "#firstPageNumber": 1,
                "sku": "VarChar(16),#key",
                "name": "VarChar(64),#notNull",
                "price": "Decimal(10,2)",
                "dimensions": {"weight_kg": "Double"}
            }
        })
        .to_string(),
    )?;

    let connector = AutoRestDataSource::new()
        .config(model.to_str().ok_or("temp path is not UTF-8")?)
        // One page after another, so the pages requested are exactly the ones needed.
        .max_concurrent_requests(1)
        .build()?;
    let schema = connector.schema("products").await?;
    for field in schema.fields() {
        let sql = &field.metadata()[TYPE_METADATA_KEY];
        println!(
            "column {:<22} {sql:<13} -> {}",
            field.name(),
            field.data_type()
        );
    }

    let scan = connector.scan("products", ScanRequest::new()).await?;
    let batches: Vec<_> = scan.batches.try_collect().await?;
    for batch in &batches {
        let sku = batch.column_by_name("sku").unwrap().as_string::<i32>();
        let name = batch.column_by_name("name").unwrap().as_string::<i32>();
        let price = batch
            .column_by_name("price")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        let weight = batch
            .column_by_name("dimensions_weight_kg")
            .unwrap()
            .as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            println!(
                "{} | {:<8} | {:>6} | {} kg",
                sku.value(i),
                name.value(i),
                price.value_as_string(i),
                weight.value(i)
            );
        }
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 5);

    // Three pages of at most two rows were requested, the last one short.
    let received = server.received_requests().await.unwrap_or_default();
    let pages: Vec<_> = received
        .iter()
        .map(|r| r.url.query().unwrap_or_default())
        .collect();
    assert_eq!(
        pages,
        [
            "per_page=2&page=1",
            "per_page=2&page=2",
            "per_page=2&page=3"
        ]
    );
    println!(
        "{rows} rows from {} requests: {}",
        pages.len(),
        pages.join(", ")
    );
    Ok(())
}

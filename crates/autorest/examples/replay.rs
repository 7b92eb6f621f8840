//! A model file developed offline: the API's answers, recorded once, are
//! replayed through an `HttpService` of our own instead of the network.
//! Paging, decoding, limits and errors are the connector's as they would be
//! against the live API; a request nothing was recorded for fails, naming
//! it (`api.service`), rather than reaching the network.
//!
//! ```text
//! cargo run -p connectkit-autorest --example replay
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use connectkit_autorest::AutoRestDataSource;
use connectkit_core::client::{HttpService, ServiceError, ServiceFuture};
use connectkit_core::{Connector, ScanRequest};
use futures::TryStreamExt;
use serde_json::json;

/// Recorded answers by path and query; what was asked for, in order.
#[derive(Debug, Default)]
struct Replay {
    answers: HashMap<String, String>,
    asked: Mutex<Vec<String>>,
}

impl Replay {
    fn record(&mut self, path_and_query: &str, body: serde_json::Value) {
        self.answers
            .insert(path_and_query.to_owned(), body.to_string());
    }
}

impl HttpService for Replay {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let url = request.url();
        let key = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        self.asked.lock().unwrap().push(key.clone());
        let answer = match self.answers.get(&key) {
            Some(body) => Ok(http::Response::new(body.clone()).into()),
            None => Err(ServiceError::from(format!("nothing recorded for {key}"))),
        };
        Box::pin(async move { answer })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // What the API answered when it was recorded: three orders, two per page.
    let mut replay = Replay::default();
    replay.record(
        "/v2/orders?limit=2&offset=0",
        json!({"orders": [{"id": 1, "total": 9.5}, {"id": 2, "total": 12.0}]}),
    );
    replay.record(
        "/v2/orders?limit=2&offset=2",
        json!({"orders": [{"id": 3, "total": 4.25}]}),
    );
    let replay = Arc::new(replay);

    let dir = tempfile::tempdir()?;
    let model = dir.path().join("orders.rest");
    std::fs::write(
        &model,
        json!({
            "#maximumPageSize": 2,
            "#pageSizeParameter": "limit",
            "#rowOffsetParameter": "offset",
            "orders": {
                // The live API's URL: nothing is sent there while replaying.
                "#path": ["https://api.example.com/v2/orders /orders"],
                "id": "Integer,#key",
                "total": "Double"
            },
            "refunds": {
                "#path": ["https://api.example.com/v2/refunds /refunds"],
                "id": "Integer,#key"
            }
        })
        .to_string(),
    )?;
    let connector = AutoRestDataSource::new()
        .config(model.to_str().ok_or("temp path is not UTF-8")?)
        .max_concurrent_requests(1)
        .http_service(replay.clone())
        .build()?;

    let scan = connector.scan("orders", ScanRequest::new()).await?;
    let batches: Vec<_> = scan.batches.try_collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        let ids = b.column(0).as_primitive::<Int32Type>();
        let totals = b.column(1).as_primitive::<Float64Type>();
        rows.extend(
            ids.values()
                .iter()
                .zip(totals.values())
                .map(|(i, t)| (*i, *t)),
        );
    }
    for (id, total) in &rows {
        println!("order {id}: {total:.2}");
    }
    assert_eq!(rows, [(1, 9.5), (2, 12.0), (3, 4.25)]);
    // The short second page ended the scan: no third request.
    assert_eq!(
        *replay.asked.lock().unwrap(),
        ["/v2/orders?limit=2&offset=0", "/v2/orders?limit=2&offset=2"]
    );

    // Nothing was recorded for refunds: the scan fails, naming the request.
    let err = match connector.scan("refunds", ScanRequest::new()).await {
        Ok(scan) => scan
            .batches
            .try_collect::<Vec<_>>()
            .await
            .expect_err("no recording, no rows"),
        Err(e) => e,
    };
    println!(
        "refunds: {} ({})",
        connectkit_core::Report(&err),
        err.code()
    );
    assert_eq!(err.code(), "api.service");
    Ok(())
}

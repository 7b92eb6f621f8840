//! A connector sending through an `HttpService` of the caller's own (pages
//! from memory, no socket): a partitioned scan reads every row once, each
//! page requested once and authorized as the properties say, and nothing
//! is sent past the service.

use std::io::Write;
use std::sync::{Arc, Mutex};

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::client::{HttpService, ServiceFuture};
use connectkit_core::{Connector, ScanRequest};
use futures::TryStreamExt;
use serde_json::json;

/// `rows` items, `limit`/`offset` paged with their `total`, from memory;
/// (offset, `X-Api-Key`) of each request recorded.
#[derive(Debug)]
struct Items {
    rows: usize,
    seen: Mutex<Vec<(usize, Option<String>)>>,
}

impl HttpService for Items {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let param = |name: &str| -> usize {
            let (_, v) = request
                .url()
                .query_pairs()
                .find(|(k, _)| k == name)
                .expect("limit and offset are sent");
            v.parse().unwrap()
        };
        let (offset, limit) = (param("offset"), param("limit"));
        let key = request
            .headers()
            .get("x-api-key")
            .map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push((offset, key));
        let data: Vec<_> = (offset..self.rows.min(offset + limit))
            .map(|i| json!({"id": i, "name": format!("item {i}")}))
            .collect();
        let body = json!({"data": data, "total": self.rows}).to_string();
        Box::pin(async move { Ok(http::Response::new(body).into()) })
    }
}

#[tokio::test]
async fn a_partitioned_scan_reads_its_pages_from_a_service() {
    let items = Arc::new(Items {
        rows: 10,
        seen: Mutex::default(),
    });
    // Port 9 (discard): a request that went past the service would fail.
    let model = r##"{
  "#maximumPageSize": 3,
  "#pageSizeParameter": "limit",
  "#rowOffsetParameter": "offset",
  "#totalRowsElement": "total",
  "items": {
    "#path": ["http://127.0.0.1:9/api/items /data"],
    "id": "Integer,#key",
    "name": "VarChar(32)"
  }
}"##;
    let mut file = tempfile::Builder::new().suffix(".rest").tempfile().unwrap();
    file.write_all(model.as_bytes()).unwrap();
    let c: Arc<dyn Connector> = Arc::new(
        AutoRestDataSource::new()
            .config(file.path().to_str().unwrap())
            .authentication_method("HttpHeader")
            .auth_header("X-Api-Key")
            .security_token("k3y-for-the-service")
            .scan_partitions(2)
            .http_service(items.clone())
            .build()
            .unwrap(),
    );
    c.schema("items").await.unwrap();
    let parts = c.partitions("items", &ScanRequest::new(), 2).await.unwrap();
    assert_eq!(parts.len(), 2);
    let mut ids = Vec::new();
    for p in &parts {
        let scan = c
            .scan_partition("items", ScanRequest::new(), p)
            .await
            .unwrap();
        for b in scan.batches.try_collect::<Vec<_>>().await.unwrap() {
            let col = b
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<connectkit_core::arrow_array::Int32Array>()
                .unwrap();
            ids.extend(col.values().iter().copied());
        }
    }
    ids.sort();
    assert_eq!(ids, (0..10).collect::<Vec<i32>>());
    let seen = items.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|(_, key)| key.as_deref() == Some("k3y-for-the-service")),
        "every request authorized: {seen:?}"
    );
    let mut offsets: Vec<usize> = seen.iter().map(|(offset, _)| *offset).collect();
    offsets.sort();
    let n = offsets.len();
    offsets.dedup();
    assert_eq!(offsets.len(), n, "a page requested twice: {offsets:?}");
    // The pages holding rows, then at most one past the end per partition
    // (requested ahead before the short page at offset 9 was read).
    assert!(offsets.starts_with(&[0, 3, 6, 9]), "{offsets:?}");
    assert!(offsets.len() <= 4 + 2, "{offsets:?}");
}

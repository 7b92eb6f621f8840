//! The connector without a network: its API's pages are answered from
//! memory by an `HttpService` of our own, while paging, decoding, the
//! credential scope and authorization are the connector's as over HTTP.
//! Start the connector's tests from here: what the service received is
//! what the API would have.
//!
//! ```text
//! cargo run -p connectkit-example --example example_offline
//! ```

use std::sync::{Arc, Mutex};

use connectkit_core::arrow_array::cast::AsArray;
use connectkit_core::arrow_array::types::Int64Type;
use connectkit_core::client::{HttpService, ServiceError, ServiceFuture};
use connectkit_core::reqwest::{self, header::AUTHORIZATION};
use connectkit_core::{ConnectionUrl, Connector, ScanRequest};
use connectkit_example::ExampleConnector;
use futures::TryStreamExt;

/// Two pages of `items`; every request received (path and query, and its
/// Authorization header), in order.
#[derive(Debug, Default)]
struct Pages {
    received: Mutex<Vec<(String, Option<String>)>>,
}

impl HttpService for Pages {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let url = request.url();
        let asked = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let authorization = request.headers().get(AUTHORIZATION);
        let authorization = authorization
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        self.received
            .lock()
            .unwrap()
            .push((asked.clone(), authorization));
        let page = match asked.as_str() {
            "/v1/items?page=1&per_page=2" => {
                r#"{"items": [{"id": 1, "name": "one"}, {"id": 2}], "next": "?page=2&per_page=2"}"#
            }
            "/v1/items?page=2&per_page=2" => r#"{"items": [{"id": 3, "name": "three"}]}"#,
            // The connector fails naming the request (`api.service`).
            _ => {
                return Box::pin(
                    async move { Err(ServiceError::from(format!("no page {asked}"))) },
                );
            }
        };
        Box::pin(async move { Ok(http::Response::new(page).into()) })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = "jdbc:datadirect:example:ServiceURL=https://api.test/v1/;AccessToken=at-1;PageSize=2";
    let (_, props) = url.parse::<ConnectionUrl>()?.into_parts();
    let pages = Arc::new(Pages::default());
    let service: Arc<dyn HttpService> = pages.clone();
    let connector = ExampleConnector::with_service(&props, Some(service))?;

    let scan = connector.scan("items", ScanRequest::new()).await?;
    let batches: Vec<_> = scan.batches.try_collect().await?;
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    println!("items: {ids:?}");
    assert_eq!(ids, [1, 2, 3]);

    // Both pages were asked for once, each with the bearer token.
    let received = pages.received.lock().unwrap();
    for (asked, authorization) in received.iter() {
        let token = if authorization.is_some() { "a" } else { "no" };
        println!("received {asked} with {token} bearer token");
    }
    let paths: Vec<&str> = received.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/v1/items?page=1&per_page=2", "/v1/items?page=2&per_page=2"]
    );
    assert!(
        received
            .iter()
            .all(|(_, a)| a.as_deref() == Some("Bearer at-1"))
    );
    Ok(())
}

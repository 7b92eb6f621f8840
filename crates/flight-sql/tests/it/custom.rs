//! A server over a model file of the test's own (`serve` has a fixed one):
//! token endpoint, `limit`/`offset` paged tables of generated rows, and the
//! connection URL's extra properties.

use std::collections::HashMap;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

/// Rows `0..n` of a table, `limit`/`offset` paged, each page stating the
/// table's size (`total`).
pub struct Rows {
    /// How many rows the table has.
    pub n: usize,
    /// One row.
    pub row: fn(usize) -> Value,
}

impl Respond for Rows {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let limit: usize = q.get("limit").map_or(100, |v| v.parse().unwrap());
        let offset: usize = q.get("offset").map_or(0, |v| v.parse().unwrap());
        let rows: Vec<Value> = (offset..self.n.min(offset + limit)).map(self.row).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": rows, "total": self.n }))
    }
}

/// Starts the API (token endpoint, `tables` at `/<name>`) and a server whose
/// one source `shop` reads `model` (a model file, `{base}` standing for
/// the API's address) with `properties` added to its connection URL, and
/// `config` added to `sources.toml` after the users (alice, bob).
pub async fn serve_model(
    tables: Vec<(&str, Rows)>,
    model: &str,
    properties: &str,
    config: &str,
) -> Served {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "upstream-access", "token_type": "Bearer", "expires_in": 3600})))
        .mount(&upstream)
        .await;
    for (name, rows) in tables {
        Mock::given(method("GET"))
            .and(path(format!("/{name}")))
            .respond_with(rows)
            .mount(&upstream)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = model.replace("{base}", &upstream.uri());
    start(upstream, dir, &model, properties, config).await
}

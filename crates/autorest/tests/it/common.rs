//! Helpers: fixture model files pointed at the mock, paged APIs, row collection.

use std::collections::HashMap;
use std::io::Write;

use connectkit_core::{Connector, Error, ScanRequest};
use futures::TryStreamExt;
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

/// The repository's `fixtures/` directory.
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A copy of a fixture model file whose example hosts point at the mock.
pub fn model_file(name: &str, server: &MockServer) -> tempfile::NamedTempFile {
    let text = std::fs::read_to_string(fixtures().join("autorest/models").join(name)).unwrap();
    model_text(&text, name.rsplit('.').next().unwrap(), server)
}

/// A model file from text, written with the given extension.
pub fn model_text(text: &str, ext: &str, server: &MockServer) -> tempfile::NamedTempFile {
    let text = text
        .replace("https://api.example.com", &server.uri())
        .replace("https://accounts.example.com", &server.uri());
    let mut f = tempfile::Builder::new()
        .suffix(&format!(".{ext}"))
        .tempfile()
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// The rows of a scan, as JSON objects.
pub async fn rows(c: &dyn Connector, table: &str, req: ScanRequest) -> Result<Vec<Value>, Error> {
    let scan = c.scan(table, req).await?;
    let batches: Vec<_> = scan.batches.try_collect().await?;
    let mut w = arrow_json::ArrayWriter::new(Vec::new());
    for b in &batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_slice(&bytes).unwrap())
}

/// The `id`s of rows.
pub fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

/// Requests the mock received on `path`.
pub async fn requests_to(server: &MockServer, path: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == path)
        .collect()
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
}

fn num(q: &HashMap<String, String>, k: &str, default: usize) -> usize {
    q.get(k).map_or(default, |v| v.parse().unwrap())
}

/// An API of `rows` rows `{id, name}` paged in one of the styles of
/// `fixtures/autorest/models/paging.rest`; server-side pages hold 2 rows
/// unless the request says otherwise.
pub struct Paged {
    pub style: &'static str,
    pub rows: usize,
}

impl Respond for Paged {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        let n = self.rows;
        let slice = |from: usize, size: usize| -> Vec<Value> {
            (from.min(n)..(from + size).min(n))
                .map(|i| json!({"id": i, "name": format!("row {i}")}))
                .collect()
        };
        let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
        match self.style {
            "offset" | "big_pages" => ok(json!(slice(num(&q, "offset", 0), num(&q, "limit", 2)))),
            "pages" => {
                let size = num(&q, "per_page", 2);
                ok(json!({"data": slice((num(&q, "page", 1) - 1) * size, size)}))
            }
            "next_url" => {
                let after = num(&q, "after", 0);
                let next = (after + 2 < n).then(|| format!("/next_url/items?after={}", after + 2));
                ok(json!({"results": slice(after, 2), "paging": {"next": next}}))
            }
            "next_token" => {
                let from = q.get("cursor").map_or(0, |c| c[1..].parse().unwrap());
                let cursor = (from + 2 < n).then(|| format!("c{}", from + 2));
                ok(json!({"items": slice(from, 2), "meta": {"cursor": cursor}}))
            }
            "link_header" => {
                let from = num(&q, "from", 0);
                let r = ok(json!(slice(from, 2)));
                if from + 2 < n {
                    let link = format!(
                        "</link_header/items?from=0>; rel=\"first\", </link_header/items?from={}>; rel=\"next\"",
                        from + 2
                    );
                    r.insert_header("Link", link.as_str())
                } else {
                    r
                }
            }
            "has_more" => {
                let p = num(&q, "p", 0);
                ok(json!({"data": slice(p * 2, 2), "has_more": (p + 1) * 2 < n}))
            }
            "total_rows" => {
                let start = num(&q, "start", 1);
                ok(json!({"rows": slice(start - 1, num(&q, "count", 2)), "meta": {"total": n}}))
            }
            "template" => ok(json!(slice(num(&q, "from", 0), num(&q, "size", 2)))),
            other => panic!("unknown style {other}"),
        }
    }
}

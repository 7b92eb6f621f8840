//! Reading the pages a sampled table's schema is inferred from: the first
//! page, then (for endpoints whose next links are followed) further pages
//! until `ColumnDiscoverySampleSize` rows were seen. The pages are kept so
//! that the first scan decodes them instead of downloading them again.

use connectkit_core::client::{ApiClient, Body, Fetched};
use connectkit_core::{Properties, Result};
use serde_json::Value;
use url::Url;

use crate::decode::page_rows;
use crate::error::AutoRestError;
use crate::http::parse_json;
use crate::table::paging::{recognised_next, strip_next_links};
use crate::table::{Endpoint, Rows};

/// Rows sampled by default before the schema is fixed: 1, that is the first
/// page alone, as the vendor samples (and no request beyond what a scan
/// with a small limit needs). A field that first holds a value on a later
/// page then stops the scan with an error that says to raise
/// `ColumnDiscoverySampleSize`. The catalogue's default, which the connector
/// reads; a test keeps the two equal.
pub const DEFAULT_SAMPLE_ROWS: usize = 1;

/// `ColumnDiscoverySampleSize` (rows; at least the first page is read).
pub(crate) fn sample_rows(props: &Properties) -> Result<usize> {
    props
        .typed(&crate::properties::catalogue())
        .whole("ColumnDiscoverySampleSize")
}

/// What sampling read: the pages' bodies merged into one (next-link fields
/// removed), and the pages as fetched.
pub(crate) struct Sampled {
    pub body: Value,
    pub pages: Vec<Body>,
}

/// Reads the sample of `endpoint` starting at `first`.
pub(crate) async fn sample(
    client: &ApiClient,
    endpoint: &Endpoint,
    name: &str,
    rows: &Rows,
    first: Url,
    want_rows: usize,
    max_pages: u64,
) -> Result<Sampled> {
    let mut bodies = Vec::new();
    let mut pages = Vec::new();
    let mut seen = 0usize;
    let mut url = first;
    loop {
        let request = crate::http::post::request(client, &url, endpoint, name)?;
        let page = match client.fetch(request, &endpoint.http).await? {
            Fetched::Body(page) => page,
            _ => break,
        };
        let mut body = parse_json(&page.url, &page.bytes, &page.headers)?;
        let next = if endpoint.follow_links {
            let next = recognised_next(&body, &page.headers, &page.url).map_err(|m| {
                AutoRestError::Page {
                    url: connectkit_core::client::display_url(&page.url),
                    message: format!("table {name}: {m}"),
                }
            })?;
            strip_next_links(&mut body);
            next
        } else {
            None
        };
        let n = page_rows(rows, &body).map(|r| r.len()).unwrap_or(0);
        seen += n;
        bodies.push(body);
        pages.push(page);
        match next {
            Some(next)
                if n > 0
                    && seen < want_rows
                    && (pages.len() as u64) < max_pages
                    && !pages.iter().any(|p| p.url == next) =>
            {
                client.scope().check(&next, "next page link")?;
                url = next;
            }
            _ => break,
        }
    }
    Ok(Sampled {
        body: merge(bodies),
        pages,
    })
}

/// One body standing for several pages: arrays are concatenated; for
/// objects, the arrays under the same key are concatenated and keys first
/// seen in a later page are added.
fn merge(bodies: Vec<Value>) -> Value {
    let mut iter = bodies.into_iter();
    let Some(mut merged) = iter.next() else {
        return Value::Array(Vec::new());
    };
    for body in iter {
        match (&mut merged, body) {
            (Value::Array(all), Value::Array(more)) => all.extend(more),
            (Value::Object(all), Value::Object(more)) => {
                for (k, v) in more {
                    match (all.get_mut(&k), v) {
                        (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
                        (Some(_), _) => {}
                        (None, v) => {
                            all.insert(k, v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_catalogue_holds_the_defaults() {
        let mut props = Properties::new();
        assert_eq!(sample_rows(&props).unwrap(), DEFAULT_SAMPLE_ROWS);
        let catalogue = crate::properties::catalogue();
        assert_eq!(
            props.typed(&catalogue).timeout("WSTimeout").unwrap(),
            Some(std::time::Duration::from_secs(120))
        );
        props.set("ColumnDiscoverySampleSize", " 0 ");
        assert_eq!(sample_rows(&props).unwrap(), 0);
        props.set("ColumnDiscoverySampleSize", "250");
        assert_eq!(sample_rows(&props).unwrap(), 250);
        props.set("columndiscoverysamplesize", "all");
        let e = sample_rows(&props).unwrap_err();
        assert_eq!(e.code(), "config.invalid_property");
        assert_eq!(
            e.to_string(),
            "property ColumnDiscoverySampleSize: expected a whole number, found \"all\""
        );
    }

    #[test]
    fn pages_merge_into_one_sample() {
        assert_eq!(merge(vec![json!([1]), json!([2, 3])]), json!([1, 2, 3]));
        assert_eq!(
            merge(vec![
                json!({"data": [{"a": 1}], "total": 3}),
                json!({"data": [{"a": 2, "b": 1}], "total": 3, "extra": [1]})
            ]),
            json!({"data": [{"a": 1}, {"a": 2, "b": 1}], "total": 3, "extra": [1]})
        );
        assert_eq!(merge(vec![]), json!([]));
    }
}

//! Reading the pages a sampled table's schema is inferred from: the first
//! page, then further pages, as the table pages (the next links a `Sample`
//! endpoint carries, a model file's paging keys), until
//! `ColumnDiscoverySampleSize` rows were seen. The pages are kept so that
//! the first scan decodes them instead of downloading them again.

use std::fmt;

use connectkit_core::client::{ApiClient, Body, Fetched};
use connectkit_core::{Error, Properties, Result};
use serde_json::Value;
use url::Url;

use crate::decode::page_rows;
use crate::error::{AutoRestError, url_err};
use crate::http::parse_json;
use crate::table::paging::{Next, PageState, recognised_next, stops_after, strip_next_links};
use crate::table::{Endpoint, Rows};

/// Rows sampled by default before a sampled table's schema is fixed:
/// 20,480, as DuckDB's `read_json` samples, so that the optional fields of
/// a paged API are seen before a scan needs them. The sampled pages are the
/// first pages of the scan, decoded without a second request; a field
/// first holding a value further on stops a scan that outputs it, naming
/// the `ColumnDiscoverySampleSize` that covers it. The catalogue's default,
/// which the connector reads; a test keeps the two equal.
pub const DEFAULT_SAMPLE_ROWS: usize = 20_480;

/// `ColumnDiscoverySampleSize` (rows; at least the first page is read).
pub(crate) fn sample_rows(props: &Properties) -> Result<usize> {
    props
        .typed(&crate::properties::catalogue())
        .whole("ColumnDiscoverySampleSize")
}

/// `UnsampledFieldPolicy`: what a scan that outputs whole rows does with a
/// field that first holds a value beyond the sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsampledFieldPolicy {
    /// Stop the scan with an error naming the field and the
    /// `ColumnDiscoverySampleSize` that would have sampled it (the default).
    #[default]
    Error,
    /// Leave the field out of the rows, with one warning per scan.
    Ignore,
}

impl fmt::Display for UnsampledFieldPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "Error",
            Self::Ignore => "Ignore",
        })
    }
}

impl UnsampledFieldPolicy {
    /// `UnsampledFieldPolicy` from the properties (case-insensitive).
    pub(crate) fn from_properties(props: &Properties) -> Result<Self> {
        match props.get_str("UnsampledFieldPolicy").map(str::trim) {
            None => Ok(Self::Error),
            Some(v) if v.eq_ignore_ascii_case("error") => Ok(Self::Error),
            Some(v) if v.eq_ignore_ascii_case("ignore") => Ok(Self::Ignore),
            Some(v) => Err(Error::invalid_property(
                "UnsampledFieldPolicy",
                "Error or Ignore",
                Some(v),
            )),
        }
    }
}

/// What sampling read: the pages' bodies merged into one (next-link fields
/// removed), and the pages as fetched.
pub(crate) struct Sampled {
    pub body: Value,
    pub pages: Vec<Body>,
}

/// Reads the sample of `endpoint` starting at `first`: page after page as a
/// scan would read them, while fewer than `want_rows` rows were seen.
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
    let mut state = PageState::default();
    let mut url = first;
    let follow = endpoint.follow_links;
    let paged = follow || crate::http::post::pages(endpoint);
    loop {
        let request = crate::http::post::request(client, &url, endpoint, name)?;
        let page = match client.fetch(request, &endpoint.http).await? {
            Fetched::Body(page) => page,
            _ => break,
        };
        let bad_link = |m: String| AutoRestError::Page {
            url: connectkit_core::client::display_url(&page.url),
            message: format!("table {name}: {m}"),
        };
        let mut body = parse_json(&page.url, &page.bytes, &page.headers)?;
        let link = if follow {
            let next = recognised_next(&body, &page.headers, &page.url).map_err(bad_link)?;
            strip_next_links(&mut body);
            next
        } else {
            None
        };
        let n = page_rows(rows, &body).map(|r| r.len()).unwrap_or(0);
        seen += n;
        state.pages += 1;
        state.rows += n as u64;
        state.next = if follow {
            link.map(Next::Url)
        } else {
            crate::http::post::declared_next(endpoint, &body, &page.headers, &page.url)
                .map_err(bad_link)?
        };
        let more = paged
            && n > 0
            && if follow {
                state.next.is_some()
            } else {
                !stops_after(&endpoint.paging, &body, n, &state)
            };
        bodies.push(body);
        pages.push(page);
        if !more || seen >= want_rows || state.pages >= max_pages {
            break;
        }
        let next = crate::http::post::page_target(endpoint, &state)
            .map_err(|e| url_err(&endpoint.url, e))?;
        if pages.iter().any(|p| p.url == next) {
            break;
        }
        client.scope().check(&next, "next page link")?;
        url = next;
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
        assert_eq!(
            UnsampledFieldPolicy::from_properties(&props).unwrap(),
            UnsampledFieldPolicy::Error
        );
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

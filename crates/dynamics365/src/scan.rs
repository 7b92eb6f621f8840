//! Scans: the first request's URL, and paging through `@odata.nextLink` as a
//! [`PageSource`] of the shared paging engine (which keeps next links on the
//! ServiceURL's origin and stops loops and endless empty pages).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use connectkit_core::client::{
    ApiClient, Body, Decoded, Fetched, HttpRules, PageRun, PageSource, paginate,
};
use connectkit_core::{BatchStream, Error};
use serde::Deserialize;
use serde::de::IgnoredAny;
use url::Url;

use crate::decode::decode_page;
use crate::error::Dynamics365Error;
use crate::http::{JSON, request};
use crate::labels::PREFER_ANNOTATIONS;
use crate::odata::encode_component;
use crate::page::Layout;
use crate::types::Column;

/// The URL of a scan's first page: `<ServiceURL><set>?$select=..&$filter=..&$top=..`.
pub(crate) fn first_url(
    base: &Url,
    set: &str,
    select: Option<&[&str]>,
    filter: Option<&str>,
    top: Option<usize>,
) -> Result<Url, Dynamics365Error> {
    let mut url = base.join(&encode_component(set)).map_err(|e| {
        Dynamics365Error::config("ServiceURL", format!("cannot address {set}: {e}"))
    })?;
    let mut query = Vec::new();
    if let Some(cols) = select.filter(|c| !c.is_empty()) {
        let names: Vec<String> = cols.iter().map(|c| encode_component(c)).collect();
        query.push(format!("$select={}", names.join(",")));
    }
    if let Some(f) = filter {
        query.push(format!("$filter={}", encode_component(f)));
    }
    if let Some(n) = top {
        query.push(format!("$top={n}"));
    }
    if !query.is_empty() {
        url.set_query(Some(&query.join("&")));
    }
    Ok(url)
}

struct EntityPages {
    table: String,
    schema: SchemaRef,
    columns: Arc<Vec<Column>>,
    page_size: u32,
    /// The first page's URL when it carries `$top`: Dataverse ignores `$top`
    /// beside `odata.maxpagesize`, so that request asks for no page size.
    top_url: Option<Url>,
    /// Whether label columns are read (`odata.include-annotations`).
    annotations: bool,
    /// Where each column's cell sits in a row, for every page.
    layout: Layout,
    rules: HttpRules,
    /// Whether next links are skimmed ahead ([`PageSource::next_hint`]).
    hint: bool,
    /// The rows of the last page, which the next one most likely repeats
    /// (its builders are sized for them).
    rows_hint: usize,
}

/// What a scan reads: the entity set, its columns and how to ask for pages.
pub(crate) struct PagesSpec {
    pub(crate) table: String,
    pub(crate) schema: SchemaRef,
    pub(crate) columns: Arc<Vec<Column>>,
    pub(crate) first: Url,
    pub(crate) page_size: u32,
    /// Whether `first` carries `$top`.
    pub(crate) top: bool,
    /// Whether to ask for the label annotations.
    pub(crate) annotations: bool,
}

/// The stream of batches of a scan: one batch per page, until a page has no
/// `@odata.nextLink` or the run's limit was returned (the page after that is
/// never requested).
pub(crate) fn pages(client: ApiClient, spec: PagesSpec, run: PageRun) -> BatchStream {
    let layout = Layout::new(&spec.columns);
    let source = EntityPages {
        table: spec.table,
        schema: spec.schema,
        columns: spec.columns,
        page_size: spec.page_size,
        top_url: spec.top.then(|| spec.first.clone()),
        annotations: spec.annotations,
        layout,
        rules: HttpRules::standard(),
        hint: run.limit.is_none(),
        rows_hint: 0,
    };
    paginate(client, source, spec.first, run)
}

/// Only the next link of a page: the rows are skipped unread (no cell, no
/// string kept; a `Vec` of zero-sized items only counts them).
#[derive(Deserialize)]
struct NextLinkOnly {
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
    value: Vec<IgnoredAny>,
}

impl PageSource for EntityPages {
    fn table(&self) -> &str {
        &self.table
    }

    /// The page size asked for is at most the rows still wanted, so that a
    /// small limit does not download a large page; a first request with
    /// `$top` asks for none, as Dataverse documents ("if you include both,
    /// `$top` is ignored").
    fn request(
        &mut self,
        _client: &ApiClient,
        url: &Url,
        remaining: Option<usize>,
    ) -> connectkit_core::Result<reqwest::Request> {
        let size = remaining.map_or(self.page_size, |r| {
            u32::try_from(r)
                .unwrap_or(u32::MAX)
                .clamp(1, self.page_size)
        });
        let max = format!("odata.maxpagesize={size}");
        let mut prefer: Vec<&str> = Vec::with_capacity(2);
        if self.annotations {
            prefer.push(PREFER_ANNOTATIONS);
        }
        if self.top_url.as_ref() != Some(url) {
            prefer.push(&max);
        }
        Ok(request(url, JSON, &prefer))
    }

    fn rules(&self) -> &HttpRules {
        &self.rules
    }

    /// `@odata.nextLink` sits after the rows, so the page is skimmed for it
    /// (the rows skipped, not decoded) and the next page requested while
    /// this one is decoded; a page that is not OData JSON gives no hint (its
    /// decode reports why).
    ///
    /// Not with a limit (the next request's page size depends on the rows
    /// this page gives) nor after an empty page (nothing to decode meanwhile).
    fn next_hint(&self, page: &Body) -> Option<Url> {
        if !self.hint {
            return None;
        }
        let skim = serde_json::from_slice::<NextLinkOnly>(&page.bytes).ok()?;
        if skim.value.is_empty() {
            return None;
        }
        page.url.join(&skim.next?).ok()
    }

    fn decode(&mut self, _number: u64, page: Fetched) -> connectkit_core::Result<Decoded> {
        let Fetched::Body(body) = page else {
            return Ok(Decoded::new(
                RecordBatch::new_empty(self.schema.clone()),
                None,
            ));
        };
        // std's validation has an ASCII fast path that the lossy one lacks.
        let text = match std::str::from_utf8(&body.bytes) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(&body.bytes),
        };
        let page = decode_page(
            &self.table,
            &self.schema,
            &self.columns,
            &self.layout,
            &text,
            self.rows_hint,
        )?;
        self.rows_hint = page.batch.num_rows();
        let batch = page.batch;
        let next = match page.next_link.as_deref() {
            Some(link) => Some(body.url.join(link).map_err(|e| {
                Error::from(Dynamics365Error::InvalidResponse {
                    what: format!("table {}", self.table),
                    message: format!("@odata.nextLink is not a URL: {e}"),
                })
            })?),
            None => None,
        };
        Ok(Decoded::new(batch, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_urls() {
        let base = Url::parse("https://org.api.crm.dynamics.com/api/data/v9.2/").unwrap();
        let u = first_url(&base, "accounts", None, None, None).unwrap();
        assert_eq!(
            u.as_str(),
            "https://org.api.crm.dynamics.com/api/data/v9.2/accounts"
        );
        let u = first_url(
            &base,
            "accounts",
            Some(&["name", "accountid"]),
            Some("name eq 'O''Brien'"),
            Some(10),
        )
        .unwrap();
        assert_eq!(
            u.query(),
            Some("$select=name,accountid&$filter=name%20eq%20%27O%27%27Brien%27&$top=10")
        );
    }
}

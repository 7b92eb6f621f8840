//! Scans: the first request's URL, and paging through `@odata.nextLink`.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use connectkit_core::{BatchStream, Error};
use futures::StreamExt;
use url::Url;

use crate::decode::decode_rows;
use crate::error::{Dynamics365Error, display_url};
use crate::http::{Api, JSON};
use crate::odata::encode_component;
use crate::page::{Layout, Page};
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

/// Where the next page comes from.
enum Next {
    Url(Url),
    /// The pages read so far were delivered; this error ends the scan.
    Fail(Error),
    Done,
}

struct Pager {
    api: Api,
    table: String,
    schema: SchemaRef,
    columns: Arc<Vec<Column>>,
    prefer: String,
    /// Where each column's cell sits in a row, for every page.
    layout: Layout,
    next: Next,
    /// Every page URL requested, to stop a next link that repeats one.
    seen: HashSet<Url>,
    /// Rows still wanted, when the scan has a limit.
    remaining: Option<usize>,
}

/// The stream of batches of a scan starting at `first`: one batch per page,
/// until a page has no `@odata.nextLink` or `limit` rows were returned (the
/// page after that is never requested).
pub(crate) fn pages(
    api: Api,
    table: String,
    schema: SchemaRef,
    columns: Arc<Vec<Column>>,
    first: Url,
    page_size: u32,
    limit: Option<usize>,
) -> BatchStream {
    let layout = Layout::new(&columns);
    let pager = Pager {
        api,
        table,
        schema,
        columns,
        prefer: format!("odata.maxpagesize={page_size}"),
        layout,
        next: if limit == Some(0) {
            Next::Done
        } else {
            Next::Url(first)
        },
        seen: HashSet::new(),
        remaining: limit,
    };
    futures::stream::unfold(pager, |mut p| async move {
        match std::mem::replace(&mut p.next, Next::Done) {
            Next::Done => None,
            Next::Fail(e) => Some((Err(e), p)),
            Next::Url(url) => {
                let item = p.fetch(url).await;
                Some((item, p))
            }
        }
    })
    .boxed()
}

impl Pager {
    /// Reads one page and decides what comes next.
    async fn fetch(&mut self, url: Url) -> connectkit_core::Result<RecordBatch> {
        self.seen.insert(url.clone());
        let body = self.api.get(&url, JSON, Some(&self.prefer)).await?;
        let page = Page::parse(&body, &self.table, &self.layout)?;
        let mut batch = decode_rows(&self.table, &self.schema, &self.columns, &page)?;
        if let Some(remaining) = self.remaining.as_mut() {
            if batch.num_rows() >= *remaining {
                batch = batch.slice(0, *remaining);
                *remaining = 0;
                return Ok(batch);
            }
            *remaining -= batch.num_rows();
        }
        if let Some(link) = page.next_link.as_deref() {
            self.next = match self.next_url(&url, link) {
                Ok(next) => Next::Url(next),
                Err(e) => Next::Fail(e.into()),
            };
        }
        Ok(batch)
    }

    /// Resolves a next link against the page's URL, refusing one that leaves
    /// the ServiceURL's origin (the bearer token must not go there) or
    /// repeats a page already read.
    fn next_url(&self, current: &Url, link: &str) -> Result<Url, Dynamics365Error> {
        let next = current
            .join(link)
            .map_err(|e| Dynamics365Error::InvalidResponse {
                what: format!("table {}", self.table),
                message: format!("@odata.nextLink is not a URL: {e}"),
            })?;
        if next.origin() != self.api.base.origin() {
            return Err(Dynamics365Error::ForeignNextLink {
                table: self.table.clone(),
                origin: next.origin().ascii_serialization(),
            });
        }
        if self.seen.contains(&next) {
            return Err(Dynamics365Error::RepeatedNextLink {
                table: self.table.clone(),
                url: display_url(&next),
            });
        }
        Ok(next)
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

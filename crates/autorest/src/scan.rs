//! A scan of one table as a [`PageSource`] of the shared paging engine: the
//! URL of each page (offset, page number, next link or token), how a page
//! is decoded, and this connector's stop rules (short page, `#hasMoreElement`,
//! `#totalRowsElement`, no next link). The engine adds the rules every
//! connector shares: next links stay within the configured origins, no page
//! twice, no endless empty or repeated pages, nothing past the limit.

use std::sync::Arc;

use arrow_array::RecordBatch;
use connectkit_core::client::{
    ApiClient, Body, Decoded, Fetched, HttpRules, PageRun, PageSource, paginate,
};
use connectkit_core::{BatchStream, Error, Result};
use url::Url;

use crate::decode::fields::{NewField, ScanNewFields};
use crate::decode::stream::{PageReader, StreamError};
use crate::decode::{decode, page_rows};
use crate::error::url_err;
use crate::error::{AutoRestError, display_url};
use crate::http::{not_json, parse_json};
use crate::infer::sampling::UnsampledFieldPolicy;
use crate::table::TableDef;
use crate::table::paging::{
    Next, PageState, known_ahead, past_declared_end, planned_state, recognised_next, stops_after,
    strip_next_links, uses_offset,
};

struct TablePages {
    table: Arc<TableDef>,
    /// The one-pass page reader, when the table allows it (else `decode`).
    reader: Option<PageReader>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    page: PageState,
    emitted: usize,
    /// Fields without a column reported so far (once each per scan).
    new_fields: ScanNewFields,
    /// Every page's URL is known in advance (offset or page number), so the
    /// engine may request pages ahead.
    ahead: bool,
    /// The engine did request pages ahead (it does not at
    /// `MaxConcurrentRequests=1`).
    planned: bool,
    /// What a field beyond the sample does to this scan.
    rule: NewFieldRule,
    /// The pages this partition reads, when the scan is split.
    stripe: Option<Stripe>,
}

/// One partition of a scan split by pages: partition `index` of `count`
/// reads pages `index`, `index + count`, `index + 2 * count`, ... (0-based),
/// each at the URL and row position the one-partition scan gives it (every
/// page before it full, `#maximumPageSize` rows). It ends at its first page
/// that ends the one-partition scan (empty or short page, `#hasMoreElement`
/// false, `#totalRowsElement` reached): the pages of the other partitions
/// past that page are past the end too, and answer no rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stripe {
    /// This partition's number, from 0.
    pub index: u64,
    /// How many partitions the scan has (at least 2).
    pub count: u64,
}

impl Stripe {
    /// The scan's page number of this partition's page `number`.
    fn page(&self, number: u64) -> u64 {
        self.index.saturating_add(number.saturating_mul(self.count))
    }
}

/// What a scan does with a field of a sampled table that first holds a
/// value beyond the sample: it stops the scan only when the scan outputs
/// whole rows and the policy is `Error`; else the field is left out, with
/// one warning per field and scan.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NewFieldRule {
    /// The scan outputs every column (no projection, or all of them).
    pub whole_rows: bool,
    /// `UnsampledFieldPolicy`.
    pub policy: UnsampledFieldPolicy,
}

/// The batches of a scan of `table`; `prefetched` is the first page when
/// schema inference already downloaded it.
pub(crate) fn scan_stream(
    client: ApiClient,
    table: Arc<TableDef>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    run: PageRun,
    rule: NewFieldRule,
    stripe: Option<Stripe>,
) -> Result<BatchStream> {
    let endpoint = &table.endpoint;
    let start = match stripe {
        Some(s) => planned_state(&endpoint.paging, s.page(0)),
        None => PageState::default(),
    };
    let first =
        crate::http::post::page_target(endpoint, &start).map_err(|e| url_err(&endpoint.url, e))?;
    let ahead = !endpoint.follow_links && known_ahead(&endpoint.paging, &endpoint.url);
    let source = TablePages {
        reader: PageReader::for_table(&table),
        table,
        projection,
        limit,
        page: PageState::default(),
        emitted: 0,
        new_fields: ScanNewFields::default(),
        ahead,
        // A partition's pages are placed as if every page before was full.
        planned: stripe.is_some(),
        rule,
        stripe,
    };
    Ok(paginate(client, source, first, run))
}

impl TablePages {
    /// A sampled table's schema comes from its sample: a field that first
    /// holds a value in a later page ends a scan that would output it with
    /// an error that names table, field, page, row and the
    /// `ColumnDiscoverySampleSize` that would have sampled it; otherwise
    /// the field is left out with one warning. `rows_read` is the number of
    /// top-level rows of this page (`self.page` is still the state before it).
    fn check_new_fields(
        &mut self,
        fields: Vec<NewField>,
        url: &Url,
        rows_read: usize,
    ) -> Result<()> {
        let page = self.page.pages + 1;
        let before = self.page.rows;
        let top_level = self.table.levels.is_empty();
        for r in self.new_fields.first_seen(&self.table.name, page, fields) {
            // Sampling reads whole pages while fewer rows than the size were
            // seen: any size above the rows before this page reads it.
            // For a top-level table, the row that holds the field says it
            // best; a child table's rows are not the sample's rows.
            let within = if top_level {
                r.row + 1
            } else {
                rows_read.max(1)
            };
            let sample_size = before.saturating_add(within as u64);
            let error = AutoRestError::NewField {
                table: r.table,
                field: r.field,
                page: r.page,
                row: r.row + 1,
                path: url.path().to_owned(),
                sample_size,
            };
            if self.rule.whole_rows && self.rule.policy == UnsampledFieldPolicy::Error {
                return Err(error.into());
            }
            let why = if self.rule.whole_rows {
                "UnsampledFieldPolicy=Ignore"
            } else {
                "the query does not read it"
            };
            tracing::warn!(
                target: connectkit_core::USER_WARNING,
                "{}; left out ({why})",
                error.unsampled_field()
            );
        }
        Ok(())
    }

    /// Pages requested ahead by offset assume each page before held
    /// `#maximumPageSize` rows: a longer page would make them overlap.
    fn check_page_size(&self, rows: usize, url: &Url) -> Result<()> {
        let endpoint = &self.table.endpoint;
        match endpoint.paging.max_page_size {
            Some(size)
                if self.planned
                    && rows as u64 > size
                    && uses_offset(&endpoint.paging, &endpoint.url) =>
            {
                Err(self.bad_link(
                    url,
                    format!(
                        "the page holds {rows} rows, more than #maximumPageSize={size}, so the \
                         offsets of the pages requested ahead are wrong; correct \
                         #maximumPageSize or set MaxConcurrentRequests=1"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    fn empty(&self) -> Result<RecordBatch> {
        let batch = RecordBatch::new_empty(self.table.schema.clone());
        self.project(batch)
    }

    fn project(&self, batch: RecordBatch) -> Result<RecordBatch> {
        match &self.projection {
            Some(p) => batch.project(p).map_err(|e| {
                AutoRestError::Arrow {
                    table: self.table.name.clone(),
                    message: e.to_string(),
                }
                .into()
            }),
            None => Ok(batch),
        }
    }

    fn bad_link(&self, url: &Url, message: String) -> Error {
        AutoRestError::Page {
            url: display_url(url),
            message: format!("table {}: {message}", self.table.name),
        }
        .into()
    }

    fn decode_body(&mut self, body: Body) -> Result<Decoded> {
        let Body {
            url,
            headers,
            bytes,
            ..
        } = body;
        let endpoint = self.table.endpoint.clone();
        let paging = &endpoint.paging;
        let follow = endpoint.follow_links;
        let remaining = self.limit.map(|l| l.saturating_sub(self.emitted));
        let root_offset = usize::try_from(self.page.rows).unwrap_or(usize::MAX);
        let no_rows = |path| AutoRestError::NoRows {
            url: display_url(&url),
            path,
        };
        let (body, rows_read, batch, new_fields) = if let Some(reader) = &self.reader {
            let page = reader
                .decode(&self.table, &bytes, root_offset, self.emitted, remaining)
                .map_err(|e| match e {
                    StreamError::Json(e) => not_json(&url, &bytes, &headers, &e),
                    StreamError::NoRows(path) => no_rows(path).into(),
                    StreamError::Decode(e) => e.at_page(&url).into(),
                })?;
            (page.body, page.rows, page.batch, page.new_fields)
        } else {
            let mut body = parse_json(&url, &bytes, &headers)?;
            let next = follow.then(|| recognised_next(&body, &headers, &url));
            if follow {
                strip_next_links(&mut body);
            }
            let rows = page_rows(&self.table.rows, &body).map_err(no_rows)?;
            let page = decode(&self.table, &rows, root_offset, self.emitted, remaining)
                .map_err(|e| e.at_page(&url))?;
            let n = rows.len();
            if let Some(next) = next {
                // Decided before the next-link fields were stripped.
                self.page.next = next.map_err(|m| self.bad_link(&url, m))?.map(Next::Url);
            }
            (body, n, page.batch, page.new_fields)
        };
        // A stripe may ask for a page past the end before another stripe
        // has read the last one; the page's own total says so.
        if self.stripe.is_some() && past_declared_end(paging, &body, &self.page) {
            return Ok(Decoded::new(self.empty()?, None));
        }
        self.check_new_fields(new_fields, &url, rows_read)?;
        self.check_page_size(rows_read, &url)?;
        self.emitted += batch.num_rows();
        self.page.rows += rows_read as u64;
        self.page.pages += 1;
        if follow && self.reader.is_some() {
            self.page.next = recognised_next(&body, &headers, &url)
                .map_err(|m| self.bad_link(&url, m))?
                .map(Next::Url);
        } else if !follow {
            self.page.next = crate::http::post::declared_next(&endpoint, &body, &headers, &url)
                .map_err(|m| self.bad_link(&url, m))?;
        }
        let limit_reached = self.limit.is_some_and(|l| self.emitted >= l);
        let pages = follow || crate::http::post::pages(&endpoint);
        let done = limit_reached
            || !pages
            || stops_after(paging, &body, rows_read, &self.page)
            || (follow && self.page.next.is_none());
        let next = if done {
            None
        } else {
            // A partition's next page is `count` pages further.
            let further = self
                .stripe
                .map(|s| planned_state(paging, self.page.pages - 1 + s.count));
            Some(
                crate::http::post::page_target(&endpoint, further.as_ref().unwrap_or(&self.page))
                    .map_err(|e| url_err(&endpoint.url, e))?,
            )
        };
        Ok(Decoded::new(self.project(batch)?, next))
    }
}

impl PageSource for TablePages {
    fn table(&self) -> &str {
        &self.table.name
    }

    fn request(
        &mut self,
        client: &ApiClient,
        url: &Url,
        _remaining: Option<usize>,
    ) -> Result<reqwest::Request> {
        crate::http::post::request(client, url, &self.table.endpoint, &self.table.name)
    }

    fn rules(&self) -> &HttpRules {
        &self.table.endpoint.http
    }

    fn decode(&mut self, number: u64, page: Fetched) -> Result<Decoded> {
        if let Some(s) = self.stripe {
            self.page = planned_state(&self.table.endpoint.paging, s.page(number));
        }
        match page {
            Fetched::Body(body) => self.decode_body(body),
            // The rules say this status means no (more) rows.
            _ => Ok(Decoded::new(self.empty()?, None)),
        }
    }

    fn pages_known_ahead(&self) -> bool {
        self.ahead
    }

    fn request_page(
        &mut self,
        client: &ApiClient,
        number: u64,
    ) -> Result<Option<reqwest::Request>> {
        if !self.ahead {
            return Ok(None);
        }
        self.planned = true;
        let endpoint = &self.table.endpoint;
        let number = self.stripe.map_or(number, |s| s.page(number));
        let state = planned_state(&endpoint.paging, number);
        let url = crate::http::post::page_target(endpoint, &state)
            .map_err(|e| url_err(&endpoint.url, e))?;
        self.request(client, &url, None).map(Some)
    }

    /// A model file's `Link` header next page is known before the page is
    /// decoded, so it is requested meanwhile.
    fn next_hint(&self, page: &Body) -> Option<Url> {
        let endpoint = &self.table.endpoint;
        let paging = &endpoint.paging;
        let link = paging
            .next_page_header
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case("link"));
        if endpoint.follow_links || !link || paging.next_page_param.is_some() {
            return None;
        }
        connectkit_core::client::link_target(&page.headers, &page.url, "next")
            .ok()
            .flatten()
    }

    fn rows_per_page(&self) -> Option<usize> {
        let size = self.table.endpoint.paging.max_page_size?;
        self.ahead.then(|| usize::try_from(size).ok()).flatten()
    }
}

//! A scan: page after page, one record batch per page, with the paging
//! safety rules (no loops, no page past the limit).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use arrow_array::RecordBatch;
use connectkit_core::{BatchStream, Error, Result};

use crate::connector::url_err;
use crate::decode::{decode, page_rows};
use crate::error::{AutoRestError, display_url};
use crate::fields::{NewField, ScanNewFields};
use crate::http::{Http, Page, not_json, parse_json};
use crate::paging::{
    Next, PageState, declared_next, page_url, recognised_next, stops_after, strip_next_links,
};
use crate::stream::{PageReader, StreamError};
use crate::table::TableDef;

struct ScanState {
    http: Http,
    table: Arc<TableDef>,
    /// The one-pass page reader, when the table allows it (else `decode`).
    reader: Option<PageReader>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    page: PageState,
    emitted: usize,
    done: bool,
    /// Hashes of the page URLs and next tokens seen: a scan of millions of
    /// pages keeps 8 bytes per page, not the URL.
    seen_urls: HashSet<u64>,
    seen_tokens: HashSet<u64>,
    last_page: Option<u64>,
    /// Fields without a column reported so far (once each per scan).
    new_fields: ScanNewFields,
}

/// The batches of a scan of `table`.
pub(crate) fn scan_stream(
    http: Http,
    table: Arc<TableDef>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
) -> BatchStream {
    let state = ScanState {
        http,
        reader: PageReader::for_table(&table),
        table,
        projection,
        limit,
        page: PageState::default(),
        emitted: 0,
        done: limit == Some(0),
        seen_urls: HashSet::new(),
        seen_tokens: HashSet::new(),
        last_page: None,
        new_fields: ScanNewFields::default(),
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        match s.next_batch().await {
            Ok(Some(batch)) => Some((Ok(batch), s)),
            Ok(None) => None,
            Err(e) => {
                s.done = true;
                Some((Err(e), s))
            }
        }
    }))
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

impl ScanState {
    /// Logs the fields of the page just read that have no column, once
    /// per scan. (A stopgap: the policy, warn or fail or sample more, is
    /// the scan loop's to choose.)
    fn report_new_fields(&mut self, fields: Vec<NewField>) {
        let page = self.page.pages + 1;
        for r in self.new_fields.first_seen(&self.table.name, page, fields) {
            tracing::warn!("{r}");
        }
    }

    fn loop_error(&self, what: String) -> Error {
        AutoRestError::PagingLoop {
            table: self.table.name.clone(),
            what,
        }
        .into()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        while !self.done {
            if let Some(batch) = self.next_page().await?
                && batch.num_rows() > 0
            {
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    /// Fetches and decodes one page; sets `done` when it is the last.
    async fn next_page(&mut self) -> Result<Option<RecordBatch>> {
        let endpoint = self.table.endpoint.clone();
        let paging = &endpoint.paging;
        let url =
            page_url(&endpoint.url, paging, &self.page).map_err(|e| url_err(&endpoint.url, e))?;
        if let Some(Next::Token(t)) = &self.page.next
            && !self.seen_tokens.insert(fingerprint(t.as_bytes()))
        {
            self.done = true;
            return Err(self.loop_error("a next page token".into()));
        }
        if !self.seen_urls.insert(fingerprint(url.as_str().as_bytes())) {
            self.done = true;
            return Err(self.loop_error(format!("the page {}", display_url(&url))));
        }
        let (bytes, headers) = match self
            .http
            .get(&url, &endpoint.headers, &endpoint.http)
            .await?
        {
            Page::ZeroRows => {
                self.done = true;
                return Ok(None);
            }
            Page::Json { bytes, headers } => (bytes, headers),
        };
        let page_hash = fingerprint(&bytes);
        if self.last_page == Some(page_hash) {
            self.done = true;
            return Err(self.loop_error("the same page content twice".into()));
        }
        self.last_page = Some(page_hash);
        let follow = endpoint.follow_links;
        let remaining = self.limit.map(|l| l.saturating_sub(self.emitted));
        let root_offset = usize::try_from(self.page.rows).unwrap_or(usize::MAX);
        let no_rows = |path| AutoRestError::NoRows {
            url: display_url(&url),
            path,
        };
        let (body, page_rows_read, batch, link, new_fields) = if let Some(reader) = &self.reader {
            let page = reader
                .decode(&self.table, &bytes, root_offset, self.emitted, remaining)
                .map_err(|e| match e {
                    StreamError::Json(e) => not_json(&url, &bytes, &headers, &e),
                    StreamError::NoRows(path) => no_rows(path).into(),
                    StreamError::Decode(e) => e.at_page(&url).into(),
                })?;
            let link = follow
                .then(|| recognised_next(&page.body, &headers))
                .flatten();
            (page.body, page.rows, page.batch, link, page.new_fields)
        } else {
            let mut body = parse_json(&url, &bytes, &headers)?;
            let link = if follow {
                let l = recognised_next(&body, &headers);
                strip_next_links(&mut body);
                l
            } else {
                None
            };
            let rows = page_rows(&self.table.rows, &body).map_err(no_rows)?;
            let page = decode(&self.table, &rows, root_offset, self.emitted, remaining)
                .map_err(|e| e.at_page(&url))?;
            let n = rows.len();
            (body, n, page.batch, link, page.new_fields)
        };
        self.report_new_fields(new_fields);
        self.emitted += batch.num_rows();
        self.page.rows += page_rows_read as u64;
        self.page.pages += 1;
        self.page.next = if follow {
            link.map(|l| url.join(&l).map_err(|e| url_err(&l, e)))
                .transpose()?
                .map(Next::Url)
        } else {
            declared_next(paging, &body, &headers, &url)
        };
        let limit_reached = self.limit.is_some_and(|l| self.emitted >= l);
        let pages = follow || paging.pages(&endpoint.url);
        self.done = limit_reached
            || !pages
            || stops_after(paging, &body, page_rows_read, &self.page)
            || (follow && self.page.next.is_none());
        let batch = match &self.projection {
            Some(p) => batch.project(p).map_err(|e| AutoRestError::Arrow {
                table: self.table.name.clone(),
                message: e.to_string(),
            })?,
            None => batch,
        };
        Ok(Some(batch))
    }
}

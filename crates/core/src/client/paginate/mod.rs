//! The paging engine both connectors share: it fetches pages through the
//! [`ApiClient`], hands each to the connector's [`PageSource`] to decode, and
//! enforces the rules no source may break: next links stay within the
//! configured origins, no page is requested twice, endless empty or repeated
//! pages end with an error, and the limit is kept.
//!
//! # Concurrency
//!
//! Up to [`PagingLimits::max_concurrent_requests`] page requests are in
//! flight at once (property `MaxConcurrentRequests`, default 4), and batches
//! are always delivered in page order:
//!
//! - When a source knows every page's request in advance
//!   ([`PageSource::pages_known_ahead`]: offset or page-number paging with a
//!   page size), the engine keeps that many pages requested ahead of the one
//!   being decoded. A stop rule (short or empty page, `hasMore` false, total
//!   rows reached) ends the scan and the pages requested beyond it are
//!   cancelled and their answers discarded.
//! - When the next page is only known from the page before, a source that can
//!   tell the next URL cheaply ([`PageSource::next_hint`], e.g. a `Link`
//!   header) has it requested while the current page is decoded; a hint the
//!   decoded page contradicts is dropped.
//! - With a limit, at most `MaxConcurrentRequests - 1` pages beyond the one
//!   that fills it may already be in flight; they are cancelled and their
//!   answers never decoded (a source that knows its page size,
//!   [`PageSource::rows_per_page`], has none requested that the limit cannot
//!   need).
//! - A 429 or 503 seen by the client's retry layer halves the concurrency
//!   (at least 1) and no new request goes out before its `Retry-After`;
//!   after every [`INCREASE_AFTER`] pages without one, it grows by one again,
//!   up to the maximum.
//! - `MaxConcurrentRequests=1` reads strictly one page after another: no
//!   request is sent before the previous page was read and decoded.

mod engine;
mod limits;
mod window;

use arrow_array::RecordBatch;
use reqwest::{Request, Url};

use super::rules::HttpRules;
use super::{ApiClient, Body, Fetched};
use crate::connector::BatchStream;
use crate::error::Result;
use engine::Engine;
pub use limits::{PagingError, PagingLimits};
pub use window::INCREASE_AFTER;

/// A connector's view of one paged resource: how to ask for a page and how to
/// read one.
///
/// The methods with defaults let a source take part in concurrent paging;
/// without them every page is requested after the one before was decoded.
pub trait PageSource: Send + 'static {
    /// The table, for messages.
    fn table(&self) -> &str;

    /// The request for the page at `url`; `remaining` is how many rows the
    /// scan still wants (to size the page), `None` without a limit.
    fn request(
        &mut self,
        client: &ApiClient,
        url: &Url,
        remaining: Option<usize>,
    ) -> Result<Request>;

    /// The status rules for this resource's pages.
    fn rules(&self) -> &HttpRules;

    /// Decodes one page (`number` is 0-based). Pages are decoded in order,
    /// one at a time, whatever the concurrency.
    fn decode(&mut self, number: u64, page: Fetched) -> Result<Decoded>;

    /// Whether the request of every page is known before the pages before it
    /// are read (offset or page-number paging with a fixed page size). The
    /// engine then asks [`request_page`](Self::request_page) for pages ahead
    /// and treats [`Decoded::next`] only as "more pages or not".
    fn pages_known_ahead(&self) -> bool {
        false
    }

    /// The request for page `number` (0-based) when
    /// [`pages_known_ahead`](Self::pages_known_ahead); called in page order,
    /// possibly before earlier pages are decoded (and again for a page whose
    /// request failed while it was ahead). A page is identified by its
    /// number, not its URL (pages may differ only in a request body).
    fn request_page(&mut self, client: &ApiClient, number: u64) -> Result<Option<Request>> {
        let _ = (client, number);
        Ok(None)
    }

    /// The rows a full page yields, when fixed: with a limit, pages past
    /// `limit / rows_per_page` are then not requested ahead.
    fn rows_per_page(&self) -> Option<usize> {
        None
    }

    /// The next page's URL when `page` tells it without decoding (a `Link`
    /// header): it is requested while `page` is decoded, and dropped if the
    /// decoded page names another.
    fn next_hint(&self, page: &Body) -> Option<Url> {
        let _ = page;
        None
    }
}

/// One decoded page.
#[derive(Debug)]
#[non_exhaustive]
pub struct Decoded {
    /// Its rows.
    pub batch: RecordBatch,
    /// Where the next page is; `None` when this was the last.
    pub next: Option<Url>,
}

impl Decoded {
    /// A page and its successor.
    pub fn new(batch: RecordBatch, next: Option<Url>) -> Self {
        Self { batch, next }
    }
}

/// Options of one [`paginate`] run.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PageRun {
    /// The most rows to return; see the module documentation for the pages
    /// that may be in flight past the one that fills it.
    pub limit: Option<usize>,
    /// The bounds.
    pub limits: PagingLimits,
    /// Pages already fetched (e.g. by schema inference): a page whose URL
    /// comes up is decoded instead of fetched again.
    pub prefetched: Vec<Body>,
}

impl PageRun {
    /// A run with a limit (or none) and default bounds.
    pub fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Sets the bounds.
    pub fn with_limits(mut self, limits: PagingLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the prefetched pages.
    pub fn with_prefetched(mut self, pages: Vec<Body>) -> Self {
        self.prefetched = pages;
        self
    }
}

/// The batches of a paged resource starting at `first`: one batch per page
/// (empty pages yield nothing), in page order, until a page has no next link
/// or the limit is reached. Errors end the stream after the batches already
/// delivered; dropping the stream cancels the requests in flight.
///
/// Concurrent requests are spawned on the current tokio runtime.
pub fn paginate<S: PageSource>(
    client: ApiClient,
    source: S,
    first: Url,
    run: PageRun,
) -> BatchStream {
    let engine = Engine::new(client, source, first, run);
    Box::pin(futures::stream::unfold(engine, |mut e| async move {
        loop {
            match e.step().await {
                Ok(Some(batch)) if batch.num_rows() == 0 => continue,
                Ok(Some(batch)) => return Some((Ok(batch), e)),
                Ok(None) => return None,
                Err(err) => {
                    e.stop();
                    return Some((Err(err), e));
                }
            }
        }
    }))
}

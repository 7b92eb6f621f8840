//! The paging engine both connectors share: it fetches page after page
//! through the [`ApiClient`], hands each to the connector's [`PageSource`]
//! to decode, and enforces the rules no source may break: next links stay
//! within the configured origins, no page is requested twice, endless empty
//! or repeated pages end with an error, and no page past the one that
//! fills the limit is requested.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use arrow_array::RecordBatch;
use reqwest::{Request, Url};

use super::rules::HttpRules;
use super::send::{ApiClient, Body, Fetched};
use crate::connector::BatchStream;
use crate::error::{Error, ErrorKind, Result};
use crate::http::display_url;
use crate::properties::Properties;

/// A connector's view of one paged resource: how to ask for a page and how to
/// read one.
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

    /// Decodes one page (`number` is 0-based).
    fn decode(&mut self, number: u64, page: Fetched) -> Result<Decoded>;
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

/// The bounds the engine enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PagingLimits {
    /// Consecutive empty pages that still carry a next link before the scan
    /// fails (property `MaxEmptyPages`, default 3).
    pub max_empty_pages: u32,
    /// The most pages one scan reads before it fails (property `MaxPages`,
    /// default 1,000,000); a cap a user can lower to bound a scan.
    pub max_pages: u64,
}

impl Default for PagingLimits {
    fn default() -> Self {
        Self {
            max_empty_pages: 3,
            max_pages: 1_000_000,
        }
    }
}

impl PagingLimits {
    /// Reads `MaxEmptyPages` and `MaxPages`.
    pub fn from_properties(props: &Properties) -> Result<Self> {
        let mut l = Self::default();
        let read = |name: &str| -> Result<Option<u64>> {
            props
                .get_str(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            Error::invalid_property(name, "a positive whole number", Some(v))
                        })
                })
                .transpose()
        };
        if let Some(n) = read("MaxEmptyPages")? {
            l.max_empty_pages = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = read("MaxPages")? {
            l.max_pages = n;
        }
        Ok(l)
    }
}

/// Why paging stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PagingError {
    /// A next link or page repeats one already read.
    #[error(
        "table {table}: paging loops: {what} was already read; stopping instead of reading it again"
    )]
    Loop {
        /// The table.
        table: String,
        /// What repeated.
        what: String,
    },
    /// Too many consecutive empty pages that still carry a next link.
    #[error(
        "table {table}: {count} empty pages in a row still carry a next link (MaxEmptyPages={count}); stopping"
    )]
    EmptyPages {
        /// The table.
        table: String,
        /// The bound.
        count: u32,
    },
    /// The page cap was reached.
    #[error(
        "table {table}: more than MaxPages={max} pages; stopping (raise MaxPages to read further)"
    )]
    TooManyPages {
        /// The table.
        table: String,
        /// The bound.
        max: u64,
    },
}

impl PagingError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PagingError::Loop { .. } => "paging.loop",
            PagingError::EmptyPages { .. } => "paging.empty_pages",
            PagingError::TooManyPages { .. } => "paging.too_many_pages",
        }
    }
}

impl From<PagingError> for Error {
    fn from(e: PagingError) -> Self {
        Error::coded(ErrorKind::Api, e.code(), e)
    }
}

/// Options of one [`paginate`] run.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PageRun {
    /// The most rows to return; no page past the one that fills it is fetched.
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

struct Engine<S> {
    client: ApiClient,
    source: S,
    run: PageRun,
    next: Option<Url>,
    number: u64,
    emitted: usize,
    empty_in_row: u32,
    seen: HashSet<u64>,
    last_content: Option<u64>,
}

/// The batches of a paged resource starting at `first`: one batch per page
/// (empty pages yield nothing), until a page has no next link or the limit
/// is reached. Errors end the stream after the batches already delivered.
pub fn paginate<S: PageSource>(
    client: ApiClient,
    source: S,
    first: Url,
    run: PageRun,
) -> BatchStream {
    let done = run.limit == Some(0);
    let engine = Engine {
        client,
        source,
        run,
        next: (!done).then_some(first),
        number: 0,
        emitted: 0,
        empty_in_row: 0,
        seen: HashSet::new(),
        last_content: None,
    };
    Box::pin(futures::stream::unfold(engine, |mut e| async move {
        loop {
            match e.step().await {
                Ok(Some(batch)) if batch.num_rows() == 0 => continue,
                Ok(Some(batch)) => return Some((Ok(batch), e)),
                Ok(None) => return None,
                Err(err) => {
                    e.next = None;
                    return Some((Err(err), e));
                }
            }
        }
    }))
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

impl<S: PageSource> Engine<S> {
    fn table(&self) -> String {
        self.source.table().to_owned()
    }

    async fn step(&mut self) -> Result<Option<RecordBatch>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        if self.number >= self.run.limits.max_pages {
            return Err(PagingError::TooManyPages {
                table: self.table(),
                max: self.run.limits.max_pages,
            }
            .into());
        }
        if !self.seen.insert(hash_of(url.as_str().as_bytes())) {
            return Err(PagingError::Loop {
                table: self.table(),
                what: format!("the page {} was already read", display_url(&url)),
            }
            .into());
        }
        let remaining = self.run.limit.map(|l| l.saturating_sub(self.emitted));
        let prefetched = self.run.prefetched.iter().position(|b| b.url == url);
        let fetched = match prefetched {
            Some(i) => Fetched::Body(self.run.prefetched.swap_remove(i)),
            None => {
                let request = self.source.request(&self.client, &url, remaining)?;
                self.client.fetch(request, self.source.rules()).await?
            }
        };
        // A server that ignores the paging parameters answers the same
        // bytes under every URL: the page is read once, not forever.
        let content = match &fetched {
            Fetched::Body(body) => Some(hash_of(&body.bytes)),
            _ => None,
        };
        let repeated = content.is_some() && content == self.last_content;
        self.last_content = content;
        let number = self.number;
        self.number += 1;
        let Decoded { mut batch, next } = self.source.decode(number, fetched)?;
        if repeated && next.is_some() {
            return Err(PagingError::Loop {
                table: self.table(),
                what: format!("the page {} repeats the page before", display_url(&url)),
            }
            .into());
        }
        if let Some(r) = remaining
            && batch.num_rows() >= r
        {
            batch = batch.slice(0, r);
            self.emitted += r;
            return Ok(Some(batch));
        }
        self.emitted += batch.num_rows();
        if let Some(next) = next {
            self.client.scope().check(&next, "next page link")?;
            if batch.num_rows() == 0 {
                self.empty_in_row += 1;
                if self.empty_in_row >= self.run.limits.max_empty_pages {
                    return Err(PagingError::EmptyPages {
                        table: self.table(),
                        count: self.run.limits.max_empty_pages,
                    }
                    .into());
                }
            } else {
                self.empty_in_row = 0;
            }
            self.next = Some(next);
        }
        Ok(Some(batch))
    }
}

//! One run of the paging engine: which page comes next (from the page
//! before, or planned ahead), the requests in flight, and the rules every
//! page is checked against once it is decoded.

use std::collections::{HashSet, VecDeque};

use arrow_array::RecordBatch;
use reqwest::Url;

use super::super::{ApiClient, Fetched};
use super::window::{Pending, Window};
use super::{Decoded, PageRun, PageSource, PagingError};
use crate::client::http::display_url;
use crate::error::Result;

pub(super) struct Engine<S> {
    client: ApiClient,
    source: S,
    run: PageRun,
    /// Whether the source plans its pages ahead (else each next page comes
    /// from the page before).
    ahead: bool,
    /// The next page's URL, from the page before (not planned ahead).
    next: Option<Url>,
    /// The scan has ended: nothing more is requested or returned.
    done: bool,
    /// Pages decoded so far (the number of the next page to decode).
    number: u64,
    /// The number of the next page to plan (planned ahead).
    planned: u64,
    /// Requests in flight (or answered), in page order.
    inflight: VecDeque<Pending>,
    window: Window,
    emitted: usize,
    empty_in_row: u32,
    seen: HashSet<u64>,
    last_content: Option<u64>,
}

/// A fingerprint of a URL or page body (XXH3, 64 bits: every page body is
/// hashed, so the hash must cost little beside decoding it; XXH3 runs at
/// several times xxh64's speed on page-sized inputs, with SIMD).
fn hash_of(bytes: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(bytes)
}

impl<S: PageSource> Engine<S> {
    pub fn new(client: ApiClient, source: S, first: Url, run: PageRun) -> Self {
        let done = run.limit == Some(0);
        let window = Window::new(
            run.limits.max_concurrent_requests,
            client.throttle().events(),
        );
        Engine {
            ahead: source.pages_known_ahead() && window.max() > 1,
            client,
            source,
            run,
            next: (!done).then_some(first),
            done,
            number: 0,
            planned: 0,
            inflight: VecDeque::new(),
            window,
            emitted: 0,
            empty_in_row: 0,
            seen: HashSet::new(),
            last_content: None,
        }
    }

    /// Ends the scan: the requests in flight are cancelled.
    pub fn stop(&mut self) {
        self.done = true;
        self.next = None;
        self.inflight.clear();
    }

    fn table(&self) -> String {
        self.source.table().to_owned()
    }

    fn remaining(&self) -> Option<usize> {
        self.run.limit.map(|l| l.saturating_sub(self.emitted))
    }

    fn too_many_pages(&self) -> crate::Error {
        PagingError::TooManyPages {
            table: self.table(),
            max: self.run.limits.max_pages,
        }
        .into()
    }

    pub async fn step(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let (url, fetched) = if self.ahead {
            self.planned_page().await?
        } else {
            match self.linked_page().await? {
                Some(page) => page,
                None => return Ok(None),
            }
        };
        self.accept(url, fetched)
    }

    /// The next page of a source that plans ahead, with the pages after it
    /// requested up to the current concurrency.
    async fn planned_page(&mut self) -> Result<(Url, Fetched)> {
        if self.number >= self.run.limits.max_pages {
            return Err(self.too_many_pages());
        }
        self.refill()?;
        let table = self.table();
        let page = match self.inflight.pop_front() {
            Some(p) if p.number == self.number => p,
            _ => {
                return Err(PagingError::NotPlanned {
                    table,
                    page: self.number,
                }
                .into());
            }
        };
        let url = page.url.clone();
        let fetched = page.answer(&table).await;
        self.window.observe(self.client.throttle().events());
        Ok((url, fetched?))
    }

    /// Requests planned pages until the window is full: the next page to
    /// decode always, pages after it while the window has room and a limit
    /// can still need them.
    fn refill(&mut self) -> Result<()> {
        while self.planned < self.run.limits.max_pages
            && (self.inflight.is_empty()
                || (self.inflight.len() < self.window.current() && !self.past_limit(self.planned)))
        {
            let number = self.planned;
            let request = match self.source.request_page(&self.client, number) {
                Ok(Some(request)) => request,
                // A page ahead whose request cannot be built may never be
                // needed: it is asked for again once it is the next page.
                Ok(None) | Err(_) if !self.inflight.is_empty() => break,
                Ok(None) => {
                    return Err(PagingError::NotPlanned {
                        table: self.table(),
                        page: number,
                    }
                    .into());
                }
                Err(e) => return Err(e),
            };
            let url = request.url().clone();
            let pending = match self.take_prefetched(&url) {
                Some(fetched) => Pending::ready(number, url, Ok(fetched)),
                None => Pending::spawn(number, request, &self.client, self.source.rules()),
            };
            self.inflight.push_back(pending);
            self.planned += 1;
        }
        Ok(())
    }

    /// Whether the pages before `number`, if full, already fill the limit.
    fn past_limit(&self, number: u64) -> bool {
        match (self.run.limit, self.source.rows_per_page()) {
            (Some(limit), Some(rows)) => {
                usize::try_from(number).map_or(true, |n| n.saturating_mul(rows) >= limit)
            }
            _ => false,
        }
    }

    fn take_prefetched(&mut self, url: &Url) -> Option<Fetched> {
        let i = self.run.prefetched.iter().position(|b| &b.url == url)?;
        Some(Fetched::Body(self.run.prefetched.swap_remove(i)))
    }

    /// The page at the next link, from the hinted request already in flight
    /// when the hint was right.
    async fn linked_page(&mut self) -> Result<Option<(Url, Fetched)>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        if self.number >= self.run.limits.max_pages {
            return Err(self.too_many_pages());
        }
        if !self.seen.insert(hash_of(url.as_str().as_bytes())) {
            return Err(PagingError::Loop {
                table: self.table(),
                what: format!("the page {} was already read", display_url(&url)),
            }
            .into());
        }
        let hinted = self.inflight.pop_front().filter(|p| p.url == url);
        self.inflight.clear();
        let fetched = match hinted {
            Some(page) => {
                let table = self.table();
                let fetched = page.answer(&table).await;
                self.window.observe(self.client.throttle().events());
                fetched?
            }
            None => match self.take_prefetched(&url) {
                Some(f) => f,
                None => {
                    let request = self.source.request(&self.client, &url, self.remaining())?;
                    let fetched = self.client.fetch(request, self.source.rules()).await?;
                    self.window.observe(self.client.throttle().events());
                    fetched
                }
            },
        };
        if self.speculate(&fetched) {
            // Lets the request go out before the page is decoded, even on a
            // single-threaded runtime.
            tokio::task::yield_now().await;
        }
        Ok(Some((url, fetched)))
    }

    /// Requests the page the source's hint names while this one is decoded,
    /// when concurrency allows and the engine's rules would let it be read;
    /// whether it did.
    fn speculate(&mut self, fetched: &Fetched) -> bool {
        if self.window.current() < 2 || self.number + 1 >= self.run.limits.max_pages {
            return false;
        }
        let Fetched::Body(body) = fetched else {
            return false;
        };
        let Some(url) = self.source.next_hint(body) else {
            return false;
        };
        if self.seen.contains(&hash_of(url.as_str().as_bytes()))
            || self.client.scope().check(&url, "next page link").is_err()
        {
            return false;
        }
        let Ok(request) = self.source.request(&self.client, &url, self.remaining()) else {
            return false;
        };
        let page = Pending::spawn(self.number + 1, request, &self.client, self.source.rules());
        self.inflight.push_back(page);
        true
    }

    /// Decodes a page and applies the rules every page is held to.
    fn accept(&mut self, url: Url, fetched: Fetched) -> Result<Option<RecordBatch>> {
        // A server that ignores the paging parameters answers the same
        // bytes for every page: the page is read once, not forever.
        let content = match &fetched {
            Fetched::Body(body) => Some(hash_of(&body.bytes)),
            _ => None,
        };
        let repeated = content.is_some() && content == self.last_content;
        self.last_content = content;
        let remaining = self.remaining();
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
            self.stop();
            return Ok(Some(batch));
        }
        self.emitted += batch.num_rows();
        let Some(next) = next else {
            self.stop();
            return Ok(Some(batch));
        };
        if !self.ahead {
            self.client.scope().check(&next, "next page link")?;
        }
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
        if !self.ahead {
            self.next = Some(next);
        }
        Ok(Some(batch))
    }
}

//! How many page requests may be in flight (additive increase,
//! multiplicative decrease on throttling), and a page request in flight.

use reqwest::{Request, Url};
use tokio::task::JoinHandle;

use super::super::rules::HttpRules;
use super::super::{ApiClient, Fetched};
use super::PagingError;
use crate::error::Result;

/// Pages read without a new throttling answer before the concurrency grows
/// by one again (after a 429 or 503 halved it).
pub const INCREASE_AFTER: u32 = 8;

/// The concurrency of one scan: it starts at the maximum, halves (at least 1)
/// whenever the client saw a new 429 or 503, and grows by one after every
/// [`INCREASE_AFTER`] pages without one.
#[derive(Debug)]
pub(super) struct Window {
    max: usize,
    current: usize,
    seen_events: u64,
    calm: u32,
}

impl Window {
    /// A window of `max`, counting throttling answers from `events` on.
    pub fn new(max: usize, events: u64) -> Self {
        let max = max.max(1);
        Window {
            max,
            current: max,
            seen_events: events,
            calm: 0,
        }
    }

    /// The configured maximum.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Requests allowed in flight now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// One page came back; `events` is the client's throttling count now.
    pub fn observe(&mut self, events: u64) {
        if events > self.seen_events {
            self.seen_events = events;
            self.current = (self.current / 2).max(1);
            self.calm = 0;
            tracing::debug!(
                concurrency = self.current,
                "throttled: fewer requests in flight"
            );
        } else if self.current < self.max {
            self.calm += 1;
            if self.calm >= INCREASE_AFTER {
                self.current += 1;
                self.calm = 0;
            }
        }
    }
}

/// A task that is aborted when dropped, so that a page nobody will read
/// stops being fetched.
#[derive(Debug)]
struct Task(JoinHandle<Result<Fetched>>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A page requested ahead of the one being decoded.
#[derive(Debug)]
pub(super) struct Pending {
    /// The page (0-based).
    pub number: u64,
    /// The URL it was requested at.
    pub url: Url,
    answer: Answer,
}

#[derive(Debug)]
enum Answer {
    Ready(Box<Result<Fetched>>),
    Running(Task),
}

impl Pending {
    /// Sends `request` on its own task.
    pub fn spawn(number: u64, request: Request, client: &ApiClient, rules: &HttpRules) -> Self {
        let url = request.url().clone();
        let client = client.clone();
        let rules = rules.clone();
        // The page is the work of whoever asked for it: its request is
        // counted by their counter (the task-local does not cross spawn).
        let counter = super::super::RequestCounter::current();
        let task = tokio::spawn(async move {
            let fetch = client.fetch(request, &rules);
            match counter {
                Some(c) => c.scope(fetch).await,
                None => fetch.await,
            }
        });
        Pending {
            number,
            url,
            answer: Answer::Running(Task(task)),
        }
    }

    /// A page whose answer is already known (prefetched, or its request
    /// could not be built: the error comes up only if the page is reached).
    pub fn ready(number: u64, url: Url, answer: Result<Fetched>) -> Self {
        Pending {
            number,
            url,
            answer: Answer::Ready(Box::new(answer)),
        }
    }

    /// Waits for the answer.
    pub async fn answer(self, table: &str) -> Result<Fetched> {
        match self.answer {
            Answer::Ready(r) => *r,
            Answer::Running(mut task) => match (&mut task.0).await {
                Ok(r) => r,
                Err(e) => Err(PagingError::Task {
                    table: table.to_owned(),
                    page: self.number,
                    message: e.to_string(),
                }
                .into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_throttling_and_grows_back_slowly() {
        let mut w = Window::new(8, 3);
        w.observe(3);
        assert_eq!(w.current(), 8, "no new throttling, already at the maximum");
        w.observe(4);
        assert_eq!(w.current(), 4);
        w.observe(6);
        assert_eq!(w.current(), 2);
        w.observe(7);
        w.observe(8);
        assert_eq!(w.current(), 1, "never below one");
        for _ in 0..INCREASE_AFTER - 1 {
            w.observe(8);
        }
        assert_eq!(w.current(), 1);
        w.observe(8);
        assert_eq!(w.current(), 2);
        for _ in 0..INCREASE_AFTER * 20 {
            w.observe(8);
        }
        assert_eq!(w.current(), 8, "capped at the maximum");
        assert_eq!(Window::new(0, 0).max(), 1);
    }
}

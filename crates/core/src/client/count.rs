//! [`RequestCounter`]: how many requests the shared client sent for one
//! piece of work (a query of `connectkit serve`, say), whatever connector
//! sent them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

tokio::task_local! {
    static CURRENT: RequestCounter;
}

/// Counts the HTTP requests [`ApiClient::fetch`](super::ApiClient::fetch)
/// sends (every attempt: retries and redirects too) while a future or
/// stream runs [`in scope`](Self::scope) of it.
///
/// The counter travels with the work, not with a client: one connector's
/// client serves many queries at once, and each query wants its own count.
/// It is a task-local, so the work is counted wherever it is polled; the
/// paging engine carries it into the tasks it spawns for pages in flight.
/// A request sent outside any scope is counted nowhere.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The requests counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The counter of the work being polled, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `future` with its requests counted here.
    pub fn scope<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self.clone(), future)
    }

    /// `stream` with its requests counted here: the counter is in scope
    /// whenever the stream is polled.
    #[cfg(feature = "connector")]
    pub fn scope_stream<S>(&self, stream: S) -> impl futures::Stream<Item = S::Item> + Send + use<S>
    where
        S: futures::Stream + Send + 'static,
    {
        let counter = self.clone();
        let mut stream = Box::pin(stream);
        futures::stream::poll_fn(move |cx| {
            CURRENT.sync_scope(counter.clone(), || stream.as_mut().poll_next(cx))
        })
    }
}

/// One request sent: counted by the work in scope, if any.
pub(super) fn count_one() {
    let _ = CURRENT.try_with(|c| c.0.fetch_add(1, Ordering::Relaxed));
}

#[cfg(all(test, feature = "connector"))]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn counts_only_in_scope_and_follows_spawned_page_tasks() {
        let a = RequestCounter::new();
        let b = RequestCounter::new();
        count_one();
        a.scope(async {
            count_one();
            // What the paging engine does for a page in flight.
            let carried = RequestCounter::current();
            tokio::spawn(async move {
                match carried {
                    Some(c) => c.scope(async { count_one() }).await,
                    None => count_one(),
                }
            })
            .await
            .unwrap();
            b.scope(async { count_one() }).await;
        })
        .await;
        assert_eq!((a.get(), b.get()), (2, 1));
        let s = a.scope_stream(futures::stream::iter([1, 2]).map(|i| {
            count_one();
            i
        }));
        assert_eq!(s.collect::<Vec<_>>().await, [1, 2]);
        assert_eq!(a.get(), 4);
    }
}

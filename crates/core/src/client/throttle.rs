//! The throttle signal every clone of one [`ApiClient`](super::ApiClient)
//! shares: the retry layer records each 429 or 503 and the server's
//! `Retry-After`, so that the paging engine can lower its concurrency and no
//! new request goes out before the server said it may.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Throttling answers seen by one client, and until when it should hold
/// back.
#[derive(Debug, Default)]
pub struct Throttle {
    events: AtomicU64,
    not_before: Mutex<Option<Instant>>,
}

impl Throttle {
    /// How many throttling answers (429, 503) the client has seen so far: a
    /// reader compares it with the count it saw last to notice new ones.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Acquire)
    }

    /// Records a throttling answer whose retry waits `wait`: no request of
    /// this client starts before it has passed.
    pub fn record(&self, wait: Duration) {
        let until = Instant::now() + wait;
        if let Ok(mut nb) = self.not_before.lock() {
            *nb = Some(nb.map_or(until, |t| t.max(until)));
        }
        self.events.fetch_add(1, Ordering::AcqRel);
    }

    /// Until when requests should hold back, if that is still ahead.
    pub fn not_before(&self) -> Option<Instant> {
        let nb = *self.not_before.lock().ok()?;
        nb.filter(|t| *t > Instant::now())
    }

    /// Waits out the latest `Retry-After` (returns at once when none is
    /// pending).
    pub async fn pause(&self) {
        while let Some(t) = self.not_before() {
            tokio::time::sleep_until(t).await;
        }
    }
}

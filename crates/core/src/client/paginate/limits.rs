//! The bounds the paging engine enforces, and why it stops with an error.

use crate::error::{Error, ErrorKind, Result};
use crate::properties::{CLIENT_PROPERTIES, Properties};

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
    /// The most page requests of one scan in flight at once (property
    /// `MaxConcurrentRequests`, default 4); 1 reads strictly one page after
    /// another.
    pub max_concurrent_requests: usize,
    /// The most partitions one scan splits into (property `ScanPartitions`;
    /// default the number of cores, at most `MaxConcurrentRequests`).
    pub scan_partitions: usize,
}

impl Default for PagingLimits {
    /// The defaults of [`CLIENT_PROPERTIES`].
    fn default() -> Self {
        Self::from_properties(&Properties::new())
            .expect("the defaults of CLIENT_PROPERTIES are positive whole numbers")
    }
}

impl PagingLimits {
    /// Reads `MaxEmptyPages`, `MaxPages` and `MaxConcurrentRequests`
    /// (positive whole numbers; absent ones take the defaults of
    /// [`CLIENT_PROPERTIES`]).
    pub fn from_properties(props: &Properties) -> Result<Self> {
        let typed = props.typed(CLIENT_PROPERTIES);
        // Values beyond the field's type saturate: each is a bound.
        let max_empty_pages = typed.positive::<u64>("MaxEmptyPages")?;
        let max_concurrent_requests = typed.positive::<u64>("MaxConcurrentRequests")?;
        let max_concurrent_requests =
            usize::try_from(max_concurrent_requests).unwrap_or(usize::MAX);
        let scan_partitions = match props.get_str("ScanPartitions") {
            Some(_) => {
                usize::try_from(typed.positive::<u64>("ScanPartitions")?).unwrap_or(usize::MAX)
            }
            None => std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(max_concurrent_requests),
        };
        Ok(Self {
            max_empty_pages: u32::try_from(max_empty_pages).unwrap_or(u32::MAX),
            max_pages: typed.positive("MaxPages")?,
            max_concurrent_requests,
            scan_partitions,
        })
    }

    /// Sets the most page requests in flight at once (at least 1).
    pub fn with_max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = n.max(1);
        self
    }

    /// The limits of one of `count` partitions of a scan: the partitions
    /// share `MaxConcurrentRequests` (each at least one request in flight),
    /// so a split scan asks no more of the server at once than a whole one.
    pub fn for_partition(&self, count: usize) -> Self {
        let share = self.max_concurrent_requests / count.max(1);
        self.clone().with_max_concurrent_requests(share)
    }

    /// Sets the most partitions one scan splits into (at least 1).
    pub fn with_scan_partitions(mut self, n: usize) -> Self {
        self.scan_partitions = n.max(1);
        self
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
    /// The task fetching a page ended without an answer (it panicked or the
    /// runtime is shutting down).
    #[error("table {table}: the request for page {page} ended without an answer: {message}")]
    Task {
        /// The table.
        table: String,
        /// The page (0-based).
        page: u64,
        /// What the runtime said.
        message: String,
    },
    /// A source says its pages are known ahead but cannot build one.
    #[error(
        "table {table}: the source says its pages are known ahead but builds no request for page {page}"
    )]
    NotPlanned {
        /// The table.
        table: String,
        /// The page (0-based).
        page: u64,
    },
}

impl PagingError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PagingError::Loop { .. } => "paging.loop",
            PagingError::EmptyPages { .. } => "paging.empty_pages",
            PagingError::TooManyPages { .. } => "paging.too_many_pages",
            PagingError::Task { .. } => "paging.task",
            PagingError::NotPlanned { .. } => "paging.not_planned",
        }
    }
}

impl From<PagingError> for Error {
    fn from(e: PagingError) -> Self {
        let kind = match e {
            PagingError::Task { .. } | PagingError::NotPlanned { .. } => ErrorKind::Other,
            _ => ErrorKind::Api,
        };
        Error::coded(kind, e.code(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_catalogue_defaults() {
        let l = PagingLimits::default();
        assert_eq!(
            (l.max_empty_pages, l.max_pages, l.max_concurrent_requests),
            (3, 1_000_000, 4)
        );
        let mut props = Properties::new();
        props.set("MaxEmptyPages", "99999999999");
        props.set("maxpages", "7");
        let l = PagingLimits::from_properties(&props).unwrap();
        assert_eq!((l.max_empty_pages, l.max_pages), (u32::MAX, 7));
        props.set("ScanPartitions", "3");
        assert_eq!(
            PagingLimits::from_properties(&props)
                .unwrap()
                .scan_partitions,
            3
        );
        assert!(PagingLimits::default().scan_partitions <= 4);
        props.set("MaxPages", "0");
        let e = PagingLimits::from_properties(&props).unwrap_err();
        assert_eq!(
            e.to_string(),
            "property MaxPages: expected a positive whole number, found \"0\""
        );
    }

    #[test]
    fn partitions_share_the_requests_in_flight() {
        let l = PagingLimits::default().with_max_concurrent_requests(8);
        let share = |n| l.for_partition(n).max_concurrent_requests;
        assert_eq!(
            [share(0), share(1), share(2), share(3), share(8), share(9)],
            [8, 8, 4, 2, 1, 1]
        );
        assert_eq!(l.for_partition(2).max_pages, l.max_pages);
    }
}

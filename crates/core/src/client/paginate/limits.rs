//! The bounds the paging engine enforces, and why it stops with an error.

use crate::error::{Error, ErrorKind, Result};
use crate::properties::Properties;

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
}

impl Default for PagingLimits {
    fn default() -> Self {
        Self {
            max_empty_pages: 3,
            max_pages: 1_000_000,
            max_concurrent_requests: 4,
        }
    }
}

impl PagingLimits {
    /// Reads `MaxEmptyPages`, `MaxPages` and `MaxConcurrentRequests`.
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
        if let Some(n) = read("MaxConcurrentRequests")? {
            l.max_concurrent_requests = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(l)
    }

    /// Sets the most page requests in flight at once (at least 1).
    pub fn with_max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = n.max(1);
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

//! What can go wrong that is the Example API's own (the shared layer reports
//! HTTP, auth, paging and property errors).

use connectkit_core::{Error, ErrorKind};

/// An error of the `example` connector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExampleError {
    /// A page's `next` field is neither a link nor a page number.
    #[error(
        "table {table}: the page's next field is {found}; expected a URL, a page number, or null on the last page"
    )]
    BadNextPage {
        /// The table.
        table: String,
        /// What the field held (its kind, never its value).
        found: String,
    },
}

impl From<ExampleError> for Error {
    fn from(e: ExampleError) -> Self {
        match e {
            ExampleError::BadNextPage { .. } => {
                Error::coded(ErrorKind::Protocol, "protocol.bad_next_page", e)
            }
        }
    }
}

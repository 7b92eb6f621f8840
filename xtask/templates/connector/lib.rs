//! The `example` connector: the Example API as connectkit tables.
//!
//! Scaffolded by `cargo xtask new-connector example` as a connector for a
//! paged JSON API with bearer authentication, on connectkit's shared layer.
//! Edit [`tables`] for your API's tables; change [`pages`] if it pages
//! another way.
//!
//! - **Tables** are declared in [`tables::TABLES`]: a path below
//!   `ServiceURL`, the page element holding the rows, the columns and their
//!   Arrow types.
//! - **Pages**: `GET <ServiceURL><path>?page=1&per_page=<PageSize>`, then
//!   where each page's `next` field says (a URL, absolute or relative to the
//!   page, or a page number) until a page has none; a page that is a
//!   top-level array is followed by the next page number until one is
//!   empty. The shared paging engine
//!   ([`connectkit_core::client::paginate`]) keeps the rules: next links stay
//!   on ServiceURL's origin, no page is read twice, `MaxPages`,
//!   `MaxEmptyPages`, `MaxConcurrentRequests` and the scan's limit.
//! - **Rows** are decoded by arrow-json as the declared columns
//!   ([`connectkit_core::decode::JsonRows`]): fields without a column are
//!   ignored, a value of another type is an error naming the column.
//! - **Authentication**: bearer tokens, from `AccessToken` alone (sent until
//!   the API rejects it) or the OAuth 2.0 grant of
//!   [`connectkit_oauth_refresh`] (refresh token when `RefreshToken` or
//!   `TokenFile` is set, else client credentials; `ClientID`,
//!   `ClientSecret`, `TokenURI`, `Scope`, ...). [`grant_defaults`] makes the
//!   token request a POST; `connectkit authorize` applies it too.
//! - **HTTP**: one `ApiClient` per connection from
//!   [`ClientOptions::from_properties`](connectkit_core::client::ClientOptions::from_properties)
//!   (`WSTimeout`, proxy, `TrustStore`), with the shared retries (429, 503,
//!   502/504 on GET, `Retry-After`), one refresh on 401, and messages naming
//!   method, host and path; credentials go only to `ServiceURL`'s origin.
//!
//! Properties: [`catalogue`] (`ServiceURL` required, `PageSize` default 100,
//! `WSTimeout` default 120 seconds, the grant's and the HTTP layer's).
//!
//! ```
//! use connectkit_core::{Registry, ScanRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> connectkit_core::Result<()> {
//! let mut registry = Registry::new();
//! connectkit_example::register(&mut registry);
//! let connector = registry.connect(
//!     "jdbc:datadirect:example:ServiceURL=https://api.test/v1/;AccessToken=at-1;PageSize=50",
//! )?;
//! let tables = connector.tables().await?;
//! assert_eq!(tables[0].name, "items");
//! let schema = connector.schema("items").await?;
//! assert_eq!(schema.field(0).name(), "id");
//! // What a scan would send (EXPLAIN shows it); nothing is sent here.
//! let plan = connector.describe_scan("items", &schema, &ScanRequest::new().with_limit(10));
//! assert_eq!(plan, [
//!     "GET https://api.test/v1/items page=1, per_page=50",
//!     "then each page's next until a page has none",
//!     "stops after 10 rows",
//! ]);
//! // A token is never printed.
//! assert!(!format!("{connector:?}").contains("at-1"));
//! # Ok(()) }
//! ```

mod connector;
mod error;
pub mod pages;
mod source;
pub mod tables;

pub use connector::ExampleConnector;
pub use error::ExampleError;
pub use source::{SUBPROTOCOL, catalogue, grant_defaults, register};

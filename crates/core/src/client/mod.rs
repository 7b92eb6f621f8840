//! The HTTP layer every connector sends through, modelled on the `client`
//! module of arrow-rs `object_store`.
//!
//! - [`ApiClient`] authorizes each request through the connector's
//!   [`AuthFlow`](crate::AuthFlow), refreshes once on 401, retries under one
//!   [`RetryConfig`] (429 and 503 always; 502, 504 and reset connections for
//!   idempotent requests; `Retry-After` honoured; capped backoff with jitter;
//!   bounded attempts and time), reads bodies within limits, and maps every
//!   failure to an [`ApiError`] naming method, host and path.
//! - [`CredentialScope`] holds the origins the configuration names: a
//!   request, redirect or next link anywhere else is refused before anything
//!   is sent, and credentials go over https unless the host is loopback.
//! - [`paginate`] (feature `connector`) is the paging engine: next links,
//!   loop, empty-page and page-count guards, the limit, a prefetched first page,
//!   and up to `MaxConcurrentRequests` page requests in flight (halved when
//!   the server throttles, see [`Throttle`]).
//! - [`HttpService`] carries the requests: a `reqwest::Client` unless the
//!   caller brings a transport of their own.
//! - [`link_target`] reads RFC 8288 `Link` headers.
//! - [`RequestCounter`] counts the requests sent for one piece of work (a
//!   query), whichever connector and task sends them.

mod body;
mod count;
mod error;
mod http;
mod link;
mod options;
#[cfg(feature = "connector")]
mod paginate;
mod proxy;
mod redact;
mod retry;
mod rules;
mod scope;
mod send;
mod service;
mod throttle;
mod tls;
mod trust;
mod verify;

pub use crate::auth::network_error;
pub use body::{Body, EXCERPT_CHARS, ErrorDetail, Fetched, MAX_ERROR_BYTES, MAX_PAGE_BYTES};
pub use count::RequestCounter;
pub use error::{ApiError, proxy_hint};
pub use http::{
    BodyError, MAX_REDIRECTS, api_client_builder, display_url, excerpt, read_body_limited,
    retry_after,
};
pub use link::link_target;
pub use options::{CONNECT_TIMEOUT, ClientOptions, connect_timeout, tls_settings};
#[cfg(feature = "connector")]
pub use paginate::{
    Decoded, INCREASE_AFTER, PageRun, PageSource, PagingError, PagingLimits, paginate,
};
pub use proxy::ProxySettings;
pub use redact::{MASK, Redactor, added_query_values, escape_controls, header_secrets, redact};
pub use retry::{RetryConfig, is_idempotent, is_retryable_transport};
pub use rules::{Action, HttpRules, Rule};
pub use scope::{CredentialScope, is_loopback};
pub use send::ApiClient;
pub use service::{HttpService, ServiceError, ServiceFailure, ServiceFuture};
pub use throttle::Throttle;
pub use tls::{TlsSetupError, certificate_problem, client_builder, http_client, tls_config};
pub use trust::{TrustStore, TrustStoreReadError};
pub use verify::{CertificateRefused, HostNameInCertificate};

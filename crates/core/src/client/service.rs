//! [`HttpService`]: what carries an [`ApiClient`](super::ApiClient)'s
//! requests, as arrow-rs `object_store`'s `HttpService` does for its stores.
//! A `reqwest::Client` by default; a service of the caller's own puts the
//! transport in their hands (pages replayed from memory or disk, a
//! transport reqwest lacks, a recording layer) while scope checks, auth,
//! retries, status rules, limits and paging stay the shared layer's.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Redactor;

/// The error a service fails a request with. A `reqwest::Error` among them
/// is treated as reqwest's own (retried when the request is idempotent and
/// the connection was lost); any other fails the request with
/// [`ApiError::Service`](super::ApiError::Service), unretried.
pub type ServiceError = Box<dyn Error + Send + Sync>;

/// The answer to one [`HttpService::call`].
pub type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, ServiceError>> + Send>>;

/// Sends one request and returns the answer, headers first and the body as
/// it arrives: a `reqwest::Response`, which an `http::Response<T>` (the
/// `http` crate reqwest builds on) converts into for any body
/// `T: Into<reqwest::Body>`: bytes, a string, or a stream.
///
/// The request arrives authorized, so a service holds credentials while it
/// runs: it must not log them or put them in its errors. It follows no
/// redirect (the client follows them itself, within the credential scope)
/// and applies no timeout of its own unless it wants one.
///
/// ```
/// use std::sync::Arc;
/// use connectkit_core::client::{ApiClient, CredentialScope, Fetched, HttpRules, HttpService, ServiceFuture};
///
/// /// Every GET answered with the same page, from memory.
/// #[derive(Debug)]
/// struct OnePage(&'static str);
///
/// impl HttpService for OnePage {
///     fn call(&self, _request: reqwest::Request) -> ServiceFuture {
///         let page = http::Response::new(self.0);
///         Box::pin(async move { Ok(page.into()) })
///     }
/// }
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let mut scope = CredentialScope::new();
/// scope.allow(&"http://127.0.0.1/".parse()?, "endpoint", false)?;
/// let http = connectkit_core::client::api_client_builder(None)?.build()?;
/// let client = ApiClient::new(http, Arc::new(connectkit_core::NoAuth), scope)
///     .with_service(Arc::new(OnePage(r#"{"rows":[1,2]}"#)));
/// let request = client.http().get("http://127.0.0.1/rows").build()?;
/// let Fetched::Body(page) = client.fetch(request, &HttpRules::standard()).await? else {
///     unreachable!("the standard rules read a 200");
/// };
/// assert_eq!(page.bytes, br#"{"rows":[1,2]}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait HttpService: fmt::Debug + Send + Sync + 'static {
    /// Sends `request` and returns the answer.
    fn call(&self, request: reqwest::Request) -> ServiceFuture;
}

impl HttpService for reqwest::Client {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let sent = self.execute(request);
        Box::pin(async move { sent.await.map_err(ServiceError::from) })
    }
}

/// A service's own error as connectkit reports it. connectkit cannot know
/// what a caller's error holds (a URL with an API key in its query, a
/// header), so `Display` and `Debug` show its message, every level of its
/// chain, with the request's credentials masked, and `source()` does not
/// lead past it; the error itself stays reachable through
/// [`get_ref`](Self::get_ref).
#[derive(Clone)]
pub struct ServiceFailure {
    message: String,
    error: Arc<dyn Error + Send + Sync>,
}

impl ServiceFailure {
    /// `error`, its message masked by `redactor` (the secrets of the
    /// request that failed).
    pub fn new(error: ServiceError, redactor: &Redactor) -> Self {
        let text = crate::Report(&*error).to_string();
        ServiceFailure {
            message: redactor.mask(&text),
            error: Arc::from(error),
        }
    }

    /// The service's error, as it returned it (to downcast to its type).
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for ServiceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceFailure")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Error for ServiceFailure {}

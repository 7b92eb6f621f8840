//! The flow as a `reqwest_middleware::Middleware`: authorize every request,
//! and on 401 refresh once and retry once.

use async_trait::async_trait;
use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::flow::RefreshTokenFlow;

#[async_trait]
impl Middleware for RefreshTokenFlow {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // The copy kept to resend after a 401 is taken before the
        // credentials go in (the retry is authorized afresh anyway): a
        // request without headers of its own then copies none.
        let retry = req.try_clone();
        // A fresh cached token is applied without entering the async path;
        // loading or refreshing is boxed, so its large future does not
        // enlarge (and get copied with) every request's.
        let sent = match self.fresh_token() {
            Some(token) => token,
            None => Box::pin(self.token())
                .await
                .map_err(reqwest_middleware::Error::middleware)?,
        };
        self.apply(&sent, &mut req);
        let response = next.clone().run(req, extensions).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(mut retry) = retry else {
            return Ok(response);
        };
        // Forgets the token only if it is still the one this request sent,
        // so concurrent 401s refresh once.
        self.invalidate_token(&sent.header);
        drop(sent);
        Box::pin(self.authorize_request(&mut retry))
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        next.run(retry, extensions).await
    }
}

/// A ready HTTP client for API requests with the flow as middleware.
///
/// Its redirect policy ([`connectkit_core::client::api_client_builder`]) follows a
/// redirect only within the same origin: reqwest strips `Authorization` on a
/// cross-host redirect but forwards custom headers such as AuthHeader with
/// its SecurityToken, so the layer must not sit on a client that follows
/// redirects elsewhere. A redirect to another origin is returned as the 3xx
/// response, unfollowed. `timeout` bounds each API request.
pub fn api_client(
    flow: RefreshTokenFlow,
    timeout: Option<std::time::Duration>,
) -> Result<reqwest_middleware::ClientWithMiddleware, crate::Error> {
    let client = connectkit_core::client::api_client_builder(timeout)
        .map_err(|e| crate::Error::config("TokenURI", e.to_string()))?
        .build()
        .map_err(|e| {
            crate::Error::config("TokenURI", format!("cannot build an HTTP client: {e}"))
        })?;
    Ok(reqwest_middleware::ClientBuilder::new(client)
        .with(flow)
        .build())
}

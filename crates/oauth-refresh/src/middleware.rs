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
        let retry = req.try_clone();
        self.authorize_request(&mut req)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let sent = req.try_clone();
        let response = next.clone().run(req, extensions).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let (Some(sent), Some(mut retry)) = (sent, retry) else {
            return Ok(response);
        };
        self.invalidate(&sent);
        self.authorize_request(&mut retry)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        next.run(retry, extensions).await
    }
}

//! What is this connector's own in HTTP: the OData request headers and
//! reading OData error bodies. Sending, retries (429/503 with
//! `Retry-After`), the 401 refresh, credentials and limits live in the
//! shared layer ([`connectkit_core::client`]).

use connectkit_core::client::{ApiClient, Fetched, HttpRules};
use reqwest::header::{ACCEPT, HeaderValue};
use url::Url;

use crate::error::Dynamics365Error;
use crate::odata::parse_error_body;

/// `Accept` of data requests.
pub(crate) const JSON: &str = "application/json";
/// `Accept` of `/$count`, which OData answers in plain text.
pub(crate) const TEXT: &str = "text/plain";
/// `Accept` of the `$metadata` request: the connector reads CSDL XML, and a
/// server that also speaks JSON CSDL (OData 4.01) must not pick that.
pub(crate) const XML: &str = "application/xml";

/// The Web API: the shared client and the ServiceURL.
#[derive(Clone, Debug)]
pub(crate) struct Api {
    pub(crate) client: ApiClient,
    /// ServiceURL, always ending in `/`.
    pub(crate) base: Url,
}

/// An OData error body as the message of a failed request: `code: message`.
pub(crate) fn odata_detail(body: &[u8]) -> Option<String> {
    let (code, message) = parse_error_body(&String::from_utf8_lossy(body))?;
    Some(if code.is_empty() {
        message
    } else {
        format!("{code}: {message}")
    })
}

/// A GET with the OData headers, and one `Prefer` header per preference (as
/// the Dataverse documentation writes them).
pub(crate) fn request(url: &Url, accept: &'static str, prefer: &[&str]) -> reqwest::Request {
    let mut request = reqwest::Request::new(reqwest::Method::GET, url.clone());
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static(accept));
    headers.insert("OData-Version", HeaderValue::from_static("4.0"));
    headers.insert("OData-MaxVersion", HeaderValue::from_static("4.0"));
    for p in prefer.iter().filter_map(|p| HeaderValue::from_str(p).ok()) {
        headers.append("Prefer", p);
    }
    request
}

impl Api {
    /// GETs `url` through the shared layer and returns the body of a 2xx
    /// answer as text.
    pub(crate) async fn get(
        &self,
        url: &Url,
        accept: &'static str,
    ) -> connectkit_core::Result<String> {
        let fetched = self
            .client
            .fetch(request(url, accept, &[]), &HttpRules::standard())
            .await?;
        match fetched {
            Fetched::Body(body) => Ok(String::from_utf8_lossy(&body.bytes).into_owned()),
            _ => Err(Dynamics365Error::InvalidResponse {
                what: connectkit_core::client::display_url(url),
                message: "no body".into(),
            }
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_error_bodies_become_messages() {
        let body = br#"{"error":{"code":"0x80060888","message":"Resource not found for the segment 'acounts'."}}"#;
        assert_eq!(
            odata_detail(body).as_deref(),
            Some("0x80060888: Resource not found for the segment 'acounts'.")
        );
        assert_eq!(odata_detail(b"<html>"), None);
    }
}

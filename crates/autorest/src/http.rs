//! What is this connector's own in HTTP: the vendor's default `#http` rules,
//! GET requests with a model file's `#headers`, and reading a page as JSON.
//! POST requests, with a `#post` body and the page state each one carries,
//! are in `post`.
//! Sending, retries, credentials and paging live in the shared layer
//! ([`connectkit_core::client`]).

use connectkit_core::client::network_error;
use connectkit_core::client::{Action, ApiClient, ClientOptions, HttpRules};
use connectkit_core::{Error, Properties, Result as CoreResult};
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::error::{AutoRestError, display_url, excerpt};

pub(crate) mod post;

/// The status rules of a model-file table. Without an `#http` entry, the
/// vendor's defaults: 400 and 404 mean no rows, and the shared rules do the
/// rest (2xx OK, 401 reauthenticate, 429/503 and, for GET, 502/504
/// retried). With one, its rules, and, as the vendor documents, every
/// status it does not list fails (a 2xx it does not list is still read).
pub(crate) fn vendor_rules(file_rules: Option<HttpRules>) -> HttpRules {
    match file_rules {
        Some(rules) => rules.with_unlisted(Action::Fail),
        None => HttpRules::standard()
            .with(400, Action::ZeroRows)
            .with(404, Action::ZeroRows),
    }
}

/// The connector's API client: WSTimeout (the catalogue's default, 120 s,
/// the vendor's) and the rest of the shared client settings.
pub(crate) fn client(props: &Properties) -> CoreResult<reqwest::Client> {
    ClientOptions::from_properties(props, &crate::properties::catalogue())?
        .with_user_agent(concat!("connectkit-autorest/", env!("CARGO_PKG_VERSION")))
        .api_client()
}

/// A GET of `url` asking for JSON, with the model file's `#headers`.
pub(crate) fn get_request(
    client: &ApiClient,
    url: &Url,
    headers: &[(String, String)],
    table: &str,
) -> Result<reqwest::Request, Error> {
    let mut req = client
        .http()
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .build()
        .map_err(network_error)?;
    for (k, v) in headers {
        let bad = |what: &str| AutoRestError::ModelValue {
            table: table.to_owned(),
            key: "#headers".into(),
            message: format!("{k:?}: not a valid HTTP header {what}"),
        };
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad("name"))?;
        let value = HeaderValue::from_str(v).map_err(|_| bad("value"))?;
        req.headers_mut().insert(name, value);
    }
    Ok(req)
}

/// The body of a page as a `Value`.
pub(crate) fn parse_json(url: &Url, bytes: &[u8], headers: &HeaderMap) -> Result<Value, Error> {
    serde_json::from_slice::<Value>(bytes).map_err(|e| not_json(url, bytes, headers, &e))
}

/// The error for a body that is not JSON: the parser's message, the content
/// type and the start of the body.
pub(crate) fn not_json(
    url: &Url,
    bytes: &[u8],
    headers: &HeaderMap,
    e: &dyn std::fmt::Display,
) -> Error {
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type");
    AutoRestError::NotJson {
        url: display_url(url),
        message: format!("{content_type}: {e}"),
        excerpt: excerpt(bytes),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    #[test]
    fn vendor_defaults_and_overrides() {
        let get = Method::GET;
        let r = vendor_rules(None);
        assert_eq!(r.action(&get, 200), Action::Ok);
        assert_eq!(r.action(&get, 206), Action::Ok);
        assert_eq!(r.action(&get, 404), Action::ZeroRows);
        assert_eq!(r.action(&get, 400), Action::ZeroRows);
        assert_eq!(r.action(&get, 401), Action::Reauthenticate);
        assert_eq!(r.action(&get, 429), Action::RetryAfter);
        assert_eq!(r.action(&get, 503), Action::RetryAfter);
        assert_eq!(r.action(&get, 500), Action::Fail);
        let r = vendor_rules(Some(HttpRules::standard().with(404, Action::ZeroRows)));
        assert_eq!(r.action(&get, 404), Action::ZeroRows);
        assert_eq!(r.action(&get, 400), Action::Fail);
        assert_eq!(r.action(&get, 401), Action::Fail);
        assert_eq!(r.action(&get, 200), Action::Ok);
    }
}

//! POST requests (`#post`): a JSON body sent with each page request, whose
//! string values may hold the paging templates `{LIMIT}`, `{OFFSET}`,
//! `{PAGE}` and `{NEXT}` (search, reporting and GraphQL-style APIs).
//!
//! The shared paging engine knows a page by its URL only, and may build the
//! requests of several pages before decoding the ones before them. So when
//! the body pages (and the URL alone would not), the page's state travels
//! in the URL's fragment, which is never sent: [`page_target`] writes it and
//! [`request`] reads the body of that page back from the URL alone.

use connectkit_core::Error;
use connectkit_core::client::ApiClient;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::error::AutoRestError;
use crate::http::get_request;
use crate::keys::{check_key, value_err};
use crate::table::Endpoint;
use crate::table::paging::{self, Next, PageState, Paging, Param, page_url, substitute};

/// The fragment key that carries the page state of a paged POST body.
const STATE_KEY: &str = "connectkit-page";
const TEMPLATES: [&str; 4] = ["{LIMIT}", "{OFFSET}", "{PAGE}", "{NEXT}"];

/// A `#post` entry: the JSON body, an object or a list. `#omitWhenEmpty`
/// (default true) refuses an empty body, as the vendor does; `false` sends
/// a request without one (`Value::Null`), whose `Content-Type` the file's
/// `#headers` give.
pub(crate) fn parse_body(v: &Value, table: &str) -> Result<Value, AutoRestError> {
    let mut body = match v {
        Value::Object(_) | Value::Array(_) => v.clone(),
        _ => {
            return Err(value_err(
                table,
                "#post",
                "expected the JSON body: an object or a list",
            ));
        }
    };
    secret_fields(&body, table)?;
    let mut omit_when_empty = true;
    if let Value::Object(map) = &mut body {
        let keys: Vec<String> = map.keys().filter(|k| k.starts_with('#')).cloned().collect();
        for k in keys {
            check_key(&k, table, &[&["#omitWhenEmpty"]])?;
            omit_when_empty = match map.remove(&k) {
                Some(Value::Bool(b)) => b,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
                _ => return Err(value_err(table, &k, "expected true or false")),
            };
        }
        if map.is_empty() {
            return match omit_when_empty {
                false => Ok(Value::Null),
                true => Err(missing_body(table)),
            };
        }
    }
    Ok(body)
}

/// A model file is not a secret store: a body field that would hold a
/// credential (`password`, `client_secret`, `apiKey`...) is refused.
fn secret_fields(v: &Value, table: &str) -> Result<(), AutoRestError> {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let norm: String = k
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                if crate::keys::SECRET_KEYS.contains(&norm.as_str()) {
                    return Err(AutoRestError::SecretInModel {
                        key: format!("#post/{k}"),
                        table: table.to_owned(),
                    });
                }
                secret_fields(v, table)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| secret_fields(v, table)),
        _ => Ok(()),
    }
}

/// The error for a POST without a body.
pub(crate) fn missing_body(table: &str) -> AutoRestError {
    value_err(
        table,
        "#post",
        "a POST needs a body; for an empty one write \"#post\": {\"#omitWhenEmpty\": false}",
    )
}

/// Whether a `#post` body holds one of `templates`.
fn holds(body: &Value, templates: &[&str]) -> bool {
    match body {
        Value::String(s) => templates.iter().any(|t| s.contains(t)),
        Value::Array(items) => items.iter().any(|v| holds(v, templates)),
        Value::Object(map) => map.values().any(|v| holds(v, templates)),
        _ => false,
    }
}

/// Whether a `#post` body holds a paging template (its requests differ by page).
fn body_templated(body: &Value) -> bool {
    holds(body, &TEMPLATES)
}

/// Whether a `#post` body pages by itself, as a URL with `{OFFSET}` or
/// `{PAGE}` does (`{LIMIT}` alone does not; `{NEXT}` follows the next page
/// keys).
fn body_pages(body: &Value) -> bool {
    holds(body, &["{OFFSET}", "{PAGE}"])
}

/// Whether pages after the first are read at all: the URL or the paging
/// keys page, or the POST body does.
pub(crate) fn pages(endpoint: &Endpoint) -> bool {
    endpoint.paging.pages(&endpoint.url) || endpoint.post.as_ref().is_some_and(body_pages)
}

/// The URL of the page at `state` of `endpoint` ([`page_url`]), carrying the
/// state in its fragment when the POST body pages.
pub(crate) fn page_target(endpoint: &Endpoint, state: &PageState) -> Result<Url, url::ParseError> {
    let mut url = page_url(&endpoint.url, &endpoint.paging, state)?;
    if endpoint.post.as_ref().is_some_and(body_templated) {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        f.append_pair(STATE_KEY, &format!("{}.{}", state.pages, state.rows));
        match &state.next {
            Some(Next::Token(t)) => {
                f.append_pair("next", t);
            }
            Some(Next::Url(u)) => {
                f.append_pair("next", u.as_str());
            }
            None => {}
        }
        url.set_fragment(Some(&f.finish()));
    }
    Ok(url)
}

/// The page state [`page_target`] wrote into `url`, if any.
fn state_of(url: &Url) -> Option<PageState> {
    let fragment = url.fragment()?;
    let mut state = None;
    let mut next = None;
    for (k, v) in url::form_urlencoded::parse(fragment.as_bytes()) {
        match k.as_ref() {
            STATE_KEY => {
                let (pages, rows) = v.split_once('.')?;
                state = Some((pages.parse().ok()?, rows.parse().ok()?));
            }
            "next" => next = Some(Next::Token(v.into_owned())),
            _ => {}
        }
    }
    let (pages, rows) = state?;
    Some(PageState { pages, rows, next })
}

/// `body` with the paging templates of its strings filled in for `state`.
/// A string that is exactly `{LIMIT}`, `{OFFSET}` or `{PAGE}` becomes a
/// JSON number, as APIs expect numbers there.
pub(crate) fn fill_body(body: &Value, paging: &Paging, state: &PageState) -> Value {
    match body {
        Value::String(s) => {
            let text = substitute(s, paging, state);
            let numeric = ["{LIMIT}", "{OFFSET}", "{PAGE}"].contains(&s.as_str());
            let whole = numeric || s == "{NEXT}";
            match text.parse::<u64>() {
                Ok(n) if numeric => Value::from(n),
                // No page size, or no cursor yet (the first page): null.
                _ if whole && text.is_empty() => Value::Null,
                _ => Value::String(text),
            }
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_body(v, paging, state)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_body(v, paging, state)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The next page a response declares ([`paging::declared_next`]); a body
/// that takes `{NEXT}` takes the next page element or header as a cursor
/// even without `#nextPageParameter` (it is not a URL to follow).
pub(crate) fn declared_next(
    endpoint: &Endpoint,
    body: &Value,
    headers: &reqwest::header::HeaderMap,
    url: &Url,
) -> Result<Option<Next>, String> {
    let cursor = endpoint
        .post
        .as_ref()
        .is_some_and(|b| b.to_string().contains("{NEXT}"));
    if cursor && endpoint.paging.next_page_param.is_none() {
        let mut paging = endpoint.paging.clone();
        paging.next_page_param = Some(Param::parse("", "{NEXT}"));
        return paging::declared_next(&paging, body, headers, url);
    }
    paging::declared_next(&endpoint.paging, body, headers, url)
}

/// The request for the page at `url` of `endpoint`: a GET, or a POST of the
/// endpoint's body (filled in for the page) as JSON; `#headers` on both.
pub(crate) fn request(
    client: &ApiClient,
    url: &Url,
    endpoint: &Endpoint,
    table: &str,
) -> Result<reqwest::Request, Error> {
    let mut req = get_request(client, url, &endpoint.headers, table)?;
    let Some(template) = &endpoint.post else {
        return Ok(req);
    };
    *req.method_mut() = reqwest::Method::POST;
    if template.is_null() {
        // `#omitWhenEmpty: false`: no body at all.
        return Ok(req);
    }
    let state = state_of(url).unwrap_or_default();
    let mut body = fill_body(template, &endpoint.paging, &state);
    if !endpoint.body_inputs.is_empty() {
        body = crate::inputs::fill(&body, &endpoint.body_inputs);
    }
    req.headers_mut()
        .entry(CONTENT_TYPE)
        .or_insert(HeaderValue::from_static("application/json"));
    *req.body_mut() = Some(body.to_string().into());
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_fill_numbers_and_text() {
        let paging = Paging {
            max_page_size: Some(50),
            ..Paging::default()
        };
        let state = PageState {
            pages: 2,
            rows: 100,
            next: Some(Next::Token("c2".into())),
        };
        let body = json!({"q": "x", "size": "{LIMIT}", "from": "{OFFSET}",
            "page": ["{PAGE}"], "cursor": "{NEXT}", "label": "p{PAGE}", "n": 1});
        assert!(body_pages(&body) && body_templated(&body));
        assert!(!body_templated(&json!({"q": "{q}"})));
        assert!(!body_pages(&json!({"size": "{LIMIT}", "after": "{NEXT}"})));
        assert_eq!(
            fill_body(&body, &paging, &state),
            json!({"q": "x", "size": 50, "from": 100, "page": [3], "cursor": "c2",
                "label": "p3", "n": 1})
        );
    }

    #[test]
    fn the_page_state_survives_the_url() {
        let endpoint = Endpoint {
            url: "https://h/search?x=1".into(),
            post: Some(json!({"from": "{OFFSET}", "after": "{NEXT}"})),
            ..Endpoint::default()
        };
        let state = PageState {
            pages: 3,
            rows: 75,
            next: Some(Next::Token("a b&c".into())),
        };
        let url = page_target(&endpoint, &state).unwrap();
        assert_eq!(url.query(), Some("x=1"));
        let back = state_of(&url).unwrap();
        assert_eq!((back.pages, back.rows), (3, 75));
        assert_eq!(back.next, Some(Next::Token("a b&c".into())));
        let get = Endpoint {
            url: "https://h/items".into(),
            ..Endpoint::default()
        };
        assert_eq!(page_target(&get, &state).unwrap().fragment(), None);
    }
}

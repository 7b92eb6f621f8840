//! Paging: the model file's paging keys, the URL of each page, recognised
//! next links, and when to stop.

use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::json::lookup;

/// A query parameter whose value is a template such as `{OFFSET}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub name: String,
    pub template: String,
}

impl Param {
    /// `name` alone takes `default` as its template; `name=template` its own.
    pub fn parse(spec: &str, default: &str) -> Param {
        match spec.split_once('=') {
            Some((n, t)) => Param {
                name: n.trim().to_owned(),
                template: t.trim().to_owned(),
            },
            None => Param {
                name: spec.trim().to_owned(),
                template: default.to_owned(),
            },
        }
    }
}

/// The paging keys of a table (model file), all optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Paging {
    pub max_page_size: Option<u64>,
    pub first_row_number: Option<u64>,
    pub page_size_param: Option<Param>,
    pub row_offset_param: Option<Param>,
    pub page_number_param: Option<Param>,
    pub first_page_number: Option<u64>,
    pub next_page_element: Option<Vec<String>>,
    pub next_page_param: Option<Param>,
    pub next_page_header: Option<String>,
    pub has_more_element: Option<Vec<String>>,
    pub total_rows_element: Option<Vec<String>>,
    /// `#totalPagesElement`: the element holding the number of pages.
    pub total_pages_element: Option<Vec<String>>,
    /// `#pageSizeElement`: the element holding the page size in rows; a
    /// page holding fewer rows is the last.
    pub page_size_element: Option<Vec<String>>,
    /// `#fieldListParameter`: the query parameter that carries the fields
    /// a scan reads, comma-separated (projection pushdown).
    pub field_list_param: Option<String>,
}

impl Paging {
    /// Keys set here win over `defaults` (the model file's top level).
    pub fn or(self, defaults: &Paging) -> Paging {
        let d = defaults.clone();
        Paging {
            max_page_size: self.max_page_size.or(d.max_page_size),
            first_row_number: self.first_row_number.or(d.first_row_number),
            page_size_param: self.page_size_param.or(d.page_size_param),
            row_offset_param: self.row_offset_param.or(d.row_offset_param),
            page_number_param: self.page_number_param.or(d.page_number_param),
            first_page_number: self.first_page_number.or(d.first_page_number),
            next_page_element: self.next_page_element.or(d.next_page_element),
            next_page_param: self.next_page_param.or(d.next_page_param),
            next_page_header: self.next_page_header.or(d.next_page_header),
            has_more_element: self.has_more_element.or(d.has_more_element),
            total_rows_element: self.total_rows_element.or(d.total_rows_element),
            total_pages_element: self.total_pages_element.or(d.total_pages_element),
            page_size_element: self.page_size_element.or(d.page_size_element),
            field_list_param: self.field_list_param.or(d.field_list_param),
        }
    }

    /// Whether pages after the first are read at all for a URL template.
    pub fn pages(&self, url_template: &str) -> bool {
        self.row_offset_param.is_some()
            || self.page_number_param.is_some()
            || self.next_page_element.is_some()
            || self.next_page_header.is_some()
            || url_template.contains("{OFFSET}")
            || url_template.contains("{PAGE}")
    }

    fn follows_next(&self) -> bool {
        self.next_page_element.is_some() || self.next_page_header.is_some()
    }
}

/// Where the next page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// A URL to fetch as is.
    Url(Url),
    /// A token for `#nextPageParameter` / `{NEXT}`.
    Token(String),
}

/// Paging progress through one scan.
#[derive(Debug, Default)]
pub(crate) struct PageState {
    /// Pages fetched so far.
    pub pages: u64,
    /// Top-level rows read so far.
    pub rows: u64,
    /// The next page, from a link or token.
    pub next: Option<Next>,
}

pub(crate) fn substitute(template: &str, paging: &Paging, state: &PageState) -> String {
    let limit = paging
        .max_page_size
        .map(|n| n.to_string())
        .unwrap_or_default();
    let offset = paging.first_row_number.unwrap_or(0) + state.rows;
    let page = paging.first_page_number.unwrap_or(1) + state.pages;
    let next = match &state.next {
        Some(Next::Token(t)) => t.clone(),
        Some(Next::Url(u)) => u.to_string(),
        None => String::new(),
    };
    template
        .replace("{LIMIT}", &limit)
        .replace("{OFFSET}", &offset.to_string())
        .replace("{PAGE}", &page.to_string())
        .replace("{NEXT}", &next)
}

/// The URL of the next page to fetch.
pub(crate) fn page_url(
    template: &str,
    paging: &Paging,
    state: &PageState,
) -> Result<Url, url::ParseError> {
    if let Some(Next::Url(u)) = &state.next {
        return Ok(u.clone());
    }
    let mut url = Url::parse(&substitute(template, paging, state))?;
    let mut params: Vec<(&str, String)> = Vec::new();
    if let (Some(p), Some(_)) = (&paging.page_size_param, paging.max_page_size) {
        params.push((&p.name, substitute(&p.template, paging, state)));
    }
    if let Some(p) = &paging.row_offset_param {
        params.push((&p.name, substitute(&p.template, paging, state)));
    }
    if let Some(p) = &paging.page_number_param {
        params.push((&p.name, substitute(&p.template, paging, state)));
    }
    if let (Some(p), Some(Next::Token(_))) = (&paging.next_page_param, &state.next) {
        params.push((&p.name, substitute(&p.template, paging, state)));
    }
    if !params.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, &v);
        }
    }
    Ok(url)
}

/// Whether a paging template uses `tag` (the URL or a parameter's value).
fn uses(paging: &Paging, template: &str, tag: &str) -> bool {
    [
        &paging.page_size_param,
        &paging.row_offset_param,
        &paging.page_number_param,
    ]
    .into_iter()
    .flatten()
    .any(|p| p.template.contains(tag))
        || template.contains(tag)
}

/// Whether paging goes by row offset (`{OFFSET}`).
pub(crate) fn uses_offset(paging: &Paging, template: &str) -> bool {
    uses(paging, template, "{OFFSET}")
}

/// Whether every page's URL is known before the pages before it are read:
/// offset or page-number paging without next links or tokens, an offset
/// needing `#maximumPageSize` (page `k` then starts at row `k * size`).
pub(crate) fn known_ahead(paging: &Paging, template: &str) -> bool {
    paging.pages(template)
        && !paging.follows_next()
        && paging.next_page_param.is_none()
        && !uses(paging, template, "{NEXT}")
        && (!uses_offset(paging, template) || paging.max_page_size.is_some())
}

/// The paging state before page `number` (0-based) of a [`known_ahead`]
/// table: `number` full pages read.
pub(crate) fn planned_state(paging: &Paging, number: u64) -> PageState {
    PageState {
        pages: number,
        rows: number.saturating_mul(paging.max_page_size.unwrap_or(0)),
        next: None,
    }
}

/// The number of pages of the table, as a page's `#totalRowsElement` or
/// `#totalPagesElement` states it (with `#maximumPageSize` for rows).
pub(crate) fn declared_pages(paging: &Paging, body: &Value) -> Option<u64> {
    if let Some(t) = paging
        .total_pages_element
        .as_ref()
        .and_then(|p| whole(body, p))
    {
        return Some(t);
    }
    let rows = whole(body, paging.total_rows_element.as_ref()?)?;
    Some(rows.div_ceil(paging.max_page_size.filter(|s| *s > 0)?))
}

/// Whether a page read at `state` (its planned place) lies past the end the
/// page itself declares. An API may answer such a page with the last rows
/// again (it clamps the offset): they are not rows of this page.
pub(crate) fn past_declared_end(paging: &Paging, body: &Value, state: &PageState) -> bool {
    declared_pages(paging, body).is_some_and(|pages| state.pages >= pages)
}

fn whole(body: &Value, path: &[String]) -> Option<u64> {
    lookup(body, path).and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Reads the next link or token a page declares under the model file's keys.
/// A `Link` header is read per RFC 8288; one that cannot be parsed is an
/// error (the message), never "no next page".
pub(crate) fn declared_next(
    paging: &Paging,
    body: &Value,
    headers: &HeaderMap,
    request_url: &Url,
) -> Result<Option<Next>, String> {
    let raw = if let Some(path) = &paging.next_page_element {
        match lookup(body, path) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Ok(None),
        }
    } else if let Some(h) = &paging.next_page_header {
        if h.eq_ignore_ascii_case("link") {
            let Some(target) = connectkit_core::client::link_target(headers, request_url, "next")?
            else {
                return Ok(None);
            };
            if paging.next_page_param.is_none() {
                return Ok(Some(Next::Url(target)));
            }
            target.to_string()
        } else {
            match headers.get(h.as_str()).map(|v| v.to_str()) {
                Some(Ok(v)) => v.trim().to_owned(),
                Some(Err(_)) => return Err(format!("the {h} header is not visible ASCII")),
                None => return Ok(None),
            }
        }
    } else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    if paging.next_page_param.is_some() {
        Ok(Some(Next::Token(raw)))
    } else {
        request_url
            .join(&raw)
            .map(|u| Some(Next::Url(u)))
            .map_err(|e| format!("the next page link is not a URL ({e})"))
    }
}

/// Whether paging stops after a page of `n` top-level rows (before looking
/// for a next link).
pub(crate) fn stops_after(paging: &Paging, body: &Value, n: usize, state: &PageState) -> bool {
    if n == 0 {
        return true;
    }
    if let Some(path) = &paging.has_more_element {
        match lookup(body, path) {
            Some(Value::Bool(more)) => return !more,
            Some(Value::String(s)) => return !s.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    if let Some(path) = &paging.total_rows_element
        && whole(body, path).is_some_and(|t| state.rows >= t)
    {
        return true;
    }
    if let Some(path) = &paging.total_pages_element
        && whole(body, path).is_some_and(|t| state.pages >= t)
    {
        return true;
    }
    if let Some(path) = &paging.page_size_element
        && whole(body, path).is_some_and(|size| (n as u64) < size)
    {
        return true;
    }
    if paging.max_page_size.is_some_and(|size| (n as u64) < size) {
        return true;
    }
    paging.follows_next() && state.next.is_none()
}

/// Top-level fields whose string value is a next link.
const NEXT_FIELDS: &[&str] = &[
    "next",
    "nextLink",
    "next_page_url",
    "nextPageUrl",
    "@odata.nextLink",
];

/// The next link of a sampled endpoint's page, resolved against the request
/// URL: a recognised body field, else the `Link` header (RFC 8288). A link
/// that is not a URL, or a `Link` header that cannot be parsed, is an error
/// (the message), never "no next page".
pub(crate) fn recognised_next(
    body: &Value,
    headers: &HeaderMap,
    request_url: &Url,
) -> Result<Option<Url>, String> {
    fn s(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    let from_body = NEXT_FIELDS
        .iter()
        .find_map(|f| s(body.get(f)))
        .or_else(|| s(body.pointer("/links/next")))
        .or_else(|| s(body.pointer("/_links/next/href")))
        .or_else(|| s(body.pointer("/_links/next")))
        .or_else(|| s(body.pointer("/paging/next")))
        .or_else(|| s(body.pointer("/paging/next/link")));
    if let Some(link) = from_body {
        return request_url
            .join(link)
            .map(Some)
            .map_err(|e| format!("the next page link is not a URL ({e})"));
    }
    connectkit_core::client::link_target(headers, request_url, "next")
}

/// Removes the next-link fields [`recognised_next`] reads, so they are not
/// columns; a parent object left empty goes too.
pub(crate) fn strip_next_links(body: &mut Value) {
    let Some(map) = body.as_object_mut() else {
        return;
    };
    for f in NEXT_FIELDS {
        if map.get(*f).is_some_and(|v| v.is_string() || v.is_null()) {
            map.remove(*f);
        }
    }
    for parent in ["links", "_links", "paging"] {
        if let Some(Value::Object(inner)) = map.get_mut(parent) {
            inner.remove("next");
            if inner.is_empty() {
                map.remove(parent);
            }
        }
    }
}

#[cfg(test)]
#[path = "paging_tests.rs"]
mod tests;

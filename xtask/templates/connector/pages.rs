//! How the Example API pages: page N of a table is `<path>?page=N` (from 1,
//! with `per_page=<PageSize>`); a page is an object holding the rows and a
//! `next` field, or a top-level array of rows. The shared paging engine
//! ([`connectkit_core::client::paginate`]) sends the requests through the
//! connection's `ApiClient` and keeps its rules (origins, loops, empty
//! pages, MaxPages, the limit); this file only says how to ask for a page
//! and how to read one.

use connectkit_core::client::{ApiClient, Decoded, Fetched, HttpRules, PageSource};
use connectkit_core::decode::{JsonPage, JsonRows};
use connectkit_core::reqwest::header::{ACCEPT, HeaderValue};
use connectkit_core::reqwest::{Method, Request, Url};
use connectkit_core::{Result, arrow_array::RecordBatch};
use serde_json::Value;

use crate::error::ExampleError;

/// The page field that says where the next page is.
pub const NEXT_FIELD: &str = "next";

/// The URL of page `number` (1-based) of the table at `url`.
pub fn page_url(url: &Url, number: u64, page_size: u32) -> Url {
    let mut url = url.clone();
    url.query_pairs_mut()
        .append_pair("page", &number.to_string())
        .append_pair("per_page", &page_size.to_string());
    url
}

/// The pages of one scan.
pub struct Pages {
    /// The table's URL, without paging parameters.
    pub url: Url,
    /// Rows per page asked for (`PageSize`).
    pub page_size: u32,
    /// How a page's rows become a batch.
    pub rows: JsonRows,
    /// Whether a page is a top-level array of rows (no `next` field: pages
    /// are read until one is empty).
    pub array_pages: bool,
    /// The table, for messages.
    pub table: String,
    /// What each status means: the shared layer's (2xx rows, 401 refresh,
    /// 429/5xx retries, other statuses errors).
    pub rules: HttpRules,
}

impl Pages {
    /// Where the page after page `number` (0-based) is: its `next` field (a
    /// URL, absolute or relative to the page, or the next page's number;
    /// absent, null or false on the last page), else, for pages that are
    /// arrays, the next page number while pages have rows.
    fn next(&self, page: &Url, document: &Value, number: u64, rows: usize) -> Result<Option<Url>> {
        let bad = |found: &str| ExampleError::BadNextPage {
            table: self.table.clone(),
            found: found.to_owned(),
        };
        Ok(match document.get(NEXT_FIELD) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {
                let more = self.array_pages && rows > 0;
                more.then(|| page_url(&self.url, number + 2, self.page_size))
            }
            Some(Value::Bool(true)) => Some(page_url(&self.url, number + 2, self.page_size)),
            Some(Value::String(link)) => Some(
                page.join(link)
                    .map_err(|_| bad("a string that is not a URL"))?,
            ),
            Some(Value::Number(n)) => {
                let n = n
                    .as_u64()
                    .ok_or_else(|| bad("a number that is not a page number"))?;
                Some(page_url(&self.url, n, self.page_size))
            }
            Some(_) => return Err(bad("an array or object").into()),
        })
    }
}

impl PageSource for Pages {
    fn table(&self) -> &str {
        &self.table
    }

    fn request(&mut self, _: &ApiClient, url: &Url, _: Option<usize>) -> Result<Request> {
        let mut request = Request::new(Method::GET, url.clone());
        let json = HeaderValue::from_static("application/json");
        request.headers_mut().insert(ACCEPT, json);
        Ok(request)
    }

    fn rules(&self) -> &HttpRules {
        &self.rules
    }

    fn decode(&mut self, number: u64, page: Fetched) -> Result<Decoded> {
        let Fetched::Body(body) = page else {
            // A status the rules read as "no rows".
            let empty = RecordBatch::new_empty(self.rows.schema().clone());
            return Ok(Decoded::new(empty, None));
        };
        let page: JsonPage = self.rows.read(&body.bytes)?;
        let next = self.next(&body.url, &page.document, number, page.batch.num_rows())?;
        Ok(Decoded::new(page.batch, next))
    }
}

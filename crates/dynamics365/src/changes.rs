//! Incremental changes through Dataverse change tracking: the first request
//! carries `Prefer: odata.track-changes`, the last page of the answer an
//! `@odata.deltaLink` whose `$deltatoken` is the token of the next call;
//! the answer to a delta token holds the rows changed since, and deleted
//! rows as `$deletedEntity` entries with their ids.

use std::sync::{Arc, Mutex};

use arrow_schema::SchemaRef;
use connectkit_core::client::{
    ApiClient, ApiError, Decoded, Fetched, HttpRules, PageRun, PageSource, paginate,
};
use connectkit_core::{BatchStream, Error};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use crate::decode::decode_page;
use crate::error::Dynamics365Error;
use crate::http::{JSON, request};
use crate::labels::PREFER_ANNOTATIONS;
use crate::odata::encode_component;
use crate::page::Layout;
use crate::types::{Column, schema_of};

/// The preference that starts change tracking.
const TRACK_CHANGES: &str = "odata.track-changes";
/// The OData error code of Dataverse's answer to a change request for a
/// table whose change tracking is off (see [`refuses_tracking`]).
const NOT_TRACKED: &str = "0x80048d0b";

/// The changes of one table since a delta token (or all rows, without one),
/// as returned by
/// [`Dynamics365Connector::changes`](crate::Dynamics365Connector::changes).
///
/// The changed rows stream page by page (memory is bounded by the page
/// size); once [`Changes::batches`] is drained, [`Changes::finish`] gives
/// the deleted rows' ids and the token of the next call.
#[non_exhaustive]
pub struct Changes {
    /// The schema of the changed rows (the table's columns).
    pub schema: SchemaRef,
    /// The table's key column, whose values the deleted ids are.
    pub key: Option<String>,
    /// The new and updated rows.
    pub batches: BatchStream,
    state: Arc<Mutex<DeltaState>>,
    table: String,
}

/// What a drained [`Changes`] leaves: deletions and the next token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeSummary {
    /// The ids of the rows deleted since the token (none on a first call).
    pub deleted: Vec<String>,
    /// The `$deltatoken` to pass next time.
    pub token: String,
}

impl Changes {
    /// The deleted ids and the next token; an error when the batches were
    /// not read to the end (the token comes with the last page).
    pub fn finish(self) -> connectkit_core::Result<ChangeSummary> {
        let state = self
            .state
            .lock()
            .map(|s| (s.deleted.clone(), s.token.clone()))
            .unwrap_or_default();
        match state {
            (deleted, Some(token)) => Ok(ChangeSummary { deleted, token }),
            (_, None) => Err(Dynamics365Error::InvalidResponse {
                what: format!("changes of table {}", self.table),
                message: "the changes were not read to the end, so there is no next token".into(),
            }
            .into()),
        }
    }
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("table", &self.table)
            .field("schema", &self.schema)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct DeltaState {
    deleted: Vec<String>,
    token: Option<String>,
}

/// What a change request reads: the table, its columns, and where from.
pub(crate) struct DeltaSpec {
    pub(crate) table: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) base: Url,
    pub(crate) token: Option<String>,
    pub(crate) page_size: u32,
    pub(crate) annotations: bool,
    /// How to page: the connection's paging limits, as for scans.
    pub(crate) run: PageRun,
}

/// The first URL of a change request: the entity set, with the token.
pub(crate) fn delta_url(
    base: &Url,
    set: &str,
    token: Option<&str>,
) -> Result<Url, Dynamics365Error> {
    let mut url = crate::scan::first_url(base, set, None, None, None)?;
    if let Some(t) = token {
        // As the documentation's delta links spell it: `$deltatoken=`, the
        // value percent-encoded (a space is %20).
        url.set_query(Some(&format!("$deltatoken={}", encode_component(t))));
    }
    Ok(url)
}

/// Starts reading the changes described by `spec`.
pub(crate) fn changes(client: ApiClient, spec: DeltaSpec) -> connectkit_core::Result<Changes> {
    let first = delta_url(&spec.base, &spec.table, spec.token.as_deref())?;
    let schema = schema_of(&spec.columns);
    let key = spec.columns.iter().find(|c| c.key).map(|c| c.name.clone());
    let state = Arc::new(Mutex::new(DeltaState::default()));
    let layout = Layout::new(&spec.columns);
    let source = DeltaPages {
        table: spec.table.clone(),
        schema: schema.clone(),
        columns: spec.columns,
        layout,
        page_size: spec.page_size,
        first: first.clone(),
        track: spec.token.is_none(),
        given: spec.token,
        annotations: spec.annotations,
        state: state.clone(),
        rules: HttpRules::standard(),
    };
    let table = spec.table;
    let named = table.clone();
    let batches = paginate(client, source, first, spec.run);
    // A server that refuses change tracking for the table says so in its
    // own words; the error names the table.
    let batches = Box::pin(futures::TryStreamExt::map_err(batches, move |e| {
        if refuses_tracking(&e) {
            Dynamics365Error::ChangeTrackingNotEnabled {
                table: named.clone(),
                detail: e.to_string(),
            }
            .into()
        } else {
            e
        }
    }));
    Ok(Changes {
        schema,
        key,
        batches,
        state,
        table,
    })
}

/// Whether `e` is Dataverse refusing change tracking for the table. It
/// answers `400 Bad Request` with an OData error body such as
/// `{"error": {"code": "0x80048d0b", "message": "Change tracking is not
/// enabled for entity account."}}`, which the client's error-detail reader
/// ([`odata_detail`](crate::http::odata_detail)) turns into the detail
/// `0x80048d0b: Change tracking is not enabled for entity account.`.
/// [`ApiError`] keeps no field for the OData code, so the code is the
/// detail's front; a 400 whose message speaks of change tracking under
/// another code (or none: "Entity: x isn't enabled for change tracking.")
/// counts too. Any other error, or status, is left as it is.
fn refuses_tracking(e: &Error) -> bool {
    match e.downcast_ref::<ApiError>() {
        Some(ApiError::Status {
            status: 400,
            detail,
            ..
        }) => {
            detail.starts_with(&format!("{NOT_TRACKED}:"))
                || detail.to_ascii_lowercase().contains("change tracking")
        }
        _ => false,
    }
}

struct DeltaPages {
    table: String,
    schema: SchemaRef,
    columns: Vec<Column>,
    layout: Layout,
    page_size: u32,
    first: Url,
    /// Whether the first request starts tracking (no token given).
    track: bool,
    given: Option<String>,
    annotations: bool,
    state: Arc<Mutex<DeltaState>>,
    rules: HttpRules,
}

#[derive(Deserialize)]
struct DeltaPage<'a> {
    #[serde(borrow, default)]
    value: Option<Vec<&'a RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
}

/// Just enough of a row to tell a deletion: OData 4.0's `$deletedEntity`.
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "@odata.context", default)]
    context: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

impl DeltaPages {
    fn invalid(&self, message: String) -> Error {
        Dynamics365Error::InvalidResponse {
            what: format!("changes of table {}", self.table),
            message,
        }
        .into()
    }
}

impl PageSource for DeltaPages {
    fn table(&self) -> &str {
        &self.table
    }

    fn request(
        &mut self,
        _client: &ApiClient,
        url: &Url,
        _remaining: Option<usize>,
    ) -> connectkit_core::Result<reqwest::Request> {
        let max = format!("odata.maxpagesize={}", self.page_size);
        let mut prefer: Vec<&str> = Vec::with_capacity(3);
        if self.track && *url == self.first {
            prefer.push(TRACK_CHANGES);
        }
        if self.annotations {
            prefer.push(PREFER_ANNOTATIONS);
        }
        prefer.push(&max);
        Ok(request(url, JSON, &prefer))
    }

    fn rules(&self) -> &HttpRules {
        &self.rules
    }

    fn decode(&mut self, _number: u64, page: Fetched) -> connectkit_core::Result<Decoded> {
        let Fetched::Body(body) = page else {
            return Err(self.invalid("no body".into()));
        };
        let text = String::from_utf8_lossy(&body.bytes);
        let page: DeltaPage<'_> = serde_json::from_str(&text)
            .map_err(|e| self.invalid(format!("the page is not OData JSON: {e}")))?;
        let mut kept: Vec<&str> = Vec::new();
        let mut deleted = Vec::new();
        for row in page.value.unwrap_or_default() {
            let peek: Peek = serde_json::from_str(row.get())
                .map_err(|e| self.invalid(format!("a row is not an object: {e}")))?;
            if peek
                .context
                .as_deref()
                .is_some_and(|c| c.ends_with("$deletedEntity"))
            {
                deleted.push(
                    peek.id
                        .ok_or_else(|| self.invalid("a $deletedEntity has no id".into()))?,
                );
            } else {
                kept.push(row.get());
            }
        }
        let rows = format!("{{\"value\":[{}]}}", kept.join(","));
        let batch = decode_page(
            &self.table,
            &self.schema,
            &self.columns,
            &self.layout,
            &rows,
            kept.len(),
        )?
        .batch;
        let link = |l: &str| {
            body.url
                .join(l)
                .map_err(|e| self.invalid(format!("a link is not a URL: {e}")))
        };
        let next = page.next_link.as_deref().map(link).transpose()?;
        let token = match (&next, page.delta_link.as_deref()) {
            (Some(_), _) => None,
            (None, Some(delta)) => Some(
                link(delta)?
                    .query_pairs()
                    .find(|(k, _)| k == "$deltatoken")
                    .map(|(_, v)| v.into_owned())
                    .ok_or_else(|| self.invalid("@odata.deltaLink has no $deltatoken".into()))?,
            ),
            // "An empty JSON response is returned if no table changes have
            // occurred": the token given still holds.
            (None, None) => match &self.given {
                Some(t) => Some(t.clone()),
                None => {
                    return Err(Dynamics365Error::ChangeTrackingNotEnabled {
                        table: self.table.clone(),
                        detail: "Prefer: odata.track-changes brought no @odata.deltaLink".into(),
                    }
                    .into());
                }
            },
        };
        if let Ok(mut s) = self.state.lock() {
            s.deleted.extend(deleted);
            if token.is_some() {
                s.token = token;
            }
        }
        Ok(Decoded::new(batch, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_urls_carry_the_token_encoded() {
        let base = Url::parse("https://h/api/data/v9.2/").unwrap();
        let u = delta_url(&base, "accounts", None).unwrap();
        assert_eq!(u.as_str(), "https://h/api/data/v9.2/accounts");
        let u = delta_url(&base, "accounts", Some("919042!08/22/2017 08:10:44")).unwrap();
        assert_eq!(
            u.query(),
            Some("$deltatoken=919042%2108%2F22%2F2017%2008%3A10%3A44")
        );
    }
}

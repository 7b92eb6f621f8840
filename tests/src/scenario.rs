//! Scenario files as written: the serde types. Loading and checking them is
//! in [`crate::load`](mod@crate::load).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A scenario file as written: see `fixtures/conformance/README.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// What the scenario pins down, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// The connection URL; its subprotocol picks the connector.
    #[serde(default)]
    pub url: String,
    /// Instead of `url`: one URL per connector (`{autorest: ..., dynamics365:
    /// ...}`); the scenario runs once for each, as `<id>[<connector>]`, with
    /// the same servers and expectations: behaviour every connector shares.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    /// Instead of `url`/`urls`: the scenario runs once per connector that
    /// declares a shared test table (`<suite>/shared_table.yaml`), with that
    /// declaration's URL, `{{table}}`, `{{route}}`, `{{id}}`, `{{text}}`
    /// placeholders and `rows:` responses: see [`crate::shared`].
    #[serde(default)]
    pub shared: bool,
    /// In a shared scenario: the declared URL points at a loopback port
    /// nothing listens on (`{{dead_server}}`) instead of the API server.
    #[serde(default)]
    pub unreachable_api: bool,
    /// A model file written to a temp dir; `{{model_file}}` in the URL is its path.
    #[serde(default)]
    pub model: Option<ModelFile>,
    /// The token endpoint's behaviour.
    #[serde(default)]
    pub token: Option<TokenEndpoint>,
    /// The API's routes.
    #[serde(default)]
    pub api: Vec<Route>,
    /// Whether API requests that match no route are tolerated (they get 404).
    #[serde(default)]
    pub allow_unmatched: bool,
    /// `tables`, `schema T`, `scan T` or `{scan: T, columns: [..], limit: N}`.
    pub operations: Vec<Value>,
    /// How many times the operations run, in one connection.
    #[serde(default = "one")]
    pub repeat: usize,
    /// What must come out.
    #[serde(default)]
    pub expect: Expect,
}

fn one() -> usize {
    1
}

/// A model file's name and text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// The file name (its extension picks JSON or YAML), e.g. `model.rest`.
    pub file: String,
    /// The file's text; placeholders are substituted.
    pub text: String,
}

/// The token endpoint: an ordered list of responses, the last one repeating.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEndpoint {
    /// The path it answers on (any method), `/token` by default.
    #[serde(default = "token_path")]
    pub path: String,
    /// The responses, in order.
    pub responses: Vec<MockResponse>,
}

fn token_path() -> String {
    "/token".into()
}

/// One canned HTTP response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockResponse {
    /// The status, 200 by default.
    #[serde(default = "ok")]
    pub status: u16,
    /// A JSON body.
    #[serde(default)]
    pub json: Option<Value>,
    /// A raw body (text/plain unless a Content-Type header says otherwise).
    #[serde(default)]
    pub body: Option<String>,
    /// In a shared scenario: rows of the shared table, sent as a page in the
    /// form the connector declares (under its rows element, or a top-level array).
    #[serde(default)]
    pub rows: Option<Vec<Value>>,
    /// In a shared scenario: this page links to page N, in the form the
    /// connector declares (`next_page`: a page element or a Link header).
    #[serde(default)]
    pub next_page: Option<u32>,
    /// Response headers such as `Retry-After` or `Link`.
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    /// How long to wait before answering, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
}

fn ok() -> u16 {
    200
}

/// An API route and what it answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The name expectations use; the path (with its query) by default.
    #[serde(default)]
    pub name: Option<String>,
    /// The method, GET by default.
    #[serde(default = "get")]
    pub method: String,
    /// The path.
    pub path: String,
    /// Query parameters the request must carry to match this route.
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    /// The responses, in order, the last one repeating.
    pub responses: Vec<MockResponse>,
    /// Bearer tokens this route answers 401 to (before taking a response).
    #[serde(default)]
    pub reject_tokens: Vec<String>,
    /// In a shared scenario: this route serves page N (N > 1): the query
    /// parameters the connector declares for it are added to `query`.
    #[serde(default)]
    pub page: Option<u32>,
}

fn get() -> String {
    "GET".into()
}

impl Route {
    /// The name used in expectations and messages.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v).unwrap_or_default()))
            .collect();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query.join("&"))
        }
    }
}

/// What the outcome must be. Absent fields are not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The table names of the last `tables` operation, in order.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
    /// Columns per table: `name` or `{name: Type}` (the `connectkit.type`, else the Arrow type).
    #[serde(default)]
    pub columns: BTreeMap<String, Vec<Value>>,
    /// Types of some columns per table (`{table: {column: Type}}`), other
    /// columns unchecked: the `connectkit.type`, else the Arrow type.
    #[serde(default)]
    pub column_types: BTreeMap<String, BTreeMap<String, String>>,
    /// The rows of the last scan, compared as JSON values.
    #[serde(default)]
    pub rows: Option<Vec<Value>>,
    /// In a shared scenario: this page links to page N, in the form the
    /// connector declares (`next_page`: a page element or a Link header).
    #[serde(default)]
    pub next_page: Option<u32>,
    /// A JSON file holding the rows of the last scan (relative to the scenario).
    #[serde(default)]
    pub rows_file: Option<String>,
    /// The columns of the filters the last scan left to the caller (not
    /// pushed, or pushed inexactly), in order: `[]` when every filter was applied.
    #[serde(default)]
    pub unapplied_filters: Option<Vec<String>>,
    /// How many rows the last scan returned.
    #[serde(default)]
    pub row_count: Option<usize>,
    /// The error kind, e.g. `auth.invalid_grant`; a prefix such as `auth` matches any `auth.*`.
    #[serde(default)]
    pub error: Option<String>,
    /// Text the error message must contain.
    #[serde(default)]
    pub error_contains: Option<String>,
    /// How many token requests the token endpoint received.
    #[serde(default)]
    pub token_requests: Option<usize>,
    /// What the first, second, ... token request contained.
    #[serde(default)]
    pub token_request: Vec<RequestExpect>,
    /// What every token request contained.
    #[serde(default)]
    pub every_token_request: Option<RequestExpect>,
    /// Per API route (by name): request count and contents.
    #[serde(default)]
    pub api: BTreeMap<String, RouteExpect>,
}

/// What one received request contained.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestExpect {
    /// The method.
    #[serde(default)]
    pub method: Option<String>,
    /// The query parameters, exactly.
    #[serde(default)]
    pub query: Option<BTreeMap<String, Value>>,
    /// Query parameters that must be there with these values (`~`: absent);
    /// others may be there too. What a filter pushed, e.g. `$filter`.
    #[serde(default)]
    pub query_includes: Option<BTreeMap<String, Value>>,
    /// The form body parameters, exactly.
    #[serde(default)]
    pub form: Option<BTreeMap<String, Value>>,
    /// The JSON body, exactly.
    #[serde(default)]
    pub json: Option<Value>,
    /// The Authorization header (`~`: absent); may use `{{basic id secret}}`.
    #[serde(default, deserialize_with = "present")]
    pub authorization: Option<Value>,
    /// Other headers (names case-insensitive; `~`: absent).
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
}

/// Expectations on one API route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteExpect {
    /// How many requests it received.
    #[serde(default)]
    pub requests: Option<usize>,
    /// What the first, second, ... request contained.
    #[serde(default)]
    pub received: Vec<RequestExpect>,
    /// What every request contained.
    #[serde(default)]
    pub every: Option<RequestExpect>,
}

/// Keeps an explicit `~` as `Some(Null)`, unlike `Option`'s own deserializer.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A scalar as text (numbers and booleans as written); `None` for null and containers.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub use crate::load::{
    Operation, Scenario, ScenarioError, scenario_files, scenario_id, subprotocol, substitute,
    substitute_value,
};

//! Config model files: the vendor's JSON `.rest` form, or the same in YAML.
//! A table entry's declared columns are read by `columns`, its `#http` and
//! `#headers` by `model_http`; `model_auth` hands a file's authorization
//! endpoints to tools that run before any connection.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::AutoRestError;
use crate::keys::{check_key, number, string, value_err};
use connectkit_core::client::HttpRules;

use crate::http::vendor_rules;
use crate::json::split_path;
use crate::table::paging::{Paging, Param};
use crate::table::{Endpoint, Rows, TableDef};

mod columns;
pub(crate) mod model_auth;
mod model_http;

use columns::declared_tables_at;
use model_http::{headers, http_rules};

/// A loaded model file.
#[derive(Debug)]
pub(crate) struct Model {
    /// `#tokenuri`, when the file gives it.
    pub token_uri: Option<String>,
    /// `#scope`, when the file gives it.
    pub scope: Option<String>,
    /// `#authuri` (a connectkit extension), when the file gives it: the
    /// authorization endpoint, for `connectkit authorize` only.
    pub auth_uri: Option<String>,
    /// `#deviceauthuri` (a connectkit extension): the device authorization
    /// endpoint, for `connectkit authorize --device` only.
    pub device_auth_uri: Option<String>,
    /// The tables, in file order.
    pub entries: Vec<Entry>,
    /// The vendor keys the file holds that are ignored: `key in place (what)`.
    pub ignored: Vec<String>,
}

/// One table entry of a model file.
#[derive(Debug)]
pub(crate) enum Entry {
    /// Columns given in the file: the table and its child tables.
    Declared(Vec<TableDef>),
    /// Sampled from its endpoint when first needed.
    Sampled {
        name: String,
        endpoint: Arc<Endpoint>,
        rows: Rows,
    },
}

pub(crate) const TOP: &str = "the top level";

const PAGING_KEYS: &[&str] = &[
    "#maximumPageSize",
    "#firstRowNumber",
    "#pageSizeParameter",
    "#rowOffsetParameter",
    "#pageNumberParameter",
    "#firstPageNumber",
    "#nextPageElement",
    "#nextPageParameter",
    "#nextPageResponseHeader",
    "#hasMoreElement",
    "#totalRowsElement",
    "#totalPagesElement",
    "#pageSizeElement",
    "#fieldListParameter",
];

/// Keys the vendor documents that connectkit does not implement, with what
/// is ignored: a file holding them loads, with one warning naming each.
const IGNORED_KEYS: &[(&str, &str)] = &[
    ("#readonly", "write access: connectkit reads only"),
    ("#insert", "INSERT requests: connectkit reads only"),
    ("#update", "UPDATE requests: connectkit reads only"),
    ("#delete", "DELETE requests: connectkit reads only"),
    ("#options", "the Autonomous REST Composer's settings"),
    (
        "#authentication",
        "custom authentication requests: set AuthenticationMethod and its properties instead",
    ),
    (
        "#reauthentication",
        "custom reauthentication requests: set AuthenticationMethod and its properties instead",
    ),
];
const TOP_KEYS: &[&str] = &[
    "#tokenuri",
    "#scope",
    "#authuri",
    "#deviceauthuri",
    "#hostname",
    "#http",
    "#headers",
];
const TABLE_KEYS: &[&str] = &["#path", "#headers", "#http", "#post"];

/// Reads and parses the model file at `path`; YAML for `.yaml`/`.yml`.
pub(crate) fn load(path: &str, server_name: Option<&str>) -> Result<Model, AutoRestError> {
    let text = std::fs::read_to_string(path).map_err(|source| AutoRestError::ModelRead {
        path: path.to_owned(),
        source,
    })?;
    let lower = path.to_ascii_lowercase();
    let yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    parse(&text, yaml, path, server_name)
}

/// Parses a model file's text.
pub(crate) fn parse(
    text: &str,
    yaml: bool,
    path: &str,
    server_name: Option<&str>,
) -> Result<Model, AutoRestError> {
    let syntax = |format: &'static str, message: String| AutoRestError::ModelSyntax {
        path: path.to_owned(),
        format,
        message,
    };
    let value: Value = if yaml {
        serde_saphyr::from_str(text).map_err(|e| syntax("YAML", e.to_string()))?
    } else {
        serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string()))?
    };
    let Value::Object(top) = value else {
        return Err(syntax(
            if yaml { "YAML" } else { "JSON" },
            "expected an object of tables".into(),
        ));
    };
    let mut model = Model {
        token_uri: None,
        scope: None,
        auth_uri: None,
        device_auth_uri: None,
        entries: Vec::new(),
        ignored: Vec::new(),
    };
    let mut hostname = server_name.map(str::to_owned);
    let mut defaults = TableKeys::default();
    for (key, v) in top.iter().filter(|(k, _)| k.starts_with('#')) {
        if ignored(key, TOP, &mut model.ignored) {
            continue;
        }
        let canon = check_key(key, TOP, &[TOP_KEYS, PAGING_KEYS])?;
        match canon {
            "#tokenuri" => model.token_uri = Some(string(v, TOP, key)?),
            "#scope" => model.scope = Some(string(v, TOP, key)?),
            "#authuri" => model.auth_uri = Some(string(v, TOP, key)?),
            "#deviceauthuri" => model.device_auth_uri = Some(string(v, TOP, key)?),
            "#hostname" => {
                let h = string(v, TOP, key)?;
                hostname.get_or_insert(h);
            }
            _ => defaults.set(canon, key, v, TOP)?,
        }
    }
    for (name, v) in top.iter().filter(|(k, _)| !k.starts_with('#')) {
        let entry = table_entry(name, v, &defaults, hostname.as_deref(), &mut model.ignored)?;
        model.entries.push(entry);
    }
    if !model.ignored.is_empty() {
        tracing::warn!(
            target: connectkit_core::USER_WARNING,
            "model file {path}: ignored {}",
            model.ignored.join("; ")
        );
    }
    Ok(model)
}

/// Whether `key` is a vendor key connectkit ignores; if so it is noted.
fn ignored(key: &str, place: &str, notes: &mut Vec<String>) -> bool {
    let Some((k, what)) = IGNORED_KEYS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
    else {
        return false;
    };
    let place = if place == TOP {
        TOP.to_owned()
    } else {
        format!("table {place}")
    };
    notes.push(format!("{k} at {place} ({what})"));
    true
}

/// Keys a table (or the top level, as defaults) may set.
#[derive(Debug, Default, Clone)]
struct TableKeys {
    paging: Paging,
    /// `#http`, when given.
    http: Option<HttpRules>,
    headers: Vec<(String, String)>,
}

impl TableKeys {
    fn set(&mut self, canon: &str, key: &str, v: &Value, table: &str) -> Result<(), AutoRestError> {
        let p = &mut self.paging;
        let s = || string(v, table, key);
        match canon {
            "#maximumPageSize" => p.max_page_size = Some(number(v, table, key)?),
            "#firstRowNumber" => p.first_row_number = Some(number(v, table, key)?),
            "#firstPageNumber" => p.first_page_number = Some(number(v, table, key)?),
            "#pageSizeParameter" => p.page_size_param = Some(Param::parse(&s()?, "{LIMIT}")),
            "#rowOffsetParameter" => p.row_offset_param = Some(Param::parse(&s()?, "{OFFSET}")),
            "#pageNumberParameter" => p.page_number_param = Some(Param::parse(&s()?, "{PAGE}")),
            "#nextPageParameter" => p.next_page_param = Some(Param::parse(&s()?, "{NEXT}")),
            "#nextPageElement" => p.next_page_element = Some(split_path(&s()?)),
            "#nextPageResponseHeader" => p.next_page_header = Some(s()?),
            "#hasMoreElement" => p.has_more_element = Some(split_path(&s()?)),
            "#totalRowsElement" => p.total_rows_element = Some(split_path(&s()?)),
            "#totalPagesElement" => p.total_pages_element = Some(split_path(&s()?)),
            "#pageSizeElement" => p.page_size_element = Some(split_path(&s()?)),
            "#fieldListParameter" => p.field_list_param = Some(s()?),
            "#http" => self.http = Some(http_rules(v, table)?),
            "#headers" => self.headers = headers(v, table)?,
            _ => unreachable!("check_key returned {canon}"),
        }
        Ok(())
    }
}

/// An endpoint as `#path` gives it.
struct Spec {
    url: String,
    element: Option<Vec<String>>,
    /// Written `POST URL`.
    post: bool,
}

/// `[METHOD ]URL[ /row/element]` → URL template, row path and method.
fn endpoint_spec(text: &str, table: &str, hostname: Option<&str>) -> Result<Spec, AutoRestError> {
    let mut parts = text.split_whitespace().peekable();
    let mut post = false;
    if let Some(m) = parts.peek()
        && (m.eq_ignore_ascii_case("GET") || m.eq_ignore_ascii_case("POST"))
    {
        post = m.eq_ignore_ascii_case("POST");
        parts.next();
    }
    let url = parts
        .next()
        .ok_or_else(|| value_err(table, "#path", "expected a URL"))?;
    let element = parts.next().map(split_path);
    let lower = url.to_ascii_lowercase();
    let url = if lower.starts_with("http://") || lower.starts_with("https://") {
        url.to_owned()
    } else {
        let host = hostname.ok_or_else(|| {
            value_err(
                table,
                "#path",
                "a relative path needs ServerName or #hostname",
            )
        })?;
        let host = if host.contains("://") {
            host.to_owned()
        } else {
            format!("https://{host}")
        };
        format!(
            "{}/{}",
            host.trim_end_matches('/'),
            url.trim_start_matches('/')
        )
    };
    Ok(Spec { url, element, post })
}

fn table_entry(
    name: &str,
    v: &Value,
    defaults: &TableKeys,
    hostname: Option<&str>,
    ignored_keys: &mut Vec<String>,
) -> Result<Entry, AutoRestError> {
    let endpoint = |url: String, keys: TableKeys, post: Option<Value>| {
        let mut headers = defaults.headers.clone();
        headers.extend(keys.headers);
        Arc::new(Endpoint {
            url,
            post,
            headers,
            paging: keys.paging.or(&defaults.paging),
            http: vendor_rules(match (keys.http, &defaults.http) {
                (Some(mine), Some(top)) => Some(mine.or(top)),
                (mine, top) => mine.or_else(|| top.clone()),
            }),
            follow_links: false,
            ..Endpoint::default()
        })
    };
    // A sampled table has no columns to take `{name}` inputs from.
    let sampled = |spec: &Spec, key: &str| match crate::inputs::first_placeholder(&spec.url) {
        Some(p) => Err(value_err(
            name,
            key,
            &format!("{{{p}}} needs a column to fill it: declare the table's columns"),
        )),
        None => Ok(()),
    };
    let obj: &Map<String, Value> = match v {
        Value::String(s) => {
            let spec = endpoint_spec(s, name, hostname)?;
            sampled(&spec, name)?;
            if spec.post {
                return Err(crate::http::post::missing_body(name));
            }
            let post = None;
            return Ok(Entry::Sampled {
                name: name.to_owned(),
                endpoint: endpoint(spec.url, TableKeys::default(), post),
                rows: spec.element.map_or(Rows::Auto, Rows::Path),
            });
        }
        Value::Object(o) => o,
        _ => return Err(value_err(name, name, "expected a URL or an object")),
    };
    let mut keys = TableKeys::default();
    let mut path = None;
    let mut body = None;
    for (key, v) in obj.iter().filter(|(k, _)| k.starts_with('#')) {
        if ignored(key, name, ignored_keys) {
            continue;
        }
        match check_key(key, name, &[TABLE_KEYS, PAGING_KEYS])? {
            "#path" => {
                let texts: Option<Vec<&str>> = match v {
                    Value::Array(a) if !a.is_empty() => a.iter().map(Value::as_str).collect(),
                    Value::String(s) => Some(vec![s.as_str()]),
                    _ => None,
                };
                let texts = texts
                    .ok_or_else(|| value_err(name, key, "expected a URL or a list of URLs"))?;
                let specs = texts
                    .into_iter()
                    .map(|t| endpoint_spec(t, name, hostname))
                    .collect::<Result<Vec<_>, _>>()?;
                path = Some(specs);
            }
            "#post" => body = Some(crate::http::post::parse_body(v, name)?),
            canon => keys.set(canon, key, v, name)?,
        }
    }
    let mut specs = path.ok_or_else(|| value_err(name, "#path", "missing"))?;
    let spec = specs.remove(0);
    let spec_url = Spec {
        url: spec.url.clone(),
        element: None,
        post: false,
    };
    let rows = spec.element.map_or(Rows::Auto, Rows::Path);
    // `#post` makes the request a POST; `POST URL` needs it.
    if spec.post && body.is_none() {
        return Err(crate::http::post::missing_body(name));
    }
    let others: Vec<Arc<Endpoint>> = specs
        .into_iter()
        .map(|other| endpoint(other.url, keys.clone(), body.clone()))
        .collect();
    let endpoint = endpoint(spec.url, keys, body);
    if obj.keys().all(|k| k.starts_with('#')) {
        if !others.is_empty() {
            return Err(value_err(
                name,
                "#path",
                "several endpoints are chosen among by the inputs of the table's columns: declare its columns",
            ));
        }
        sampled(&spec_url, "#path")?;
        return Ok(Entry::Sampled {
            name: name.to_owned(),
            endpoint,
            rows,
        });
    }
    Ok(Entry::Declared(declared_tables_at(
        name, obj, endpoint, others, rows,
    )?))
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;

//! Input parameters: column filters sent to the API.
//!
//! A column declared as an object may name the request parameter that
//! carries a filter on it, one per operator (`#eq`, `#ne`, `#lt`, `#le`,
//! `#gt`, `#ge`, `#in`; `#queryParameter` is `#eq`), a `#default` value sent
//! when no filter gives one, and `#virtual: true` for a column that exists
//! only as a request input (its value in every row is the one sent). A
//! parameter is sent as `{name}` in the path or the POST body when they hold
//! that placeholder, else as a query parameter. A `{name}` in the path that
//! names no parameter is the `#eq` parameter of the column of that name, a
//! virtual `VarChar(255)` one if the file declares none.
//!
//! Filters so sent are reported [`FilterSupport::Exact`]: the API applies
//! them. A placeholder that no filter and no default fills is an error that
//! names it and its column.

use std::sync::Arc;

use connectkit_core::{Filter, FilterOp, FilterSupport, Literal};
use serde_json::{Map, Value};

use crate::error::AutoRestError;
use crate::table::types::SqlType;
use crate::table::{ColumnDef, Endpoint, Source, TableDef};

mod bind;
pub(crate) use bind::{bind_body, bind_path};

/// Paging templates, never inputs.
const RESERVED: &[&str] = &["LIMIT", "OFFSET", "PAGE", "NEXT"];

/// The `{name}` placeholders of `text` (not the paging templates), with
/// their byte ranges.
fn placeholders(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('{').map(|i| rest + i) {
        let Some(close) = text[open..].find('}').map(|i| open + i) else {
            break;
        };
        let name = &text[open + 1..close];
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if ok && !RESERVED.contains(&name) {
            out.push((open, close + 1, name));
            rest = close + 1;
        } else {
            rest = open + 1;
        }
    }
    out
}

/// The first `{name}` input of `text`, if any.
pub(crate) fn first_placeholder(text: &str) -> Option<&str> {
    placeholders(text).first().map(|(_, _, n)| *n)
}

/// The placeholders of a POST body's strings.
fn body_placeholders(body: &Value, out: &mut Vec<String>) {
    match body {
        Value::String(s) => out.extend(placeholders(s).into_iter().map(|(_, _, n)| n.to_owned())),
        Value::Array(items) => items.iter().for_each(|v| body_placeholders(v, out)),
        Value::Object(map) => map.values().for_each(|v| body_placeholders(v, out)),
        _ => {}
    }
}

/// Whether a table takes inputs at all.
pub(crate) fn has_inputs(table: &TableDef) -> bool {
    table.columns.iter().any(|c| c.input.is_some())
}

/// Which filters the API applies, and the values they send.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Per filter, in order.
    pub support: Vec<FilterSupport>,
    /// The filters sent: column index, operator, value.
    sent: Vec<(usize, FilterOp, Literal)>,
}

impl Plan {
    /// The filters the caller must still apply.
    pub fn unapplied(&self, filters: &[Filter]) -> Vec<Filter> {
        filters
            .iter()
            .zip(&self.support)
            .filter(|(_, s)| **s != FilterSupport::Exact)
            .map(|(f, _)| f.clone())
            .collect()
    }
}

/// Decides which `filters` go to the API: a comparison on a column that
/// declares a parameter for its operator, one per column and operator.
pub(crate) fn plan(table: &TableDef, filters: &[Filter]) -> Plan {
    let mut plan = Plan::default();
    for f in filters {
        let exact = f.operands.is_empty()
            && table.column_index(&f.column).is_some_and(|i| {
                let col = &table.columns[i];
                let declared = col.input.as_ref().and_then(|inp| inp.param(f.op));
                let sendable = match (&f.value, f.op) {
                    (Literal::List(items), FilterOp::In) => {
                        !items.is_empty() && items.iter().all(|l| text_of(l, col).is_some())
                    }
                    (Literal::List(_), _) | (_, FilterOp::In) => false,
                    (l, _) => text_of(l, col).is_some(),
                };
                let fresh = !plan.sent.iter().any(|(c, o, _)| *c == i && *o == f.op);
                if declared.is_some() && sendable && fresh {
                    plan.sent.push((i, f.op, f.value.clone()));
                    true
                } else {
                    false
                }
            });
        plan.support.push(if exact {
            FilterSupport::Exact
        } else {
            FilterSupport::Unsupported
        });
    }
    plan
}

/// The table as a scan with `filters` reads it when its `#path` is an array:
/// the first endpoint (the most specific, as the file lists them) all of
/// whose `{inputs}` the filters (or `#default`s) supply, as the vendor
/// chooses. Inputs of the other endpoints only are not sent (their filters
/// are left to the caller). An error names each endpoint's inputs when no
/// endpoint has them all.
pub(crate) fn choose_endpoint(
    table: &Arc<TableDef>,
    filters: &[Filter],
) -> Result<Arc<TableDef>, AutoRestError> {
    if table.alternatives.is_empty() {
        return Ok(table.clone());
    }
    let plan = plan(table, filters);
    // The parameter `name` gets a value: a filter sent on it, or a default.
    let supplied = |name: &str| {
        table.columns.iter().enumerate().any(|(i, c)| {
            c.input.as_ref().is_some_and(|input| {
                input.params.iter().any(|(op, p)| {
                    p == name
                        && (input.default.is_some()
                            || plan.sent.iter().any(|(ci, o, _)| *ci == i && o == op))
                })
            })
        })
    };
    let all: Vec<&Arc<Endpoint>> = std::iter::once(&table.endpoint)
        .chain(&table.alternatives)
        .collect();
    let needs = |e: &Endpoint| -> Vec<String> {
        placeholders(&e.url)
            .into_iter()
            .map(|(_, _, n)| n.to_owned())
            .collect()
    };
    let Some(chosen) = all.iter().find(|e| needs(e).iter().all(|n| supplied(n))) else {
        let column_of = |name: &str| {
            table
                .columns
                .iter()
                .find(|c| {
                    c.input
                        .as_ref()
                        .is_some_and(|i| i.params.iter().any(|(_, p)| p == name))
                })
                .map_or(name.to_owned(), |c| c.name.clone())
        };
        let each: Vec<String> = all
            .iter()
            .map(|e| {
                let shown = e.url.split('?').next().unwrap_or_default();
                let wheres: Vec<String> = needs(e)
                    .iter()
                    .map(|n| format!("{} = <value>", column_of(n)))
                    .collect();
                format!("{shown} needs WHERE {}", wheres.join(" AND "))
            })
            .collect();
        return Err(AutoRestError::NoEndpoint {
            table: table.name.clone(),
            endpoints: each.join("; "),
        });
    };
    let mine = needs(chosen);
    let foreign: Vec<String> = all
        .iter()
        .flat_map(|e| needs(e))
        .filter(|n| !mine.contains(n))
        .collect();
    let mut columns = table.columns.clone();
    for c in &mut columns {
        if let Some(input) = &mut c.input {
            input.params.retain(|(_, p)| !foreign.contains(p));
            if input.params.is_empty() && input.default.is_none() && !input.is_virtual {
                c.input = None;
            }
        }
    }
    let mut def = TableDef::new(
        table.name.clone(),
        Arc::clone(chosen),
        table.rows.clone(),
        table.levels.clone(),
        table.root_key.clone(),
        columns,
    );
    def.watch_new_fields = table.watch_new_fields;
    def.child_arrays = table.child_arrays.clone();
    Ok(Arc::new(def))
}

/// The text a literal is sent as (`None`: not sendable, e.g. NULL).
fn text_of(l: &Literal, col: &ColumnDef) -> Option<String> {
    Some(match l {
        Literal::Null => return None,
        Literal::Bool(b) => b.to_string(),
        Literal::Int(n) => n.to_string(),
        Literal::Float(x) => x.to_string(),
        Literal::String(s) => s.clone(),
        Literal::Decimal { value, scale } => Literal::decimal_text(*value, *scale),
        Literal::Date(days) => crate::table::formats::date_text(*days, col.format.as_ref())?,
        Literal::Timestamp(us) => crate::table::formats::timestamp_text(*us, col.format.as_ref())?,
        Literal::Guid(g) => Literal::guid_text(*g),
        Literal::List(items) => items
            .iter()
            .map(|i| text_of(i, col))
            .collect::<Option<Vec<_>>>()?
            .join(","),
        _ => return None,
    })
}

/// The table as one scan reads it: the plan's values and the defaults in
/// its path, body and query string, and in its virtual columns.
pub(crate) fn apply(table: &Arc<TableDef>, plan: &Plan) -> Result<Arc<TableDef>, AutoRestError> {
    if !has_inputs(table) {
        // Sampled and inferred tables take no inputs (load refuses a
        // `{name}` in their path), so nothing is left to fill here.
        return Ok(table.clone());
    }
    // (parameter, text, column index)
    let mut values: Vec<(String, String, usize)> = Vec::new();
    let mut columns = table.columns.clone();
    for (i, col) in table.columns.iter().enumerate() {
        let Some(input) = &col.input else { continue };
        let mine: Vec<_> = plan.sent.iter().filter(|(c, ..)| *c == i).collect();
        for (_, op, lit) in &mine {
            if let (Some(p), Some(t)) = (input.param(*op), text_of(lit, col)) {
                values.push((p.to_owned(), t, i));
            }
        }
        let eq = mine
            .iter()
            .find(|(_, op, _)| *op == FilterOp::Eq)
            .and_then(|(_, _, l)| text_of(l, col));
        let default = input.default.clone().filter(|_| mine.is_empty());
        if let (Some(d), Some((_, p))) = (&default, input.params.first()) {
            values.push((p.clone(), d.clone(), i));
        }
        if input.is_virtual {
            columns[i].source = Source::Input(eq.or(default));
        }
    }
    let mut endpoint: Endpoint = (*table.endpoint).clone();
    let mut used = vec![false; values.len()];
    let missing = |name: &str| {
        let column = table
            .columns
            .iter()
            .find(|c| {
                c.input
                    .as_ref()
                    .is_some_and(|i| i.params.iter().any(|(_, p)| p == name))
            })
            .map_or(name.to_owned(), |c| c.name.clone());
        AutoRestError::MissingInput {
            table: table.name.clone(),
            input: name.to_owned(),
            column,
        }
    };
    let mut find = |name: &str| -> Option<(String, usize)> {
        let k = values.iter().position(|(p, ..)| p == name)?;
        used[k] = true;
        Some((values[k].1.clone(), values[k].2))
    };
    // The path and query template.
    let mut url = String::new();
    let mut last = 0;
    let query_at = endpoint.url.find('?').unwrap_or(usize::MAX);
    for (start, end, name) in placeholders(&endpoint.url) {
        let (text, _) = find(name).ok_or_else(|| missing(name))?;
        url.push_str(&endpoint.url[last..start]);
        if start > query_at {
            url.extend(url::form_urlencoded::byte_serialize(text.as_bytes()));
        } else {
            url.extend(percent_encoding::utf8_percent_encode(&text, SEGMENT));
        }
        last = end;
    }
    url.push_str(&endpoint.url[last..]);
    // The body: only placeholders that name a parameter (GraphQL text
    // holds braces of its own).
    if let Some(body) = &endpoint.post {
        let mut names = Vec::new();
        body_placeholders(body, &mut names);
        let params: Vec<&str> = table
            .columns
            .iter()
            .filter_map(|c| c.input.as_ref())
            .flat_map(|i| i.params.iter().map(|(_, p)| p.as_str()))
            .collect();
        let mut filled = Vec::new();
        for name in names.iter().filter(|n| params.contains(&n.as_str())) {
            let (text, col) = find(name).ok_or_else(|| missing(name))?;
            filled.push((name.clone(), text, table.columns[col].sql_type));
        }
        endpoint.body_inputs = filled;
    }
    // Everything else goes in the query string.
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, (p, t, _)) in values.iter().enumerate() {
        if !used[k] {
            query.append_pair(p, t);
            any = true;
        }
    }
    if any {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.finish());
    }
    endpoint.url = url;
    let mut def = TableDef::new(
        table.name.clone(),
        Arc::new(endpoint),
        table.rows.clone(),
        table.levels.clone(),
        table.root_key.clone(),
        columns,
    );
    def.watch_new_fields = table.watch_new_fields;
    def.child_arrays = table.child_arrays.clone();
    Ok(Arc::new(def))
}

/// A path segment keeps only unreserved characters (RFC 3986).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `body` with its input placeholders filled: a string that is exactly one
/// placeholder becomes a JSON value of its column's type where the text is
/// one (a number, a boolean), else the text.
pub(crate) fn fill(body: &Value, values: &[(String, String, SqlType)]) -> Value {
    match body {
        Value::String(s) => {
            let found = placeholders(s);
            if let [(0, end, name)] = found.as_slice()
                && *end == s.len()
                && let Some((_, text, t)) = values.iter().find(|(n, ..)| n == name)
            {
                return typed(text, *t);
            }
            let mut out = s.clone();
            for (name, text, _) in values {
                out = out.replace(&format!("{{{name}}}"), text);
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, values)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, values)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

fn typed(text: &str, t: SqlType) -> Value {
    let number = matches!(
        t,
        SqlType::BigInt
            | SqlType::Integer
            | SqlType::SmallInt
            | SqlType::TinyInt
            | SqlType::Double
            | SqlType::Float
            | SqlType::Decimal(..)
    );
    let boolean = matches!(t, SqlType::Boolean | SqlType::Bit);
    if number && let Ok(v @ Value::Number(_)) = serde_json::from_str::<Value>(text) {
        return v;
    }
    if boolean && let Ok(b) = text.parse::<bool>() {
        return Value::Bool(b);
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
#[path = "inputs_tests.rs"]
mod tests;

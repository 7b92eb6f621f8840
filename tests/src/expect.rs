//! Checking a scenario's outcome against its `expect:` section, in a fixed
//! order, stopping at the first difference.

use std::path::Path;

use connectkit_core::Error;
use connectkit_core::arrow_schema::SchemaRef;
use serde_json::Value;

use crate::check::{
    compare_columns, compare_request, compare_rows, error_kind, kind_matches, type_name,
};
use crate::mock::Servers;
use crate::scenario::Scenario;

/// What the operations produced.
#[derive(Default)]
pub(crate) struct Produced {
    pub tables: Option<Vec<String>>,
    pub schemas: Vec<(String, SchemaRef)>,
    pub rows: Option<Vec<Value>>,
    /// The columns of the last scan's unapplied filters.
    pub unapplied: Option<Vec<String>>,
}

pub(crate) async fn check(
    s: &Scenario,
    servers: &Servers,
    result: Result<(), Error>,
    produced: &Produced,
    vars: &[(&str, &str)],
) -> Result<(), String> {
    let e = &s.file.expect;
    match (&result, &e.error) {
        (Ok(()), Some(want)) => return Err(format!("error: expected {want}, received success")),
        (Err(err), None) => {
            return Err(format!(
                "error: expected success, received {}: {}",
                error_kind(err),
                connectkit_core::Report(err)
            ));
        }
        (Err(err), Some(want)) => {
            let kind = error_kind(err);
            if !kind_matches(want, &kind) {
                return Err(format!(
                    "error: expected {want}, received {kind}: {}",
                    connectkit_core::Report(err)
                ));
            }
            if let Some(text) = &e.error_contains {
                // What the user reads: the error and its causes.
                let shown = connectkit_core::Report(err).to_string();
                if !shown.contains(text.as_str()) {
                    return Err(format!(
                        "error message: expected to contain {text:?}, received {shown}"
                    ));
                }
            }
        }
        (Ok(()), None) => {}
    }
    if let Some(want) = &e.tables {
        let have = produced.tables.clone().unwrap_or_default();
        if *want != have {
            return Err(format!("tables: expected {want:?}, received {have:?}"));
        }
    }
    for (table, cols) in &e.columns {
        let Some((_, schema)) = produced.schemas.iter().rev().find(|(n, _)| n == table) else {
            return Err(format!(
                "columns of {table}: no tables or schema operation described it"
            ));
        };
        if let Some(d) = compare_columns(table, cols, schema) {
            return Err(d);
        }
    }
    for (table, types) in &e.column_types {
        let Some((_, schema)) = produced.schemas.iter().rev().find(|(n, _)| n == table) else {
            return Err(format!(
                "column_types of {table}: no tables or schema operation described it"
            ));
        };
        for (column, want) in types {
            let Some(f) = schema.fields().iter().find(|f| f.name() == column) else {
                let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
                return Err(format!(
                    "column_types of {table}: expected a column {column}, received {names:?}"
                ));
            };
            let have = type_name(f);
            if have != *want {
                return Err(format!(
                    "column_types of {table}.{column}: expected {want}, received {have}"
                ));
            }
        }
    }
    let want_rows = match (&e.rows, &e.rows_file) {
        (Some(r), _) => Some(r.clone()),
        (None, Some(f)) => Some(rows_file(&s.path, f)?),
        (None, None) => None,
    };
    if let Some(want) = want_rows {
        let have = produced.rows.as_deref().unwrap_or_default();
        if let Some(d) = compare_rows(&want, have) {
            return Err(d);
        }
    }
    if let Some(want) = &e.unapplied_filters {
        let have = produced.unapplied.clone().unwrap_or_default();
        if *want != have {
            return Err(format!(
                "unapplied_filters: expected {want:?}, received {have:?}"
            ));
        }
    }
    if let Some(n) = e.row_count {
        let have = produced.rows.as_ref().map_or(0, Vec::len);
        if n != have {
            return Err(format!("row_count: expected {n}, received {have}"));
        }
    }
    let token = servers.token_requests();
    if let Some(n) = e.token_requests
        && n != token.len()
    {
        return Err(format!(
            "token_requests: expected {n}, received {}",
            token.len()
        ));
    }
    for (i, want) in e.token_request.iter().enumerate() {
        let Some(r) = token.get(i) else {
            return Err(format!(
                "token_request[{i}]: expected a request, received none"
            ));
        };
        if let Some(d) = compare_request(want, r, vars) {
            return Err(format!("token_request[{i}] {d}"));
        }
    }
    if let Some(want) = &e.every_token_request {
        for (i, r) in token.iter().enumerate() {
            if let Some(d) = compare_request(want, r, vars) {
                return Err(format!("token_request[{i}] {d}"));
            }
        }
    }
    let routes = servers.route_requests();
    for (name, want) in &e.api {
        let got = routes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_slice())
            .unwrap_or_default();
        if let Some(n) = want.requests
            && n != got.len()
        {
            return Err(format!(
                "api {name} requests: expected {n}, received {}",
                got.len()
            ));
        }
        for (i, w) in want.received.iter().enumerate() {
            let Some(r) = got.get(i) else {
                return Err(format!(
                    "api {name}[{i}]: expected a request, received none"
                ));
            };
            if let Some(d) = compare_request(w, r, vars) {
                return Err(format!("api {name}[{i}] {d}"));
            }
        }
        if let Some(w) = &want.every {
            for (i, r) in got.iter().enumerate() {
                if let Some(d) = compare_request(w, r, vars) {
                    return Err(format!("api {name}[{i}] {d}"));
                }
            }
        }
    }
    if !s.file.allow_unmatched
        && let Some(r) = servers.unmatched_api_requests().await.first()
    {
        let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(format!(
            "api: received {} {}{}{} which no route matches",
            r.method,
            r.path,
            if q.is_empty() { "" } else { "?" },
            q.join("&")
        ));
    }
    Ok(())
}

fn rows_file(scenario: &Path, file: &str) -> Result<Vec<Value>, String> {
    let p = scenario.parent().unwrap_or(Path::new(".")).join(file);
    let text = std::fs::read_to_string(&p)
        .map_err(|e| format!("expect.rows_file {}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("expect.rows_file {}: {e}", p.display()))
}

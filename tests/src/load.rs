//! Loading scenario files: parsing with errors that name the file and the
//! field, operations, ids, and the `{{token_server}}` / `{{api_server}}` /
//! `{{model_file}}` placeholders.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scenario::{Route, ScenarioFile, scalar};

/// One operation of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// List the tables (and fetch each one's schema).
    Tables,
    /// Fetch one table's schema.
    Schema(String),
    /// Scan a table.
    Scan {
        /// The table.
        table: String,
        /// The projection.
        columns: Option<Vec<String>>,
        /// The row limit.
        limit: Option<usize>,
        /// `where: {column: value}`: equality filters.
        filters: Vec<(String, Value)>,
    },
}

/// A loaded, checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `<suite>/<file stem>`.
    pub id: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The URL's subprotocol: the connector under test.
    pub connector: String,
    /// The parsed operations.
    pub operations: Vec<Operation>,
    /// The file's content.
    pub file: ScenarioFile,
}

/// A scenario file that could not be loaded: names the file and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// The field at fault, and why.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ScenarioError {}

const OP_FORMS: &str =
    r#"expected "tables", "schema T", "scan T" or {scan: T, columns: [..], limit: N}"#;

fn operation(v: &Value, i: usize) -> Result<Operation, String> {
    let err = |detail: &str| format!("field operations[{i}]: {detail}{OP_FORMS}");
    match v {
        Value::String(s) => {
            let mut words = s.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("tables"), None, _) => Ok(Operation::Tables),
                (Some("schema"), Some(t), None) => Ok(Operation::Schema(t.into())),
                (Some("scan"), Some(t), None) => Ok(Operation::Scan {
                    table: t.into(),
                    columns: None,
                    limit: None,
                    filters: Vec::new(),
                }),
                _ => Err(err(&format!("{s:?}: "))),
            }
        }
        Value::Object(m) => {
            if let Some(t) = m.get("schema").and_then(Value::as_str)
                && m.len() == 1
            {
                return Ok(Operation::Schema(t.into()));
            }
            let Some(table) = m.get("scan").and_then(Value::as_str) else {
                return Err(err(""));
            };
            if let Some(k) = m
                .keys()
                .find(|k| !["scan", "columns", "limit", "where"].contains(&k.as_str()))
            {
                return Err(err(&format!("unknown key {k:?}; ")));
            }
            let columns = match m.get("columns") {
                None => None,
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .map(|c| c.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| err("columns must be a list of names; "))?,
                ),
                Some(_) => return Err(err("columns must be a list of names; ")),
            };
            let limit = match m.get("limit") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| err("limit must be a whole number; "))?
                        as usize,
                ),
            };
            let filters = match m.get("where") {
                None => Vec::new(),
                Some(Value::Object(w)) => w.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                Some(_) => return Err(err("where must be an object of column: value; ")),
            };
            Ok(Operation::Scan {
                table: table.into(),
                columns,
                limit,
                filters,
            })
        }
        _ => Err(err("")),
    }
}

/// The subprotocol of a connection URL, placeholders and all.
pub fn subprotocol(url: &str) -> Option<String> {
    let s = url.trim();
    let s = s
        .get(..16)
        .filter(|p| p.eq_ignore_ascii_case("jdbc:datadirect:"))
        .map_or(s, |_| &s[16..]);
    let (sub, _) = s.split_once(':')?;
    let sub = sub.trim();
    (!sub.is_empty()
        && sub
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then(|| sub.to_ascii_lowercase())
}

impl Scenario {
    /// Parses scenario text; `path` names it in errors and gives its id.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let fail = |message: String| ScenarioError {
            path: path.to_owned(),
            message,
        };
        // The parser's first line names the line, column and field; the rest is a snippet.
        let file: ScenarioFile = serde_saphyr::from_str(text).map_err(|e| {
            let shown = e.to_string();
            let first = shown.lines().next().unwrap_or_default();
            fail(first.trim_start_matches("error: ").to_owned())
        })?;
        if file.url.is_empty() == file.urls.is_empty() {
            return Err(fail("give exactly one of the fields url and urls".into()));
        }
        let first_url = file.urls.values().next().unwrap_or(&file.url);
        let connector = subprotocol(first_url).ok_or_else(|| {
            fail("field url: expected `jdbc:datadirect:<subprotocol>:<properties>`".into())
        })?;
        let operations = file
            .operations
            .iter()
            .enumerate()
            .map(|(i, v)| operation(v, i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        if operations.is_empty() {
            return Err(fail(
                "field operations: expected at least one operation".into(),
            ));
        }
        if file.repeat == 0 {
            return Err(fail("field repeat: expected 1 or more".into()));
        }
        if file.token.as_ref().is_some_and(|t| t.responses.is_empty()) {
            return Err(fail(
                "field token.responses: expected at least one response".into(),
            ));
        }
        for (i, r) in file.api.iter().enumerate() {
            if r.responses.is_empty() {
                return Err(fail(format!(
                    "field api[{i}].responses: expected at least one response"
                )));
            }
            if !r.path.starts_with('/') {
                return Err(fail(format!(
                    "field api[{i}].path: expected a path starting with /"
                )));
            }
        }
        let names: Vec<String> = file.api.iter().map(Route::display_name).collect();
        if let Some(n) = file.expect.api.keys().find(|n| !names.contains(n)) {
            return Err(fail(format!(
                "field expect.api.{n}: no route has this name; routes: {}",
                names.join(", ")
            )));
        }
        for (table, cols) in &file.expect.columns {
            for (i, c) in cols.iter().enumerate() {
                let ok = match c {
                    Value::String(_) => true,
                    Value::Object(m) => m.len() == 1 && m.values().all(|v| scalar(v).is_some()),
                    _ => false,
                };
                if !ok {
                    return Err(fail(format!(
                        "field expect.columns.{table}[{i}]: expected `name` or `{{name: Type}}` (quote a type holding a comma: \"Decimal(10,2)\")"
                    )));
                }
            }
        }
        if first_url.contains("{{model_file}}") && file.model.is_none() {
            return Err(fail(
                "field model: the url uses {{model_file}} but no model is given".into(),
            ));
        }
        Ok(Scenario {
            id: scenario_id(path),
            path: path.to_owned(),
            connector,
            operations,
            file,
        })
    }

    /// Reads and parses one scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_owned(),
            message: format!("cannot read: {e}"),
        })?;
        Scenario::parse(path, &text)
    }

    /// Reads one scenario file: one scenario, or one per connector when the
    /// file gives `urls`.
    pub fn load_all(path: &Path) -> Vec<Result<Scenario, ScenarioError>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                return vec![Err(ScenarioError {
                    path: path.to_owned(),
                    message: format!("cannot read: {e}"),
                })];
            }
        };
        let urls = match serde_saphyr::from_str::<ScenarioFile>(&text) {
            Ok(f) if !f.urls.is_empty() => f.urls,
            _ => return vec![Scenario::parse(path, &text)],
        };
        urls.into_iter()
            .map(|(connector, url)| {
                let mut s = Scenario::parse(path, &text)?;
                if subprotocol(&url).as_deref() != Some(connector.as_str()) {
                    return Err(ScenarioError {
                        path: path.to_owned(),
                        message: format!(
                            "field urls.{connector}: expected a `jdbc:datadirect:{connector}:...` URL"
                        ),
                    });
                }
                s.id = format!("{}[{connector}]", s.id);
                s.connector = connector;
                s.file.url = url;
                Ok(s)
            })
            .collect()
    }
}

/// `<suite>/<file stem>`: the parent directory's name and the file's stem.
pub fn scenario_id(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    match path.parent().and_then(Path::file_name) {
        Some(suite) => format!("{}/{stem}", suite.to_string_lossy()),
        None => stem.into_owned(),
    }
}

/// Every `*.yaml` / `*.yml` file under `root`, sorted.
pub fn scenario_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Replaces the placeholders in `text`.
pub fn substitute(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// Replaces the placeholders in every string of `v`.
pub fn substitute_value(v: &mut Value, vars: &[(&str, &str)]) {
    match v {
        Value::String(s) => *s = substitute(s, vars),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute_value(x, vars)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute_value(x, vars)),
        _ => {}
    }
}

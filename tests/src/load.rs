//! Loading scenario files: parsing with errors that name the file and the
//! field, operations, ids, and the `{{token_server}}` / `{{api_server}}` /
//! `{{model_file}}` placeholders.

use std::fmt;
use std::path::{Path, PathBuf};

use connectkit_core::{Filter, FilterOp, Literal};
use serde_json::Value;

use crate::scenario::{Route, ScenarioFile, scalar};
use crate::shared::SharedTable;

/// One operation of a scenario.
#[derive(Debug, Clone, PartialEq)]
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
        /// `where: {column: value}` (equality) and `filter: {column, op, value}`
        /// (or a list of them): the scan request's filters, in that order.
        filters: Vec<Filter>,
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

const OP_FORMS: &str = r#"expected "tables", "schema T", "scan T" or {scan: T, columns: [..], limit: N, where: {column: value}, filter: {column: C, op: OP, value: V}}"#;

/// The `op` of a `filter:` and the filter operator it stands for.
const FILTER_OPS: [(&str, FilterOp); 9] = [
    ("eq", FilterOp::Eq),
    ("ne", FilterOp::Ne),
    ("gt", FilterOp::Gt),
    ("ge", FilterOp::Ge),
    ("lt", FilterOp::Lt),
    ("le", FilterOp::Le),
    ("in", FilterOp::In),
    ("starts_with", FilterOp::StartsWith),
    ("contains", FilterOp::Contains),
];

/// A scenario value as a filter literal: booleans, numbers, text, `~` and lists.
pub fn literal(value: &Value) -> Literal {
    match value {
        Value::Bool(b) => Literal::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Literal::Int(i),
            None => Literal::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Literal::String(s.clone()),
        Value::Array(a) => Literal::List(a.iter().map(literal).collect()),
        _ => Literal::Null,
    }
}

/// One `filter:` entry: `{column: C, op: eq, value: V}` (`op` defaults to `eq`).
fn filter(v: &Value) -> Result<Filter, String> {
    let forms = "filter must be {column: C, op: OP, value: V} or a list of them, OP one of eq, ne, gt, ge, lt, le, in, starts_with, contains; ";
    let Value::Object(m) = v else {
        return Err(forms.into());
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["column", "op", "value"].contains(&k.as_str()))
    {
        return Err(format!("filter: unknown key {k:?}; {forms}"));
    }
    let column = m
        .get("column")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("filter.column missing; {forms}"))?;
    let op = match m.get("op") {
        None => FilterOp::Eq,
        Some(o) => {
            let name = o.as_str().unwrap_or_default();
            FILTER_OPS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, op)| *op)
                .ok_or_else(|| format!("filter.op {o}: {forms}"))?
        }
    };
    let value = m
        .get("value")
        .ok_or_else(|| format!("filter.value missing; {forms}"))?;
    let list = matches!(value, Value::Array(_));
    if list != (op == FilterOp::In) {
        return Err(format!(
            "filter.value: a list goes with op in, and only with it; {forms}"
        ));
    }
    Ok(Filter::new(column, op, literal(value)))
}

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
                .find(|k| !["scan", "columns", "limit", "where", "filter"].contains(&k.as_str()))
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
            let mut filters: Vec<Filter> = match m.get("where") {
                None => Vec::new(),
                Some(Value::Object(w)) => w
                    .iter()
                    .map(|(k, v)| Filter::new(k.clone(), FilterOp::Eq, literal(v)))
                    .collect(),
                Some(_) => return Err(err("where must be an object of column: value; ")),
            };
            match m.get("filter") {
                None => {}
                Some(Value::Array(a)) => {
                    for f in a {
                        filters.push(filter(f).map_err(|d| err(&d))?);
                    }
                }
                Some(f) => filters.push(filter(f).map_err(|d| err(&d))?),
            }
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
    /// Parses scenario text; `path` names it in errors and gives its id. A
    /// shared scenario (`shared: true`) needs a connector's declaration:
    /// [`Scenario::load_all`] plays it once per declaration.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let file = parse_file(path, text)?;
        if file.shared {
            return Err(ScenarioError {
                path: path.to_owned(),
                message: format!(
                    "field shared: a shared scenario runs once per connector's {} (Scenario::load_all)",
                    crate::shared::SHARED_TABLE_FILE
                ),
            });
        }
        Scenario::from_file(path, file)
    }

    /// Checks a parsed scenario file.
    fn from_file(path: &Path, file: ScenarioFile) -> Result<Scenario, ScenarioError> {
        let fail = |message: String| ScenarioError {
            path: path.to_owned(),
            message,
        };
        if file.url.is_empty() == file.urls.is_empty() {
            return Err(fail(
                "give exactly one of the fields url, urls and shared: true".into(),
            ));
        }
        if file.unreachable_api {
            return Err(fail(
                "field unreachable_api: only in a shared scenario (write {{dead_server}} in the url)"
                    .into(),
            ));
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
            if let Some(j) = r.responses.iter().position(|x| x.rows.is_some()) {
                return Err(fail(format!(
                    "field api[{i}].responses[{j}].rows: only in a shared scenario (give json)"
                )));
            }
            if let Some(j) = r.responses.iter().position(|x| x.next_page.is_some()) {
                return Err(fail(format!(
                    "field api[{i}].responses[{j}].next_page: only in a shared scenario with rows"
                )));
            }
            if r.page.is_some() {
                return Err(fail(format!(
                    "field api[{i}].page: only in a shared scenario (give query)"
                )));
            }
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
            Ok(f) if f.shared => return Scenario::shared(path, &text),
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

    /// A shared scenario, once per connector declaring a shared table beside
    /// the scenario's suite (`<root>/<connector>/shared_table.yaml`, the
    /// scenario being `<root>/<suite>/<name>.yaml`), except pending ones.
    fn shared(path: &Path, text: &str) -> Vec<Result<Scenario, ScenarioError>> {
        let root = path
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."));
        let mut out = Vec::new();
        for (connector, decl) in crate::shared::declarations(root) {
            let table = match SharedTable::load(&decl, &connector) {
                Ok(t) if t.pending.is_some() => continue,
                Ok(t) => t,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            let expanded = crate::shared::expand(text, &table, &connector);
            let one = parse_file(path, &expanded).and_then(|mut file| {
                file.url = table.url(file.unreachable_api);
                file.unreachable_api = false;
                file.shared = false;
                let mut api = table.setup.clone();
                api.append(&mut file.api);
                table
                    .fill_pages(&mut api)
                    .map_err(|message| ScenarioError {
                        path: path.to_owned(),
                        message: format!(
                            "{message} ({connector}/{})",
                            crate::shared::SHARED_TABLE_FILE
                        ),
                    })?;
                file.api = api;
                let mut s = Scenario::from_file(path, file)?;
                s.id = format!("{}[{connector}]", s.id);
                Ok(s)
            });
            out.push(one);
        }
        if out.is_empty() {
            out.push(Err(ScenarioError {
                path: path.to_owned(),
                message: format!(
                    "field shared: no connector declares a shared table ({}/*/{})",
                    root.display(),
                    crate::shared::SHARED_TABLE_FILE
                ),
            }));
        }
        out
    }
}

/// Parses scenario text into its serde form; errors name the line and field.
fn parse_file(path: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
    // The parser's first line names the line, column and field; the rest is a snippet.
    serde_saphyr::from_str(text).map_err(|e| {
        let shown = e.to_string();
        let first = shown.lines().next().unwrap_or_default();
        ScenarioError {
            path: path.to_owned(),
            message: first.trim_start_matches("error: ").to_owned(),
        }
    })
}

/// `<suite>/<file stem>`: the parent directory's name and the file's stem.
pub fn scenario_id(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    match path.parent().and_then(Path::file_name) {
        Some(suite) => format!("{}/{stem}", suite.to_string_lossy()),
        None => stem.into_owned(),
    }
}

/// Every `*.yaml` / `*.yml` scenario file under `root`, sorted (connectors'
/// `shared_table.yaml` declarations are not scenarios).
pub fn scenario_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && p.file_name()
                    .is_none_or(|n| n != crate::shared::SHARED_TABLE_FILE)
            {
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

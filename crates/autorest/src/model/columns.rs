//! Declared columns of a model-file table: `"name": "Type,#key,#notNull"`,
//! nested objects flattened with `_`, and `name[]` child tables.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::AutoRestError;
use crate::keys::{check_key, value_err};
use crate::table::formats::{self, Format};
use crate::table::types::SqlType;
use crate::table::{
    ChildAt, ChildScope, ColumnDef, ColumnInput, Endpoint, INPUT_KEYS, Rows, Source, TableDef,
};

/// A `name[]` entry: a child table of objects, or of scalars of one type.
enum Child<'a> {
    Objects(&'a Map<String, Value>),
    Scalars(SqlType),
}

/// The table `name` and its child tables, from its column entries.
#[cfg(test)]
pub(crate) fn declared_tables(
    name: &str,
    obj: &Map<String, Value>,
    endpoint: Arc<Endpoint>,
    rows: Rows,
) -> Result<Vec<TableDef>, AutoRestError> {
    declared_tables_at(name, obj, endpoint, Vec::new(), rows)
}

/// The table `name` and its child tables, reading `endpoint`, or one of
/// `others` (the rest of a `#path` array) when a scan's inputs choose it.
pub(crate) fn declared_tables_at(
    name: &str,
    obj: &Map<String, Value>,
    endpoint: Arc<Endpoint>,
    others: Vec<Arc<Endpoint>>,
    rows: Rows,
) -> Result<Vec<TableDef>, AutoRestError> {
    let mut columns = Vec::new();
    let mut children = Vec::new();
    fields(name, obj, &[], &mut columns, &mut children)?;
    crate::inputs::bind_path(&mut columns, &endpoint);
    for other in &others {
        crate::inputs::bind_path(&mut columns, other);
    }
    let endpoint = if endpoint.post.is_some() {
        let mut ep = (*endpoint).clone();
        crate::inputs::bind_body(&mut columns, &mut ep);
        Arc::new(ep)
    } else {
        endpoint
    };
    let key = columns.iter().find(|c| c.key).cloned();
    let root_key = key.as_ref().and_then(|k| match &k.source {
        Source::Field(p) => Some(p.clone()),
        _ => None,
    });
    let id = match &key {
        Some(k) => (format!("{name}_{}", k.name), k.sql_type),
        None => (format!("{name}_position"), SqlType::BigInt),
    };
    // Child tables read the same requests, so they take the same inputs:
    // each as a virtual column holding the value sent.
    let inputs: Vec<ColumnDef> = columns
        .iter()
        .filter(|c| c.input.is_some())
        .map(|c| {
            let mut v = col(&c.name, c.sql_type, Source::Input(None), false);
            v.format = c.format.clone();
            v.input = c.input.clone().map(|mut i| {
                i.is_virtual = true;
                i
            });
            v
        })
        .collect();
    let mut out = vec![TableDef::new(
        name.to_owned(),
        endpoint.clone(),
        rows.clone(),
        Vec::new(),
        None,
        columns,
    )];
    let scope = ChildScope {
        endpoint: &endpoint,
        rows: &rows,
        root_key,
        enforce_len: true,
    };
    for (field, path, child) in children {
        let at = ChildAt::top(name, &field, path, id.clone());
        child_table(&scope, at, child, &inputs, &mut out)?;
    }
    for t in &mut out {
        t.alternatives = others.clone();
    }
    Ok(out)
}

fn child_table(
    scope: &ChildScope<'_>,
    at: ChildAt,
    child: Child<'_>,
    inputs: &[ColumnDef],
    out: &mut Vec<TableDef>,
) -> Result<(), AutoRestError> {
    let mut columns = scope.key_columns(&at);
    let mut children = Vec::new();
    match child {
        Child::Objects(obj) => fields(&at.name, obj, &[], &mut columns, &mut children)?,
        Child::Scalars(t) => {
            columns.push(col("value", t, Source::Field(vec!["value".into()]), false))
        }
    }
    for input in inputs {
        if !columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&input.name))
        {
            columns.push(input.clone());
        }
    }
    out.push(scope.table(&at, columns));
    for (field, path, grandchild) in children {
        child_table(scope, at.child(&field, path), grandchild, inputs, out)?;
    }
    Ok(())
}

/// A model-file column: declared lengths are enforced.
fn col(name: &str, t: SqlType, source: Source, not_null: bool) -> ColumnDef {
    ColumnDef::new(name, t, source, not_null, true)
}

type Children<'a> = Vec<(String, Vec<String>, Child<'a>)>;

fn fields<'a>(
    table: &str,
    obj: &'a Map<String, Value>,
    prefix: &[String],
    columns: &mut Vec<ColumnDef>,
    children: &mut Children<'a>,
) -> Result<(), AutoRestError> {
    for (key, v) in obj {
        if key.starts_with('#') {
            if prefix.is_empty() {
                continue; // table keys, checked by the caller
            }
            check_key(key, table, &[])?;
        }
        let (field, is_array) = match key.strip_suffix("[]") {
            Some(f) => (f, true),
            None => (key.as_str(), false),
        };
        let mut path = prefix.to_vec();
        path.push(field.to_owned());
        let name = path.join("_");
        match (v, is_array) {
            (Value::Object(inner), false)
                if inner.keys().any(|k| k.eq_ignore_ascii_case("#type")) =>
            {
                columns.push(column_object(inner, table, key, path, &name)?);
            }
            (Value::Object(inner), false) => fields(table, inner, &path, columns, children)?,
            (Value::Object(inner), true) => children.push((name, path, Child::Objects(inner))),
            (Value::String(spec), true) => {
                let spec = column_spec(spec, table, key)?;
                children.push((name, path, Child::Scalars(spec.t)));
            }
            (Value::String(spec), false) => {
                let spec = column_spec(spec, table, key)?;
                let mut c = col(
                    &name,
                    spec.t,
                    Source::Field(path),
                    spec.not_null || spec.key,
                );
                c.key = spec.key;
                c.format = spec.format;
                columns.push(c);
            }
            _ => {
                return Err(value_err(
                    table,
                    key,
                    "expected a type such as VarChar(64), or an object",
                ));
            }
        }
    }
    Ok(())
}

/// A column's declaration: `Type[,<date pattern>][,#key][,#notNull]`,
/// `#epochSeconds` or `#epochMillis` for numbers since the epoch.
struct Spec {
    t: SqlType,
    key: bool,
    not_null: bool,
    format: Option<Format>,
}

const MODIFIERS: &[&str] = &["#key", "#notNull", "#epochSeconds", "#epochMillis"];

fn column_spec(spec: &str, table: &str, key: &str) -> Result<Spec, AutoRestError> {
    let spec = spec.trim();
    // The type ends at its closing parenthesis, else at the first comma.
    let comma = spec.find(',').unwrap_or(spec.len());
    let end = match spec.find('(') {
        Some(open) if open < comma => spec[open..].find(')').map_or(spec.len(), |c| open + c + 1),
        _ => comma,
    };
    // `Integer #key`: a modifier may follow the type without a comma.
    let end = spec[..end].find('#').unwrap_or(end);
    let type_text = spec[..end].trim();
    let t = SqlType::parse(type_text).ok_or_else(|| {
        value_err(table, key, &format!("unknown type {type_text:?}; known: BigInt, Bit, Boolean, Char, Date, Decimal, Double, Float, GUID, Integer, JSON, LongVarChar, NVarChar, SmallInt, Time, Timestamp, TinyInt, VarChar"))
    })?;
    let mut out = Spec {
        t,
        key: false,
        not_null: false,
        format: None,
    };
    let rest = spec[end..].trim().strip_prefix(',').unwrap_or(&spec[end..]);
    let mut parts: Vec<&str> = if rest.trim().is_empty() {
        Vec::new()
    } else {
        rest.split(',').collect()
    };
    // Modifiers come before or after the pattern, which may hold commas.
    let mut mods = Vec::new();
    while parts.first().is_some_and(|p| p.trim().starts_with('#')) {
        mods.push(parts.remove(0).trim());
    }
    while parts.last().is_some_and(|p| p.trim().starts_with('#')) {
        mods.extend(parts.pop().map(str::trim));
    }
    let dated = matches!(t, SqlType::Date | SqlType::Time | SqlType::Timestamp);
    let mods: Vec<&str> = mods.iter().flat_map(|m| m.split_whitespace()).collect();
    for m in mods {
        match check_key(m, table, &[MODIFIERS])? {
            "#key" => out.key = true,
            "#notNull" => out.not_null = true,
            epoch if dated => {
                out.format = Some(if epoch == "#epochSeconds" {
                    Format::EpochSeconds
                } else {
                    Format::EpochMillis
                });
            }
            epoch => {
                return Err(value_err(
                    table,
                    key,
                    &format!("{epoch} needs a Date, Time or Timestamp column"),
                ));
            }
        }
    }
    let pattern = parts.join(",");
    let pattern = pattern.trim();
    if !pattern.is_empty() {
        if !dated {
            return Err(value_err(
                table,
                key,
                &format!("a format {pattern:?} needs a Date, Time or Timestamp column"),
            ));
        }
        let f = formats::pattern(pattern)
            .map_err(|why| value_err(table, key, &format!("date pattern {pattern:?}: {why}")))?;
        out.format = Some(f);
    }
    Ok(out)
}

/// A column declared as an object: `{"#type": ..., "#eq": "param", ...}`.
fn column_object(
    obj: &Map<String, Value>,
    table: &str,
    key: &str,
    path: Vec<String>,
    name: &str,
) -> Result<ColumnDef, AutoRestError> {
    let mut spec = None;
    let (mut is_key, mut not_null) = (false, false);
    let mut input = ColumnInput::default();
    let flag = |v: &Value, k: &str| {
        v.as_bool()
            .ok_or_else(|| value_err(table, k, "expected true or false"))
    };
    for (k, v) in obj {
        match check_key(k, table, &[&["#type", "#key", "#notNull"], INPUT_KEYS])? {
            "#type" => {
                let text = v.as_str().ok_or_else(|| {
                    value_err(table, key, "#type: expected a type such as VarChar(64)")
                })?;
                spec = Some(column_spec(text, table, key)?);
            }
            "#key" => is_key = flag(v, k)?,
            "#notNull" => not_null = flag(v, k)?,
            canon => input.set(canon, v, table)?,
        }
    }
    let spec = spec.ok_or_else(|| value_err(table, key, "a column object needs #type"))?;
    // A custom query parameter (JQL, SOQL...) is a request input, not a
    // field of the response, unless the file says otherwise.
    let has = |name: &str| obj.keys().any(|k| k.eq_ignore_ascii_case(name));
    if has("#queryParameter") && !has("#virtual") {
        input.is_virtual = true;
    }
    let source = if input.is_virtual {
        Source::Input(None)
    } else {
        Source::Field(path)
    };
    let is_key = is_key || spec.key;
    let mut c = col(name, spec.t, source, not_null || spec.not_null || is_key);
    c.key = is_key;
    c.format = spec.format;
    c.input = Some(input);
    Ok(c)
}

#[cfg(test)]
#[path = "columns_tests.rs"]
mod tests;

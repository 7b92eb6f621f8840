//! Declared columns of a model-file table: `"name": "Type,#key,#notNull"`,
//! nested objects flattened with `_`, and `name[]` child tables.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::AutoRestError;
use crate::keys::{check_key, value_err};
use crate::table::{ChildAt, ChildScope, ColumnDef, Endpoint, Rows, Source, TableDef};
use crate::types::SqlType;

/// A `name[]` entry: a child table of objects, or of scalars of one type.
enum Child<'a> {
    Objects(&'a Map<String, Value>),
    Scalars(SqlType),
}

/// The table `name` and its child tables, from its column entries.
pub(crate) fn declared_tables(
    name: &str,
    obj: &Map<String, Value>,
    endpoint: Arc<Endpoint>,
    rows: Rows,
) -> Result<Vec<TableDef>, AutoRestError> {
    let mut columns = Vec::new();
    let mut children = Vec::new();
    fields(name, obj, &[], &mut columns, &mut children)?;
    let key = columns.iter().find(|c| c.key).cloned();
    let root_key = key.as_ref().and_then(|k| match &k.source {
        Source::Field(p) => Some(p.clone()),
        _ => None,
    });
    let id = match &key {
        Some(k) => (format!("{name}_{}", k.name), k.sql_type),
        None => (format!("{name}_position"), SqlType::BigInt),
    };
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
        child_table(&scope, at, child, &mut out)?;
    }
    Ok(out)
}

fn child_table(
    scope: &ChildScope<'_>,
    at: ChildAt,
    child: Child<'_>,
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
    out.push(scope.table(&at, columns));
    for (field, path, grandchild) in children {
        child_table(scope, at.child(&field, path), grandchild, out)?;
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
            (Value::Object(inner), false) => fields(table, inner, &path, columns, children)?,
            (Value::Object(inner), true) => children.push((name, path, Child::Objects(inner))),
            (Value::String(spec), true) => {
                let (t, _, _) = column_spec(spec, table, key)?;
                children.push((name, path, Child::Scalars(t)));
            }
            (Value::String(spec), false) => {
                let (t, key_mod, not_null) = column_spec(spec, table, key)?;
                let mut c = col(&name, t, Source::Field(path), not_null || key_mod);
                c.key = key_mod;
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

/// `Type[,#key][,#notNull]` → type, key, not null.
fn column_spec(spec: &str, table: &str, key: &str) -> Result<(SqlType, bool, bool), AutoRestError> {
    let (type_text, mods) = match spec.find('#') {
        Some(i) => (spec[..i].trim().trim_end_matches(',').trim(), &spec[i..]),
        None => (spec.trim(), ""),
    };
    let t = SqlType::parse(type_text).ok_or_else(|| {
        value_err(table, key, &format!("unknown type {type_text:?}; known: BigInt, Bit, Boolean, Char, Date, Decimal, Double, Float, GUID, Integer, JSON, LongVarChar, NVarChar, SmallInt, Time, Timestamp, TinyInt, VarChar"))
    })?;
    let (mut is_key, mut not_null) = (false, false);
    for m in mods.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        match check_key(m, table, &[&["#key", "#notNull"]])? {
            "#key" => is_key = true,
            _ => not_null = true,
        }
    }
    Ok((t, is_key, not_null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::Paging;
    use connectkit_core::client::HttpRules;
    use serde_json::json;

    fn endpoint() -> Arc<Endpoint> {
        Arc::new(Endpoint {
            url: "https://h/e".into(),
            headers: Vec::new(),
            paging: Paging::default(),
            http: HttpRules::default(),
            follow_links: false,
            ..Endpoint::default()
        })
    }

    #[test]
    fn columns_children_and_modifiers() {
        let obj = json!({
            "#path": "https://h/e",
            "employeeID": "VarChar(32),#key",
            "title": "VarChar(46),#notNull",
            "address": {"city": "VarChar(64)"},
            "phones[]": {"number": "VarChar(20)", "tags[]": "VarChar(8)"}
        });
        let tables = declared_tables(
            "employees",
            obj.as_object().unwrap(),
            endpoint(),
            Rows::Auto,
        )
        .unwrap();
        let names: Vec<_> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["employees", "employees_phones", "employees_phones_tags"]
        );
        let cols: Vec<_> = tables[0]
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.sql_type.to_string(), c.key, c.not_null))
            .collect();
        assert_eq!(
            cols,
            [
                ("employeeID", "VarChar(32)".to_owned(), true, true),
                ("title", "VarChar(46)".to_owned(), false, true),
                ("address_city", "VarChar(64)".to_owned(), false, false),
            ]
        );
        let tags: Vec<_> = tables[2].columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            tags,
            [
                "employees_employeeID",
                "employees_phones_position",
                "position",
                "value"
            ]
        );
    }

    #[test]
    fn bad_types_and_modifiers_are_named() {
        let obj = json!({"a": "Strng"});
        let e = declared_tables("t", obj.as_object().unwrap(), endpoint(), Rows::Auto).unwrap_err();
        assert!(e.to_string().contains("unknown type \"Strng\""), "{e}");
        let obj = json!({"a": "Integer,#kye"});
        let e = declared_tables("t", obj.as_object().unwrap(), endpoint(), Rows::Auto).unwrap_err();
        assert_eq!(
            e.to_string(),
            "model file: unknown key #kye in t (did you mean #key?)"
        );
    }
}

//! Binding a table's `{name}`s and `#post` fields to its columns, when the
//! model file is loaded.

use connectkit_core::FilterOp;
use serde_json::Value;

use super::placeholders;
use crate::table::types::SqlType;
use crate::table::{ColumnDef, ColumnInput, Endpoint, Source};

/// Binds the `{name}` placeholders of a table's path to its columns: the
/// column whose parameter it is, else the column of that name (its `#eq`
/// parameter), else a new virtual `VarChar(255)` column.
pub(crate) fn bind_path(columns: &mut Vec<ColumnDef>, endpoint: &Endpoint) {
    for (_, _, name) in placeholders(&endpoint.url) {
        let is_param = columns.iter().any(|c| {
            c.input
                .as_ref()
                .is_some_and(|i| i.params.iter().any(|(_, p)| p == name))
        });
        if is_param {
            continue;
        }
        if let Some(c) = columns
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
        {
            let input = c.input.get_or_insert_with(ColumnInput::default);
            if input.param(FilterOp::Eq).is_none() {
                input.params.push((FilterOp::Eq, name.to_owned()));
            }
            continue;
        }
        let mut c = ColumnDef::new(
            name,
            SqlType::VarChar(255),
            Source::Input(None),
            false,
            true,
        );
        c.input = Some(ColumnInput {
            params: vec![(FilterOp::Eq, name.to_owned())],
            default: None,
            is_virtual: true,
        });
        columns.push(c);
    }
}

/// Binds the top-level fields of a `#post` body, as the vendor documents
/// them ("the body defines documents and provides sample values"): each
/// scalar field is an input whose sample value is its `#default` and whose
/// type the sample gives; a filter on it replaces the value sent. It is the
/// column of that parameter or name, or a new virtual one. Values that are
/// templates or hold braces (GraphQL text) stay as written.
pub(crate) fn bind_body(columns: &mut Vec<ColumnDef>, endpoint: &mut Endpoint) {
    let Some(Value::Object(body)) = &mut endpoint.post else {
        return;
    };
    for (field, v) in body.iter_mut() {
        let sample = match &*v {
            Value::String(s) if !s.contains('{') => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        let by_param = columns.iter().position(|c| {
            c.input
                .as_ref()
                .is_some_and(|i| i.params.iter().any(|(_, p)| p == field))
        });
        let by_name = || {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(field))
        };
        match by_param.or_else(by_name) {
            Some(i) => {
                let input = columns[i].input.get_or_insert_with(ColumnInput::default);
                if !input.params.iter().any(|(_, p)| p == field) {
                    input.params.push((FilterOp::Eq, field.clone()));
                }
                input.default.get_or_insert(sample);
            }
            None => {
                let mut c = ColumnDef::new(field, sample_type(v), Source::Input(None), false, true);
                c.input = Some(ColumnInput {
                    params: vec![(FilterOp::Eq, field.clone())],
                    default: Some(sample),
                    is_virtual: true,
                });
                columns.push(c);
            }
        }
        *v = Value::String(format!("{{{field}}}"));
    }
}

/// The type a `#post` sample value stands for.
fn sample_type(v: &Value) -> SqlType {
    match v {
        Value::Bool(_) => SqlType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => SqlType::BigInt,
        Value::Number(_) => SqlType::Double,
        Value::String(s) if connectkit_core::value::parse_date(s).is_some() => SqlType::Date,
        Value::String(s) if connectkit_core::value::parse_timestamp_lenient(s).is_some() => {
            SqlType::Timestamp
        }
        _ => SqlType::VarChar(255),
    }
}

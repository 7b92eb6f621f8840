//! Expectations: each check yields the first difference, expected vs
//! received, with every secret of the scenario masked.

use std::collections::BTreeMap;

use base64::Engine;
use connectkit_core::arrow_array::RecordBatch;
use connectkit_core::arrow_schema::Schema;
use connectkit_core::{ConnectionUrl, Error};
use serde_json::Value;

use crate::mock::Received;
use crate::scenario::{RequestExpect, scalar};

/// Masks secret values in text shown to people.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    /// Secrets of the connection URL (secret properties) plus `extra` (tokens the mocks hand out).
    pub fn new(url: &str, extra: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = extra.into_iter().collect();
        if let Ok(u) = url.parse::<ConnectionUrl>() {
            secrets.extend(
                u.properties()
                    .iter()
                    .filter(|(_, v)| v.is_secret())
                    .map(|(_, v)| v.expose().to_owned()),
            );
        }
        // The form-urlencoded spelling too (Basic credentials, query strings).
        let encoded: Vec<String> = secrets
            .iter()
            .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect())
            .collect();
        secrets.extend(encoded);
        secrets.retain(|s| s.len() >= 2);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every secret replaced by `***`, and Basic credentials decoded then masked.
    pub fn mask(&self, text: &str) -> String {
        let text = self.decode_basic(text);
        self.secrets
            .iter()
            .fold(text, |t, s| t.replace(s.as_str(), "***"))
    }

    fn decode_basic(&self, text: &str) -> String {
        let Some(i) = text.find("Basic ") else {
            return text.to_owned();
        };
        let rest = &text[i + 6..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
            .unwrap_or(rest.len());
        match base64::engine::general_purpose::STANDARD.decode(&rest[..end]) {
            Ok(raw) => format!(
                "{}Basic base64({}){}",
                &text[..i],
                String::from_utf8_lossy(&raw),
                self.decode_basic(&rest[end..])
            ),
            Err(_) => text.to_owned(),
        }
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 section 2.3.1).
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Expands `{{basic ID SECRET}}` helpers.
pub fn expand_helpers(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(start) = out.find("{{basic ") {
        let Some(len) = out[start..].find("}}") else {
            break;
        };
        let inner = out[start + 8..start + len].to_owned();
        let mut parts = inner.split_whitespace();
        let value = basic(parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        out.replace_range(start..start + len + 2, &value);
    }
    out
}

/// The error kind string of an error, `<ErrorKind>.<detail>`: the detail is
/// the RFC 6749 code for token endpoint errors, else the last part of the
/// error's stable code (`Error::code`: `api.status` → `status`,
/// `paging.loop` → `loop`), else the variant name of an error that has no
/// code of its own.
pub fn error_kind(e: &Error) -> String {
    use connectkit_oauth_refresh::Error as GrantError;
    let detail = match e {
        Error::Connector(c) => {
            if let Some(o) = e.downcast_ref::<GrantError>().and_then(GrantError::oauth) {
                o.code.as_str().to_owned()
            } else if e.code() != "connector" {
                code_tail(e.code())
            } else {
                variant_name(&format!("{:?}", c.get_ref()))
            }
        }
        other => code_tail(other.code()),
    };
    // Scenarios name the class the exit code stands for.
    let class = match e.kind().exit_code() {
        2 => "config",
        3 => "auth",
        4 => "api",
        _ => "other",
    };
    format!("{class}.{detail}")
}

fn code_tail(code: &str) -> String {
    code.split_once('.')
        .map_or(code, |(_, tail)| tail)
        .to_owned()
}

/// `UnexpectedResponse { .. }` → `unexpected_response`.
fn variant_name(debug: &str) -> String {
    let ident: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    // A capital after a lowercase letter or digit starts a word: `OData` → `odata`.
    let mut out = String::new();
    let mut prev_lower = false;
    for c in ident.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether `actual` is the `expected` kind or one of its sub-kinds.
pub fn kind_matches(expected: &str, actual: &str) -> bool {
    actual == expected || actual.starts_with(&format!("{expected}."))
}

/// The rows of `batches` as JSON objects, nulls explicit.
pub fn rows_json(batches: &[RecordBatch]) -> Result<Vec<Value>, String> {
    let mut buf = Vec::new();
    {
        let mut w = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(&mut buf);
        for b in batches {
            w.write(b).map_err(|e| e.to_string())?;
        }
        w.finish().map_err(|e| e.to_string())?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_slice(&buf).map_err(|e| e.to_string())? {
        Value::Array(rows) => Ok(rows),
        _ => Err("arrow-json wrote no array".into()),
    }
}

/// JSON equality where numbers compare by value (`2` equals `2.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The first row that differs.
pub fn compare_rows(expected: &[Value], received: &[Value]) -> Option<String> {
    for (i, (e, r)) in expected.iter().zip(received).enumerate() {
        if !json_eq(e, r) {
            return Some(format!("rows[{i}]: expected {e}, received {r}"));
        }
    }
    if expected.len() != received.len() {
        let i = expected.len().min(received.len());
        let show = |rows: &[Value]| rows.get(i).map_or("no row".to_owned(), Value::to_string);
        return Some(format!(
            "rows: expected {} rows, received {} (rows[{i}]: expected {}, received {})",
            expected.len(),
            received.len(),
            show(expected),
            show(received)
        ));
    }
    None
}

/// A column's type as shown: the connector's `connectkit.type`, else the Arrow type.
pub fn type_name(field: &connectkit_core::arrow_schema::Field) -> String {
    field
        .metadata()
        .get("connectkit.type")
        .cloned()
        .unwrap_or_else(|| field.data_type().to_string())
}

/// Compares a schema with `name` / `{name: Type}` entries.
pub fn compare_columns(table: &str, expected: &[Value], schema: &Schema) -> Option<String> {
    let received: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), type_name(f)))
        .collect();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut want = Vec::new();
    for (i, e) in expected.iter().enumerate() {
        let (name, ty) = match e {
            Value::Object(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                (k.clone(), scalar(v))
            }
            other => (scalar(other).unwrap_or_default(), None),
        };
        let Some(f) = schema.fields().get(i) else {
            return Some(format!(
                "columns of {table}: expected {name} at position {i}, received only {:?}",
                names
            ));
        };
        if *f.name() != name || ty.as_ref().is_some_and(|t| *t != type_name(f)) {
            return Some(format!(
                "columns of {table}[{i}]: expected {name}{}, received {}",
                ty.map(|t| format!(": {t}")).unwrap_or_default(),
                received[i]
            ));
        }
        want.push(name);
    }
    (expected.len() != received.len()).then(|| {
        format!(
            "columns of {table}: expected {} columns {want:?}, received {received:?}",
            expected.len()
        )
    })
}

fn params(p: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in p {
        m.entry(k.clone()).or_default().push(v.clone());
    }
    m
}

fn compare_params(
    what: &str,
    expected: &BTreeMap<String, Value>,
    received: &[(String, String)],
    vars: &[(&str, &str)],
) -> Option<String> {
    let got = params(received);
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
    for k in keys {
        let want = expected
            .get(k)
            .and_then(scalar)
            .map(|v| expand_helpers(&crate::scenario::substitute(&v, vars)));
        let have = got.get(k);
        let same = match (&want, have) {
            (Some(w), Some(h)) => h.len() == 1 && h[0] == *w,
            (None, None) => true,
            _ => false,
        };
        if !same {
            let w = want.map_or("absent".to_owned(), |w| format!("{w:?}"));
            let h = have.map_or("absent".to_owned(), |h| {
                h.iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            return Some(format!("{what} {k}: expected {w}, received {h}"));
        }
    }
    None
}

/// The first expected query parameter missing or different (`~`: must be absent).
fn includes_params(
    expected: &BTreeMap<String, Value>,
    received: &[(String, String)],
    vars: &[(&str, &str)],
) -> Option<String> {
    let got = params(received);
    for (k, want) in expected {
        let want = scalar(want).map(|v| expand_helpers(&crate::scenario::substitute(&v, vars)));
        let have = got.get(k);
        let same = match (&want, have) {
            (Some(w), Some(h)) => h.iter().any(|v| v == w),
            (None, None) => true,
            _ => false,
        };
        if !same {
            let w = want.map_or("absent".to_owned(), |w| format!("{w:?}"));
            let h = have.map_or("absent".to_owned(), |h| {
                h.iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            return Some(format!("query {k}: expected {w}, received {h}"));
        }
    }
    None
}

/// The first difference between a received request and its expectation.
pub fn compare_request(e: &RequestExpect, r: &Received, vars: &[(&str, &str)]) -> Option<String> {
    if let Some(m) = &e.method
        && !m.eq_ignore_ascii_case(&r.method)
    {
        return Some(format!("method: expected {m}, received {}", r.method));
    }
    if let Some(q) = &e.query
        && let Some(d) = compare_params("query", q, &r.query, vars)
    {
        return Some(d);
    }
    if let Some(q) = &e.query_includes
        && let Some(d) = includes_params(q, &r.query, vars)
    {
        return Some(d);
    }
    if let Some(f) = &e.form
        && let Some(d) = compare_params("form", f, &r.form, vars)
    {
        return Some(d);
    }
    if let Some(j) = &e.json
        && r.json.as_ref() != Some(j)
    {
        return Some(format!("JSON body: expected {j}, received {:?}", r.json));
    }
    let mut headers: Vec<(String, &Value)> = e
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if let Some(a) = &e.authorization {
        headers.insert(0, ("authorization".into(), a));
    }
    for (name, want) in headers {
        let want = scalar(want).map(|w| expand_helpers(&crate::scenario::substitute(&w, vars)));
        let have = r.header(&name);
        if want.as_deref() != have {
            return Some(format!(
                "header {name}: expected {}, received {}",
                want.map_or("absent".into(), |w| format!("{w:?}")),
                have.map_or("absent".into(), |h| format!("{h:?}"))
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_then_base64() {
        assert_eq!(basic("a b", "c:d"), "Basic YStiOmMlM0Fk");
        assert_eq!(
            expand_helpers("x {{basic id s}} y"),
            format!("x {} y", basic("id", "s"))
        );
    }

    #[test]
    fn masking_covers_url_secrets_their_encodings_and_basic_headers() {
        let m = Masker::new(
            "autorest:ClientID=app;ClientSecret=p+w/d;RefreshToken=rt-secret",
            ["at-123".to_owned()],
        );
        let shown = m.mask(&format!(
            "rt-secret at-123 p%2Bw%2Fd {}",
            basic("app", "p+w/d")
        ));
        assert_eq!(shown, "*** *** *** Basic base64(app:***)");
    }

    #[test]
    fn variant_names_are_snake_case() {
        assert_eq!(
            variant_name("UnexpectedResponse { status: 1 }"),
            "unexpected_response"
        );
        assert_eq!(variant_name("OData { code: 1 }"), "odata");
        assert_eq!(variant_name("Status(3)"), "status");
        assert!(kind_matches("auth", "auth.invalid_grant"));
        assert!(!kind_matches("auth.invalid", "auth.invalid_grant"));
    }

    #[test]
    fn numbers_compare_by_value() {
        let a = serde_json::json!({"x": 2, "y": [1.5]});
        let b = serde_json::json!({"x": 2.0, "y": [1.5]});
        assert!(json_eq(&a, &b));
        assert!(!json_eq(&a, &serde_json::json!({"x": 3, "y": [1.5]})));
    }
}

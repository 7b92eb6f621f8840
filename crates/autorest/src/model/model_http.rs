//! The HTTP parts of a table entry in a model file: its `#http` rules and
//! its `#headers`.

use serde_json::Value;

use connectkit_core::client::{Action, HttpRules, Rule};

use crate::error::AutoRestError;
use crate::keys::{check_key, number, string, value_err};

/// An `#http` entry: `[{"#code", "#action", "#operation", "#match",
/// "#message"}, ...]`, read in order, the first rule that matches winning.
/// Rules for write operations (`#operation` INSERT, UPDATE, DELETE) never
/// apply: connectkit only reads (SELECT).
pub(crate) fn http_rules(v: &Value, table: &str) -> Result<HttpRules, AutoRestError> {
    const RULE_KEYS: &[&str] = &["#code", "#action", "#operation", "#match", "#message"];
    let items = v
        .as_array()
        .ok_or_else(|| value_err(table, "#http", "expected a list of {#code, #action}"))?;
    let mut rules = HttpRules::standard();
    for item in items {
        let obj = item
            .as_object()
            .ok_or_else(|| value_err(table, "#http", "expected {#code, #action}"))?;
        let (mut code, mut action, mut reads) = (None, None, true);
        let (mut contains, mut message) = (None, None);
        for (k, v) in obj {
            match check_key(k, table, &[RULE_KEYS])? {
                "#code" => code = Some(number(v, table, "#code")?),
                "#operation" => {
                    let op = string(v, table, "#operation")?;
                    reads = match op.trim().to_ascii_uppercase().as_str() {
                        "SELECT" => true,
                        "INSERT" | "UPDATE" | "DELETE" => false,
                        _ => {
                            return Err(value_err(
                                table,
                                "#operation",
                                &format!(
                                    "unknown operation {op:?}; known: SELECT, INSERT, UPDATE, DELETE"
                                ),
                            ));
                        }
                    };
                }
                "#match" => contains = Some(string(v, table, "#match")?),
                "#message" => message = Some(string(v, table, "#message")?),
                _ => {
                    let text = string(v, table, "#action")?;
                    let msg = format!(
                        "unknown action {text:?}; known: {}",
                        Action::NAMES.join(", ")
                    );
                    action = Some(
                        Action::parse(&text).ok_or_else(|| value_err(table, "#action", &msg))?,
                    );
                }
            }
        }
        let code = code
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| value_err(table, "#http", "each rule needs a #code (an HTTP status)"))?;
        let action =
            action.ok_or_else(|| value_err(table, "#http", "each rule needs an #action"))?;
        if !reads {
            continue;
        }
        let mut rule = Rule::new(code, action);
        if let Some(text) = contains.filter(|t| !t.is_empty()) {
            rule = rule.matching(text);
        }
        if let Some(m) = message {
            rule = rule.with_message(m);
        }
        rules = rules.with_rule(rule);
    }
    Ok(rules)
}

/// A `#headers` entry: `{"name": "value"}`; credentials never belong in
/// a model file, so `Authorization` headers are refused.
pub(crate) fn headers(v: &Value, table: &str) -> Result<Vec<(String, String)>, AutoRestError> {
    let obj = v
        .as_object()
        .ok_or_else(|| value_err(table, "#headers", "expected an object of header: value"))?;
    let mut out = Vec::new();
    for (k, v) in obj {
        if ["authorization", "proxy-authorization"].contains(&k.to_ascii_lowercase().as_str()) {
            return Err(AutoRestError::SecretInModel {
                key: format!("#headers/{k}"),
                table: table.to_owned(),
            });
        }
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(value_err(
                    table,
                    "#headers",
                    "header values must be strings",
                ));
            }
        };
        out.push((k.clone(), value));
    }
    Ok(out)
}

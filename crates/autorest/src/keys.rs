//! Model-file keys: their canonical spelling, the "did you mean" for a
//! typo, the refusal of keys that would hold a credential, and the readers
//! of their plain values (a string, a whole number).

use serde_json::Value;

use crate::error::AutoRestError;

pub(crate) const SECRET_KEYS: &[&str] = &[
    "clientid",
    "clientsecret",
    "refreshtoken",
    "accesstoken",
    "securitytoken",
    "password",
    "apikey",
];

/// The canonical spelling of a `#key`, or the error for an unknown or secret one.
pub(crate) fn check_key(
    key: &str,
    table: &str,
    known: &[&[&'static str]],
) -> Result<&'static str, AutoRestError> {
    let all = known.iter().flat_map(|k| k.iter().copied());
    if let Some(k) = all.clone().find(|k| k.eq_ignore_ascii_case(key)) {
        return Ok(k);
    }
    let norm: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if SECRET_KEYS.contains(&norm.as_str()) {
        return Err(AutoRestError::SecretInModel {
            key: key.to_owned(),
            table: table.to_owned(),
        });
    }
    // Only a really close key is suggested: a typo (at most two letters
    // added, dropped, changed or swapped, and few for a short key), never
    // a key that merely shares a prefix.
    let lower = key.to_ascii_lowercase();
    let suggestion = all
        .map(|k| {
            (
                strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= 2 && 3 * d <= k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned());
    Err(AutoRestError::UnknownModelKey {
        key: key.to_owned(),
        table: table.to_owned(),
        suggestion,
    })
}

pub(crate) fn value_err(table: &str, key: &str, message: &str) -> AutoRestError {
    AutoRestError::ModelValue {
        table: table.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

/// A key's value that must be a string.
pub(crate) fn string(v: &Value, table: &str, key: &str) -> Result<String, AutoRestError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| value_err(table, key, "expected a string"))
}

/// A key's value that must be a whole number `>= 0`, or a string of one.
pub(crate) fn number(v: &Value, table: &str, key: &str) -> Result<u64, AutoRestError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| value_err(table, key, "expected a non-negative whole number"))
}

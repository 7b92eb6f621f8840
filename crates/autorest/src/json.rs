//! Paths into JSON values (`data/items`), shared by paging, decoding,
//! inference and the model file.

use serde_json::Value;

/// The value at a `/`-style path of object keys; `None` when absent.
pub(crate) fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.as_object()?.get(k))
}

/// Splits a `/`-separated element path, ignoring empty segments.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

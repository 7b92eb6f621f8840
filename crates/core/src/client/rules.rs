//! What a response status means: read it, no rows, reauthenticate, wait and
//! retry, or fail (the vocabulary of the vendor's `#http` rules).

use reqwest::Method;

use super::retry::is_idempotent;

/// What to do with a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Read the body.
    Ok,
    /// The resource has no (more) rows.
    ZeroRows,
    /// Refresh the token once and retry.
    Reauthenticate,
    /// Wait out `Retry-After` (or back off) and retry, within the retry bounds.
    RetryAfter,
    /// Fail with the status and the server's message.
    Fail,
}

impl Action {
    /// Parses an `#action` value (case-insensitive): OK, ZERO_ROWS,
    /// REAUTHENTICATE, RETRY_AFTER, FAIL.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "OK" => Action::Ok,
            "ZERO_ROWS" => Action::ZeroRows,
            "REAUTHENTICATE" => Action::Reauthenticate,
            "RETRY_AFTER" => Action::RetryAfter,
            "FAIL" => Action::Fail,
            _ => return None,
        })
    }
}

/// Status rules: explicit `(status, action)` pairs, then the standard
/// meaning of every status shared by all connectors: 2xx OK, 401
/// REAUTHENTICATE, 429 and 503 RETRY_AFTER, 502 and 504 RETRY_AFTER for
/// idempotent requests, everything else FAIL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRules {
    rules: Vec<(u16, Action)>,
}

impl HttpRules {
    /// The standard rules alone.
    pub fn standard() -> Self {
        Self::default()
    }

    /// Adds a rule; the first rule for a status wins.
    pub fn with(mut self, status: u16, action: Action) -> Self {
        self.rules.push((status, action));
        self
    }

    /// These rules, then `more` (e.g. a model file's top-level rules).
    pub fn or(mut self, more: &HttpRules) -> Self {
        self.rules.extend(more.rules.iter().copied());
        self
    }

    /// The explicit rules, in order.
    pub fn rules(&self) -> &[(u16, Action)] {
        &self.rules
    }

    /// The action for `status` of a `method` request.
    pub fn action(&self, method: &Method, status: u16) -> Action {
        if let Some((_, a)) = self.rules.iter().find(|(c, _)| *c == status) {
            return *a;
        }
        match status {
            200..=299 => Action::Ok,
            401 => Action::Reauthenticate,
            429 | 503 => Action::RetryAfter,
            502 | 504 if is_idempotent(method) => Action::RetryAfter,
            _ => Action::Fail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_overrides() {
        let r = HttpRules::standard();
        let get = Method::GET;
        assert_eq!(r.action(&get, 200), Action::Ok);
        assert_eq!(r.action(&get, 204), Action::Ok);
        assert_eq!(r.action(&get, 401), Action::Reauthenticate);
        assert_eq!(r.action(&get, 403), Action::Fail);
        assert_eq!(r.action(&get, 429), Action::RetryAfter);
        assert_eq!(r.action(&Method::POST, 503), Action::RetryAfter);
        assert_eq!(r.action(&get, 502), Action::RetryAfter);
        assert_eq!(r.action(&Method::POST, 504), Action::Fail);
        assert_eq!(r.action(&get, 404), Action::Fail);
        let r = HttpRules::standard()
            .with(404, Action::ZeroRows)
            .with(404, Action::Fail);
        assert_eq!(r.action(&get, 404), Action::ZeroRows);
        assert_eq!(Action::parse(" zero_rows "), Some(Action::ZeroRows));
        assert_eq!(Action::parse("IGNORE"), None);
    }
}

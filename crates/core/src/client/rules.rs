//! What a response status means: read it, no rows, reauthenticate, wait and
//! retry, or fail (the vocabulary of the vendor's `#http` rules), optionally
//! only when the body holds a text, with a message of the rule's own.

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
    /// Start the session again (drop the cached credentials, as on a first
    /// request) and retry once.
    Reset,
    /// Retry once (after `Retry-After` or the first backoff).
    RetryOnce,
    /// Retry up to `MaxRetries` times, one second apart.
    RetryFixed,
    /// Retry up to `MaxRetries` times (at most 5) with exponential backoff
    /// and jitter, as Google's APIs ask.
    RetryGoogle,
    /// Retry up to `MaxRetries` times with exponential backoff and jitter,
    /// as AWS's APIs ask.
    RetryAws,
}

impl Action {
    /// The `#action` names, as [`Action::parse`] reads them.
    pub const NAMES: &'static [&'static str] = &[
        "OK",
        "ZERO_ROWS",
        "RESET",
        "REAUTHENTICATE",
        "RETRY_AFTER",
        "RETRY_ONCE",
        "RETRY_GOOGLE",
        "RETRY_AWS",
        "RETRY_FIXED",
        "FAIL",
    ];

    /// Parses an `#action` value (case-insensitive): one of [`Action::NAMES`].
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "OK" => Action::Ok,
            "ZERO_ROWS" => Action::ZeroRows,
            "RESET" => Action::Reset,
            "REAUTHENTICATE" => Action::Reauthenticate,
            "RETRY_AFTER" => Action::RetryAfter,
            "RETRY_ONCE" => Action::RetryOnce,
            "RETRY_GOOGLE" => Action::RetryGoogle,
            "RETRY_AWS" => Action::RetryAws,
            "RETRY_FIXED" => Action::RetryFixed,
            "FAIL" => Action::Fail,
            _ => return None,
        })
    }
}

/// One rule: a status, and optionally a text the body must hold; the
/// action, and optionally the message of the error it fails with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// The status it applies to.
    pub status: u16,
    /// What to do.
    pub action: Action,
    /// Applies only when the body holds this text (`#match`).
    pub contains: Option<String>,
    /// The message of the error when the action fails (`#message`).
    pub message: Option<String>,
}

impl Rule {
    /// A rule for every response with `status`.
    pub fn new(status: u16, action: Action) -> Self {
        Self {
            status,
            action,
            contains: None,
            message: None,
        }
    }

    /// Only when the body holds `text`.
    pub fn matching(mut self, text: impl Into<String>) -> Self {
        self.contains = Some(text.into());
        self
    }

    /// Fails with `message`.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// Status rules: explicit `(status, action)` pairs, then the standard
/// meaning of every status shared by all connectors: 2xx OK, 401
/// REAUTHENTICATE, 429 and 503 RETRY_AFTER, 502 and 504 RETRY_AFTER for
/// idempotent requests, everything else FAIL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRules {
    rules: Vec<(u16, Action)>,
    /// Every rule, in order (the unconditional ones are in `rules` too).
    all: Vec<Rule>,
    /// The action for non-2xx statuses no rule names, instead of the
    /// standard meanings.
    unlisted: Option<Action>,
}

impl HttpRules {
    /// The standard rules alone.
    pub fn standard() -> Self {
        Self::default()
    }

    /// Adds a rule; the first rule for a status wins.
    pub fn with(self, status: u16, action: Action) -> Self {
        self.with_rule(Rule::new(status, action))
    }

    /// Adds a rule; the first rule that matches a response wins.
    pub fn with_rule(mut self, rule: Rule) -> Self {
        if rule.contains.is_none() {
            self.rules.push((rule.status, rule.action));
        }
        self.all.push(rule);
        self
    }

    /// Statuses outside 2xx that no rule names get `action` (the vendor's
    /// FAIL once a model file lists its own codes) instead of the standard
    /// meanings; a 2xx no rule names is still read.
    pub fn with_unlisted(mut self, action: Action) -> Self {
        self.unlisted = Some(action);
        self
    }

    /// These rules, then `more` (e.g. a model file's top-level rules).
    pub fn or(mut self, more: &HttpRules) -> Self {
        self.rules.extend(more.rules.iter().copied());
        self.all.extend(more.all.iter().cloned());
        self.unlisted = self.unlisted.or(more.unlisted);
        self
    }

    /// Every rule, in order.
    pub fn all_rules(&self) -> &[Rule] {
        &self.all
    }

    /// Whether the action for `status` depends on the body (a rule with a
    /// text to match comes first for it).
    pub fn needs_body(&self, status: u16) -> bool {
        self.all
            .iter()
            .find(|r| r.status == status)
            .is_some_and(|r| r.contains.is_some())
    }

    /// The action for a response, and the rule's message if it has one;
    /// `body` is the response body when [`needs_body`](Self::needs_body).
    pub fn decide(
        &self,
        method: &Method,
        status: u16,
        body: Option<&[u8]>,
    ) -> (Action, Option<&str>) {
        let holds = |text: &str| {
            body.is_some_and(|b| b.windows(text.len().max(1)).any(|w| w == text.as_bytes()))
        };
        for r in self.all.iter().filter(|r| r.status == status) {
            if r.contains.as_deref().is_none_or(holds) {
                return (r.action, r.message.as_deref());
            }
        }
        match self.unlisted {
            Some(a) if !(200..=299).contains(&status) => (a, None),
            _ => (standard(method, status), None),
        }
    }

    /// The explicit rules, in order.
    pub fn rules(&self) -> &[(u16, Action)] {
        &self.rules
    }

    /// The action for `status` of a `method` request, whatever its body.
    pub fn action(&self, method: &Method, status: u16) -> Action {
        if let Some((_, a)) = self.rules.iter().find(|(c, _)| *c == status) {
            return *a;
        }
        match self.unlisted {
            Some(a) if !(200..=299).contains(&status) => a,
            _ => standard(method, status),
        }
    }
}

/// The standard meaning of a status.
fn standard(method: &Method, status: u16) -> Action {
    match status {
        200..=299 => Action::Ok,
        401 => Action::Reauthenticate,
        429 | 503 => Action::RetryAfter,
        502 | 504 if is_idempotent(method) => Action::RetryAfter,
        _ => Action::Fail,
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
        for name in Action::NAMES {
            assert!(Action::parse(name).is_some(), "{name}");
        }
    }

    #[test]
    fn matches_messages_order_and_unlisted() {
        let get = Method::GET;
        let r = HttpRules::standard()
            .with_rule(Rule::new(400, Action::Reauthenticate).matching("token expired"))
            .with_rule(Rule::new(400, Action::Fail).with_message("bad query"))
            .with_unlisted(Action::Fail);
        assert!(r.needs_body(400));
        assert!(!r.needs_body(404));
        assert_eq!(
            r.decide(&get, 400, Some(b"{\"error\": \"token expired\"}")),
            (Action::Reauthenticate, None)
        );
        assert_eq!(
            r.decide(&get, 400, Some(b"{}")),
            (Action::Fail, Some("bad query"))
        );
        assert_eq!(r.action(&get, 400), Action::Fail);
        assert_eq!(r.decide(&get, 401, None), (Action::Fail, None));
        assert_eq!(r.decide(&get, 503, None), (Action::Fail, None));
        assert_eq!(r.decide(&get, 204, None), (Action::Ok, None));
        let standard = HttpRules::standard().with(404, Action::ZeroRows);
        assert_eq!(
            standard.decide(&get, 401, None),
            (Action::Reauthenticate, None)
        );
        assert_eq!(standard.or(&r).action(&get, 401), Action::Fail);
    }
}

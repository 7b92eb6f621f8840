//! Parsing token endpoint answers: JSON or form-encoded bodies, RFC 6749
//! section 5.2 errors, and bodies that are neither.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::error::{Error, OAuthError};
use connectkit_core::OAuthErrorCode;
pub(crate) use connectkit_core::client::Redactor;

/// Tokens that live longer than this are treated as living this long, so
/// that a bogus `expires_in` cannot overflow an `Instant`.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(365 * 24 * 3600);

/// A successful token response.
#[derive(Clone, Debug)]
pub(crate) struct TokenResponse {
    pub access_token: SecretString,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    pub refresh_token: Option<SecretString>,
    pub scope: Option<String>,
}

/// Why a body could not be read as fields.
enum NotFields {
    /// It starts like JSON but does not parse: the serde message and position only.
    BadJson(String),
    /// Neither JSON nor form-encoded.
    Unknown,
}

/// Parses the fields of a body, JSON or `key=value&...`, after removing a
/// UTF-8 byte order mark (some Windows servers send one).
fn fields(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, NotFields> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body)
        .map_err(|_| NotFields::Unknown)?
        .trim();
    if text.starts_with('{') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            // serde_json's syntax messages are fixed texts plus a position,
            // never the input.
            Err(e) if e.is_syntax() || e.is_eof() => Err(NotFields::BadJson(e.to_string())),
            _ => Err(NotFields::BadJson("not a JSON object".into())),
        };
    }
    let formish = content_type.is_some_and(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("application/x-www-form-urlencoded") || ct.starts_with("text/plain")
    });
    if text.is_empty() || text.starts_with('<') || !(formish || text.contains('=')) {
        return Err(NotFields::Unknown);
    }
    let map: Map<String, Value> = url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    if map
        .keys()
        .all(|k| !k.is_empty() && !k.contains(char::is_whitespace))
    {
        Ok(map)
    } else {
        Err(NotFields::Unknown)
    }
}

fn string_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

fn oauth_error(status: u16, map: &Map<String, Value>, redactor: &Redactor) -> Option<OAuthError> {
    let code = string_field(map, "error")?;
    Some(OAuthError {
        code: OAuthErrorCode::parse(&redactor.mask(&code)),
        description: string_field(map, "error_description").map(|d| redactor.mask(&d)),
        uri: string_field(map, "error_uri").map(|u| redactor.mask(&u)),
        status,
        refresh_token_source: None,
    })
}

/// Interprets a non-success answer: an OAuth error when the body is one.
pub(crate) fn error_response(
    status: u16,
    attempts: u32,
    content_type: Option<&str>,
    body: &[u8],
    redactor: &Redactor,
) -> Error {
    if let Some(e) = fields(content_type, body)
        .ok()
        .and_then(|m| oauth_error(status, &m, redactor))
    {
        return Error::OAuth(e);
    }
    Error::UnexpectedResponse {
        status,
        attempts,
        excerpt: redactor.excerpt(body),
    }
}

/// The fields of a 2xx answer. A 2xx body carries live tokens, so it is
/// never excerpted: a body that does not parse is described by its parse
/// error and position, or its size and content type.
pub(crate) fn success_fields(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, Error> {
    fields(content_type, body).map_err(|e| match e {
        NotFields::BadJson(why) => Error::InvalidToken(format!(
            "the HTTP {status} body is not valid JSON ({why}); its content is not shown because it may hold tokens"
        )),
        NotFields::Unknown => Error::InvalidToken(format!(
            "the HTTP {status} body ({} bytes, content type {}) is neither JSON nor form-encoded; its content is not shown because it may hold tokens",
            body.len(),
            content_type
                .map(|c| connectkit_core::client::escape_controls(&connectkit_core::client::excerpt(c, 60)))
                .unwrap_or_else(|| "none".into())
        )),
    })
}

/// A rotated refresh token in a 2xx answer's fields, read before anything
/// else so that no validation failure can drop it.
pub(crate) fn refresh_token_field(map: &Map<String, Value>) -> Option<SecretString> {
    if map.contains_key("error") {
        return None;
    }
    match map.get("refresh_token") {
        Some(Value::String(s)) if !s.is_empty() => Some(SecretString::from(s.clone())),
        _ => None,
    }
}

/// Interprets the fields of a 2xx answer.
pub(crate) fn token_from_fields(
    status: u16,
    map: &Map<String, Value>,
    redactor: &Redactor,
) -> Result<TokenResponse, Error> {
    if let Some(e) = oauth_error(status, map, redactor) {
        return Err(Error::OAuth(e));
    }
    let access_token = match map.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() => SecretString::from(s.clone()),
        _ => {
            return Err(Error::InvalidToken(
                "no access_token in the response".into(),
            ));
        }
    };
    let token_type = match string_field(map, "token_type") {
        None => "Bearer".to_owned(),
        Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
        Some(t) => {
            return Err(Error::InvalidToken(format!(
                "token_type {:?} is not supported, expected Bearer",
                redactor.mask(&t)
            )));
        }
    };
    let expires_in = expires_in(map.get("expires_in"))?;
    let refresh_token = refresh_token_field(map);
    let scope = string_field(map, "scope");
    // The access token must not echo into logs through the scope field.
    let scope =
        scope.map(|s| Redactor::new([access_token.expose_secret()]).mask(&redactor.mask(&s)));
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        refresh_token,
        scope,
    })
}

/// Interprets a 2xx answer.
pub(crate) fn success_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    redactor: &Redactor,
) -> Result<TokenResponse, Error> {
    token_from_fields(
        status,
        &success_fields(status, content_type, body)?,
        redactor,
    )
}

fn expires_in(value: Option<&Value>) -> Result<Option<Duration>, Error> {
    let secs: f64 = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::MAX),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| {
            Error::InvalidToken(format!(
                "expires_in {:?} is not a number of seconds",
                connectkit_core::client::escape_controls(&connectkit_core::client::excerpt(s, 40))
            ))
        })?,
        Some(other) => {
            let kind = match other {
                Value::Bool(_) => "a boolean",
                Value::Array(_) => "an array",
                _ => "an object",
            };
            return Err(Error::InvalidToken(format!(
                "expires_in is {kind}, not a number of seconds"
            )));
        }
    };
    if secs.is_nan() {
        return Err(Error::InvalidToken("expires_in is not a number".into()));
    }
    let secs = secs.clamp(0.0, MAX_EXPIRES_IN.as_secs_f64());
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// Parses a token endpoint answer exactly as the flow does, and describes
/// the token without exposing it. For tests, fuzzing and diagnostics.
pub fn parse_token_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<connectkit_core::TokenInfo, Error> {
    let redactor = Redactor::default();
    if !(200..300).contains(&status) {
        return Err(error_response(status, 1, content_type, body, &redactor));
    }
    let r = success_response(status, content_type, body, &redactor)?;
    Ok(connectkit_core::TokenInfo::new(
        r.token_type,
        r.expires_in,
        r.scope,
        r.refresh_token.is_some(),
    ))
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn never_panics_on_any_body(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = super::parse_token_response(status, None, &body);
            let _ = super::parse_token_response(status, Some("text/plain"), &body);
        }

        #[test]
        fn never_panics_on_json_like_bodies(
            at in proptest::option::of("[ -~]{0,12}"),
            tt in proptest::option::of("[A-Za-z]{0,8}"),
            exp in proptest::option::of(prop_oneof![any::<f64>().prop_map(|f| f.to_string()), "\\PC{0,6}".prop_map(|s| format!("{s:?}")), Just("null".to_owned()), any::<i64>().prop_map(|i| i.to_string())]),
        ) {
            let mut fields = Vec::new();
            if let Some(a) = at { fields.push(format!("\"access_token\":{a:?}")); }
            if let Some(t) = tt { fields.push(format!("\"token_type\":{t:?}")); }
            if let Some(e) = exp { fields.push(format!("\"expires_in\":{e}")); }
            let body = format!("{{{}}}", fields.join(","));
            if let Ok(info) = super::parse_token_response(200, Some("application/json"), body.as_bytes()) {
                prop_assert_eq!(info.token_type, "Bearer");
                prop_assert!(info.expires_in.is_none_or(|d| d <= super::MAX_EXPIRES_IN));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ct: Option<&str>, body: &str) -> Result<TokenResponse, Error> {
        success_response(200, ct, body.as_bytes(), &Redactor::new(["s3cret"]))
    }

    #[test]
    fn expires_in_forms() {
        let e = |b: &str| ok(None, b).map(|t| t.expires_in);
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":3600}"#).unwrap(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":"3600"}"#).unwrap(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":1.5}"#).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":null}"#).unwrap(),
            None
        );
        assert_eq!(e(r#"{"access_token":"a"}"#).unwrap(), None);
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":1e300}"#).unwrap(),
            Some(MAX_EXPIRES_IN)
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":-5}"#).unwrap(),
            Some(Duration::ZERO)
        );
        let err = e(r#"{"access_token":"a","expires_in":"abc"}"#).unwrap_err();
        assert!(err.to_string().contains("expires_in \"abc\""), "{err}");
    }

    #[test]
    fn form_bodies_and_token_types() {
        let t = ok(
            Some("text/plain"),
            "access_token=a%2Bb&token_type=bearer&expires_in=60&scope=x+y",
        )
        .unwrap();
        assert_eq!(t.access_token.expose_secret(), "a+b");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.scope.as_deref(), Some("x y"));
        let err = ok(None, r#"{"access_token":"a","token_type":"mac"}"#).unwrap_err();
        assert!(err.to_string().contains("\"mac\""), "{err}");
        assert!(matches!(
            ok(None, r#"{"token_type":"bearer"}"#),
            Err(Error::InvalidToken(_))
        ));
        assert!(matches!(
            ok(None, "<html>hi</html>"),
            Err(Error::InvalidToken(_))
        ));
        assert!(matches!(ok(None, "   "), Err(Error::InvalidToken(_))));
        let t = ok(None, "\u{feff}{\"access_token\":\"a\"}").unwrap();
        assert_eq!(t.access_token.expose_secret(), "a");
    }

    #[test]
    fn error_bodies_are_typed_and_masked() {
        let r = Redactor::new(["s3cret"]);
        let e = error_response(400, 1, None, br#"{"error":"invalid_grant","error_description":"token s3cret revoked","error_uri":"https://e/x"}"#, &r);
        let Error::OAuth(o) = &e else { panic!("{e:?}") };
        assert_eq!(o.code, OAuthErrorCode::InvalidGrant);
        assert_eq!(o.description.as_deref(), Some("token *** revoked"));
        assert!(e.to_string().contains("refresh token expired or revoked"));
        let e = error_response(
            400,
            1,
            Some("application/x-www-form-urlencoded"),
            b"error=invalid_scope",
            &r,
        );
        assert!(matches!(
            e,
            Error::OAuth(OAuthError {
                code: OAuthErrorCode::InvalidScope,
                ..
            })
        ));
        let e = error_response(
            500,
            3,
            None,
            b"<html><body>Internal s3cret Error</body></html>",
            &r,
        );
        assert_eq!(
            e.to_string(),
            "token endpoint answered HTTP 500 after 3 attempts: <html><body>Internal *** Error</body></html>"
        );
    }
}

//! Masking secrets in text that came from a server (a token endpoint, an
//! API error page), in every form a server may echo them: raw, percent-encoded (any case, any set), form
//! encoded, JSON-escaped and base64 (an echoed `Authorization: Basic` value).

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig as Config};

/// Values shorter than this are not masked: masking `a` would garble every
/// message and protects nothing.
const MIN_SECRET_LEN: usize = 4;

const LENIENT: GeneralPurposeConfig =
    Config::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const B64_STD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const B64_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Masks known secret values.
#[derive(Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
    /// Every literal spelling to replace, longest first.
    needles: Vec<String>,
}

fn percent_encode(s: &str, lower: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Redactor {
    /// A redactor for these secrets (short or empty ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(str::to_owned)
            .collect();
        let mut needles = Vec::new();
        for s in &secrets {
            needles.push(s.clone());
            needles.push(url::form_urlencoded::byte_serialize(s.as_bytes()).collect());
            needles.push(percent_encode(s, false));
            needles.push(percent_encode(s, true));
            needles.push(s.replace('/', "\\/"));
            if let Ok(json) = serde_json::to_string(s) {
                needles.push(json.trim_matches('"').to_owned());
            }
            for engine in [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                needles.push(engine.encode(s));
            }
        }
        needles.retain(|n| n.len() >= MIN_SECRET_LEN);
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self { secrets, needles }
    }

    /// Adds a literal spelling to mask, such as the exact `Basic` value sent.
    pub fn also(mut self, literal: &str) -> Self {
        if literal.len() >= MIN_SECRET_LEN {
            self.needles.push(literal.to_owned());
            self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        }
        self
    }

    fn holds_secret(&self, decoded: &str) -> bool {
        self.secrets.iter().any(|s| decoded.contains(s.as_str()))
    }

    /// Whether a run of text, once percent-, form- or base64-decoded, holds a secret.
    fn run_hides_secret(&self, run: &str) -> bool {
        let unplus = run.replace('+', " ");
        for candidate in [run, unplus.as_str()] {
            let decoded = percent_decode(candidate);
            if self.holds_secret(&decoded) {
                return true;
            }
        }
        let b64 = run.trim_start_matches("Basic").trim_start_matches(':');
        if b64.len() >= 8
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
        {
            for engine in [B64_STD, B64_URL] {
                if let Ok(bytes) = engine.decode(b64.trim_end_matches('=')) {
                    let text = String::from_utf8_lossy(&bytes);
                    if self.holds_secret(&text) || self.holds_secret(&percent_decode(&text)) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The text with every secret masked as `***` and control characters escaped.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "***");
            }
        }
        if !self.secrets.is_empty() {
            out = self.mask_runs(&out);
        }
        escape_controls(&out)
    }

    /// Splits at characters that never occur inside an encoded value and
    /// masks each run that decodes to a secret.
    fn mask_runs(&self, text: &str) -> String {
        let is_sep = |c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '"' | '\''
                        | '<'
                        | '>'
                        | '&'
                        | ','
                        | ';'
                        | '('
                        | ')'
                        | '{'
                        | '}'
                        | '['
                        | ']'
                        | '|'
                        | '\\'
                )
        };
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        let flush = |run: &mut String, out: &mut String| {
            if !run.is_empty() {
                if self.run_hides_secret(run) {
                    out.push_str("***");
                } else {
                    out.push_str(run);
                }
                run.clear();
            }
        };
        for c in text.chars() {
            if is_sep(c) {
                flush(&mut run, &mut out);
                out.push(c);
            } else {
                run.push(c);
            }
        }
        flush(&mut run, &mut out);
        out
    }

    /// The start of a body, secrets masked before it is cut.
    pub fn excerpt(&self, body: &[u8]) -> String {
        super::http::excerpt(&self.mask(&String::from_utf8_lossy(body)), 160)
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(
        format!("x={}", s.replace('&', "%26").replace('+', "%2B")).as_bytes(),
    )
    .next()
    .map(|(_, v)| v.into_owned())
    .unwrap_or_default()
}

/// Escapes control and bidirectional-formatting characters, so that a
/// server's text cannot drive the terminal it is printed on. Line breaks and
/// tabs stay (excerpts fold them into spaces).
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || bidi {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// What replaces a secret in a message.
pub const MASK: &str = "***";

/// The secret values carried by a request's headers: the `Authorization`
/// credentials (with and without their scheme) and every header value marked
/// sensitive (a custom `AuthHeader`).
pub fn header_secrets(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if !(value.is_sensitive() || name == reqwest::header::AUTHORIZATION) {
            continue;
        }
        let Ok(text) = value.to_str() else { continue };
        out.push(text.to_owned());
        if let Some((scheme, creds)) = text.split_once(' ') {
            out.push(creds.trim().to_owned());
            // Basic credentials: the password in clear too (a server may
            // echo it), whatever encoding it is shown in later.
            if scheme.eq_ignore_ascii_case("basic")
                && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(creds.trim())
                && let Ok(raw) = String::from_utf8(raw)
                && let Some((_, password)) = raw.split_once(':')
                && !password.is_empty()
            {
                out.push(password.to_owned());
            }
        }
    }
    out
}

/// The values of the query parameters `after` has beyond the query string
/// `before`: credentials an auth flow added (an API key parameter).
pub fn added_query_values(before: Option<&str>, after: &reqwest::Url) -> Vec<String> {
    let had: Vec<(String, String)> = url::form_urlencoded::parse(before.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    after
        .query_pairs()
        .into_owned()
        .filter(|pair| !had.contains(pair))
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .collect()
}

/// `text` with every occurrence of each secret masked (see [`Redactor`]).
pub fn redact(text: &str, secrets: &[String]) -> String {
    Redactor::new(secrets.iter().map(String::as_str)).mask(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "12a3=bCD/EfGh4+Ijk Lm";

    #[test]
    fn every_encoding_is_masked() {
        let r = Redactor::new([SECRET]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("id:{SECRET}"));
        let form: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
        let lower = percent_encode(SECRET, true);
        let partial = SECRET.replace('/', "%2F").replace(' ', "%20");
        for text in [
            format!("raw {SECRET} end"),
            format!("q?refresh_token={form}&x=1"),
            format!("lower {lower}"),
            format!("partial={partial}"),
            format!("Authorization: Basic {b64}"),
            format!("json {}", SECRET.replace('/', "\\/")),
        ] {
            let masked = r.mask(&text);
            assert!(!masked.contains(SECRET), "{masked}");
            assert!(!masked.contains(&form), "{masked}");
            assert!(!masked.contains(&b64), "{masked}");
            assert!(!masked.contains(&partial), "{masked}");
            assert!(masked.contains("***"), "{masked}");
        }
    }

    #[test]
    fn controls_are_escaped_and_plain_text_kept() {
        let r = Redactor::new(["s3cret"]);
        assert_eq!(r.mask("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(
            r.mask("invalid_grant: token revoked"),
            "invalid_grant: token revoked"
        );
        assert_eq!(r.excerpt(b"  "), "(empty body)");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the secret and its surroundings, no encoding of it survives.
        #[test]
        fn no_encoding_survives(
            secret in "[!-~]{4,24}",
            before in "[ -~]{0,20}",
            after in "[ -~]{0,20}",
            encoding in 0usize..7,
        ) {
            let encoded = match encoding {
                0 => secret.clone(),
                1 => url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
                2 => percent_encode(&secret, false),
                3 => percent_encode(&secret, true),
                4 => base64::engine::general_purpose::STANDARD.encode(&secret),
                5 => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&secret),
                _ => serde_json::to_string(&secret).unwrap().trim_matches('"').to_owned(),
            };
            let masked = Redactor::new([secret.as_str()]).mask(&format!("{before}{encoded}{after}"));
            proptest::prop_assert!(!masked.contains(&encoded), "{masked}");
            proptest::prop_assert!(!masked.contains(&secret), "{masked}");
        }
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;
    use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

    #[test]
    fn every_form_is_masked() {
        let secret = "s3cr+t/v@lue=1 2".to_owned();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
        let text = format!(
            "raw {secret} form s3cr%2Bt%2Fv%40lue%3D1+2 path s3cr%2Bt%2Fv%40lue%3D1%202 lower s3cr%2bt%2fv%40lue%3d1+2 b64 {b64}"
        );
        let out = redact(&text, std::slice::from_ref(&secret));
        assert_eq!(out, "raw *** form *** path *** lower *** b64 ***");
        assert_eq!(redact("abc", &["ab".to_owned()]), "abc");
    }

    #[test]
    fn secrets_of_headers() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tok-123"));
        let mut key = HeaderValue::from_static("api-key-9");
        key.set_sensitive(true);
        h.insert("x-api-key", key);
        h.insert("accept", HeaderValue::from_static("application/json"));
        let s = header_secrets(&h);
        assert!(s.contains(&"tok-123".to_owned()) && s.contains(&"api-key-9".to_owned()));
        assert!(!s.iter().any(|v| v.contains("json")));
    }

    #[test]
    fn basic_passwords_and_added_query_values_are_secrets() {
        let mut h = reqwest::header::HeaderMap::new();
        let b64 = base64::engine::general_purpose::STANDARD.encode("jsmith:pa ss%word");
        h.insert(
            reqwest::header::AUTHORIZATION,
            format!("Basic {b64}").parse().unwrap(),
        );
        let secrets = header_secrets(&h);
        assert!(secrets.contains(&"pa ss%word".to_owned()), "{secrets:?}");
        assert_eq!(
            redact("echo: pa+ss%25word", &secrets),
            format!("echo: {MASK}")
        );
        let after = reqwest::Url::parse("https://h/x?a=1&apikey=K%2F1&a=1").unwrap();
        assert_eq!(added_query_values(Some("a=1"), &after), ["K/1"]);
        assert!(added_query_values(Some("a=1&apikey=K%2F1"), &after).is_empty());
    }
}

//! Keeping credentials out of messages: every form a secret may take in a
//! body that echoes a request (raw, percent-encoded, form-encoded, base64).

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap};

/// What replaces a secret in a message.
pub const MASK: &str = "***";

/// The secret values carried by a request's headers: the `Authorization`
/// credentials (without their scheme) and every header value marked
/// sensitive (a custom `AuthHeader`).
pub fn header_secrets(headers: &HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if !(value.is_sensitive() || name == AUTHORIZATION) {
            continue;
        }
        let Ok(text) = value.to_str() else { continue };
        out.push(text.to_owned());
        if let Some((_scheme, creds)) = text.split_once(' ') {
            out.push(creds.trim().to_owned());
        }
    }
    out
}

/// `text` with every occurrence of each secret replaced by [`MASK`], in the
/// forms a server might echo it: as is, percent-encoded (`%2B` and `+` for
/// form bodies, `%20` for paths), and base64 (standard and URL-safe).
/// Secrets shorter than 4 bytes are ignored: masking them would garble
/// ordinary words without protecting anything.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
        let path = form.replace('+', "%20");
        let lower = lower_hex(&form);
        let b64 = base64::engine::general_purpose::STANDARD.encode(s);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        forms.extend([s.clone(), form, path, lower, b64, b64url]);
    }
    // Longest first, so that a form containing another is masked whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    let mut out = text.to_owned();
    for f in &forms {
        if out.contains(f.as_str()) {
            out = out.replace(f.as_str(), MASK);
        }
    }
    out
}

fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for h in chars.by_ref().take(2) {
                out.push(h.to_ascii_lowercase());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

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
}

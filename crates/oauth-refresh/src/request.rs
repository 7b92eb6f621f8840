//! Building the token request of every grant for every method and
//! `ClientCredentialsMode`.

use base64::Engine;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::form_urlencoded;

use crate::config::{ClientCredentialsMode, TokenForm, TokenMethod};
use crate::grant::Grant;

/// Everything a token request is made of.
pub(crate) struct TokenRequestParts<'a> {
    pub url: &'a url::Url,
    pub form: TokenForm,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a SecretString>,
    pub grant: &'a Grant,
    pub scope: Option<&'a str>,
}

impl TokenRequestParts<'_> {
    /// The request; with `assertion`, the client authenticates with it
    /// (RFC 7523 section 2.2: `client_assertion_type` and
    /// `client_assertion` beside the grant, with `client_id`) and its
    /// secret, if any, is not sent.
    pub(crate) fn build_with(
        &self,
        client: &reqwest::Client,
        assertion: Option<&SecretString>,
    ) -> reqwest::Request {
        let mut url = self.url.clone();
        let mut grant: Vec<(&str, &str)> = self.grant.params();
        if let Some(scope) = self.scope.filter(|_| self.grant.sends_scope()) {
            grant.push(("scope", scope));
        }
        let mut creds: Vec<(&str, &str)> = Vec::new();
        // A public client (RFC 6749 section 2.1, RFC 8252: no secret) does
        // not authenticate: it names itself with client_id beside the grant.
        // A client with an assertion names itself the same way.
        let public = self.client_secret.is_none() || assertion.is_some();
        if let Some(id) = self.client_id {
            if public {
                grant.push(("client_id", id));
            } else {
                creds.push(("client_id", id));
            }
        }
        if let Some(a) = assertion {
            grant.push((
                "client_assertion_type",
                crate::assertion::CLIENT_ASSERTION_TYPE,
            ));
            grant.push(("client_assertion", a.expose_secret()));
        } else if let Some(secret) = self.client_secret {
            creds.push(("client_secret", secret.expose_secret()));
        }
        let creds_in_query = matches!(
            self.form.mode,
            ClientCredentialsMode::All | ClientCredentialsMode::Url
        );
        let creds_in_body = self.form.mode == ClientCredentialsMode::Post;

        let mut body: Vec<(&str, &str)> = Vec::new();
        {
            let mut query: Vec<(&str, &str)> = Vec::new();
            match self.form.method {
                TokenMethod::Get => query.extend(&grant),
                TokenMethod::Post => body.extend(&grant),
            }
            if creds_in_query {
                query.extend(&creds);
            }
            if creds_in_body {
                body.extend(&creds);
            }
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
        }

        let method = match self.form.method {
            TokenMethod::Get => reqwest::Method::GET,
            TokenMethod::Post => reqwest::Method::POST,
        };
        let mut request = client
            .request(method, url)
            .header(ACCEPT, "application/json");
        if self.form.method == TokenMethod::Post {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(body)
                .finish();
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encoded);
        }
        let mut request = request
            .build()
            .expect("a parsed URL and static headers always build");
        if self.form.mode.sends_basic()
            && !public
            && let Some(value) = self.basic_header()
        {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        request
    }

    /// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 section 2.3.1 says.
    fn basic_header(&self) -> Option<HeaderValue> {
        let id = self.client_id?;
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let secret = self
            .client_secret
            .map(|s| enc(s.expose_secret()))
            .unwrap_or_default();
        let raw = format!("{}:{}", enc(id), secret);
        let token = base64::engine::general_purpose::STANDARD.encode(raw);
        let mut value = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

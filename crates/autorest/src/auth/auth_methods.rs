//! The vendor's authentication methods that send a fixed credential with
//! every request: `Basic` (User and Password, RFC 7617) and `UrlParameter`
//! (an API key, SecurityToken, in the query parameter named by AuthParam).
//! Password and SecurityToken are secrets from parse time; the shared layer
//! masks both in any error a server's answer could carry them into.

use async_trait::async_trait;
use base64::Engine as _;
use connectkit_core::{AuthFlow, Error, Result, SecretString, StaticHeaderAuth};
use secrecy::ExposeSecret;
use std::fmt;

/// `Authorization: Basic base64(user:password)`.
pub(crate) fn basic(user: &str, password: &SecretString) -> Result<StaticHeaderAuth> {
    if user.contains(':') {
        return Err(Error::invalid_property(
            "User",
            "a user name without ':' (Basic authentication joins user and password with it)",
            Some(user),
        ));
    }
    let creds = base64::engine::general_purpose::STANDARD
        .encode(format!("{user}:{}", password.expose_secret()));
    StaticHeaderAuth::new(
        "Authorization",
        SecretString::from(format!("Basic {creds}")),
    )
}

/// Sends SecurityToken as the query parameter AuthParam of every request.
pub(crate) struct UrlParameterAuth {
    name: String,
    value: SecretString,
}

impl UrlParameterAuth {
    /// The flow for parameter `name` (AuthParam) carrying `value` (SecurityToken).
    pub fn new(name: &str, value: SecretString) -> Result<Self> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid_property(
                "AuthParam",
                "the name of the query parameter that carries SecurityToken",
                Some(name),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            value,
        })
    }
}

impl fmt::Debug for UrlParameterAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlParameterAuth")
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
    }
}

#[async_trait]
impl AuthFlow for UrlParameterAuth {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<()> {
        // Replaces a value a next link may have echoed, rather than send two.
        let url = request.url_mut();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| *k != self.name)
            .collect();
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair(&self.name, self.value.expose_secret());
        Ok(())
    }

    fn credential_query_param(&self) -> Option<&str> {
        Some(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_key_replaces_an_echoed_one_and_never_prints() {
        let flow = UrlParameterAuth::new("apikey", SecretString::from("K&1")).unwrap();
        let mut req = reqwest::Request::new(
            reqwest::Method::GET,
            "https://h/x?a=1&apikey=old".parse().unwrap(),
        );
        flow.authorize(&mut req).await.unwrap();
        assert_eq!(req.url().query(), Some("a=1&apikey=K%261"));
        assert!(!format!("{flow:?}").contains("K&1"));
        assert!(UrlParameterAuth::new(" ", SecretString::from("k")).is_err());
    }

    #[test]
    fn basic_refuses_a_colon_in_the_user() {
        let e = basic("a:b", &SecretString::from("pw")).unwrap_err();
        assert!(e.to_string().contains("User"), "{e}");
        let flow = basic("jsmith", &SecretString::from("pw")).unwrap();
        assert!(!format!("{flow:?}").contains("pw"));
    }
}

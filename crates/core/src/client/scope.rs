//! Where credentials may go: the origins a configuration names, https unless
//! the host is loopback.

use std::net::IpAddr;

use reqwest::Url;

use super::error::ApiError;
use super::http::display_url;

/// Whether `url`'s host is a loopback address (`localhost`, `127.0.0.0/8`,
/// `::1`), where plain http is acceptable for tests and labs.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The origins (scheme, host, port) that API requests may be sent to.
///
/// Built from what the configuration names (the connection URL's Sample,
/// ServiceURL or ServerName, the model file's URLs), never from a response:
/// a next link or redirect to any other origin is refused before anything is
/// sent there, so no credential can follow it.
#[derive(Debug, Clone, Default)]
pub struct CredentialScope {
    origins: Vec<url::Origin>,
}

impl CredentialScope {
    /// An empty scope: no request is allowed until an origin is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `url`'s origin. `property` names where the URL came from, for
    /// the error. When `credentials` is true (the connection's auth flow adds
    /// credentials to requests) the URL must be https unless it is loopback.
    pub fn allow(&mut self, url: &Url, property: &str, credentials: bool) -> Result<(), ApiError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ApiError::UnsupportedScheme {
                property: property.to_owned(),
                url: display_url(url),
            });
        }
        if credentials && url.scheme() == "http" && !is_loopback(url) {
            return Err(ApiError::InsecureHttp {
                property: property.to_owned(),
                url: display_url(url),
            });
        }
        let origin = url.origin();
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
        Ok(())
    }

    /// Whether requests to `url` are allowed.
    pub fn contains(&self, url: &Url) -> bool {
        let origin = url.origin();
        self.origins.contains(&origin)
    }

    /// Checks `url` against the scope; `what` says what named it (`"next
    /// page link"`, `"redirect"`, `"request"`) for the error.
    pub fn check(&self, url: &Url, what: &'static str) -> Result<(), ApiError> {
        if self.contains(url) {
            return Ok(());
        }
        Err(ApiError::ForeignOrigin {
            what,
            origin: url.origin().ascii_serialization(),
            allowed: self.describe(),
        })
    }

    fn describe(&self) -> String {
        if self.origins.is_empty() {
            return "none".to_owned();
        }
        self.origins
            .iter()
            .map(|o| o.ascii_serialization())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        for s in [
            "http://127.0.0.1:8080/",
            "http://127.9.9.9/",
            "http://[::1]/",
            "http://LOCALHOST/",
        ] {
            assert!(is_loopback(&u(s)), "{s}");
        }
        for s in [
            "http://10.0.0.1/",
            "http://localhost.evil.test/",
            "http://example.com/",
        ] {
            assert!(!is_loopback(&u(s)), "{s}");
        }
    }

    #[test]
    fn scope_rules() {
        let mut scope = CredentialScope::new();
        scope
            .allow(&u("https://api.example.com/v1/a"), "Sample", true)
            .unwrap();
        scope
            .allow(&u("http://127.0.0.1:9/x"), "Sample", true)
            .unwrap();
        let err = scope
            .allow(&u("http://api.example.com/v1"), "Sample", true)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "property Sample: http://api.example.com/v1 is plain http to a host that is not loopback; credentials are sent over https only"
        );
        scope
            .allow(&u("http://public.example.org/"), "Sample", false)
            .unwrap();
        assert!(scope.contains(&u("https://api.example.com/other?q=1")));
        assert!(!scope.contains(&u("https://api.example.com:8443/")));
        assert!(!scope.contains(&u("http://api.example.com/")));
        let err = scope
            .check(&u("https://evil.example.net/steal"), "next page link")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("next page link to https://evil.example.net is outside"),
            "{err}"
        );
        assert!(
            scope
                .allow(&u("ftp://x.example/"), "Sample", false)
                .is_err()
        );
    }
}

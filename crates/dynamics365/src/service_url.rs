//! ServiceURL: its parsing, and the default Scope derived from it.

use connectkit_core::client::is_loopback;
use url::Url;

use crate::error::Dynamics365Error;

/// The default Scope: `<origin of ServiceURL>/.default offline_access`, the
/// origin keeping scheme, host and any explicit port, with the `api.` label
/// dropped from `*.api.crm*.dynamics.com` hosts.
///
/// ```
/// # use url::Url;
/// let url = Url::parse("https://org.api.crm4.dynamics.com/api/data/v9.2/").unwrap();
/// assert_eq!(connectkit_dynamics365::default_scope(&url),
///            "https://org.crm4.dynamics.com/.default offline_access");
/// ```
pub fn default_scope(service_url: &Url) -> String {
    let host = service_url.host_str().unwrap_or_default();
    let mut labels: Vec<&str> = host.split('.').collect();
    if host.to_ascii_lowercase().ends_with(".dynamics.com")
        && let Some(i) = (1..labels.len().saturating_sub(1)).find(|&i| {
            labels[i].eq_ignore_ascii_case("api")
                && labels[i + 1].to_ascii_lowercase().starts_with("crm")
        })
    {
        labels.remove(i);
    }
    let port = service_url
        .port()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "{}://{}{port}/.default offline_access",
        service_url.scheme(),
        labels.join(".")
    )
}

/// Parses ServiceURL: an absolute https URL (http only on loopback hosts,
/// for tests), made to end in `/` so that entity sets resolve below it.
pub(crate) fn parse_service_url(text: &str) -> Result<Url, Dynamics365Error> {
    let bad = |m: String| Dynamics365Error::config("ServiceURL", m);
    let mut url = Url::parse(text.trim())
        .map_err(|e| bad(format!("expected an absolute URL ({e}): {text:?}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        s => return Err(bad(format!("expected an https URL, found scheme {s:?}"))),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!("expected no query or fragment: {text:?}")));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(u: &str) -> String {
        default_scope(&Url::parse(u).unwrap())
    }

    #[test]
    fn default_scopes() {
        assert_eq!(
            scope("https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/"),
            "https://mywebinstance.crm.dynamics.com/.default offline_access"
        );
        assert_eq!(
            scope("https://org.crm.dynamics.com/api/data/v9.2"),
            "https://org.crm.dynamics.com/.default offline_access"
        );
        assert_eq!(
            scope("http://127.0.0.1:8080/api/data/v9.2/"),
            "http://127.0.0.1:8080/.default offline_access"
        );
        assert_eq!(
            scope("https://api.example.com:8443/x"),
            "https://api.example.com:8443/.default offline_access"
        );
        assert_eq!(
            scope("https://org.api.example.dynamics.com/"),
            "https://org.api.example.dynamics.com/.default offline_access"
        );
    }

    #[test]
    fn service_urls() {
        let a = parse_service_url("https://h/api/data/v9.2").unwrap();
        let b = parse_service_url("https://h/api/data/v9.2/").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "https://h/api/data/v9.2/");
        assert!(parse_service_url("http://example.com/api/").is_err());
        assert!(parse_service_url("http://localhost:1/api").is_ok());
        assert!(parse_service_url("ftp://h/").is_err());
        assert!(parse_service_url("/relative").is_err());
        assert!(parse_service_url("https://h/api?x=1").is_err());
    }
}

//! A user's browser, as far as the authorize scenarios need one: cookies,
//! redirects (followed by hand, so cookies set on the way are kept, and the
//! last hop can be the `connectkit authorize` loopback listener), and the
//! submission of a server's own HTML form with its hidden fields.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use url::Url;

/// A page the browser ended on.
pub struct Page {
    /// Its URL, after redirects.
    pub url: Url,
    /// Its status.
    pub status: u16,
    /// Its body.
    pub body: String,
}

/// A cookie jar for one host and a client that follows no redirects itself.
pub struct Browser {
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Result<Self, String> {
        let client = connectkit_core::client::client_builder()
            .expect("TLS setup")
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            cookies: BTreeMap::new(),
        })
    }

    /// Opens `url`, following redirects.
    pub async fn get(&mut self, url: &str) -> Result<Page, String> {
        let url = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        self.go(reqwest::Method::GET, url, None).await
    }

    /// Submits the page's form (the first one, or the one whose tag holds
    /// `selector`) with its hidden fields and `fields`.
    pub async fn submit(
        &mut self,
        page: &Page,
        selector: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Result<Page, String> {
        let form = find_form(&page.body, selector).ok_or_else(|| {
            format!(
                "no form on {} (HTTP {}): {}",
                page.url,
                page.status,
                excerpt(&page.body)
            )
        })?;
        let action = match form.action.as_deref() {
            Some(a) if !a.is_empty() => page.url.join(a).map_err(|e| e.to_string())?,
            _ => page.url.clone(),
        };
        let mut all: Vec<(String, String)> = form
            .hidden
            .into_iter()
            .filter(|(k, _)| !fields.iter().any(|(f, _)| f == k))
            .collect();
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let body = serde_urlencoded::to_string(&all).map_err(|e| e.to_string())?;
        self.go(reqwest::Method::POST, action, Some(body)).await
    }

    async fn go(
        &mut self,
        mut method: reqwest::Method,
        mut url: Url,
        mut body: Option<String>,
    ) -> Result<Page, String> {
        for _ in 0..20 {
            let mut req = self.client.request(method.clone(), url.clone());
            if !self.cookies.is_empty() {
                let jar: Vec<String> = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                req = req.header(COOKIE, jar.join("; "));
            }
            if let Some(b) = &body {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("referer", url.as_str())
                    .body(b.clone());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("{method} {url}: {e}"))?;
            for c in resp.headers().get_all(SET_COOKIE) {
                let text = c.to_str().unwrap_or_default();
                if let Some((k, v)) = text.split(';').next().and_then(|kv| kv.split_once('=')) {
                    self.cookies
                        .insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
            let status = resp.status().as_u16();
            if (300..400).contains(&status)
                && let Some(loc) = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok())
            {
                url = url
                    .join(loc)
                    .map_err(|e| format!("redirect to {loc}: {e}"))?;
                if status != 307 && status != 308 {
                    method = reqwest::Method::GET;
                    body = None;
                }
                continue;
            }
            let body = resp.text().await.map_err(|e| e.to_string())?;
            return Ok(Page { url, status, body });
        }
        Err(format!("more than 20 redirects from {url}"))
    }
}

struct Form {
    action: Option<String>,
    hidden: Vec<(String, String)>,
}

/// The `(name, value)` of an attribute list's `name="value"` pairs.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&format!("{name}=\"")) {
        let start = from + i;
        let boundary = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
        let vstart = start + name.len() + 2;
        let vend = vstart + tag[vstart..].find('"')?;
        if boundary {
            return Some(unescape(&tag[vstart..vend]));
        }
        from = vend;
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn find_form(html: &str, selector: Option<&str>) -> Option<Form> {
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let after = &rest[i..];
        let tag_end = after.find('>')?;
        let tag = &after[..tag_end];
        let end = after.find("</form>").unwrap_or(after.len());
        if selector.is_none_or(|s| tag.contains(s)) {
            let inner = &after[tag_end..end];
            let hidden = inner
                .split("<input")
                .skip(1)
                .filter_map(|t| {
                    let t = &t[..t.find('>').unwrap_or(t.len())];
                    let hidden = attr(t, "type").is_some_and(|v| v.eq_ignore_ascii_case("hidden"));
                    hidden
                        .then(|| Some((attr(t, "name")?, attr(t, "value").unwrap_or_default())))?
                })
                .collect();
            return Some(Form {
                action: attr(tag, "action"),
                hidden,
            });
        }
        rest = &after[end.min(after.len())..];
        if end == after.len() {
            break;
        }
    }
    None
}

/// The start of a page, for messages.
pub fn excerpt(body: &str) -> String {
    body.chars()
        .take(300)
        .collect::<String>()
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_hidden_fields_and_actions() {
        let html = r#"<form id="x" action="/a?b=1&amp;c=2" method="post">
          <input type="hidden" name="csrf" value="t&amp;k"/><input type="text" name="login">
          <input type="hidden" name="prompt" value="login"/></form>
          <form id="other"><input type="hidden" name="z" value="9"></form>"#;
        let f = find_form(html, None).unwrap();
        assert_eq!(f.action.as_deref(), Some("/a?b=1&c=2"));
        assert_eq!(
            f.hidden,
            [
                ("csrf".into(), "t&k".into()),
                ("prompt".into(), "login".into())
            ]
        );
        let f = find_form(html, Some("other")).unwrap();
        assert_eq!(f.hidden, [("z".into(), "9".into())]);
        assert!(f.action.is_none());
    }
}

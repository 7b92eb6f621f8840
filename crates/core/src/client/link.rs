//! RFC 8288 `Link` headers: the `rel="next"` target, wherever it sits among
//! the links and whatever other relation types share its `rel`.

use reqwest::Url;
use reqwest::header::{HeaderMap, LINK};

/// The target of the first link with relation type `rel` in the `Link`
/// headers of a response (every header line, in order), resolved against
/// `base` (the request URL).
///
/// Parsing follows RFC 8288 appendix B (the `http-link` crate): relation
/// types are a space-separated, case-insensitive list, so `rel="next last"`
/// is a next link; commas and semicolons inside `<...>` belong to the URL.
/// A header that cannot be parsed is an error rather than "no next page",
/// which would end a scan early without a word.
pub fn link_target(headers: &HeaderMap, base: &Url, rel: &str) -> Result<Option<Url>, String> {
    for value in headers.get_all(LINK) {
        let text = value
            .to_str()
            .map_err(|_| "a Link header that is not visible ASCII".to_owned())?;
        let links = http_link::parse_link_header(text, base)
            .map_err(|e| format!("a Link header that is not RFC 8288 ({e})"))?;
        if let Some(link) = links.into_iter().find(|l| l.rel.eq_ignore_ascii_case(rel)) {
            return Ok(Some(link.target));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn next(values: &[&str]) -> Result<Option<String>, String> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, HeaderValue::from_str(v).unwrap());
        }
        let base = Url::parse("http://h/items?_page=1").unwrap();
        link_target(&h, &base, "next").map(|u| u.map(String::from))
    }

    fn some(s: &str) -> Result<Option<String>, String> {
        Ok(Some(s.to_owned()))
    }

    #[test]
    fn next_anywhere() {
        let first = r#"<http://h/items?_page=2&_limit=10>; rel="next", <http://h/items?_page=1&_limit=10>; rel="first", <http://h/items?_page=5&_limit=10>; rel="last""#;
        assert_eq!(next(&[first]), some("http://h/items?_page=2&_limit=10"));
        let middle = r#"<http://h/a?p=1>; rel="first", <http://h/a?p=3>; rel="next", <http://h/a?p=9>; rel="last""#;
        assert_eq!(next(&[middle]), some("http://h/a?p=3"));
        let last = r#"<http://h/a?p=1>; rel="prev", <http://h/a?p=3>; rel=next"#;
        assert_eq!(next(&[last]), some("http://h/a?p=3"));
        let several = r#"<http://h/a?p=9>; rel="next last""#;
        assert_eq!(next(&[several]), some("http://h/a?p=9"));
        let odd = r#"<http://h/a?x=1,2;y=3&p=2>; rel="NEXT"; title="a, b; c""#;
        assert_eq!(next(&[odd]), some("http://h/a?x=1,2;y=3&p=2"));
        assert_eq!(
            next(&[r#"</items?_page=2>; rel="next""#]),
            some("http://h/items?_page=2")
        );
        assert_eq!(next(&[r#"<http://h/a?p=1>; rel="prev""#]), Ok(None));
        assert_eq!(next(&[]), Ok(None));
        assert!(next(&["garbage"]).is_err());
        let two_lines = [
            r#"<http://h/a?p=1>; rel="first""#,
            r#"<http://h/a?p=2>; rel="next""#,
        ];
        assert_eq!(next(&two_lines), some("http://h/a?p=2"));
    }
}

//! ProxyHost and its companions: every request of the connection goes to
//! the proxy (here a wiremock server on 127.0.0.1 playing a plain-http
//! forward proxy), which receives the absolute URL and the proxy
//! credentials; the origin never receives them.

use std::sync::Arc;

use base64::Engine;
use connectkit_core::client::{ApiClient, ClientOptions, CredentialScope, Fetched, HttpRules};
use connectkit_core::{ConnectionUrl, ErrorKind, NoAuth, PropertySpec};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CATALOGUE: &[PropertySpec] =
    &[PropertySpec::new("WSTimeout", "seconds").default_value("120")];

/// A port nothing listens on: only the proxy can answer for it.
fn unreachable_origin() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn client(props: &str, origin: &str) -> ApiClient {
    let props = format!("x:{props}")
        .parse::<ConnectionUrl>()
        .unwrap()
        .into_parts()
        .1;
    let http = ClientOptions::from_properties(&props, CATALOGUE)
        .unwrap()
        .api_client()
        .unwrap();
    let mut scope = CredentialScope::new();
    scope
        .allow(&reqwest::Url::parse(origin).unwrap(), "Sample", true)
        .unwrap();
    ApiClient::new(http, Arc::new(NoAuth), scope)
}

async fn get(c: &ApiClient, url: &str) -> connectkit_core::Result<Fetched> {
    let req = reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
    c.fetch(req, &HttpRules::standard()).await
}

#[tokio::test]
async fn requests_go_through_the_proxy_with_its_credentials_only() {
    let proxy = MockServer::builder().start().await;
    Mock::given(path("/v1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": 1}])))
        .expect(1)
        .mount(&proxy)
        .await;
    let origin = unreachable_origin();
    let port = proxy.address().port();
    let c = client(
        &format!("ProxyHost=127.0.0.1;ProxyPort={port};ProxyUser=alice;ProxyPassword=s3cr3t-pw"),
        &origin,
    );
    let Fetched::Body(body) = get(&c, &format!("{origin}/v1/items")).await.unwrap() else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, br#"[{"id":1}]"#);
    let received = proxy.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    // The proxy got the origin's absolute URL and the proxy credentials.
    assert_eq!(received[0].url.as_str(), format!("{origin}/v1/items"));
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cr3t-pw")
    );
    assert_eq!(
        received[0].headers["proxy-authorization"],
        expected.as_str()
    );
    assert!(!received[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_proxy_refusing_the_login_is_an_authentication_error_naming_the_properties() {
    let proxy = MockServer::builder().start().await;
    // A proxy whose error page echoes the login it was sent.
    let login = base64::engine::general_purpose::STANDARD.encode("alice:wrong-pw");
    Mock::given(path("/v1/items"))
        .respond_with(
            ResponseTemplate::new(407)
                .insert_header("proxy-authenticate", "Basic realm=\"corp\"")
                .set_body_string(format!(
                    "<p>Proxy-Authorization: Basic {login}</p><p>user alice, password wrong-pw</p>"
                )),
        )
        .mount(&proxy)
        .await;
    let origin = unreachable_origin();
    let port = proxy.address().port();
    let c = client(
        &format!("ProxyHost=127.0.0.1;ProxyPort={port};ProxyUser=alice;ProxyPassword=wrong-pw"),
        &origin,
    );
    let e = get(&c, &format!("{origin}/v1/items")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.kind().exit_code(), 3);
    assert_eq!(e.status(), Some(407));
    let text = format!("{} {e:?}", connectkit_core::Report(&e));
    assert!(text.contains("ProxyUser and ProxyPassword"), "{text}");
    assert!(!text.contains("wrong-pw"), "{text}");
    assert!(!text.contains(&login), "{text}");
}

#[test]
fn proxy_properties_are_checked_and_the_password_never_printed() {
    let parse = |s: &str| {
        let props = format!("x:{s}")
            .parse::<ConnectionUrl>()
            .unwrap()
            .into_parts()
            .1;
        ClientOptions::from_properties(&props, CATALOGUE)
    };
    let e = parse("ProxyHost=proxy.corp").unwrap_err();
    assert_eq!(e.to_string(), "missing required property ProxyPort");
    let e = parse("ProxyHost=proxy.corp;ProxyPort=http").unwrap_err();
    assert!(e.to_string().contains("ProxyPort"), "{e}");
    let e = parse("ProxyUser=alice").unwrap_err();
    assert!(
        e.to_string().contains("ProxyUser") && e.to_string().contains("ProxyHost"),
        "{e}"
    );
    let e = parse("ProxyHost=proxy.corp;ProxyPort=3128;ProxyPassword=pw-123").unwrap_err();
    assert_eq!(e.to_string(), "missing required property ProxyUser");
    assert!(!format!("{e:?}").contains("pw-123"));
    let ok =
        parse("ProxyHost=http://proxy.corp:3128;ProxyUser=alice;ProxyPassword=pw-123").unwrap();
    let shown = format!("{ok:?}");
    assert!(
        shown.contains("proxy.corp") && !shown.contains("pw-123"),
        "{shown}"
    );
}

//! Bad inputs: each a clear error naming the thing at fault.

use connectkit_autorest::{AutoRestDataSource, AutoRestError};
use connectkit_core::{Connector, ErrorKind, Registry, ScanRequest};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{fixtures, model_text, rows};

#[tokio::test]
async fn a_malformed_json_page() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"data": [{"id": 1},"#, "application/json"),
        )
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", server.uri()))
        .build()
        .unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    let msg = e.to_string();
    assert!(
        msg.contains("/items: the response is not JSON (application/json: EOF while parsing"),
        "{msg}"
    );
}

/// A mistyped endpoint is `NotFound` with its status, matchable without
/// downcasting, and the request reached the server once (404 is not retried).
#[tokio::test]
async fn a_missing_endpoint_is_not_found_with_its_status() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/nothing-here"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/nothing-here", server.uri()))
        .build()
        .unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.kind().exit_code(), 4);
    assert!(e.oauth_code().is_none());
}

#[tokio::test]
async fn an_html_page_with_200() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>",
            "text/html; charset=utf-8",
        ))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items?key=s3cr3t", server.uri()))
        .build()
        .unwrap();
    let msg = c.tables().await.unwrap_err().to_string();
    assert!(
        msg.contains("/items: the response is not JSON (text/html; charset=utf-8:"),
        "{msg}"
    );
    assert!(msg.contains("<title>Sign in</title>"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
}

#[tokio::test]
async fn a_model_file_with_a_typo_in_a_paging_key() {
    let path = fixtures().join("autorest/models/bad_paging_key.rest");
    let e = AutoRestDataSource::new()
        .config(path.to_str().unwrap())
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(
        e.to_string(),
        "model file: unknown key #maximumPageSzie in orders (did you mean #maximumPageSize?)"
    );
}

#[tokio::test]
async fn a_column_value_that_cannot_be_cast() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "age": 31, "born": "1995-02-03"},
            {"id": 2, "age": "thirty", "born": "1996-05-06"}
        ])))
        .mount(&server)
        .await;
    let model = model_text(
        r##"{"people": {"#path": "https://api.example.com/people", "id": "Integer,#key", "age": "SmallInt", "born": "Date"}}"##,
        "rest",
        &server,
    );
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let e = rows(&c, "people", ScanRequest::new()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"table people, column age, row 2 (page /people): expected SmallInt, found a string: "thirty""#
    );
    assert!(matches!(
        e.downcast_ref::<AutoRestError>(),
        Some(AutoRestError::Cast { row: 2, .. })
    ));
}

#[tokio::test]
async fn config_and_sample_both_or_neither() {
    let e = AutoRestDataSource::new()
        .config("m.rest")
        .sample("https://h/x")
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "set exactly one of Config and Sample (both are set)"
    );
    assert_eq!(e.kind(), ErrorKind::Config);
    let e = AutoRestDataSource::new().build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "set exactly one of Config and Sample (neither is set)"
    );
}

#[tokio::test]
async fn bad_properties_through_the_registry() {
    let mut registry = Registry::new();
    connectkit_autorest::register(&mut registry);
    let e = registry
        .connect("autorest:Sample=https://h/x;AuthenticationMethod=NTLM")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "property AuthenticationMethod: unsupported value \"NTLM\"; supported: None, OAuth2-RefreshToken, OAuth2-ClientCredentials, OAuth2-JWTBearer, OAuth2, HttpHeader, BearerToken, Basic, UrlParameter"
    );
    let e = registry
        .connect("autorest:Sample=https://h/x;Tabel=t")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown property Tabel (did you mean Table?)"
    );
    // Client credentials need the secret; the refresh grant of a public
    // client (RFC 8252) does not.
    let e = registry
        .connect("autorest:Sample=https://h/x;AuthenticationMethod=OAuth2-ClientCredentials;ClientID=a;TokenURI=https://t/x")
        .unwrap_err();
    assert!(e.to_string().contains("ClientSecret"), "{e}");
    registry
        .connect("autorest:Sample=https://h/x;AuthenticationMethod=OAuth2;ClientID=a;RefreshToken=r;TokenURI=https://t/x")
        .unwrap();
    let e = registry
        .connect("autorest:Sample=https://h/x;WSTimeout=soon")
        .unwrap_err();
    assert!(e.to_string().contains("WSTimeout"), "{e}");
    let e = registry
        .connect("autorest:Config=/nonexistent/m.rest")
        .unwrap_err();
    assert!(
        e.to_string().starts_with("model file /nonexistent/m.rest:"),
        "{e}"
    );
}

#[tokio::test]
async fn http_header_and_bearer_token_methods_send_their_header() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", server.uri()))
        .authentication_method("HttpHeader")
        .auth_header("X-Api-Key")
        .security_token("k-123")
        .build()
        .unwrap();
    assert!(!format!("{c:?}").contains("k-123"));
    c.tables().await.unwrap();
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", server.uri()))
        .authentication_method("BearerToken")
        .security_token("b-456")
        .build()
        .unwrap();
    c.tables().await.unwrap();
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent[0].headers["x-api-key"], "k-123");
    assert_eq!(sent[1].headers["authorization"], "Bearer b-456");
}

/// `AuthenticationMethod=OAuth2` with an AccessToken alone: the token is
/// sent until the API rejects it, then an authentication error says it
/// cannot be renewed (no token endpoint is needed or asked).
#[tokio::test]
async fn an_access_token_alone_is_used_until_rejected() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer at-alone",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    let alone = |token: &str| {
        AutoRestDataSource::new()
            .sample(format!("{}/items", server.uri()))
            .authentication_method("OAuth2")
            .access_token(token)
            .build()
            .unwrap()
    };
    assert_eq!(alone("at-alone").tables().await.unwrap()[0].name, "items");
    let e = alone("at-old").tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.to_string().contains("cannot be renewed"), "{e}");
    assert!(!format!("{e} {e:?}").contains("at-old"));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

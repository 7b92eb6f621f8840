//! AuthenticationMethod Basic (User, Password) and UrlParameter (AuthParam,
//! SecurityToken), as the vendor documents them: what the server receives,
//! and the secret never shown, even when the server echoes it.

use base64::Engine as _;
use connectkit_autorest::{AutoRestConnector, AutoRestDataSource};
use connectkit_core::{ConnectionUrl, ScanRequest};
use serde_json::json;
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{ids, model_text, requests_to, rows};

const MODEL: &str =
    r##"{"items": {"#path": "https://api.example.com/items", "id": "Integer,#key"}}"##;

fn from_url(url: &str) -> AutoRestConnector {
    let (_, props) = url.parse::<ConnectionUrl>().unwrap().into_parts();
    AutoRestDataSource::from_properties(&props)
        .unwrap()
        .build()
        .unwrap()
}

/// Every spelling of a secret that must not appear.
fn spellings(secret: &str) -> Vec<String> {
    vec![
        secret.to_owned(),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
    ]
}

#[tokio::test]
async fn url_parameter_sends_the_key_as_the_named_parameter() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .and(query_param("apikey", "XaBARTsLZReM"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}, {"id": 2}])))
        .mount(&server)
        .await;
    let model = model_text(MODEL, "rest", &server);
    // The vendor's own example, its model file pointed at the mock.
    let c = from_url(&format!(
        "jdbc:datadirect:autorest:AuthenticationMethod=UrlParameter;AuthParam=apikey;\nConfig={};SecurityToken=XaBARTsLZReM;User=jsmith;",
        model.path().display()
    ));
    let got = rows(&c, "items", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [1, 2]);
    let sent = requests_to(&server, "/items").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.query(), Some("apikey=XaBARTsLZReM"));
    assert!(sent[0].headers.get("authorization").is_none());
    assert!(!format!("{c:?}").contains("XaBARTsLZReM"));
}

#[tokio::test]
async fn an_echoed_api_key_is_masked_in_errors() {
    let server = MockServer::builder().start().await;
    let key = "k3y/with+special&chars";
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!(
            "invalid key {key} (raw) or {} (encoded) for /items?apikey={}",
            url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
        )))
        .mount(&server)
        .await;
    let model = model_text(MODEL, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .authentication_method("UrlParameter")
        .auth_param("apikey")
        .security_token(key)
        .build()
        .unwrap();
    let e = rows(&c, "items", ScanRequest::new()).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(
        shown.contains("HTTP 500") && shown.contains("invalid key"),
        "{shown}"
    );
    for s in spellings(key) {
        assert!(!shown.contains(&s), "{s} in {shown}");
    }
}

#[tokio::test]
async fn basic_sends_user_and_password_and_masks_an_echo() {
    let server = MockServer::builder().start().await;
    let creds = base64::engine::general_purpose::STANDARD.encode("jsmith:s3cr3t pw");
    Mock::given(path("/items"))
        .and(header("authorization", format!("Basic {creds}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 7}])))
        .mount(&server)
        .await;
    Mock::given(path("/echo"))
        .respond_with(
            ResponseTemplate::new(403).set_body_string("user jsmith password s3cr3t pw refused"),
        )
        .mount(&server)
        .await;
    let text = r##"{"items": {"#path": "https://api.example.com/items", "id": "Integer,#key"},
                   "echo": {"#path": "https://api.example.com/echo", "id": "Integer,#key"}}"##;
    let model = model_text(text, "rest", &server);
    let c = from_url(&format!(
        "autorest:AuthenticationMethod=Basic;User=jsmith;Password='s3cr3t pw';Config={}",
        model.path().display()
    ));
    assert_eq!(
        ids(&rows(&c, "items", ScanRequest::new()).await.unwrap()),
        [7]
    );
    let e = rows(&c, "echo", ScanRequest::new()).await.unwrap_err();
    let shown = format!("{e} {e:?} {c:?}");
    assert!(shown.contains("HTTP 403"), "{shown}");
    for s in spellings("s3cr3t pw").into_iter().chain([creds.clone()]) {
        assert!(!shown.contains(&s), "{s} in {shown}");
    }
}

#[test]
fn missing_properties_are_named() {
    let err = |url: &str| {
        let (_, props) = url.parse::<ConnectionUrl>().unwrap().into_parts();
        AutoRestDataSource::from_properties(&props)
            .unwrap()
            .build()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("autorest:Sample=https://h/x;AuthenticationMethod=Basic;Password=p"),
        "AuthenticationMethod Basic needs property User"
    );
    assert_eq!(
        err("autorest:Sample=https://h/x;AuthenticationMethod=Basic;User=u"),
        "AuthenticationMethod Basic needs property Password"
    );
    assert_eq!(
        err("autorest:Sample=https://h/x;AuthenticationMethod=UrlParameter;SecurityToken=k"),
        "AuthenticationMethod UrlParameter needs property AuthParam"
    );
    assert_eq!(
        err("autorest:Sample=https://h/x;AuthenticationMethod=urlparameter;AuthParam=key"),
        "AuthenticationMethod urlparameter needs property SecurityToken"
    );
}

#[tokio::test]
async fn a_key_echoed_into_a_next_link_is_replaced_and_never_shown() {
    let server = MockServer::builder().start().await;
    let key = "echoed-k3y";
    let next = format!("{}/items?page=2&apikey={key}", server.uri());
    Mock::given(path("/items"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("bad key {key}")))
        .mount(&server)
        .await;
    Mock::given(path("/items"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1}], "next": next})),
        )
        .mount(&server)
        .await;
    let text = r##"{"items": {"#path": "https://api.example.com/items /data",
        "#nextPageElement": "next", "id": "Integer,#key"}}"##;
    let model = model_text(text, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .authentication_method("UrlParameter")
        .auth_param("apikey")
        .security_token(key)
        .build()
        .unwrap();
    let e = rows(&c, "items", ScanRequest::new()).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("HTTP 500"), "{shown}");
    assert!(!shown.contains(key), "{shown}");
    let sent = requests_to(&server, "/items").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].url.query(), Some(&*format!("page=2&apikey={key}")));
}

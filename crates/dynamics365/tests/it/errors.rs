//! Error statuses and bodies from the API.

use connectkit_core::client::ApiError;
use connectkit_core::{Connector, ErrorKind, ScanRequest};

use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

#[tokio::test]
async fn an_odata_error_body_surfaces_code_and_message() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let message =
        "Could not find a property named 'nmae' on type 'Microsoft.Dynamics.CRM.account'.";
    Mock::given(path(ACCOUNTS))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"code": "0x80060888", "message": message}})))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    let err = scan_all(&c, "accounts", ScanRequest::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.code(), "api.status");
    assert!(
        matches!(
            err.downcast_ref(),
            Some(ApiError::Status { status: 400, .. })
        ),
        "{err:?}"
    );
    let accounts = format!("{}accounts", service_url(&server));
    let expected = format!("GET {accounts}: HTTP 400: 0x80060888: {message}");
    assert_eq!(err.to_string(), expected);
}

#[tokio::test]
async fn other_error_bodies_give_status_and_a_short_excerpt() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    let html = format!(
        "<html><body>{}</body></html>",
        "Service Unavailable ".repeat(50)
    );
    Mock::given(path(BASE_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string(html))
        .mount(&server)
        .await;
    let err = connector(&server).tables().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    match err.downcast_ref() {
        Some(ApiError::Status {
            status: 500,
            url,
            detail,
            ..
        }) => {
            assert_eq!(url, &service_url(&server));
            assert!(
                detail.starts_with("<html><body>Service") && detail.len() < 210,
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_service_document_that_is_not_odata_is_a_protocol_error() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    Mock::given(path(BASE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("[1, 2]"))
        .mount(&server)
        .await;
    let err = connector(&server).tables().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.to_string().starts_with("service document: "), "{err}");
}

#[tokio::test]
async fn a_value_that_does_not_fit_its_column_names_it() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let body = served(&server, "accounts_page3.json").replace(
        "\"numberofemployees\": 1,",
        "\"numberofemployees\": \"many\",",
    );
    Mock::given(path(ACCOUNTS))
        .respond_with(json(body))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = scan_all(&connector(&server), "accounts", ScanRequest::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "table accounts, column numberofemployees: many is not an integer in range"
    );
}

#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let s = source(&server);
    let c = s.clone().build().unwrap();
    c.tables().await.unwrap();
    let text = format!("{s:?} {c:?} {:?} {:?}", c.auth_flow(), s.properties());
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "at-1"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

/// `WSTimeout` bounds each request here as in every connector: a service
/// document that takes 3 s fails after 1 s as a transport timeout.
#[tokio::test]
async fn ws_timeout_bounds_each_request() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    Mock::given(path(BASE_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"value": []}"#)
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = source(&server).property("WSTimeout", "1").build().unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[test]
fn ws_timeout_must_be_whole_seconds() {
    let server_url = "https://org.api.crm.dynamics.com/api/data/v9.2/";
    let e = connectkit_dynamics365::Dynamics365DataSource::new()
        .service_url(server_url)
        .client_id("id")
        .client_secret("secret")
        .refresh_token("rt")
        .token_uri("https://login.microsoftonline.com/t/oauth2/v2.0/token")
        .property("WSTimeout", "soon")
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("WSTimeout"), "{e}");
}

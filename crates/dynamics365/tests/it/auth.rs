//! 401 from the API: the grant refreshes once and the request is retried.

use connectkit_core::{ErrorKind, ScanRequest};

use wiremock::matchers::{header as header_is, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

#[tokio::test]
async fn a_401_on_page_two_refreshes_once_and_the_scan_completes() {
    let server = MockServer::builder().start().await;
    let issuer = mount_all(&server).await;
    // The first token expires between page 1 and page 2.
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(query_param("$skiptoken", skiptoken(2).as_str()))
        .and(header_is("authorization", "Bearer at-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": {"code": "0x80040220", "message": "token expired"}})))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert_eq!(issuer.count(), 2, "one refresh");

    let seen: Vec<_> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .map(|r| {
            (
                skiptoken_of(r),
                header(r, "authorization").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (None, "Bearer at-1".to_owned()),
            (Some(skiptoken(2)), "Bearer at-1".to_owned()),
            (Some(skiptoken(2)), "Bearer at-2".to_owned()),
            (Some(skiptoken(3)), "Bearer at-2".to_owned()),
        ]
    );
    // The retried request is the same request, Prefer header included.
    let retried = &requests_to(&server, ACCOUNTS).await[2];
    assert_eq!(header(retried, "prefer"), Some("odata.maxpagesize=5000"));
}

#[tokio::test]
async fn an_api_that_keeps_answering_401_is_an_auth_error() {
    let server = MockServer::builder().start().await;
    let issuer = mount_token(&server, "/token").await;
    Mock::given(path(BASE_PATH))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let err = connector(&server).tables().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(
        matches!(
            err.downcast_ref(),
            Some(connectkit_core::client::ApiError::Unauthorized { status: 401, .. })
        ),
        "{err:?}"
    );
    assert_eq!(issuer.count(), 2);
    assert_eq!(requests_to(&server, BASE_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_refused_refresh_token_is_an_auth_error_without_secrets() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant",
            "error_description": "AADSTS70008: The refresh token has expired."})))
        .mount(&server)
        .await;
    mount_api(&server).await;
    let err = connector(&server).tables().await.unwrap_err();
    // Matchable through the connector, without downcasting.
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(
        err.oauth_code(),
        Some(&connectkit_core::OAuthErrorCode::InvalidGrant)
    );
    assert_eq!(err.status(), Some(400));
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("invalid_grant") || text.contains("expired"),
        "{text}"
    );
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains(REFRESH_TOKEN),
        "{text}"
    );
    assert!(requests_to(&server, BASE_PATH).await.is_empty());
}

/// An AccessToken given alone (no ClientID, secret or refresh token) is
/// sent as it is; when the API rejects it, the error is an authentication
/// error saying it cannot be renewed, after one request and no grant.
#[tokio::test]
async fn an_access_token_alone_is_used_until_rejected() {
    let server = MockServer::builder().start().await;
    Mock::given(path(BASE_PATH))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer at-alone-1",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "value": [{"name": "accounts", "kind": "EntitySet", "url": "accounts"}]})))
        .mount(&server)
        .await;
    // Any other token: rejected.
    Mock::given(path(BASE_PATH))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    let alone = |token: &str| {
        connectkit_dynamics365::Dynamics365DataSource::new()
            .service_url(service_url(&server))
            .property("AccessToken", token)
            .build()
            .unwrap()
    };
    let tables = alone("at-alone-1").tables().await.unwrap();
    assert_eq!(tables[0].name, "accounts");

    let err = alone("at-expired").tables().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    let text = format!("{} {err:?}", connectkit_core::Report(&err));
    assert!(text.contains("cannot be renewed"), "{text}");
    assert!(!text.contains("at-expired"), "{text}");
    // One request each, and no token endpoint was ever asked.
    assert_eq!(requests_to(&server, BASE_PATH).await.len(), 2);
    assert!(requests_to(&server, "/token").await.is_empty());
}

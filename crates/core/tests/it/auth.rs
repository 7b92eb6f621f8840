use std::sync::Arc;

use connectkit_core::client::{ApiClient, ApiError, CredentialScope, Fetched, HttpRules};
use connectkit_core::{AuthFlow, NoAuth, SecretString, StaticHeaderAuth};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The client a connector builds: `auth` on requests to `base`'s origin only.
fn api_client(base: &str, auth: impl AuthFlow + 'static) -> ApiClient {
    let mut scope = CredentialScope::new();
    scope.allow(&base.parse().unwrap(), "Sample", true).unwrap();
    let http = connectkit_core::client::api_client_builder(None)
        .unwrap()
        .build()
        .unwrap();
    ApiClient::new(http, Arc::new(auth), scope)
}

async fn get(client: &ApiClient, url: String) -> connectkit_core::Result<Fetched> {
    let request = reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
    client.fetch(request, &HttpRules::standard()).await
}

fn status(fetched: Fetched) -> u16 {
    match fetched {
        Fetched::Body(b) => b.status,
        _ => panic!("an answer without a body"),
    }
}

#[tokio::test]
async fn static_header_is_sent_with_every_request() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/x"))
        .and(header("X-Tenant", "t-123"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&server)
        .await;
    let flow = StaticHeaderAuth::new("X-Tenant", SecretString::from("t-123")).unwrap();
    let client = api_client(&server.uri(), flow);
    for _ in 0..2 {
        let fetched = get(&client, format!("{}/x", server.uri())).await.unwrap();
        assert_eq!(status(fetched), 200);
    }
}

#[tokio::test]
async fn bearer_flow_and_no_auth() {
    let server = MockServer::builder().start().await;
    Mock::given(header("Authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let client = connectkit_core::client::http_client().expect("HTTP client");
    let flow = StaticHeaderAuth::bearer(SecretString::from("tok")).unwrap();
    let mut req = client.get(server.uri()).build().unwrap();
    flow.authorize(&mut req).await.unwrap();
    assert_eq!(client.execute(req).await.unwrap().status(), 200);

    let mut req = client.get(server.uri()).build().unwrap();
    NoAuth.authorize(&mut req).await.unwrap();
    assert!(req.headers().is_empty());
    assert_eq!(client.execute(req).await.unwrap().status(), 404);
    assert_eq!(NoAuth.refresh_now().await.unwrap(), None);
}

#[tokio::test]
async fn unauthorized_is_retried_once_then_an_error() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let client = api_client(&server.uri(), NoAuth);
    let err = get(&client, server.uri()).await.unwrap_err();
    assert_eq!(err.code(), "api.unauthorized");
    assert!(
        matches!(
            err.downcast_ref::<ApiError>(),
            Some(ApiError::Unauthorized { status: 401, .. })
        ),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[test]
fn invalid_header_name_names_auth_header() {
    let err = StaticHeaderAuth::new("Bad Header", SecretString::from("x")).unwrap_err();
    assert!(err.to_string().contains("AuthHeader"), "{err}");
}

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_host() {
    let api = MockServer::builder().start().await;
    let elsewhere = MockServer::builder().start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    Mock::given(path("/moved"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/stolen", elsewhere.uri())),
        )
        .mount(&api)
        .await;
    Mock::given(path("/here"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/there"))
        .mount(&api)
        .await;
    Mock::given(path("/there"))
        .and(header("X-Key", "k-1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let flow = StaticHeaderAuth::new("X-Key", SecretString::from("k-1")).unwrap();
    let client = api_client(&api.uri(), flow);

    let err = get(&client, format!("{}/moved", api.uri()))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        "api.foreign_origin",
        "a cross-host redirect is not followed: {err}"
    );
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the other host received nothing"
    );

    let fetched = get(&client, format!("{}/here", api.uri())).await.unwrap();
    assert_eq!(
        status(fetched),
        200,
        "a same-origin redirect is followed with its credentials"
    );
}

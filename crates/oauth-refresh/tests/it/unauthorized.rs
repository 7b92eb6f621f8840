use std::sync::Arc;

use connectkit_core::client::{ApiClient, CredentialScope, Fetched, HttpRules};
use connectkit_oauth_refresh::RefreshTokenFlow;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{CountingIssuer, api_accepting, builder};

/// The two ways API requests carry the flow's token.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// A connector's `ApiClient`, with the flow as its `AuthFlow`.
    ApiClient,
    /// The reqwest-middleware layer (`api_client`).
    Middleware,
}

const VIAS: [Via; 2] = [Via::ApiClient, Via::Middleware];

/// GETs `url` with `flow` `via` one path: the answer's status, or the
/// `ApiClient`'s error.
async fn get(via: Via, flow: RefreshTokenFlow, url: &str) -> Result<u16, connectkit_core::Error> {
    match via {
        Via::ApiClient => {
            let url: reqwest::Url = url.parse().unwrap();
            let mut scope = CredentialScope::new();
            scope.allow(&url, "Sample", true).unwrap();
            let http = connectkit_core::client::api_client_builder(None)
                .unwrap()
                .build()
                .unwrap();
            let client = ApiClient::new(http, Arc::new(flow), scope);
            let request = reqwest::Request::new(reqwest::Method::GET, url);
            match client.fetch(request, &HttpRules::standard()).await? {
                Fetched::Body(body) => Ok(body.status),
                _ => panic!("an answer without a body"),
            }
        }
        Via::Middleware => {
            let client = connectkit_oauth_refresh::api_client(flow, None).unwrap();
            Ok(client.get(url).send().await.unwrap().status().as_u16())
        }
    }
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    for via in VIAS {
        let server = MockServer::builder().start().await;
        let issuer = CountingIssuer {
            expires_in: 3600,
            ..Default::default()
        };
        issuer.mount(&server).await;
        api_accepting(&server, "at-2").await; // at-1 is rejected
        let flow = builder(&server, "").build().unwrap();
        let status = get(via, flow, &format!("{}/api", server.uri()))
            .await
            .unwrap();
        assert_eq!(status, 200, "{via:?}");
        assert_eq!(issuer.count(), 2, "{via:?}");
        let api_calls: Vec<_> = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/api")
            .collect();
        let sent: Vec<_> = api_calls
            .iter()
            .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
            .collect();
        assert_eq!(sent, ["Bearer at-1", "Bearer at-2"], "{via:?}");
    }
}

#[tokio::test]
async fn a_second_401_is_not_looped() {
    for via in VIAS {
        let server = MockServer::builder().start().await;
        let issuer = CountingIssuer {
            expires_in: 3600,
            ..Default::default()
        };
        issuer.mount(&server).await;
        api_accepting(&server, "never").await;
        let flow = builder(&server, "").build().unwrap();
        let outcome = get(via, flow, &format!("{}/api", server.uri())).await;
        match via {
            // The connector's client reports it as an error ...
            Via::ApiClient => {
                let err = outcome.unwrap_err();
                assert_eq!(err.code(), "api.unauthorized", "{err}");
                assert_eq!(err.status(), Some(401));
            }
            // ... the middleware returns the answer to its caller.
            Via::Middleware => assert_eq!(outcome.unwrap(), 401),
        }
        assert_eq!(issuer.count(), 2, "{via:?}");
        let api_calls = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/api")
            .count();
        assert_eq!(api_calls, 2, "{via:?}");
    }
}

#[tokio::test]
async fn middleware_authorizes_adds_auth_header_and_retries_once() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer at-2"))
        .and(header("x-tenant", "tenant-42"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    let flow = builder(&server, "")
        .auth_header("X-Tenant", "tenant-42")
        .unwrap()
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(
        connectkit_core::client::http_client().expect("HTTP client"),
    )
    .with(flow)
    .build();
    let resp = client
        .get(format!("{}/api", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(issuer.count(), 2);
}

/// Issue 13 item 10: the crate's ready client never carries AuthHeader (or
/// the bearer token) to another origin on a redirect.
#[tokio::test]
async fn the_ready_client_does_not_follow_a_cross_origin_redirect() {
    let api = MockServer::builder().start().await;
    let elsewhere = MockServer::builder().start().await;
    crate::CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    }
    .mount(&api)
    .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/steal", elsewhere.uri())),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/same"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/items-moved"))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/items-moved"))
        .and(wiremock::matchers::header("x-tenant-key", "tenant-s3cret"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let flow = builder(&api, "POST ")
        .auth_header("X-Tenant-Key", "tenant-s3cret")
        .unwrap()
        .build()
        .unwrap();
    let client = connectkit_oauth_refresh::api_client(flow, None).unwrap();
    let resp = client
        .get(format!("{}/items", api.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        302,
        "the cross-origin redirect is returned, not followed"
    );
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the other origin received nothing"
    );
    // A same-origin redirect is still followed, headers and all.
    let resp = client
        .get(format!("{}/same", api.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

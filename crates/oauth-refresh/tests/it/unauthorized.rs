use connectkit_core::client::send_authorized;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{CountingIssuer, api_accepting, builder};

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    api_accepting(&server, "at-2").await; // at-1 is rejected
    let flow = builder(&server, "").build().unwrap();
    let client = connectkit_core::client::http_client().expect("HTTP client");
    let req = client.get(format!("{}/api", server.uri())).build().unwrap();
    let resp = send_authorized(&client, &flow, req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(issuer.count(), 2);
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
    assert_eq!(sent, ["Bearer at-1", "Bearer at-2"]);
}

#[tokio::test]
async fn a_second_401_is_returned_not_looped() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    api_accepting(&server, "never").await;
    let flow = builder(&server, "").build().unwrap();
    let client = connectkit_core::client::http_client().expect("HTTP client");
    let req = client.get(format!("{}/api", server.uri())).build().unwrap();
    let resp = send_authorized(&client, &flow, req).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(issuer.count(), 2);
    let api_calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api")
        .count();
    assert_eq!(api_calls, 2);
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

use std::sync::Arc;
use std::time::Duration;

use connectkit_core::AuthFlow;
use connectkit_oauth_refresh::{RefreshTokenFlow, RetryConfig};
use secrecy::ExposeSecret;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{CountingIssuer, builder, token_json};

async fn token(flow: &RefreshTokenFlow) -> String {
    flow.access_token()
        .await
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// Moves tokio's clock forward while real I/O keeps working afterwards.
async fn advance(d: Duration) {
    tokio::time::pause();
    tokio::time::advance(d).await;
    tokio::time::resume();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thousand_concurrent_callers_cause_one_token_request() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        delay_ms: 50,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let flow = builder(&server, "POST ").build().unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let flow = flow.clone();
            tokio::spawn(async move { token(&flow).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "at-1");
    }
    assert_eq!(issuer.count(), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_concurrent_401s_cause_one_refresh() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        delay_ms: 20,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let flow = builder(&server, "POST ").build().unwrap();
    let client = connectkit_core::client::http_client().expect("HTTP client");
    let mut rejected = client.get(format!("{}/api", server.uri())).build().unwrap();
    flow.authorize(&mut rejected).await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let flow = flow.clone();
            let sent = rejected.try_clone().unwrap();
            let client = client.clone();
            tokio::spawn(async move {
                flow.on_unauthorized(&sent).await;
                let mut retry = client.get("http://127.0.0.1/api").build().unwrap();
                flow.authorize(&mut retry).await.unwrap();
                retry.headers()["authorization"]
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "Bearer at-2");
    }
    assert_eq!(issuer.count(), 2, "one initial token, one refresh");
}

#[tokio::test]
async fn expired_token_is_refreshed_and_a_fresh_one_is_not() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 1,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let flow = builder(&server, "")
        .expiry_skew(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(token(&flow).await, "at-1");
    assert_eq!(token(&flow).await, "at-1");
    assert_eq!(issuer.count(), 1);
    advance(Duration::from_millis(1100)).await;
    assert_eq!(token(&flow).await, "at-2");
    assert_eq!(issuer.count(), 2);
}

#[tokio::test]
async fn skew_triggers_an_early_refresh() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 100,
        ..Default::default()
    };
    issuer.mount(&server).await;
    // Default skew 60 s, capped at half the 100 s lifetime: 50 s.
    let flow = builder(&server, "").build().unwrap();
    assert_eq!(token(&flow).await, "at-1");
    advance(Duration::from_secs(45)).await; // 55 s left: fresh
    assert_eq!(token(&flow).await, "at-1");
    advance(Duration::from_secs(10)).await; // 45 s left: inside the skew
    assert_eq!(token(&flow).await, "at-2");
    assert_eq!(issuer.count(), 2);
}

#[tokio::test]
async fn failed_proactive_refresh_keeps_serving_the_valid_token() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("at-1", 100)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(500).set_body_string("down"))
        .mount(&server)
        .await;
    let flow = builder(&server, "")
        .retry(RetryConfig::token_endpoint().with_max_retries(0))
        .build()
        .unwrap();
    let count = || async { server.received_requests().await.unwrap().len() };
    assert_eq!(token(&flow).await, "at-1");
    advance(Duration::from_secs(55)).await; // 45 s left, inside the 50 s effective skew
    assert_eq!(
        token(&flow).await,
        "at-1",
        "no error while the token is valid"
    );
    assert_eq!(count().await, 2);
    assert_eq!(token(&flow).await, "at-1");
    assert_eq!(count().await, 2, "not retried at once");
    advance(Duration::from_secs(6)).await;
    assert_eq!(token(&flow).await, "at-1");
    assert_eq!(count().await, 3, "retried later");
    advance(Duration::from_secs(45)).await; // truly expired now
    let err = flow.access_token().await.unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
}

#[tokio::test]
async fn initial_access_token_is_used_until_rejected() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    crate::api_accepting(&server, "at-1").await;
    let flow = Arc::new(
        builder(&server, "")
            .access_token("initial-token")
            .build()
            .unwrap(),
    );
    assert_eq!(token(&flow).await, "initial-token");
    assert_eq!(issuer.count(), 0);
    let client =
        connectkit_oauth_refresh::api_client(RefreshTokenFlow::clone(&flow), None).unwrap();
    let resp = client
        .get(format!("{}/api", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(issuer.count(), 1);
}

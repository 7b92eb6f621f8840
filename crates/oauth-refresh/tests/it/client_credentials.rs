//! The client credentials grant (RFC 6749 section 4.4) through the same
//! token endpoint machinery: every request form, the cache, single flight,
//! typed errors, retries, and no store.

use std::time::Duration;

use connectkit_core::{ConnectionUrl, Properties};
use connectkit_oauth_refresh::{
    ClientCredentialsMode, GrantType, OAuthErrorCode, RefreshTokenFlow, RefreshTokenFlowBuilder,
    RetryConfig,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{CLIENT_ID, CLIENT_SECRET, CountingIssuer, token_requests};

const SCOPE: &str = "https://org.crm.dynamics.com/.default";

fn cc_builder(server: &MockServer, prefix: &str) -> RefreshTokenFlowBuilder {
    RefreshTokenFlow::client_credentials()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("{prefix}{}/token", server.uri()))
        .unwrap()
        .datadirect_defaults()
}

async fn issuer(server: &MockServer, expires_in: u64, delay_ms: u64) -> CountingIssuer {
    let issuer = CountingIssuer {
        expires_in,
        delay_ms,
        ..Default::default()
    };
    issuer.mount(server).await;
    issuer
}

#[tokio::test]
async fn every_mode_sends_grant_type_client_credentials_and_no_refresh_token() {
    use ClientCredentialsMode::*;
    for (mode, name) in [(All, "all"), (Basic, "basic"), (Url, "url"), (Post, "post")] {
        for (prefix, m) in [("", "get"), ("POST ", "post")] {
            if mode == Post && prefix.is_empty() {
                continue;
            }
            let server = MockServer::builder().start().await;
            issuer(&server, 3600, 0).await;
            let flow = cc_builder(&server, prefix)
                .client_credentials_mode(mode)
                .scope(SCOPE)
                .build()
                .unwrap();
            assert_eq!(flow.grant_type(), GrantType::ClientCredentials);
            flow.access_token().await.unwrap();
            let mut reqs = token_requests(&server).await;
            assert_eq!(reqs.len(), 1);
            let r = reqs.remove(0);
            let params: Vec<_> = r.query.iter().chain(&r.form).collect();
            assert!(
                params
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == "client_credentials"),
                "{r:?}"
            );
            assert!(!params.iter().any(|(k, _)| k == "refresh_token"), "{r:?}");
            insta::assert_yaml_snapshot!(format!("client_credentials_{name}_{m}"), r);
        }
    }
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_by_the_same_grant_after_expiry() {
    let server = MockServer::builder().start().await;
    let issuer = issuer(&server, 120, 0).await;
    let flow = cc_builder(&server, "POST ")
        .expiry_skew(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_secret(&flow, "at-1").await;
    }
    assert_eq!(issuer.count(), 1, "cached");
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(100)).await;
    tokio::time::resume();
    assert_secret(&flow, "at-2").await;
    assert_eq!(issuer.count(), 2, "renewed within the skew");
    let reqs = token_requests(&server).await;
    assert!(reqs.iter().all(|r| {
        r.form
            .contains(&("grant_type".into(), "client_credentials".into()))
    }));
}

async fn assert_secret(flow: &RefreshTokenFlow, expected: &str) {
    use secrecy::ExposeSecret;
    assert_eq!(flow.access_token().await.unwrap().expose_secret(), expected);
}

#[tokio::test]
async fn concurrent_callers_share_one_request() {
    let server = MockServer::builder().start().await;
    let issuer = issuer(&server, 3600, 200).await;
    let flow = cc_builder(&server, "POST ").build().unwrap();
    let calls = (0..20).map(|_| {
        let f = flow.clone();
        async move { f.access_token().await }
    });
    let tokens = futures::future::join_all(calls).await;
    assert!(tokens.iter().all(Result::is_ok));
    assert_eq!(issuer.count(), 1, "single flight");
    assert_eq!(token_requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_refused_client_is_a_typed_error_without_the_secret() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": format!("bad secret {CLIENT_SECRET}")
        })))
        .mount(&server)
        .await;
    let flow = cc_builder(&server, "POST ")
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .build()
        .unwrap();
    let e = flow.access_token().await.unwrap_err();
    assert_eq!(e.oauth().unwrap().code, OAuthErrorCode::InvalidClient);
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
}

#[tokio::test]
async fn busy_endpoints_are_retried() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    let issuer = issuer(&server, 3600, 0).await;
    let flow = cc_builder(&server, "POST ")
        .retry(RetryConfig::token_endpoint().with_initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap();
    assert_secret(&flow, "at-1").await;
    assert_eq!(issuer.count(), 1);
    assert_eq!(token_requests(&server).await.len(), 3);
}

fn props(text: &str) -> Properties {
    let url: ConnectionUrl = format!("x:{text}").parse().unwrap();
    url.into_parts().1
}

#[test]
fn properties_choose_the_grant_and_need_no_refresh_token() {
    let p = props("ClientID=a;ClientSecret=b;TokenURI=https://idp.example/token");
    assert_eq!(GrantType::for_oauth2(&p), GrantType::ClientCredentials);
    let flow = RefreshTokenFlowBuilder::from_properties_for(&p, GrantType::ClientCredentials)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(flow.grant_type(), GrantType::ClientCredentials);
    let e = RefreshTokenFlowBuilder::from_properties(&p).unwrap_err();
    assert_eq!(e.to_string(), "missing required property RefreshToken");
    let p = props("ClientID=a;TokenURI=https://idp.example/token");
    let e =
        RefreshTokenFlowBuilder::from_properties_for(&p, GrantType::ClientCredentials).unwrap_err();
    assert_eq!(e.to_string(), "missing required property ClientSecret");
    let p = props("ClientID=a;ClientSecret=b;TokenURI=https://x.example/t;TokenFile=/tmp/t");
    assert_eq!(GrantType::for_oauth2(&p), GrantType::RefreshToken);
    let p = props("ClientID=a;ClientSecret=b;TokenURI=https://x.example/t;RefreshToken=r");
    assert_eq!(GrantType::for_oauth2(&p), GrantType::RefreshToken);
}

//! Token requests go through the connection's proxy (ProxyHost), with the
//! proxy's credentials for the proxy alone.

use base64::Engine;
use connectkit_core::ConnectionUrl;
use connectkit_oauth_refresh::RefreshTokenFlowBuilder;
use wiremock::MockServer;
use wiremock::matchers::path;

use crate::{CLIENT_ID, CLIENT_SECRET, CountingIssuer, REFRESH_TOKEN};

#[tokio::test]
async fn the_token_request_goes_through_proxy_host() {
    let proxy = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    wiremock::Mock::given(path("/token"))
        .respond_with(issuer.clone())
        .expect(1)
        .mount(&proxy)
        .await;
    // Nothing listens at the token endpoint itself: only the proxy answers.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let token_uri = format!(
        "http://127.0.0.1:{}/token",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let url: ConnectionUrl = format!(
        "x:ClientID={CLIENT_ID};ClientSecret={CLIENT_SECRET};RefreshToken={REFRESH_TOKEN};\
         TokenURI=POST {token_uri};ProxyHost=127.0.0.1;ProxyPort={};ProxyUser=alice;\
         ProxyPassword=proxy-pw-9",
        proxy.address().port()
    )
    .parse()
    .unwrap();
    let flow = RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .build()
        .unwrap();
    assert!(!format!("{flow:?}").contains("proxy-pw-9"));
    flow.access_token().await.unwrap();
    let received = proxy.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    // The proxy got the token endpoint's absolute URL (its query carries
    // the client credentials: ClientCredentialsMode All, the vendor default).
    let sent = &received[0].url;
    assert_eq!(
        format!("http://{}{}", sent.authority(), sent.path()),
        token_uri
    );
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:proxy-pw-9")
    );
    assert_eq!(
        received[0].headers["proxy-authorization"],
        expected.as_str()
    );
    // The client's own Basic credentials go to the token endpoint, not the
    // proxy's: the two headers are distinct.
    assert_ne!(received[0].headers["authorization"], expected.as_str());
}

#[tokio::test]
async fn a_proxy_refusing_the_token_request_names_the_proxy_properties() {
    let proxy = MockServer::builder().start().await;
    wiremock::Mock::given(path("/token"))
        .respond_with(wiremock::ResponseTemplate::new(407))
        .mount(&proxy)
        .await;
    let url: ConnectionUrl = format!(
        "x:ClientID={CLIENT_ID};ClientSecret={CLIENT_SECRET};RefreshToken={REFRESH_TOKEN};\
         TokenURI=POST http://127.0.0.1:9/token;ProxyHost=127.0.0.1;ProxyPort={};\
         ProxyUser=alice;ProxyPassword=wrong-pw-7",
        proxy.address().port()
    )
    .parse()
    .unwrap();
    let flow = RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .build()
        .unwrap();
    let e = flow.access_token().await.unwrap_err();
    assert_eq!(e.kind(), connectkit_core::ErrorKind::Auth);
    assert_eq!(e.status(), Some(407));
    let text = format!("{e} {e:?}");
    assert!(text.contains("ProxyUser and ProxyPassword"), "{text}");
    assert!(!text.contains("wrong-pw-7"), "{text}");
}

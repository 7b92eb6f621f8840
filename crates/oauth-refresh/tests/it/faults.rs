use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connectkit_oauth_refresh::{Error, FileStore, RetryConfig};
use secrecy::ExposeSecret;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{CountingIssuer, builder, token_json};

/// A token endpoint that promises 200 bytes and hangs up after a few.
fn truncating_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"access_tok");
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn connection_closed_mid_body_is_a_transport_error() {
    let base = truncating_server();
    let flow = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .client_id("c")
        .refresh_token("r")
        .token_uri(&format!("{base}/token"))
        .unwrap()
        .build()
        .unwrap();
    let err = flow.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { timeout: false, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("reading the response failed"),
        "{err}"
    );
}

/// Answers 200, 500, 200, 500, ...
#[derive(Clone, Default)]
struct Alternating(Arc<AtomicUsize>);

impl Respond for Alternating {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        if n.is_multiple_of(2) {
            ResponseTemplate::new(200).set_body_json(token_json(&format!("at-{n}"), 3600))
        } else {
            ResponseTemplate::new(500).set_body_string("flaky")
        }
    }
}

#[tokio::test]
async fn alternating_200_and_500_recovers_through_retries() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(Alternating::default())
        .mount(&server)
        .await;
    let flow = builder(&server, "")
        .retry(RetryConfig::token_endpoint().with_initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    for _ in 0..3 {
        flow.refresh().await.unwrap();
    }
    assert_eq!(flow.access_token().await.unwrap().expose_secret(), "at-4");
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_redirected_token_request_is_not_followed() {
    let server = MockServer::builder().start().await;
    let other = MockServer::builder().start().await;
    CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    }
    .mount(&other)
    .await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("Location", format!("{}/token", other.uri())),
        )
        .mount(&server)
        .await;
    let flow = builder(&server, "POST ").build().unwrap();
    let err = flow.access_token().await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 307, .. }),
        "{err:?}"
    );
    assert!(
        other.received_requests().await.unwrap().is_empty(),
        "credentials must not reach another host"
    );
}

#[tokio::test]
async fn an_unwritable_token_file_is_a_config_error_before_any_grant() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        rotate: true,
        ..Default::default()
    };
    issuer.mount(&server).await;
    // /proc refuses new files even to root, like a directory that became read-only.
    let flow = builder(&server, "")
        .token_store(Arc::new(FileStore::new(
            "/proc/self/connectkit-tokens.json",
        )))
        .build()
        .unwrap();
    let err = flow.access_token().await.unwrap_err();
    assert!(matches!(err, Error::TokenFile { .. }), "{err:?}");
    assert_eq!(err.kind(), connectkit_core::ErrorKind::Io);
    assert!(err.to_string().contains("connectkit-tokens.json"), "{err}");
    assert_eq!(issuer.count(), 0, "no refresh token was consumed");
}

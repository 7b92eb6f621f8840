//! Issue 13 items 7-9: a total deadline per token request and per refresh,
//! a skew that cannot cause a refresh storm, and retries that never present
//! a possibly consumed refresh token again.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connectkit_oauth_refresh::{ClientCredentialsMode, Error, RetryConfig};
use secrecy::ExposeSecret;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{CountingIssuer, builder, token_json};

/// A token endpoint that sends its headers, then one body byte every 100 ms
/// for ever: a read timeout that resets on every byte never fires.
fn drip_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
                );
                for _ in 0..600 {
                    std::thread::sleep(Duration::from_millis(100));
                    if s.write_all(b" ").is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_dripping_token_endpoint_hits_the_request_deadline() {
    let base = drip_server();
    let flow = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .client_id("c")
        .refresh_token("r")
        .token_uri(&format!("POST {base}/token"))
        .unwrap()
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .read_timeout(Some(Duration::from_secs(5)))
        .token_request_timeout(Some(Duration::from_millis(800)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    // Two callers wait on the one refresh; both get its outcome in time.
    let (a, b) = tokio::join!(flow.access_token(), flow.access_token());
    let elapsed = started.elapsed();
    for err in [a.unwrap_err(), b.unwrap_err()] {
        assert!(
            matches!(&err, Error::Transport { timeout: true, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("TokenRequestTimeout"), "{err}");
    }
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn the_default_request_deadline_is_thirty_seconds_and_configurable_by_property() {
    let url: connectkit_core::ConnectionUrl = format!(
        "autorest:ClientID=c;ClientSecret=s;RefreshToken=r;TokenURI=POST {}/token;ClientCredentialsMode=Basic;TokenRequestTimeout=1",
        drip_server()
    )
    .parse()
    .unwrap();
    let flow = connectkit_oauth_refresh::RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = flow.access_token().await.unwrap_err();
    assert!(err.to_string().contains("1.0 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let url: connectkit_core::ConnectionUrl =
        "autorest:ClientID=c;ClientSecret=s;RefreshToken=r;TokenURI=https://h/t;TokenRequestTimeout=soon"
            .parse()
            .unwrap();
    let err = connectkit_oauth_refresh::RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap_err();
    assert!(err.to_string().contains("TokenRequestTimeout"), "{err}");
}

#[tokio::test]
async fn retries_stop_at_the_refresh_deadline() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .mount(&server)
        .await;
    let flow = builder(&server, "POST ")
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .retry(RetryConfig::token_endpoint().with_max_retries(20))
        .refresh_timeout(Some(Duration::from_millis(1500)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = flow.access_token().await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 503, .. }),
        "{err:?}"
    );
    // Without the deadline, 21 attempts a second apart; with it, one or two.
    assert!(started.elapsed() < Duration::from_secs(3));
    let sent = server.received_requests().await.unwrap().len();
    assert!((1..=2).contains(&sent), "{sent} requests");
}

/// Moves tokio's clock forward while real I/O keeps working afterwards.
async fn advance(d: Duration) {
    tokio::time::pause();
    tokio::time::advance(d).await;
    tokio::time::resume();
}

#[tokio::test]
async fn a_token_shorter_than_the_skew_is_refreshed_once_per_half_life() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 30,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let flow = builder(&server, "").build().unwrap(); // default skew 60 s
    for _ in 0..7 {
        assert_eq!(flow.access_token().await.unwrap().expose_secret(), "at-1");
        advance(Duration::from_secs(2)).await;
    }
    assert_eq!(issuer.count(), 1, "seven requests, one grant");
    advance(Duration::from_secs(2)).await; // 16 s in: past half the lifetime
    assert_eq!(flow.access_token().await.unwrap().expose_secret(), "at-2");
    assert_eq!(issuer.count(), 2);
}

/// Answers the first request with a rotation, then the scripted answers in order.
#[derive(Clone)]
struct Script {
    answers: Arc<Vec<ResponseTemplate>>,
    n: Arc<AtomicUsize>,
}

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            let mut body = token_json("at-1", 3600);
            body["refresh_token"] = "rt-1".into();
            return ResponseTemplate::new(200).set_body_json(body);
        }
        let i = (n - 1).min(self.answers.len() - 1);
        self.answers[i].clone()
    }
}

async fn after_rotation(answers: Vec<ResponseTemplate>) -> (Result<(), Error>, usize) {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(Script {
            answers: Arc::new(answers),
            n: Arc::default(),
        })
        .mount(&server)
        .await;
    let flow = builder(&server, "POST ")
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .retry(RetryConfig::token_endpoint().with_initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    flow.refresh().await.unwrap(); // the provider has now shown that it rotates
    let r = flow.refresh().await.map(|_| ());
    (r, server.received_requests().await.unwrap().len() - 1)
}

#[tokio::test]
async fn after_a_rotation_a_possibly_processed_request_is_not_retried() {
    for status in [500, 502, 504] {
        let (r, sent) = after_rotation(vec![ResponseTemplate::new(status)]).await;
        let err = r.unwrap_err();
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
        assert_eq!(sent, 1, "{status} is not retried");
    }
    let (r, sent) = after_rotation(vec![ResponseTemplate::new(503)]).await;
    assert!(r.is_err());
    assert_eq!(sent, 1, "503 without Retry-After is not retried");
}

#[tokio::test]
async fn after_a_rotation_certainly_unprocessed_answers_are_retried() {
    let ok = ResponseTemplate::new(200).set_body_json(token_json("at-2", 3600));
    for busy in [
        ResponseTemplate::new(429),
        ResponseTemplate::new(503).insert_header("Retry-After", "0"),
    ] {
        let (r, sent) = after_rotation(vec![busy, ok.clone()]).await;
        r.unwrap();
        assert_eq!(sent, 2);
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    // A port that refuses at first, then serves (the endpoint restarting).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let flow = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .client_id("c")
        .refresh_token("r")
        .token_uri(&format!("POST http://{addr}/token"))
        .unwrap()
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .retry(RetryConfig::token_endpoint().with_initial_backoff(Duration::from_millis(300)))
        .build()
        .unwrap();
    let serve = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = std::net::TcpListener::bind(addr).unwrap();
        let server = MockServer::builder().listener(listener).start().await;
        CountingIssuer {
            expires_in: 3600,
            ..Default::default()
        }
        .mount(&server)
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(server);
    });
    assert_eq!(flow.access_token().await.unwrap().expose_secret(), "at-1");
    serve.abort();
}

use std::time::Duration;

use connectkit_core::ErrorKind;
use connectkit_oauth_refresh::{Error, OAuthErrorCode, RetryConfig};
use secrecy::ExposeSecret;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::builder;

async fn outcome(responses: Vec<ResponseTemplate>) -> (Result<String, Error>, usize) {
    let server = MockServer::builder().start().await;
    let n = responses.len();
    for (i, r) in responses.into_iter().enumerate() {
        let mock = Mock::given(path("/token"))
            .respond_with(r)
            .with_priority((i + 1) as u8);
        let mock = if i + 1 < n {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(&server).await;
    }
    // An explicit GET: the default-form fallback has tests of its own.
    let flow = builder(&server, "GET ")
        .retry(RetryConfig::token_endpoint().with_initial_backoff(Duration::from_millis(1)))
        .read_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let r = flow
        .access_token()
        .await
        .map(|t| t.expose_secret().to_owned());
    (r, server.received_requests().await.unwrap().len())
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

#[tokio::test]
async fn every_rfc6749_error_code_is_typed() {
    use OAuthErrorCode::*;
    for (code, expected) in [
        ("invalid_request", InvalidRequest),
        ("invalid_client", InvalidClient),
        ("invalid_grant", InvalidGrant),
        ("unauthorized_client", UnauthorizedClient),
        ("unsupported_grant_type", UnsupportedGrantType),
        ("invalid_scope", InvalidScope),
        (
            "temporarily_unavailable_x",
            Other("temporarily_unavailable_x".into()),
        ),
    ] {
        let body = format!(
            r#"{{"error":"{code}","error_description":"why {code}","error_uri":"https://docs/{code}"}}"#
        );
        let (r, n) = outcome(vec![json(400, &body)]).await;
        let err = r.unwrap_err();
        let o = err.oauth().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(o.code, expected);
        assert_eq!(
            o.description.as_deref(),
            Some(format!("why {code}").as_str())
        );
        assert_eq!(
            o.uri.as_deref(),
            Some(format!("https://docs/{code}").as_str())
        );
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(n, 1, "4xx is not retried");
    }
    let (r, _) = outcome(vec![json(400, r#"{"error":"invalid_grant"}"#)]).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "token endpoint refused the grant (HTTP 400): invalid_grant, refresh token expired or revoked"
    );
}

#[tokio::test]
async fn success_statuses_and_body_forms() {
    let (r, _) = outcome(vec![json(200, r#"{"error":"invalid_grant"}"#)]).await;
    assert_eq!(
        r.unwrap_err().oauth().unwrap().code,
        OAuthErrorCode::InvalidGrant
    );
    let form = ResponseTemplate::new(200).set_body_raw(
        b"access_token=form-tok&token_type=bearer&expires_in=3600".to_vec(),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(outcome(vec![form]).await.0.unwrap(), "form-tok");
    assert_eq!(
        outcome(vec![json(201, r#"{"access_token":"created"}"#)])
            .await
            .0
            .unwrap(),
        "created"
    );
    assert_eq!(
        outcome(vec![json(
            200,
            r#"{"access_token":"s","expires_in":"3600"}"#
        )])
        .await
        .0
        .unwrap(),
        "s"
    );
    let err = outcome(vec![json(
        200,
        r#"{"access_token":"s","expires_in":"abc"}"#,
    )])
    .await
    .0
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidToken(m) if m.contains("expires_in")),
        "{err:?}"
    );
    let err = outcome(vec![json(
        200,
        r#"{"access_token":"s","token_type":"mac"}"#,
    )])
    .await
    .0
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidToken(m) if m.contains("mac")),
        "{err:?}"
    );
    let err = outcome(vec![json(200, r#"{"token_type":"Bearer"}"#)])
        .await
        .0
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidToken(m) if m.contains("access_token")),
        "{err:?}"
    );
    let err = outcome(vec![ResponseTemplate::new(200)])
        .await
        .0
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "token response: the HTTP 200 body (0 bytes, content type none) is neither JSON nor form-encoded; its content is not shown because it may hold tokens"
    );
}

#[tokio::test]
async fn html_500_is_retried_then_reported_with_an_excerpt() {
    let html = ResponseTemplate::new(500).set_body_raw(
        b"<html><body><h1>Server Error</h1></body></html>".to_vec(),
        "text/html",
    );
    let (r, n) = outcome(vec![html]).await;
    assert_eq!(n, 4, "first attempt + 3 retries");
    assert_eq!(
        r.unwrap_err().to_string(),
        "token endpoint answered HTTP 500 after 4 attempts: <html><body><h1>Server Error</h1></body></html>"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_then_success() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .respond_with(json(200, r#"{"access_token":"after-wait"}"#))
        .with_priority(2)
        .mount(&server)
        .await;
    let flow = builder(&server, "").build().unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        flow.access_token().await.unwrap().expose_secret(),
        "after-wait"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited out Retry-After"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn busy_endpoint_gives_up_after_the_bound() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let flow = builder(&server, "")
        .retry(
            RetryConfig::token_endpoint()
                .with_max_retries(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    let err = flow.access_token().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnexpectedResponse {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let big = format!(r#"{{"access_token":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let err = outcome(vec![json(200, &big)]).await.0.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1_048_576 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let slow = json(200, r#"{"access_token":"late"}"#).set_delay(Duration::from_secs(5));
    let err = outcome(vec![slow]).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { timeout: true, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let flow = connectkit_oauth_refresh::RefreshTokenFlow::builder()
        .client_id("c")
        .refresh_token("r")
        .token_uri(&format!("http://127.0.0.1:{port}/token"))
        .unwrap()
        .build()
        .unwrap();
    let err = flow.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { timeout: false, host, .. } if host == "127.0.0.1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("connection failed"), "{err}");
    let core: connectkit_core::Error = err.into();
    assert_eq!(core.kind(), ErrorKind::Transport);
}

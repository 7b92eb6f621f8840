//! 429 and 503 with `Retry-After`, on tokio's paused clock.
//!
//! These tests use a `reqwest::Client` with no timeouts and no idle-pool
//! reaper, and an initial AccessToken (no token request), so that the only
//! timers are the connector's waits: a paused clock jumps to the next timer
//! whenever the runtime waits on real I/O.

use std::time::Duration;

use connectkit_core::client::ApiError;
use connectkit_core::{ErrorKind, ScanRequest};
use connectkit_dynamics365::Dynamics365Connector;
use tokio::time::Instant;
use wiremock::matchers::{method, path, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

fn paused_connector(server: &MockServer, max_retries: Option<u32>) -> Dynamics365Connector {
    let mut s = source(server).property("AccessToken", "at-0").http_client(
        connectkit_core::client::client_builder()
            .expect("TLS setup")
            .pool_idle_timeout(None)
            .build()
            .unwrap(),
    );
    if let Some(n) = max_retries {
        s = s.max_retries(n);
    }
    s.build().unwrap()
}

async fn first_page_answers(
    server: &MockServer,
    status: u16,
    retry_after: &str,
    times: u64,
    priority: u8,
) {
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", retry_after))
        .up_to_n_times(times)
        .with_priority(priority)
        .mount(server)
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_429_then_a_503_are_waited_out() {
    let server = MockServer::builder().start().await;
    mount_api(&server).await;
    first_page_answers(&server, 429, "1", 1, 1).await;
    first_page_answers(&server, 503, "2", 1, 2).await;
    let c = paused_connector(&server, None);
    c.schema("accounts").await.unwrap();
    let start = Instant::now();
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    let waited = start.elapsed();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs.len(), 5, "page 1 three times, then pages 2 and 3");
    assert!(
        reqs.iter()
            .all(|r| header(r, "authorization") == Some("Bearer at-0"))
    );
    assert!(requests_to(&server, "/token").await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_one_second_then_200_succeeds() {
    let server = MockServer::builder().start().await;
    mount_api(&server).await;
    first_page_answers(&server, 429, "1", 1, 1).await;
    let c = paused_connector(&server, None);
    let start = Instant::now();
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    let waited = start.elapsed();
    assert_eq!(batches.len(), 3);
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn throttling_forever_gives_up_after_the_bound() {
    let server = MockServer::builder().start().await;
    mount_api(&server).await;
    first_page_answers(&server, 429, "1", u64::MAX, 1).await;
    let c = paused_connector(&server, None);
    let err = scan_all(&c, "accounts", ScanRequest::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert!(
        matches!(
            err.downcast_ref(),
            Some(ApiError::RetriesExhausted {
                status: 429,
                attempts: 6,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("still HTTP 429 after 6 attempts (MaxRetries=5)"),
        "{err}"
    );
    assert_eq!(
        requests_to(&server, ACCOUNTS).await.len(),
        6,
        "1 + 5 retries"
    );

    // The bound is configurable, and a huge Retry-After is capped.
    let server = MockServer::builder().start().await;
    mount_api(&server).await;
    first_page_answers(&server, 503, "86400", u64::MAX, 1).await;
    let c = paused_connector(&server, Some(1));
    let start = Instant::now();
    let err = scan_all(&c, "accounts", ScanRequest::new())
        .await
        .unwrap_err();
    assert!(matches!(
        err.downcast_ref(),
        Some(ApiError::RetriesExhausted {
            status: 503,
            attempts: 2,
            ..
        })
    ));
    assert!(
        start.elapsed() <= Duration::from_secs(301),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 2);
}

//! `#http` rules in full (fixtures/autorest/models/http_rules.rest): `#match`
//! on body text, `#operation`, `#message`, the actions, and the vendor's
//! rule that a status a file does not list fails.

use std::time::Duration;

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, ScanRequest};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{ids, model_file, requests_to, rows};

/// `first` once, then a page of two rows.
async fn api(first: ResponseTemplate) -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(path("/report"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/report"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"rows": [{"id": 1}, {"id": 2}]})),
        )
        .mount(&server)
        .await;
    server
}

fn connector(server: &MockServer, model: &tempfile::NamedTempFile) -> impl Connector {
    let _ = server;
    // No timers of its own, so that paused time advances only by the waits.
    let client = connectkit_core::client::client_builder()
        .expect("TLS setup")
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .http_client(client)
        .build()
        .unwrap()
}

fn error(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Retry-After", "0")
        .set_body_string(body)
}

#[tokio::test]
async fn a_match_on_the_body_picks_the_rule() {
    let server = api(error(400, r#"{"error": "daily quota exceeded"}"#)).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let got = rows(&c, "report", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [1, 2]);
    let sent = requests_to(&server, "/report").await;
    assert_eq!(sent.len(), 2, "RETRY_ONCE: one more request");
    assert!(sent.iter().all(|r| r.method.as_str() == "POST"));
}

#[tokio::test]
async fn retry_once_retries_once_only() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/report"))
        .respond_with(error(400, "quota exceeded"))
        .mount(&server)
        .await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let e = rows(&c, "report", ScanRequest::new()).await.unwrap_err();
    assert!(e.to_string().contains("RETRY_ONCE"), "{e}");
    assert_eq!(requests_to(&server, "/report").await.len(), 2);
}

#[tokio::test]
async fn no_match_falls_through_to_the_rule_with_a_message() {
    let server = api(error(400, r#"{"error": "unknown field"}"#)).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let e = rows(&c, "report", ScanRequest::new()).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("HTTP 400"), "{msg}");
    assert!(msg.contains("the report query was refused"), "{msg}");
    assert!(msg.contains("unknown field"), "{msg}");
    assert_eq!(requests_to(&server, "/report").await.len(), 1);
}

#[tokio::test]
async fn reset_starts_again_and_retries() {
    let server = api(error(400, "session expired")).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let got = rows(&c, "report", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [1, 2]);
    assert_eq!(requests_to(&server, "/report").await.len(), 2);
}

#[tokio::test]
async fn a_status_the_file_does_not_list_fails_at_once() {
    // 503 would be retried by the default rules; the file lists it nowhere.
    let server = api(error(503, "down")).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let e = rows(&c, "report", ScanRequest::new()).await.unwrap_err();
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert_eq!(requests_to(&server, "/report").await.len(), 1);
}

#[tokio::test]
async fn top_level_rules_apply_and_insert_rules_do_not() {
    // 404: the INSERT rule (ZERO_ROWS) never applies to a read; the
    // top-level FAIL with its message does.
    let server = api(error(404, "gone")).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let e = rows(&c, "report", ScanRequest::new()).await.unwrap_err();
    assert!(e.to_string().contains("no such report"), "{e}");
    let server = api(ResponseTemplate::new(204)).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    assert!(
        rows(&c, "report", ScanRequest::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn retry_fixed_waits_one_second() {
    let server = api(ResponseTemplate::new(409)).await;
    let model = model_file("http_rules.rest", &server);
    let c = connector(&server, &model);
    let start = tokio::time::Instant::now();
    let got = rows(&c, "report", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [1, 2]);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn unknown_rule_keys_and_actions_are_named() {
    let bad = |text: &str| {
        let f = tempfile::Builder::new().suffix(".rest").tempfile().unwrap();
        std::fs::write(f.path(), text).unwrap();
        AutoRestDataSource::new()
            .config(f.path().to_str().unwrap())
            .build()
            .unwrap_err()
            .to_string()
    };
    let e = bad(
        r##"{"t": {"#path": "https://h/t", "#http": [{"#code": 400, "#mach": "x", "#action": "OK"}], "id": "Integer"}}"##,
    );
    assert_eq!(
        e,
        "model file: unknown key #mach in t (did you mean #match?)"
    );
    let e = bad(
        r##"{"t": {"#path": "https://h/t", "#http": [{"#code": 400, "#action": "RETRY_TWICE"}], "id": "Integer"}}"##,
    );
    assert!(
        e.contains("unknown action \"RETRY_TWICE\"") && e.contains("RETRY_FIXED"),
        "{e}"
    );
    let e = bad(
        r##"{"t": {"#path": "https://h/t", "#http": [{"#code": 400, "#operation": "MERGE", "#action": "OK"}], "id": "Integer"}}"##,
    );
    assert!(e.contains("unknown operation \"MERGE\""), "{e}");
}

#[tokio::test(start_paused = true)]
async fn retry_google_stops_after_five_retries_and_retry_aws_after_max_retries() {
    for (action, want) in [("RETRY_GOOGLE", 6), ("RETRY_AWS", 8)] {
        let server = MockServer::builder().start().await;
        Mock::given(path("/busy"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        let text = format!(
            r##"{{"busy": {{"#path": "https://api.example.com/busy",
                "#http": [{{"#code": 500, "#action": "{action}"}}], "id": "Integer"}}}}"##
        );
        let model = crate::common::model_text(&text, "rest", &server);
        let (_, mut props) = format!(
            "autorest:Config={};MaxRetries=7;RetryTimeout=100000",
            model.path().display()
        )
        .parse::<connectkit_core::ConnectionUrl>()
        .unwrap()
        .into_parts();
        props.set("WSTimeout", "0");
        let client = connectkit_core::client::client_builder()
            .expect("TLS setup")
            .pool_idle_timeout(None)
            .build()
            .unwrap();
        let c = AutoRestDataSource::from_properties(&props)
            .unwrap()
            .http_client(client)
            .build()
            .unwrap();
        let e = rows(&c, "busy", ScanRequest::new()).await.unwrap_err();
        assert!(e.to_string().contains("HTTP 500"), "{action}: {e}");
        assert_eq!(requests_to(&server, "/busy").await.len(), want, "{action}");
    }
}

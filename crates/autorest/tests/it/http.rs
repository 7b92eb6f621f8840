//! HTTP behaviour: 401 → one refresh and a retry; 429/503 → Retry-After;
//! 400/404 → zero rows; `#headers`; WSTimeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, ErrorKind, ScanRequest};
use serde_json::json;
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{Paged, ids, model_file, model_text, requests_to, rows};

/// A token endpoint handing out `tok-1`, `tok-2`, ...
async fn token_endpoint(server: &MockServer) {
    let n = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/token"))
        .respond_with(move |_: &Request| {
            let i = n.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": format!("tok-{i}"), "token_type": "Bearer", "expires_in": 3600}))
        })
        .mount(server)
        .await;
}

fn oauth(model: &tempfile::NamedTempFile, server: &MockServer) -> AutoRestDataSource {
    AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .authentication_method("OAuth2-RefreshToken")
        .client_id("cid")
        .client_secret("csecret")
        .refresh_token("rtoken")
        .token_uri(format!("POST {}/token", server.uri()))
}

#[tokio::test]
async fn a_401_on_page_2_refreshes_once_and_the_scan_completes() {
    let server = MockServer::builder().start().await;
    token_endpoint(&server).await;
    Mock::given(path("/offset/items"))
        .and(query_param("offset", "2"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/offset/items"))
        .respond_with(Paged {
            style: "offset",
            rows: 5,
        })
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    // One page after another, so that the order of the requests is exact.
    let c = oauth(&model, &server)
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    let got = rows(&c, "offset", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [0, 1, 2, 3, 4]);
    assert_eq!(requests_to(&server, "/token").await.len(), 2);
    let api: Vec<_> = requests_to(&server, "/offset/items")
        .await
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.url.query().unwrap(),
                r.headers["authorization"].to_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        api,
        [
            "limit=2&offset=0 Bearer tok-1",
            "limit=2&offset=2 Bearer tok-1",
            "limit=2&offset=2 Bearer tok-2",
            "limit=2&offset=4 Bearer tok-2",
        ]
    );
}

#[tokio::test]
async fn a_401_after_reauthenticating_is_an_auth_error() {
    let server = MockServer::builder().start().await;
    token_endpoint(&server).await;
    Mock::given(path("/offset/items"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = oauth(&model, &server).build().unwrap();
    let e = rows(&c, "offset", ScanRequest::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.to_string().contains("answered HTTP 401 again"), "{e}");
    assert!(!e.to_string().contains("rtoken") && !e.to_string().contains("tok-"));
    assert_eq!(requests_to(&server, "/token").await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_waits_then_completes() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}, {"id": 2}])))
        .mount(&server)
        .await;
    // No timers of its own (no timeout, no idle-pool sweep), so that paused
    // time advances only by the connector's wait.
    let client = connectkit_core::client::client_builder()
        .expect("TLS setup")
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    let c = AutoRestDataSource::new()
        .sample(format!("{}/busy", server.uri()))
        .http_client(client)
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let got = rows(&c, "busy", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [1, 2]);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    // The 429, then the page inference read, which the scan reuses.
    assert_eq!(requests_to(&server, "/busy").await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_after_503_are_bounded() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/down", server.uri()))
        .ws_timeout(0)
        .build()
        .unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.code(), "api.retries_exhausted");
    // Retry-After is capped at MaxRetryWait (300 s), and the retries at
    // RetryTimeout (600 s) in all.
    assert!(
        e.to_string().ends_with(
            "/down: still HTTP 503 after 3 attempts (waiting 300s more would pass RetryTimeout=600s)"
        ),
        "{e}"
    );
    assert_eq!(requests_to(&server, "/down").await.len(), 3);
}

#[tokio::test]
async fn status_400_and_404_are_zero_rows_unless_the_model_says_otherwise() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/gone"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(path("/bad"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    let model = model_text(
        r##"{
          "gone": {"#path": "https://api.example.com/gone", "id": "Integer"},
          "bad": {"#path": "https://api.example.com/bad", "id": "Integer"},
          "strict": {"#path": "https://api.example.com/gone", "#http": [{"#code": 404, "#action": "FAIL"}], "id": "Integer"}
        }"##,
        "rest",
        &server,
    );
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    assert!(
        rows(&c, "gone", ScanRequest::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        rows(&c, "bad", ScanRequest::new())
            .await
            .unwrap()
            .is_empty()
    );
    let e = rows(&c, "strict", ScanRequest::new()).await.unwrap_err();
    assert!(
        e.to_string().ends_with("/gone: HTTP 404: (empty body)"),
        "{e}"
    );
}

#[tokio::test]
async fn model_headers_types_and_child_tables_reach_the_api_and_back() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/employees"))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"items": []}})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/employees"))
        .and(header("x-tenant", "acme"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"items": [
            {"employeeID": "E-1", "title": "Engineer", "start_year": 2019, "salary": "5123.50",
             "hired": "2019-04-01", "updated": "2026-11-01T12:00:00+02:00",
             "address": {"city": "Lyon", "geo": {"lat": 45.76, "lon": 4.83}},
             "phones": [{"number": "+33 1", "type": "work"}, {"number": "+33 2", "type": "home"}],
             "skills": ["rust", "sql"]},
            {"employeeID": "E-2", "title": "Manager", "start_year": null, "salary": 7000,
             "hired": "2020-01-15", "updated": "2026-11-02T08:30:00Z", "phones": [], "skills": ["people"]}
        ]}})))
        .mount(&server)
        .await;
    for file in ["employees.rest", "employees.yaml"] {
        let model = model_file(file, &server);
        let c = AutoRestDataSource::new()
            .config(model.path().to_str().unwrap())
            .build()
            .unwrap();
        let employees = rows(&c, "employees", ScanRequest::new()).await.unwrap();
        let phones = rows(&c, "employees_phones", ScanRequest::new())
            .await
            .unwrap();
        let skills = rows(&c, "employees_skills", ScanRequest::new())
            .await
            .unwrap();
        insta::assert_json_snapshot!(
            "employees",
            json!({"employees": employees, "phones": phones, "skills": skills})
        );
    }
    // Pages ahead are requested side by side (MaxConcurrentRequests 4), so
    // the order they reach the server in is not fixed: the first page is
    // among them, and every request asks for JSON.
    let sent = requests_to(&server, "/employees").await;
    assert!(
        sent.iter()
            .any(|r| r.url.query() == Some("limit=2&offset=0")),
        "{:?}",
        sent.iter().map(|r| r.url.query()).collect::<Vec<_>>()
    );
    assert!(
        sent.iter()
            .all(|r| r.headers["accept"] == "application/json")
    );
}

#[tokio::test]
async fn ws_timeout_bounds_each_request() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/slow", server.uri()))
        .ws_timeout(1)
        .build()
        .unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn the_model_supplies_token_uri_and_scope_and_403_can_reauthenticate() {
    let server = MockServer::builder().start().await;
    token_endpoint(&server).await;
    // employees.rest maps 403 to REAUTHENTICATE at its top level.
    Mock::given(path("/employees"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(403))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/employees"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"items": [{"employeeID": "E-9", "title": "CTO"}]}})),
        )
        .mount(&server)
        .await;
    let text =
        std::fs::read_to_string(crate::common::fixtures().join("autorest/models/employees.rest"))
            .unwrap()
            .replace("/o/oauth2/token", "/token");
    let model = model_text(&text, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .authentication_method("OAuth2")
        .client_id("cid")
        .client_secret("csecret")
        .refresh_token("rtoken")
        .build()
        .unwrap();
    let got = rows(&c, "employees", ScanRequest::new().with_limit(1))
        .await
        .unwrap();
    assert_eq!(got[0]["employeeID"], "E-9");
    let token = requests_to(&server, "/token").await;
    assert_eq!(token.len(), 2);
    assert_eq!(token[0].method.as_str(), "POST");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token[0].body)
        .into_owned()
        .collect();
    assert!(
        form.contains(&("scope".into(), "hr.read directory.read".into())),
        "{form:?}"
    );
    assert!(
        form.contains(&("grant_type".into(), "refresh_token".into())),
        "{form:?}"
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_with_the_token() {
    let api = MockServer::builder().start().await;
    let elsewhere = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&api)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", api.uri()))
        .authentication_method("BearerToken")
        .security_token("b-456")
        .build()
        .unwrap();
    let e = c.tables().await.unwrap_err();
    assert_eq!(e.code(), "api.foreign_origin");
    assert!(
        e.to_string().starts_with(&format!(
            "redirect to {} is outside the origins the configuration names ({})",
            elsewhere.uri(),
            api.uri()
        )),
        "{e}"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRETS, connectkit, stable};

async fn people_api() -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/api/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "name": "Ada, \"the\" first", "score": 9.5, "active": true, "born": "1815-12-10", "seen": "2026-11-01T10:00:00Z"},
            {"id": 2, "name": "Grace", "score": 7.25, "active": false, "born": "1906-12-09", "seen": "2026-11-02T11:30:00Z"},
            {"id": 3, "name": "Linus", "score": null, "active": true, "born": "1969-12-28", "seen": null}
        ])))
        .mount(&server)
        .await;
    server
}

fn sample_url(server: &MockServer) -> String {
    format!(
        "jdbc:datadirect:autorest:Sample={}/api/people",
        server.uri()
    )
}

#[tokio::test]
async fn tables_in_both_formats() {
    let server = people_api().await;
    let url = sample_url(&server);
    let r = connectkit(&["tables", &url], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("tables_table", r.stdout);
    let r = connectkit(&["tables", &url, "--format", "json"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["name"], "people");
    insta::assert_snapshot!("tables_json", r.stdout);
}

#[tokio::test]
async fn schema_in_both_formats() {
    let server = people_api().await;
    let url = sample_url(&server);
    let r = connectkit(&["schema", &url, "PEOPLE"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("schema_table", r.stdout);
    let r = connectkit(&["schema", &url, "people", "--format", "json"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("schema_json", r.stdout);
}

#[tokio::test]
async fn query_in_every_format() {
    let server = people_api().await;
    let url = sample_url(&server);
    for format in ["table", "csv", "jsonl"] {
        let r = connectkit(&["query", &url, "people", "--format", format], None).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        insta::assert_snapshot!(format!("query_{format}"), r.stdout);
    }
    let r = connectkit(
        &[
            "query",
            &url,
            "people",
            "--columns",
            "name,id",
            "--limit",
            "2",
            "--format",
            "jsonl",
        ],
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"name":"Ada, \"the\" first","id":1}"#,
            r#"{"name":"Grace","id":2}"#
        ]
    );
}

#[tokio::test]
async fn url_from_file_and_stdin() {
    let server = people_api().await;
    let url = sample_url(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url.txt");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let at = format!("@{}", file.display());
    let r = connectkit(
        &["query", &at, "people", "--limit", "1", "--format", "csv"],
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    let r = connectkit(
        &["query", "-", "people", "--limit", "1", "--format", "csv"],
        Some(&format!("{url}\n")),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
}

#[tokio::test]
async fn token_describes_the_grant_without_tokens() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("refresh_token", SECRETS[1]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "bearer", "expires_in": 3599,
            "refresh_token": "cli-rotated-value", "scope": "read write"
        })))
        .mount(&server)
        .await;
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2-RefreshToken;Sample={0}/api/x;ClientID=cli;ClientSecret={1};RefreshToken={2};TokenURI={0}/token",
        server.uri(),
        SECRETS[0],
        SECRETS[1]
    );
    let r = connectkit(&["token", "-", "--format", "json"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v,
        json!({"obtained": "granted", "grant_type": "refresh_token", "token_type": "Bearer", "expires_in": 3599, "scope": "read write", "refresh_token_rotated": true})
    );
    assert!(!r.stdout.contains("cli-rotated-value"));
    let r = connectkit(&["token", "-"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("token_table", stable(&r.stdout, &server));
}

/// With the client credentials grant configured, `token` runs that grant
/// (no refresh token anywhere) and says so.
#[tokio::test]
async fn token_runs_the_client_credentials_grant_when_that_is_configured() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 600})))
        .mount(&server)
        .await;
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2-ClientCredentials;Sample={0}/api/x;ClientID=cli;ClientSecret={1};TokenURI=POST {0}/token;ClientCredentialsMode=Post",
        server.uri(),
        SECRETS[0],
    );
    let r = connectkit(&["token", "-", "--format", "json"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["grant_type"], "client_credentials");
    assert_eq!(v["expires_in"], 600);
    let sent = &server.received_requests().await.unwrap()[0];
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&sent.body)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_secret"], SECRETS[0]);
    assert!(!form.contains_key("refresh_token"));
}

/// Without a grant the error names what is configured and every method
/// that has one, client credentials included.
#[tokio::test]
async fn token_without_a_grant_names_the_methods_that_have_one() {
    let url = "autorest:AuthenticationMethod=BearerToken;SecurityToken=xyz;Sample=http://127.0.0.1:9/api/x";
    let r = connectkit(&["token", "-"], Some(url)).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    for part in [
        "AuthenticationMethod",
        "BearerToken",
        "OAuth2-RefreshToken",
        "OAuth2-ClientCredentials",
        "client credentials",
    ] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }
    let help = connectkit(&["token", "--help"], None).await;
    assert!(
        help.stdout.contains("client credentials grant"),
        "{}",
        help.stdout
    );
}

#[tokio::test]
async fn demo_runs_and_prints_rows() {
    let r = connectkit(&["demo"], None).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for expected in [
        "countries",
        "orders",
        "Norway",
        "Lisbon",
        "1001",
        "answered 401",
        "rotated",
        "holds the latest rotated refresh token: true",
        // The SQL join: paid orders with their country's name, largest first.
        "│ 1003 ┆ Portugal ┆ 1200.0 │",
        "│ 1001 ┆ Norway   ┆ 250.5  │",
    ] {
        assert!(
            r.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("ClientSecret=***") && !r.stdout.contains("demo-secret"));
}

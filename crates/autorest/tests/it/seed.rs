//! The seed's data-source example and connection URL, against a mock token
//! endpoint and a mock API.

use base64::Engine;
use connectkit_autorest::{AutoRestDataSource, register};
use connectkit_core::{Connector, Registry, ScanRequest};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{fixtures, model_file, requests_to, rows};

const CLIENT_ID: &str = "1234567898-a1bc2de3fgh4ij567klmn8opqr9stu.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "FaZBFRsGXTaR";
const REFRESH_TOKEN: &str = "1/abCD0F1GHijkLmNOPqrs_T2VWx3Y-Zabc45dE6FGh";

async fn google_mock() -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(path("/o/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "ya29.a0Af", "token_type": "Bearer", "expires_in": 3599}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/analytics/v3/management/accounts"))
        .and(header("authorization", "Bearer ya29.a0Af"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "analytics#accounts",
            "items": [
                {"id": "41536", "name": "Acme Web", "created": "2019-03-04T10:20:30.000Z",
                 "permissions": {"effective": ["COLLABORATE", "READ_AND_ANALYZE"]}},
                {"id": "77012", "name": "Globex", "created": "2021-11-30T08:00:00Z",
                 "permissions": {"effective": ["READ_AND_ANALYZE"]}}
            ],
            "totalResults": 2
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/analytics/v3/management/webproperties"))
        .and(header("authorization", "Bearer ya29.a0Af"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "analytics#webproperties",
            "items": [{"id": "UA-41536-1", "name": "acme.example", "level": "STANDARD", "starred": true}],
            "totalResults": 1
        })))
        .mount(&server)
        .await;
    server
}

async fn check(c: &dyn Connector, server: &MockServer) {
    let names: Vec<_> = c
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        [
            "accounts",
            "accounts_permissions_effective",
            "webproperties"
        ]
    );
    let accounts = rows(c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(
        accounts,
        [
            json!({"id": "41536", "name": "Acme Web", "created": "2019-03-04T10:20:30Z"}),
            json!({"id": "77012", "name": "Globex", "created": "2021-11-30T08:00:00Z"}),
        ]
    );
    let effective = rows(c, "accounts_permissions_effective", ScanRequest::new())
        .await
        .unwrap();
    assert_eq!(effective.len(), 3);
    assert_eq!(
        effective[1],
        json!({"accounts_id": "41536", "position": 1, "value": "READ_AND_ANALYZE"})
    );
    let props = rows(
        c,
        "WebProperties",
        ScanRequest::new().with_projection(["name", "starred"]),
    )
    .await
    .unwrap();
    assert_eq!(props, [json!({"name": "acme.example", "starred": true})]);

    // One token request, as the seed's properties say: GET, All mode.
    let token = requests_to(server, "/o/oauth2/token").await;
    assert_eq!(token.len(), 1);
    let t = &token[0];
    assert_eq!(t.method.as_str(), "GET");
    let q: Vec<(String, String)> = t.url.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("refresh_token"));
    assert_eq!(get("refresh_token"), Some(REFRESH_TOKEN));
    assert_eq!(get("client_id"), Some(CLIENT_ID));
    assert_eq!(get("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(get("scope"), None);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        t.headers["authorization"].to_str().unwrap(),
        format!("Basic {basic}")
    );
    assert!(t.body.is_empty());
}

#[tokio::test]
async fn the_seed_data_source_example() {
    let server = google_mock().await;
    let model = model_file("googleanalytics.rest", &server);
    let c = AutoRestDataSource::new()
        .description("My Autonomous REST Data Source")
        .authentication_method("OAuth2-RefreshToken")
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .config(model.path().to_str().unwrap())
        .refresh_token(REFRESH_TOKEN)
        .token_uri(format!("{}/o/oauth2/token", server.uri()))
        .build()
        .unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains(CLIENT_SECRET) && !shown.contains(REFRESH_TOKEN),
        "{shown}"
    );
    check(&c, &server).await;
}

#[tokio::test]
async fn the_seed_connection_url() {
    let server = google_mock().await;
    let model = model_file("googleanalytics.rest", &server);
    let seed = std::fs::read_to_string(fixtures().join("seeds/autorest.url")).unwrap();
    let url = seed
        .replace(
            "C:/path/to/googleanalytics.rest",
            model.path().to_str().unwrap(),
        )
        .replace(
            "https://accounts.google.com/o/oauth2/token",
            &format!("{}/o/oauth2/token", server.uri()),
        );
    assert_ne!(url, seed);
    let mut registry = Registry::new();
    register(&mut registry);
    let c = registry.connect(&url).unwrap();
    check(&*c, &server).await;
}

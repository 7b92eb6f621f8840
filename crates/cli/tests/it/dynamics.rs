use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRETS, connectkit};

fn fixture(name: &str, server: &MockServer) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/dynamics365")
        .join(name);
    std::fs::read_to_string(p).unwrap().replace(
        "{{SERVICE_URL}}",
        &format!("{}/api/data/v9.2/", server.uri()),
    )
}

/// Mounts what every connection to the mock org needs (the token
/// endpoint, the service document, `$metadata`); the connection URL.
async fn org(server: &MockServer) -> String {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600})))
        .mount(server)
        .await;
    Mock::given(path("/api/data/v9.2/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("service.json", server), "application/json"),
        )
        .mount(server)
        .await;
    Mock::given(path("/api/data/v9.2/$metadata"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("metadata.xml", server), "application/xml"),
        )
        .mount(server)
        .await;
    format!(
        "jdbc:datadirect:dynamics365:ServiceURL={0}/api/data/v9.2/;ClientID=29453d6f;ClientSecret={1};TokenURI={0}/token;RefreshToken={2};",
        server.uri(),
        SECRETS[0],
        SECRETS[1]
    )
}

#[tokio::test]
async fn dynamics_tables_and_query_through_the_cli() {
    let server = MockServer::builder().start().await;
    let url = org(&server).await;
    Mock::given(path("/api/data/v9.2/accounts"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("accounts_page1.json", &server), "application/json"),
        )
        .mount(&server)
        .await;
    let r = connectkit(&["tables", "-", "--format", "json"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["accounts", "contacts"]);
    let r = connectkit(
        &[
            "query", "-", "accounts", "--limit", "2", "--format", "jsonl",
        ],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert!(!r.stderr.is_empty(), "RUST_LOG=trace logs went to stderr");
}

/// `tables` reads the schemas a few at a time: with labels on, each one
/// takes an attribute request. The first table's answer comes last, and the
/// tables are still listed in order, each with its own label columns, each
/// definition read once.
#[tokio::test]
async fn tables_with_labels_read_attribute_definitions_once_each_in_order() {
    let server = MockServer::builder().start().await;
    let url = org(&server).await + "IncludeFormattedValues=true;MetadataCache=false";
    let attributes = |name: &str, kind: &str| {
        serde_json::json!({"value": [
            {"LogicalName": name, "AttributeType": kind, "AttributeTypeName": {"Value": "x"}}
        ]})
    };
    Mock::given(path(
        "/api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes",
    ))
    .respond_with(
        ResponseTemplate::new(200)
            .set_body_json(attributes("creditonhold", "Boolean"))
            .set_delay(std::time::Duration::from_millis(300)),
    )
    .expect(1)
    .mount(&server)
    .await;
    Mock::given(path(
        "/api/data/v9.2/EntityDefinitions(LogicalName='contact')/Attributes",
    ))
    .respond_with(
        ResponseTemplate::new(200).set_body_json(attributes("parentcustomerid", "Customer")),
    )
    .expect(1)
    .mount(&server)
    .await;
    let r = connectkit(&["tables", "-", "--format", "json"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let tables = v.as_array().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["accounts", "contacts"]);
    let text = |i: usize| tables[i].to_string();
    assert!(text(0).contains("creditonhold_label"), "{}", text(0));
    assert!(
        text(1).contains("_parentcustomerid_value_entity"),
        "{}",
        text(1)
    );
    server.verify().await;
}

/// Answers with `body` after `delay`, noting when each request arrived.
struct Arrivals {
    body: serde_json::Value,
    delay: std::time::Duration,
    seen: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl wiremock::Respond for Arrivals {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        self.seen.lock().unwrap().push(std::time::Instant::now());
        ResponseTemplate::new(200)
            .set_body_json(self.body.clone())
            .set_delay(self.delay)
    }
}

/// How long after the first table's attribute request the second one
/// reached the server, when the first is answered after 400 ms.
async fn second_schema_request_after(extra: &str) -> std::time::Duration {
    let server = MockServer::builder().start().await;
    let url = org(&server).await + "IncludeFormattedValues=true;MetadataCache=false;" + extra;
    let attributes = serde_json::json!({"value": [
        {"LogicalName": "name", "AttributeType": "String", "AttributeTypeName": {"Value": "x"}}
    ]});
    let (first, second) = (Default::default(), Default::default());
    for (entity, seen, delay) in [("account", &first, 400), ("contact", &second, 0)] {
        Mock::given(path(format!(
            "/api/data/v9.2/EntityDefinitions(LogicalName='{entity}')/Attributes"
        )))
        .respond_with(Arrivals {
            body: attributes.clone(),
            delay: std::time::Duration::from_millis(delay),
            seen: std::sync::Arc::clone(seen),
        })
        .expect(1)
        .mount(&server)
        .await;
    }
    let r = connectkit(&["tables", "-", "--format", "json"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    server.verify().await;
    let at = |s: &std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>| s.lock().unwrap()[0];
    at(&second).saturating_duration_since(at(&first))
}

/// `tables` reads schemas at most MaxConcurrentRequests at a time: at 1 the
/// second table's request waits for the first table's answer; at the
/// default it does not.
#[tokio::test]
async fn tables_read_schemas_within_max_concurrent_requests() {
    let one_at_a_time = second_schema_request_after("MaxConcurrentRequests=1").await;
    assert!(
        one_at_a_time >= std::time::Duration::from_millis(350),
        "{one_at_a_time:?}"
    );
    let side_by_side = second_schema_request_after("").await;
    assert!(
        side_by_side < std::time::Duration::from_millis(350),
        "{side_by_side:?}"
    );
}

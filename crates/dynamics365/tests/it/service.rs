//! The connector sending through an `HttpService` of the caller's own: the
//! token endpoint, the fixtures' service document, `$metadata` and pages
//! answered from memory give the same rows as over HTTP, every API request
//! authorized with the token the service issued, nothing sent past it.

use std::sync::{Arc, Mutex};

use connectkit_core::ScanRequest;
use connectkit_core::client::{HttpService, ServiceFuture};
use connectkit_dynamics365::Dynamics365DataSource;
use wiremock::MockServer;

use crate::*;

/// Port 9 (discard): a request that went past the service would fail.
const ROOT: &str = "http://127.0.0.1:9";

/// The fixtures of [`mount_api`], from memory; (path and query,
/// Authorization) of each request.
#[derive(Debug, Default)]
struct Fixtures {
    seen: Mutex<Vec<(String, Option<String>)>>,
}

impl Fixtures {
    fn file(name: &str) -> String {
        repo_file(&format!("fixtures/dynamics365/{name}"))
            .replace("{{SERVICE_URL}}", &format!("{ROOT}{BASE_PATH}"))
    }
}

impl HttpService for Fixtures {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let url = request.url().clone();
        let auth = request
            .headers()
            .get(reqwest::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push((
            format!("{}?{}", url.path(), url.query().unwrap_or("")),
            auth,
        ));
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "$skiptoken")
            .map(|(_, v)| v.into_owned());
        let (body, content_type) = match (url.path(), token) {
            ("/token", _) => (
                serde_json::json!({"access_token": "at-from-service", "token_type": "Bearer",
                                   "expires_in": 3600})
                .to_string(),
                "application/json",
            ),
            (BASE_PATH, _) => (Self::file("service.json"), "application/json"),
            (METADATA, _) => (Self::file("metadata.xml"), "application/xml"),
            (ACCOUNTS, None) => (Self::file("accounts_page1.json"), "application/json"),
            (ACCOUNTS, Some(t)) if t == skiptoken(2) => {
                (Self::file("accounts_page2.json"), "application/json")
            }
            (ACCOUNTS, Some(t)) if t == skiptoken(3) => {
                (Self::file("accounts_page3.json"), "application/json")
            }
            _ => return Box::pin(async move { Err(format!("no fixture for {url}").into()) }),
        };
        let response = http::Response::builder()
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body);
        Box::pin(async move { Ok(response?.into()) })
    }
}

#[tokio::test]
async fn pages_from_a_service_give_the_rows_http_gives() {
    let fixtures = Arc::new(Fixtures::default());
    let c = Dynamics365DataSource::new()
        .service_url(format!("{ROOT}{BASE_PATH}"))
        .authentication_method("OAuth2")
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(format!("{ROOT}/token"))
        .refresh_token(REFRESH_TOKEN)
        .property("MetadataCache", "false")
        .http_service(fixtures.clone())
        .build()
        .unwrap();
    let from_memory = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();

    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let over_http = scan_all(&connector(&server), "accounts", ScanRequest::new())
        .await
        .unwrap();
    let names = strings(&from_memory, "name");
    assert!(names.len() > 3, "{names:?}");
    assert_eq!(names, strings(&over_http, "name"));

    let seen = fixtures.seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "/token?", "the grant first: {seen:?}");
    assert!(
        seen[1..]
            .iter()
            .all(|(_, auth)| auth.as_deref() == Some("Bearer at-from-service")),
        "{seen:?}"
    );
    let pages = seen.iter().filter(|(p, _)| p.starts_with(ACCOUNTS)).count();
    assert_eq!(pages, 3, "each page once: {seen:?}");
}

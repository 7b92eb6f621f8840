//! The seed's connection URL end to end, and what the token endpoint and
//! the API received.

use std::collections::BTreeMap;

use connectkit_core::{Connector, Registry, ScanRequest};
use connectkit_dynamics365::register;
use wiremock::MockServer;

use crate::*;

const SEED_SERVICE_URL: &str = "https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/";
const SEED_TOKEN_URI: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
const TOKEN_PATH: &str = "/common/oauth2/v2.0/token";

fn form(req: &wiremock::Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The seed URL, byte for byte, with its two hosts pointed at `server`.
fn seed_url(server: &MockServer) -> String {
    let seed = repo_file("fixtures/seeds/dynamics365.url");
    assert!(seed.contains(SEED_SERVICE_URL) && seed.contains(SEED_TOKEN_URI));
    seed.replace(SEED_SERVICE_URL, &service_url(server))
        .replace(SEED_TOKEN_URI, &format!("{}{TOKEN_PATH}", server.uri()))
}

#[tokio::test]
async fn the_seed_url_lists_tables_and_scans_rows_through_the_grant() {
    let server = MockServer::builder().start().await;
    let issuer = mount_token(&server, TOKEN_PATH).await;
    mount_api(&server).await;
    let mut registry = Registry::new();
    register(&mut registry);
    let c = registry.connect(&seed_url(&server)).unwrap();

    let tables: Vec<String> = c
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tables, ["accounts", "contacts"]);
    let batches = scan_all(&*c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);

    // One token request: a POST form with the credentials in the body.
    assert_eq!(issuer.count(), 1);
    let tokens = requests_to(&server, TOKEN_PATH).await;
    let t = &tokens[0];
    assert_eq!(t.method.as_str(), "POST");
    assert_eq!(t.url.query(), None);
    assert_eq!(
        header(t, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(t, "authorization"), None, "no Basic header");
    let expected_scope = format!("{}/.default offline_access", server.uri());
    let expected: BTreeMap<String, String> = [
        ("grant_type", "refresh_token"),
        ("refresh_token", REFRESH_TOKEN),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("scope", expected_scope.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(t), expected);

    // Every API request: bearer token and OData headers; scans ask for pages.
    let api: Vec<_> = received(&server)
        .await
        .into_iter()
        .filter(|r| r.url.path() != TOKEN_PATH)
        .collect();
    let paths: Vec<_> = api.iter().map(|r| r.url.path().to_owned()).collect();
    assert_eq!(paths, [BASE_PATH, METADATA, ACCOUNTS, ACCOUNTS, ACCOUNTS]);
    for r in &api {
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(header(r, "authorization"), Some("Bearer at-1"));
        assert_eq!(header(r, "odata-version"), Some("4.0"));
        assert_eq!(header(r, "odata-maxversion"), Some("4.0"));
        let scan = r.url.path() == ACCOUNTS;
        let accept = if r.url.path() == METADATA {
            "application/xml"
        } else {
            "application/json"
        };
        assert_eq!(header(r, "accept"), Some(accept), "{}", r.url);
        let prefer = scan.then_some("odata.maxpagesize=5000");
        assert_eq!(header(r, "prefer"), prefer, "{}", r.url);
    }
}

#[tokio::test]
async fn a_service_url_without_trailing_slash_works_the_same() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let url = service_url(&server);
    let c = source(&server)
        .service_url(url.trim_end_matches('/'))
        .page_size(2)
        .build()
        .unwrap();
    assert_eq!(c.service_url().as_str(), url);
    assert_eq!(c.tables().await.unwrap().len(), 2);
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(batches.len(), 3);
    let paths: Vec<_> = received(&server)
        .await
        .iter()
        .filter(|r| r.url.path() != "/token")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, [BASE_PATH, METADATA, ACCOUNTS, ACCOUNTS, ACCOUNTS]);
    for r in requests_to(&server, ACCOUNTS).await {
        assert_eq!(header(&r, "prefer"), Some("odata.maxpagesize=2"));
    }
}

#[tokio::test]
async fn a_given_scope_and_credentials_mode_override_the_defaults() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = source(&server)
        .scope("https://mywebinstance.crm.dynamics.com/user_impersonation offline_access")
        .client_credentials_mode(connectkit_oauth_refresh::ClientCredentialsMode::Basic)
        .build()
        .unwrap();
    c.tables().await.unwrap();
    let t = &requests_to(&server, "/token").await[0];
    assert_eq!(t.method.as_str(), "POST");
    assert!(header(t, "authorization").unwrap().starts_with("Basic "));
    let f = form(t);
    assert_eq!(
        f["scope"],
        "https://mywebinstance.crm.dynamics.com/user_impersonation offline_access"
    );
    assert!(!f.contains_key("client_secret"));
}

#[tokio::test]
async fn the_data_source_and_the_url_build_the_same_connector() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let from_url = {
        let mut r = Registry::new();
        register(&mut r);
        let url = format!(
            "jdbc:datadirect:dynamics365:ServiceURL={};ClientID={CLIENT_ID};ClientSecret={CLIENT_SECRET};TokenURI={}/token;RefreshToken={REFRESH_TOKEN};",
            service_url(&server),
            server.uri()
        );
        format!("{:?}", r.connect(&url).unwrap())
    };
    let from_source = format!("{:?}", connector(&server));
    assert_eq!(from_url, from_source);
    assert!(!from_url.contains("12a3"), "{from_url}");
}

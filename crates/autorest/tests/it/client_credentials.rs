//! `AuthenticationMethod=OAuth2-ClientCredentials` (and the legacy `OAuth2`
//! without a RefreshToken): the client credentials grant authorizes the scan.

use connectkit_core::ScanRequest;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{requests_to, rows};

#[tokio::test]
async fn both_method_names_send_the_client_credentials_grant() {
    for name in ["OAuth2-ClientCredentials", "OAuth2"] {
        let server = MockServer::builder().start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "cc-access-1", "token_type": "Bearer", "expires_in": 3600})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/items"))
            .and(header("authorization", "Bearer cc-access-1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": 1}])))
            .mount(&server)
            .await;
        let url = format!(
            "autorest:Sample={0}/items;AuthenticationMethod={name};ClientID=svc;ClientSecret=svc-s3cret;TokenURI=POST {0}/token;ClientCredentialsMode=Post;Scope=read",
            server.uri()
        );
        let mut registry = connectkit_core::Registry::new();
        connectkit_autorest::register(&mut registry);
        let c = registry.connect(&url).unwrap();
        let table = c.tables().await.unwrap()[0].name.clone();
        let got = rows(c.as_ref(), &table, ScanRequest::new()).await.unwrap();
        assert_eq!(got.len(), 1, "{name}");
        let token = requests_to(&server, "/token").await;
        assert_eq!(token.len(), 1, "{name}: one grant");
        let form = String::from_utf8_lossy(&token[0].body).into_owned();
        assert_eq!(
            form, "grant_type=client_credentials&scope=read&client_id=svc&client_secret=svc-s3cret",
            "{name}"
        );
    }
}

/// `AuthenticationMethod=OAuth2-JWTBearer` with a service-account key file
/// (the Google form): the key file names the account, its key and the
/// token endpoint; the grant's assertion is verified with the public key.
#[tokio::test]
async fn a_service_account_key_file_authorizes_the_scan_with_the_jwt_bearer_grant() {
    let keys = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../oauth-refresh/tests/it/keys"
    );
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "sa-access-1", "token_type": "Bearer", "expires_in": 3600})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(header("authorization", "Bearer sa-access-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": 1}])))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("service-account.json");
    let token_uri = format!("{}/token", server.uri());
    std::fs::write(
        &file,
        serde_json::json!({
            "type": "service_account",
            "private_key_id": "k-1",
            "private_key": std::fs::read_to_string(format!("{keys}/rsa.pkcs8.pem")).unwrap(),
            "client_email": "reader@project.iam.gserviceaccount.com",
            "token_uri": token_uri,
        })
        .to_string(),
    )
    .unwrap();
    let url = format!(
        "autorest:Sample={}/items;AuthenticationMethod=OAuth2-JWTBearer;JWTCertStore={};Scope=https://www.googleapis.com/auth/analytics.readonly",
        server.uri(),
        file.display()
    );
    let mut registry = connectkit_core::Registry::new();
    connectkit_autorest::register(&mut registry);
    let c = registry.connect(&url).unwrap();
    let table = c.tables().await.unwrap()[0].name.clone();
    let got = rows(c.as_ref(), &table, ScanRequest::new()).await.unwrap();
    assert_eq!(got.len(), 1);
    let token = requests_to(&server, "/token").await;
    assert_eq!(token.len(), 1, "one grant");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token[0].body)
        .into_owned()
        .collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(
        field("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let public = std::fs::read(format!("{keys}/rsa.pub.pem")).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[token_uri.as_str()]);
    let jwt = jsonwebtoken::decode::<serde_json::Value>(
        field("assertion").unwrap(),
        &jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap(),
        &v,
    )
    .expect("an RS256 assertion signed by the service account's key");
    assert_eq!(jwt.header.kid.as_deref(), Some("k-1"));
    assert_eq!(jwt.claims["iss"], "reader@project.iam.gserviceaccount.com");
    assert_eq!(
        jwt.claims["scope"],
        "https://www.googleapis.com/auth/analytics.readonly"
    );
}

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

//! `AuthenticationMethod=OAuth2` without RefreshToken: the client credentials
//! grant, as the vendor documents for service principals.

use connectkit_core::ScanRequest;

use crate::*;

#[tokio::test]
async fn without_a_refresh_token_the_client_credentials_grant_authorizes_the_scan() {
    let server = MockServer::builder().start().await;
    let issuer = mount_all(&server).await;
    let source = Dynamics365DataSource::new()
        .service_url(service_url(&server))
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(format!("POST {}/token", server.uri()));
    let c = source.build().unwrap();
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert_eq!(issuer.count(), 1, "one grant serves the whole scan");

    let token = requests_to(&server, "/token").await;
    assert_eq!(token.len(), 1);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token[0].body)
        .into_owned()
        .collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("client_credentials"));
    assert_eq!(field("client_id"), Some(CLIENT_ID));
    assert_eq!(field("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(field("refresh_token"), None);
    let scope = field("scope").unwrap();
    assert!(scope.ends_with("/.default"), "no offline_access: {scope}");
    for api in requests_to(&server, ACCOUNTS).await {
        assert_eq!(header(&api, "authorization"), Some("Bearer at-1"));
    }
}

#[tokio::test]
async fn a_certificate_credential_signs_entras_client_assertion_for_the_scan() {
    let server = MockServer::builder().start().await;
    let issuer = mount_all(&server).await;
    let keys = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../oauth-refresh/tests/it/keys"
    );
    let source = Dynamics365DataSource::new()
        .service_url(service_url(&server))
        .client_id(CLIENT_ID)
        .jwt_cert_store(format!("{keys}/rsa.pfx"))
        .jwt_cert_password("test-pfx-password")
        .token_uri(format!("{}/token", server.uri()));
    let c = source.build().unwrap();
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert_eq!(issuer.count(), 1);

    let token = requests_to(&server, "/token").await;
    assert_eq!(token[0].method.as_str(), "POST");
    assert_eq!(header(&token[0], "authorization"), None);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token[0].body)
        .into_owned()
        .collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("client_credentials"));
    assert_eq!(field("client_id"), Some(CLIENT_ID));
    assert_eq!(field("client_secret"), None);
    assert_eq!(
        field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let aud = format!("{}/token", server.uri());
    let public = std::fs::read(format!("{keys}/rsa.pub.pem")).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
    v.set_audience(&[aud.as_str()]);
    let jwt = jsonwebtoken::decode::<serde_json::Value>(
        field("client_assertion").unwrap(),
        &jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap(),
        &v,
    )
    .expect("a PS256 assertion signed by the certificate's key");
    assert!(jwt.header.x5t_s256.is_some(), "{:?}", jwt.header);
    assert_eq!(jwt.claims["iss"], CLIENT_ID);
    assert_eq!(jwt.claims["sub"], CLIENT_ID);
    let scope = field("scope").unwrap();
    assert!(scope.ends_with("/.default"), "no offline_access: {scope}");
    for api in requests_to(&server, ACCOUNTS).await {
        assert_eq!(header(&api, "authorization"), Some("Bearer at-1"));
    }
}

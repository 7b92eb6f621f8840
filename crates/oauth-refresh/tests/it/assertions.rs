//! Signed credentials (RFC 7523): client assertions (`private_key_jwt`
//! from PEM and PKCS#12 keys, `client_secret_jwt`) for every grant, and the
//! JWT bearer grant from properties and from a service-account key file.
//! Every assertion the token endpoint received is decoded and verified
//! with the public key here, and its header and claims checked.

use std::path::PathBuf;

use base64::Engine;
use connectkit_core::{ConnectionUrl, ErrorKind, Properties};
use connectkit_oauth_refresh::{
    GrantType, RefreshTokenFlow, RefreshTokenFlowBuilder, SigningAlgorithm, SigningKey,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::SecretString;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{CLIENT_ID, CLIENT_SECRET, CountingIssuer, REFRESH_TOKEN, Received, token_requests};

pub(crate) const PFX_PASSWORD: &str = "test-pfx-password";
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(crate) fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/keys")
        .join(name)
}

pub(crate) fn key_text(name: &str) -> String {
    std::fs::read_to_string(key_path(name)).unwrap()
}

pub(crate) fn pfx_key() -> SigningKey {
    SigningKey::from_file(
        key_path("rsa.pfx"),
        Some(&SecretString::from(PFX_PASSWORD)),
        None,
    )
    .unwrap()
}

/// The test certificate's thumbprints, computed here from its PEM.
pub(crate) fn thumbprints() -> (String, String) {
    let der = CertificateDer::from_pem_slice(key_text("rsa.cert.pem").as_bytes()).unwrap();
    let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
    (
        b64(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref()),
        b64(ring::digest::digest(&ring::digest::SHA256, &der).as_ref()),
    )
}

pub(crate) fn param<'a>(r: &'a Received, name: &str) -> Option<&'a str> {
    r.query
        .iter()
        .chain(&r.form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn names(r: &Received) -> Vec<&str> {
    r.query
        .iter()
        .chain(&r.form)
        .map(|(k, _)| k.as_str())
        .collect()
}

/// Verifies `jwt` with `key` and `alg` for `aud`, returning header and claims.
pub(crate) fn verify(
    jwt: &str,
    key: &DecodingKey,
    alg: Algorithm,
    aud: &str,
) -> (jsonwebtoken::Header, serde_json::Value) {
    let mut v = Validation::new(alg);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "nbf"]);
    v.validate_nbf = true;
    let data = jsonwebtoken::decode::<serde_json::Value>(jwt, key, &v)
        .unwrap_or_else(|e| panic!("the assertion does not verify: {e}"));
    (data.header, data.claims)
}

pub(crate) fn rsa_public() -> DecodingKey {
    DecodingKey::from_rsa_pem(key_text("rsa.pub.pem").as_bytes()).unwrap()
}

pub(crate) fn check_times(claims: &serde_json::Value) {
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["nbf"].as_u64(), Some(iat), "{claims}");
    assert_eq!(claims["exp"].as_u64(), Some(iat + 300), "{claims}");
    let jti = claims["jti"].as_str().unwrap();
    assert!(jti.len() >= 22, "{jti}");
}

pub(crate) async fn token_server() -> (MockServer, CountingIssuer) {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    (server, issuer)
}

fn props(text: &str) -> Properties {
    format!("autorest:{text}")
        .parse::<ConnectionUrl>()
        .unwrap()
        .into_parts()
        .1
}

pub(crate) fn from_props(text: &str) -> Result<RefreshTokenFlow, connectkit_oauth_refresh::Error> {
    let p = props(text);
    RefreshTokenFlowBuilder::from_properties_for(&p, GrantType::for_oauth2(&p))?.build()
}

#[tokio::test]
async fn a_certificate_credential_from_pkcs12_signs_entras_form_of_client_assertion() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let flow = RefreshTokenFlow::client_credentials()
        .client_id(CLIENT_ID)
        .token_uri(&format!("POST {token_url}"))
        .unwrap()
        .scope("https://org.crm.dynamics.com/.default")
        .private_key_jwt(pfx_key().with_algorithm(SigningAlgorithm::PS256).unwrap())
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    flow.refresh().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.authorization, None, "no Basic header beside an assertion");
    assert_eq!(
        names(r),
        [
            "grant_type",
            "scope",
            "client_id",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    assert_eq!(param(r, "grant_type"), Some("client_credentials"));
    assert_eq!(param(r, "client_id"), Some(CLIENT_ID));
    assert_eq!(param(r, "client_assertion_type"), Some(ASSERTION_TYPE));
    let (header, claims) = verify(
        param(r, "client_assertion").unwrap(),
        &rsa_public(),
        Algorithm::PS256,
        &token_url,
    );
    let (x5t, x5t_s256) = thumbprints();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.x5t_s256.as_deref(), Some(x5t_s256.as_str()));
    assert_eq!(header.x5t.as_deref(), Some(x5t.as_str()));
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], token_url.as_str());
    check_times(&claims);
    // Every request has its own jti.
    let (_, second) = verify(
        param(&reqs[1], "client_assertion").unwrap(),
        &rsa_public(),
        Algorithm::PS256,
        &token_url,
    );
    assert_ne!(claims["jti"], second["jti"]);
}

#[tokio::test]
async fn the_refresh_grant_authenticates_with_a_pem_key_rs256_by_default() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let key = SigningKey::from_file(key_path("rsa.pkcs1.pem"), None, None).unwrap();
    assert_eq!(key.algorithm(), SigningAlgorithm::RS256);
    assert_eq!(key.x5t_s256(), None, "no certificate in the file");
    let flow = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .refresh_token(REFRESH_TOKEN)
        // A GET prefix is overridden: an assertion never goes in a URL.
        .token_uri(&format!("GET {token_url}"))
        .unwrap()
        .private_key_jwt(key)
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    assert_eq!(r.method, "POST");
    assert!(r.query.is_empty(), "{r:?}");
    assert_eq!(param(r, "grant_type"), Some("refresh_token"));
    assert_eq!(param(r, "refresh_token"), Some(REFRESH_TOKEN));
    let (header, claims) = verify(
        param(r, "client_assertion").unwrap(),
        &rsa_public(),
        Algorithm::RS256,
        &token_url,
    );
    assert_eq!(header.x5t_s256, None);
    assert_eq!(claims["sub"], CLIENT_ID);
}

#[tokio::test]
async fn an_ec_key_signs_es256() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let flow = from_props(&format!(
        "ClientID={CLIENT_ID};TokenURI=POST {token_url};JWTCertStore={}",
        key_path("ec.pkcs8.pem").display()
    ))
    .unwrap();
    assert_eq!(flow.grant_type(), GrantType::ClientCredentials);
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    assert_eq!(param(r, "client_secret"), None);
    let public = DecodingKey::from_ec_pem(key_text("ec.pub.pem").as_bytes()).unwrap();
    let (header, claims) = verify(
        param(r, "client_assertion").unwrap(),
        &public,
        Algorithm::ES256,
        &token_url,
    );
    assert_eq!(header.alg, Algorithm::ES256);
    check_times(&claims);
}

#[tokio::test]
async fn a_certificate_credential_from_properties_replaces_the_client_secret() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let flow = from_props(&format!(
        "ClientID={CLIENT_ID};TokenURI=POST {token_url};JWTCertStore={};JWTCertPassword={PFX_PASSWORD};JWTCertAlias=connectkit;JWTAlgorithm=PS256",
        key_path("rsa.pfx").display()
    ))
    .unwrap();
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    assert_eq!(r.authorization, None);
    let (header, _) = verify(
        param(r, "client_assertion").unwrap(),
        &rsa_public(),
        Algorithm::PS256,
        &token_url,
    );
    assert_eq!(header.x5t_s256.as_deref(), Some(thumbprints().1.as_str()));
}

#[tokio::test]
async fn client_secret_jwt_signs_hs256_with_the_secret_and_never_sends_it() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let flow = from_props(&format!(
        "ClientID={CLIENT_ID};ClientSecret={CLIENT_SECRET};TokenURI=POST {token_url};ClientAuthentication=ClientSecretJWT"
    ))
    .unwrap();
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    assert_eq!(r.authorization, None);
    assert_eq!(param(r, "client_secret"), None);
    let body = format!("{r:?}");
    assert!(!body.contains(CLIENT_SECRET), "{body}");
    let (header, claims) = verify(
        param(r, "client_assertion").unwrap(),
        &DecodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        Algorithm::HS256,
        &token_url,
    );
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(claims["iss"], CLIENT_ID);
    check_times(&claims);
}

#[tokio::test]
async fn the_jwt_bearer_grant_from_properties() {
    let (server, issuer) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let flow = from_props(&format!(
        "AuthenticationMethod=OAuth2-JWTBearer;TokenURI={token_url};JWTCertStore={};ClaimsIssuer=reporting-app;ClaimsSubject=alice@example.com;Scope=read write",
        key_path("rsa.pkcs8.pem").display()
    ))
    .unwrap();
    assert_eq!(flow.grant_type(), GrantType::JwtBearer);
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    assert_eq!(
        r.method, "POST",
        "a TokenURI without prefix still POSTs an assertion"
    );
    assert_eq!(r.authorization, None);
    assert_eq!(names(r), ["grant_type", "assertion", "scope"]);
    assert_eq!(param(r, "grant_type"), Some(JWT_BEARER));
    assert_eq!(param(r, "scope"), Some("read write"));
    let (header, claims) = verify(
        param(r, "assertion").unwrap(),
        &rsa_public(),
        Algorithm::RS256,
        &token_url,
    );
    assert_eq!(header.kid, None);
    assert_eq!(claims["iss"], "reporting-app");
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["scope"], "read write");
    check_times(&claims);
    // Cached like client credentials, and renewed by a new assertion.
    flow.access_token().await.unwrap();
    assert_eq!(issuer.count(), 1);
    flow.refresh().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_ne!(param(&reqs[0], "assertion"), param(&reqs[1], "assertion"));
}

#[tokio::test]
async fn claims_audience_sets_the_aud() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let flow = from_props(&format!(
        "TokenURI={token_url};JWTCertStore={};ClaimsIssuer=app;ClaimsAudience=https://issuer.example",
        key_path("rsa.pkcs8.pem").display()
    ))
    .unwrap();
    assert_eq!(
        flow.grant_type(),
        GrantType::JwtBearer,
        "ClaimsIssuer picks it"
    );
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    let (_, claims) = verify(
        param(r, "assertion").unwrap(),
        &rsa_public(),
        Algorithm::RS256,
        "https://issuer.example",
    );
    assert_eq!(claims.get("sub"), None);
}

fn service_account_file(dir: &tempfile::TempDir, token_uri: &str) -> PathBuf {
    let file = dir.path().join("service-account.json");
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "connectkit-test",
        "private_key_id": "0123456789abcdef",
        "private_key": key_text("rsa.pkcs8.pem"),
        "client_email": "reader@connectkit-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    });
    std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    file
}

#[tokio::test]
async fn a_service_account_key_file_is_all_the_jwt_bearer_grant_needs() {
    let (server, _) = token_server().await;
    let token_url = format!("{}/token", server.uri());
    let dir = tempfile::tempdir().unwrap();
    let file = service_account_file(&dir, &token_url);
    // No TokenURI, no ClientID: the key file says where and who.
    let flow = from_props(&format!(
        "JWTCertStore={};Scope=https://www.googleapis.com/auth/analytics.readonly",
        file.display()
    ))
    .unwrap();
    assert_eq!(flow.grant_type(), GrantType::JwtBearer);
    flow.access_token().await.unwrap();
    let r = &token_requests(&server).await[0];
    assert_eq!(param(r, "grant_type"), Some(JWT_BEARER));
    assert_eq!(param(r, "client_id"), None);
    let (header, claims) = verify(
        param(r, "assertion").unwrap(),
        &rsa_public(),
        Algorithm::RS256,
        &token_url,
    );
    assert_eq!(header.kid.as_deref(), Some("0123456789abcdef"));
    assert_eq!(
        claims["iss"],
        "reader@connectkit-test.iam.gserviceaccount.com"
    );
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/analytics.readonly"
    );
    assert_eq!(
        claims.get("sub"),
        None,
        "no delegation without ClaimsSubject"
    );
}

pub(crate) fn config_error(text: &str) -> String {
    let e = from_props(text).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    e.to_string()
}

#[test]
fn a_key_store_that_cannot_be_used_is_named_with_what_is_wrong() {
    let base = format!("ClientID={CLIENT_ID};TokenURI=POST https://login.example/token");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pfx");
    let e = config_error(&format!("{base};JWTCertStore={}", missing.display()));
    assert!(
        e.starts_with(&format!(
            "property JWTCertStore: {} cannot be read (",
            missing.display()
        )),
        "{e}"
    );

    let garbage = dir.path().join("garbage.pfx");
    std::fs::write(&garbage, b"\x30\x03\x02\x01\x05 not a key").unwrap();
    let e = config_error(&format!("{base};JWTCertStore={}", garbage.display()));
    assert!(e.contains(&garbage.display().to_string()), "{e}");
    assert!(e.contains("is neither PEM nor a PKCS#12 file"), "{e}");

    let pfx = key_path("rsa.pfx");
    let e = config_error(&format!(
        "{base};JWTCertStore={};JWTCertPassword=wrong-password",
        pfx.display()
    ));
    assert!(e.contains("the JWTCertPassword given"), "{e}");
    assert!(!e.contains("wrong-password"), "{e}");
    let e = config_error(&format!("{base};JWTCertStore={}", pfx.display()));
    assert!(e.contains("no JWTCertPassword"), "{e}");
    let e = config_error(&format!(
        "{base};JWTCertStore={};JWTCertPassword={PFX_PASSWORD};JWTCertAlias=other",
        pfx.display()
    ));
    assert!(
        e.starts_with("property JWTCertAlias: a private key entry of"),
        "{e}"
    );
    assert!(
        e.ends_with("its private key entries are: connectkit"),
        "{e}"
    );

    let e = config_error(&format!(
        "{base};JWTCertStore={}",
        key_path("rsa.encrypted.pem").display()
    ));
    assert!(e.contains("give its password in JWTCertPassword"), "{e}");
    let e = config_error(&format!(
        "{base};JWTCertStore={}",
        key_path("rsa.cert.pem").display()
    ));
    assert!(e.contains("holds no PEM private key"), "{e}");

    let jks = dir.path().join("store.jks");
    std::fs::write(&jks, b"\xFE\xED\xFE\xED\x00\x00\x00\x02").unwrap();
    let e = config_error(&format!("{base};JWTCertStore={}", jks.display()));
    assert!(e.contains("Java keystore (JKS)"), "{e}");
    assert!(e.contains("-deststoretype PKCS12"), "{e}");

    let e = config_error(&format!(
        "{base};JWTCertStore={};JWTAlgorithm=ES256",
        key_path("rsa.pkcs8.pem").display()
    ));
    assert!(e.starts_with("property JWTAlgorithm:"), "{e}");
    assert!(e.contains("RS256 or PS256"), "{e}");
    let e = config_error(&format!(
        "{base};JWTCertStore={};JWTAlgorithm=HS512",
        key_path("rsa.pkcs8.pem").display()
    ));
    assert!(e.contains("one of RS256, PS256, ES256"), "{e}");
}

#[test]
fn a_service_account_file_without_its_fields_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sa.json");
    std::fs::write(
        &file,
        br#"{"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}"#,
    )
    .unwrap();
    let e = config_error(&format!("JWTCertStore={}", file.display()));
    assert!(e.contains(&file.display().to_string()), "{e}");
    assert!(e.contains("has no \"private_key\" field"), "{e}");
    std::fs::write(&file, br#"{"type": "authorized_user"}"#).unwrap();
    let e = config_error(&format!("JWTCertStore={}", file.display()));
    assert!(e.contains("\"authorized_user\" credential"), "{e}");
    std::fs::write(&file, b"{ not json").unwrap();
    let e = config_error(&format!("JWTCertStore={}", file.display()));
    assert!(e.contains("is not a service-account key file"), "{e}");
}

#[test]
fn what_each_credential_needs_is_named() {
    let uri = "TokenURI=POST https://login.example/token";
    let e = config_error(&format!("ClientID=c;{uri}"));
    assert_eq!(e, "missing required property ClientSecret");
    let e = from_props(&format!(
        "AuthenticationMethod=OAuth2-JWTBearer;{uri};ClaimsIssuer=a"
    ))
    .unwrap_err();
    assert_eq!(e.to_string(), "missing required property JWTCertStore");
    let e = from_props(&format!(
        "ClientID=c;{uri};ClientSecret=s;ClientAuthentication=PrivateKeyJWT"
    ))
    .unwrap_err();
    assert_eq!(e.to_string(), "missing required property JWTCertStore");
    let e = config_error(&format!(
        "ClientID=c;{uri};ClientSecret=s;ClientAuthentication=Certificate"
    ));
    assert!(
        e.contains("one of Secret, PrivateKeyJWT, ClientSecretJWT"),
        "{e}"
    );
}

#[tokio::test]
async fn no_key_password_or_assertion_reaches_debug_errors_or_logs() {
    let server = MockServer::builder().start().await;
    // A server that echoes what it received in its error description.
    Mock::given(path("/token"))
        .respond_with(|req: &Request| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let echo = form
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": "invalid_client",
                "error_description": format!("bad assertion: {echo}")
            }))
        })
        .mount(&server)
        .await;
    let (_guard, logs) = crate::capture_logs();
    let text = format!(
        "ClientID={CLIENT_ID};TokenURI=POST {}/token;JWTCertStore={};JWTCertPassword={PFX_PASSWORD}",
        server.uri(),
        key_path("rsa.pfx").display()
    );
    let p = props(&text);
    let builder =
        RefreshTokenFlowBuilder::from_properties_for(&p, GrantType::ClientCredentials).unwrap();
    let builder_debug = format!("{builder:?}");
    let flow = builder.build().unwrap();
    let err = flow.access_token().await.unwrap_err();
    let shown = format!(
        "{err} | {err:?} | {flow:?} | {builder_debug} | {:?}",
        pfx_key()
    );
    let received = token_requests(&server).await;
    let assertion = param(&received[0], "client_assertion").unwrap().to_owned();
    let key_body: String = key_text("rsa.pkcs8.pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for (what, secret) in [
        ("assertion", assertion.as_str()),
        ("assertion signature", assertion.rsplit('.').next().unwrap()),
        ("PFX password", PFX_PASSWORD),
        ("key", &key_body[..40]),
    ] {
        assert!(!shown.contains(secret), "{what} shown: {shown}");
        assert!(!logs.text().contains(secret), "{what} logged");
    }
    assert!(shown.contains("invalid_client"), "{shown}");
    // The assertion's header and claims are not secret, but the whole
    // token is: it was masked in the echoed description.
    assert!(shown.contains("client_assertion="), "{shown}");
}

//! Client authentication on the grants that start a chain (issue 28): the
//! authorization code exchange and both requests of the device grant
//! (RFC 8628 sections 3.1 and 3.4) authenticate as every token request
//! does: with a fresh client assertion when the client has one (decoded and
//! verified here with the public key), with nothing but `client_id` for a
//! public client (RFC 6749 section 2.1, RFC 8252).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connectkit_oauth_refresh::{
    Authorizer, FileStore, GrantType, RefreshTokenFlow, RefreshTokenFlowBuilder, SigningKey,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::assertions::{
    ASSERTION_TYPE, PFX_PASSWORD, check_times, key_path, key_text, names, param, rsa_public,
    thumbprints, verify,
};
use crate::authorize::{approve, mount_token, props, query, redirect};
use crate::{CLIENT_ID, CLIENT_SECRET, Received, received, token_requests};

const SCOPE: &str = "openid offline_access api.read";

#[tokio::test]
async fn the_code_exchange_authenticates_with_a_certificate_credential() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let token_url = format!("{}/token", server.uri());
    let dir = tempfile::tempdir().unwrap();
    let p = props(&format!(
        "ClientID={CLIENT_ID};TokenURI=POST {token_url};AuthURI={}/authorize;Scope={SCOPE};TokenFile={};JWTCertStore={};JWTCertPassword={PFX_PASSWORD};JWTAlgorithm=PS256",
        server.uri(),
        dir.path().join("t.json").display(),
        key_path("rsa.pfx").display()
    ));
    approve(Authorizer::from_properties(&p).unwrap())
        .await
        .unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.authorization, None, "no Basic header beside an assertion");
    assert!(r.query.is_empty(), "{r:?}");
    assert_eq!(
        names(r),
        [
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "client_id",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    assert_eq!(param(r, "grant_type"), Some("authorization_code"));
    assert_eq!(param(r, "client_assertion_type"), Some(ASSERTION_TYPE));
    let (header, claims) = verify(
        param(r, "client_assertion").unwrap(),
        &rsa_public(),
        Algorithm::PS256,
        &token_url,
    );
    assert_eq!(header.x5t_s256.as_deref(), Some(thumbprints().1.as_str()));
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    check_times(&claims);
    assert!(!format!("{r:?}").contains(PFX_PASSWORD));
}

/// A public client from properties (ClientID, no ClientSecret): the
/// authorization request carries the PKCE challenge, the code exchange its
/// verifier and `client_id` without any client authentication, and the
/// connection then refreshes from the TokenFile the same way.
#[tokio::test]
async fn a_public_client_authorizes_with_pkce_and_then_refreshes_without_a_secret() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let base = format!(
        "ClientID={CLIENT_ID};TokenURI=POST {0}/token;Scope={SCOPE};TokenFile={1}",
        server.uri(),
        file.display()
    );
    let a = Authorizer::from_properties(&props(&format!(
        "{base};AuthURI={}/authorize",
        server.uri()
    )))
    .unwrap();
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    let finish = tokio::spawn(async move { a.finish(pending).await });
    redirect(&format!(
        "{}?code=c0de&state={}",
        q["redirect_uri"], q["state"]
    ))
    .await;
    finish.await.unwrap().unwrap();

    let flow = RefreshTokenFlowBuilder::from_properties_for(&props(&base), GrantType::RefreshToken)
        .unwrap()
        .build()
        .unwrap();
    // The saved access token serves first; once the API rejects it, the
    // saved refresh token is sent.
    flow.access_token().await.unwrap();
    crate::reject_current(&flow).await;
    flow.access_token().await.unwrap();

    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.authorization, None, "{r:?}");
        assert!(r.query.is_empty(), "{r:?}");
        assert_eq!(param(r, "client_id"), Some(CLIENT_ID));
        assert_eq!(param(r, "client_secret"), None);
        assert_eq!(param(r, "client_assertion"), None);
    }
    assert_eq!(
        names(&reqs[0]),
        [
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "client_id"
        ]
    );
    assert_eq!(
        connectkit_oauth_refresh::authorize::challenge_of(
            param(&reqs[0], "code_verifier").unwrap()
        ),
        q["code_challenge"]
    );
    assert_eq!(
        names(&reqs[1]),
        ["grant_type", "refresh_token", "scope", "client_id"]
    );
    assert_eq!(param(&reqs[1], "refresh_token"), Some("rt-authorized-1"));
}

/// The token endpoint: `authorization_pending` once, then the tokens.
#[derive(Clone, Default)]
struct PendingOnce(Arc<AtomicUsize>);

impl Respond for PendingOnce {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            return ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "authorization_pending"}));
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-device", "token_type": "Bearer",
            "expires_in": 3600, "refresh_token": "rt-device"}))
    }
}

#[derive(Debug, Clone, Copy)]
enum Client {
    PrivateKey,
    SecretJwt,
    Public,
}

/// Runs the device grant for `client`; returns what the device
/// authorization endpoint and the token endpoint received, in order.
async fn device_grant(client: Client) -> (Vec<Received>, String) {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/devicecode"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "device_code": "dev1ce-c0de-4f9a8b7c6d5e", "user_code": "WDJB-MJHT",
            "verification_uri": format!("{}/device", server.uri()),
            "expires_in": 600, "interval": 1})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(PendingOnce::default())
        .mount(&server)
        .await;
    let token_url = format!("{}/token", server.uri());
    let dir = tempfile::tempdir().unwrap();
    // No pool idle timer and no deadlines: on the paused clock the poll's
    // own sleeps are the only timers.
    let mut b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .token_uri(&format!("POST {token_url}"))
        .unwrap()
        .http_client(
            connectkit_core::client::client_builder()
                .expect("TLS setup")
                .pool_idle_timeout(None)
                .build()
                .unwrap(),
        )
        .token_request_timeout(None)
        .refresh_timeout(None)
        .token_store(Arc::new(FileStore::new(dir.path().join("t.json"))));
    b = match client {
        Client::PrivateKey => {
            b.private_key_jwt(SigningKey::from_file(key_path("ec.pkcs8.pem"), None, None).unwrap())
        }
        Client::SecretJwt => b.client_secret(CLIENT_SECRET).client_secret_jwt(),
        Client::Public => b,
    };
    let p = props(&format!(
        "DeviceAuthURI={}/devicecode;Scope={SCOPE}",
        server.uri()
    ));
    let a = Authorizer::new(b, &p).unwrap();
    let d = a.device_start().await.unwrap();
    a.device_finish(&d).await.unwrap();
    let all = server.received_requests().await.unwrap();
    (all.iter().map(received).collect(), token_url)
}

#[tokio::test(start_paused = true)]
async fn both_device_grant_requests_authenticate_as_the_token_request_does() {
    for client in [Client::PrivateKey, Client::SecretJwt, Client::Public] {
        let (reqs, token_url) = device_grant(client).await;
        let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/devicecode", "/token", "/token"], "{client:?}");
        let mut jtis = Vec::new();
        for r in &reqs {
            assert_eq!(r.method, "POST", "{client:?}");
            assert_eq!(r.authorization, None, "{client:?}: {r:?}");
            assert!(r.query.is_empty(), "{client:?}: {r:?}");
            assert_eq!(param(r, "client_id"), Some(CLIENT_ID), "{client:?}");
            assert_eq!(param(r, "client_secret"), None, "{client:?}");
            assert!(!format!("{r:?}").contains(CLIENT_SECRET), "{client:?}");
            let key = match client {
                Client::PrivateKey => Some((
                    DecodingKey::from_ec_pem(key_text("ec.pub.pem").as_bytes()).unwrap(),
                    Algorithm::ES256,
                )),
                Client::SecretJwt => Some((
                    DecodingKey::from_secret(CLIENT_SECRET.as_bytes()),
                    Algorithm::HS256,
                )),
                Client::Public => None,
            };
            let Some((key, alg)) = key else {
                assert_eq!(param(r, "client_assertion"), None, "{client:?}");
                continue;
            };
            assert_eq!(
                param(r, "client_assertion_type"),
                Some(ASSERTION_TYPE),
                "{client:?}"
            );
            let (header, claims) =
                verify(param(r, "client_assertion").unwrap(), &key, alg, &token_url);
            assert_eq!(header.alg, alg);
            assert_eq!(claims["iss"], CLIENT_ID);
            assert_eq!(claims["sub"], CLIENT_ID);
            check_times(&claims);
            jtis.push(claims["jti"].as_str().unwrap().to_owned());
        }
        let device = &reqs[0];
        let expected: &[&str] = match client {
            Client::Public => &["scope", "client_id"],
            _ => &[
                "scope",
                "client_id",
                "client_assertion_type",
                "client_assertion",
            ],
        };
        assert_eq!(names(device), expected, "{client:?}");
        assert_eq!(param(device, "scope"), Some(SCOPE));
        jtis.dedup();
        assert_eq!(
            jtis.len(),
            if matches!(client, Client::Public) {
                0
            } else {
                3
            },
            "a fresh jti for every request: {client:?}"
        );
    }
}

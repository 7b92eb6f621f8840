//! The device authorization grant (RFC 8628) against wiremock, on tokio's
//! paused clock: every polling answer, and the interval it implies.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connectkit_oauth_refresh::{
    Authorizer, ClientCredentialsMode, Error, FileStore, OAuthErrorCode, RefreshTokenFlow,
    TokenStore,
};
use secrecy::ExposeSecret;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::authorize::props;
use crate::{CLIENT_ID, CLIENT_SECRET, received};

const DEVICE_CODE: &str = "dev1ce-c0de-GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS";

/// Token endpoint answers, in order; the last one repeats.
#[derive(Clone)]
struct Script(Arc<(Vec<&'static str>, AtomicUsize)>);

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.1.fetch_add(1, Ordering::SeqCst);
        let answer = self.0.0[n.min(self.0.0.len() - 1)];
        if answer == "ok" {
            return ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "at-device", "token_type": "Bearer",
                "expires_in": 3600, "refresh_token": "rt-device"}));
        }
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": answer}))
    }
}

async fn setup(
    script: Vec<&'static str>,
    interval: Option<u64>,
) -> (MockServer, Authorizer, tempfile::TempDir) {
    let server = MockServer::builder().start().await;
    let mut answer = serde_json::json!({
        "device_code": DEVICE_CODE, "user_code": "WDJB-MJHT",
        "verification_uri": format!("{}/device", server.uri()),
        "verification_uri_complete": format!("{}/device?user_code=WDJB-MJHT", server.uri()),
        "expires_in": 600});
    if let Some(i) = interval {
        answer["interval"] = i.into();
    }
    Mock::given(method("POST"))
        .and(path("/devicecode"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Script(Arc::new((script, AtomicUsize::new(0)))))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    // The paused clock jumps to the next timer whenever the runtime waits on
    // a socket or a file: the client gets none (no pool idle timer, no
    // deadlines), so the poll's own sleeps are all this test measures.
    let b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("POST {}/token", server.uri()))
        .unwrap()
        .client_credentials_mode(ClientCredentialsMode::Post)
        .http_client(
            connectkit_core::client::client_builder()
                .expect("TLS setup")
                .pool_idle_timeout(None)
                .build()
                .unwrap(),
        )
        .token_request_timeout(None)
        .refresh_timeout(None)
        .token_store(Arc::new(FileStore::new(dir.path().join("tokens.json"))));
    let p = props(&format!(
        "DeviceAuthURI={}/devicecode;Scope=openid offline_access",
        server.uri()
    ));
    (server, Authorizer::new(b, &p).unwrap(), dir)
}

async fn polls(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .count()
}

#[tokio::test(start_paused = true)]
async fn pending_and_slow_down_are_waited_out_at_the_servers_interval() {
    let (server, a, dir) = setup(
        vec![
            "authorization_pending",
            "slow_down",
            "authorization_pending",
            "ok",
        ],
        Some(3),
    )
    .await;
    let d = a.device_start().await.unwrap();
    assert_eq!(d.user_code, "WDJB-MJHT");
    assert!(d.verification_uri.ends_with("/device"));
    assert_eq!(d.interval, Duration::from_secs(3));
    assert!(!format!("{d:?}").contains(DEVICE_CODE));
    let started = Instant::now();
    let info = a.device_finish(&d).await.unwrap();
    // 3 s, 3 s (slow_down), then 8 s twice.
    assert_eq!(started.elapsed().as_secs(), 3 + 3 + 8 + 8);
    assert_eq!(info.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!(polls(&server).await, 4);

    let all = server.received_requests().await.unwrap();
    let auth = received(&all[0]);
    assert_eq!(auth.path, "/devicecode");
    let form: HashMap<_, _> = auth.form.into_iter().collect();
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["scope"], "openid offline_access");
    let poll = received(&all[1]);
    let form: HashMap<_, _> = poll.form.into_iter().collect();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:device_code"
    );
    assert_eq!(form["device_code"], DEVICE_CODE);
    assert_eq!(form["client_secret"], CLIENT_SECRET);

    let stored = FileStore::new(dir.path().join("tokens.json"))
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token.expose_secret(), "rt-device");
}

#[tokio::test(start_paused = true)]
async fn without_an_interval_polling_waits_five_seconds() {
    let (server, a, _dir) = setup(vec!["authorization_pending", "ok"], None).await;
    let d = a.device_start().await.unwrap();
    let started = Instant::now();
    a.device_finish(&d).await.unwrap();
    assert_eq!(started.elapsed().as_secs(), 10);
    assert_eq!(polls(&server).await, 2);
}

async fn refused(answer: &'static str) -> Error {
    let (_server, a, dir) = setup(vec!["authorization_pending", answer], Some(1)).await;
    let d = a.device_start().await.unwrap();
    let e = a.device_finish(&d).await.unwrap_err();
    assert!(!dir.path().join("tokens.json").exists());
    assert!(!format!("{e} {e:?}").contains(DEVICE_CODE));
    e
}

#[tokio::test(start_paused = true)]
async fn access_denied_ends_the_poll() {
    let e = refused("access_denied").await;
    assert!(
        matches!(
            &e,
            Error::Authorize {
                code: Some(OAuthErrorCode::AccessDenied),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("denied"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn expired_token_ends_the_poll() {
    let e = refused("expired_token").await;
    assert!(
        matches!(
            &e,
            Error::Authorize {
                code: Some(OAuthErrorCode::ExpiredToken),
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_code_expires_locally_when_the_server_keeps_saying_pending() {
    let (server, a, _dir) = setup(vec!["authorization_pending"], Some(100)).await;
    let d = a.device_start().await.unwrap();
    let e = a.device_finish(&d).await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Authorize {
                code: Some(OAuthErrorCode::ExpiredToken),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        polls(&server).await,
        5,
        "polled at 100..500 s, gave up at 600 s"
    );
}

#[tokio::test(start_paused = true)]
async fn another_error_is_the_token_endpoints_typed_error() {
    let e = refused("invalid_client").await;
    assert_eq!(e.oauth().unwrap().code, OAuthErrorCode::InvalidClient);
}

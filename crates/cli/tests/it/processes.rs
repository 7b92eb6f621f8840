//! Issue 13 item 1 with real processes: concurrent `connectkit token` runs
//! sharing one TokenFile, against a token endpoint that rotates refresh
//! tokens with reuse detection (a consumed token presented again revokes
//! the grant, as oidc-provider does).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{SECRETS, connectkit};

#[derive(Default)]
struct Chain {
    valid: String,
    consumed: Vec<String>,
    revoked: bool,
    grants: usize,
}

#[derive(Clone)]
struct ReuseDetecting {
    chain: Arc<Mutex<Chain>>,
    expires_in: u64,
}

impl Respond for ReuseDetecting {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let sent = req
            .url
            .query_pairs()
            .chain(url_form(&req.body))
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let mut c = self.chain.lock().unwrap();
        let refuse =
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"}));
        if c.revoked {
            return refuse;
        }
        if sent != c.valid {
            if c.consumed.contains(&sent) {
                c.revoked = true;
            }
            return refuse;
        }
        c.grants += 1;
        let next = format!("cli-rt-{}", c.grants);
        let old = std::mem::replace(&mut c.valid, next.clone());
        c.consumed.push(old);
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("cli-at-{}", c.grants), "token_type": "Bearer",
            "expires_in": self.expires_in, "refresh_token": next}))
    }
}

/// `key=value&...` pairs of a form body, undecoded: the tokens here use
/// unreserved characters only.
fn url_form(
    body: &[u8],
) -> impl Iterator<Item = (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
    std::str::from_utf8(body)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.into(), v.into()))
}

/// A fresh folder under the system temp dir (removed at the end of the test).
fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("connectkit-{name}-{}-{nanos}", std::process::id()))
}

async fn run_concurrently(n: usize, url: &str) -> Vec<crate::Run> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move {
                connectkit(&["token", "-", "--format", "json"], Some(&url)).await
            })
        })
        .collect();
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.unwrap());
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_token_runs_sharing_a_token_file_send_one_grant_per_expiry() {
    let server = MockServer::builder().start().await;
    let chain = Arc::new(Mutex::new(Chain {
        valid: SECRETS[1].to_owned(),
        ..Chain::default()
    }));
    Mock::given(path("/token"))
        .respond_with(ReuseDetecting {
            chain: chain.clone(),
            expires_in: 8,
        })
        .mount(&server)
        .await;
    let dir = scratch("processes");
    // The folder does not exist yet: it is created before the first grant.
    let file = dir.join("nested/tokens.json");
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2-RefreshToken;Sample={0}/api/x;ClientID=cli;ClientSecret={1};RefreshToken={2};TokenURI={0}/token;TokenFile='{3}'",
        server.uri(),
        SECRETS[0],
        SECRETS[1],
        file.display()
    );
    for round in 1..=2 {
        let runs = run_concurrently(4, &url).await;
        for r in &runs {
            assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        }
        let (grants, revoked) = {
            let c = chain.lock().unwrap();
            (c.grants, c.revoked)
        };
        assert_eq!(grants, round, "one grant per expiry across 4 processes");
        assert!(!revoked, "the chain was never revoked");
        let rotated = runs
            .iter()
            .filter(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
                v["refresh_token_rotated"] == true
            })
            .count();
        assert_eq!(
            rotated, 1,
            "one process rotated, the others used its tokens"
        );
        if round == 1 {
            // The 8 s token is refreshed after half its life: wait that out
            // (real time: the processes read the system clock).
            tokio::time::sleep(Duration::from_millis(4500)).await;
        }
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("cli-rt-2") && !text.contains(SECRETS[1]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unreadable_token_file_exits_2_before_any_grant() {
    let server = MockServer::builder().start().await;
    let dir = scratch("unreadable");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens.json");
    std::fs::write(&file, "{ cli-garbage-content").unwrap();
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2-RefreshToken;Sample={0}/api/x;ClientID=cli;ClientSecret={1};RefreshToken={2};TokenURI={0}/token;TokenFile='{3}'",
        server.uri(),
        SECRETS[0],
        SECRETS[1],
        file.display()
    );
    let r = connectkit(&["token", "-"], Some(&url)).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&file.display().to_string()),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("cli-garbage-content"), "{}", r.stderr);
    assert!(server.received_requests().await.unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

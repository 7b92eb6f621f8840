use std::sync::Arc;

use async_trait::async_trait;
use connectkit_oauth_refresh::{
    Error, FileStore, MemoryStore, StoreError, StoredTokens, TokenStore,
};
use secrecy::{ExposeSecret, SecretString};
use wiremock::MockServer;

use crate::{CountingIssuer, REFRESH_TOKEN, builder, token_requests};

fn sent_refresh_tokens(reqs: &[crate::Received]) -> Vec<String> {
    reqs.iter()
        .map(|r| {
            r.query
                .iter()
                .chain(&r.form)
                .find(|(k, _)| k == "refresh_token")
                .unwrap()
                .1
                .clone()
        })
        .collect()
}

#[tokio::test]
async fn three_refreshes_each_send_the_latest_refresh_token() {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        rotate: true,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let store = Arc::new(MemoryStore::new());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let flow = builder(&server, "POST ")
        .token_store(store.clone())
        .on_token_change(move |info| seen2.lock().unwrap().push(info.refresh_token_rotated))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert!(flow.refresh().await.unwrap().refresh_token_rotated);
    }
    let reqs = token_requests(&server).await;
    assert_eq!(sent_refresh_tokens(&reqs), [REFRESH_TOKEN, "rt-1", "rt-2"]);
    assert_eq!(store.get().unwrap().refresh_token.expose_secret(), "rt-3");
    assert_eq!(*seen.lock().unwrap(), [true, true, true]);
}

#[tokio::test]
async fn file_store_survives_a_new_flow_instance() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        rotate: true,
        ..Default::default()
    };
    issuer.mount(&server).await;
    {
        let flow = builder(&server, "")
            .token_store(Arc::new(FileStore::new(&file)))
            .build()
            .unwrap();
        flow.refresh().await.unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A restarted process configured with the original (now stale) refresh token.
    let flow = builder(&server, "")
        .token_store(Arc::new(FileStore::new(&file)))
        .build()
        .unwrap();
    assert_eq!(
        flow.access_token().await.unwrap().expose_secret(),
        "at-1",
        "the stored access token is reused"
    );
    // The API rejects it: the next token comes from a grant with the stored refresh token.
    let mut req = connectkit_core::client::http_client()
        .expect("HTTP client")
        .get(format!("{}/api", server.uri()))
        .build()
        .unwrap();
    flow.authorize_request(&mut req).await.unwrap();
    flow.invalidate(&req);
    assert_eq!(flow.access_token().await.unwrap().expose_secret(), "at-2");
    let reqs = token_requests(&server).await;
    assert_eq!(sent_refresh_tokens(&reqs), [REFRESH_TOKEN, "rt-1"]);
    let stored = FileStore::new(&file).load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.expose_secret(), "rt-2");
}

/// Saves into `inner` until `fail` is set, then refuses (or panics).
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail: std::sync::atomic::AtomicBool,
    panic: bool,
    attempts: std::sync::atomic::AtomicUsize,
}

impl FlakyStore {
    fn saves(&self) -> usize {
        self.attempts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenStore for FlakyStore {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        self.inner.load().await
    }
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        self.attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            if self.panic {
                panic!("store crashed");
            }
            return Err("disk full".into());
        }
        self.inner.save(tokens).await
    }
}

/// Item 3 of issue 13: a rotated refresh token is adopted in memory before
/// the store is asked to keep it, so a failing (or crashing) store never
/// makes the flow send the consumed token again.
async fn failing_store_keeps_the_rotated_token_in_memory(panic: bool) {
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        rotate: true,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let store = Arc::new(FlakyStore {
        panic,
        ..Default::default()
    });
    store
        .inner
        .save(&StoredTokens::new(SecretString::from("rt-0")))
        .await
        .unwrap();
    let flow = builder(&server, "")
        .token_store(store.clone())
        .build()
        .unwrap();
    store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let (guard, logs) = crate::capture_logs();
    let first = flow.access_token().await;
    drop(guard);
    if panic {
        let err = first.unwrap_err();
        assert!(matches!(err, Error::Interrupted(_)), "{err:?}");
    } else {
        assert_eq!(
            first.unwrap().expose_secret(),
            "at-1",
            "the process keeps working"
        );
        let logs = logs.text();
        assert!(
            logs.contains("ERROR")
                && logs.contains("held only in memory")
                && logs.contains("disk full"),
            "{logs}"
        );
        assert_eq!(store.saves(), 3, "the failed save was tried three times");
    }
    // Once the store works again, the rotated token (never the consumed one) is sent.
    store.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    flow.refresh().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(sent_refresh_tokens(&reqs), ["rt-0", "rt-1"]);
    assert_eq!(
        store.inner.get().unwrap().refresh_token.expose_secret(),
        "rt-2"
    );
}

#[tokio::test]
async fn a_store_that_fails_on_save_loses_nothing() {
    failing_store_keeps_the_rotated_token_in_memory(false).await;
}

#[tokio::test]
async fn a_store_that_panics_on_save_loses_nothing() {
    failing_store_keeps_the_rotated_token_in_memory(true).await;
}

#[tokio::test]
async fn token_file_property_persists_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let server = MockServer::builder().start().await;
    CountingIssuer {
        expires_in: 3600,
        rotate: true,
        ..Default::default()
    }
    .mount(&server)
    .await;
    let url: connectkit_core::ConnectionUrl = format!(
        "autorest:ClientID=c;ClientSecret=s;RefreshToken=r0;TokenURI={}/token;TokenFile='{}'",
        server.uri(),
        file.display()
    )
    .parse()
    .unwrap();
    let flow = connectkit_oauth_refresh::RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap()
        .build()
        .unwrap();
    flow.access_token().await.unwrap();
    let stored = FileStore::new(&file).load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.expose_secret(), "rt-1");
}

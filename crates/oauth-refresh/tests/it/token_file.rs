//! Issue 13 items 1-5: a TokenFile shared by several flows (each one what a
//! process would hold), created where it is missing, never losing a rotated
//! refresh token, yielding to a new RefreshToken, and refusing to start on
//! an unreadable file.

use std::path::Path;
use std::sync::Arc;

use connectkit_core::ErrorKind;
use connectkit_oauth_refresh::{Error, FileStore, RefreshTokenFlow, TokenStore};
use secrecy::ExposeSecret;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{
    CountingIssuer, REFRESH_TOKEN, ReuseDetectingIssuer, builder, reject_current, token_requests,
};

fn flow_on(server: &MockServer, file: &Path, refresh_token: &str) -> RefreshTokenFlow {
    builder(server, "POST ")
        .refresh_token(refresh_token.to_owned())
        .client_credentials_mode(connectkit_oauth_refresh::ClientCredentialsMode::Basic)
        .token_store(Arc::new(FileStore::new(file)))
        .build()
        .unwrap()
}

async fn stored_refresh_token(file: &Path) -> String {
    FileStore::new(file)
        .load()
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .expose_secret()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_sharing_a_token_file_send_one_grant_and_never_reuse_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let server = MockServer::builder().start().await;
    let issuer = ReuseDetectingIssuer::new(REFRESH_TOKEN, 3600);
    issuer.mount(&server).await;
    // Three "processes" start at once with the same TokenFile.
    let flows: Vec<_> = (0..3)
        .map(|_| flow_on(&server, &file, REFRESH_TOKEN))
        .collect();
    let tasks: Vec<_> = flows
        .iter()
        .cloned()
        .map(|f| tokio::spawn(async move { f.refresh().await }))
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(issuer.grants(), 1, "one grant for all of them");
    assert!(!issuer.revoked());
    for f in &flows {
        assert_eq!(f.access_token().await.unwrap().expose_secret(), "at-1");
    }
    assert_eq!(stored_refresh_token(&file).await, "rt-1");
}

#[tokio::test]
async fn a_long_running_flow_re_reads_the_file_before_refreshing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let server = MockServer::builder().start().await;
    let issuer = ReuseDetectingIssuer::new(REFRESH_TOKEN, 3600);
    issuer.mount(&server).await;
    let long_running = flow_on(&server, &file, REFRESH_TOKEN);
    assert_eq!(
        long_running.access_token().await.unwrap().expose_secret(),
        "at-1"
    );
    // Another process, whose API rejected at-1, rotates while this one
    // holds its cached access token.
    let other = flow_on(&server, &file, REFRESH_TOKEN);
    reject_current(&other).await;
    other.refresh().await.unwrap();
    assert_eq!(issuer.grants(), 2);
    // The long-running one now needs a new token (expiry or a 401): it takes
    // the other's tokens from the file instead of presenting consumed rt-1.
    long_running.refresh().await.unwrap();
    assert_eq!(
        long_running.access_token().await.unwrap().expose_secret(),
        "at-2"
    );
    assert_eq!(issuer.grants(), 2, "no request was needed");
    // And its next real refresh sends the latest token.
    long_running.refresh().await.unwrap();
    assert_eq!(issuer.grants(), 3);
    assert!(!issuer.revoked(), "the chain was never revoked");
}

#[tokio::test]
async fn a_token_file_in_a_missing_folder_is_created_before_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a/b/tokens.json");
    let server = MockServer::builder().start().await;
    let issuer = ReuseDetectingIssuer::new(REFRESH_TOKEN, 3600);
    issuer.mount(&server).await;
    let flow = flow_on(&server, &file, REFRESH_TOKEN);
    flow.access_token().await.unwrap();
    assert_eq!(stored_refresh_token(&file).await, "rt-1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
    // A restart continues the chain.
    let again = flow_on(&server, &file, REFRESH_TOKEN);
    reject_current(&again).await;
    again.refresh().await.unwrap();
    assert_eq!(issuer.grants(), 2);
    assert!(!issuer.revoked());
}

#[test]
fn a_leading_tilde_is_the_home_directory() {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let store = FileStore::new("~/.config/connectkit/tokens.json");
    assert_eq!(
        store.path(),
        Path::new(&home).join(".config/connectkit/tokens.json")
    );
    assert_eq!(FileStore::new("~").path(), Path::new(&home));
    assert_eq!(FileStore::new("a/~/t").path(), Path::new("a/~/t"));
    let url: connectkit_core::ConnectionUrl =
        "autorest:ClientID=c;ClientSecret=s;RefreshToken=r;TokenURI=https://h/t;TokenFile=~/t.json"
            .parse()
            .unwrap();
    let b = connectkit_oauth_refresh::RefreshTokenFlowBuilder::from_properties(url.properties())
        .unwrap();
    let flow = b.build().unwrap();
    assert!(
        format!("{flow:?}").contains(&Path::new(&home).join("t.json").display().to_string()),
        "{flow:?}"
    );
}

#[tokio::test]
async fn a_rotated_token_survives_a_response_that_fails_validation() {
    for bad in [
        serde_json::json!({"access_token": "at-x", "token_type": "mac", "refresh_token": "rt-new"}),
        serde_json::json!({"access_token": "at-x", "expires_in": "soon", "refresh_token": "rt-new"}),
        serde_json::json!({"access_token": "at\nx", "refresh_token": "rt-new"}),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens.json");
        let server = MockServer::builder().start().await;
        Mock::given(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(bad.clone()))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        let issuer = ReuseDetectingIssuer::new("rt-new", 3600);
        issuer.mount(&server).await;
        let flow = flow_on(&server, &file, REFRESH_TOKEN);
        let err = flow.access_token().await.unwrap_err();
        assert!(matches!(err, Error::InvalidToken(_)), "{bad}: {err:?}");
        assert_eq!(stored_refresh_token(&file).await, "rt-new", "{bad}");
        // The next refresh presents the rotated token, in this process and in a new one.
        flow.access_token().await.unwrap();
        assert_eq!(issuer.grants(), 1, "{bad}");
        assert!(!issuer.revoked(), "{bad}");
    }
}

#[tokio::test]
async fn a_new_refresh_token_property_beats_a_stale_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let server = MockServer::builder().start().await;
    CountingIssuer {
        expires_in: 3600,
        rotate: true,
        ..Default::default()
    }
    .mount(&server)
    .await;
    flow_on(&server, &file, REFRESH_TOKEN)
        .refresh()
        .await
        .unwrap();
    // The user re-authorized: a new RefreshToken, the same TokenFile.
    flow_on(&server, &file, "re-authorized-token")
        .refresh()
        .await
        .unwrap();
    // A later run with the same new RefreshToken continues the file's chain.
    let later = flow_on(&server, &file, "re-authorized-token");
    reject_current(&later).await;
    later.refresh().await.unwrap();
    let sent: Vec<_> = token_requests(&server)
        .await
        .iter()
        .map(|r| {
            r.form
                .iter()
                .find(|(k, _)| k == "refresh_token")
                .unwrap()
                .1
                .clone()
        })
        .collect();
    // rt-3 is the token of the third request's "at-3", not sent yet.
    assert_eq!(sent, [REFRESH_TOKEN, "re-authorized-token", "rt-2"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("re-authorized-token") && !text.contains(REFRESH_TOKEN));
}

#[tokio::test]
async fn invalid_grant_for_a_token_from_the_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let server = MockServer::builder().start().await;
    let issuer = ReuseDetectingIssuer::new(REFRESH_TOKEN, 3600);
    issuer.mount(&server).await;
    flow_on(&server, &file, REFRESH_TOKEN)
        .access_token()
        .await
        .unwrap();
    issuer.state.lock().unwrap().revoked = true; // revoked at the provider
    let restarted = flow_on(&server, &file, REFRESH_TOKEN);
    reject_current(&restarted).await;
    let err = restarted.refresh().await.unwrap_err();
    let o = err.oauth().expect("an OAuth error");
    assert_eq!(
        o.code,
        connectkit_oauth_refresh::OAuthErrorCode::InvalidGrant
    );
    let msg = err.to_string();
    assert!(
        msg.contains("TokenFile") && msg.contains(&file.display().to_string()),
        "{msg}"
    );
    // A token straight from the property is not blamed on the file.
    let fresh = dir.path().join("other.json");
    let err = flow_on(&server, &fresh, "never-issued")
        .refresh()
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("TokenFile"), "{err}");
}

#[tokio::test]
async fn an_unreadable_token_file_is_a_config_error_before_any_grant() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let cases: Vec<(std::path::PathBuf, Option<&str>, &str)> = vec![
        (
            dir.path().join("garbage.json"),
            Some("S3CRET-garbage not json"),
            "not valid JSON",
        ),
        (dir.path().join("empty.json"), Some(""), "is empty"),
        (dir.path().join("blank.json"), Some("  \n"), "is empty"),
        (
            dir.path().join("wrong.json"),
            Some(r#"{"refresh_token": ["S3CRET-in-array"]}"#),
            "not a token file",
        ),
        (not_a_dir.join("tokens.json"), None, "cannot be read"),
        (dir.path().to_path_buf(), None, "cannot be read"),
    ];
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    for (file, content, what) in cases {
        if let Some(c) = content {
            std::fs::write(&file, c).unwrap();
        }
        let err = flow_on(&server, &file, REFRESH_TOKEN)
            .access_token()
            .await
            .unwrap_err();
        let msg = format!("{err} {err:?}");
        assert!(matches!(err, Error::TokenFile { .. }), "{msg}");
        assert_eq!(err.kind(), ErrorKind::Io, "{msg}");
        assert_eq!(err.kind().exit_code(), 2, "{msg}");
        let core: connectkit_core::Error = err.into();
        assert_eq!(core.kind(), ErrorKind::Io);
        assert!(msg.contains(&file.display().to_string()), "{msg}");
        assert!(msg.contains(what), "{what}: {msg}");
        assert!(!msg.contains("S3CRET") && !msg.contains("saving"), "{msg}");
    }
    assert_eq!(issuer.count(), 0, "nothing was sent");
}

#[tokio::test]
async fn waiting_for_another_process_s_lock_is_bounded_by_the_refresh_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    // Another process is in the middle of a refresh and does not finish.
    let held = std::fs::File::create(dir.path().join("tokens.json.lock")).unwrap();
    held.lock().unwrap();
    let server = MockServer::builder().start().await;
    let issuer = CountingIssuer {
        expires_in: 3600,
        ..Default::default()
    };
    issuer.mount(&server).await;
    let flow = builder(&server, "POST ")
        .token_store(Arc::new(FileStore::new(&file)))
        .refresh_timeout(Some(std::time::Duration::from_millis(300)))
        .build()
        .unwrap();
    let err = flow.access_token().await.unwrap_err();
    assert!(err.to_string().contains("stayed locked"), "{err}");
    assert_eq!(issuer.count(), 0);
    // Once it lets go, the refresh goes ahead.
    held.unlock().unwrap();
    flow.access_token().await.unwrap();
    assert_eq!(issuer.count(), 1);
}

/// Issue 29: what a token call did is part of its answer. A second
/// "process" finds the first one's fresh access token in the file and takes
/// it (nothing sent); with `force` it runs the grant, continuing the chain
/// from the rotated refresh token in the file.
#[tokio::test]
async fn obtain_token_says_whether_it_granted_or_reused_the_file_s_token() {
    use connectkit_oauth_refresh::TokenOutcome;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let server = MockServer::builder().start().await;
    let issuer = ReuseDetectingIssuer::new(REFRESH_TOKEN, 3600);
    issuer.mount(&server).await;

    let first = flow_on(&server, &file, REFRESH_TOKEN)
        .obtain_token(false)
        .await
        .unwrap();
    match &first {
        TokenOutcome::Granted { info, fallback } => {
            assert!(info.refresh_token_rotated, "{first:?}");
            assert_eq!(*fallback, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(token_requests(&server).await.len(), 1);

    let second = flow_on(&server, &file, REFRESH_TOKEN);
    match second.obtain_token(false).await.unwrap() {
        TokenOutcome::Reused { info } => {
            let left = info.expires_in.unwrap().as_secs();
            assert!((3500..=3600).contains(&left), "{left}");
            assert!(!info.refresh_token_rotated);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        token_requests(&server).await.len(),
        1,
        "reusing sends no grant"
    );

    match second.obtain_token(true).await.unwrap() {
        TokenOutcome::Granted { info, .. } => assert!(info.refresh_token_rotated),
        other => panic!("{other:?}"),
    }
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2, "--force runs the grant");
    assert!(
        reqs[1]
            .form
            .contains(&("refresh_token".into(), "rt-1".into())),
        "the forced grant continues the chain from the file"
    );
    assert!(!issuer.revoked());
    assert_eq!(stored_refresh_token(&file).await, "rt-2");
}

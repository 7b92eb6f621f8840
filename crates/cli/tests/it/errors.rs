use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRETS, connectkit};

#[tokio::test]
async fn bad_url_exits_2_naming_the_problem() {
    let r = connectkit(&["tables", "autorest:Sample='unterminated"], None).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unterminated quote") && r.stderr.contains("Sample"),
        "{}",
        r.stderr
    );
    let r = connectkit(
        &[
            "tables",
            &format!(
                "autorest:Sample=http://127.0.0.1:9/x;ClientScret={}",
                SECRETS[0]
            ),
        ],
        None,
    )
    .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did you mean ClientSecret?"),
        "{}",
        r.stderr
    );
    let r = connectkit(&["tables", "nosuch:A=1"], None).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("autorest, dynamics365"), "{}", r.stderr);
    let r = connectkit(&["query"], None).await;
    assert_eq!(r.code, 2, "clap usage errors exit 2");
}

#[tokio::test]
async fn invalid_grant_exits_3() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})))
        .mount(&server)
        .await;
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2;Sample={0}/api/x;ClientID=cli;ClientSecret={1};RefreshToken={2};TokenURI=POST {0}/token",
        server.uri(),
        SECRETS[0],
        SECRETS[1]
    );
    let r = connectkit(&["query", "-", "x"], Some(&url)).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid_grant") && r.stderr.contains("expired or revoked"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn api_500_exits_4() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/api/x"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let url = format!("autorest:Sample={}/api/x", server.uri());
    let r = connectkit(&["tables", &url], None).await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("500"), "{}", r.stderr);
}

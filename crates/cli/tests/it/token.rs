//! `connectkit token` says what it did (issue 29): it ran the grant (and
//! whether the refresh token rotated), or reused the fresh access token
//! another process saved in TokenFile; `--force` always runs the grant;
//! a fallback form that worked is named in one warning line.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{SECRETS, connectkit, stable};

/// Lines of standard error meant for the user (the binary's diagnostics
/// are on at trace level in these tests).
fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect()
}

/// The seconds left vary with the clock: every `<digits> s` is shown as
/// `N s`, padded to the same width so the table keeps its shape.
fn without_seconds(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..i]);
        let digits = rest[i..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - i);
        if rest[i + digits..].starts_with(" s") {
            out.push_str(&format!("{:<digits$}", "N"));
        } else {
            out.push_str(&rest[i..i + digits]);
        }
        rest = &rest[i + digits..];
    }
    out.push_str(rest);
    out
}

fn grants(requests: &[Request]) -> usize {
    requests.iter().filter(|r| r.url.path() == "/token").count()
}

#[tokio::test]
async fn token_says_granted_or_reused_and_force_runs_the_grant() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "cli-rotated-value", "scope": "read"})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2-RefreshToken;Sample={0}/api/x;ClientID=cli;ClientSecret={1};RefreshToken={2};\
         TokenURI=POST {0}/token;ClientCredentialsMode=Basic;TokenFile={3}",
        server.uri(),
        SECRETS[0],
        SECRETS[1],
        dir.path().join("tokens.json").display()
    );
    let first = connectkit(&["token", "-"], Some(&url)).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(grants(&server.received_requests().await.unwrap()), 1);

    // Another run finds the fresh token the first one saved: nothing is sent.
    let second = connectkit(&["token", "-"], Some(&url)).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        grants(&server.received_requests().await.unwrap()),
        1,
        "no grant request for a reused token"
    );
    let json = connectkit(&["token", "-", "--format", "json"], Some(&url)).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["obtained"], "reused");
    let left = v["expires_in"].as_u64().unwrap();
    assert!((3500..=3600).contains(&left), "{left}");
    assert_eq!(grants(&server.received_requests().await.unwrap()), 1);

    // --force runs the grant with the refresh token the file holds.
    let forced = connectkit(&["token", "-", "--force"], Some(&url)).await;
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(grants(&requests), 2, "--force sends the grant");
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&requests.last().unwrap().body)
            .into_owned()
            .collect();
    assert_eq!(form["refresh_token"], "cli-rotated-value");

    insta::assert_snapshot!(
        "token_granted_reused_forced",
        without_seconds(&stable(
            &format!(
                "$ connectkit token <URL>\n{}\n$ connectkit token <URL>\n{}\n$ connectkit token <URL> --force\n{}",
                first.stdout, second.stdout, forced.stdout
            ),
            &server
        ))
    );
    for r in [&first, &second, &forced] {
        assert!(warnings(&r.stderr).is_empty(), "{}", r.stderr);
    }
}

/// The vendor default (GET, ClientCredentialsMode All) refused as
/// django-oauth-toolkit refuses it; POST with Basic works, and one warning
/// line names the properties that select it.
#[tokio::test]
async fn a_fallback_form_that_worked_is_named_in_one_warning() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(405).insert_header("Allow", "POST, OPTIONS"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 600})))
        .mount(&server)
        .await;
    let url = format!(
        "autorest:AuthenticationMethod=OAuth2-RefreshToken;Sample={0}/api/x;ClientID=cli;ClientSecret={1};RefreshToken={2};TokenURI={0}/token",
        server.uri(),
        SECRETS[0],
        SECRETS[1],
    );
    let r = connectkit(&["token", "-"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shapes: Vec<(String, bool)> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.headers.contains_key("authorization"),
            )
        })
        .collect();
    assert_eq!(shapes, [("GET".into(), true), ("POST".into(), true)]);
    insta::assert_snapshot!("token_fallback_warning", warnings(&r.stderr).join("\n"));
}

//! `connectkit authorize`: the test plays the browser against the binary's
//! loopback listener, then queries with the TokenFile the command wrote.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRETS, connectkit};

async fn idp_and_api() -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": SECRETS[1]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/people"))
        .and(header(
            "authorization",
            format!("Bearer {}", SECRETS[2]).as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "name": "Ada"}])))
        .mount(&server)
        .await;
    server
}

fn url(server: &MockServer, token_file: &std::path::Path) -> String {
    format!(
        "autorest:Sample={0}/api/people;AuthenticationMethod=OAuth2-RefreshToken;ClientID=cli;ClientSecret={1};TokenURI=POST {0}/token;ClientCredentialsMode=Basic;AuthURI={0}/authorize;Scope=read offline_access;TokenFile={2}",
        server.uri(),
        SECRETS[0],
        token_file.display()
    )
}

#[tokio::test]
async fn authorize_then_query_with_the_token_file() {
    let server = idp_and_api().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let url = url(&server, &file);
    // Logged at trace level, so that no log line leaks a secret either.
    let run = Prompted::start(&url, &["--timeout", "60"], &[("RUST_LOG", "trace")]).await;
    assert_eq!(run.auth_url.path(), "/authorize");
    let q = run.q.clone();
    assert_eq!(q["client_id"], "cli");
    assert_eq!(q["scope"], "read offline_access");
    assert_eq!(q["code_challenge_method"], "S256");
    let status = run
        .browse(&format!("code=the-code&state={}", q["state"]))
        .await;
    assert_eq!(status, 200);
    let (out, stderr) = run.finish().await;
    let stderr = stderr.join("\n");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Authorized: tokens saved in TokenFile"),
        "{stdout}"
    );
    for s in SECRETS {
        assert!(!stdout.contains(s) && !stderr.contains(s), "{s} leaked");
    }
    assert!(!stderr.contains("the-code"), "the code leaked: {stderr}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The exchange the server received.
    let exchange = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/token")
        .unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&exchange.body)
        .into_owned()
        .collect();
    assert_eq!(form["code"], "the-code");
    assert_eq!(form["redirect_uri"], q["redirect_uri"]);
    assert!(exchange.headers.get("authorization").is_some(), "Basic");

    // The same URL (no RefreshToken) now reads rows with the saved tokens.
    let r = connectkit(&["query", &url, "people", "--format", "csv"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "id,name\n1,Ada\n");
}

/// A running `connectkit authorize`, the authorization URL it printed on
/// standard error read.
struct Prompted {
    child: std::process::Child,
    /// The authorization URL.
    auth_url: url::Url,
    /// Its query.
    q: HashMap<String, String>,
    /// The rest of standard error, read on so that the pipe stays open.
    rest: std::io::Lines<BufReader<std::process::ChildStderr>>,
}

impl Prompted {
    /// Starts `connectkit authorize <url> ARGS` with `envs` and waits for
    /// the authorization URL.
    async fn start(url: &str, args: &[&str], envs: &[(&str, &str)]) -> Prompted {
        let mut child = Command::new(env!("CARGO_BIN_EXE_connectkit"))
            .arg("authorize")
            .arg(url)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (auth_url, rest) = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let found = lines
                .by_ref()
                .map(Result::unwrap)
                .map(|l| l.trim().to_owned())
                .find(|l| l.starts_with("http"))
                .expect("the authorization URL is printed on standard error");
            (found, lines)
        })
        .await
        .unwrap();
        let auth_url = url::Url::parse(&auth_url).unwrap();
        let q = auth_url.query_pairs().into_owned().collect();
        Prompted {
            child,
            auth_url,
            q,
            rest,
        }
    }

    /// Plays the browser: the redirect URI with `query`; the listener's
    /// status.
    async fn browse(&self, query: &str) -> u16 {
        connectkit_core::client::http_client()
            .expect("HTTP client")
            .get(format!("{}?{query}", self.q["redirect_uri"]))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Waits for the command to end: its output, and the lines of standard
    /// error after the URL.
    async fn finish(self) -> (std::process::Output, Vec<String>) {
        let Prompted {
            child, mut rest, ..
        } = self;
        tokio::task::spawn_blocking(move || {
            let rest: Vec<String> = rest.by_ref().map(Result::unwrap).collect();
            (child.wait_with_output().unwrap(), rest)
        })
        .await
        .unwrap()
    }

    /// Stops the command.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// autorest with a Config model file: the token endpoint, the authorization
/// endpoint and the scope come from its `#tokenuri`, `#authuri` and
/// `#scope`, so the connection URL needs none of them.
#[tokio::test]
async fn autorest_takes_the_endpoints_and_scope_from_the_model_file() {
    let server = idp_and_api().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let model = dir.path().join("people.rest");
    let declared = json!({
        "#tokenuri": format!("POST {}/token", server.uri()),
        "#authuri": format!("{}/authorize", server.uri()),
        "#scope": "people.read offline_access",
        "people": {"#path": format!("{}/api/people", server.uri()),
                   "id": "Integer", "name": "VarChar(32)"}
    });
    std::fs::write(&model, declared.to_string()).unwrap();
    let url = format!(
        "autorest:Config={};AuthenticationMethod=OAuth2-RefreshToken;ClientID=cli;ClientSecret={};ClientCredentialsMode=Basic;TokenFile={}",
        model.display(),
        SECRETS[0],
        file.display()
    );
    let run = Prompted::start(&url, &["--timeout", "60"], &[]).await;
    assert_eq!(run.auth_url.path(), "/authorize");
    assert_eq!(run.q["scope"], "people.read offline_access");
    let status = run
        .browse(&format!("code=model-code&state={}", run.q["state"]))
        .await;
    assert_eq!(status, 200);
    let (out, _) = run.finish().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // The code went to the file's token endpoint, POSTed as it says.
    let exchange = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/token")
        .expect("the code exchange reached #tokenuri");
    assert_eq!(exchange.method.as_str(), "POST");
    let form: HashMap<String, String> = url::form_urlencoded::parse(&exchange.body)
        .into_owned()
        .collect();
    assert_eq!(form["code"], "model-code");
    assert_eq!(form["grant_type"], "authorization_code");
    let r = connectkit(&["query", &url, "people", "--format", "csv"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "id,name\n1,Ada\n");
}

/// The connection URL's own AuthURI and Scope win over the model file's.
#[tokio::test]
async fn the_url_s_properties_win_over_the_model_file() {
    let server = MockServer::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("people.rest");
    let declared = json!({
        "#tokenuri": format!("POST {}/token", server.uri()),
        "#authuri": "https://elsewhere.example/authorize",
        "#scope": "from-file",
        "people": {"#path": format!("{}/api/people", server.uri()), "id": "Integer"}
    });
    std::fs::write(&model, declared.to_string()).unwrap();
    let url = format!(
        "autorest:Config={};ClientID=cli;ClientSecret={};AuthURI={}/mine;Scope=from-url;TokenFile={}",
        model.display(),
        SECRETS[0],
        server.uri(),
        dir.path().join("t.json").display()
    );
    let run = Prompted::start(&url, &["--timeout", "60"], &[]).await;
    assert_eq!(run.auth_url.path(), "/mine");
    assert_eq!(run.q["scope"], "from-url");
    run.kill();
}

/// A model file the connector would refuse is refused, naming the file.
#[tokio::test]
async fn a_bad_model_file_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("bad.rest");
    std::fs::write(&model, "{ not json").unwrap();
    let url = format!(
        "autorest:Config={};ClientID=cli;TokenFile={}",
        model.display(),
        dir.path().join("t.json").display()
    );
    let r = connectkit(&["authorize", &url], None).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("bad.rest"), "{}", r.stderr);
}

#[tokio::test]
async fn without_a_token_file_the_command_says_so() {
    let server = MockServer::builder().start().await;
    let url = format!(
        "autorest:Sample={0}/api/people;ClientID=cli;ClientSecret={1};TokenURI=POST {0}/token;AuthURI={0}/authorize",
        server.uri(),
        SECRETS[0]
    );
    let r = connectkit(&["authorize", &url], None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("TokenFile"), "{}", r.stderr);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn device_flow_prints_the_code_and_saves_the_tokens() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "dc-secret-value", "user_code": "ABCD-EFGH",
            "verification_uri": "https://idp.example/device", "expires_in": 60, "interval": 1})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("device_code=dc-secret-value"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": SECRETS[1]})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let url = format!(
        "autorest:Sample={0}/api/people;ClientID=cli;ClientSecret={1};TokenURI=POST {0}/token;ClientCredentialsMode=Post;DeviceAuthURI={0}/device;TokenFile={2}",
        server.uri(),
        SECRETS[0],
        file.display()
    );
    let r = connectkit(&["authorize", &url, "--device"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("open https://idp.example/device and enter the code ABCD-EFGH"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("dc-secret-value") && !r.stdout.contains("dc-secret-value"));
    assert!(file.exists());
}

/// Dynamics 365: the authorization endpoint and the scope come from TokenURI
/// (Microsoft identity platform) and ServiceURL; the code exchange is POSTed
/// with the client credentials in the body, as the connector sends its grants.
#[tokio::test]
async fn dynamics_derives_the_microsoft_endpoints_and_scope() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/contoso/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": SECRETS[1]})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crm.json");
    let url = format!(
        "dynamics365:ServiceURL={0}/api/data/v9.2/;ClientID=crm-app;ClientSecret={1};TokenURI={0}/contoso/oauth2/v2.0/token;TokenFile={2}",
        server.uri(),
        SECRETS[0],
        file.display()
    );
    let run = Prompted::start(&url, &[], &[]).await;
    assert_eq!(run.auth_url.path(), "/contoso/oauth2/v2.0/authorize");
    let host = url::Url::parse(&server.uri()).unwrap();
    assert_eq!(
        run.q["scope"],
        format!(
            "http://{}:{}/.default offline_access",
            host.host_str().unwrap(),
            host.port().unwrap()
        )
    );
    run.browse(&format!("code=crm-code&state={}", run.q["state"]))
        .await;
    let (out, _) = run.finish().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let exchange = &server.received_requests().await.unwrap()[0];
    assert_eq!(exchange.method.as_str(), "POST");
    let form: HashMap<String, String> = url::form_urlencoded::parse(&exchange.body)
        .into_owned()
        .collect();
    assert_eq!(form["client_secret"], SECRETS[0]);
    assert_eq!(form["code"], "crm-code");
    assert!(exchange.headers.get("authorization").is_none());
    assert!(file.exists());
}

/// How one `connectkit authorize` run ended: its exit code, the last line
/// of standard error (the error) and standard output.
struct Ended {
    code: i32,
    error: String,
    stdout: String,
}

/// Runs `connectkit authorize <url> ARGS`; `answer` plays the browser with
/// the authorization URL's query (the query it sends to the redirect URI, or
/// nothing) while the command waits.
async fn authorize_ending(
    url: &str,
    args: &[&str],
    answer: impl FnOnce(&HashMap<String, String>) -> Option<String>,
) -> Ended {
    let run = Prompted::start(url, args, &[]).await;
    if let Some(query) = answer(&run.q) {
        run.browse(&query).await;
    }
    let (out, rest) = run.finish().await;
    Ended {
        code: out.status.code().unwrap_or(-1),
        error: rest.last().cloned().unwrap_or_default(),
        stdout: String::from_utf8(out.stdout).unwrap(),
    }
}

/// Issue 28: `authorize`'s own exit codes, one per way it can end without
/// a usable grant: 5 no redirect in time, 6 a redirect with another state,
/// 7 access_denied, 8 an answer without a refresh token (nothing saved).
/// Standard output stays empty; the error is the last line of standard error.
#[tokio::test]
async fn authorize_exit_codes_say_how_it_ended() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let url = url(&server, &file);
    let redirect = |extra: &'static str| {
        move |q: &HashMap<String, String>| {
            Some(format!(
                "{extra}&state={}",
                if extra.starts_with("forged") {
                    "forged"
                } else {
                    &q["state"]
                }
            ))
        }
    };
    let timed_out = authorize_ending(&url, &["--timeout", "1"], |_| None).await;
    let mismatch = authorize_ending(&url, &[], redirect("forged=1&code=stolen")).await;
    let denied = authorize_ending(
        &url,
        &[],
        redirect("error=access_denied&error_description=The+user+said+no"),
    )
    .await;
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was exchanged so far"
    );
    let no_refresh = authorize_ending(&url, &[], redirect("code=the-code")).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(!file.exists(), "nothing is saved without a refresh token");
    let mut report = String::new();
    for (name, e) in [
        ("timeout", &timed_out),
        ("state mismatch", &mismatch),
        ("access_denied", &denied),
        ("no refresh token", &no_refresh),
    ] {
        assert!(e.stdout.is_empty(), "{name}: {}", e.stdout);
        report.push_str(&format!("{name}: exit {}\n  {}\n", e.code, e.error));
    }
    insta::assert_snapshot!("authorize_exit_codes", report);
}

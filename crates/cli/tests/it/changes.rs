//! `connectkit changes`: a change-tracking sequence (initial, a delta with
//! one updated and one deleted row, an empty delta) through the binary,
//! with the token carried in a state file and on the command line.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{SECRETS, connectkit};

const BASE: &str = "/api/data/v9.2/";
const ACCOUNTS: &str = "/api/data/v9.2/accounts";
const TOKEN_1: &str = "919042!08/22/2017 08:10:44";
const TOKEN_2: &str = "919058!08/22/2017 08:21:20";
const KEPT: &str = "60c4e274-0d87-e711-80e5-00155db19e6d";
const GONE: &str = "2e451703-c686-e711-80e5-00155db19e6d";

fn fixture(name: &str, server: &MockServer) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/dynamics365")
        .join(name);
    std::fs::read_to_string(p)
        .unwrap()
        .replace("{{SERVICE_URL}}", &format!("{}{BASE}", server.uri()))
}

fn delta_link(server: &MockServer, token: &str) -> String {
    let mut u = url::Url::parse(&format!("{}{ACCOUNTS}", server.uri())).unwrap();
    u.query_pairs_mut().append_pair("$deltatoken", token);
    u.to_string()
}

async fn dataverse(server: &MockServer, tracked: bool) -> String {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600})))
        .mount(server)
        .await;
    Mock::given(path(format!("{BASE}$metadata")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("metadata.xml", server), "application/xml"),
        )
        .mount(server)
        .await;
    let context = format!("{}{BASE}$metadata#accounts", server.uri());
    let initial = json!({
        "@odata.context": context,
        "@odata.deltaLink": delta_link(server, TOKEN_1),
        "value": [
            {"@odata.etag": "W/\"915244\"", "accountid": KEPT, "name": "Monte Orton"},
            {"@odata.etag": "W/\"915245\"", "accountid": GONE, "name": "Blue Yonder"}
        ]
    });
    let delta = json!({
        "@odata.context": format!("{context}/$delta"),
        "@odata.deltaLink": delta_link(server, TOKEN_2),
        "value": [
            {"@odata.etag": "W/\"915300\"", "accountid": KEPT, "name": "Monte Orton Ltd"},
            {"@odata.context": format!("{context}/$deletedEntity"), "id": GONE, "reason": "deleted"}
        ]
    });
    let empty = json!({
        "@odata.context": format!("{context}/$delta"),
        "@odata.deltaLink": delta_link(server, TOKEN_2),
        "value": []
    });
    let mut initial_body = initial.clone();
    if !tracked {
        initial_body
            .as_object_mut()
            .unwrap()
            .remove("@odata.deltaLink");
    }
    for (token, body) in [
        (None, initial_body),
        (Some(TOKEN_1), delta),
        (Some(TOKEN_2), empty),
    ] {
        let mock = Mock::given(method("GET")).and(path(ACCOUNTS));
        let mock = match token {
            Some(t) => mock.and(query_param("$deltatoken", t)),
            None => mock
                .and(query_param_is_missing("$deltatoken"))
                .and(|r: &Request| {
                    r.headers
                        .get_all("prefer")
                        .iter()
                        .any(|v| v == "odata.track-changes")
                }),
        };
        mock.respond_with(
            ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json"),
        )
        .mount(server)
        .await;
    }
    format!(
        "jdbc:datadirect:dynamics365:ServiceURL={0}{BASE};ClientID=29453d6f;ClientSecret={1};TokenURI={0}/token;RefreshToken={2};",
        server.uri(),
        SECRETS[0],
        SECRETS[1]
    )
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(rows: &[Value]) -> Vec<(String, String, Value)> {
    rows.iter()
        .map(|r| {
            (
                r["$change"].as_str().unwrap().to_owned(),
                r["accountid"].as_str().unwrap().to_owned(),
                r["name"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_change_tracking_sequence_with_a_state_file() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server, true).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("accounts.token");
    let state_arg = state.to_str().unwrap();
    let args = [
        "changes", "-", "account", "--state", state_arg, "--format", "jsonl",
    ];

    let r = connectkit(&args, Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        summary(&lines(&r.stdout)),
        [
            ("changed".into(), KEPT.into(), json!("Monte Orton")),
            ("changed".into(), GONE.into(), json!("Blue Yonder")),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("{TOKEN_1}\n")
    );

    let r = connectkit(&args, Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        summary(&lines(&r.stdout)),
        [
            ("changed".into(), KEPT.into(), json!("Monte Orton Ltd")),
            ("deleted".into(), GONE.into(), Value::Null),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("{TOKEN_2}\n")
    );

    // The token on the command line; the next one on standard error.
    let r = connectkit(
        &[
            "changes", "-", "accounts", "--token", TOKEN_2, "--format", "csv",
        ],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "a header only: {}", r.stdout);
    assert!(
        r.stdout.starts_with("$change,accountid,name,"),
        "{}",
        r.stdout
    );
    let token = format!("token: {TOKEN_2}");
    assert!(r.stderr.lines().any(|l| l == token), "{}", r.stderr);

    // What the server received: tracking once, then each token in turn.
    let reqs: Vec<Request> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == ACCOUNTS)
        .collect();
    let tokens: Vec<Option<String>> = reqs
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "$deltatoken")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(tokens, [None, Some(TOKEN_1.into()), Some(TOKEN_2.into())]);
}

#[tokio::test]
async fn a_table_without_change_tracking_fails_naming_it() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server, false).await;
    let r = connectkit(&["changes", "-", "accounts"], Some(&url)).await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("error: table accounts: change tracking is not enabled")),
        "{}",
        r.stderr
    );
    // Not a dynamics365 URL: a usage error.
    let r = connectkit(
        &["changes", "jdbc:datadirect:autorest:Config=x;", "t"],
        None,
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

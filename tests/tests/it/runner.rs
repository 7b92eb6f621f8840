//! The runner itself: it catches a broken connector, names malformed fields,
//! masks secrets, and the `new-connector` template's scenario and shared table load.

use std::path::Path;

use connectkit_autorest::AutoRestConnector;
use connectkit_core::{Connector, Registry};
use connectkit_e2e::{Outcome, Scenario, builtin_registry, conformance_dir, run_scenario};

fn scenario(id: &str) -> Scenario {
    Scenario::load(&conformance_dir().join(format!("{id}.yaml"))).unwrap()
}

fn failure(outcome: Outcome) -> String {
    match outcome {
        Outcome::Fail(d) => d,
        Outcome::Pass => panic!("expected the scenario to fail"),
    }
}

/// The autorest connector, except that its token requests carry
/// `grant_type=password` ahead of the real one (a TokenURI with a query).
fn broken_registry() -> Registry {
    let mut r = builtin_registry();
    r.register("autorest", connectkit_autorest::catalogue(), |props| {
        let mut props = props.clone();
        if let Some(uri) = props.get_str("TokenURI").map(str::to_owned) {
            props.set("TokenURI", format!("{uri}?grant_type=password"));
        }
        Ok(Box::new(AutoRestConnector::from_properties(&props)?) as Box<dyn Connector>)
    });
    r
}

#[tokio::test]
async fn a_connector_sending_the_wrong_grant_type_fails() {
    let s = scenario("grant/mode_all_get");
    assert!(run_scenario(&builtin_registry(), &s).await.passed());
    let report = run_scenario(&broken_registry(), &s).await;
    let d = failure(report.outcome.clone());
    assert_eq!(
        d,
        r#"token_request[0] query grant_type: expected "refresh_token", received "password", "refresh_token""#
    );
    assert!(report.line().starts_with("grant/mode_all_get FAIL "));
    for id in ["grant/mode_post_post", "grant/mode_basic_post"] {
        let d = failure(
            run_scenario(&broken_registry(), &scenario(id))
                .await
                .outcome,
        );
        assert!(d.contains("grant_type"), "{id}: {d}");
    }
}

#[tokio::test]
async fn differences_mask_secrets() {
    let text = std::fs::read_to_string(conformance_dir().join("grant/mode_all_get.yaml"))
        .unwrap()
        .replace("{{basic client:1 s3cr=t/+x}}", "{{basic client:1 wrong}}");
    let s = Scenario::parse(Path::new("grant/masked.yaml"), &text).unwrap();
    let d = failure(run_scenario(&builtin_registry(), &s).await.outcome);
    assert_eq!(
        d,
        r#"token_request[0] header authorization: expected "Basic base64(client%3A1:wrong)", received "Basic base64(client%3A1:***)""#
    );
    assert!(!d.contains("s3cr"));
}

#[test]
fn malformed_scenarios_name_the_file_and_the_field() {
    let p = Path::new("fixtures/conformance/grant/bad.yaml");
    let cases = [
        (
            "url: autorest:Sample=x\noperations: [tables]\nexpekt: {}\n",
            "expekt",
        ),
        ("operations: [tables]\n", "url"),
        (
            "url: autorest:Sample=x\noperations: [\"scan\"]\n",
            "operations[0]",
        ),
        (
            "url: autorest:Sample=x\noperations: [{scan: t, limit: lots}]\n",
            "limit",
        ),
        (
            "url: autorest:Sample=x\noperations: [tables]\nexpect: {api: {/nope: {requests: 1}}}\n",
            "expect.api./nope",
        ),
        (
            "url: autorest:Sample=x\noperations: [tables]\ntoken: {responses: []}\n",
            "token.responses",
        ),
        (
            "url: autorest:Sample=x\noperations: [{scan: t, filter: {column: a, op: like, value: x}}]\n",
            "filter.op",
        ),
        (
            "url: autorest:Sample=x\noperations: [{scan: t, filter: {column: a, op: in, value: 1}}]\n",
            "filter.value",
        ),
        (
            "url: autorest:Sample=x\noperations: [tables]\napi: [{path: /x, responses: [{rows: []}]}]\n",
            "api[0].responses[0].rows",
        ),
        ("shared: true\noperations: [tables]\n", "shared"),
    ];
    for (text, field) in cases {
        let e = Scenario::parse(p, text).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.starts_with("fixtures/conformance/grant/bad.yaml: "),
            "{shown}"
        );
        assert!(shown.contains(field), "{field}: {shown}");
    }
}

/// The template itself is several files of a crate of its own: `cargo xtask
/// scaffold-check` (run by CI) scaffolds it, builds it and runs its
/// scenarios, shared ones included. Here: its scenario and its shared table
/// declaration load, and the declaration is not pending.
#[test]
fn the_new_connector_template_declares_its_scenario_and_shared_table() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/templates/connector");
    let s = Scenario::load(&dir.join("first.yaml")).unwrap();
    assert_eq!(s.connector, "example");
    let decl = dir.join(connectkit_e2e::shared::SHARED_TABLE_FILE);
    let table = connectkit_e2e::shared::SharedTable::load(&decl, "example").unwrap();
    assert!(table.pending.is_none(), "{:?}", table.pending);
}

#[test]
fn shared_scenarios_run_once_per_declared_table() {
    let root = conformance_dir();
    let loaded = Scenario::load_all(&root.join("shared/api_502_504_then_success.yaml"));
    let ids: Vec<String> = loaded
        .iter()
        .map(|s| s.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(
        ids,
        [
            "shared/api_502_504_then_success[autorest]",
            "shared/api_502_504_then_success[dynamics365]"
        ]
    );
    let d365 = loaded[1].as_ref().unwrap();
    assert_eq!(d365.connector, "dynamics365");
    // The declaration's setup route comes first, then the scenario's, its rows paged as declared.
    let paths: Vec<&str> = d365.file.api.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/api/data/v9.2/$metadata", "/api/data/v9.2/accounts"]
    );
    let page = d365.file.api[1].responses[2].json.clone().unwrap();
    assert_eq!(page["value"][1]["name"], "Fabrikam");
    assert!(matches!(
        &d365.operations[0],
        connectkit_e2e::scenario::Operation::Scan { table, .. } if table == "accounts"
    ));
}

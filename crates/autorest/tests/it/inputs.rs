//! Input parameters (fixtures/autorest/models/inputs.rest): filters on
//! input columns reach the API in the path, the query string or the POST
//! body; they are reported Exact; a required input nobody supplies is an
//! error naming it.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, Filter, FilterOp, FilterSupport, Literal, ScanRequest};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{model_file, requests_to, rows};

async fn connector(server: &MockServer) -> (impl Connector, tempfile::NamedTempFile) {
    let model = model_file("inputs.rest", server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    (c, model)
}

fn query(r: &Request) -> Vec<(String, String)> {
    r.url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn filters_on_input_columns_are_exact_and_others_are_not() {
    let server = MockServer::builder().start().await;
    let (c, _model) = connector(&server).await;
    c.tables().await.unwrap();
    let filters = [
        Filter::new("language", FilterOp::Eq, "rust"),
        Filter::new("stars", FilterOp::Gt, 10i64),
        Filter::new("stars", FilterOp::Lt, 99i64),
        Filter::new("stars", FilterOp::Eq, 5i64),
        Filter::new("name", FilterOp::Eq, "x"),
        Filter::new("LOGIN", FilterOp::Eq, "octo"),
        Filter::is_null("language"),
        Filter::new("language", FilterOp::Eq, "go"),
    ];
    use FilterSupport::{Exact, Unsupported};
    assert_eq!(
        c.filter_support("user_repos", &filters),
        [
            Exact,
            Exact,
            Exact,
            Unsupported,
            Unsupported,
            Exact,
            Unsupported,
            Unsupported
        ]
    );
    let list = [
        Filter::in_list("status", ["a", "b"]),
        Filter::new("status", FilterOp::Eq, "a"),
    ];
    assert_eq!(c.filter_support("search", &list), [Exact, Unsupported]);
}

#[tokio::test]
async fn path_query_and_defaults_carry_the_filters() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/users/octo%20cat%2Fx/repos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": 1, "name": "a", "language": "rust", "stars": 12, "created": "2024-01-02"},
            {"id": 2, "name": "b", "language": "rust", "stars": 40, "created": "2024-02-03"}]})))
        .mount(&server)
        .await;
    let (c, _model) = connector(&server).await;
    let req = ScanRequest::new()
        .with_filter(Filter::new("login", FilterOp::Eq, "octo cat/x"))
        .with_filter(Filter::new("language", FilterOp::Eq, "rust"))
        .with_filter(Filter::new("stars", FilterOp::Gt, 10i64))
        .with_filter(Filter::new("created", FilterOp::Ge, Literal::Date(19_723)))
        .with_filter(Filter::new("name", FilterOp::Eq, "a"))
        .with_limit(1);
    let scan = c.scan("user_repos", req.clone()).await.unwrap();
    assert_eq!(
        scan.unapplied_filters,
        [Filter::new("name", FilterOp::Eq, "a")]
    );
    assert!(!scan.limit_applied);
    drop(scan);
    let got = rows(&c, "user_repos", req).await.unwrap();
    assert_eq!(got.len(), 2, "the name filter is the caller's: {got:?}");
    assert_eq!(got[0]["login"], "octo cat/x");
    assert_eq!(got[0]["sort"], "updated");
    assert_eq!(got[1]["stars"], 40);
    let sent = requests_to(&server, "/users/octo%20cat%2Fx/repos").await;
    assert_eq!(sent[0].method.as_str(), "GET");
    assert_eq!(
        query(&sent[0]),
        [
            ("lang".to_owned(), "rust".to_owned()),
            ("min_stars".to_owned(), "10".to_owned()),
            ("since".to_owned(), "2024-01-01".to_owned()),
            ("sort".to_owned(), "updated".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_filter_replaces_the_default_and_all_exact_keeps_the_limit() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/users/octo/repos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": 1, "name": "a"}, {"id": 2, "name": "b"}]})))
        .mount(&server)
        .await;
    let (c, _model) = connector(&server).await;
    let req = ScanRequest::new()
        .with_filter(Filter::new("login", FilterOp::Eq, "octo"))
        .with_filter(Filter::new("sort", FilterOp::Eq, "stars"))
        .with_limit(1);
    let scan = c.scan("user_repos", req.clone()).await.unwrap();
    assert!(scan.unapplied_filters.is_empty());
    assert!(scan.limit_applied);
    drop(scan);
    let got = rows(&c, "user_repos", req).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["sort"], "stars");
    let sent = requests_to(&server, "/users/octo/repos").await;
    assert_eq!(query(&sent[0]), [("sort".to_owned(), "stars".to_owned())]);
}

#[tokio::test]
async fn a_required_input_without_a_value_is_an_error_naming_it() {
    let server = MockServer::builder().start().await;
    let (c, _model) = connector(&server).await;
    let e = c
        .scan("user_repos", ScanRequest::new())
        .await
        .expect_err("no login");
    let msg = e.to_string();
    assert!(msg.contains("input {login}"), "{msg}");
    assert!(msg.contains("WHERE login = "), "{msg}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn post_body_inputs_are_typed_and_the_rest_is_query() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"hits": [{"id": 7, "name": "w", "status": "a"}]})),
        )
        .mount(&server)
        .await;
    let (c, _model) = connector(&server).await;
    let req = ScanRequest::new()
        .with_filter(Filter::new("q", FilterOp::Eq, "widgets \"blue\""))
        .with_filter(Filter::in_list("status", ["a", "b"]));
    let got = rows(&c, "search", req).await.unwrap();
    assert_eq!(
        got,
        [json!({"id": 7, "name": "w", "q": "widgets \"blue\"", "score": 0.5, "status": "a"})]
    );
    let sent = requests_to(&server, "/search").await;
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({"query": {"text": "widgets \"blue\"", "minScore": 0.5}, "size": 2, "from": 0})
    );
    assert_eq!(query(&sent[0]), [("status".to_owned(), "a,b".to_owned())]);
}

#[tokio::test]
async fn an_input_value_is_never_read_as_a_template() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hits": []})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let (c, _model) = connector(&server).await;
    let odd = "{OFFSET} {PAGE} {q}";
    let req = ScanRequest::new().with_filter(Filter::new("q", FilterOp::Eq, odd));
    rows(&c, "search", req).await.unwrap();
    let sent = requests_to(&server, "/search").await;
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["query"]["text"], odd);
    let req = ScanRequest::new().with_filter(Filter::new("login", FilterOp::Eq, "{LIMIT}"));
    rows(&c, "user_repos", req).await.unwrap();
    assert_eq!(
        requests_to(&server, "/users/%7BLIMIT%7D/repos").await.len(),
        1
    );
}

#[tokio::test]
async fn child_tables_take_their_parents_inputs() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/orgs/acme/teams"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "members": [{"login": "ada"}, {"login": "bob"}]}])))
        .mount(&server)
        .await;
    let text = r##"{"teams": {"#path": "https://api.example.com/orgs/{org}/teams",
        "id": "Integer,#key", "members[]": {"login": "VarChar(16)"}}}"##;
    let model = crate::common::model_text(text, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let schema = c.schema("teams_members").await.unwrap();
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["teams_id", "position", "login", "org"]);
    let req = ScanRequest::new().with_filter(Filter::new("org", FilterOp::Eq, "acme"));
    assert_eq!(
        c.filter_support("teams_members", &req.filters),
        [FilterSupport::Exact]
    );
    let got = rows(&c, "teams_members", req).await.unwrap();
    assert_eq!(
        got,
        [
            json!({"teams_id": 1, "position": 0, "login": "ada", "org": "acme"}),
            json!({"teams_id": 1, "position": 1, "login": "bob", "org": "acme"})
        ]
    );
    let e = rows(&c, "teams_members", ScanRequest::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("input {org}"), "{e}");
}

//! Credentials go only to the origins the configuration names: a next link
//! or redirect anywhere else is an error naming that origin, and the other
//! server receives nothing.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, ErrorKind, ScanRequest};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

/// An API whose first page points at `elsewhere`, in the form `form`.
async fn api_linking_away(form: &str, elsewhere: &MockServer) -> MockServer {
    let api = MockServer::builder().start().await;
    let away = format!("{}/steal?page=2", elsewhere.uri());
    let rows = json!([{"id": 1}, {"id": 2}]);
    let response = match form {
        "next" => ResponseTemplate::new(200).set_body_json(json!({"data": rows, "next": away})),
        "@odata.nextLink" => ResponseTemplate::new(200)
            .set_body_json(json!({"value": rows, "@odata.nextLink": away})),
        "_links" => ResponseTemplate::new(200)
            .set_body_json(json!({"items": rows, "_links": {"next": {"href": away}}})),
        "link header" | "model header" => ResponseTemplate::new(200)
            .insert_header("Link", format!(r#"<{away}>; rel="next""#).as_str())
            .set_body_json(rows),
        "model element" => ResponseTemplate::new(200)
            .set_body_json(json!({"data": rows, "paging": {"next": away}})),
        "redirect" => ResponseTemplate::new(307).insert_header("Location", away.as_str()),
        other => panic!("{other}"),
    };
    Mock::given(path("/items"))
        .respond_with(response)
        .mount(&api)
        .await;
    api
}

fn model_for(form: &str, api: &MockServer) -> tempfile::NamedTempFile {
    let paging = if form == "model header" {
        r##""#nextPageResponseHeader": "Link""##
    } else {
        r##""#nextPageElement": "paging/next""##
    };
    let rows = if form == "model header" { "" } else { " /data" };
    let text = format!(
        r##"{{"items": {{"#path": ["https://api.example.com/items{rows}"], {paging}, "id": "Integer"}}}}"##
    );
    model_text(&text, "rest", api)
}

#[tokio::test]
async fn a_next_link_or_redirect_to_another_origin_sends_nothing_there() {
    for form in [
        "next",
        "@odata.nextLink",
        "_links",
        "link header",
        "model element",
        "model header",
        "redirect",
    ] {
        let elsewhere = MockServer::builder().start().await;
        Mock::given(path("/steal"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 3}])))
            .mount(&elsewhere)
            .await;
        let api = api_linking_away(form, &elsewhere).await;
        let model = model_for(form, &api);
        let source = if form.starts_with("model") {
            AutoRestDataSource::new().config(model.path().to_str().unwrap())
        } else {
            AutoRestDataSource::new().sample(format!("{}/items", api.uri()))
        };
        let c = source
            .authentication_method("HttpHeader")
            .auth_header("X-Api-Key")
            .security_token("k3y-s3cret")
            .build()
            .unwrap();
        let e = rows(&c, "items", ScanRequest::new()).await.unwrap_err();
        assert_eq!(e.code(), "api.foreign_origin", "{form}: {e}");
        assert_eq!(e.kind(), ErrorKind::Protocol, "{form}");
        let what = if form == "redirect" {
            "redirect"
        } else {
            "next page link"
        };
        assert!(
            e.to_string().starts_with(&format!(
                "{what} to {} is outside the origins the configuration names ({}); nothing was sent there",
                elsewhere.uri(),
                api.uri()
            )),
            "{form}: {e}"
        );
        assert!(!e.to_string().contains("k3y-s3cret"));
        assert!(
            elsewhere.received_requests().await.unwrap().is_empty(),
            "{form}: the foreign server was contacted"
        );
    }
}

#[tokio::test]
async fn credentials_over_plain_http_to_a_remote_host_are_refused_before_any_request() {
    for (method, extra) in [
        ("BearerToken", "SecurityToken=t0k3n;"),
        ("HttpHeader", "AuthHeader=X-Api-Key;SecurityToken=t0k3n;"),
        (
            "OAuth2-RefreshToken",
            "ClientID=c;ClientSecret=s;RefreshToken=r;TokenURI=POST http://127.0.0.1:9/token;",
        ),
    ] {
        let url = format!(
            "autorest:Sample=http://api.example.test/v1/items;AuthenticationMethod={method};{extra}"
        );
        let mut registry = connectkit_core::Registry::new();
        connectkit_autorest::register(&mut registry);
        let e = registry.connect(&url).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{method}");
        assert_eq!(e.code(), "config.insecure_http", "{method}: {e}");
        assert_eq!(
            e.to_string(),
            "property Sample: http://api.example.test/v1/items is plain http to a host that is not loopback; credentials are sent over https only",
            "{method}"
        );
    }
    // Without credentials, plain http is fine (public APIs).
    let c = AutoRestDataSource::new()
        .sample("http://api.example.test/v1/items")
        .build();
    assert!(c.is_ok());
}

#[tokio::test]
async fn every_filter_is_unsupported_so_a_limit_with_filters_is_the_callers() {
    use connectkit_core::{Filter, FilterOp, FilterSupport};
    let api = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}], "next": null})))
        .mount(&api)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", api.uri()))
        .build()
        .unwrap();
    let f = Filter::new("id", FilterOp::Gt, 2i64);
    assert_eq!(
        c.filter_support("items", std::slice::from_ref(&f)),
        [FilterSupport::Unsupported]
    );
    let scan = c
        .scan(
            "items",
            ScanRequest::new().with_filter(f.clone()).with_limit(1),
        )
        .await
        .unwrap();
    assert!(!scan.limit_applied);
    assert_eq!(scan.unapplied_filters, [f]);
    let batches: Vec<_> = futures::StreamExt::collect::<Vec<_>>(scan.batches).await;
    let n: usize = batches.iter().map(|b| b.as_ref().unwrap().num_rows()).sum();
    assert_eq!(n, 4, "every row, for the caller to filter and then limit");
}

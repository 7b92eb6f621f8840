//! Sampled endpoints: inference once, schema and scan agreeing, and every
//! recognised next-link form.

use connectkit_autorest::{AutoRestDataSource, TYPE_METADATA_KEY};
use connectkit_core::{Connector, Error, ScanRequest};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{fixtures, ids, requests_to, rows};

fn sample_fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("autorest/samples").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The body of page `page` (1-based, 3 pages of 2 rows) carrying next-link form `form`.
fn page_with_link(form: &str, page: usize, base: &str) -> ResponseTemplate {
    let rows: Vec<Value> = (0..2)
        .map(|i| json!({"id": (page - 1) * 2 + i, "name": "n"}))
        .collect();
    let next = format!("/{form}/items?page={}", page + 1);
    let abs = format!("{base}{next}");
    let last = page == 3;
    let mut body = json!({"data": rows});
    let link = match form {
        "next" | "nextLink" | "next_page_url" | "nextPageUrl" | "@odata.nextLink" => {
            json!({form: if last { Value::Null } else { json!(next) }})
        }
        "links" => {
            json!({"links": {"self": "x", "next": if last { Value::Null } else { json!(abs) }}})
        }
        "_links_href" => json!({"_links": {"next": {"href": next}}}),
        "_links" => json!({"_links": {"next": next}}),
        "paging" => json!({"paging": {"next": abs}}),
        "paging_link" => json!({"paging": {"next": {"link": next}}}),
        "header" => json!({}),
        other => panic!("{other}"),
    };
    let mut r = ResponseTemplate::new(200);
    if form == "header" {
        if !last {
            r = r.insert_header("Link", format!("<{next}>; rel=\"next\"").as_str());
        }
        return r.set_body_json(rows_only(&body));
    }
    if !last || link.as_object().unwrap().values().any(Value::is_null) {
        body.as_object_mut()
            .unwrap()
            .extend(link.as_object().unwrap().clone());
    }
    r.set_body_json(body)
}

fn rows_only(body: &Value) -> Value {
    body["data"].clone()
}

#[tokio::test]
async fn every_recognised_next_link_form_returns_all_rows_in_order() {
    let server = MockServer::builder().start().await;
    let forms = [
        "next",
        "nextLink",
        "next_page_url",
        "nextPageUrl",
        "@odata.nextLink",
        "links",
        "_links_href",
        "_links",
        "paging",
        "paging_link",
        "header",
    ];
    for form in forms {
        let base = server.uri();
        Mock::given(path(format!("/{form}/items")))
            .respond_with(move |req: &Request| {
                let page = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "page")
                    .map_or(1, |(_, v)| v.parse().unwrap());
                page_with_link(form, page, &base)
            })
            .mount(&server)
            .await;
    }
    for form in forms {
        let c = AutoRestDataSource::new()
            .sample(format!("{}/{form}/items", server.uri()))
            .build()
            .unwrap();
        let schema = c.schema("items").await.unwrap();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "name"], "{form}");
        let got = rows(&c, "items", ScanRequest::new()).await.unwrap();
        assert_eq!(ids(&got), [0, 1, 2, 3, 4, 5], "{form}");
        // Three pages, each requested once: the scan reuses the page
        // inference read.
        assert_eq!(
            requests_to(&server, &format!("/{form}/items")).await.len(),
            3,
            "{form}"
        );
    }
}

#[tokio::test]
async fn recognised_link_fields_are_not_columns_of_a_single_row() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 7, "login": "ada", "links": {"self": "/v1/me", "next": null}, "nextLink": null
        })))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/v1/me", server.uri()))
        .build()
        .unwrap();
    let got = rows(&c, "me", ScanRequest::new()).await.unwrap();
    assert_eq!(
        got,
        [json!({"id": 7, "login": "ada", "links_self": "/v1/me"})]
    );
}

#[tokio::test]
async fn inference_runs_once_and_schema_and_scan_agree() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/api/countries/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sample_fixture("countries.json")))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/api/countries/", server.uri()))
        .build()
        .unwrap();
    let schema = c.schema("COUNTRIES").await.unwrap();
    assert_eq!(schema.field(0).metadata()[TYPE_METADATA_KEY], "VarChar(64)");
    assert_eq!(c.tables().await.unwrap().len(), 1);
    assert_eq!(requests_to(&server, "/api/countries/").await.len(), 1);
    let scan = c
        .scan(
            "countries",
            ScanRequest::new().with_projection(["NAME", "code"]),
        )
        .await
        .unwrap();
    let names: Vec<_> = scan
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["name", "code"]);
    let got = rows(
        &c,
        "countries",
        ScanRequest::new().with_projection(["name", "code"]),
    )
    .await
    .unwrap();
    assert_eq!(got[3], json!({"name": "Greenland", "code": "GL"}));
    let all = rows(&c, "countries", ScanRequest::new()).await.unwrap();
    assert_eq!(
        all[0],
        json!({"code": "FR", "name": "France", "population": 68170000, "independent": true, "area_km2": 551695})
    );
    let e = c
        .scan("countries", ScanRequest::new().with_projection(["capital"]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ColumnNotFound { .. }), "{e}");
    let e = c.schema("cities").await.unwrap_err();
    assert_eq!(e.to_string(), "unknown table \"cities\"; known: countries");
    assert_eq!(requests_to(&server, "/api/countries/").await.len(), 3);
}

#[tokio::test]
async fn the_table_property_names_the_table_and_json_columns_keep_text() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sample_fixture("varying.json")))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(server.uri())
        .build()
        .unwrap();
    assert_eq!(c.tables().await.unwrap()[0].name, "URL_");
    let c = AutoRestDataSource::new()
        .sample(server.uri())
        .table("things")
        .build()
        .unwrap();
    let got = rows(&c, "things", ScanRequest::new()).await.unwrap();
    assert_eq!(got[0]["payload"], json!(r#"{"kind":"click","x":10}"#));
    assert_eq!(got[1]["payload"], json!(r#""legacy-text""#));
    assert_eq!(got[2].get("payload"), None);
    assert_eq!(got[2]["extra"], json!("5"));
}

#[tokio::test]
async fn child_tables_of_a_sampled_envelope() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/shop/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sample_fixture("orders.json")))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/shop/orders", server.uri()))
        .build()
        .unwrap();
    let names: Vec<_> = c
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["orders", "orders_lines", "orders_lines_discounts"]);
    let discounts = rows(
        &c,
        "orders_lines_discounts",
        ScanRequest::new().with_limit(2),
    )
    .await
    .unwrap();
    insta::assert_json_snapshot!(discounts);
}

//! A Dataverse scan: connect with a refresh token, list the tables (the
//! service document), read a table's schema (`$metadata`), then scan it
//! with a projection, page after page (`@odata.nextLink`), into Arrow
//! record batches and print the rows.
//!
//! A wiremock server on 127.0.0.1 stands in for the token endpoint and the
//! Dataverse Web API.
//!
//! ```text
//! cargo run -p connectkit-dynamics365 --example scan
//! ```

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type};
use connectkit_core::{Connector, ScanRequest};
use connectkit_dynamics365::{Dynamics365DataSource, TYPE_METADATA_KEY};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::query_param_is_missing;
use wiremock::matchers::{bearer_token, body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `$metadata`: one entity type and its entity set.
const CSDL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="account">
        <Key><PropertyRef Name="accountid" /></Key>
        <Property Name="accountid" Type="Edm.Guid" />
        <Property Name="name" Type="Edm.String" Nullable="false" />
        <Property Name="numberofemployees" Type="Edm.Int32" />
        <Property Name="revenue" Type="Edm.Decimal" Precision="19" Scale="2" />
        <Property Name="createdon" Type="Edm.DateTimeOffset" />
      </EntityType>
      <EntityContainer Name="System">
        <EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// An account as Dataverse sends it (the `@odata.etag` annotation is not a column).
fn account(n: u32, name: &str, employees: Option<i32>, revenue: Option<f64>) -> serde_json::Value {
    json!({
        "@odata.etag": format!("W/\"{n}\""),
        "accountid": format!("a0000000-0000-0000-0000-00000000000{n}"),
        "name": name,
        "numberofemployees": employees,
        "revenue": revenue
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder().start().await;
    let service = format!("{}/api/data/v9.2/", server.uri());
    let get = |p: &str| Mock::given(method("GET")).and(path(format!("/api/data/v9.2/{p}")));

    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600})))
        .mount(&server)
        .await;
    get("")
        .and(bearer_token("at-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": format!("{service}$metadata"),
            "value": [{"name": "accounts", "kind": "EntitySet", "url": "accounts"}]})))
        .mount(&server)
        .await;
    get("$metadata")
        .and(bearer_token("at-1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(CSDL, "application/xml"))
        .mount(&server)
        .await;
    // Two pages of accounts, joined by `@odata.nextLink`.
    get("accounts")
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [account(1, "Contoso Ltd", Some(250), Some(1234567.89)),
                      account(2, "Fabrikam, Inc.", None, None)],
            "@odata.nextLink": format!("{service}accounts?$skiptoken=page2")})))
        .mount(&server)
        .await;
    get("accounts")
        .and(query_param("$skiptoken", "page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [account(3, "Adventure Works", Some(12), Some(98000.5))]})))
        .mount(&server)
        .await;

    let connector = Dynamics365DataSource::new()
        .service_url(&service)
        .client_id("29453d6f-6789-25gh-gd8g-44tk3c527831")
        .client_secret("my-client-secret")
        .token_uri(format!("{}/token", server.uri()))
        .refresh_token("my-refresh-token")
        .page_size(2)
        .build()?;

    for table in connector.tables().await? {
        println!("table {}", table.name);
    }
    for field in connector.schema("accounts").await?.fields() {
        let odata = &field.metadata()[TYPE_METADATA_KEY];
        println!(
            "  {:<18} {odata:<18} -> {}",
            field.name(),
            field.data_type()
        );
    }

    let request = ScanRequest::new().with_projection(["name", "numberofemployees", "revenue"]);
    let scan = connector.scan("accounts", request).await?;
    let batches: Vec<_> = scan.batches.try_collect().await?;
    for batch in &batches {
        let name = batch.column_by_name("name").unwrap().as_string::<i32>();
        let employees = batch
            .column_by_name("numberofemployees")
            .unwrap()
            .as_primitive::<Int32Type>();
        let revenue = batch
            .column_by_name("revenue")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            let employees = employees
                .is_valid(i)
                .then(|| employees.value(i).to_string());
            let revenue = revenue.is_valid(i).then(|| revenue.value_as_string(i));
            println!(
                "{:<16} | {:>5} | {:>12}",
                name.value(i),
                employees.as_deref().unwrap_or("-"),
                revenue.as_deref().unwrap_or("-")
            );
        }
    }
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);

    // One token request; two pages of at most 2 rows, selecting only the projection.
    let received = server.received_requests().await.unwrap_or_default();
    let tokens = received.iter().filter(|r| r.url.path() == "/token");
    assert_eq!(tokens.count(), 1);
    let pages: Vec<_> = received
        .iter()
        .filter(|r| r.url.path().ends_with("/accounts"))
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].headers["prefer"], "odata.maxpagesize=2");
    let query = pages[0].url.query().unwrap_or_default();
    assert_eq!(query, "$select=name,numberofemployees,revenue");
    let next = pages[1].url.query().unwrap_or_default();
    println!("pages requested: ?{query}, then the next link ?{next}");
    Ok(())
}

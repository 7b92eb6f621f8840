//! Labels (`IncludeFormattedValues`): formatted values and lookup targets as
//! columns beside the values, asked for only when enabled. Payloads follow
//! the Dataverse documentation's examples ("Formatted values", "Lookup
//! property data", "Choices columns").

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::Schema;
use connectkit_core::{Connector, ScanRequest};
use connectkit_dynamics365::{ANNOTATES_METADATA_KEY, TYPE_METADATA_KEY};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

const CSDL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="account">
        <Key><PropertyRef Name="accountid" /></Key>
        <Property Name="accountid" Type="Edm.Guid" />
        <Property Name="name" Type="Edm.String" />
        <Property Name="customertypecode" Type="Edm.Int32" />
        <Property Name="creditonhold" Type="Edm.Boolean" />
        <Property Name="sample_outdooractivities" Type="Edm.String" />
        <Property Name="_ownerid_value" Type="Edm.Guid" />
      </EntityType>
      <EntityContainer Name="System">
        <EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

const ATTRIBUTES: &str = r#"{
  "@odata.context": "{{SERVICE_URL}}$metadata#EntityDefinitions('account')/Attributes(LogicalName,AttributeType,AttributeTypeName)",
  "value": [
    {"LogicalName": "accountid", "AttributeType": "Uniqueidentifier", "AttributeTypeName": {"Value": "UniqueidentifierType"}},
    {"LogicalName": "name", "AttributeType": "String", "AttributeTypeName": {"Value": "StringType"}},
    {"LogicalName": "customertypecode", "AttributeType": "Picklist", "AttributeTypeName": {"Value": "PicklistType"}},
    {"LogicalName": "creditonhold", "AttributeType": "Boolean", "AttributeTypeName": {"Value": "BooleanType"}},
    {"LogicalName": "sample_outdooractivities", "AttributeType": "Virtual", "AttributeTypeName": {"Value": "MultiSelectPicklistType"}},
    {"LogicalName": "ownerid", "AttributeType": "Owner", "AttributeTypeName": {"Value": "OwnerType"}}
  ]
}"#;

const PAGE: &str = r#"{
  "@odata.context": "{{SERVICE_URL}}$metadata#accounts",
  "value": [
    {
      "@odata.etag": "W/\"81359849\"",
      "accountid": "78914942-34cb-ed11-b596-0022481d68cd",
      "name": "Litware, Inc. (sample)",
      "customertypecode@OData.Community.Display.V1.FormattedValue": "Competitor",
      "customertypecode": 1,
      "creditonhold@OData.Community.Display.V1.FormattedValue": "No",
      "creditonhold": false,
      "sample_outdooractivities@OData.Community.Display.V1.FormattedValue": "Hiking; Swimming",
      "sample_outdooractivities": "1,9",
      "_ownerid_value@OData.Community.Display.V1.FormattedValue": "Nancy Anderson",
      "_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "ownerid",
      "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "systemuser",
      "_ownerid_value": "4026be43-6b69-e111-8f65-78e7d1620f5e"
    },
    {
      "@odata.etag": "W/\"81550512\"",
      "accountid": "1adef0b8-54d3-ed11-a7c7-000d3a993550",
      "name": "Adventure Works (sample)",
      "customertypecode": null,
      "creditonhold@OData.Community.Display.V1.FormattedValue": "Yes",
      "creditonhold": true,
      "sample_outdooractivities": null,
      "_ownerid_value@OData.Community.Display.V1.FormattedValue": "Sales Team",
      "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "team",
      "_ownerid_value": "39e0dbe4-131b-e111-ba7e-78e7d1620f5e"
    }
  ]
}"#;

const ATTRIBUTES_PATH: &str = "/api/data/v9.1/EntityDefinitions(LogicalName='account')/Attributes";

async fn dataverse(server: &MockServer) {
    mount_token(server, "/token").await;
    let fill = |s: &str| s.replace("{{SERVICE_URL}}", &service_url(server));
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(ResponseTemplate::new(200).set_body_raw(CSDL, "application/xml"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ATTRIBUTES_PATH))
        .respond_with(json(fill(ATTRIBUTES)))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(json(fill(PAGE)))
        .mount(server)
        .await;
}

fn render(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            let mut line = format!(
                "{}: {:?} <{}>",
                f.name(),
                f.data_type(),
                f.metadata()[TYPE_METADATA_KEY]
            );
            if let Some(p) = f.metadata().get(ANNOTATES_METADATA_KEY) {
                line.push_str(&format!(" label of {p}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn prefer(r: &wiremock::Request) -> Vec<String> {
    r.headers
        .get_all("prefer")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cell(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let a = batch.column_by_name(column).unwrap().as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_owned()))
        .collect()
}

#[tokio::test]
async fn without_the_property_nothing_is_annotated_or_asked_for() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let c = connector(&server);
    let schema = c.schema("accounts").await.unwrap();
    assert!(
        schema
            .fields()
            .iter()
            .all(|f| !f.name().ends_with("_label"))
    );
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    assert_eq!(
        strings(&batches, "sample_outdooractivities")[0].as_deref(),
        Some("1,9")
    );
    assert!(requests_to(&server, ATTRIBUTES_PATH).await.is_empty());
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(prefer(&reqs[0]), ["odata.maxpagesize=5000"]);
}

#[tokio::test]
async fn label_columns_sit_beside_their_values() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let c = source(&server)
        .include_formatted_values(true)
        .build()
        .unwrap();
    let schema = c.schema("accounts").await.unwrap();
    insta::assert_snapshot!("accounts_schema_with_labels", render(&schema));

    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    let b = &batches[0];
    assert_eq!(
        cell(b, "customertypecode_label"),
        [Some("Competitor".into()), None]
    );
    assert_eq!(
        cell(b, "creditonhold_label"),
        [Some("No".into()), Some("Yes".into())]
    );
    assert_eq!(
        cell(b, "_ownerid_value_label"),
        [Some("Nancy Anderson".into()), Some("Sales Team".into())]
    );
    assert_eq!(
        cell(b, "_ownerid_value_entity"),
        [Some("systemuser".into()), Some("team".into())]
    );
    let values = b
        .column_by_name("sample_outdooractivities")
        .unwrap()
        .as_list::<i32>();
    let first = values.value(0);
    assert_eq!(first.as_primitive::<Int32Type>().values(), &[1, 9]);
    assert!(values.is_null(1));
    let labels = b
        .column_by_name("sample_outdooractivities_label")
        .unwrap()
        .as_list::<i32>();
    let first = labels.value(0);
    let first = first.as_string::<i32>();
    assert_eq!((first.value(0), first.value(1)), ("Hiking", "Swimming"));
    assert!(labels.is_null(1));

    // The attribute definitions are read once; every page asks for the
    // annotations (as the documentation's separate Prefer headers).
    assert_eq!(requests_to(&server, ATTRIBUTES_PATH).await.len(), 1);
    let attrs = &requests_to(&server, ATTRIBUTES_PATH).await[0];
    assert_eq!(
        attrs.url.query(),
        Some("$select=LogicalName,AttributeType,AttributeTypeName")
    );
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(
        prefer(&reqs[0]),
        [
            "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\"",
            "odata.maxpagesize=5000"
        ]
    );
}

#[tokio::test]
async fn a_projected_label_selects_its_property_and_is_never_filtered_by_the_server() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let c = source(&server)
        .include_formatted_values(true)
        .build()
        .unwrap();
    let request = ScanRequest::new()
        .with_projection(["customertypecode_label", "customertypecode", "name"])
        .with_filter(connectkit_core::Filter::new(
            "customertypecode_label",
            connectkit_core::FilterOp::Eq,
            "Competitor",
        ));
    let scan = c.scan("account", request).await.unwrap();
    assert_eq!(scan.unapplied_filters.len(), 1);
    let batches = collect(scan).await.unwrap();
    assert_eq!(
        cell(&batches[0], "customertypecode_label")[0].as_deref(),
        Some("Competitor")
    );
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs[0].url.query(), Some("$select=customertypecode,name"));
}

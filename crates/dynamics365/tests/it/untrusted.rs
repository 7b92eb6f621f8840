//! Hostile responses: clear, bounded errors, never a panic.

use connectkit_core::{Connector, ErrorKind};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{BASE_PATH, METADATA, connector, json, mount_token, served};

async fn metadata_server(xml: String) -> MockServer {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    Mock::given(method("GET"))
        .and(path(BASE_PATH))
        .respond_with(json(served(&server, "service.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(ResponseTemplate::new(200).set_body_raw(xml, "application/xml"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn metadata_entity_expansion_is_not_performed() {
    // A "billion laughs" document: expanding it would take gigabytes.
    let mut dtd = String::from("<!DOCTYPE edmx [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("]>\n");
    let xml = format!(
        r#"<?xml version="1.0"?>{dtd}<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="account"><Key><PropertyRef Name="accountid"/></Key><Property Name="accountid" Type="Edm.Guid"/><Property Name="name" Type="Edm.String"><Annotation Term="Core.Description" String="&lol9;"/></Property></EntityType><EntityContainer Name="System"><EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"#
    );
    let server = metadata_server(xml).await;
    let c = connector(&server);
    // quick-xml does not expand DTD entities: the schema parses, nothing is expanded.
    let schema = c.schema("accounts").await.unwrap();
    assert_eq!(schema.fields().len(), 2);
}

#[tokio::test]
async fn deeply_nested_metadata_is_a_clear_error() {
    let depth = 10_000;
    let xml = format!(
        "<?xml version=\"1.0\"?>{}{}",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let server = metadata_server(xml).await;
    let c = connector(&server);
    let e = c.schema("accounts").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("not a CSDL document"), "{e}");
}

mod prop {
    use proptest::prelude::*;

    fn element() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#"<Property Name="p" Type="Edm.Int32"/>"#.to_owned()),
            Just(r#"<Property Name="d" Type="Edm.Decimal" Precision="99" Scale="-3"/>"#.to_owned()),
            Just(r#"<Key><PropertyRef Name="zz"/></Key>"#.to_owned()),
            Just(r#"<NavigationProperty Name="n" Type="NS.t"/>"#.to_owned()),
            "[<>/=\" a-zA-Z.]{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_is_an_error_or_schemas(xml in "\\PC{0,200}") {
            let _ = connectkit_dynamics365::schemas_from_csdl(&xml);
        }

        #[test]
        fn csdl_like_documents_never_panic(parts in prop::collection::vec(element(), 0..8), base in prop::option::of("[A-Za-z.]{1,8}")) {
            let base = base.map(|b| format!(r#" BaseType="{b}""#)).unwrap_or_default();
            let xml = format!(
                r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="NS" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="t"{base}>{}</EntityType><EntityContainer Name="C"><EntitySet Name="ts" EntityType="NS.t"/></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"#,
                parts.concat()
            );
            let _ = connectkit_dynamics365::schemas_from_csdl(&xml);
        }
    }
}

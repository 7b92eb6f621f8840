//! Schemas from `$metadata`: snapshots, caching, names.

use arrow_schema::Schema;
use connectkit_core::{Connector, Error, ScanRequest};
use connectkit_dynamics365::{KEY_METADATA_KEY, TYPE_METADATA_KEY};
use wiremock::MockServer;

use crate::*;

/// One line per field: name, Arrow type, nullability, OData type, key mark.
fn render(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            let mut line = format!(
                "{}: {:?}{} <{}>",
                f.name(),
                f.data_type(),
                if f.is_nullable() { "" } else { " NOT NULL" },
                f.metadata()[TYPE_METADATA_KEY],
            );
            if f.metadata().get(KEY_METADATA_KEY).map(String::as_str) == Some("true") {
                line.push_str(" KEY");
            }
            assert_eq!(f.metadata().len(), 1 + usize::from(line.ends_with("KEY")));
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn derived_schemas() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    insta::assert_snapshot!(
        "accounts_schema",
        render(&c.schema("accounts").await.unwrap())
    );
    insta::assert_snapshot!(
        "contacts_schema",
        render(&c.schema("contacts").await.unwrap())
    );
}

#[tokio::test]
async fn metadata_is_fetched_once_per_connector() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let a = c.schema("accounts").await.unwrap();
    let b = c.schema("ACCOUNTS").await.unwrap();
    assert_eq!(a, b);
    c.schema("Contacts").await.unwrap();
    let scan = c
        .scan("accounts", ScanRequest::new().with_limit(1))
        .await
        .unwrap();
    assert_eq!(scan.schema, a);
    collect(scan).await.unwrap();
    let md = requests_to(&server, METADATA).await;
    assert_eq!(md.len(), 1);
    assert_eq!(header(&md[0], "accept"), Some("application/xml"));
    assert_eq!(header(&md[0], "odata-version"), Some("4.0"));
}

#[tokio::test]
async fn an_unknown_table_names_the_known_ones() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let err = c.schema("acounts").await.unwrap_err();
    assert!(
        matches!(&err, Error::TableNotFound { name, known } if name == "acounts" && known == &["accounts", "contacts"]),
        "{err:?}"
    );
    let err = c
        .scan("organization", ScanRequest::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TableNotFound { .. }), "{err:?}");
    assert!(requests_to(&server, ACCOUNTS).await.is_empty());
}

#[tokio::test]
async fn a_metadata_document_that_is_not_csdl_is_a_protocol_error() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    wiremock::Mock::given(wiremock::matchers::path(METADATA))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"$Version": "4.01"})),
        )
        .mount(&server)
        .await;
    let err = connector(&server).schema("accounts").await.unwrap_err();
    assert_eq!(err.kind(), connectkit_core::ErrorKind::Protocol);
    assert!(err.to_string().starts_with("$metadata: "), "{err}");
}

/// A table is named by its entity set name or by its entity's logical name
/// (`account` → `accounts`), in any case.
#[tokio::test]
async fn a_table_is_found_by_its_logical_name() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let by_set = c.schema("accounts").await.unwrap();
    assert_eq!(c.schema("Account").await.unwrap(), by_set);
    assert_eq!(c.schema("ACCOUNT").await.unwrap(), by_set);
    let batches = scan_all(&c, "account", ScanRequest::new().with_limit(1))
        .await
        .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 1);
    let err = c.schema("acount").await.unwrap_err();
    assert!(matches!(err, Error::TableNotFound { .. }), "{err}");
}

/// `Connector::count` is `GET <set>/$count`: exact below Dataverse's cap of
/// 5,000, `None` at it, an error naming the table on a body that is no number.
#[tokio::test]
async fn count_is_dollar_count_below_the_cap() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    for (body, want) in [("42", Some(Some(42))), ("5000", Some(None)), ("many", None)] {
        let server = MockServer::builder().start().await;
        mount_all(&server).await;
        Mock::given(method("GET"))
            .and(path(format!("{ACCOUNTS}/$count")))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/plain"))
            .mount(&server)
            .await;
        let got = connector(&server).count("Account").await;
        match want {
            Some(n) => assert_eq!(got.unwrap(), n, "{body}"),
            None => {
                let err = got.unwrap_err().to_string();
                assert!(
                    err.starts_with("table accounts: $count is not a number"),
                    "{err}"
                );
            }
        }
        let reqs = requests_to(&server, &format!("{ACCOUNTS}/$count")).await;
        assert_eq!(reqs.len(), 1);
        assert_eq!(header(&reqs[0], "accept"), Some("text/plain"));
        assert!(requests_to(&server, ACCOUNTS).await.is_empty(), "no page");
    }
}

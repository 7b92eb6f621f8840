//! The `$metadata` cache: a miss downloads and stores, a hit revalidates
//! with `If-None-Match`/`If-Modified-Since` and reads the file on 304, a
//! changed document replaces the file; `MetadataCache=false` stores nothing.

use connectkit_core::Connector;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

/// The fixture's CSDL with one more account column.
fn changed_csdl(server: &MockServer) -> String {
    served(server, "metadata.xml").replace(
        r#"<Property Name="accountnumber" Type="Edm.String" />"#,
        r#"<Property Name="accountnumber" Type="Edm.String" /><Property Name="new_tier" Type="Edm.Int32" />"#,
    )
}

fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/xml")
}

fn cached(server: &MockServer, dir: &std::path::Path) -> Dynamics365Connector {
    source(server)
        .property("MetadataCacheDir", dir.to_str().unwrap())
        .build()
        .unwrap()
}

async fn metadata_requests(server: &MockServer) -> Vec<wiremock::Request> {
    requests_to(server, METADATA).await
}

#[tokio::test]
async fn miss_then_hit_then_revalidated_change() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    let dir = tempfile::tempdir().unwrap();
    // 304 only to the right validator; otherwise the document, ETag "1".
    Mock::given(method("GET"))
        .and(path(METADATA))
        .and(header("if-none-match", "W/\"1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(xml(served(&server, "metadata.xml")).insert_header("ETag", "W/\"1\""))
        .with_priority(2)
        .up_to_n_times(1)
        .mount(&server)
        .await;

    // Miss: downloaded, stored.
    let first = cached(&server, dir.path())
        .schema("accounts")
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 2, "the document and its entry");
    // Hit: a new connector revalidates and reads the file.
    let second = cached(&server, dir.path())
        .schema("accounts")
        .await
        .unwrap();
    assert_eq!(first, second);
    let reqs = metadata_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(header_of(&reqs[0], "if-none-match"), None);
    assert_eq!(header_of(&reqs[1], "if-none-match"), Some("W/\"1\""));

    // The server's document changed: 200 with a new ETag replaces the file.
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(xml(changed_csdl(&server)).insert_header("ETag", "W/\"2\""))
        .with_priority(3)
        .mount(&server)
        .await;
    let third = cached(&server, dir.path())
        .schema("accounts")
        .await
        .unwrap();
    assert!(third.field_with_name("new_tier").is_ok());
    let fourth = cached(&server, dir.path())
        .schema("accounts")
        .await
        .unwrap();
    assert_eq!(third, fourth);
    let reqs = metadata_requests(&server).await;
    assert_eq!(header_of(&reqs[2], "if-none-match"), Some("W/\"1\""));
    assert_eq!(header_of(&reqs[3], "if-none-match"), Some("W/\"2\""));
}

#[tokio::test]
async fn last_modified_is_revalidated_with_if_modified_since() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    let dir = tempfile::tempdir().unwrap();
    let date = "Mon, 23 Nov 2026 10:00:00 GMT";
    Mock::given(method("GET"))
        .and(path(METADATA))
        .and(header("if-modified-since", date))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(xml(served(&server, "metadata.xml")).insert_header("Last-Modified", date))
        .with_priority(2)
        .mount(&server)
        .await;
    let a = cached(&server, dir.path())
        .schema("contacts")
        .await
        .unwrap();
    let b = cached(&server, dir.path())
        .schema("contacts")
        .await
        .unwrap();
    assert_eq!(a, b);
    let reqs = metadata_requests(&server).await;
    assert_eq!(header_of(&reqs[0], "if-modified-since"), None);
    assert_eq!(header_of(&reqs[1], "if-modified-since"), Some(date));
}

#[tokio::test]
async fn without_validators_or_with_the_cache_off_nothing_is_kept() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .and(header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(xml(served(&server, "metadata.xml")).insert_header("ETag", "\"x\""))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        source(&server)
            .property("MetadataCache", "false")
            .property("MetadataCacheDir", dir.path().to_str().unwrap())
            .build()
            .unwrap()
            .schema("accounts")
            .await
            .unwrap();
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let reqs = metadata_requests(&server).await;
    assert!(reqs.iter().all(|r| header_of(r, "if-none-match").is_none()));

    // A server that sends no validator: nothing is stored.
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    cached(&server, dir.path())
        .schema("accounts")
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let err = source(&server)
        .property("MetadataCache", "sometimes")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().starts_with("property MetadataCache:"),
        "{err}"
    );
}

fn header_of<'r>(r: &'r wiremock::Request, name: &str) -> Option<&'r str> {
    crate::header(r, name)
}

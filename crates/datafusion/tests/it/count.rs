//! `SELECT count(*)` without filters: Dataverse's `/$count` answers it as
//! an exact statistic, with no page requested; a count at Dataverse's cap
//! (5,000), a failed count or any filter means a scan.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

const COUNT: &str = "/api/data/v9.2/accounts/$count";

async fn mount_count(server: &MockServer, body: &str) {
    // As the documentation shows it: a number in text/plain.
    Mock::given(method("GET"))
        .and(path(COUNT))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_owned(), "text/plain"))
        .mount(server)
        .await;
}

async fn physical_plan(
    ctx: &connectkit_datafusion::datafusion::prelude::SessionContext,
    sql: &str,
) -> String {
    let rows = query(ctx, &format!("EXPLAIN {sql}")).await;
    rows.iter()
        .find(|r| r["plan_type"] == "physical_plan")
        .and_then(|r| r["plan"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn count_star_is_answered_by_dollar_count_without_a_scan() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    mount_count(&server, "5").await;
    let ctx = session("crm", d365(&server, 5000)).await;
    let rows = query(&ctx, "SELECT COUNT(*) AS n FROM crm.accounts").await;
    assert_eq!(rows, [json!({"n": 5})]);
    assert!(requests_to(&server, ACCOUNTS).await.is_empty(), "no page");
    let counts = requests_to(&server, COUNT).await;
    assert_eq!(counts.len(), 1);
    assert_eq!(header(&counts[0], "accept"), Some("text/plain"));
    // The plan holds the number; the scan is gone.
    let plan = physical_plan(&ctx, "SELECT COUNT(*) AS n FROM crm.accounts").await;
    assert!(plan.contains("PlaceholderRowExec"), "{plan}");
    assert!(!plan.contains("ConnectorScanExec"), "{plan}");
    assert!(requests_to(&server, ACCOUNTS).await.is_empty(), "no page");
}

#[tokio::test]
async fn a_count_at_the_cap_or_a_failed_count_falls_back_to_a_scan() {
    for answer in [Some("5000"), None] {
        let server = MockServer::builder().start().await;
        dataverse(&server).await;
        if let Some(body) = answer {
            mount_count(&server, body).await;
        }
        let ctx = session("crm", d365(&server, 5000)).await;
        let rows = query(&ctx, "SELECT COUNT(*) AS n FROM crm.accounts").await;
        // The five rows the scan reads, not the capped 5,000.
        assert_eq!(rows, [json!({"n": 5})], "{answer:?}");
        assert_eq!(requests_to(&server, COUNT).await.len(), 1);
        assert_eq!(
            queries_to(&server, ACCOUNTS).await,
            [pairs(&[("$select", "accountid")])]
        );
    }
}

#[tokio::test]
async fn a_filtered_count_never_asks_for_dollar_count() {
    let server = MockServer::builder().start().await;
    let dv = dataverse(&server).await;
    mount_count(&server, "5").await;
    let ctx = session("crm", d365(&server, 5000)).await;
    dv.set(|r| r["creditonhold"] == json!(false));
    let rows = query(
        &ctx,
        "SELECT COUNT(*) AS n FROM crm.accounts WHERE creditonhold = false",
    )
    .await;
    let expected = accounts()
        .iter()
        .filter(|r| r["creditonhold"] == json!(false))
        .count();
    assert_eq!(rows, [json!({"n": expected})]);
    assert!(requests_to(&server, COUNT).await.is_empty());
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 1);
}

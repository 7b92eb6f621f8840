//! A join across sources: REST orders with Dynamics 365 accounts.

use serde_json::json;
use wiremock::MockServer;

use crate::autorest::{ORDERS, shop};
use crate::*;

#[tokio::test]
async fn orders_from_a_rest_api_join_dynamics_accounts() {
    let server = MockServer::builder().start().await;
    let dv = dataverse(&server).await;
    let (orders, _model) = shop(&server).await;
    let ctx = session("crm", d365(&server, 2)).await;
    connectkit_datafusion::register(&ctx, "shop", orders)
        .await
        .unwrap();
    dv.set(|r| r["name"].as_str().unwrap().to_lowercase() != "northwind traders");
    let rows = query(
        &ctx,
        "SELECT a.name, COUNT(*) AS orders, CAST(SUM(o.amount) AS DOUBLE) AS total \
         FROM shop.orders o JOIN crm.accounts a ON o.accountid = a.accountid \
         WHERE o.status <> 'cancelled' AND a.name <> 'Northwind Traders' \
         GROUP BY a.name ORDER BY a.name",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!({"name": "Adventure Works", "orders": 1, "total": 20.0}),
            json!({"name": "Contoso Ltd", "orders": 2, "total": 105.75}),
            json!({"name": "Wide World Importers", "orders": 1, "total": 300.0}),
        ]
    );
    // Each source got only its own columns and filters.
    let sent = queries_to(&server, ACCOUNTS).await;
    assert_eq!(
        sent[0],
        pairs(&[
            ("$select", "accountid,name"),
            ("$filter", "name ne 'Northwind Traders'")
        ])
    );
    assert_eq!(sent.len(), 2, "4 selected accounts in pages of 2");
    let pages: Vec<String> = requests_to(&server, ORDERS)
        .await
        .iter()
        .map(|r| r.url.query().unwrap().to_owned())
        .collect();
    assert_eq!(
        pages,
        ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"]
    );
}

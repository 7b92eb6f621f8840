//! SQL over the Dynamics 365 connector: what reaches `$select`, `$filter`,
//! `$top` and `Prefer`, and the rows that come back.

use serde_json::{Value, json};
use wiremock::MockServer;

use crate::*;

fn ids(rows: &[Value]) -> Vec<u64> {
    column(rows, "accountid")
        .iter()
        .map(|v| v.as_str().unwrap()[35..].parse().unwrap())
        .collect()
}

fn num(r: &Value, k: &str) -> Option<f64> {
    r[k].as_f64()
}

#[tokio::test]
async fn projection_reaches_select_and_pages_follow_the_page_size() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let ctx = session("crm", d365(&server, 2)).await;
    let rows = query(&ctx, "SELECT name, numberofemployees FROM crm.Accounts").await;
    assert_eq!(
        rows,
        [
            json!({"name": "Contoso Ltd", "numberofemployees": 250}),
            json!({"name": "Fabrikam, Inc. (O'Neil)", "numberofemployees": null}),
            json!({"name": "Adventure Works", "numberofemployees": 12}),
            json!({"name": "Northwind Traders", "numberofemployees": 3400}),
            json!({"name": "Wide World Importers", "numberofemployees": 1}),
        ]
    );
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs.len(), 3, "5 rows in pages of 2");
    for r in &reqs {
        assert_eq!(header(r, "prefer"), Some("odata.maxpagesize=2"));
        let q: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        assert_eq!(
            q[0],
            ("$select".to_owned(), "name,numberofemployees".to_owned())
        );
        assert!(
            q.iter().all(|(k, _)| k == "$select" || k == "$skiptoken"),
            "{q:?}"
        );
    }
    // COUNT(*) needs no column: only the key is asked for.
    let rows = query(&ctx, "SELECT COUNT(*) AS n FROM crm.accounts").await;
    assert_eq!(rows, [json!({"n": 5})]);
    let last = queries_to(&server, ACCOUNTS)
        .await
        .into_iter()
        .nth(3)
        .unwrap();
    assert_eq!(last, pairs(&[("$select", "accountid")]));
}

/// Each pushable predicate: the exact `$filter` sent, and the right rows
/// whether the server's answer is final (exact) or checked again (inexact).
#[tokio::test]
async fn each_pushable_predicate_reaches_filter() {
    // (predicate, $filter, the server's selection, $select, account ids)
    type Case = (
        &'static str,
        &'static str,
        fn(&Value) -> bool,
        &'static str,
        &'static [u64],
    );
    let cases: Vec<Case> = vec![
        (
            "numberofemployees > 100",
            "numberofemployees gt 100",
            |r| num(r, "numberofemployees").is_some_and(|n| n > 100.0),
            "accountid",
            &[1, 4],
        ),
        (
            "numberofemployees <= 12",
            "numberofemployees le 12",
            |r| num(r, "numberofemployees").is_some_and(|n| n <= 12.0),
            "accountid",
            &[3, 5],
        ),
        // Strings are inexact: the engine checks again, so it needs the column.
        (
            "name = 'Adventure Works'",
            "name eq 'Adventure Works'",
            |r| {
                r["name"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case("adventure works")
            },
            "accountid,name",
            &[3],
        ),
        (
            "name LIKE 'North%'",
            "startswith(name,'North')",
            |r| {
                r["name"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .starts_with("north")
            },
            "accountid,name",
            &[4],
        ),
        (
            "name LIKE '%World%'",
            "contains(name,'World')",
            |r| r["name"].as_str().unwrap().to_lowercase().contains("world"),
            "accountid,name",
            &[5],
        ),
        (
            "numberofemployees IN (12, 3400, 7, 8)",
            "numberofemployees in (12,3400,7,8)",
            |r| matches!(num(r, "numberofemployees"), Some(n) if n == 12.0 || n == 3400.0),
            "accountid",
            &[3, 4],
        ),
        (
            "numberofemployees IS NULL",
            "numberofemployees eq null",
            |r| r["numberofemployees"].is_null(),
            "accountid",
            &[2],
        ),
        (
            "accountnumber IS NOT NULL",
            "accountnumber ne null",
            |r| !r["accountnumber"].is_null(),
            "accountid",
            &[1, 3, 4, 5],
        ),
        (
            "creditonhold = true",
            "creditonhold eq true",
            |r| r["creditonhold"] == json!(true),
            "accountid",
            &[2, 5],
        ),
        (
            "numberofemployees < 20 OR creditonhold = true",
            "(numberofemployees lt 20 or creditonhold eq true)",
            |r| {
                num(r, "numberofemployees").is_some_and(|n| n < 20.0)
                    || r["creditonhold"] == json!(true)
            },
            "accountid",
            &[2, 3, 5],
        ),
        (
            "createdon >= TIMESTAMP '2024-01-01T00:00:00Z'",
            "createdon ge 2024-01-01T00:00:00Z",
            |r| r["createdon"].as_str().unwrap() >= "2024",
            "accountid",
            &[1, 2, 5],
        ),
        (
            "new_foundedon < DATE '2000-01-01'",
            "new_foundedon lt 2000-01-01",
            |r| r["new_foundedon"].as_str().is_some_and(|d| d < "2000"),
            "accountid",
            &[1, 4],
        ),
        (
            "exchangerate > CAST(1.1 AS DECIMAL(23, 10))",
            "exchangerate gt 1.1000000000",
            |r| num(r, "exchangerate").is_some_and(|n| n > 1.1),
            "accountid",
            &[3, 4],
        ),
        // A bare literal is an exact decimal (as standard SQL reads it), so
        // the comparison stays on the column and is pushed.
        (
            "exchangerate > 1.1",
            "exchangerate gt 1.1000000000",
            |r| num(r, "exchangerate").is_some_and(|n| n > 1.1),
            "accountid",
            &[3, 4],
        ),
        (
            "accountid = 'a0000000-0000-0000-0000-000000000003'",
            "accountid eq a0000000-0000-0000-0000-000000000003",
            |r| r["accountid"] == json!("a0000000-0000-0000-0000-000000000003"),
            "accountid",
            &[3],
        ),
    ];
    for (predicate, filter, selects, select, expected) in cases {
        let server = MockServer::builder().start().await;
        dataverse(&server).await.set(selects);
        let ctx = session("crm", d365(&server, 5000)).await;
        let sql = format!("SELECT accountid FROM crm.accounts WHERE {predicate}");
        let rows = query(&ctx, &sql).await;
        assert_eq!(ids(&rows), expected, "{sql}");
        assert_eq!(
            queries_to(&server, ACCOUNTS).await,
            [pairs(&[("$select", select), ("$filter", filter)])],
            "{sql}"
        );
    }
}

#[tokio::test]
async fn exact_and_inexact_filters_share_one_filter_in_query_order() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await.set(|r| {
        num(r, "numberofemployees").is_some_and(|n| n >= 10.0)
            && r["name"].as_str().unwrap().to_lowercase().starts_with('c')
    });
    let ctx = session("crm", d365(&server, 5000)).await;
    let rows = query(
        &ctx,
        "SELECT name FROM crm.accounts WHERE numberofemployees >= 10 AND name LIKE 'C%'",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Contoso Ltd")]);
    assert_eq!(
        queries_to(&server, ACCOUNTS).await,
        [pairs(&[
            ("$select", "name"),
            (
                "$filter",
                "numberofemployees ge 10 and startswith(name,'C')"
            )
        ])]
    );
}

#[tokio::test]
async fn a_predicate_the_server_cannot_say_is_evaluated_by_the_engine() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let ctx = session("crm", d365(&server, 5000)).await;
    let rows = query(&ctx, "SELECT name FROM crm.accounts WHERE numberofemployees * 2 > 400 OR upper(name) = 'ADVENTURE WORKS'").await;
    assert_eq!(
        column(&rows, "name"),
        [
            json!("Contoso Ltd"),
            json!("Adventure Works"),
            json!("Northwind Traders")
        ]
    );
    // Nothing pushed; only the columns the engine needs are selected.
    assert_eq!(
        queries_to(&server, ACCOUNTS).await,
        [pairs(&[("$select", "name,numberofemployees")])]
    );
}

#[tokio::test]
async fn a_limit_goes_to_the_server_only_with_exact_filters() {
    let server = MockServer::builder().start().await;
    let dv = dataverse(&server).await;
    let ctx = session("crm", d365(&server, 5000)).await;

    let rows = query(&ctx, "SELECT name FROM crm.accounts LIMIT 2").await;
    assert_eq!(
        column(&rows, "name"),
        [json!("Contoso Ltd"), json!("Fabrikam, Inc. (O'Neil)")]
    );
    dv.set(|r| r["numberofemployees"].as_f64().is_some_and(|n| n >= 12.0));
    let rows = query(
        &ctx,
        "SELECT name FROM crm.accounts WHERE numberofemployees >= 12 LIMIT 2",
    )
    .await;
    assert_eq!(
        column(&rows, "name"),
        [json!("Contoso Ltd"), json!("Adventure Works")]
    );
    // Inexact: the server compares case-insensitively, so "first 1 row" on
    // the server could be a row the engine then drops.
    dv.set(|r| r["name"].as_str().unwrap().to_lowercase().as_str() >= "n");
    let rows = query(
        &ctx,
        "SELECT name FROM crm.accounts WHERE name >= 'W' LIMIT 1",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Wide World Importers")]);

    assert_eq!(
        queries_to(&server, ACCOUNTS).await,
        [
            pairs(&[("$select", "name"), ("$top", "2")]),
            pairs(&[
                ("$select", "name"),
                ("$filter", "numberofemployees ge 12"),
                ("$top", "2")
            ]),
            pairs(&[("$select", "name"), ("$filter", "name ge 'W'")]),
        ]
    );
}

#[tokio::test]
async fn a_limit_stops_paging_once_enough_rows_matched() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let ctx = session("crm", d365(&server, 1)).await;
    // Inexact filter: no $top, but no page past the first match is read.
    let rows = query(
        &ctx,
        "SELECT name FROM crm.accounts WHERE name LIKE '%a%' LIMIT 1",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Fabrikam, Inc. (O'Neil)")]);
    // Page 1 has no match, page 2 has. By default the next page is
    // requested while a page decodes, so page 3 may be in flight when the
    // match ends the query; nothing beyond it.
    assert!(requests_to(&server, ACCOUNTS).await.len() <= 3);
    // A new server: the page the first scan had in flight may still land.
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let c = connectkit_dynamics365::Dynamics365DataSource::new()
        .service_url(format!("{}{BASE}", server.uri()))
        .client_id("29453d6f-6789-25gh-gd8g-44tk3c527831")
        .client_secret("sql-s3cret")
        .token_uri(format!("{}/token", server.uri()))
        .refresh_token("sql-r3fresh")
        .page_size(1)
        .property("MaxConcurrentRequests", "1")
        .build()
        .unwrap();
    let ctx = session("crm", Arc::new(c)).await;
    let rows = query(
        &ctx,
        "SELECT name FROM crm.accounts WHERE name LIKE '%a%' LIMIT 1",
    )
    .await;
    assert_eq!(column(&rows, "name"), [json!("Fabrikam, Inc. (O'Neil)")]);
    // One page at a time: no third page is requested.
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 2);
}

#[tokio::test]
async fn order_by_and_group_by() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let ctx = session("crm", d365(&server, 2)).await;
    let rows = query(
        &ctx,
        "SELECT name FROM crm.accounts ORDER BY numberofemployees DESC NULLS LAST, name",
    )
    .await;
    assert_eq!(
        column(&rows, "name"),
        [
            json!("Northwind Traders"),
            json!("Contoso Ltd"),
            json!("Adventure Works"),
            json!("Wide World Importers"),
            json!("Fabrikam, Inc. (O'Neil)")
        ]
    );
    let rows = query(
        &ctx,
        "SELECT creditonhold, COUNT(*) AS n, SUM(numberofemployees) AS staff \
         FROM crm.accounts GROUP BY creditonhold ORDER BY creditonhold NULLS FIRST",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!({"creditonhold": null, "n": 1, "staff": 3400}),
            json!({"creditonhold": false, "n": 2, "staff": 262}),
            json!({"creditonhold": true, "n": 2, "staff": 1}),
        ]
    );
    let last = queries_to(&server, ACCOUNTS).await.pop().unwrap();
    assert_eq!(
        last[0],
        (
            "$select".to_owned(),
            "numberofemployees,creditonhold".to_owned()
        )
    );
}

#[tokio::test]
async fn connector_errors_keep_their_source() {
    let server = MockServer::builder().start().await;
    dataverse(&server).await;
    let ctx = session("crm", d365(&server, 5000)).await;
    // The $metadata knows no such entity set once the table is resolved
    // lazily; here the failure is an unknown table at planning.
    let e = ctx.sql("SELECT * FROM crm.nosuch").await.unwrap_err();
    assert!(e.to_string().contains("nosuch"), "{e}");
    // A server failure during the scan arrives as External with the
    // connector's error inside.
    let server = MockServer::builder().start().await;
    let dv = dataverse(&server).await;
    let _ = dv;
    wiremock::Mock::given(wiremock::matchers::path(ACCOUNTS))
        .respond_with(
            wiremock::ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"code": "0x80040203", "message": "bad filter"}})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let ctx = session("crm", d365(&server, 5000)).await;
    let e = ctx
        .sql("SELECT name FROM crm.accounts")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut found = None;
    while let Some(c) = cause {
        if let Some(ck) = c.downcast_ref::<connectkit_core::Error>() {
            found = Some(ck.kind());
        }
        cause = c.source();
    }
    assert_eq!(found, Some(connectkit_core::ErrorKind::Api), "{e}");
    assert!(e.to_string().contains("bad filter"), "{e}");
}

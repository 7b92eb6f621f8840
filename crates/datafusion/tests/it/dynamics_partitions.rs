//! Partitioned Dataverse scans through SQL: the accounts split into
//! `createdon` ranges (four DataFusion partitions) return the rows of the
//! one-partition scan, `EXPLAIN` lists the ranges, and a failing range is
//! named in the error. The server evaluates the range filters it receives.

use std::sync::Arc;

use connectkit_core::Connector;
use connectkit_datafusion::datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

/// Seconds since the epoch of an RFC 3339 timestamp (fraction dropped).
fn seconds(t: &str) -> i64 {
    let n = |a: usize, b: usize| -> i64 { t[a..b].parse().unwrap() };
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let zone = &t[t.rfind(['Z', '+', '-']).unwrap()..];
    let offset = match zone {
        "Z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (z[1..3].parse::<i64>().unwrap() * 3600 + z[4..6].parse::<i64>().unwrap() * 60)
        }
    };
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19) - offset
}

/// Whether `row` satisfies one of the filters a partitioned scan sends:
/// `createdon` comparisons joined by `and`, alternatives by `or`.
fn holds(filter: &str, row: &Value) -> bool {
    let created = row["createdon"].as_str().map(seconds);
    filter.split(" or ").any(|alt| {
        alt.split(" and ").all(|atom| {
            let parts: Vec<&str> = atom.split(' ').collect();
            assert_eq!(parts[0], "createdon", "unexpected filter {filter}");
            match (parts[1], parts[2], created) {
                ("eq", "null", c) => c.is_none(),
                ("ne", "null", c) => c.is_some(),
                (_, _, None) => false,
                ("ge", lit, Some(c)) => c >= seconds(lit),
                ("lt", lit, Some(c)) => c < seconds(lit),
                (op, _, _) => panic!("operator {op}"),
            }
        })
    })
}

/// The accounts with `$filter`, `$orderby createdon`, `$top` and `$select`;
/// a filter containing `fail` answers 500.
struct Ranges {
    fail: Option<&'static str>,
}

impl Respond for Ranges {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let filter = q.get("$filter");
        if let (Some(f), Some(fail)) = (filter, self.fail)
            && f.contains(fail)
        {
            return ResponseTemplate::new(500).set_body_json(json!(
                {"error": {"code": "0x80040216", "message": "range unavailable"}}));
        }
        let mut rows: Vec<Value> = accounts()
            .into_iter()
            .filter(|r| filter.is_none_or(|f| holds(f, r)))
            .collect();
        let key = |r: &Value| r["createdon"].as_str().map(seconds);
        match q.get("$orderby").map(String::as_str) {
            Some("createdon asc") => rows.sort_by_key(key),
            Some("createdon desc") => rows.sort_by_key(|r| std::cmp::Reverse(key(r))),
            Some(o) => panic!("$orderby={o}"),
            None => {}
        }
        if let Some(top) = q.get("$top") {
            rows.truncate(top.parse().unwrap());
        }
        if let Some(sel) = q.get("$select") {
            let cols: Vec<&str> = sel.split(',').collect();
            for r in &mut rows {
                r.as_object_mut()
                    .unwrap()
                    .retain(|k, _| cols.contains(&k.as_str()));
            }
        }
        ResponseTemplate::new(200).set_body_raw(
            json!({ "value": rows }).to_string(),
            "application/json; odata.metadata=minimal",
        )
    }
}

/// The service document and `$metadata`, the accounts as [`Ranges`]
/// serves them, and a session reading four partitions of a connector
/// splitting into `partitions`.
async fn setup(
    server: &MockServer,
    partitions: usize,
    fail: Option<&'static str>,
) -> SessionContext {
    // `dataverse` mounts the fixtures; the accounts answer comes first.
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(Ranges { fail })
        .with_priority(1)
        .mount(server)
        .await;
    dataverse(server).await;
    let c: Arc<dyn Connector> = Arc::new(
        connectkit_dynamics365::Dynamics365DataSource::new()
            .service_url(format!("{}{BASE}", server.uri()))
            .client_id("29453d6f-6789-25gh-gd8g-44tk3c527831")
            .client_secret("sql-s3cret")
            .token_uri(format!("{}/token", server.uri()))
            .refresh_token("sql-r3fresh")
            .scan_partitions(partitions)
            .build()
            .unwrap(),
    );
    let config = connectkit_datafusion::session_config().with_target_partitions(4);
    let ctx = SessionContext::new_with_config(config);
    connectkit_datafusion::register(&ctx, "crm", c)
        .await
        .unwrap();
    ctx
}

const RANGES: [&str; 4] = [
    "createdon lt 2023-02-09T14:48:52Z or createdon eq null",
    "createdon ge 2023-02-09T14:48:52Z and createdon lt 2023-10-20T12:37:45Z",
    "createdon ge 2023-10-20T12:37:45Z and createdon lt 2024-06-29T10:26:37Z",
    "createdon ge 2024-06-29T10:26:37Z",
];

#[tokio::test]
async fn four_ranges_return_the_rows_of_one_and_explain_lists_them() {
    let sql = "SELECT accountid, name, createdon FROM crm.accounts ORDER BY accountid";
    let server = MockServer::builder().start().await;
    let one = query(&setup(&server, 1, None).await, sql).await;
    assert_eq!(one.len(), 5);
    let server = MockServer::builder().start().await;
    let ctx = setup(&server, 4, None).await;
    assert_eq!(query(&ctx, sql).await, one, "row for row");
    // The ranges the server was asked for: each once, beside the bounds.
    let filters: Vec<String> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .filter(|r| !r.url.query_pairs().any(|(k, _)| k == "$orderby"))
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "$filter")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    let mut sorted = filters.clone();
    sorted.sort();
    let mut want: Vec<String> = RANGES.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(sorted, want);

    let rows = query(&ctx, "EXPLAIN SELECT accountid FROM crm.accounts").await;
    let plan = rows
        .iter()
        .find(|r| r["plan_type"] == "physical_plan")
        .and_then(|r| r["plan"].as_str())
        .unwrap();
    assert!(
        plan.contains(&format!("partitions=4 [{}]", RANGES.join("; "))),
        "{plan}"
    );
}

#[tokio::test]
async fn a_failing_range_fails_the_query_naming_it() {
    let server = MockServer::builder().start().await;
    let ctx = setup(&server, 4, Some("ge 2024-06-29T10:26:37Z")).await;
    let err = ctx
        .sql("SELECT accountid FROM crm.accounts")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("crm.accounts partition 4 of 4 ({})", RANGES[3])),
        "{err}"
    );
    assert!(err.contains("range unavailable"), "{err}");
}

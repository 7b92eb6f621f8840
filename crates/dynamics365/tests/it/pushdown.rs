//! Projection and filters in the query string.

use connectkit_core::{Error, Filter, FilterOp, Literal, ScanRequest};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::*;

const GUID: &str = "a0000000-0000-0000-0000-000000000005";

#[tokio::test]
async fn projection_and_filters_reach_the_query_string_encoded() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    mount_api(&server).await;
    // Whatever the query, answer with the last page (no next link).
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(json(served(&server, "accounts_page3.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    let not_pushed = [
        Filter::new("new_headquarters", FilterOp::Eq, "Oslo"),
        Filter::new("name", FilterOp::Gt, Literal::Null),
        Filter::new("creditonhold", FilterOp::Lt, true),
    ];
    let request = ScanRequest::new()
        .with_projection(["name", "AccountId", "revenue", "createdon", "NAME"])
        .with_filter(Filter::new("name", FilterOp::Ne, "O'Neil & Sons + 100%"))
        .with_filter(Filter::new("revenue", FilterOp::Ge, 1000.5))
        .with_filter(Filter::new("numberofemployees", FilterOp::Lt, 50i64))
        .with_filter(Filter::new(
            "createdon",
            FilterOp::Gt,
            "2024-01-01T00:30:00+01:00",
        ))
        .with_filter(Filter::new("creditonhold", FilterOp::Eq, false))
        .with_filter(Filter::new("accountid", FilterOp::Eq, GUID))
        .with_filter(Filter::new("new_foundedon", FilterOp::Le, "2025-03-09"))
        .with_filter(Filter::new(
            "_primarycontactid_value",
            FilterOp::Ne,
            Literal::Null,
        ))
        .with_filter(not_pushed[0].clone())
        .with_filter(not_pushed[1].clone())
        .with_filter(not_pushed[2].clone())
        .with_limit(10);
    let scan = c.scan("Accounts", request).await.unwrap();
    // The string comparison is pushed but inexact (Dataverse compares
    // case-insensitively): the caller filters again, so the limit stays
    // with the caller and no $top is sent.
    let mut unapplied = vec![Filter::new("name", FilterOp::Ne, "O'Neil & Sons + 100%")];
    unapplied.extend(not_pushed.iter().cloned());
    assert_eq!(scan.unapplied_filters, unapplied);
    assert!(!scan.limit_applied);
    let fields: Vec<_> = scan
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        fields,
        ["name", "accountid", "revenue", "createdon", "name"]
    );
    let batches = collect(scan).await.unwrap();
    assert_eq!(strings(&batches, "accountid"), [Some(GUID.to_owned())]);

    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs.len(), 1);
    let filter = "name ne 'O''Neil & Sons + 100%' and revenue ge 1000.5 \
                  and numberofemployees lt 50 and createdon gt 2023-12-31T23:30:00Z \
                  and creditonhold eq false and accountid eq a0000000-0000-0000-0000-000000000005 \
                  and new_foundedon le 2025-03-09 and _primarycontactid_value ne null";
    let pairs: Vec<(String, String)> = reqs[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        pairs,
        [
            (
                "$select".to_owned(),
                "name,accountid,revenue,createdon".to_owned()
            ),
            ("$filter".to_owned(), filter.to_owned()),
        ]
    );
    // On the wire: spaces as %20 (never +), quotes, & and + and % escaped.
    let raw = reqs[0].url.query().unwrap();
    assert!(
        raw.starts_with(
            "$select=name,accountid,revenue,createdon&$filter=name%20ne%20%27O%27%27Neil%20%26%20Sons%20%2B%20100%25%27%20and%20revenue%20ge%201000.5%20and"
        ),
        "{raw}"
    );
    assert!(
        raw.contains("createdon%20gt%202023-12-31T23%3A30%3A00Z"),
        "{raw}"
    );
    assert!(!raw.contains("$top"), "{raw}");
    assert!(
        !raw.contains('+') && !raw.contains(' ') && !raw.contains('\''),
        "{raw}"
    );
}

#[tokio::test]
async fn unknown_columns_are_errors_before_any_request() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let err = c
        .scan(
            "accounts",
            ScanRequest::new().with_projection(["name", "nmae"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ColumnNotFound { table, column } if table == "accounts" && column == "nmae"),
        "{err:?}"
    );
    let err = c
        .scan(
            "accounts",
            ScanRequest::new().with_filter(Filter::new("nmae", FilterOp::Eq, "x")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err:?}");
    // Navigation properties are not columns either.
    let err = c
        .scan(
            "accounts",
            ScanRequest::new().with_projection(["primarycontactid"]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err:?}");
    assert!(requests_to(&server, ACCOUNTS).await.is_empty());
}

#[tokio::test]
async fn an_empty_projection_still_counts_rows() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let scan = c
        .scan(
            "accounts",
            ScanRequest::new().with_projection(Vec::<String>::new()),
        )
        .await
        .unwrap();
    assert!(scan.schema.fields().is_empty());
    let batches = collect(scan).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    let first = &requests_to(&server, ACCOUNTS).await[0];
    assert_eq!(first.url.query(), Some("$select=accountid"));
}

#[tokio::test]
async fn filter_support_is_known_before_the_scan() {
    use connectkit_core::{Connector, FilterSupport::*};
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let filters = [
        Filter::new("name", FilterOp::Eq, "Contoso"),
        Filter::new("revenue", FilterOp::Ge, 1.5),
        Filter::new("numberofemployees", FilterOp::Lt, 5i64),
        Filter::new("accountid", FilterOp::Eq, GUID),
        Filter::new("createdon", FilterOp::Gt, "2024-01-01T00:00:00Z"),
        Filter::new("name", FilterOp::Eq, Literal::Null),
        Filter::new("new_headquarters", FilterOp::Eq, "Oslo"),
        Filter::new("creditonhold", FilterOp::Lt, true),
        Filter::new("numberofemployees", FilterOp::Eq, "ten"),
        Filter::new("nosuch", FilterOp::Eq, 1i64),
    ];
    // Nothing is known before the metadata is loaded: nothing is claimed.
    assert_eq!(
        c.filter_support("accounts", &filters),
        vec![Unsupported; 10]
    );
    c.schema("Accounts").await.unwrap();
    assert_eq!(
        c.filter_support("ACCOUNTS", &filters),
        [
            Inexact,
            Exact,
            Exact,
            Exact,
            Exact,
            Exact,
            Unsupported,
            Unsupported,
            Unsupported,
            Unsupported
        ]
    );
    assert_eq!(c.filter_support("nosuch", &filters[..1]), [Unsupported]);
}

#[tokio::test]
async fn a_limit_with_exact_filters_goes_to_the_server() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let scan = c
        .scan(
            "accounts",
            ScanRequest::new()
                .with_filter(Filter::new("numberofemployees", FilterOp::Ge, 0i64))
                .with_limit(2),
        )
        .await
        .unwrap();
    assert!(scan.limit_applied && scan.unapplied_filters.is_empty());
    let batches = collect(scan).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].url.query().unwrap().ends_with("&$top=2"));
}

/// "First N rows, then filter" would find no match on the first page; the
/// caller must get the first N rows that match.
#[tokio::test]
async fn a_limit_with_an_inexact_filter_returns_the_first_matching_rows() {
    use arrow_array::{Array, StringArray};
    use futures::StreamExt;
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let filter = Filter::new("name", FilterOp::Ge, "N");
    let mut scan = c
        .scan(
            "accounts",
            ScanRequest::new()
                .with_projection(["name"])
                .with_filter(filter.clone())
                .with_limit(2),
        )
        .await
        .unwrap();
    assert!(!scan.limit_applied);
    assert_eq!(scan.unapplied_filters, [filter]);
    // The caller's part: filter again (case-sensitively), stop at 2 rows.
    let mut matching = Vec::new();
    while matching.len() < 2 {
        let batch = scan.batches.next().await.unwrap().unwrap();
        let names = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for i in 0..names.len() {
            if names.is_valid(i) && names.value(i) >= "N" && matching.len() < 2 {
                matching.push(names.value(i).to_owned());
            }
        }
    }
    drop(scan);
    assert_eq!(matching, ["Northwind Traders", "Wide World Importers"]);
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs.len(), 3, "pages are read until enough rows match");
    assert!(
        reqs.iter()
            .all(|r| !r.url.query().unwrap_or("").contains("$top"))
    );
}

/// AND, OR, IN, starts-with, contains, IS [NOT] NULL and typed literals
/// reach `$filter` parenthesised; the string parts stay with the caller.
#[tokio::test]
async fn compound_filters_and_typed_literals_reach_the_query_string() {
    use connectkit_core::{Connector, FilterSupport::*};
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    mount_api(&server).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(json(served(&server, "accounts_page3.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    let filters = vec![
        Filter::or(vec![
            Filter::starts_with("name", "Wide"),
            Filter::and(vec![
                Filter::contains("name", "O'Neil"),
                Filter::is_not_null("accountnumber"),
            ]),
        ]),
        Filter::in_list("numberofemployees", [1i64, 12, 250, 3400]),
        Filter::new(
            "revenue",
            FilterOp::Lt,
            Literal::Decimal {
                value: -4_000,
                scale: 2,
            },
        ),
        Filter::new(
            "createdon",
            FilterOp::Ge,
            Literal::Timestamp(1_741_508_130_500_000),
        ),
        Filter::new("new_foundedon", FilterOp::Eq, Literal::Date(20_156)),
        Filter::new(
            "accountid",
            FilterOp::Eq,
            Literal::Guid(0xa000_0000_0000_0000_0000_0000_0000_0005),
        ),
        Filter::is_null("_primarycontactid_value"),
    ];
    c.schema("accounts").await.unwrap();
    assert_eq!(
        c.filter_support("accounts", &filters),
        [Inexact, Exact, Exact, Exact, Exact, Exact, Exact]
    );
    let mut request = ScanRequest::new()
        .with_projection(["accountid"])
        .with_limit(3);
    for f in &filters {
        request = request.with_filter(f.clone());
    }
    let scan = c.scan("accounts", request).await.unwrap();
    assert_eq!(scan.unapplied_filters, filters[..1]);
    assert!(!scan.limit_applied);
    collect(scan).await.unwrap();
    let reqs = requests_to(&server, ACCOUNTS).await;
    let sent: Vec<(String, String)> = reqs[0].url.query_pairs().into_owned().collect();
    assert_eq!(
        sent,
        [
            ("$select".to_owned(), "accountid".to_owned()),
            (
                "$filter".to_owned(),
                "(startswith(name,'Wide') or (contains(name,'O''Neil') and accountnumber ne null)) \
                 and numberofemployees in (1,12,250,3400) and revenue lt -40.00 \
                 and createdon ge 2025-03-09T08:15:30.500Z and new_foundedon eq 2025-03-09 \
                 and accountid eq a0000000-0000-0000-0000-000000000005 \
                 and _primarycontactid_value eq null"
                    .to_owned()
            ),
        ]
    );
}

//! Change tracking: an initial request with `Prefer: odata.track-changes`,
//! then deltas by `$deltatoken`, with payloads shaped like the Dataverse
//! documentation's ("Use change tracking to synchronize data with external
//! systems").

use connectkit_core::ErrorKind;
use connectkit_dynamics365::{ChangeSummary, Dynamics365Error};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

use crate::*;

pub const TOKEN_1: &str = "919042!08/22/2017 08:10:44";
pub const TOKEN_2: &str = "919058!08/22/2017 08:21:20";

fn delta_link(server: &MockServer, token: &str) -> String {
    let mut u = url::Url::parse(&format!("{}accounts", service_url(server))).unwrap();
    u.query_pairs_mut().append_pair("$deltatoken", token);
    u.to_string()
}

/// The initial answer (two rows), a delta with one updated and one deleted
/// row, and an empty delta.
pub async fn mount_changes(server: &MockServer) {
    mount_all(server).await;
    let initial = serde_json::json!({
        "@odata.context": format!("{}$metadata#accounts", service_url(server)),
        "@odata.deltaLink": delta_link(server, TOKEN_1),
        "value": [
            {"@odata.etag": "W/\"915244\"", "accountid": "60c4e274-0d87-e711-80e5-00155db19e6d", "name": "Monte Orton", "accountnumber": null},
            {"@odata.etag": "W/\"915245\"", "accountid": "2e451703-c686-e711-80e5-00155db19e6d", "name": "Blue Yonder", "accountnumber": "A-2"}
        ]
    });
    let delta = serde_json::json!({
        "@odata.context": format!("{}$metadata#accounts/$delta", service_url(server)),
        "@odata.deltaLink": delta_link(server, TOKEN_2),
        "value": [
            {"@odata.etag": "W/\"915300\"", "accountid": "60c4e274-0d87-e711-80e5-00155db19e6d", "name": "Monte Orton Ltd", "accountnumber": "A-1"},
            {"@odata.context": format!("{}$metadata#accounts/$deletedEntity", service_url(server)),
             "id": "2e451703-c686-e711-80e5-00155db19e6d", "reason": "deleted"}
        ]
    });
    let empty = serde_json::json!({
        "@odata.context": format!("{}$metadata#accounts/$delta", service_url(server)),
        "@odata.deltaLink": delta_link(server, TOKEN_2),
        "value": []
    });
    for (token, body) in [
        (None, initial),
        (Some(TOKEN_1), delta),
        (Some(TOKEN_2), empty),
    ] {
        let mock = Mock::given(method("GET")).and(path(ACCOUNTS));
        let mock = match token {
            Some(t) => mock.and(query_param("$deltatoken", t)),
            None => mock
                .and(query_param_is_missing("$deltatoken"))
                .and(|r: &wiremock::Request| {
                    r.headers
                        .get_all("prefer")
                        .iter()
                        .any(|v| v == "odata.track-changes")
                }),
        };
        mock.respond_with(json(body.to_string()))
            .with_priority(1)
            .mount(server)
            .await;
    }
}

async fn read(
    c: &connectkit_dynamics365::Dynamics365Connector,
    token: Option<&str>,
) -> (Vec<arrow_array::RecordBatch>, ChangeSummary) {
    let mut changes = c.changes("account", token).await.unwrap();
    let batches = std::mem::replace(&mut changes.batches, Box::pin(futures::stream::empty()));
    let batches: Vec<_> = futures::TryStreamExt::try_collect(batches).await.unwrap();
    (batches, changes.finish().unwrap())
}

#[tokio::test]
async fn initial_then_delta_then_empty() {
    let server = MockServer::builder().start().await;
    mount_changes(&server).await;
    let c = connector(&server);

    let (rows, first) = read(&c, None).await;
    assert_eq!(
        strings(&rows, "name"),
        [Some("Monte Orton".into()), Some("Blue Yonder".into())]
    );
    assert!(first.deleted.is_empty());
    assert_eq!(first.token, TOKEN_1);

    let (rows, second) = read(&c, Some(&first.token)).await;
    assert_eq!(strings(&rows, "name"), [Some("Monte Orton Ltd".into())]);
    assert_eq!(strings(&rows, "accountnumber"), [Some("A-1".into())]);
    assert_eq!(second.deleted, ["2e451703-c686-e711-80e5-00155db19e6d"]);
    assert_eq!(second.token, TOKEN_2);

    let (rows, third) = read(&c, Some(&second.token)).await;
    assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    assert!(third.deleted.is_empty());
    assert_eq!(third.token, TOKEN_2);

    // What the server received: tracking asked for once, then tokens.
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs.len(), 3);
    let prefers: Vec<Vec<&str>> = reqs
        .iter()
        .map(|r| {
            r.headers
                .get_all("prefer")
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        prefers[0],
        ["odata.track-changes", "odata.maxpagesize=5000"]
    );
    assert_eq!(prefers[1], ["odata.maxpagesize=5000"]);
    assert_eq!(reqs[0].url.query(), None);
    assert_eq!(
        reqs[1].url.query_pairs().collect::<Vec<_>>(),
        [("$deltatoken".into(), TOKEN_1.into())]
    );
}

#[tokio::test]
async fn a_table_without_change_tracking_is_a_clear_error() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await; // accounts answers without a delta link
    let c = connector(&server);
    let mut changes = c.changes("accounts", None).await.unwrap();
    let err = loop {
        match futures::StreamExt::next(&mut changes.batches).await {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e,
            None => panic!("no error"),
        }
    };
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.code(), "dynamics365.change_tracking_disabled");
    assert!(matches!(
        err.downcast_ref::<Dynamics365Error>(),
        Some(Dynamics365Error::ChangeTrackingNotEnabled { table, .. }) if table == "accounts"
    ));
    assert!(
        err.to_string()
            .starts_with("table accounts: change tracking is not enabled"),
        "{err}"
    );
    assert!(changes.finish().is_err());
}

/// A server that refuses tracking in its own words: the error still names
/// the table (and keeps the server's message).
#[tokio::test]
async fn a_server_refusal_names_the_table() {
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    mount_api(&server).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"code": "0x80048d0b", "message": "Change tracking is not enabled for entity account."}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = connector(&server);
    let mut changes = c.changes("accounts", None).await.unwrap();
    let err = futures::StreamExt::next(&mut changes.batches)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), "dynamics365.change_tracking_disabled");
    let text = err.to_string();
    assert!(
        text.starts_with("table accounts: change tracking is not enabled"),
        "{text}"
    );
    assert!(text.contains("0x80048d0b"), "{text}");
}

/// A change request answered in pages, the rows of each given: every page
/// but the last carries an `@odata.nextLink` (`$skiptoken=page<n>`), the
/// last the delta link of [`TOKEN_1`].
async fn mount_change_pages(server: &MockServer, pages: &[&[&str]]) {
    mount_all(server).await;
    for (i, names) in pages.iter().enumerate() {
        let rows: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                serde_json::json!({
                    "accountid": format!("60c4e274-0d87-e711-80e5-{:012}", i * 100 + j),
                    "name": name,
                })
            })
            .collect();
        let mut body = serde_json::json!({
            "@odata.context": format!("{}$metadata#accounts", service_url(server)),
            "value": rows,
        });
        if i + 1 < pages.len() {
            body["@odata.nextLink"] =
                format!("{}accounts?$skiptoken=page{}", service_url(server), i + 2).into();
        } else {
            body["@odata.deltaLink"] = delta_link(server, TOKEN_1).into();
        }
        let mock = Mock::given(method("GET")).and(path(ACCOUNTS));
        let mock = match i {
            0 => mock.and(query_param_is_missing("$skiptoken")),
            _ => mock.and(query_param("$skiptoken", format!("page{}", i + 1))),
        };
        mock.respond_with(json(body.to_string()))
            .with_priority(1)
            .mount(server)
            .await;
    }
}

/// Reads a change request to its end or its first error: the batches read
/// and the error.
async fn drain(
    c: &connectkit_dynamics365::Dynamics365Connector,
) -> (
    Vec<arrow_array::RecordBatch>,
    Option<connectkit_core::Error>,
    connectkit_core::Result<ChangeSummary>,
) {
    let mut changes = c.changes("accounts", None).await.unwrap();
    let mut batches = Vec::new();
    let err = loop {
        match futures::StreamExt::next(&mut changes.batches).await {
            Some(Ok(b)) => batches.push(b),
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    (batches, err, changes.finish())
}

/// The `$skiptoken` of each change request the server received, in order.
async fn pages_requested(server: &MockServer) -> Vec<Option<String>> {
    requests_to(server, ACCOUNTS)
        .await
        .iter()
        .map(skiptoken_of)
        .collect()
}

/// `MaxPages` on the connection bounds change tracking as it bounds scans:
/// of three pages, the first two are read and the third never requested.
#[tokio::test]
async fn max_pages_bounds_a_change_request() {
    let three: &[&[&str]] = &[&["Contoso"], &["Fabrikam"], &["Northwind"]];

    // Unbounded, the three pages and the token.
    let server = MockServer::builder().start().await;
    mount_change_pages(&server, three).await;
    let (batches, err, summary) = drain(&connector(&server)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(strings(&batches, "name").len(), 3);
    assert_eq!(summary.unwrap().token, TOKEN_1);
    assert_eq!(
        pages_requested(&server).await,
        [None, Some("page2".into()), Some("page3".into())]
    );

    // MaxPages=2: two pages, then the paging-limit error.
    let server = MockServer::builder().start().await;
    mount_change_pages(&server, three).await;
    let c = source(&server).property("MaxPages", "2").build().unwrap();
    let (batches, err, summary) = drain(&c).await;
    assert_eq!(
        strings(&batches, "name"),
        [Some("Contoso".into()), Some("Fabrikam".into())]
    );
    let err = err.expect("an error after two pages");
    assert_eq!(err.code(), "paging.too_many_pages", "{err}");
    assert_eq!(err.kind(), ErrorKind::Api);
    assert!(err.to_string().contains("MaxPages=2"), "{err}");
    assert!(summary.is_err(), "no token without the last page");
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(
        pages_requested(&server).await,
        [None, Some("page2".into())],
        "exactly two pages requested"
    );
    assert!(
        reqs[0]
            .headers
            .get_all("prefer")
            .iter()
            .any(|v| v == "odata.track-changes"),
        "{reqs:?}"
    );
}

/// `MaxEmptyPages` on the connection bounds change tracking too: empty
/// pages that still carry a next link stop the request at the bound.
#[tokio::test]
async fn max_empty_pages_bounds_a_change_request() {
    let pages: &[&[&str]] = &[&[], &[], &["Contoso"]];

    // The default (3) reads past two empty pages.
    let server = MockServer::builder().start().await;
    mount_change_pages(&server, pages).await;
    let (batches, err, summary) = drain(&connector(&server)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(strings(&batches, "name"), [Some("Contoso".into())]);
    assert_eq!(summary.unwrap().token, TOKEN_1);

    // MaxEmptyPages=1: the first empty page with a next link stops it.
    let server = MockServer::builder().start().await;
    mount_change_pages(&server, pages).await;
    let c = source(&server)
        .property("MaxEmptyPages", "1")
        .build()
        .unwrap();
    let (batches, err, _) = drain(&c).await;
    assert!(batches.iter().all(|b| b.num_rows() == 0));
    let err = err.expect("an error after one empty page");
    assert_eq!(err.code(), "paging.empty_pages", "{err}");
    assert_eq!(pages_requested(&server).await, [None]);
}

/// Only Dataverse's refusal (HTTP 400; its code, or a message about change
/// tracking) becomes `ChangeTrackingNotEnabled`: the code alone suffices
/// (a localized message), while another status stays the API error it is
/// even when its text mentions change tracking.
#[tokio::test]
async fn only_the_400_refusal_is_change_tracking_being_off() {
    let cases = [
        (
            400,
            "0x80048d0b",
            "Le suivi des modifications n'est pas activé pour l'entité account.",
            "dynamics365.change_tracking_disabled",
        ),
        (
            400,
            "",
            "Entity: account isn't enabled for change tracking.",
            "dynamics365.change_tracking_disabled",
        ),
        (
            403,
            "0x80040220",
            "Principal user is missing prvReadAccount privilege to read change tracking data.",
            "api.auth_status",
        ),
        (
            400,
            "0x0",
            "The query parameter $select is not supported.",
            "api.status",
        ),
    ];
    for (status, code, message, expected) in cases {
        let server = MockServer::builder().start().await;
        mount_all(&server).await;
        Mock::given(method("GET"))
            .and(path(ACCOUNTS))
            .respond_with(
                wiremock::ResponseTemplate::new(status).set_body_json(
                    serde_json::json!({"error": {"code": code, "message": message}}),
                ),
            )
            .with_priority(1)
            .mount(&server)
            .await;
        let c = connector(&server);
        let (_, err, _) = drain(&c).await;
        let err = err.expect("an error");
        assert_eq!(err.code(), expected, "{status} {message}: {err}");
        assert!(err.to_string().contains(message), "{err}");
    }
}

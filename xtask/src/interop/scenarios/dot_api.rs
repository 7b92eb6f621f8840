//! Scans of a protected, paged JSON API in the django-oauth-toolkit app
//! (bearer tokens validated by the toolkit), through autorest's Sample: plain
//! paging, a token revoked or expired on the server mid-scan, and a
//! short-lived access token across a slow scan.

use std::collections::BTreeMap;

use serde_json::Value;

use super::grant::{grant_url, quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::compare::{Kind as K, Row, canon_f64, diff};
use crate::interop::query::{Read, Via, read};
use crate::interop::servers::Kind;

/// The table Sample makes of `{"count", "next", "results": [...]}`.
pub(super) const TABLE: &str = "items";
pub(super) const ROWS: i64 = 250;

pub(super) fn expected() -> Vec<Row> {
    (1..=ROWS)
        .map(|i| {
            Row::from([
                ("id".into(), Some(i.to_string())),
                ("name".into(), Some(format!("item-{i:04}"))),
                ("price".into(), Some(canon_f64(i as f64 * 1.25))),
                ("active".into(), Some((i % 3 != 0).to_string())),
            ])
        })
        .collect()
}

pub(super) fn kinds() -> BTreeMap<&'static str, K> {
    BTreeMap::from([
        ("id", K::Int),
        ("name", K::Text),
        ("price", K::Double),
        ("active", K::Bool),
    ])
}

/// How one scan must have gone on the server.
struct Expect {
    /// Most successful token grants allowed during the scan.
    max_grants: usize,
    /// Exactly this many 401s from the API.
    unauthorized: Option<usize>,
    /// The pages the API must have served, in order.
    pages: Vec<i64>,
    /// `Some(text)`: the scan must fail as an authentication failure whose
    /// message names `text`, after the rows of `pages`.
    fails_with: Option<(&'static str, bool)>,
}

impl Expect {
    fn all_pages(page_size: usize, max_grants: usize, unauthorized: Option<usize>) -> Self {
        let pages = (ROWS as usize).div_ceil(page_size) as i64;
        Self {
            max_grants,
            unauthorized,
            pages: (1..=pages).collect(),
            fails_with: None,
        }
    }
}

async fn scan(
    ctx: &Ctx,
    mode: &str,
    client: (&str, &str),
    page_size: usize,
    via: Via,
    expect: Expect,
) -> Result<(), String> {
    let srv = ctx.server(Kind::Dot);
    let rt = srv.mint(client.0, Some("read")).await?;
    let sample = format!("{}/api/items/{mode}/?page_size={page_size}", srv.base);
    let token_uri = format!("POST {}", token_endpoint(ctx, Kind::Dot));
    let extra = format!(";Table={TABLE};ClientCredentialsMode=Basic");
    let url = grant_url(ctx, Kind::Dot, client, &rt, &token_uri, &extra).replacen(
        &format!("Sample={}/_interop/ready", srv.base),
        &format!("Sample={}", quote(&sample)),
        1,
    );
    let mark = srv.log_mark().await?;
    let outcome = read(via, &ctx.bin, &url, TABLE, Read::default(), &kinds()).await;
    let (_, log) = srv.log_since(mark).await?;
    let api: Vec<&Value> = log.iter().filter(|e| e["kind"] == "api").collect();
    let served: Vec<i64> = api
        .iter()
        .filter(|e| e["status"] == 200)
        .filter_map(|e| e["page"].as_i64())
        .collect();
    let unauthorized = api.iter().filter(|e| e["status"] == 401).count();
    let grants = token_entries(srv, mark)
        .await?
        .iter()
        .filter(|e| e["status"] == 200)
        .count();
    let rows = match (outcome, expect.fails_with) {
        (Ok(rows), None) => diff(TABLE, "id", &expected(), &rows),
        (Err(e), None) => Err(e),
        (Ok(rows), Some((what, _))) => Err(format!(
            "expected a failure naming {what}, got {} rows",
            rows.len()
        )),
        (Err(e), Some((what, auth))) => ensure(
            e.contains(what) && (!auth || e.contains("exited 3") || e.contains("(Auth)")),
            || format!("expected a failure naming {what} (authentication: {auth}), got: {e}"),
        ),
    };
    let foreign = api
        .iter()
        .filter(|e| !e["host"].as_str().unwrap_or("").starts_with("127.0.0.1"))
        .filter(|e| e["token_tail"].as_str().is_some_and(|t| !t.is_empty()))
        .count();
    all_of([
        rows,
        ensure(foreign == 0, || {
            format!("the bearer token was sent to another origin (localhost) {foreign} times")
        }),
        ensure(served == expect.pages, || {
            format!(
                "expected pages {:?}, each once; the API served pages {served:?}",
                expect.pages
            )
        }),
        match expect.unauthorized {
            Some(n) => ensure(unauthorized == n, || {
                format!("expected {n} 401 answers, the API gave {unauthorized}")
            }),
            None => Ok(()),
        },
        ensure(grants <= expect.max_grants, || {
            format!(
                "{grants} token grants for {} pages (at most {} expected); {unauthorized} 401 answers",
                expect.pages.len(),
                expect.max_grants
            )
        }),
    ])
}

pub(super) const BASIC_CLIENT: (&str, &str) = ("basic-client", "p+a/s=s&w%o:r d");

/// Every scenario of the protected API.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for via in [Via::Cli, Via::Lib] {
        v.push(Scenario::new(
            format!("django-oauth-toolkit/api/paged-scan/{}", via.name()),
            Kind::Dot,
            move |ctx| {
                Box::pin(scan(
                    ctx,
                    "plain",
                    BASIC_CLIENT,
                    50,
                    via,
                    Expect::all_pages(50, 1, Some(0)),
                ))
            },
        ));
        // The toolkit's revocation of the token that read page 2 revokes its
        // refresh token too: one 401, one refused refresh, and the scan ends
        // as an authentication failure (never a silent partial result).
        v.push(Scenario::new(
            format!("django-oauth-toolkit/api/revoked-mid-scan/{}", via.name()),
            Kind::Dot,
            move |ctx| {
                let expect = Expect {
                    max_grants: 1,
                    unauthorized: Some(1),
                    pages: vec![1, 2],
                    fails_with: Some(("invalid_grant", true)),
                };
                Box::pin(scan(ctx, "revoke", BASIC_CLIENT, 50, via, expect))
            },
        ));
        // Page 1's next link names another origin (localhost, not 127.0.0.1):
        // an error naming that host, and nothing, least of all the bearer
        // token, sent there (issue 12).
        v.push(Scenario::new(
            format!("django-oauth-toolkit/api/foreign-next-link/{}", via.name()),
            Kind::Dot,
            move |ctx| {
                let expect = Expect {
                    max_grants: 1,
                    unauthorized: Some(0),
                    pages: vec![1],
                    fails_with: Some(("localhost", false)),
                };
                Box::pin(scan(ctx, "foreign", BASIC_CLIENT, 50, via, expect))
            },
        ));
    }
    // The token that read page 2 expires on the server while the client still
    // trusts it: one 401, one refresh, one retry, no row lost or repeated.
    v.push(Scenario::new(
        "django-oauth-toolkit/api/expired-mid-scan/lib",
        Kind::Dot,
        |ctx| {
            Box::pin(scan(
                ctx,
                "expire",
                BASIC_CLIENT,
                50,
                Via::Lib,
                Expect::all_pages(50, 2, Some(1)),
            ))
        },
    ));
    // A 4 s access token over a scan of about 8 s (10 slow pages): refreshed
    // about once per half-life (issue 13's skew rule), not before every page.
    v.push(Scenario::new(
        "django-oauth-toolkit/api/short-lived-token/lib",
        Kind::Dot,
        |ctx| {
            let expect = Expect::all_pages(25, 6, None);
            Box::pin(scan(
                ctx,
                "slow",
                ("shortlived", "short-secret"),
                25,
                Via::Lib,
                expect,
            ))
        },
    ));
    v
}

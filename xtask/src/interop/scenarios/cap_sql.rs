//! SQL over SAP CAP: `connectkit sql` and a DataFusion `SessionContext`
//! (`connectkit_datafusion::session_config` + `register`) against the CAP
//! OData service, with the `$filter`, `$select` and `$top` each query pushed
//! down checked in CAP's request log, and the rows, counts and sums computed
//! independently from the seed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use connectkit_core::Connector;
use connectkit_datafusion::datafusion::prelude::SessionContext;

use super::cap::{kinds, url};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli;
use crate::interop::compare::{Kind as K, Row, canon_decimal, diff, from_batches, from_jsonl};
use crate::interop::query::{Via, registry};
use crate::interop::servers::Kind;

const BOOKS_PATH: &str = "/odata/v4/catalog/Books";

/// One query and what CAP and the caller must see.
struct Case {
    sql: String,
    /// The rows, in order, as the seed says.
    expected: Vec<Row>,
    /// The column that names a row in a difference.
    key: &'static str,
    /// The exact (decoded) `$filter` of every request to Books.
    filter: Option<String>,
    /// The columns of `$select`, in any order.
    select: &'static [&'static str],
    /// `Some(n)`: one request, with `$top=n`; `None`: no request has `$top`.
    top: Option<usize>,
}

/// The query options of each request to Books since `mark`, decoded.
async fn books_requests(ctx: &Ctx, mark: usize) -> Result<Vec<BTreeMap<String, String>>, String> {
    let (_, log) = ctx.server(Kind::Cap).log_since(mark).await?;
    let mut out = Vec::new();
    for e in &log {
        let Some(u) = e["url"].as_str() else { continue };
        let (path, query) = u.split_once('?').unwrap_or((u, ""));
        if path != BOOKS_PATH {
            continue;
        }
        ensure(e["status"].as_u64() == Some(200), || {
            format!("CAP answered {} to {u}", e["status"])
        })?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| format!("query of {u}: {e}"))?;
        out.push(pairs.into_iter().collect());
    }
    Ok(out)
}

/// Runs `sql` with CAP registered as `cap`, the binary's `--format jsonl`
/// or the library's batches, as canonical rows.
async fn query(ctx: &Ctx, via: Via, sql: &str) -> Result<Vec<Row>, String> {
    let url = url(ctx).await?;
    match via {
        Via::Cli => {
            let args = ["sql", "--source", "cap=-", sql, "--format", "jsonl"];
            let out = cli::run(&ctx.bin, &args, &url).await?.success("sql")?;
            let mut kinds = kinds("Books");
            kinds.extend([("n", K::Int), ("total", K::Decimal), ("seqs", K::Int)]);
            from_jsonl(&out.stdout, &kinds)
        }
        Via::Lib => {
            let connector: Arc<dyn Connector> = Arc::from(
                registry()
                    .connect(&url)
                    .map_err(|e| format!("connect: {e}"))?,
            );
            let session = SessionContext::new_with_config(connectkit_datafusion::session_config());
            connectkit_datafusion::register(&session, "cap", connector)
                .await
                .map_err(|e| format!("register: {e}"))?;
            let batches = session
                .sql(sql)
                .await
                .map_err(|e| format!("planning {sql}: {e}"))?
                .collect()
                .await
                .map_err(|e| format!("running {sql}: {e}"))?;
            from_batches(&batches)
        }
    }
}

/// What CAP received, against `case`.
fn check_log(case: &Case, seen: &[BTreeMap<String, String>]) -> Result<(), String> {
    ensure(!seen.is_empty(), || "CAP saw no request to Books".into())?;
    let want_select: BTreeSet<&str> = case.select.iter().copied().collect();
    all_of(seen.iter().enumerate().map(|(i, q)| {
        let filter = q.get("$filter").cloned();
        let select: BTreeSet<&str> = q
            .get("$select")
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        all_of([
            ensure(filter == case.filter, || {
                format!(
                    "request {i}: expected $filter {:?}, CAP saw {q:?}",
                    case.filter
                )
            }),
            ensure(select == want_select, || {
                format!("request {i}: expected $select of {want_select:?}, CAP saw {q:?}")
            }),
        ])
    }))?;
    match case.top {
        Some(n) => ensure(
            seen.len() == 1 && seen[0].get("$top") == Some(&n.to_string()),
            || format!("expected one request with $top={n}, CAP saw {seen:?}"),
        ),
        None => ensure(seen.iter().all(|q| !q.contains_key("$top")), || {
            format!("expected no $top (the filter is inexact), CAP saw {seen:?}")
        }),
    }
}

async fn run(ctx: &Ctx, via: Via, case: Case) -> Result<(), String> {
    // A query the seed answers with no row would prove nothing.
    ensure(!case.expected.is_empty(), || {
        format!("the seed has no row for {}", case.sql)
    })?;
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let rows = query(ctx, via, &case.sql).await?;
    let seen = books_requests(ctx, mark).await?;
    all_of([
        diff(&case.sql, case.key, &case.expected, &rows),
        check_log(&case, &seen),
    ])
}

fn text<'r>(r: &'r Row, col: &str) -> Option<&'r str> {
    r.get(col).and_then(|v| v.as_deref())
}

fn int(r: &Row, col: &str) -> Option<i64> {
    text(r, col).and_then(|v| v.parse().ok())
}

/// A canonical decimal as an integer of ten-thousandths (CAP's scale 4).
fn dec4(r: &Row, col: &str) -> i128 {
    let v = text(r, col).unwrap_or("0");
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let frac = format!("{frac:0<4}");
    whole.parse::<i128>().unwrap_or(0) * 10_000 + frac.parse::<i128>().unwrap_or(0)
}

/// The seed's Books that satisfy `keep`, keeping only `cols`.
fn books(ctx: &Ctx, cols: &[&str], keep: impl Fn(&Row) -> bool) -> Vec<Row> {
    ctx.cap
        .books
        .iter()
        .filter(|r| keep(r))
        .map(|r| {
            cols.iter()
                .map(|c| ((*c).to_owned(), r.get(*c).cloned().flatten()))
                .collect()
        })
        .collect()
}

/// `seq < 600 AND price > 5000000`: an Int32 and a Decimal(15,4)
/// comparison, both exact, in one `$filter`.
fn where_and(ctx: &Ctx) -> Case {
    Case {
        sql: r#"SELECT "ID", seq, price FROM cap."Books" WHERE seq < 600 AND price > 5000000 ORDER BY "ID""#.into(),
        expected: books(ctx, &["ID", "seq", "price"], |r| {
            int(r, "seq") < Some(600) && dec4(r, "price") > 5_000_000 * 10_000
        }),
        key: "ID",
        // DataFusion coerces the integer to the column's Decimal(15,4), so the
        // literal keeps its four decimals; CAP accepts it.
        filter: Some("seq lt 600 and price gt 5000000.0000".into()),
        select: &["ID", "seq", "price"],
        top: None,
    }
}

/// A string equality (inexact: pushed and checked again) on a title with a
/// quote in it, so the OData literal must double it.
fn string_eq(ctx: &Ctx) -> Case {
    let title = ctx
        .cap
        .books
        .iter()
        .filter_map(|r| text(r, "title"))
        .find(|t| t.contains('\''))
        .unwrap_or("O'Brien")
        .to_owned();
    let sql_lit = title.replace('\'', "''");
    Case {
        sql: format!(
            r#"SELECT "ID", title, seq FROM cap."Books" WHERE title = '{sql_lit}' ORDER BY "ID""#
        ),
        expected: books(ctx, &["ID", "title", "seq"], |r| {
            text(r, "title") == Some(&title)
        }),
        key: "ID",
        filter: Some(format!("title eq '{sql_lit}'")),
        select: &["ID", "title", "seq"],
        top: None,
    }
}

/// `LIKE 'Zoë%'`: `startswith` with a non-ASCII prefix.
fn like_prefix(ctx: &Ctx) -> Case {
    Case {
        sql: r#"SELECT "ID", title FROM cap."Books" WHERE title LIKE 'Zoë%' ORDER BY "ID""#.into(),
        expected: books(ctx, &["ID", "title"], |r| {
            text(r, "title").is_some_and(|t| t.starts_with("Zoë"))
        }),
        key: "ID",
        filter: Some("startswith(title,'Zoë')".into()),
        select: &["ID", "title"],
        top: None,
    }
}

fn is_null(ctx: &Ctx) -> Case {
    Case {
        sql: r#"SELECT "ID", "author_ID", ratio FROM cap."Books" WHERE "author_ID" IS NULL ORDER BY "ID""#.into(),
        expected: books(ctx, &["ID", "author_ID", "ratio"], |r| {
            text(r, "author_ID").is_none()
        }),
        key: "ID",
        filter: Some("author_ID eq null".into()),
        select: &["ID", "author_ID", "ratio"],
        top: None,
    }
}

fn in_list(ctx: &Ctx) -> Case {
    let ids = [3, 7, 11, 29];
    Case {
        sql: r#"SELECT "ID", "author_ID" FROM cap."Books" WHERE "author_ID" IN (3, 7, 11, 29) ORDER BY "ID""#.into(),
        expected: books(ctx, &["ID", "author_ID"], |r| {
            int(r, "author_ID").is_some_and(|a| ids.contains(&a))
        }),
        key: "ID",
        filter: Some("author_ID in (3,7,11,29)".into()),
        select: &["ID", "author_ID"],
        top: None,
    }
}

/// An exact filter and a LIMIT, no ORDER BY: `$top` is sent, and the rows
/// are the first matching ones in CAP's (key) order.
fn limit_exact(ctx: &Ctx) -> Case {
    let mut expected = books(ctx, &["ID", "seq"], |r| int(r, "seq") >= Some(2000));
    expected.truncate(10);
    Case {
        sql: r#"SELECT "ID", seq FROM cap."Books" WHERE seq >= 2000 LIMIT 10"#.into(),
        expected,
        key: "ID",
        filter: Some("seq ge 2000".into()),
        select: &["ID", "seq"],
        top: Some(10),
    }
}

/// An inexact filter and a LIMIT: no `$top` (the server's matches may be
/// more than the engine's), still the first matching rows.
fn limit_inexact(ctx: &Ctx) -> Case {
    let mut expected = books(ctx, &["ID", "title"], |r| {
        text(r, "title").is_some_and(|t| t.starts_with("alpha"))
    });
    expected.truncate(5);
    Case {
        sql: r#"SELECT "ID", title FROM cap."Books" WHERE title LIKE 'alpha%' LIMIT 5"#.into(),
        expected,
        key: "ID",
        filter: Some("startswith(title,'alpha')".into()),
        select: &["ID", "title"],
        top: None,
    }
}

/// GROUP BY with COUNT(*) and SUM over an Int32 and a Decimal(15,4).
fn group_by(ctx: &Ctx) -> Case {
    let mut groups: BTreeMap<String, (i64, i128, i64)> = BTreeMap::new();
    for r in ctx.cap.books.iter().filter(|r| int(r, "seq") < Some(1500)) {
        let g = groups
            .entry(text(r, "available").unwrap_or("null").to_owned())
            .or_default();
        g.0 += 1;
        g.1 += dec4(r, "price");
        g.2 += int(r, "seq").unwrap_or(0);
    }
    let expected = groups
        .into_iter()
        .map(|(available, (n, total, seqs))| {
            let total = format!("{}.{:04}", total / 10_000, total % 10_000);
            Row::from([
                ("available".into(), Some(available)),
                ("n".into(), Some(n.to_string())),
                ("total".into(), Some(canon_decimal(&total))),
                ("seqs".into(), Some(seqs.to_string())),
            ])
        })
        .collect();
    Case {
        sql: r#"SELECT available, COUNT(*) AS n, SUM(price) AS total, SUM(seq) AS seqs FROM cap."Books" WHERE seq < 1500 GROUP BY available ORDER BY available"#.into(),
        expected,
        key: "available",
        filter: Some("seq lt 1500".into()),
        select: &["available", "price", "seq"],
        top: None,
    }
}

/// `connectkit sql --explain` names the `$filter` and `$select` it would
/// send, and sends no request for Books.
async fn explain(ctx: &Ctx) -> Result<(), String> {
    let case = where_and(ctx);
    let url = url(ctx).await?;
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let out = cli::run(
        &ctx.bin,
        &["sql", "--source", "cap=-", &case.sql, "--explain"],
        &url,
    )
    .await?
    .success("sql --explain")?;
    let seen = books_requests(ctx, mark).await?;
    let filter = format!(
        "source request: $filter={}",
        case.filter.unwrap_or_default()
    );
    all_of([
        ensure(out.stdout.contains(&filter), || {
            format!("expected {filter:?} in the plan, got:\n{}", out.stdout)
        }),
        ensure(out.stdout.contains("source request: $select="), || {
            format!("expected the $select in the plan, got:\n{}", out.stdout)
        }),
        ensure(seen.is_empty(), || {
            format!("--explain must not read Books, CAP saw {seen:?}")
        }),
    ])
}

/// Every SQL-over-CAP scenario.
pub fn scenarios() -> Vec<Scenario> {
    let cases: [(&str, fn(&Ctx) -> Case); 8] = [
        ("where-and", where_and),
        ("string-eq", string_eq),
        ("like-prefix", like_prefix),
        ("is-null", is_null),
        ("in-list", in_list),
        ("limit-exact", limit_exact),
        ("limit-inexact", limit_inexact),
        ("group-by", group_by),
    ];
    let mut v = Vec::new();
    for (name, case) in cases {
        for via in [Via::Cli, Via::Lib] {
            v.push(Scenario::new(
                format!("sap-cap/sql/{name}/{}", via.name()),
                Kind::Cap,
                move |c| Box::pin(run(c, via, case(c))),
            ));
        }
    }
    v.push(Scenario::new("sap-cap/sql/explain/cli", Kind::Cap, |c| {
        Box::pin(explain(c))
    }));
    v
}

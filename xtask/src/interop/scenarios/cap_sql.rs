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
use crate::interop::compare::{Kind as K, Row, diff, from_batches, from_jsonl};
use crate::interop::query::{Via, registry};
use crate::interop::servers::Kind;

mod cases;

use cases::{
    Case, count_only, decimal_fraction, group_by, in_list, is_null, like_prefix, limit_exact,
    limit_inexact, string_eq, where_and,
};

const BOOKS_PATH: &str = "/odata/v4/catalog/Books";

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
    let wrong: Vec<String> = seen
        .iter()
        .enumerate()
        .filter_map(|(i, q)| {
            let filter = q.get("$filter").cloned();
            let select: BTreeSet<&str> = q
                .get("$select")
                .map(|s| s.split(',').collect())
                .unwrap_or_default();
            all_of([
                ensure(
                    filter == case.filter
                        || (case.filter_alt.is_some() && filter.as_deref() == case.filter_alt),
                    || {
                        format!(
                            "request {i}: expected $filter {:?}, CAP saw {q:?}",
                            case.filter
                        )
                    },
                ),
                ensure(select == want_select, || {
                    format!("request {i}: expected $select of {want_select:?}, CAP saw {q:?}")
                }),
            ])
            .err()
        })
        .collect();
    // The first difference, and how many requests differ.
    ensure(wrong.is_empty(), || {
        format!(
            "{} ({} of {} requests differ)",
            wrong[0],
            wrong.len(),
            seen.len()
        )
    })?;
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

/// Builds a scenario's query and expectations from the seed.
type CaseFn = fn(&Ctx) -> Case;

/// Every SQL-over-CAP scenario.
pub fn scenarios() -> Vec<Scenario> {
    let cases: [(&str, CaseFn); 10] = [
        ("where-and", where_and),
        ("decimal-fraction", decimal_fraction),
        ("string-eq", string_eq),
        ("like-prefix", like_prefix),
        ("is-null", is_null),
        ("in-list", in_list),
        ("limit-exact", limit_exact),
        ("limit-inexact", limit_inexact),
        ("group-by", group_by),
        ("count-only", count_only),
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

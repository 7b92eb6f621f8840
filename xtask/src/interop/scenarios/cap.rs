//! SAP CAP (OData v4) as the dynamics365 connector's ServiceURL: entity sets,
//! `$metadata` types, server-driven paging (`@odata.nextLink` with
//! `$skiptoken`), `$select`, `$filter` from `ScanRequest` filters, and limits,
//! with every value compared against the CSV seed and every pushed-down
//! option checked in CAP's request log.

use std::collections::BTreeMap;

use arrow_schema::{DataType, TimeUnit};
use std::sync::Arc;

use connectkit_core::{Connector, Filter, FilterOp, ScanRequest};
use connectkit_datafusion::datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use serde_json::Value;

use super::grant::{quote, token_endpoint};
use super::{Ctx, Scenario, ensure};
use crate::interop::cli;
use crate::interop::compare::{Kind as K, Row, diff, from_batches, project};
use crate::interop::query::{Read, Via, read, registry};
use crate::interop::servers::Kind;

const SERVICE: &str = "/odata/v4/catalog/";

pub(super) async fn url(ctx: &Ctx) -> Result<String, String> {
    let srv = ctx.server(Kind::Cap);
    let rt = srv.mint("cap-client", None).await?;
    Ok(format!(
        "dynamics365:ServiceURL={}{SERVICE};ClientID=cap-client;ClientSecret={};RefreshToken={};TokenURI={}",
        srv.base,
        quote("cap secret+/="),
        quote(&rt),
        quote(&token_endpoint(ctx, Kind::Cap))
    ))
}

pub(super) fn kinds(table: &str) -> BTreeMap<&'static str, K> {
    if table == "Authors" {
        return BTreeMap::from([("ID", K::Int), ("name", K::Text), ("born", K::Date)]);
    }
    BTreeMap::from([
        ("ID", K::Text),
        ("seq", K::Int),
        ("title", K::Text),
        ("big", K::Int),
        ("price", K::Decimal),
        ("ratio", K::Double),
        ("available", K::Bool),
        ("published", K::Date),
        ("updatedAt", K::Instant),
        ("stampedAt", K::Instant),
        ("author_ID", K::Int),
    ])
}

/// The OData type and the Arrow type each Books column must have.
fn books_types() -> Vec<(&'static str, &'static str, DataType)> {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    vec![
        ("ID", "Edm.Guid", DataType::Utf8),
        ("seq", "Edm.Int32", DataType::Int32),
        ("title", "Edm.String", DataType::Utf8),
        ("big", "Edm.Int64", DataType::Int64),
        ("price", "Edm.Decimal", DataType::Decimal128(15, 4)),
        ("ratio", "Edm.Double", DataType::Float64),
        ("available", "Edm.Boolean", DataType::Boolean),
        ("published", "Edm.Date", DataType::Date32),
        ("updatedAt", "Edm.DateTimeOffset", ts.clone()),
        ("stampedAt", "Edm.DateTimeOffset", ts),
        ("author_ID", "Edm.Int32", DataType::Int32),
    ]
}

/// CAP's log of requests to an entity set since `mark` (URL-decoded).
async fn requests(ctx: &Ctx, mark: usize, set: &str) -> Result<Vec<(String, u64)>, String> {
    let (_, log) = ctx.server(Kind::Cap).log_since(mark).await?;
    Ok(log
        .iter()
        .filter_map(|e| Some((e["url"].as_str()?.to_owned(), e["status"].as_u64()?)))
        .map(|(u, s)| {
            (
                u.replace("%24", "$")
                    .replace("%20", " ")
                    .replace("%2C", ","),
                s,
            )
        })
        .filter(|(u, _)| u.contains(&format!("{SERVICE}{set}")))
        .collect())
}

async fn tables(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = url(ctx).await?;
    let mut names: Vec<String> = match via {
        Via::Cli => {
            let out = cli::run(&ctx.bin, &["tables", "-", "--format", "json"], &url)
                .await?
                .success("tables")?;
            let v: Value = serde_json::from_str(&out.stdout).map_err(|e| e.to_string())?;
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        }
        Via::Lib => {
            let c = registry().connect(&url).map_err(|e| e.to_string())?;
            c.tables()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|t| t.name)
                .collect()
        }
    };
    names.sort();
    ensure(names == ["Authors", "Books"], || {
        format!("entity sets: {names:?}")
    })
}

async fn metadata(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = url(ctx).await?;
    let expected = books_types();
    match via {
        Via::Cli => {
            let out = cli::run(
                &ctx.bin,
                &["schema", "-", "Books", "--format", "json"],
                &url,
            )
            .await?
            .success("schema")?;
            let v: Value = serde_json::from_str(&out.stdout).map_err(|e| e.to_string())?;
            let cols: Vec<(String, String)> = v["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_owned(),
                        c["type"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            ensure(cols.len() == expected.len(), || {
                format!("columns: {cols:?}")
            })?;
            for ((name, edm, _), (got_name, got_type)) in expected.iter().zip(&cols) {
                ensure(name == got_name && got_type.starts_with(edm), || {
                    format!("expected {name}: {edm}, got {got_name}: {got_type}")
                })?;
            }
            Ok(())
        }
        Via::Lib => {
            let c = registry().connect(&url).map_err(|e| e.to_string())?;
            let schema = c.schema("Books").await.map_err(|e| e.to_string())?;
            let got: Vec<(String, DataType)> = schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            let want: Vec<(String, DataType)> = expected
                .into_iter()
                .map(|(n, _, t)| (n.to_owned(), t))
                .collect();
            ensure(got == want, || format!("expected {want:?}, got {got:?}"))?;
            let key = schema.field_with_name("ID").map_err(|e| e.to_string())?;
            ensure(!key.is_nullable(), || "the key ID is nullable".into())
        }
    }
}

/// A whole entity set, page by page as CAP serves it (400 rows a page).
async fn full(ctx: &Ctx, via: Via, set: &'static str) -> Result<(), String> {
    let url = url(ctx).await?;
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let rows = read(via, &ctx.bin, &url, set, Read::default(), &kinds(set)).await?;
    let expected = if set == "Books" {
        &ctx.cap.books
    } else {
        &ctx.cap.authors
    };
    diff(set, "ID", expected, &rows)?;
    let seen = requests(ctx, mark, set).await?;
    let pages = expected.len().div_ceil(400);
    let skips = seen
        .iter()
        .filter(|(u, _)| u.contains("$skiptoken"))
        .count();
    ensure(
        seen.len() == pages && skips == pages - 1 && seen.iter().all(|(_, s)| *s == 200),
        || {
            format!(
                "expected {pages} page requests ({} with $skiptoken), CAP saw {seen:?}",
                pages - 1
            )
        },
    )
}

async fn select(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = url(ctx).await?;
    let cols = ["title", "price", "published"];
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let opts = Read {
        columns: Some(&cols),
        ..Read::default()
    };
    let rows = read(via, &ctx.bin, &url, "Books", opts, &kinds("Books")).await?;
    diff("Books", "title", &project(&ctx.cap.books, &cols), &rows)?;
    let seen = requests(ctx, mark, "Books").await?;
    let first = seen.first().map(|(u, _)| u.clone()).unwrap_or_default();
    ensure(
        cols.iter()
            .all(|c| first.contains("$select=") && first.contains(c))
            && !first.contains("ratio"),
        || format!("expected $select of {cols:?} only, CAP saw {first}"),
    )
}

async fn limit(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = url(ctx).await?;
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let opts = Read {
        limit: Some(25),
        ..Read::default()
    };
    let rows = read(via, &ctx.bin, &url, "Books", opts, &kinds("Books")).await?;
    diff("Books", "ID", &ctx.cap.books[..25], &rows)?;
    let seen = requests(ctx, mark, "Books").await?;
    ensure(seen.len() == 1 && seen[0].0.contains("$top=25"), || {
        format!("expected one request with $top=25, CAP saw {seen:?}")
    })
}

/// Filters through the library API; `limit` on top asks for the first N
/// matching rows.
async fn filtered(ctx: &Ctx, filters: Vec<Filter>, limit: Option<usize>) -> Result<(), String> {
    let url = url(ctx).await?;
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let mut expected: Vec<Row> = ctx
        .cap
        .books
        .iter()
        .filter(|r| filters.iter().all(|f| crate::interop::query::holds(f, r)))
        .cloned()
        .collect();
    if let Some(n) = limit {
        expected.truncate(n);
    }
    let columns: Vec<String> = filters.iter().map(|f| f.column.clone()).collect();
    let opts = Read {
        filters,
        limit,
        ..Read::default()
    };
    let rows = read(Via::Lib, &ctx.bin, &url, "Books", opts, &kinds("Books")).await?;
    diff("Books", "ID", &expected, &rows)?;
    let seen = requests(ctx, mark, "Books").await?;
    let first = seen.first().map(|(u, _)| u.clone()).unwrap_or_default();
    ensure(
        first.contains("$filter=") && columns.iter().all(|c| first.contains(c.as_str())),
        || format!("expected a $filter on {columns:?}, CAP saw {first}"),
    )
}

/// Rows sorted by their `ID`.
fn by_id(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| a.get("ID").cmp(&b.get("ID")));
    rows
}

/// A scan split into four `seq` ranges (ScanPartitions=4,
/// PartitionColumn=seq: CAP has no `createdon`) returns exactly the rows of
/// the unpartitioned scan, row for row, through the connector's partitions
/// and through DataFusion; CAP's log shows the bounds requests and each
/// range's filter.
async fn partitioned(ctx: &Ctx) -> Result<(), String> {
    let base = url(ctx).await?;
    let connect = |url: &str| {
        registry()
            .connect(url)
            .map(Arc::<dyn Connector>::from)
            .map_err(|e| format!("connect: {e}"))
    };
    let whole = connect(&base)?;
    let scan = whole
        .scan("Books", ScanRequest::new())
        .await
        .map_err(|e| format!("scan: {e}"))?;
    let batches: Vec<_> = scan
        .batches
        .try_collect()
        .await
        .map_err(|e| format!("scan: {e}"))?;
    let one = by_id(from_batches(&batches)?);
    diff("Books", "ID", &by_id(ctx.cap.books.clone()), &one)?;

    // A connector of its own grant: CAP's token endpoint rotates refresh tokens.
    let split = connect(&format!(
        "{};ScanPartitions=4;PartitionColumn=seq",
        url(ctx).await?
    ))?;
    let mark = ctx.server(Kind::Cap).log_mark().await?;
    let parts = split
        .partitions("Books", &ScanRequest::new(), 4)
        .await
        .map_err(|e| format!("partitions: {e}"))?;
    ensure(parts.len() == 4, || {
        format!("expected 4 seq ranges, got {parts:?}")
    })?;
    let read = parts.iter().map(|p| {
        let split = split.clone();
        async move {
            let scan = split
                .scan_partition("Books", ScanRequest::new(), p)
                .await
                .map_err(|e| format!("{}: {e}", p.description))?;
            let batches: Vec<_> = scan
                .batches
                .try_collect()
                .await
                .map_err(|e| format!("{}: {e}", p.description))?;
            from_batches(&batches)
        }
    });
    let ranges = futures::future::try_join_all(read).await?;
    ensure(ranges.iter().all(|r| !r.is_empty()), || {
        "a seq range of evenly numbered books is empty".into()
    })?;
    diff("Books (4 ranges)", "ID", &one, &by_id(ranges.concat()))?;
    let seen = requests(ctx, mark, "Books").await?;
    let bounds = ["$orderby=seq asc", "$orderby=seq desc"];
    for b in bounds {
        ensure(
            seen.iter()
                .any(|(u, _)| u.contains(b) && u.contains("$top=1")),
            || format!("CAP saw no bounds request with {b}&$top=1: {seen:?}"),
        )?;
    }
    for p in &parts {
        let first = seen
            .iter()
            .filter(|(u, _)| !u.contains("$skiptoken"))
            .filter(|(u, _)| u.contains(&format!("$filter={}", p.description)))
            .count();
        ensure(first == 1, || {
            format!(
                "expected one first request with $filter={}, CAP saw {seen:?}",
                p.description
            )
        })?;
    }
    ensure(seen.iter().all(|(_, s)| *s == 200), || {
        format!("CAP refused a request: {seen:?}")
    })?;

    // The same through SQL: four DataFusion partitions, ORDER BY gives the
    // one-partition answer.
    let config = connectkit_datafusion::session_config().with_target_partitions(4);
    let session = SessionContext::new_with_config(config);
    connectkit_datafusion::register(&session, "cap", split)
        .await
        .map_err(|e| format!("register: {e}"))?;
    let sql = "SELECT * FROM cap.Books ORDER BY \"ID\"";
    let df = session
        .sql(sql)
        .await
        .map_err(|e| format!("planning {sql}: {e}"))?;
    let plan = df
        .clone()
        .create_physical_plan()
        .await
        .map_err(|e| format!("planning {sql}: {e}"))?;
    let shown = connectkit_datafusion::datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    ensure(shown.contains("partitions=4 [seq lt "), || {
        format!("the plan lists no seq ranges:\n{shown}")
    })?;
    let batches = df
        .collect()
        .await
        .map_err(|e| format!("running {sql}: {e}"))?;
    diff(
        "Books (SQL, 4 ranges)",
        "ID",
        &one,
        &from_batches(&batches)?,
    )
}

/// Every CAP scenario.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for via in [Via::Cli, Via::Lib] {
        let n = via.name();
        v.push(Scenario::new(
            format!("sap-cap/entity-sets/{n}"),
            Kind::Cap,
            move |c| Box::pin(tables(c, via)),
        ));
        v.push(Scenario::new(
            format!("sap-cap/metadata-types/{n}"),
            Kind::Cap,
            move |c| Box::pin(metadata(c, via)),
        ));
        v.push(Scenario::new(
            format!("sap-cap/books-all-pages/{n}"),
            Kind::Cap,
            move |c| Box::pin(full(c, via, "Books")),
        ));
        v.push(Scenario::new(
            format!("sap-cap/authors/{n}"),
            Kind::Cap,
            move |c| Box::pin(full(c, via, "Authors")),
        ));
        v.push(Scenario::new(
            format!("sap-cap/select/{n}"),
            Kind::Cap,
            move |c| Box::pin(select(c, via)),
        ));
        v.push(Scenario::new(
            format!("sap-cap/limit/{n}"),
            Kind::Cap,
            move |c| Box::pin(limit(c, via)),
        ));
    }
    v.push(Scenario::new("sap-cap/partitioned/lib", Kind::Cap, |c| {
        Box::pin(partitioned(c))
    }));
    v.push(Scenario::new("sap-cap/filter/lib", Kind::Cap, |c| {
        Box::pin(filtered(
            c,
            vec![
                Filter::new("seq", FilterOp::Lt, 500i64),
                Filter::new("available", FilterOp::Eq, true),
            ],
            None,
        ))
    }));
    v.push(Scenario::new(
        "sap-cap/filter-and-limit/lib",
        Kind::Cap,
        |c| {
            Box::pin(filtered(
                c,
                vec![Filter::new("seq", FilterOp::Ge, 2000i64)],
                Some(10),
            ))
        },
    ));
    v
}

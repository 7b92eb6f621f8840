//! json-server 0.17: every paging style it offers (`_page`/`_limit` with
//! `Link` and `X-Total-Count`, `_start`/`_limit`, a `_start`/`_end` slice, the
//! whole collection), through Sample and through a model file, with every row
//! and every value compared against the seed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::grant::quote;
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli;
use crate::interop::compare::{Kind as K, diff};
use crate::interop::query::{Read, Via, read};
use crate::interop::servers::Kind;

fn kinds() -> BTreeMap<&'static str, K> {
    BTreeMap::from([
        ("id", K::Int),
        ("name", K::Text),
        ("score", K::Double),
        ("ratio", K::Double),
        ("big", K::Int),
        ("active", K::Bool),
        ("born", K::Date),
        ("updated", K::Instant),
        ("note", K::Text),
        ("address_city", K::Text),
        ("address_geo_lat", K::Double),
        ("address_geo_lng", K::Double),
        ("items_id", K::Int),
        ("position", K::Int),
        ("value", K::Text),
        ("sku", K::Text),
        ("qty", K::Int),
    ])
}

fn sample(ctx: &Ctx, path_and_query: &str) -> String {
    let base = &ctx.server(Kind::JsonServer).base;
    format!(
        "autorest:Sample={};Table=items",
        quote(&format!("{base}{path_and_query}"))
    )
}

/// A model file for `items` with `paging` keys; returns its connection URL.
fn model(ctx: &Ctx, name: &str, path: &str, paging: Value) -> Result<String, String> {
    let base = &ctx.server(Kind::JsonServer).base;
    let mut table = json!({
        "#path": format!("{base}{path}"),
        "id": "BigInt,#key", "name": "VarChar(64)", "score": "Double", "ratio": "Double",
        "big": "BigInt", "active": "Boolean", "born": "Date", "updated": "Timestamp",
        "note": "VarChar(64)",
        "address": {"city": "VarChar(64)", "geo": {"lat": "Double", "lng": "Double"}},
        "tags[]": "VarChar(32)",
        "parts[]": {"sku": "VarChar(32)", "qty": "Integer"},
    });
    for (k, v) in paging.as_object().into_iter().flatten() {
        table[k] = v.clone();
    }
    let file = ctx.scratch(name)?.join("items.rest");
    let text =
        serde_json::to_string_pretty(&json!({ "items": table })).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| format!("cannot write {file:?}: {e}"))?;
    Ok(format!(
        "autorest:Config={}",
        quote(&file.display().to_string())
    ))
}

/// Reads `items` and compares every row with the seed's `range`.
async fn items(
    ctx: &Ctx,
    url: &str,
    via: Via,
    range: std::ops::Range<usize>,
) -> Result<(), String> {
    let rows = read(via, &ctx.bin, url, "items", Read::default(), &kinds()).await?;
    diff("items", "id", &ctx.json.items[range], &rows)
}

/// Requests json-server received since `mark`.
async fn requests(ctx: &Ctx, mark: usize) -> Result<Vec<String>, String> {
    let (_, log) = ctx.server(Kind::JsonServer).log_since(mark).await?;
    Ok(log
        .iter()
        .filter_map(|e| e["url"].as_str().map(str::to_owned))
        .collect())
}

async fn children(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = sample(ctx, "/items");
    let tags = read(via, &ctx.bin, &url, "items_tags", Read::default(), &kinds()).await?;
    diff("items_tags", "items_id", &ctx.json.tags, &tags)?;
    let parts = read(
        via,
        &ctx.bin,
        &url,
        "items_parts",
        Read::default(),
        &kinds(),
    )
    .await?;
    diff("items_parts", "items_id", &ctx.json.parts, &parts)
}

/// A limit stops paging: the first 150 rows, and no page past the second.
/// The sample is the first page: sampling reads pages up to
/// ColumnDiscoverySampleSize rows (20,480 by default) before any scan,
/// whatever its limit.
async fn limited(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = sample(ctx, "/items?_page=1&_limit=100") + ";ColumnDiscoverySampleSize=100";
    let mark = ctx.server(Kind::JsonServer).log_mark().await?;
    let read_opts = Read {
        limit: Some(150),
        ..Read::default()
    };
    let rows = read(via, &ctx.bin, &url, "items", read_opts, &kinds()).await;
    let seen = requests(ctx, mark).await?;
    all_of([
        rows.and_then(|rows| diff("items", "id", &ctx.json.items[..150], &rows)),
        ensure(
            seen == ["/items?_page=1&_limit=100", "/items?_page=2&_limit=100"],
            || {
                format!(
                    "expected exactly pages 1 and 2, each requested once; json-server saw {seen:?}"
                )
            },
        ),
    ])
}

/// A mistyped endpoint is a not-found error naming the status (exit 4),
/// not an empty table (issue 14).
async fn not_found(ctx: &Ctx, via: Via) -> Result<(), String> {
    let url = sample(ctx, "/nothing-here");
    match read(via, &ctx.bin, &url, "items", Read::default(), &kinds()).await {
        Ok(rows) => Err(format!(
            "expected an error naming 404, got {} rows",
            rows.len()
        )),
        Err(e) => ensure(
            e.contains("404") && (e.contains("exited 4") || e.contains("(NotFound)")),
            || format!("expected an API error (exit 4) naming 404, got: {e}"),
        ),
    }
}

/// CSV tells null from the empty string: an empty field for null, `""` for
/// an empty string (issue 14). Item 49 has a null note, item 50 an empty name.
async fn csv_null_and_empty(ctx: &Ctx) -> Result<(), String> {
    let url = sample(ctx, "/items");
    let args = [
        "query",
        "-",
        "items",
        "--format",
        "csv",
        "--columns",
        "id,name,note",
        "--limit",
        "50",
    ];
    let out = cli::run(&ctx.bin, &args, &url)
        .await?
        .success("query --format csv")?;
    let line = |id: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id},")))
            .unwrap_or_default()
            .to_owned()
    };
    let (null_note, empty_name) = (line("49"), line("50"));
    all_of([
        ensure(out.stdout.lines().next() == Some("id,name,note"), || {
            format!("header: {:?}", out.stdout.lines().next())
        }),
        ensure(
            null_note.ends_with(',') && !null_note.ends_with(",\"\""),
            || format!("item 49 (note null) should end with an empty field: {null_note}"),
        ),
        ensure(empty_name.starts_with("50,\"\","), || {
            format!("item 50 (name \"\") should read 50,\"\",...: {empty_name}")
        }),
    ])
}

/// The sampling rule on a late optional field (`loyalty`, first on customer
/// 2,401 of 3,000, page 10 of 250-row pages), through the CLI: a whole-row
/// query stops naming ColumnDiscoverySampleSize=2401; that size makes it a
/// column; `--columns id`, `count(*)` and UnsampledFieldPolicy=Ignore go on
/// with one warning. `url(size)` is the connection URL for a sample size.
async fn late_field(ctx: &Ctx, url: impl Fn(usize) -> String) -> Result<(), String> {
    let n = crate::interop::seed::CUSTOMERS;
    let csv = ["query", "-", "customers", "--format", "csv"];
    let warnings = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .count()
    };
    let stopped = cli::run(&ctx.bin, &csv, &url(250)).await?;
    let widened = cli::run(&ctx.bin, &csv, &url(2401))
        .await?
        .success("sample of 2401")?;
    let ids = [
        "query",
        "-",
        "customers",
        "--format",
        "csv",
        "--columns",
        "id",
    ];
    let projected = cli::run(&ctx.bin, &ids, &url(250))
        .await?
        .success("--columns id")?;
    let sql = "SELECT count(*) AS n FROM c.customers";
    let count = cli::run(
        &ctx.bin,
        &["sql", "--source", "c=-", "--format", "csv", sql],
        &url(250),
    )
    .await?
    .success("count(*)")?;
    let ignore = format!("{};UnsampledFieldPolicy=Ignore", url(250));
    let ignored = cli::run(&ctx.bin, &csv, &ignore).await?.success("Ignore")?;
    let loyal = widened
        .stdout
        .lines()
        .find(|l| l.starts_with("2401,"))
        .unwrap_or_default()
        .to_owned();
    all_of([
        ensure(
            stopped.code == 4
                && stopped
                    .stderr
                    .contains("set ColumnDiscoverySampleSize=2401 "),
            || {
                format!(
                    "a whole-row query should stop naming 2401 (exit 4): {} {}",
                    stopped.code,
                    stopped.stderr.trim()
                )
            },
        ),
        ensure(
            widened.stdout.lines().count() == n + 1
                && widened.stdout.starts_with("id,name,loyalty\n")
                && loyal == "2401,customer 2401,silver",
            || {
                format!(
                    "ColumnDiscoverySampleSize=2401: {} lines, row 2401 {loyal:?}",
                    widened.stdout.lines().count()
                )
            },
        ),
        ensure(
            projected.stdout.lines().count() == n + 1 && warnings(&projected.stderr) == 1,
            || {
                format!(
                    "--columns id: {} lines; stderr {}",
                    projected.stdout.lines().count(),
                    projected.stderr.trim()
                )
            },
        ),
        ensure(count.stdout == format!("n\n{n}\n"), || {
            format!("count(*): {:?}", count.stdout)
        }),
        ensure(
            ignored.stdout.lines().count() == n + 1
                && ignored.stdout.starts_with("id,name\n")
                && warnings(&ignored.stderr) == 1,
            || {
                format!(
                    "Ignore: {} lines; stderr {}",
                    ignored.stdout.lines().count(),
                    ignored.stderr.trim()
                )
            },
        ),
    ])
}

/// `customers` sampled from json-server's `_page`/`_limit` pages.
fn customers_sample(ctx: &Ctx, size: usize) -> String {
    let base = &ctx.server(Kind::JsonServer).base;
    format!(
        "autorest:Sample={};ColumnDiscoverySampleSize={size}",
        quote(&format!("{base}/customers?_page=1&_limit=250"))
    )
}

/// `customers` from a model file without columns (`#path` an array of one,
/// as the vendor writes it, and page-number paging keys).
fn customers_model(ctx: &Ctx, name: &str, size: usize) -> Result<String, String> {
    let base = &ctx.server(Kind::JsonServer).base;
    let table = json!({
        "#path": [format!("{base}/customers")],
        "#maximumPageSize": 250, "#pageSizeParameter": "_limit",
        "#pageNumberParameter": "_page", "#firstPageNumber": 1,
    });
    let file = ctx.scratch(name)?.join("customers.rest");
    let text =
        serde_json::to_string_pretty(&json!({ "customers": table })).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| format!("cannot write {file:?}: {e}"))?;
    Ok(format!(
        "autorest:Config={};ColumnDiscoverySampleSize={size}",
        quote(&file.display().to_string())
    ))
}

type Build = fn(&Ctx, &str) -> Result<String, String>;

/// Every json-server scenario.
pub fn scenarios() -> Vec<Scenario> {
    let n = crate::interop::seed::ITEMS;
    let paged: [(&str, Build, std::ops::Range<usize>); 6] = [
        (
            "sample/whole-collection",
            |c, _| Ok(sample(c, "/items")),
            0..n,
        ),
        // `Link: <…>; rel="first", <…>; rel="next", <…>; rel="last"`.
        (
            "sample/page-limit-link-header",
            |c, _| Ok(sample(c, "/items?_page=1&_limit=100")),
            0..n,
        ),
        (
            "sample/start-end-slice",
            |c, _| Ok(sample(c, "/items?_start=1200&_end=1450")),
            1200..1450,
        ),
        (
            "model/page-number",
            |c, name| {
                model(
                    c,
                    name,
                    "/items",
                    json!({"#maximumPageSize": 100, "#pageSizeParameter": "_limit",
                "#pageNumberParameter": "_page", "#firstPageNumber": 1}),
                )
            },
            0..n,
        ),
        (
            "model/row-offset",
            |c, name| {
                model(
                    c,
                    name,
                    "/items",
                    json!({"#maximumPageSize": 250, "#pageSizeParameter": "_limit",
                "#rowOffsetParameter": "_start", "#firstRowNumber": 0}),
                )
            },
            0..n,
        ),
        (
            "model/link-header",
            |c, name| {
                model(
                    c,
                    name,
                    "/items?_page=1&_limit=100",
                    json!({"#nextPageResponseHeader": "Link"}),
                )
            },
            0..n,
        ),
    ];
    let mut v = Vec::new();
    for (topic, build, range) in paged {
        for via in [Via::Cli, Via::Lib] {
            let name = format!("json-server/{topic}/{}", via.name());
            let scratch = name.clone();
            let range = range.clone();
            v.push(Scenario::new(name, Kind::JsonServer, move |ctx| {
                let range = range.clone();
                let scratch = scratch.clone();
                Box::pin(async move { items(ctx, &build(ctx, &scratch)?, via, range).await })
            }));
        }
    }
    for via in [Via::Cli, Via::Lib] {
        v.push(Scenario::new(
            format!("json-server/sample/child-tables/{}", via.name()),
            Kind::JsonServer,
            move |ctx| Box::pin(children(ctx, via)),
        ));
        v.push(Scenario::new(
            format!("json-server/sample/not-found/{}", via.name()),
            Kind::JsonServer,
            move |ctx| Box::pin(not_found(ctx, via)),
        ));
        v.push(Scenario::new(
            format!("json-server/sample/limit/{}", via.name()),
            Kind::JsonServer,
            move |ctx| Box::pin(limited(ctx, via)),
        ));
    }
    v.push(Scenario::new(
        "json-server/sample/late-field/cli",
        Kind::JsonServer,
        |ctx| Box::pin(late_field(ctx, move |size| customers_sample(ctx, size))),
    ));
    v.push(Scenario::new(
        "json-server/model/late-field/cli",
        Kind::JsonServer,
        |ctx| {
            Box::pin(async move {
                let name = "json-server/model/late-field/cli";
                // One model file per sample size, written before the runs.
                let urls = [
                    (250, customers_model(ctx, &format!("{name}/250"), 250)?),
                    (2401, customers_model(ctx, &format!("{name}/2401"), 2401)?),
                ];
                late_field(ctx, move |size| {
                    urls.iter()
                        .find(|(s, _)| *s == size)
                        .map(|(_, u)| u.clone())
                        .unwrap_or_default()
                })
                .await
            })
        },
    ));
    v.push(Scenario::new(
        "json-server/sample/csv-null-and-empty/cli",
        Kind::JsonServer,
        |ctx| Box::pin(csv_null_and_empty(ctx)),
    ));
    v
}

//! Reading a table the two ways a user can: the `connectkit` binary
//! (`query --format jsonl`) and the library API (`Registry` + `Connector::scan`),
//! both ending in canonical rows.

use std::collections::BTreeMap;
use std::path::PathBuf;

use connectkit_core::{Filter, FilterOp, Literal, Registry, ScanRequest};
use futures::TryStreamExt;

use super::cli;
use super::compare::{Kind, Row, from_batches, from_jsonl};

/// Through which door a scenario goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The `connectkit` binary.
    Cli,
    /// The library API, in this process.
    Lib,
}

impl Via {
    /// `cli` or `lib`, the last part of a scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Via::Cli => "cli",
            Via::Lib => "lib",
        }
    }
}

/// The registry the `connectkit` binary uses.
pub fn registry() -> Registry {
    connectkit::registry()
}

/// What to read.
#[derive(Default)]
pub struct Read<'a> {
    /// Only these columns.
    pub columns: Option<&'a [&'a str]>,
    /// At most this many rows.
    pub limit: Option<usize>,
    /// Filters (library only: the binary has no filter option).
    pub filters: Vec<Filter>,
}

/// Reads `table` of `url`; `kinds` tells how to read the binary's JSON values.
pub async fn read(
    via: Via,
    bin: &PathBuf,
    url: &str,
    table: &str,
    read: Read<'_>,
    kinds: &BTreeMap<&str, Kind>,
) -> Result<Vec<Row>, String> {
    match via {
        Via::Cli => {
            if !read.filters.is_empty() {
                return Err("the connectkit binary has no filter option".into());
            }
            let cols = read.columns.map(|c| c.join(","));
            let limit = read.limit.map(|n| n.to_string());
            let mut args = vec!["query", "-", table, "--format", "jsonl"];
            if let Some(c) = &cols {
                args.extend(["--columns", c]);
            }
            if let Some(n) = &limit {
                args.extend(["--limit", n]);
            }
            let out = cli::run(bin, &args, url).await?.success("query")?;
            from_jsonl(&out.stdout, kinds)
        }
        Via::Lib => {
            let c = registry()
                .connect(url)
                .map_err(|e| format!("connect ({:?}): {e}", e.kind()))?;
            let mut request = ScanRequest::new();
            if let Some(cols) = read.columns {
                request = request.with_projection(cols.iter().copied());
            }
            if let Some(n) = read.limit {
                request = request.with_limit(n);
            }
            for f in read.filters {
                request = request.with_filter(f);
            }
            let scan = c
                .scan(table, request)
                .await
                .map_err(|e| format!("scan ({:?}): {e}", e.kind()))?;
            let unapplied = scan.unapplied_filters.clone();
            let batches: Vec<_> = scan
                .batches
                .try_collect()
                .await
                .map_err(|e| format!("scan ({:?}): {e}", e.kind()))?;
            let rows = from_batches(&batches)?;
            // The contract: the caller applies what the source did not.
            Ok(rows
                .into_iter()
                .filter(|r| unapplied.iter().all(|f| holds(f, r)))
                .collect())
        }
    }
}

/// Whether a canonical row satisfies `f` (the filters scenarios use: integers,
/// booleans and strings).
pub fn holds(f: &Filter, row: &Row) -> bool {
    let Some(Some(v)) = row.get(&f.column) else {
        return false;
    };
    let ord = match &f.value {
        Literal::Int(n) => v.parse::<i64>().map(|x| x.cmp(n)),
        Literal::Bool(b) => Ok(v.as_str().cmp(if *b { "true" } else { "false" })),
        Literal::String(s) => Ok(v.as_str().cmp(s.as_str())),
        _ => return false,
    };
    let Ok(o) = ord else { return false };
    match f.op {
        FilterOp::Eq => o.is_eq(),
        FilterOp::Ne => o.is_ne(),
        FilterOp::Gt => o.is_gt(),
        FilterOp::Ge => o.is_ge(),
        FilterOp::Lt => o.is_lt(),
        FilterOp::Le => o.is_le(),
        _ => false,
    }
}

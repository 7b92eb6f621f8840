//! `connectkit sql`: SQL over one or more connections through DataFusion,
//! with `--explain` and `COPY (SELECT ...) TO 'file'`.

use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use connectkit_core::{Error, ErrorKind, Scan};
use connectkit_datafusion::datafusion::config::Dialect;
use connectkit_datafusion::datafusion::physical_plan::filter::FilterExec;
use connectkit_datafusion::datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use connectkit_datafusion::datafusion::prelude::{SessionConfig, SessionContext};
use connectkit_datafusion::datafusion::sql::parser::{CopyToSource, Statement};
use connectkit_datafusion::{ConnectorScanExec, Sources};
use futures::TryStreamExt;

use crate::error::df_error;
use connectkit::registry;

use crate::{RowFormat, input, output};

fn usage(what: &str, expected: &str, found: &str) -> Error {
    Error::invalid_property(what, expected, Some(found))
}

/// A `--source NAME=URL` argument.
fn parse_source(arg: &str) -> Result<(String, String), Error> {
    let (name, url) = arg.split_once('=').ok_or_else(|| {
        // The argument may be a bare URL holding secrets: never echo it.
        Error::invalid_property("--source", "NAME=URL (NAME a SQL identifier)", None)
    })?;
    if !connectkit_datafusion::is_source_name(name) {
        // What precedes `=` may be part of a mistyped URL: not echoed.
        return Err(Error::invalid_property(
            "--source",
            "NAME=URL with NAME a SQL identifier ([A-Za-z_][A-Za-z0-9_]*)",
            None,
        ));
    }
    Ok((name.to_ascii_lowercase(), url.to_owned()))
}

/// A session with every `--source` registered.
pub async fn session(sources: &[String]) -> Result<SessionContext, Error> {
    // DATAFUSION_* environment variables tune the engine (partitions, batch size).
    let config = SessionConfig::from_env().map_err(df_error)?;
    let config = connectkit_datafusion::for_connectors(config);
    let ctx = SessionContext::new_with_config(config);
    let mut named: Vec<(String, String)> = Vec::new();
    for arg in sources {
        let (name, url) = parse_source(arg)?;
        if named.iter().any(|(n, _)| *n == name) {
            return Err(usage("--source", "each NAME once", &name));
        }
        named.push((name, input::read_url(&url)?));
    }
    let sources = Sources::connect(&registry(), named).await?;
    sources.register(&ctx).map_err(df_error)?;
    Ok(ctx)
}

/// Runs `query` (a SELECT, or a `COPY ... TO 'file'`) and writes the result.
pub async fn run(
    out: &mut impl Write,
    sources: &[String],
    query: &str,
    format: RowFormat,
    explain: bool,
) -> Result<(), Error> {
    let ctx = session(sources).await?;
    let statement = ctx
        .state()
        .sql_to_statement(query, &Dialect::Generic)
        .map_err(df_error)?;
    if let Statement::CopyTo(copy) = &statement {
        let inner = match &copy.source {
            CopyToSource::Relation(name) => format!("SELECT * FROM {name}"),
            CopyToSource::Query(q) => q.to_string(),
        };
        let target = crate::copy::Target::of(copy)?;
        if explain {
            return explain_query(out, &ctx, &inner).await;
        }
        let df = ctx.sql(&inner).await.map_err(df_error)?;
        let stream = df.execute_stream().await.map_err(df_error)?;
        let rows = target.write(stream).await?;
        return output::rows(out, count_scan(rows), None, format).await;
    }
    if explain {
        return explain_query(out, &ctx, query).await;
    }
    print_query(out, &ctx, query, format).await
}

/// Runs a query in `ctx` and writes its rows as they arrive.
pub async fn print_query(
    out: &mut impl Write,
    ctx: &SessionContext,
    query: &str,
    format: RowFormat,
) -> Result<(), Error> {
    let df = ctx.sql(query).await.map_err(df_error)?;
    let stream = df.execute_stream().await.map_err(df_error)?;
    output::rows(out, as_scan(stream), None, format).await
}

/// A DataFusion stream in the shape `output::rows` prints.
fn as_scan(stream: SendableRecordBatchStream) -> Scan {
    let schema = stream.schema();
    Scan::new(schema, Box::pin(stream.map_err(df_error)))
}

/// The one-row `count` result of a COPY, as DataFusion's own COPY reports it.
fn count_scan(rows: u64) -> Scan {
    use arrow_schema::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![Field::new(
        "count",
        DataType::UInt64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow_array::UInt64Array::from(vec![rows]))],
    );
    let batches = futures::stream::iter([batch.map_err(|e| Error::connector(ErrorKind::Other, e))]);
    Scan::new(schema, Box::pin(batches))
}

/// The logical and physical plans, then per connector scan what the source
/// is asked to do and what the engine still filters.
async fn explain_query(
    out: &mut impl Write,
    ctx: &SessionContext,
    query: &str,
) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::connector(ErrorKind::Other, e);
    let df = ctx.sql(query).await.map_err(df_error)?;
    let logical = df
        .clone()
        .into_optimized_plan()
        .map_err(df_error)?
        .display_indent()
        .to_string();
    let plan = df.create_physical_plan().await.map_err(df_error)?;
    let physical = connectkit_datafusion::datafusion::physical_plan::displayable(plan.as_ref())
        .indent(false)
        .to_string();
    writeln!(
        out,
        "== logical plan ==\n{logical}\n\n== physical plan ==\n{}",
        physical.trim_end()
    )
    .map_err(io)?;
    let mut scans = Vec::new();
    collect_scans(&plan, None, &mut scans);
    for (scan, engine) in scans {
        writeln!(out, "\n== {} ==", scan.label()).map_err(io)?;
        for line in scan.pushdown_lines() {
            writeln!(out, "{line}").map_err(io)?;
        }
        let engine = engine.unwrap_or_else(|| "none".to_owned());
        writeln!(out, "engine filters: {engine}").map_err(io)?;
    }
    Ok(())
}

/// Each connector scan with the predicate of the filter right above it
/// (through single-input operators only).
fn collect_scans<'p>(
    plan: &'p Arc<dyn ExecutionPlan>,
    filter: Option<String>,
    found: &mut Vec<(&'p ConnectorScanExec, Option<String>)>,
) {
    if let Some(scan) = plan.downcast_ref::<ConnectorScanExec>() {
        found.push((scan, filter));
        return;
    }
    let filter = match plan.downcast_ref::<FilterExec>() {
        Some(f) => Some(f.predicate().to_string()),
        None => filter,
    };
    let children = plan.children();
    let single = children.len() == 1;
    for child in children {
        collect_scans(child, if single { filter.clone() } else { None }, found);
    }
}

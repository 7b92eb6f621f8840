//! SQL over connectkit connectors through [Apache DataFusion]: each
//! connection is a schema, each of its tables a [`TableProvider`] that
//! pushes the projection, the filters the source can apply and (when it
//! applies all of them exactly) the limit into the connector's scan, and
//! streams the pages as record batches.
//!
//! A scan that reads every row and no column (`SELECT count(*) FROM t`, no
//! filter) asks the connector to [`count`](connectkit_core::Connector::count)
//! the table; an exact count becomes the plan's exact row statistics, so
//! DataFusion answers `count(*)` from it and no page is read (Dynamics 365:
//! `GET <set>/$count` below Dataverse's 5,000 cap). A source that cannot
//! count, or a failed count, means a scan.
//!
//! The count is one request sent while the plan is made, in
//! [`TableProvider::scan`](datafusion::catalog::TableProvider::scan):
//! DataFusion reads statistics through synchronous calls
//! (`ExecutionPlan::statistics_from_inputs`), so `scan`, async and called only
//! for a plan that reads the table, is the last place the request can be
//! awaited; only plans that count rows and read no column send it. A
//! failed count is not hidden: it is logged at `warn` (`RUST_LOG`), with
//! the source, table and cause, and `EXPLAIN` prints the same line beside
//! the scan.
//!
//! ```
//! use connectkit_datafusion::register;
//! use datafusion::prelude::{SessionConfig, SessionContext};
//! # use std::sync::Arc;
//! # use arrow_array::{Int64Array, RecordBatch, StringArray};
//! # use arrow_schema::{DataType, Field, Schema, SchemaRef};
//! # use connectkit_core::*;
//! # /// A one-table source, as a REST API would be.
//! # #[derive(Debug)]
//! # struct Cities;
//! # #[async_trait]
//! # impl Connector for Cities {
//! #     async fn tables(&self) -> Result<Vec<TableInfo>> { Ok(vec![TableInfo::new("cities")]) }
//! #     async fn schema(&self, _: &str) -> Result<SchemaRef> {
//! #         Ok(Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false),
//! #                                      Field::new("people", DataType::Int64, false)])))
//! #     }
//! #     async fn scan(&self, t: &str, r: ScanRequest) -> Result<Scan> {
//! #         let all = self.schema(t).await?;
//! #         let batch = RecordBatch::try_new(all.clone(), vec![
//! #             Arc::new(StringArray::from(vec!["Oslo", "Bergen", "Tromsø"])),
//! #             Arc::new(Int64Array::from(vec![717_710, 291_940, 78_745]))]).unwrap();
//! #         let idx: Vec<usize> = r.projection.unwrap_or_else(|| vec!["name".into(), "people".into()])
//! #             .iter().map(|c| all.index_of(c).unwrap()).collect();
//! #         let batch = batch.project(&idx).unwrap();
//! #         Ok(Scan::new(batch.schema(), Box::pin(futures::stream::iter([Ok(batch)])))
//! #             .with_unapplied_filters(r.filters).with_limit_applied(false))
//! #     }
//! #     fn auth_flow(&self) -> Arc<dyn AuthFlow> { Arc::new(NoAuth) }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::error::Result<()> {
//! # let connector = Arc::new(Cities);
//! // `connector` is any connectkit connector, e.g. from a connection URL.
//! let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
//! register(&ctx, "geo", connector).await?;
//! let df = ctx
//!     .sql("SELECT name FROM geo.cities WHERE people > 100000 ORDER BY name")
//!     .await?;
//! let rows = df.collect().await?;
//! let names = rows[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
//! assert_eq!(names.iter().flatten().collect::<Vec<_>>(), ["Bergen", "Oslo"]);
//! # Ok(())
//! # }
//! ```
//!
//! # What reaches the source
//! - **Projection**: only the columns the query uses are in
//!   [`ScanRequest::projection`](connectkit_core::ScanRequest::projection).
//! - **Filters**: comparisons with literals, AND, OR, IN, `LIKE 'abc%'`,
//!   `LIKE '%abc%'` and `IS [NOT] NULL` become [`Filter`](connectkit_core::Filter)s
//!   ([`to_filter`]); DataFusion is told what the source answers in
//!   [`Connector::filter_support`]: `Exact` filters are not evaluated again,
//!   `Inexact` ones are, `Unsupported` ones stay in the engine only.
//! - **Limit**: passed on only when every pushed filter is `Exact`; the scan
//!   also stops pulling pages once the limit is reached. With inexact or
//!   engine-side filters, paging stops once the engine has enough rows, as
//!   long as nothing reads ahead: see [`session_config`].
//! - **Errors**: a connector error becomes [`DataFusionError::External`]
//!   with the [`connectkit_core::Error`] as its source.
//!
//! [Apache DataFusion]: https://datafusion.apache.org
//! [`TableProvider`]: datafusion::catalog::TableProvider

mod error;
mod exec;
mod expr;
mod schema;
mod sources;
mod table;

use std::sync::Arc;

use connectkit_core::Connector;
use datafusion::catalog::SchemaProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::{SessionConfig, SessionContext};

pub use datafusion;
pub use error::to_error;
pub use exec::ConnectorScanExec;
pub use expr::{literal, to_filter};
pub use schema::ConnectorSchema;
pub use sources::{Sources, is_source_name};
pub use table::ConnectorTable;

/// A session configuration suited to connector scans:
/// - round-robin repartitioning is off, because it reads a scan ahead of the
///   consumer, so `LIMIT` would no longer stop paging (hash repartitioning
///   for joins and aggregations stays);
/// - a literal such as `9990000.5` is an exact decimal, as standard SQL
///   reads it, not a `Float64`: compared with a `Decimal` column it stays a
///   decimal comparison the source can apply (`price ge 9990000.5`), where
///   a float would cast the column and push nothing.
pub fn session_config() -> SessionConfig {
    for_connectors(SessionConfig::new())
}

/// `config` with the settings of [`session_config`] applied.
pub fn for_connectors(mut config: SessionConfig) -> SessionConfig {
    let options = config.options_mut();
    options.optimizer.enable_round_robin_repartition = false;
    options.sql_parser.parse_float_as_decimal = true;
    config
}

/// Registers `connector`'s tables as the schema `name` of `ctx`'s default
/// catalog, so SQL names them `name.table`. Lists the tables now; schemas
/// are fetched when a query first names a table.
pub async fn register(
    ctx: &SessionContext,
    name: &str,
    connector: Arc<dyn Connector>,
) -> Result<()> {
    let schema = ConnectorSchema::new(name, connector)
        .await
        .map_err(external)?;
    register_schema(ctx, name, schema)
}

/// Registers a [`ConnectorSchema`] built by hand as the schema `name` of
/// `ctx`'s default catalog.
pub fn register_schema(ctx: &SessionContext, name: &str, schema: ConnectorSchema) -> Result<()> {
    let catalog_name = ctx.state().config_options().catalog.default_catalog.clone();
    let catalog = ctx.catalog(&catalog_name).ok_or_else(|| {
        DataFusionError::Configuration(format!("no default catalog {catalog_name}"))
    })?;
    let schema: Arc<dyn SchemaProvider> = Arc::new(schema);
    catalog.register_schema(name, schema)?;
    Ok(())
}

/// A connector error as DataFusion's, keeping it as the source.
pub(crate) fn external(e: connectkit_core::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

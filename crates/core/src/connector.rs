//! The [`Connector`] trait and the types of a scan.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use futures::Stream;

use crate::auth::AuthFlow;
use crate::error::Result;
use crate::filter::Filter;

/// The Arrow field metadata key holding a column's type as the source spells
/// it (`VarChar(64)`, `Edm.Decimal`), shared by every connector.
pub const TYPE_METADATA_KEY: &str = "connectkit.type";
/// The Arrow field metadata key marking a key column (value `true`).
pub const KEY_METADATA_KEY: &str = "connectkit.key";

/// The record batches of a scan, one or more per fetched page.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>;

/// A data source seen as tables.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    /// The tables this source offers.
    async fn tables(&self) -> Result<Vec<TableInfo>>;

    /// The columns of `table` (matched case-insensitively) as an Arrow schema.
    async fn schema(&self, table: &str) -> Result<SchemaRef>;

    /// Reads `table`. Batches arrive page by page, so memory is bounded by
    /// the page size rather than the table size.
    ///
    /// The limit is pushed to the source only when every filter is
    /// [`FilterSupport::Exact`]; otherwise the scan returns every row the
    /// source selects, the filters the caller must apply are in
    /// [`Scan::unapplied_filters`], [`Scan::limit_applied`] is false, and the
    /// caller stops reading once it has enough rows after filtering (the
    /// stream is lazy: pages are fetched only as batches are pulled).
    async fn scan(&self, table: &str, request: ScanRequest) -> Result<Scan>;

    /// How the source applies each of `filters` on `table`, answered before a
    /// scan and in the shape of DataFusion's `TableProviderFilterPushDown`.
    /// The default: none is applied. A table not known yet (schema not
    /// loaded) answers `Unsupported`, which is always safe.
    fn filter_support(&self, table: &str, filters: &[Filter]) -> Vec<FilterSupport> {
        let _ = table;
        vec![FilterSupport::Unsupported; filters.len()]
    }

    /// What a scan of `table` with `request` would ask of the source, in
    /// the source's own terms, one line each (OData query options and page
    /// size, say): shown by `EXPLAIN`. `schema` is the table's full schema.
    /// Nothing is sent. The default: no lines.
    fn describe_scan(&self, table: &str, schema: &Schema, request: &ScanRequest) -> Vec<String> {
        let _ = (table, schema, request);
        Vec::new()
    }

    /// The exact number of rows of `table` when the source can tell it
    /// without a scan (Dataverse's `/$count`), else `None`: the caller then
    /// counts by scanning. The default: `None`.
    async fn count(&self, table: &str) -> Result<Option<u64>> {
        let _ = table;
        Ok(None)
    }

    /// How a scan of `table` with `request` splits into independent
    /// partitions, at most `wanted` of them (the engine's parallelism; the
    /// connector also bounds it by its own `ScanPartitions`). Each partition
    /// is read by [`scan_partition`](Self::scan_partition) as a stream of its
    /// own; together they return exactly the rows of one [`scan`](Self::scan),
    /// each once, in no promised order across partitions.
    ///
    /// A connector may ask the source to plan them (Dataverse reads the
    /// bounds of the column it splits on), so planning a query, `EXPLAIN`
    /// included, may send requests. The default, and the answer wherever
    /// splitting cannot be proven exact (a limit, a source without known
    /// page addresses): one partition, the whole scan, without a request.
    async fn partitions(
        &self,
        table: &str,
        request: &ScanRequest,
        wanted: usize,
    ) -> Result<Vec<ScanPartition>> {
        let _ = (table, request, wanted);
        Ok(vec![ScanPartition::whole()])
    }

    /// Reads one partition of those [`partitions`](Self::partitions)
    /// returned for the same `table` and `request`. The default reads the
    /// whole scan, which is right for the default single partition.
    async fn scan_partition(
        &self,
        table: &str,
        request: ScanRequest,
        partition: &ScanPartition,
    ) -> Result<Scan> {
        let _ = partition;
        self.scan(table, request).await
    }

    /// The flow that authorizes this connector's requests.
    fn auth_flow(&self) -> Arc<dyn AuthFlow>;
}

/// One independent part of a scan (see [`Connector::partitions`]): its
/// place among the scan's partitions and what it reads, for `EXPLAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanPartition {
    /// This partition's number, from 0.
    pub index: usize,
    /// How many partitions the scan has.
    pub count: usize,
    /// What this partition reads, in the source's terms (`pages 1, 5, 9,
    /// ...`); empty for the whole scan.
    pub description: String,
    /// The connector's own account of what this partition reads, handed
    /// back to [`Connector::scan_partition`] (a key range, say); plain text,
    /// so that it can travel in a Flight ticket. Empty when `index` and
    /// `count` say it all.
    pub key: String,
}

impl ScanPartition {
    /// The single partition that reads the whole scan.
    pub fn whole() -> Self {
        Self {
            index: 0,
            count: 1,
            description: String::new(),
            key: String::new(),
        }
    }

    /// Partition `index` of `count`, described as `description`.
    pub fn new(index: usize, count: usize, description: impl Into<String>) -> Self {
        Self {
            index,
            count,
            description: description.into(),
            key: String::new(),
        }
    }

    /// Sets the connector's own account of the partition (see
    /// [`key`](Self::key)).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }
}

/// A table as listed by [`Connector::tables`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableInfo {
    /// The table name, as the source spells it.
    pub name: String,
    /// A short description, when the source gives one.
    pub description: Option<String>,
}

impl TableInfo {
    /// A table with no description.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
        }
    }

    /// Adds a description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// What to read: columns, row filters and a row limit.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ScanRequest {
    /// Columns to return, in this order; `None` for all.
    pub projection: Option<Vec<String>>,
    /// Row filters, all of which must hold.
    pub filters: Vec<Filter>,
    /// The most rows to return; paging stops once it is reached.
    pub limit: Option<usize>,
}

impl ScanRequest {
    /// All columns, all rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these columns.
    pub fn with_projection<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.projection = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// At most `limit` rows.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// How a source applies a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterSupport {
    /// The source returns exactly the rows that match.
    Exact,
    /// The source returns at least the rows that match (e.g. it compares
    /// strings case-insensitively); the caller filters again.
    Inexact,
    /// The source ignores the filter; the caller applies it.
    Unsupported,
}

/// The outcome of [`Connector::scan`]: the batches, and the filters the
/// source could not apply (the caller must apply those itself).
#[non_exhaustive]
pub struct Scan {
    /// The schema every batch has (after projection).
    pub schema: SchemaRef,
    /// The record batches.
    pub batches: BatchStream,
    /// Filters the caller must apply: those the source ignored and those it
    /// applied inexactly.
    pub unapplied_filters: Vec<Filter>,
    /// Whether the request's limit was applied by the source (only when
    /// every filter was applied exactly).
    pub limit_applied: bool,
}

impl Scan {
    /// A scan whose filters were all applied.
    pub fn new(schema: SchemaRef, batches: BatchStream) -> Self {
        Self {
            schema,
            batches,
            unapplied_filters: Vec::new(),
            limit_applied: true,
        }
    }

    /// Records filters the caller must apply.
    pub fn with_unapplied_filters(mut self, filters: Vec<Filter>) -> Self {
        self.unapplied_filters = filters;
        self
    }

    /// Records whether the source applied the limit.
    pub fn with_limit_applied(mut self, applied: bool) -> Self {
        self.limit_applied = applied;
        self
    }
}

impl fmt::Debug for Scan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scan")
            .field("schema", &self.schema)
            .field("unapplied_filters", &self.unapplied_filters)
            .field("limit_applied", &self.limit_applied)
            .finish_non_exhaustive()
    }
}

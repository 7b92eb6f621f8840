//! [`Dynamics365Connector`]: entity sets as tables.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow_schema::SchemaRef;
use async_trait::async_trait;
use connectkit_core::client::{PageRun, PagingLimits};
use connectkit_core::{
    AuthFlow, Connector, Error, ErrorKind, Filter, FilterSupport, Result, Scan, ScanPartition,
    ScanRequest, TableInfo, USER_WARNING,
};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::cache::{MetadataCache, fetch_metadata};
use crate::changes::{Changes, DeltaSpec};
use crate::error::Dynamics365Error;
use crate::http::{Api, JSON, TEXT};
use crate::labels::{Kind, attributes_url, parse_attributes, with_labels};
use crate::metadata::Metadata;
use crate::odata::encode_component;
use crate::odata::translate_filters;
use crate::partition::{Range, and, bound_url, choose, cuts, parse_bound};
use crate::scan::{PagesSpec, first_url, pages};
use crate::types::{Column, schema_of};

/// A Dataverse Web API as tables: one per entity set.
///
/// Built by [`Dynamics365DataSource::build`](crate::Dynamics365DataSource::build)
/// or through the [`Registry`](connectkit_core::Registry) (see [`register`](crate::register)).
/// `$metadata` is fetched once, on the first [`Connector::schema`] or
/// [`Connector::scan`], and cached for the connector's life.
pub struct Dynamics365Connector {
    api: Api,
    flow: Arc<dyn AuthFlow>,
    page_size: u32,
    limits: PagingLimits,
    /// `IncludeFormattedValues`: label columns beside value columns.
    labels: bool,
    /// `PartitionColumn`: the column scans are split on, where the table has it.
    partition_column: Option<String>,
    /// `MetadataCache`/`MetadataCacheDir`: where `$metadata` is kept.
    cache: Option<MetadataCache>,
    metadata: OnceCell<Arc<Metadata>>,
    /// The labelled attributes of each entity set read so far.
    kinds: Mutex<HashMap<String, Arc<HashMap<String, Kind>>>>,
}

impl Dynamics365Connector {
    pub(crate) fn new(
        api: Api,
        flow: Arc<dyn AuthFlow>,
        page_size: u32,
        limits: PagingLimits,
        labels: bool,
        cache: Option<MetadataCache>,
        partition_column: Option<String>,
    ) -> Self {
        Self {
            api,
            flow,
            page_size,
            limits,
            labels,
            partition_column,
            cache,
            metadata: OnceCell::new(),
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// The Web API root requests go to, ending in `/`.
    pub fn service_url(&self) -> &url::Url {
        &self.api.base
    }

    /// The `odata.maxpagesize` asked for on scans.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The changes of `table` since `token` (a `$deltatoken` from an earlier
    /// call's [`ChangeSummary`](crate::ChangeSummary)), or all its rows and
    /// a first token when `token` is `None`, through Dataverse change
    /// tracking (`Prefer: odata.track-changes`, `@odata.deltaLink`,
    /// `$deletedEntity`). A table without change tracking is a
    /// [`Dynamics365Error::ChangeTrackingNotEnabled`] naming it, from the
    /// batches.
    pub async fn changes(&self, table: &str, token: Option<&str>) -> Result<Changes> {
        let (set, columns) = self.table(table).await?;
        crate::changes::changes(
            self.api.client.clone(),
            DeltaSpec {
                table: set,
                columns,
                base: self.api.base.clone(),
                token: token.map(str::to_owned),
                page_size: self.page_size,
                annotations: self.labels,
                run: self.page_run(None),
            },
        )
    }

    /// A paging run with the connection's paging limits (`MaxPages`,
    /// `MaxEmptyPages`, `MaxConcurrentRequests`): scans and change
    /// requests page alike.
    fn page_run(&self, limit: Option<usize>) -> PageRun {
        PageRun::new(limit).with_limits(self.limits.clone())
    }

    async fn metadata(&self) -> Result<&Arc<Metadata>> {
        self.metadata
            .get_or_try_init(|| async {
                let url = self.api.base.join("$metadata").map_err(|e| {
                    Dynamics365Error::config("ServiceURL", format!("cannot address $metadata: {e}"))
                })?;
                let (xml, validators) =
                    fetch_metadata(&self.api, self.cache.as_ref(), &url).await?;
                let md = Metadata::parse(xml)?;
                // Only a document that is CSDL is worth keeping.
                if let (Some(cache), Some((etag, modified))) = (&self.cache, validators) {
                    cache.store(&self.api.base, md.text(), etag, modified);
                }
                Ok::<_, Error>(Arc::new(md))
            })
            .await
    }

    /// The entity set called `table` (its entity set or logical name, any
    /// case) and its columns, label columns included when asked for.
    pub(crate) async fn table(&self, table: &str) -> Result<(String, Vec<Column>)> {
        let md = self.metadata().await?;
        let set = md.find_set(table).ok_or_else(|| Error::TableNotFound {
            name: table.to_owned(),
            known: md.entity_sets().map(str::to_owned).collect(),
        })?;
        let columns = md.columns(set)?;
        if !self.labels {
            return Ok((set.to_owned(), columns));
        }
        let kinds = self.attribute_kinds(md, set).await?;
        Ok((set.to_owned(), with_labels(columns, &kinds)))
    }

    /// The labelled attributes of `set`, read once per connector.
    async fn attribute_kinds(
        &self,
        md: &Metadata,
        set: &str,
    ) -> Result<Arc<HashMap<String, Kind>>> {
        let cached = match self.kinds.lock() {
            Ok(k) => k.get(set).cloned(),
            Err(_) => None,
        };
        if let Some(kinds) = cached {
            return Ok(kinds);
        }
        let logical = md.logical_name(set).unwrap_or(set);
        let url = attributes_url(&self.api.base, logical)?;
        let body = self.api.get(&url, JSON).await?;
        let kinds = Arc::new(parse_attributes(set, &body)?);
        if let Ok(mut k) = self.kinds.lock() {
            k.insert(set.to_owned(), kinds.clone());
        }
        Ok(kinds)
    }
}

/// Dataverse counts rows "up to 5,000": a `/$count` of this or more is a
/// floor, not a count, and `count(*)` falls back to a scan.
pub const COUNT_CAP: u64 = 5000;

/// At most 80 characters of `text`, for messages.
fn excerpt(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The Arrow schema of every entity set in a CSDL `$metadata` document,
/// derived as [`Connector::schema`] does, without any HTTP: for offline
/// schema work, tests and fuzzing.
///
/// ```
/// let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
///   <edmx:DataServices><Schema Namespace="NS" xmlns="http://docs.oasis-open.org/odata/ns/edm">
///     <EntityType Name="account"><Key><PropertyRef Name="accountid"/></Key>
///       <Property Name="accountid" Type="Edm.Guid" Nullable="false"/>
///       <Property Name="revenue" Type="Edm.Decimal" Precision="19" Scale="4"/></EntityType>
///     <EntityContainer Name="C"><EntitySet Name="accounts" EntityType="NS.account"/></EntityContainer>
///   </Schema></edmx:DataServices></edmx:Edmx>"#;
/// let schemas = connectkit_dynamics365::schemas_from_csdl(xml)?;
/// assert_eq!(schemas[0].0, "accounts");
/// assert_eq!(schemas[0].1.fields().len(), 2);
/// # Ok::<(), connectkit_dynamics365::Dynamics365Error>(())
/// ```
pub fn schemas_from_csdl(
    xml: &str,
) -> std::result::Result<Vec<(String, SchemaRef)>, Dynamics365Error> {
    let md = Metadata::parse(xml)?;
    md.entity_sets()
        .map(|set| Ok((set.to_owned(), schema_of(&md.columns(set)?))))
        .collect()
}

fn find_column<'c>(columns: &'c [Column], table: &str, name: &str) -> Result<&'c Column> {
    columns
        .iter()
        .find(|c| c.name == name)
        .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
        .ok_or_else(|| Error::ColumnNotFound {
            table: table.to_owned(),
            column: name.to_owned(),
        })
}

#[derive(Deserialize)]
struct ServiceDocument {
    value: Vec<ServiceEntry>,
}

#[derive(Deserialize)]
struct ServiceEntry {
    name: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[async_trait]
impl Connector for Dynamics365Connector {
    /// The OData query options a scan sends and its page size
    /// (`Prefer: odata.maxpagesize`), as [`crate::odata_request`] gives them.
    fn describe_scan(
        &self,
        _table: &str,
        schema: &arrow_schema::Schema,
        request: &ScanRequest,
    ) -> Vec<String> {
        crate::odata::odata_request(schema, request, self.page_size())
    }

    /// The entity sets of the service document (`GET ServiceURL`): entries
    /// whose `kind` is `EntitySet` or absent (the OData default).
    async fn tables(&self) -> Result<Vec<TableInfo>> {
        let body = self.api.get(&self.api.base, JSON).await?;
        let doc: ServiceDocument =
            serde_json::from_str(&body).map_err(|e| Dynamics365Error::InvalidResponse {
                what: "service document".into(),
                message: format!("expected {{\"value\": [...]}}: {e}"),
            })?;
        Ok(doc
            .value
            .into_iter()
            .filter(|e| e.kind.as_deref().is_none_or(|k| k == "EntitySet"))
            .map(|e| match e.title {
                Some(t) if t != e.name => TableInfo::new(e.name).with_description(t),
                _ => TableInfo::new(e.name),
            })
            .collect())
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        let (_, columns) = self.table(table).await?;
        Ok(schema_of(&columns))
    }

    /// `GET <set>?$select=..&$filter=..&$top=..`, then `@odata.nextLink`
    /// page by page. Filters that OData cannot express for the column's type
    /// come back in [`Scan::unapplied_filters`].
    async fn scan(&self, table: &str, request: ScanRequest) -> Result<Scan> {
        self.scan_range(table, request, None).await
    }

    /// Splits a scan into ranges of `createdon` (or `PartitionColumn`), at
    /// most `wanted` and `ScanPartitions` of them, after reading the
    /// column's bounds among the rows the filters select (two one-row
    /// requests; see the crate docs, *Partitions*). One partition with a
    /// limit, without such a column, when the rows hold fewer distinct
    /// values than partitions, or when the server cannot answer the bounds
    /// (a warning says why).
    async fn partitions(
        &self,
        table: &str,
        request: &ScanRequest,
        wanted: usize,
    ) -> Result<Vec<ScanPartition>> {
        let whole = || Ok(vec![ScanPartition::whole()]);
        let count = wanted.min(self.limits.scan_partitions);
        if count <= 1 || request.limit.is_some() {
            return whole();
        }
        let (set, columns) = self.table(table).await?;
        let Some(split) = choose(&columns, &set, self.partition_column.as_deref())? else {
            return whole();
        };
        let (filter, _) = translate_filters(&request.filters, &columns);
        let (set_ref, split_ref, filter) = (&set, &split, filter.as_deref());
        let bound = |descending| async move {
            let url = bound_url(&self.api.base, set_ref, split_ref, filter, descending)?;
            let body = self.api.get(&url, JSON).await?;
            Ok::<_, Error>(parse_bound(&body, set_ref, split_ref)?)
        };
        let bounds = futures::try_join!(bound(false), bound(true));
        let (lo, hi) = match bounds {
            Ok((Some(lo), Some(hi))) => (lo, hi),
            // No row has a value: nothing to split.
            Ok(_) => return whole(),
            // A server that cannot order or filter on the column (a virtual
            // table, say) still answers the scan itself.
            Err(e) if matches!(e.kind(), ErrorKind::Api | ErrorKind::Protocol) => {
                tracing::warn!(
                    target: USER_WARNING,
                    "table {set}: reading one partition, since the bounds of {} could not be read: {}",
                    split.column.name,
                    connectkit_core::Report(&e)
                );
                return whole();
            }
            Err(e) => return Err(e),
        };
        let Some(ranges) = Range::split(&split, &cuts(lo, hi, count)) else {
            return whole();
        };
        if ranges.len() <= 1 {
            return whole();
        }
        let n = ranges.len();
        Ok(ranges
            .iter()
            .enumerate()
            .map(|(i, r)| ScanPartition::new(i, n, r.predicate()).with_key(r.key()))
            .collect())
    }

    /// One range of a split scan (its key says which), or the whole scan.
    async fn scan_partition(
        &self,
        table: &str,
        request: ScanRequest,
        partition: &ScanPartition,
    ) -> Result<Scan> {
        if partition.key.is_empty() {
            return self.scan(table, request).await;
        }
        let (set, columns) = self.table(table).await?;
        let range = Range::from_key(&partition.key, &columns, &set)?;
        self.scan_range(table, request, Some((&range, partition.count)))
            .await
    }

    /// `GET <set>/$count`, exact below Dataverse's cap ([`COUNT_CAP`]: the
    /// server counts "up to 5,000"); a count at the cap is `None`, so the
    /// caller counts by scanning.
    async fn count(&self, table: &str) -> Result<Option<u64>> {
        let md = self.metadata().await?;
        let set = md.find_set(table).ok_or_else(|| Error::TableNotFound {
            name: table.to_owned(),
            known: md.entity_sets().map(str::to_owned).collect(),
        })?;
        let url = self
            .api
            .base
            .join(&format!("{}/$count", encode_component(set)))
            .map_err(|e| {
                Dynamics365Error::config("ServiceURL", format!("cannot address {set}/$count: {e}"))
            })?;
        let body = self.api.get(&url, TEXT).await?;
        let n: u64 = body
            .trim()
            .trim_start_matches('\u{feff}')
            .parse()
            .map_err(|_| Dynamics365Error::InvalidResponse {
                what: format!("table {set}"),
                message: format!("$count is not a number: {:?}", excerpt(&body)),
            })?;
        Ok((n < COUNT_CAP).then_some(n))
    }

    /// Answered from the `$metadata` already loaded (by `schema` or `tables`);
    /// before that, every filter is `Unsupported`.
    fn filter_support(&self, table: &str, filters: &[Filter]) -> Vec<FilterSupport> {
        let unsupported = || vec![FilterSupport::Unsupported; filters.len()];
        let Some(metadata) = self.metadata.get() else {
            return unsupported();
        };
        let columns = metadata
            .find_set(table)
            .and_then(|set| metadata.columns(set).ok());
        match columns {
            Some(columns) => translate_filters(filters, &columns).1,
            None => unsupported(),
        }
    }

    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        self.flow.clone()
    }
}

impl Dynamics365Connector {
    /// A scan of `table`, or of one `range` of `count` ranges of it.
    async fn scan_range(
        &self,
        table: &str,
        request: ScanRequest,
        range: Option<(&Range, usize)>,
    ) -> Result<Scan> {
        let (set, columns) = self.table(table).await?;
        let selected: Option<Vec<Column>> = match &request.projection {
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| find_column(&columns, &set, n).cloned())
                    .collect::<Result<_>>()?,
            ),
            None => None,
        };
        for f in &request.filters {
            find_column(&columns, &set, &f.column)?;
        }
        let (filter, support) = translate_filters(&request.filters, &columns);
        let all_exact = support.iter().all(|s| *s == FilterSupport::Exact);
        // "First N rows, then the caller filters" is not "first N matching
        // rows": the limit goes to the server only when it filters exactly.
        let limit = request.limit.filter(|_| all_exact);
        let unapplied: Vec<Filter> = request
            .filters
            .iter()
            .zip(&support)
            .filter(|(_, s)| **s != FilterSupport::Exact)
            .map(|(f, _)| f.clone())
            .collect();
        let names: Option<Vec<&str>> = selected.as_ref().map(|cols| {
            if cols.is_empty() {
                // No columns wanted, only rows: ask for the key alone.
                let keys = columns.iter().filter(|c| c.key);
                keys.chain(columns.first())
                    .take(1)
                    .map(|c| c.name.as_str())
                    .collect()
            } else {
                // A property projected twice, or with its label, is selected once.
                let mut names: Vec<&str> = Vec::with_capacity(cols.len());
                for c in cols {
                    if !names.contains(&c.property()) {
                        names.push(c.property());
                    }
                }
                names
            }
        });
        // Dataverse: "Don't use $top with the Prefer: odata.maxpagesize
        // request header. If you include both, $top is ignored." A limit
        // that fits one page is `$top` alone; a larger one is paged with
        // page sizes that shrink to the rows still wanted.
        let top = limit.filter(|n| *n <= self.page_size as usize);
        // A range's predicate joins the user's filter: `(filter) and (range)`.
        let filter = match range {
            Some((r, _)) => Some(and(filter.as_deref(), &r.predicate())),
            None => filter,
        };
        let url = first_url(
            &self.api.base,
            &set,
            names.as_deref(),
            filter.as_deref(),
            top,
        )?;
        let columns = selected.unwrap_or(columns);
        let schema = schema_of(&columns);
        let mut run = self.page_run(limit);
        if let Some((_, count)) = range {
            // The ranges of a scan share MaxConcurrentRequests (and, through
            // the one client, its throttling: Retry-After and AIMD).
            run = run.with_limits(self.limits.for_partition(count));
        }
        let spec = PagesSpec {
            table: set,
            schema: schema.clone(),
            columns: Arc::new(columns),
            first: url,
            page_size: self.page_size,
            top: top.is_some(),
            annotations: self.labels,
        };
        let batches = pages(self.api.client.clone(), spec, run);
        Ok(Scan::new(schema, batches)
            .with_unapplied_filters(unapplied)
            .with_limit_applied(all_exact))
    }
}

impl fmt::Debug for Dynamics365Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dynamics365Connector")
            .field("service_url", &self.api.base.as_str())
            .field("page_size", &self.page_size)
            .field("flow", &self.flow)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::Dynamics365DataSource;

    /// Scans and change requests take their runs from `page_run`: the
    /// connection's paging properties, every one of them.
    #[test]
    fn runs_carry_the_connection_paging_limits() {
        let c = Dynamics365DataSource::new()
            .service_url("https://org.api.crm.dynamics.com/api/data/v9.2/")
            .client_id("client")
            .client_secret("secret")
            .token_uri("https://login.microsoftonline.com/common/oauth2/v2.0/token")
            .refresh_token("refresh")
            .property("MaxPages", "2")
            .property("MaxEmptyPages", "5")
            .property("MaxConcurrentRequests", "1")
            .build()
            .unwrap();
        for limit in [None, Some(10)] {
            let run = c.page_run(limit);
            assert_eq!(run.limit, limit);
            assert_eq!(run.limits.max_pages, 2);
            assert_eq!(run.limits.max_empty_pages, 5);
            assert_eq!(run.limits.max_concurrent_requests, 1);
        }
    }
}

//! [`AutoRestConnector`]: the tables of a model file or a sampled endpoint.

use std::fmt;
use std::sync::{Arc, Mutex};

use arrow_schema::SchemaRef;
use connectkit_core::client::{
    ApiClient, Body, CredentialScope, HttpRules, HttpService, PageRun, PagingLimits, RetryConfig,
};
use connectkit_core::{
    AuthFlow, Connector, Error, Filter, FilterSupport, Properties, Result, Scan, ScanPartition,
    ScanRequest, TableInfo, async_trait,
};
use tokio::sync::OnceCell;
use url::Url;

use crate::error::{AutoRestError, display_url, url_err};
use crate::http::client;
use crate::infer::sampling::UnsampledFieldPolicy;
use crate::infer::{infer_body, table_name_for};
use crate::model::{Entry, Model};
use crate::scan::NewFieldRule;
use crate::scan::{Stripe, scan_stream};
use crate::table::paging::{Paging, known_ahead, page_url};

use crate::table::{Endpoint, Rows, TableDef};

/// A connector for REST APIs: tables from a model file (`Config`) or from
/// sampling one endpoint (`Sample`). Build it with
/// [`AutoRestDataSource`](crate::AutoRestDataSource) or through the registry.
///
/// Endpoints are sampled once, on first use, and the result is cached for
/// the connector's life: [`Connector::schema`] and [`Connector::scan`] agree.
#[derive(Clone)]
pub struct AutoRestConnector {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    client: ApiClient,
    limits: PagingLimits,
    source: SourceKind,
    catalog: OnceCell<Vec<Arc<TableDef>>>,
    /// Pages that inference downloaded, by URL: the first scan of a table
    /// of that endpoint decodes them instead of downloading them again.
    first_pages: Mutex<Vec<Body>>,
    /// `ColumnDiscoverySampleSize`: rows sampled before the schema is fixed.
    sample_rows: usize,
    /// `UnsampledFieldPolicy`.
    unsampled: UnsampledFieldPolicy,
}

enum SourceKind {
    Sample {
        table: Option<String>,
        endpoint: Arc<Endpoint>,
    },
    Config(Model),
}

impl AutoRestConnector {
    /// Builds the connector from validated properties (see
    /// [`catalogue`](crate::catalogue)). Exactly one of Config and Sample must
    /// be set; a model file is read and checked now.
    pub fn from_properties(props: &Properties) -> Result<Self> {
        Self::with_client(props, None, None)
    }

    pub(crate) fn with_client(
        props: &Properties,
        api_client: Option<reqwest::Client>,
        service: Option<Arc<dyn HttpService>>,
    ) -> Result<Self> {
        let source = match (props.get_str("Config"), props.get_str("Sample")) {
            (Some(_), Some(_)) => return Err(AutoRestError::ConfigAndSample("both are set").into()),
            (None, None) => return Err(AutoRestError::ConfigAndSample("neither is set").into()),
            (Some(path), None) => {
                SourceKind::Config(crate::model::load(path, props.get_str("ServerName"))?)
            }
            (None, Some(sample)) => {
                let url = Url::parse(sample.trim()).map_err(|e| {
                    Error::invalid_property(
                        "Sample",
                        format!("an absolute URL ({e})"),
                        Some(sample),
                    )
                })?;
                SourceKind::Sample {
                    table: props.get_str("Table").map(str::to_owned),
                    endpoint: Arc::new(Endpoint {
                        url: url.to_string(),
                        headers: Vec::new(),
                        paging: Paging::default(),
                        // A sampled endpoint answering 404 is a mistyped URL,
                        // not an empty API: the shared rules make it an error.
                        http: HttpRules::standard(),
                        follow_links: true,
                        ..Endpoint::default()
                    }),
                }
            }
        };
        let (token_uri, scope) = match &source {
            SourceKind::Config(m) => (m.token_uri.as_deref(), m.scope.as_deref()),
            SourceKind::Sample { .. } => (None, None),
        };
        let auth = crate::auth::flow(props, token_uri, scope, service.as_ref())?;
        let scope = credential_scope(&source, auth.sends_credentials())?;
        let http = match api_client {
            Some(c) => c,
            None => client(props)?,
        };
        let mut client =
            ApiClient::new(http, auth, scope).with_retry(RetryConfig::from_properties(props)?);
        if let Some(service) = service {
            client = client.with_service(service);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                limits: PagingLimits::from_properties(props)?,
                source,
                catalog: OnceCell::new(),
                first_pages: Mutex::new(Vec::new()),
                sample_rows: crate::infer::sampling::sample_rows(props)?,
                unsampled: UnsampledFieldPolicy::from_properties(props)?,
            }),
        })
    }

    /// The pages inference downloaded from the endpoint whose first page is
    /// `first`, if no scan took them yet.
    fn take_sampled_pages(&self, first: &Url) -> Vec<Body> {
        let Ok(mut pages) = self.inner.first_pages.lock() else {
            return Vec::new();
        };
        if !pages.iter().any(|b| &b.url == first) {
            return Vec::new();
        }
        let same_endpoint =
            |b: &Body| b.url.origin() == first.origin() && b.url.path() == first.path();
        let (mine, others): (Vec<Body>, Vec<Body>) = pages.drain(..).partition(same_endpoint);
        *pages = others;
        mine
    }

    /// The number of pages the first page of `def` states, if inference
    /// sampled that page and no scan took it yet.
    fn sampled_pages(&self, def: &TableDef) -> Option<u64> {
        let first = crate::http::post::page_target(&def.endpoint, &Default::default()).ok()?;
        let pages = self.inner.first_pages.lock().ok()?;
        let body = pages.iter().find(|b| b.url == first)?;
        let value: serde_json::Value = serde_json::from_slice(&body.bytes).ok()?;
        crate::table::paging::declared_pages(&def.endpoint.paging, &value)
    }

    async fn catalog(&self) -> Result<&Vec<Arc<TableDef>>> {
        self.inner
            .catalog
            .get_or_try_init(|| async {
                let mut tables = Vec::new();
                match &self.inner.source {
                    SourceKind::Sample { table, endpoint } => {
                        let url =
                            Url::parse(&endpoint.url).map_err(|e| url_err(&endpoint.url, e))?;
                        let name = table.clone().unwrap_or_else(|| table_name_for(&url));
                        tables.extend(self.sample(&name, endpoint, &Rows::Auto).await?);
                    }
                    SourceKind::Config(model) => {
                        for entry in &model.entries {
                            match entry {
                                Entry::Declared(defs) => {
                                    tables.extend(defs.iter().map(|d| Arc::new(clone_def(d))));
                                }
                                Entry::Sampled {
                                    name,
                                    endpoint,
                                    rows,
                                } => tables.extend(self.sample(name, endpoint, rows).await?),
                            }
                        }
                    }
                }
                Ok::<_, Error>(tables)
            })
            .await
    }

    /// Fetches the first page of `endpoint` and infers its tables.
    async fn sample(
        &self,
        name: &str,
        endpoint: &Arc<Endpoint>,
        rows: &Rows,
    ) -> Result<Vec<Arc<TableDef>>> {
        let template = endpoint.url.as_str();
        let url = crate::http::post::page_target(endpoint, &Default::default())
            .map_err(|e| url_err(template, e))?;
        let sampled = crate::infer::sampling::sample(
            &self.inner.client,
            endpoint,
            name,
            rows,
            url.clone(),
            self.inner.sample_rows,
            self.inner.limits.max_pages,
        )
        .await?;
        if let Ok(mut pages) = self.inner.first_pages.lock() {
            pages.extend(sampled.pages);
        }
        let body = sampled.body;
        let tables =
            infer_body(name, endpoint, rows, &body).map_err(|path| AutoRestError::NoRows {
                url: display_url(&url),
                path,
            })?;
        Ok(tables.into_iter().map(Arc::new).collect())
    }

    async fn table(&self, name: &str) -> Result<Arc<TableDef>> {
        let tables = self.catalog().await?;
        tables
            .iter()
            .find(|t| t.name == name)
            .or_else(|| tables.iter().find(|t| t.name.eq_ignore_ascii_case(name)))
            .cloned()
            .ok_or_else(|| Error::TableNotFound {
                name: name.to_owned(),
                known: tables.iter().map(|t| t.name.clone()).collect(),
            })
    }
}

/// The table as a scan of the columns `projection` reads it: with
/// `#fieldListParameter`, the request names the fields those columns come
/// from (their top-level field), comma-separated, in column order.
fn with_field_list(def: Arc<TableDef>, projection: &[usize]) -> Arc<TableDef> {
    let Some(param) = &def.endpoint.paging.field_list_param else {
        return def;
    };
    if !def.levels.is_empty() {
        // A child table's fields are its elements', not the rows'.
        return def;
    }
    let mut fields: Vec<&str> = Vec::new();
    for &i in projection {
        if let crate::table::Source::Field(path) = &def.columns[i].source
            && let Some(first) = path.first()
            && !fields.contains(&first.as_str())
        {
            fields.push(first);
        }
    }
    if fields.is_empty() {
        return def;
    }
    let mut endpoint = (*def.endpoint).clone();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair(param, &fields.join(","));
    endpoint
        .url
        .push(if endpoint.url.contains('?') { '&' } else { '?' });
    endpoint.url.push_str(&query.finish());
    let mut out = clone_def(&def);
    out.endpoint = Arc::new(endpoint);
    out.watch_new_fields = def.watch_new_fields;
    out.child_arrays = def.child_arrays.clone();
    Arc::new(out)
}

fn clone_def(d: &TableDef) -> TableDef {
    let mut out = TableDef::new(
        d.name.clone(),
        d.endpoint.clone(),
        d.rows.clone(),
        d.levels.clone(),
        d.root_key.clone(),
        d.columns.clone(),
    );
    out.alternatives = d.alternatives.clone();
    out
}

/// The origins the configuration names: the Sample URL, or every URL of the
/// model file (after ServerName and `#hostname` are joined). Credentials
/// never go anywhere else, and only over https unless the host is loopback.
fn credential_scope(source: &SourceKind, credentials: bool) -> Result<CredentialScope> {
    let mut scope = CredentialScope::new();
    let mut allow = |endpoint: &Endpoint, property: &str| -> Result<()> {
        let url = page_url(&endpoint.url, &endpoint.paging, &Default::default())
            .map_err(|e| url_err(&endpoint.url, e))?;
        scope.allow(&url, property, credentials)?;
        Ok(())
    };
    match source {
        SourceKind::Sample { endpoint, .. } => allow(endpoint, "Sample")?,
        SourceKind::Config(model) => {
            for entry in &model.entries {
                match entry {
                    Entry::Declared(defs) => {
                        for d in defs {
                            allow(&d.endpoint, "Config")?;
                            for other in &d.alternatives {
                                allow(other, "Config")?;
                            }
                        }
                    }
                    Entry::Sampled { endpoint, .. } => allow(endpoint, "Config")?,
                }
            }
        }
    }
    Ok(scope)
}

#[async_trait]
impl Connector for AutoRestConnector {
    async fn tables(&self) -> Result<Vec<TableInfo>> {
        Ok(self
            .catalog()
            .await?
            .iter()
            .map(|t| TableInfo::new(t.name.clone()))
            .collect())
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        Ok(self.table(table).await?.schema.clone())
    }

    async fn scan(&self, table: &str, request: ScanRequest) -> Result<Scan> {
        self.scan_pages(table, request, None).await
    }

    /// Splits a scan by pages when every page's address and first row are
    /// known before the pages before it are read (offset or page-number
    /// paging with `#maximumPageSize`, no next links, no limit) and the
    /// pages state where the table ends (`#totalRowsElement` or
    /// `#totalPagesElement`). Without a stated end a stripe could not tell a
    /// page past it, which an API may answer with its last rows again, from
    /// a page of the table; one partition reads in page order and drops
    /// whatever it read ahead past the short page that ends it.
    async fn partitions(
        &self,
        table: &str,
        request: &ScanRequest,
        wanted: usize,
    ) -> Result<Vec<ScanPartition>> {
        let whole = || Ok(vec![ScanPartition::whole()]);
        let count = wanted.min(self.inner.limits.scan_partitions);
        if count <= 1 || request.limit.is_some() {
            return whole();
        }
        let def = self.table(table).await?;
        // Which endpoint a `#path` array reads is the scan's to say (and to
        // report when no endpoint fits).
        let Ok(def) = crate::inputs::choose_endpoint(&def, &request.filters) else {
            return whole();
        };
        let endpoint = &def.endpoint;
        let paging = &endpoint.paging;
        let split = !endpoint.follow_links
            && paging.max_page_size.is_some()
            && (paging.total_rows_element.is_some() || paging.total_pages_element.is_some())
            && known_ahead(paging, &endpoint.url);
        if !split {
            return whole();
        }
        // No more partitions than pages, when the sampled first page says.
        let count = match self.sampled_pages(&def) {
            Some(pages) => count.min(pages.max(1) as usize),
            None => count,
        };
        if count <= 1 {
            return whole();
        }
        Ok((0..count)
            .map(|i| {
                let description = format!(
                    "pages {}, {}, {}, ...",
                    i + 1,
                    i + 1 + count,
                    i + 1 + 2 * count
                );
                ScanPartition::new(i, count, description)
            })
            .collect())
    }

    async fn scan_partition(
        &self,
        table: &str,
        request: ScanRequest,
        partition: &ScanPartition,
    ) -> Result<Scan> {
        let stripe = (partition.count > 1).then_some(Stripe {
            index: partition.index as u64,
            count: partition.count as u64,
        });
        self.scan_pages(table, request, stripe).await
    }

    fn filter_support(&self, table: &str, filters: &[Filter]) -> Vec<FilterSupport> {
        let table = self.inner.catalog.get().and_then(|tables| {
            tables
                .iter()
                .find(|t| t.name == table)
                .or_else(|| tables.iter().find(|t| t.name.eq_ignore_ascii_case(table)))
        });
        match table.map(|t| crate::inputs::choose_endpoint(t, filters)) {
            Some(Ok(t)) => crate::inputs::plan(&t, filters).support,
            _ => vec![FilterSupport::Unsupported; filters.len()],
        }
    }

    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        self.inner.client.auth().clone()
    }
}

impl AutoRestConnector {
    /// A scan of `table`, the whole of it or the pages of one `stripe`.
    async fn scan_pages(
        &self,
        table: &str,
        request: ScanRequest,
        stripe: Option<Stripe>,
    ) -> Result<Scan> {
        let def = self.table(table).await?;
        // A `#path` array: the endpoint whose inputs the filters supply.
        let def = crate::inputs::choose_endpoint(&def, &request.filters)?;
        // Filters on input columns go to the API (path, body or query).
        let plan = crate::inputs::plan(&def, &request.filters);
        let unapplied = plan.unapplied(&request.filters);
        let def = crate::inputs::apply(&def, &plan)?;
        let projection = match &request.projection {
            None => None,
            Some(cols) => Some(
                cols.iter()
                    .map(|c| {
                        def.column_index(c).ok_or_else(|| Error::ColumnNotFound {
                            table: def.name.clone(),
                            column: c.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let schema = match &projection {
            Some(p) => Arc::new(def.schema.project(p).map_err(|e| AutoRestError::Arrow {
                table: def.name.clone(),
                message: e.to_string(),
            })?),
            None => def.schema.clone(),
        };
        // A field beyond the sample would add to the output only when the
        // scan outputs whole rows: no projection, or one of every column.
        let whole_rows = projection
            .as_ref()
            .is_none_or(|p| (0..def.columns.len()).all(|i| p.contains(&i)));
        let def = match &projection {
            Some(p) if !whole_rows => with_field_list(def, p),
            _ => def,
        };
        // A filter the API does not apply leaves the limit to the caller,
        // after filtering (see the scan contract).
        let limit = request.limit.filter(|_| unapplied.is_empty());
        let first = crate::http::post::page_target(&def.endpoint, &Default::default())
            .map_err(|e| url_err(&def.endpoint.url, e))?;
        let run = match stripe {
            // Partitions share MaxConcurrentRequests; the pages inference
            // downloaded stay for a scan that reads them in order.
            Some(s) => {
                PageRun::new(limit).with_limits(self.inner.limits.for_partition(s.count as usize))
            }
            None => PageRun::new(limit)
                .with_limits(self.inner.limits.clone())
                .with_prefetched(self.take_sampled_pages(&first)),
        };
        let rule = NewFieldRule {
            whole_rows,
            policy: self.inner.unsampled,
        };
        let batches = scan_stream(
            self.inner.client.clone(),
            def,
            projection,
            limit,
            run,
            rule,
            stripe,
        )?;
        let applied = limit.is_some() || request.limit.is_none();
        Ok(Scan::new(schema, batches)
            .with_unapplied_filters(unapplied)
            .with_limit_applied(applied))
    }
}

impl fmt::Debug for AutoRestConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AutoRestConnector");
        match &self.inner.source {
            SourceKind::Sample { endpoint, .. } => {
                let shown = endpoint
                    .url
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                d.field("sample", &shown)
            }
            SourceKind::Config(m) => d.field("config_tables", &m.entries.len()),
        };
        d.field("auth", self.inner.client.auth()).finish()
    }
}

//! 6. SQL through DataFusion over a Dataverse mock (`accounts`: a GUID key,
//!    a name, a `statecode` where 1% of rows are 0, a revenue):
//!    - `SELECT * FROM crm.accounts` through DataFusion against the same
//!      connector scan without DataFusion (rows/s, interleaved runs);
//!    - `SELECT count(*) ... WHERE statecode = 0` with the filter pushed into
//!      `$filter` against the same query with pushdown off: requests and
//!      bytes the server sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use connectkit_core::{
    AuthFlow, Connector, Result as CkResult, Scan, ScanRequest, TableInfo, arrow_schema::SchemaRef,
};
use connectkit_datafusion::datafusion::prelude::SessionContext;
use connectkit_dynamics365::Dynamics365DataSource;
use futures::{FutureExt, TryStreamExt};

use super::dataverse::{ROOT, common, csdl};
use super::rows::{check_rows, scan_rate};
use super::server::{Handler, Server, json, query_param, respond};
use super::{Measure, Row, Sizes, alternate, median};

const NAME: &str = "6 sql";
const FILTER: &str = "statecode eq 0";

/// Row `i`: every hundredth is active (`statecode` 0).
fn row(i: u64, out: &mut String) {
    use std::fmt::Write;
    let state = u8::from(!i.is_multiple_of(100));
    let _ = write!(
        out,
        r#"{{"accountid":"{:08x}-0000-0000-0000-{:012x}","name":"Account {i}","statecode":{state},"revenue":{}.5}}"#,
        i >> 48,
        i & 0xffff_ffff_ffff,
        i % 10_000
    );
}

/// Pages of `ids`, `page` rows each, next links carrying `query`.
fn pages(base: &str, ids: &[u64], page: usize, query: &str) -> Vec<Bytes> {
    let chunks: Vec<&[u64]> = ids.chunks(page).collect();
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(p, chunk)| {
            let mut body = String::from(r#"{"value":["#);
            for (k, i) in chunk.iter().enumerate() {
                if k > 0 {
                    body.push(',');
                }
                row(*i, &mut body);
            }
            body.push(']');
            if p + 1 < n {
                body.push_str(&format!(
                    r#","@odata.nextLink":"{base}{ROOT}accounts?{query}$skiptoken={}""#,
                    p + 1
                ));
            }
            body.push('}');
            Bytes::from(body)
        })
        .collect()
}

/// What the server sent for `accounts`.
#[derive(Default)]
pub(super) struct Traffic {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Traffic {
    fn take(&self) -> (u64, u64) {
        (
            self.requests.swap(0, Ordering::SeqCst),
            self.bytes.swap(0, Ordering::SeqCst),
        )
    }
}

/// The Dataverse mock: `$filter=statecode eq 0` is honoured (1% of rows),
/// any other query gets every row.
pub(super) fn start_server(rows: usize, page: usize) -> Result<(Server, Arc<Traffic>), String> {
    type Sets = (Vec<Bytes>, Vec<Bytes>);
    let sets = Arc::new(std::sync::OnceLock::<Sets>::new());
    let traffic = Arc::new(Traffic::default());
    let (slot, counter) = (Arc::clone(&sets), Arc::clone(&traffic));
    let metadata = csdl(&[
        ("name", "Edm.String"),
        ("statecode", "Edm.Int32"),
        ("revenue", "Edm.Double"),
    ]);
    let handler: Handler = Arc::new(move |req| {
        let path = req.uri().path();
        let response = if let Some(r) = common(path, &metadata) {
            r
        } else if path == format!("{ROOT}accounts") {
            let q = req.uri().query();
            let filtered =
                query_param(q, "$filter").is_some_and(|f| f.replace("%20", " ") == FILTER);
            let p: usize = query_param(q, "$skiptoken")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let body = slot
                .get()
                .and_then(|(all, active)| if filtered { active } else { all }.get(p).cloned())
                .unwrap_or_else(|| Bytes::from_static(br#"{"value":[]}"#));
            counter.requests.fetch_add(1, Ordering::SeqCst);
            counter.bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
            json(body)
        } else {
            respond(http::StatusCode::NOT_FOUND, "text/plain", Bytes::new())
        };
        async move { response }.boxed()
    });
    let server = Server::start(handler).map_err(|e| e.to_string())?;
    let base = server.url();
    let all: Vec<u64> = (0..rows as u64).collect();
    let active: Vec<u64> = all.iter().copied().filter(|i| i % 100 == 0).collect();
    let filter_query = format!("$filter={}&", FILTER.replace(' ', "%20"));
    let _ = sets.set((
        pages(&base, &all, page, ""),
        pages(&base, &active, page, &filter_query),
    ));
    Ok((server, traffic))
}

/// A fresh Dynamics 365 connection to the mock at `base`.
pub(super) fn connect(base: &str, page: usize) -> Result<Arc<dyn Connector>, String> {
    let c = Dynamics365DataSource::new()
        .service_url(format!("{base}{ROOT}"))
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("bench-refresh")
        .token_uri(format!("{base}/token"))
        .page_size(u32::try_from(page).unwrap_or(5_000))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(c))
}

/// The connector with pushdown off: every filter `Unsupported`, so the
/// engine filters every row.
#[derive(Debug)]
struct NoPushdown(Arc<dyn Connector>);

#[async_trait::async_trait]
impl Connector for NoPushdown {
    async fn tables(&self) -> CkResult<Vec<TableInfo>> {
        self.0.tables().await
    }
    async fn schema(&self, table: &str) -> CkResult<SchemaRef> {
        self.0.schema(table).await
    }
    async fn scan(&self, table: &str, request: ScanRequest) -> CkResult<Scan> {
        self.0.scan(table, request).await
    }
    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        self.0.auth_flow()
    }
}

/// A session with `connector` registered as `crm`.
pub(super) async fn session(connector: Arc<dyn Connector>) -> Result<SessionContext, String> {
    let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
    connectkit_datafusion::register(&ctx, "crm", connector)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ctx)
}

/// Rows/s of a plain connector scan.
async fn direct(c: &Arc<dyn Connector>, rows: usize) -> Result<f64, String> {
    scan_rate(c.as_ref(), "accounts", rows).await
}

/// Rows/s of `SELECT *` through DataFusion, batches counted as they stream.
async fn through_sql(ctx: &SessionContext, rows: usize) -> Result<f64, String> {
    let started = Instant::now();
    let df = ctx
        .sql("SELECT * FROM crm.accounts")
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = df.execute_stream().await.map_err(|e| e.to_string())?;
    let mut total = 0;
    while let Some(b) = stream.try_next().await.map_err(|e| e.to_string())? {
        total += b.num_rows();
    }
    check_rows(total, rows)?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn count_active(ctx: &SessionContext, rows: usize) -> Result<(), String> {
    let batches = ctx
        .sql("SELECT count(*) FROM crm.accounts WHERE statecode = 0")
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let count = batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<connectkit_core::arrow_array::Int64Array>()
                .map(|a| a.value(0))
        })
        .ok_or("count(*) returned no value")?;
    check_rows(usize::try_from(count).unwrap_or(0), rows.div_ceil(100))
}

/// Runs benchmark 6.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let (rows, page) = (sizes.dyn_rows, sizes.dyn_page);
    let (server, traffic) = start_server(rows, page)?;
    let base = server.url();
    let connector = connect(&base, page)?;
    connector
        .schema("accounts")
        .await
        .map_err(|e| e.to_string())?;
    let ctx = session(connector.clone()).await?;
    let (plain, sql) = alternate(
        sizes.rounds,
        || direct(&connector, rows),
        || through_sql(&ctx, rows),
    )
    .await?;
    let select = Row::info(
        NAME,
        format!("rows/s, SELECT * of {rows} rows x 4 columns\nthrough DataFusion, pages of {page}"),
        Measure::new(median(&sql), "rows/s"),
    )
    .baseline(
        "the same connector scan",
        Measure::new(median(&plain), "rows/s"),
    )
    .spread(&sql, &plain);
    let met = select.ratio.is_some_and(|r| r >= 0.9);

    traffic.take();
    count_active(&ctx, rows).await?;
    let (req_push, bytes_push) = traffic.take();
    let blind = session(Arc::new(NoPushdown(connector.clone()))).await?;
    count_active(&blind, rows).await?;
    let (req_all, bytes_all) = traffic.take();
    let kib = |b: u64| Measure::new(b as f64 / 1024.0, "KiB");
    Ok(vec![
        select.target("ratio >= 0.9", met),
        Row::info(
            NAME,
            format!(
                "requests, count(*) WHERE statecode = 0\n{rows} rows, 1% match, $filter pushed"
            ),
            Measure::new(req_push as f64, "requests"),
        )
        .baseline("pushdown off", Measure::new(req_all as f64, "requests")),
        Row::info(
            NAME,
            "bytes received, the same query".to_owned(),
            kib(bytes_push),
        )
        .baseline("pushdown off", kib(bytes_all)),
    ])
}

//! 8. Decode: the autorest and Dynamics 365 scans against the strongest Rust
//!    JSON-to-Arrow peer, arrow-json's `Decoder` (`ReaderBuilder::build_decoder`)
//!    fed the same page bytes with the same schema, and against the raw
//!    transfer (the same pages read as bytes, nothing parsed: the ceiling).
//!    All three read one page after another over the same loopback server
//!    (the connectors with `MaxConcurrentRequests=1`), so that they differ
//!    only in what they do with a page; runs are interleaved.
//!
//!    The Dataverse pages carry what Dataverse sends: an `@odata.context`,
//!    an `@odata.etag` annotation on every row, nulls, and a next link.
//!
//!    arrow-json decodes a stream of rows, so it is given each page whole
//!    with the rows' schema nested where they sit (`data` or `value`: a list
//!    of structs) and the rows are taken from that list without a copy.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_json::ReaderBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_autorest::AutoRestDataSource;
use connectkit_core::Connector;
use connectkit_dynamics365::Dynamics365DataSource;

use super::rows::{check_rows, count_rows};
use super::{Measure, Row, Sizes, dataverse, dynamics, median, scan};

const NAME: &str = "8 decode";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// What one way of reading the table does with each page.
#[derive(Clone, Copy)]
enum Reader {
    Connector,
    ArrowJson,
    Raw,
}

/// A page envelope holding the rows of `schema` as a list under `rows`,
/// and a next link when `next` is set.
fn envelope(schema: &SchemaRef, rows: &str, next: Option<&str>) -> SchemaRef {
    let item = Field::new_list_field(DataType::Struct(schema.fields().clone()), true);
    let mut fields = vec![Field::new(rows, DataType::List(Arc::new(item)), true)];
    if let Some(n) = next {
        fields.push(Field::new(n, DataType::Utf8, true));
    }
    Arc::new(Schema::new(fields))
}

/// Decodes one page with arrow-json; the rows as a batch of `schema`, and
/// the envelope's next link when it has one.
fn arrow_json_page(
    decoder: &mut arrow_json::reader::Decoder,
    bytes: &[u8],
) -> Result<(RecordBatch, Option<String>), String> {
    decoder.decode(bytes).map_err(err)?;
    let page = decoder.flush().map_err(err)?.ok_or("an empty page")?;
    let rows = page.column(0).as_list::<i32>().values().as_struct().clone();
    let next = page
        .columns()
        .get(1)
        .map(|c| c.as_string::<i32>())
        .filter(|c| c.is_valid(0))
        .map(|c| c.value(0).to_owned());
    Ok((RecordBatch::from(rows), next))
}

/// The autorest table (offset paging, `{"data": [...]}` pages); rows/s.
async fn autorest(
    how: Reader,
    http: &reqwest::Client,
    model: &str,
    base: &str,
    (rows, page): (usize, usize),
) -> Result<f64, String> {
    let c = AutoRestDataSource::new()
        .config(model)
        .max_concurrent_requests(1)
        .build()
        .map_err(err)?;
    let schema = envelope(&c.schema("rows").await.map_err(err)?, "data", None);
    let started = Instant::now();
    let total = match how {
        Reader::Connector => count_rows(&c, "rows").await?,
        Reader::ArrowJson | Reader::Raw => {
            let mut decoder = ReaderBuilder::new(schema).build_decoder().map_err(err)?;
            let (mut offset, mut total) = (0, 0);
            while offset < rows {
                let url = format!("{base}/t/{rows}?limit={page}&offset={offset}");
                let body = http.get(url).send().await.map_err(err)?;
                let bytes = body.bytes().await.map_err(err)?;
                let n = match how {
                    Reader::ArrowJson => arrow_json_page(&mut decoder, &bytes)?.0.num_rows(),
                    _ => page.min(rows - offset),
                };
                total += n;
                offset += page;
            }
            total
        }
    };
    check_rows(total, rows)?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The Dynamics 365 entity set (`@odata.nextLink` pages); rows/s.
async fn d365(
    how: Reader,
    http: &reqwest::Client,
    base: &str,
    (rows, page): (usize, usize),
) -> Result<f64, String> {
    let c = Dynamics365DataSource::new()
        .service_url(format!("{base}{}", dataverse::ROOT))
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("bench-refresh")
        .token_uri(format!("{base}/token"))
        .page_size(u32::try_from(page).unwrap_or(5_000))
        .property("MaxConcurrentRequests", "1")
        .build()
        .map_err(err)?;
    let rows_schema = c.schema("accounts").await.map_err(err)?;
    let schema = envelope(&rows_schema, "value", Some("@odata.nextLink"));
    let first = format!("{base}{}accounts", dataverse::ROOT);
    let started = Instant::now();
    let total = match how {
        Reader::Connector => count_rows(&c, "accounts").await?,
        Reader::ArrowJson => {
            let mut decoder = ReaderBuilder::new(schema).build_decoder().map_err(err)?;
            let (mut url, mut total) = (Some(first), 0);
            while let Some(u) = url {
                let bytes = http.get(u).send().await.map_err(err)?.bytes().await;
                let (batch, next) = arrow_json_page(&mut decoder, &bytes.map_err(err)?)?;
                total += batch.num_rows();
                url = next;
            }
            total
        }
        Reader::Raw => {
            let mut total = 0;
            while total < rows {
                let url = if total == 0 {
                    first.clone()
                } else {
                    format!("{first}?$skiptoken={total}")
                };
                http.get(url)
                    .send()
                    .await
                    .map_err(err)?
                    .bytes()
                    .await
                    .map_err(err)?;
                total += page.min(rows - total);
            }
            total
        }
    };
    check_rows(total, rows)?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

const ORDER: [Reader; 3] = [Reader::Connector, Reader::ArrowJson, Reader::Raw];

/// The rows of one connector: against arrow-json (target: >= 1.2, the
/// lowest interleaved pair >= 1.0, so that a lead within the run's noise
/// does not pass) and against the raw transfer (the fraction of the ceiling).
fn rows_for(what: String, runs: &[Vec<f64>; 3]) -> Vec<Row> {
    let m = |v: &[f64]| Measure::new(median(v), "rows/s");
    let vs_arrow = Row::info(NAME, what.clone(), m(&runs[0]))
        .baseline("arrow-json Decoder, same pages and schema", m(&runs[1]))
        .spread(&runs[0], &runs[1]);
    let met = vs_arrow.ratio.is_some_and(|r| r >= 1.2)
        && vs_arrow.spread.is_some_and(|(lo, _)| lo >= 1.0);
    vec![
        vs_arrow.target("ratio >= 1.2, lowest >= 1.0", met),
        Row::info(
            NAME,
            format!("{what}\n(fraction of the ceiling)"),
            m(&runs[0]),
        )
        .baseline("raw transfer: the same pages as bytes", m(&runs[2]))
        .spread(&runs[0], &runs[2]),
    ]
}

/// Runs benchmark 8.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let http = connectkit_core::client::http_client().expect("HTTP client");
    let (rows, page) = (sizes.scan_rows, sizes.scan_page);
    let server = scan::start_server(rows, page)?;
    let base = server.url();
    let dir = tempfile::tempdir().map_err(err)?;
    let model = scan::write_model(dir.path(), &base, rows, page)?;
    let mut runs: [Vec<f64>; 3] = Default::default();
    for round in 0..sizes.rounds.max(1) {
        for k in 0..3 {
            let i = (round + k) % 3;
            runs[i].push(autorest(ORDER[i], &http, &model, &base, (rows, page)).await?);
        }
    }
    let mut out = rows_for(
        format!("rows/s, autorest, {rows} rows x 10 columns\npages of {page}, one at a time"),
        &runs,
    );
    drop(server);

    let (rows, page) = (sizes.dyn_rows, sizes.dyn_page);
    let server = dynamics::start_server(rows, page)?;
    let base = server.url();
    let mut runs: [Vec<f64>; 3] = Default::default();
    for round in 0..sizes.rounds.max(1) {
        for k in 0..3 {
            let i = (round + k) % 3;
            runs[i].push(d365(ORDER[i], &http, &base, (rows, page)).await?);
        }
    }
    out.extend(rows_for(
        format!("rows/s, dynamics365, {rows} rows x 11 columns\npages of {page}, one at a time"),
        &runs,
    ));
    Ok(out)
}

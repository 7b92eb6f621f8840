//! `COPY (SELECT ...) TO 'file'`: the query's batches streamed into a
//! Parquet (Snappy), CSV or JSON-lines file as they arrive.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::RecordBatch;
use connectkit_core::{Error, ErrorKind};
use connectkit_datafusion::datafusion::physical_plan::SendableRecordBatchStream;
use connectkit_datafusion::datafusion::sql::parser::CopyToStatement;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::df_error;

/// Rows per Parquet row group: the writer holds one group in memory, so
/// this bounds the memory of a COPY whatever the table's size.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// A file format COPY writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, Snappy-compressed.
    Parquet,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
}

impl Format {
    fn named(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "parquet" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Where a COPY writes, and how.
#[derive(Debug)]
pub struct Target {
    path: PathBuf,
    format: Format,
}

fn bad(expected: &str, found: &str) -> Error {
    Error::invalid_property("COPY", expected, Some(found))
}

impl Target {
    /// The target of `copy`: a local path, its format from `STORED AS` or
    /// the file's extension. Partitioning and format options are refused
    /// rather than ignored.
    pub fn of(copy: &CopyToStatement) -> Result<Self, Error> {
        if !copy.partitioned_by.is_empty() {
            return Err(bad("no PARTITIONED BY", &copy.partitioned_by.join(", ")));
        }
        if let Some((key, _)) = copy.options.first() {
            return Err(bad("no OPTIONS (Parquet is written with Snappy)", key));
        }
        let target = copy.target.as_str();
        if target.contains("://") {
            return Err(bad("a local file path", target));
        }
        let path = PathBuf::from(target);
        let format = match &copy.stored_as {
            Some(s) => Format::named(s).ok_or_else(|| bad("STORED AS PARQUET, CSV or JSON", s))?,
            None => path
                .extension()
                .and_then(|e| e.to_str())
                .and_then(Format::named)
                .ok_or_else(|| {
                    bad(
                        "a file ending in .parquet, .csv or .json (or STORED AS)",
                        target,
                    )
                })?,
        };
        Ok(Self { path, format })
    }

    /// Streams `batches` into the file and returns the rows written. The
    /// file appears only when complete: rows go to a temporary file beside
    /// it, renamed at the end.
    pub async fn write(self, mut batches: SendableRecordBatchStream) -> Result<u64, Error> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_err = |e: std::io::Error| file_error(&self.path, e);
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(file_err)?;
        let out = BufWriter::new(tmp.as_file().try_clone().map_err(file_err)?);
        let mut writer = Writer::new(self.format, out, batches.schema())?;
        let bar = progress();
        let started = Instant::now();
        let mut rows = 0u64;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(df_error)?;
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
            let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{rows} rows written, {rate:.0} rows/s"));
            bar.tick();
        }
        writer.finish()?;
        bar.finish_and_clear();
        tmp.persist(&self.path).map_err(|e| file_err(e.error))?;
        Ok(rows)
    }
}

fn file_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    #[derive(Debug, thiserror::Error)]
    #[error("COPY to {path}: {source}")]
    struct CopyError {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    }
    Error::connector(
        ErrorKind::Other,
        CopyError {
            path: path.display().to_string(),
            source: Box::new(e),
        },
    )
}

fn progress() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar
}

type Out = BufWriter<File>;

enum Writer {
    Parquet(Box<ArrowWriter<Out>>),
    /// The same CSV as `query --format csv`: a null and an empty string stay apart.
    Csv(Box<(crate::csv::CsvRows, Out, arrow_schema::SchemaRef)>),
    Json(Box<arrow_json::LineDelimitedWriter<Out>>),
}

fn arrow_err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::connector(ErrorKind::Other, e)
}

impl Writer {
    fn new(format: Format, out: Out, schema: arrow_schema::SchemaRef) -> Result<Self, Error> {
        Ok(match format {
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    .build();
                Self::Parquet(Box::new(
                    ArrowWriter::try_new(out, schema, Some(props)).map_err(arrow_err)?,
                ))
            }
            Format::Csv => Self::Csv(Box::new((crate::csv::CsvRows::new(), out, schema))),
            Format::Json => Self::Json(Box::new(arrow_json::LineDelimitedWriter::new(out))),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        match self {
            Self::Parquet(w) => w.write(batch).map_err(arrow_err),
            Self::Csv(w) => {
                let (rows, out, schema) = &mut **w;
                rows.write(out, schema, batch).map_err(arrow_err)
            }
            Self::Json(w) => w.write(batch).map_err(arrow_err),
        }
    }

    fn finish(self) -> Result<(), Error> {
        let mut out = match self {
            Self::Parquet(w) => w.into_inner().map_err(arrow_err)?,
            Self::Csv(w) => {
                let (rows, mut out, schema) = *w;
                rows.finish(&mut out, &schema).map_err(arrow_err)?;
                out
            }
            Self::Json(mut w) => {
                w.finish().map_err(arrow_err)?;
                w.into_inner()
            }
        };
        out.flush().map_err(arrow_err)
    }
}

//! `connectkit changes`: Dataverse change tracking from the terminal. The
//! rows created or updated since a token are printed with a leading
//! `$change` column (`changed`), followed by one row per deleted id
//! (`deleted`, only the key column set); the next token goes to standard
//! error (`token: <T>`) or, with `--state FILE`, into that file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::{BatchStream, ConnectionUrl, Error, ErrorKind, Scan};
use connectkit_dynamics365::{ChangeSummary, Changes, Dynamics365DataSource, SUBPROTOCOL};
use futures::{StreamExt, TryStreamExt};

use crate::{RowFormat, input, output};

/// The column that says what happened to a row.
pub const CHANGE_COLUMN: &str = "$change";

/// The arguments of `connectkit changes`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A dynamics365 connection URL, `@PATH` to read it from a file, or `-`
    /// for standard input.
    url: String,
    /// The table: entity set or logical name, any case.
    table: String,
    /// The delta token of an earlier run; without it (and without a state
    /// file holding one) every row is returned with a first token.
    #[arg(long)]
    token: Option<String>,
    /// A file holding the token: read when --token is absent (a missing file
    /// means a first run), replaced atomically with the next token.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RowFormat::Table)]
    format: RowFormat,
}

fn file_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::invalid_property(
        "--state",
        format!("a file the token can be {what} ({e})"),
        Some(&path.display().to_string()),
    )
}

fn read_state(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(path, "read from", e)),
    }
}

/// Writes beside the file and renames it over, so that a crash never
/// leaves half a token.
fn write_state(path: &Path, token: &str) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| file_error(path, "written to", e))?;
    writeln!(tmp, "{token}").map_err(|e| file_error(path, "written to", e))?;
    tmp.persist(path)
        .map_err(|e| file_error(path, "written to", e.error))?;
    Ok(())
}

/// Every field nullable, after a leading `$change` column: deleted rows
/// carry only their key.
fn printed_schema(schema: &Schema) -> SchemaRef {
    let mut fields = vec![Field::new(CHANGE_COLUMN, DataType::Utf8, false)];
    fields.extend(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true)),
    );
    Arc::new(Schema::new(fields))
}

fn changed(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch, Error> {
    let marks: ArrayRef = Arc::new(StringArray::from(vec!["changed"; batch.num_rows()]));
    let columns = std::iter::once(marks).chain(batch.columns().iter().cloned());
    RecordBatch::try_new(schema.clone(), columns.collect())
        .map_err(|e| Error::connector(ErrorKind::Other, e))
}

fn deleted(schema: &SchemaRef, key: Option<&str>, ids: &[String]) -> Result<RecordBatch, Error> {
    let arrow = |e| Error::connector(ErrorKind::Other, e);
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> Result<ArrayRef, Error> {
            Ok(if f.name() == CHANGE_COLUMN {
                Arc::new(StringArray::from(vec!["deleted"; ids.len()]))
            } else if Some(f.name().as_str()) == key {
                // Dataverse keys are GUIDs (text); another key type is cast.
                let text: ArrayRef = Arc::new(StringArray::from_iter_values(ids));
                arrow_cast::cast(&text, f.data_type()).map_err(arrow)?
            } else {
                new_null_array(f.data_type(), ids.len())
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(arrow)
}

/// The printed rows: the changed batches as they arrive, then the
/// deletions, known once the last page is read (its summary kept in `done`).
fn printed(
    mut changes: Changes,
    schema: SchemaRef,
    done: Arc<Mutex<Option<ChangeSummary>>>,
) -> BatchStream {
    let rows = std::mem::replace(&mut changes.batches, Box::pin(futures::stream::empty()));
    let key = changes.key.clone();
    let rows = {
        let schema = schema.clone();
        rows.and_then(move |b| futures::future::ready(changed(&schema, b)))
    };
    let tail = futures::stream::once(async move {
        let summary = changes.finish()?;
        let batch = deleted(&schema, key.as_deref(), &summary.deleted)?;
        if let Ok(mut d) = done.lock() {
            *d = Some(summary);
        }
        Ok(batch)
    });
    Box::pin(rows.chain(tail))
}

/// Runs `connectkit changes`.
pub async fn run(out: &mut impl Write, args: Args) -> Result<(), Error> {
    let url: ConnectionUrl = input::read_url(&args.url)?.parse()?;
    if !url.subprotocol().eq_ignore_ascii_case(SUBPROTOCOL) {
        return Err(Error::invalid_property(
            "URL",
            "a dynamics365 connection URL (change tracking is Dataverse's)",
            Some(url.subprotocol()),
        ));
    }
    let connector = Dynamics365DataSource::from_properties(url.properties())?.build()?;
    let token = match (&args.token, &args.state) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(path)) => read_state(path)?,
        (None, None) => None,
    };
    let changes = connector.changes(&args.table, token.as_deref()).await?;
    let schema = printed_schema(&changes.schema);
    let done = Arc::new(Mutex::new(None));
    let batches = printed(changes, schema.clone(), done.clone());
    output::rows(out, Scan::new(schema, batches), None, args.format).await?;
    out.flush()
        .map_err(|e| Error::connector(ErrorKind::Other, e))?;
    let summary = done.lock().ok().and_then(|mut d| d.take());
    let Some(summary) = summary else {
        return Err(Error::connector(
            ErrorKind::Other,
            std::io::Error::other("the changes ended without a next token"),
        ));
    };
    match &args.state {
        Some(path) => write_state(path, &summary.token),
        None => {
            eprintln!("token: {}", summary.token);
            Ok(())
        }
    }
}

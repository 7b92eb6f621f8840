//! CSV output as PostgreSQL's `COPY ... (FORMAT csv, HEADER)` writes it, so
//! that a null and an empty string stay apart: a null is an empty field, an
//! empty string is `""`. Fields holding the delimiter, a quote, CR or LF are
//! quoted, quotes doubled (RFC 4180). Values are printed as the table
//! format prints them (doubles in their shortest round-trip form).

use std::io::Write;

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, Schema};

/// Writes CSV rows, with the header line exactly once: before the first
/// batch, or on [`CsvRows::finish`] when there was none (an empty result
/// still says which columns it has).
pub struct CsvRows {
    header_written: bool,
    line: String,
}

impl CsvRows {
    /// A writer that has written nothing yet.
    pub fn new() -> Self {
        Self {
            header_written: false,
            line: String::new(),
        }
    }

    fn header(&mut self, out: &mut impl Write, schema: &Schema) -> std::io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        self.line.clear();
        for (i, f) in schema.fields().iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_field(&mut self.line, f.name());
        }
        self.line.push('\n');
        out.write_all(self.line.as_bytes())
    }

    /// Writes the rows of `batch` (of `schema`), after the header if it is
    /// the first output.
    pub fn write(
        &mut self,
        out: &mut impl Write,
        schema: &Schema,
        batch: &RecordBatch,
    ) -> Result<(), CsvError> {
        self.header(out, schema)?;
        let options = FormatOptions::default();
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut text = String::new();
        for row in 0..batch.num_rows() {
            self.line.clear();
            for (i, (column, f)) in batch.columns().iter().zip(&formatters).enumerate() {
                if i > 0 {
                    self.line.push(',');
                }
                if column.is_null(row) {
                    continue;
                }
                text.clear();
                f.value(row).write(&mut text)?;
                push_field(&mut self.line, &text);
            }
            self.line.push('\n');
            out.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Ends the output: the header alone when no batch came.
    pub fn finish(mut self, out: &mut impl Write, schema: &Schema) -> std::io::Result<()> {
        self.header(out, schema)
    }
}

/// Why CSV could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Writing to the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A value could not be formatted.
    #[error("cannot format a value as CSV: {0}")]
    Arrow(#[from] ArrowError),
}

/// Appends one non-null field: quoted when empty (that is what tells it
/// from a null), when it holds a delimiter, a quote or a line break, or
/// when it is `\.`, which `COPY ... FROM STDIN` would take for the end.
fn push_field(line: &mut String, text: &str) {
    let quote = text.is_empty() || text == "\\." || text.contains([',', '"', '\n', '\r']);
    if !quote {
        line.push_str(text);
        return;
    }
    line.push('"');
    for c in text.chars() {
        if c == '"' {
            line.push('"');
        }
        line.push(c);
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray};
    use arrow_schema::{DataType, Field};
    use proptest::prelude::*;

    use super::*;

    fn csv(batches: &[RecordBatch], schema: &Schema) -> String {
        let mut out = Vec::new();
        let mut w = CsvRows::new();
        for b in batches {
            w.write(&mut out, schema, b).unwrap();
        }
        w.finish(&mut out, schema).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn strings(values: Vec<Option<&str>>) -> (Schema, RecordBatch) {
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n,\"x\"", DataType::Utf8, true),
        ]);
        let a: Arc<dyn Array> = Arc::new(StringArray::from(values));
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![a.clone(), a]).unwrap();
        (schema, batch)
    }

    #[test]
    fn null_and_empty_string_differ_and_quoting_follows_rfc_4180() {
        let (schema, batch) = strings(vec![
            None,
            Some(""),
            Some("plain"),
            Some("a,b"),
            Some("say \"hi\""),
            Some("two\nlines"),
            Some("cr\r"),
            Some("\\."),
        ]);
        let text = csv(
            &[batch.clone(), batch.slice(0, 0), batch.slice(0, 1)],
            &schema,
        );
        assert_eq!(
            text,
            "s,\"n,\"\"x\"\"\"\n,\n\"\",\"\"\nplain,plain\n\"a,b\",\"a,b\"\n\
             \"say \"\"hi\"\"\",\"say \"\"hi\"\"\"\n\"two\nlines\",\"two\nlines\"\n\
             \"cr\r\",\"cr\r\"\n\"\\.\",\"\\.\"\n,\n"
        );
    }

    #[test]
    fn the_header_comes_once_also_without_rows() {
        let (schema, batch) = strings(vec![]);
        assert_eq!(csv(&[], &schema), "s,\"n,\"\"x\"\"\"\n");
        assert_eq!(csv(&[batch.clone(), batch], &schema), "s,\"n,\"\"x\"\"\"\n");
    }

    proptest! {
        #[test]
        fn doubles_round_trip_through_the_text(
            values in prop::collection::vec(
                any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |x| x.is_finite()),
                1..50,
            )
        ) {
            let schema = Schema::new(vec![Field::new("x", DataType::Float64, false)]);
            let batch = RecordBatch::try_new(
                Arc::new(schema.clone()),
                vec![Arc::new(Float64Array::from(values.clone()))],
            )
            .unwrap();
            let text = csv(&[batch], &schema);
            let back: Vec<u64> = text
                .lines()
                .skip(1)
                .map(|l| l.parse::<f64>().unwrap().to_bits())
                .collect();
            let bits: Vec<u64> = values.iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(back, bits);
        }
    }
}

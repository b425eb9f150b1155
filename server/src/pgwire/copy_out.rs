//! COPY TO STDOUT in PostgreSQL's text and CSV formats.
//!
//! arrow-pg renders each Arrow value as PostgreSQL text (the same code that
//! serves query results); this writer only adds COPY's escaping, which
//! must mirror the engine's COPY FROM decoder exactly so that a table
//! copied out and back in is unchanged. pgwire's own COPY encoder cannot
//! be used for CSV: it writes an empty string like NULL.

use arrow_pg::encoder::{Encoder, encode_value};
use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use pgwire::api::results::FieldInfo;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql};
use rustydb_engine::pg::{CopyFormat, CopyOptions};

/// Writes rows in one COPY format.
pub struct CopyWriter {
    options: CopyOptions,
    force_quote: Vec<bool>,
    ncols: usize,
    col: usize,
    line: BytesMut,
    value: BytesMut,
    format_options: FormatOptions,
}

impl CopyWriter {
    pub fn new(options: CopyOptions, ncols: usize, force_quote: &[usize]) -> Self {
        let force_quote = (0..ncols).map(|i| force_quote.contains(&i)).collect();
        CopyWriter {
            options,
            force_quote,
            ncols,
            col: 0,
            line: BytesMut::new(),
            value: BytesMut::new(),
            format_options: FormatOptions::default(),
        }
    }

    /// The CSV HEADER line.
    pub fn header(&mut self, schema: &Schema) -> Bytes {
        for (i, f) in schema.fields().iter().enumerate() {
            self.value.clear();
            self.value.extend_from_slice(f.name().as_bytes());
            self.put_value(i, false);
        }
        self.end_line()
    }

    /// The rows of a batch, one line each (one CopyData message each:
    /// pgwire counts the messages for the command tag).
    pub fn rows(&mut self, batch: &RecordBatch, fields: &[FieldInfo]) -> PgWireResult<Vec<Bytes>> {
        let schema = batch.schema();
        (0..batch.num_rows())
            .map(|row| {
                for (col, array) in batch.columns().iter().enumerate() {
                    encode_value(self, array, row, schema.field(col), &fields[col])?;
                }
                Ok(self.end_line())
            })
            .collect()
    }

    fn end_line(&mut self) -> Bytes {
        self.line.put_u8(b'\n');
        self.col = 0;
        self.line.split().freeze()
    }

    /// Appends `self.value` (or NULL) as column `col`.
    fn put_value(&mut self, col: usize, null: bool) {
        if col > 0 {
            self.line.put_u8(self.options.delimiter);
        }
        if null {
            self.line.extend_from_slice(self.options.null.as_bytes());
            return;
        }
        let o = &self.options;
        match o.format {
            // The engine refuses COPY TO in binary; text is the fallback.
            CopyFormat::Text | CopyFormat::Binary => {
                for &b in self.value.iter() {
                    match b {
                        b'\\' => self.line.extend_from_slice(b"\\\\"),
                        b'\n' => self.line.extend_from_slice(b"\\n"),
                        b'\r' => self.line.extend_from_slice(b"\\r"),
                        b'\t' => self.line.extend_from_slice(b"\\t"),
                        8 => self.line.extend_from_slice(b"\\b"),
                        12 => self.line.extend_from_slice(b"\\f"),
                        11 => self.line.extend_from_slice(b"\\v"),
                        b if b == o.delimiter => {
                            self.line.put_u8(b'\\');
                            self.line.put_u8(b);
                        }
                        b => self.line.put_u8(b),
                    }
                }
            }
            CopyFormat::Csv => {
                let v = &self.value[..];
                // Quoted when it could be read back as something else: the
                // NULL string (the empty string by default), or anything
                // holding a delimiter, quote, escape or line break.
                let quote = self.force_quote.get(col).copied().unwrap_or(false)
                    || v == o.null.as_bytes()
                    || v == b"\\."
                    || v.iter().any(|&b| b == o.delimiter || b == o.quote || b == o.escape || b == b'\n' || b == b'\r');
                if !quote {
                    self.line.extend_from_slice(v);
                    return;
                }
                self.line.put_u8(o.quote);
                for &b in v {
                    if b == o.quote || b == o.escape {
                        self.line.put_u8(o.escape);
                    }
                    self.line.put_u8(b);
                }
                self.line.put_u8(o.quote);
            }
        }
    }
}

impl Encoder for CopyWriter {
    type Item = ();

    fn encode_field<T>(&mut self, value: &T, pg_field: &FieldInfo) -> PgWireResult<()>
    where
        T: ToSql + ToSqlText + Sized,
    {
        self.value.clear();
        let is_null = value
            .to_sql_text(pg_field.datatype(), &mut self.value, &self.format_options)
            .map_err(PgWireError::ApiError)?;
        let col = self.col;
        self.put_value(col, matches!(is_null, IsNull::Yes));
        self.col = (self.col + 1).min(self.ncols);
        Ok(())
    }

    fn take_row(&mut self) -> Self::Item {}
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field};
    use pgwire::api::portal::Format;
    use rustydb_engine::api::Session;
    use rustydb_engine::pg::CopyFormat;

    use super::*;

    fn options(sql: &str) -> CopyOptions {
        match Session::parse(sql).unwrap().remove(0).into_sql() {
            Some(rustydb_engine::pg::SqlStatement::Copy { options, legacy_options, .. }) => {
                CopyOptions::from_statement(&options, &legacy_options).unwrap()
            }
            other => panic!("not a COPY: {other:?}"),
        }
    }

    fn write(sql: &str) -> String {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b, c", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(StringArray::from(vec![Some(""), None, Some("x\t\"y\",\\\nz")])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let fields =
            Arc::new(arrow_pg::datatypes::arrow_schema_to_pg_fields(&schema, &Format::UnifiedText, None).unwrap());
        let o = options(sql);
        let mut w = CopyWriter::new(o.clone(), 2, &[]);
        let mut out = Vec::new();
        if o.header {
            out.extend_from_slice(&w.header(&schema));
        }
        for row in w.rows(&batch, &fields).unwrap() {
            out.extend_from_slice(&row);
        }
        assert_eq!(o.format == CopyFormat::Csv, sql.contains("csv"));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_format_escapes() {
        assert_eq!(write("COPY t TO STDOUT"), "1\t\n\\N\t\\N\n3\tx\\t\"y\",\\\\\\nz\n");
    }

    #[test]
    fn csv_quotes_what_could_read_back_differently() {
        assert_eq!(
            write("COPY t TO STDOUT WITH (FORMAT csv, HEADER)"),
            "a,\"b, c\"\n1,\"\"\n,\n3,\"x\t\"\"y\"\",\\\nz\"\n"
        );
    }
}

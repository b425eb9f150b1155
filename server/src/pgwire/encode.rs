//! Engine results and errors as PostgreSQL protocol messages.

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion::arrow::array::{ArrayRef, AsArray, BinaryBuilder, RecordBatch, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use futures::StreamExt;
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use rustydb_engine::api::{EngineError, Outcome, StatementResult, TransactionEvent, Verb};
use rustydb_engine::pg::{self, CopyFormat, CopyOut, PG_TYPE_KEY};

use super::copy_out::CopyWriter;

/// The one place engine errors become protocol errors.
pub fn error_info(e: &EngineError) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".to_owned(), e.sqlstate().to_owned(), e.to_string());
    if let Some(detail) = e.detail() {
        info.detail = Some(detail.to_owned());
    }
    info.where_context = e.context().map(str::to_owned);
    info
}

pub fn to_pgwire(e: EngineError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&e)))
}

/// An error that ends the connection (startup, authentication, limits).
pub fn fatal(e: EngineError) -> PgWireError {
    let mut info = error_info(&e);
    info.severity = "FATAL".into();
    info.severity_nonlocalized = Some("FATAL".into());
    PgWireError::UserError(Box::new(info))
}

/// A statement's outcome as pgwire's `Tag` (`INSERT 0 3`, `COMMIT`).
pub fn tag(outcome: &Outcome) -> Tag {
    match *outcome {
        Outcome::Affected { verb: Verb::Insert, rows } => Tag::new("INSERT").with_oid(0).with_rows(rows as usize),
        Outcome::Affected { verb, rows } => Tag::new(verb.keyword()).with_rows(rows as usize),
        _ => Tag::new(&pg::command_tag(outcome)),
    }
}

/// Row descriptions for a result schema in the requested formats.
pub fn fields(schema: &Schema, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
    described(schema, wire_schema(schema, format).as_deref(), format)
}

/// Row descriptions of `schema`, sent as `wire` (see [`wire_schema`]).
fn described(schema: &Schema, wire: Option<&Schema>, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
    let mut fields = arrow_schema_to_pg_fields(wire.unwrap_or(schema), format, None)?;
    for (info, field) in fields.iter_mut().zip(schema.fields()) {
        let datatype = match wire_type(field) {
            Some(WireType::Json) => Type::JSON,
            Some(WireType::Jsonb) => Type::JSONB,
            _ => continue,
        };
        *info = FieldInfo::new(info.name().to_owned(), info.table_id(), info.column_id(), datatype, info.format());
    }
    Ok(fields)
}

/// Columns whose PostgreSQL type the engine names with [`PG_TYPE_KEY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireType {
    /// int2vector / oidvector: a list in the engine, space-separated text
    /// on the wire, as PostgreSQL sends it (SQLAlchemy splits `indoption`).
    Vector,
    Json,
    /// jsonb's binary form is a version byte (1) and the text.
    Jsonb,
}

fn wire_type(field: &Field) -> Option<WireType> {
    match field.metadata().get(PG_TYPE_KEY)?.as_str() {
        "int2vector" | "oidvector" => Some(WireType::Vector),
        "json" => Some(WireType::Json),
        "jsonb" => Some(WireType::Jsonb),
        _ => None,
    }
}

/// How column `idx` of `schema` is sent, when not as the engine holds it.
fn wire_field(schema: &Schema, idx: usize, format: &Format) -> Option<DataType> {
    match wire_type(schema.field(idx))? {
        WireType::Vector => Some(DataType::Utf8),
        WireType::Jsonb if format.is_binary(idx) => Some(DataType::Binary),
        WireType::Json | WireType::Jsonb => None,
    }
}

/// The schema as sent, when some column travels in another form.
fn wire_schema(schema: &Schema, format: &Format) -> Option<SchemaRef> {
    let changed: Vec<Option<DataType>> = (0..schema.fields().len()).map(|i| wire_field(schema, i, format)).collect();
    if changed.iter().all(Option::is_none) {
        return None;
    }
    let fields = schema.fields().iter().zip(changed).map(|(f, wire)| match wire {
        Some(dt) => Arc::new(Field::new(f.name(), dt, f.is_nullable())),
        None => f.clone(),
    });
    Some(Arc::new(Schema::new(fields.collect::<Vec<_>>())))
}

/// A batch in the [`wire_schema`] `wire`.
fn wire_batch(batch: RecordBatch, wire: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch.columns().iter().zip(wire.fields()).map(|(column, to)| {
        Ok(match (column.data_type(), to.data_type()) {
            (DataType::List(_), DataType::Utf8) => vector_text(column)?,
            (DataType::Utf8, DataType::Binary) => jsonb_binary(column)?,
            _ => column.clone(),
        })
    });
    RecordBatch::try_new(wire.clone(), columns.collect::<Result<Vec<_>, ArrowError>>()?)
}

/// int2vector / oidvector text: the elements separated by spaces.
fn vector_text(column: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let list = column.as_list::<i32>();
    let mut text = StringBuilder::new();
    for items in list.iter() {
        match items {
            None => text.append_null(),
            Some(items) => {
                let items = cast(&items, &DataType::Int64)?;
                let words: Vec<String> =
                    items.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0).to_string()).collect();
                text.append_value(words.join(" "));
            }
        }
    }
    Ok(Arc::new(text.finish()))
}

/// jsonb in binary format: version 1, then the document's text.
fn jsonb_binary(column: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let mut out = BinaryBuilder::new();
    for doc in column.as_string::<i32>().iter() {
        match doc {
            None => out.append_null(),
            Some(doc) => out.append_value([&[1u8][..], doc.as_bytes()].concat()),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Turns one statement's output into a protocol response.
pub fn response(out: StatementResult, format: &Format) -> PgWireResult<Response> {
    match out {
        StatementResult::Done(outcome) => Ok(match outcome {
            Outcome::Transaction(TransactionEvent::Begun) => Response::TransactionStart(tag(&outcome)),
            Outcome::Transaction(TransactionEvent::Committed { .. } | TransactionEvent::RolledBack) => {
                Response::TransactionEnd(tag(&outcome))
            }
            _ => Response::Execution(tag(&outcome)),
        }),
        StatementResult::Rows { schema, stream, outcome } => {
            let wire = wire_schema(&schema, format);
            let fields = Arc::new(described(&schema, wire.as_deref(), format)?);
            let row_fields = fields.clone();
            let rows = stream.flat_map(move |batch| {
                let batch = match &wire {
                    Some(wire) => batch.and_then(|b| Ok(wire_batch(b, wire)?)),
                    None => batch,
                };
                let rows: Vec<PgWireResult<_>> = match batch {
                    Ok(batch) => encode_recordbatch(row_fields.clone(), batch).collect(),
                    Err(e) => vec![Err(to_pgwire(EngineError::from(e)))],
                };
                futures::stream::iter(rows)
            });
            let mut resp = QueryResponse::new(fields, rows);
            if let Some(Outcome::Affected { verb, .. }) = outcome {
                // RETURNING and FETCH: pgwire appends the rows it sent.
                resp.set_command_tag(pg::rows_tag_prefix(verb));
            }
            Ok(Response::Query(resp))
        }
        StatementResult::CopyIn { columns, format } => {
            let code = if format == CopyFormat::Binary { 1 } else { 0 };
            Ok(Response::CopyIn(CopyResponse::new(code, columns, futures::stream::empty())))
        }
        StatementResult::CopyOut(copy) => copy_out(copy),
    }
}

/// COPY TO STDOUT: one CopyData message per row.
fn copy_out(copy: CopyOut) -> PgWireResult<Response> {
    let CopyOut { schema, stream, options, force_quote } = copy;
    let fields = fields(&schema, &Format::UnifiedText)?;
    let columns = fields.len();
    let mut writer = CopyWriter::new(options.clone(), columns, &force_quote);
    // The header travels in front of the first row, so that pgwire's count
    // of CopyData messages stays the row count of the command tag.
    let mut header = options.header.then(|| writer.header(&schema));
    let data = stream.flat_map(move |batch| {
        let rows = batch.map_err(|e| to_pgwire(EngineError::from(e))).and_then(|b| writer.rows(&b, &fields));
        let out: Vec<PgWireResult<CopyData>> = match rows {
            Err(e) => vec![Err(e)],
            Ok(rows) => rows
                .into_iter()
                .map(|row| {
                    Ok(CopyData::new(match header.take() {
                        Some(h) => [h, row].concat().into(),
                        None => row,
                    }))
                })
                .collect(),
        };
        futures::stream::iter(out)
    });
    Ok(Response::CopyOut(CopyResponse::new(0, columns, data)))
}

/// Text format for every column (simple query protocol).
pub fn text() -> Format {
    Format::UnifiedText
}

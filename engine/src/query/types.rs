//! SQL types: from the parser's AST to catalog types, and values into the
//! exact Arrow type of a column, with PostgreSQL's checks on the way in.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, CharacterLength, ExactNumberInfo};
use rustydb_catalog::{NUMERIC_DEFAULT_SCALE, NUMERIC_PRECISION_MAX, SqlType};
use rustydb_storage::{Value, batch};

use crate::error::{EngineError, Result, arrow_error};
use rustydb_common::SqlState;

/// A declared column type, and whether it was SERIAL (implies a sequence).
pub struct DeclaredType {
    pub ty: SqlType,
    pub serial: bool,
}

fn char_len(len: &Option<CharacterLength>) -> Result<Option<u32>> {
    match len {
        None | Some(CharacterLength::Max) => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => {
            if *length == 0 || *length > 10_485_760 {
                return Err(EngineError::sql(
                    SqlState::InvalidParameterValue,
                    format!("length for type varchar must be between 1 and 10485760, got {length}"),
                ));
            }
            Ok(Some(*length as u32))
        }
    }
}

fn numeric(info: &ExactNumberInfo) -> Result<SqlType> {
    let (precision, scale) = match info {
        ExactNumberInfo::None => (u64::from(NUMERIC_PRECISION_MAX), i64::from(NUMERIC_DEFAULT_SCALE)),
        ExactNumberInfo::Precision(p) => (*p, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s as i64),
    };
    if precision == 0 || precision > u64::from(NUMERIC_PRECISION_MAX) {
        return Err(EngineError::sql(
            SqlState::InvalidParameterValue,
            format!("NUMERIC precision {precision} must be between 1 and {NUMERIC_PRECISION_MAX}"),
        ));
    }
    if scale < 0 || scale > precision as i64 {
        return Err(EngineError::sql(
            SqlState::InvalidParameterValue,
            format!("NUMERIC scale {scale} must be between 0 and precision {precision}"),
        ));
    }
    Ok(SqlType::Numeric { precision: precision as u8, scale: scale as i8 })
}

/// Maps a parsed column type to the catalog's type.
pub fn declared_type(dt: &ast::DataType) -> Result<DeclaredType> {
    use ast::DataType as D;
    let plain = |ty| Ok(DeclaredType { ty, serial: false });
    match dt {
        D::Bool | D::Boolean => plain(SqlType::Bool),
        D::SmallInt(_) | D::Int2(_) => plain(SqlType::Int2),
        D::Int(_) | D::Integer(_) | D::Int4(_) => plain(SqlType::Int4),
        D::BigInt(_) | D::Int8(_) => plain(SqlType::Int8),
        D::Real | D::Float4 => plain(SqlType::Float4),
        D::Double(_) | D::DoublePrecision | D::Float8 => plain(SqlType::Float8),
        D::Float(ExactNumberInfo::Precision(p)) if *p <= 24 => plain(SqlType::Float4),
        D::Float(_) => plain(SqlType::Float8),
        D::Numeric(info) | D::Decimal(info) | D::Dec(info) => plain(numeric(info)?),
        D::Text | D::String(None) => plain(SqlType::Text),
        D::Varchar(len) | D::CharacterVarying(len) | D::CharVarying(len) => plain(SqlType::Varchar(char_len(len)?)),
        D::Char(len) | D::Character(len) => plain(SqlType::Char(char_len(len)?.unwrap_or(1))),
        D::Bytea => plain(SqlType::Bytea),
        D::Date => plain(SqlType::Date),
        D::Timestamp(_, tz) => match tz {
            ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => plain(SqlType::TimestampTz),
            _ => plain(SqlType::Timestamp),
        },
        D::JSON => plain(SqlType::Json),
        D::JSONB => plain(SqlType::Jsonb),
        D::Custom(name, mods) if mods.is_empty() => {
            let n = name.to_string().to_lowercase();
            match n.as_str() {
                "serial" | "serial4" => Ok(DeclaredType { ty: SqlType::Int4, serial: true }),
                "bigserial" | "serial8" => Ok(DeclaredType { ty: SqlType::Int8, serial: true }),
                "smallserial" | "serial2" => Ok(DeclaredType { ty: SqlType::Int2, serial: true }),
                "timestamptz" => plain(SqlType::TimestampTz),
                "int2" => plain(SqlType::Int2),
                "int4" => plain(SqlType::Int4),
                "int8" => plain(SqlType::Int8),
                "float4" => plain(SqlType::Float4),
                "float8" => plain(SqlType::Float8),
                "bpchar" => plain(SqlType::Char(1)),
                _ => Err(EngineError::sql(SqlState::UndefinedObject, format!("type \"{n}\" does not exist"))),
            }
        }
        other => Err(EngineError::unsupported(format!("type {other} is not supported"))),
    }
}

/// The Arrow type of a column of this SQL type.
/// Field metadata naming the PostgreSQL type of a column whose Arrow type
/// stands for more than one PostgreSQL type, for the wire protocol:
/// - `json` / `jsonb`: Utf8 holding the document;
/// - `int2vector` / `oidvector` (catalog columns): a list inside the engine,
///   so queries unnest and subscript it, and space-separated text ("1 2")
///   on the wire, as PostgreSQL sends it and drivers split it (SQLAlchemy).
pub const PG_TYPE_KEY: &str = "rustydb.pg_type";

/// A column's Arrow field, with [`PG_TYPE_KEY`] where its type needs it.
pub fn column_field(name: &str, ty: SqlType, nullable: bool) -> Field {
    let field = Field::new(name, arrow_type(ty), nullable);
    match ty {
        SqlType::Json => field.with_metadata([(PG_TYPE_KEY.to_owned(), "json".to_owned())].into()),
        SqlType::Jsonb => field.with_metadata([(PG_TYPE_KEY.to_owned(), "jsonb".to_owned())].into()),
        _ => field,
    }
}

pub fn arrow_type(ty: SqlType) -> DataType {
    batch::arrow_type(ty.column_type())
}

/// Casts an array to the exact Arrow type of a column of type `ty`, applying
/// PostgreSQL's input checks: range (22003), syntax (22P02), length (22001)
/// and JSON validity. `column` names the column in errors.
pub fn coerce_to_column(array: &ArrayRef, ty: SqlType, column: &str) -> Result<ArrayRef> {
    let target = arrow_type(ty);
    if ty == SqlType::Bytea && array.data_type() == &DataType::Utf8 {
        return bytea_from_text(array);
    }
    let cast = if array.data_type() == &target {
        array.clone()
    } else {
        let from_text = matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        let target_is_text = matches!(target, DataType::Utf8);
        if !target_is_text && !from_text && !castable(array.data_type(), &target) {
            return Err(EngineError::sql(
                SqlState::DatatypeMismatch,
                format!(
                    "column \"{column}\" is of type {} but expression is of type {}",
                    ty.pg_name(),
                    pg_type_name(array.data_type())
                ),
            ));
        }
        let options = CastOptions { safe: false, ..Default::default() };
        cast_with_options(array, &target, &options).map_err(|e| match arrow_error(e) {
            EngineError::Sql { code: SqlState::InvalidTextRepresentation, .. } => EngineError::sql(
                SqlState::InvalidTextRepresentation,
                format!("invalid input syntax for type {}", ty.pg_name()),
            ),
            EngineError::Sql { code: SqlState::NumericValueOutOfRange, .. } => EngineError::sql(
                SqlState::NumericValueOutOfRange,
                format!("{} out of range for column \"{column}\"", ty.pg_name()),
            ),
            other => other,
        })?
    };
    check_values(&cast, ty, column)?;
    Ok(cast)
}

/// PostgreSQL's bytea input: `\x` followed by hex digits, or raw text.
fn bytea_from_text(array: &ArrayRef) -> Result<ArrayRef> {
    let strings = array.as_string::<i32>();
    let mut b = datafusion::arrow::array::BinaryBuilder::with_capacity(strings.len(), strings.value_data().len());
    for s in strings.iter() {
        match s {
            None => b.append_null(),
            Some(s) => match s.strip_prefix("\\x") {
                Some(hex) => b.append_value(decode_hex(hex)?),
                None => b.append_value(s.as_bytes()),
            },
        }
    }
    Ok(Arc::new(b.finish()))
}

fn decode_hex(hex: &str) -> Result<Vec<u8>> {
    let bad = || EngineError::sql(SqlState::InvalidTextRepresentation, "invalid hexadecimal data for type bytea");
    let digits: Vec<u8> = hex.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(EngineError::sql(
            SqlState::InvalidTextRepresentation,
            "invalid hexadecimal data: odd number of digits",
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16).ok_or_else(bad)?;
            let lo = (pair[1] as char).to_digit(16).ok_or_else(bad)?;
            Ok((hi * 16 + lo) as u8)
        })
        .collect()
}

fn castable(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let numeric = |t: &DataType| t.is_numeric();
    match (from, to) {
        (Null, _) => true,
        (a, b) if numeric(a) && numeric(b) => true,
        (Boolean, Boolean) => true,
        (Date32 | Timestamp(_, _), Date32 | Timestamp(_, _)) => true,
        (Binary | LargeBinary | BinaryView, Binary) => true,
        _ => false,
    }
}

fn check_values(array: &ArrayRef, ty: SqlType, column: &str) -> Result<()> {
    if let Some(max) = ty.max_chars() {
        let strings = array.as_string::<i32>();
        for s in strings.iter().flatten() {
            if s.chars().count() > max as usize {
                return Err(EngineError::sql(
                    SqlState::StringDataRightTruncation,
                    format!("value too long for type {}", ty.pg_name()),
                ));
            }
        }
    }
    if matches!(ty, SqlType::Json | SqlType::Jsonb) {
        let strings = array.as_string::<i32>();
        for s in strings.iter().flatten() {
            if serde_json::from_str::<serde_json::Value>(s).is_err() {
                return Err(EngineError::sql(
                    SqlState::InvalidTextRepresentation,
                    format!("invalid input syntax for type json in column \"{column}\""),
                ));
            }
        }
    }
    Ok(())
}

/// A short PostgreSQL-style name for an Arrow type, for messages.
pub fn pg_type_name(dt: &DataType) -> &'static str {
    match dt {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        DataType::Int64 | DataType::UInt64 => "bigint",
        DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => "numeric",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "bytea",
        DataType::Date32 => "date",
        DataType::Timestamp(_, None) => "timestamp without time zone",
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone",
        _ => "unknown",
    }
}

/// Converts a constant to a storage value of a column's type, if it fits
/// exactly (used for index keys and defaults).
pub fn scalar_to_value(scalar: &ScalarValue, ty: SqlType) -> Option<Value> {
    let array = scalar.to_array().ok()?;
    let cast = coerce_to_column(&array, ty, "").ok()?;
    if cast.is_null(0) && !scalar.is_null() {
        return None;
    }
    batch::value_at(cast.as_ref(), ty.column_type(), 0).ok()
}

/// One value of a column type as a one-element array.
pub fn value_array(value: &Value, ty: SqlType) -> ArrayRef {
    let row: [Value; 1] = [value.clone()];
    let rows: [&[Value]; 1] = [&row];
    batch::column_array(ty.column_type(), &rows, 0)
}

/// A null array of a column's type.
pub fn null_array(ty: SqlType, len: usize) -> ArrayRef {
    Arc::new(datafusion::arrow::array::new_null_array(&arrow_type(ty), len))
}

//! PostgreSQL's binary format for single values (bind parameters, binary
//! COPY), decoded with postgres-types into DataFusion values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::common::ScalarValue;
use postgres_types::{FromSql, Type};

use crate::error::{EngineError, Result};
use rustydb_common::SqlState;

fn from_sql<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T> {
    T::from_sql(ty, raw).map_err(|e| {
        EngineError::sql(SqlState::InvalidBinaryRepresentation, format!("invalid binary value for type {ty}: {e}"))
    })
}

/// The value of `raw`, sent in binary format as type `ty`. NUMERIC and the
/// text-like types come back as text, converted to the column type later.
pub fn decode_binary(ty: &Type, raw: &[u8]) -> Result<ScalarValue> {
    Ok(match *ty {
        Type::BOOL => ScalarValue::Boolean(Some(from_sql(ty, raw)?)),
        Type::INT2 => ScalarValue::Int16(Some(from_sql(ty, raw)?)),
        Type::INT4 => ScalarValue::Int32(Some(from_sql(ty, raw)?)),
        Type::INT8 => ScalarValue::Int64(Some(from_sql(ty, raw)?)),
        Type::FLOAT4 => ScalarValue::Float32(Some(from_sql(ty, raw)?)),
        Type::FLOAT8 => ScalarValue::Float64(Some(from_sql(ty, raw)?)),
        Type::BYTEA => ScalarValue::Binary(Some(from_sql::<Vec<u8>>(ty, raw)?)),
        Type::DATE => {
            let d: NaiveDate = from_sql(ty, raw)?;
            // NaiveDate::default() is 1970-01-01, Arrow's date epoch.
            ScalarValue::Date32(Some((d - NaiveDate::default()).num_days() as i32))
        }
        Type::TIMESTAMP => {
            let t: NaiveDateTime = from_sql(ty, raw)?;
            ScalarValue::TimestampMicrosecond(Some(t.and_utc().timestamp_micros()), None)
        }
        Type::TIMESTAMPTZ => {
            let t: DateTime<Utc> = from_sql(ty, raw)?;
            ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("+00:00".into()))
        }
        Type::NUMERIC => ScalarValue::Utf8(Some(from_sql::<rust_decimal::Decimal>(ty, raw)?.to_string())),
        // jsonb's binary form is a version byte (1) and the text.
        Type::JSONB => match raw.split_first() {
            Some((1, text)) => ScalarValue::Utf8(Some(from_sql::<String>(&Type::TEXT, text)?)),
            _ => return Err(EngineError::sql(SqlState::InvalidBinaryRepresentation, "unsupported jsonb version")),
        },
        _ => ScalarValue::Utf8(Some(from_sql::<String>(&Type::TEXT, raw)?)),
    })
}

/// A decoded value as PostgreSQL's text input reads it back.
pub(crate) fn as_text(value: &ScalarValue) -> String {
    match value {
        ScalarValue::Utf8(Some(s)) => s.clone(),
        ScalarValue::Binary(Some(b)) => format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        other => other.to_string(),
    }
}

//! Bind parameters: wire bytes (text or binary format) to DataFusion values
//! of the types the prepared statement expects.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use pgwire::api::Type;
use pgwire::api::portal::Portal;
use pgwire::api::results::FieldFormat;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use postgres_types::FromSql;
use rustydb_engine::Prepared;

fn bad(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), "22P02".into(), message)))
}

fn from_sql<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> PgWireResult<T> {
    T::from_sql(ty, raw).map_err(|e| bad(format!("invalid binary value for type {ty}: {e}")))
}

/// The value of a binary-format parameter sent as type `ty`.
fn binary(ty: &Type, raw: &[u8]) -> PgWireResult<ScalarValue> {
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
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            ScalarValue::Date32(Some((d - epoch).num_days() as i32))
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
        _ => ScalarValue::Utf8(Some(from_sql::<String>(&Type::TEXT, raw)?)),
    })
}

/// The value of a text-format parameter.
fn text(raw: &[u8], target: &DataType) -> PgWireResult<ScalarValue> {
    let s = std::str::from_utf8(raw).map_err(|_| bad("parameter is not valid UTF-8".into()))?;
    if *target == DataType::Binary
        && let Some(hex) = s.strip_prefix("\\x")
    {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| bad("invalid hexadecimal data for type bytea".into()))?;
        return Ok(ScalarValue::Binary(Some(bytes)));
    }
    Ok(ScalarValue::Utf8(Some(s.to_owned())))
}

/// Decodes every parameter of a portal to the statement's parameter types.
pub fn decode(portal: &Portal<Prepared>) -> PgWireResult<Vec<ScalarValue>> {
    let types = portal.statement.statement.param_types();
    let declared = &portal.statement.parameter_types;
    if portal.parameters.len() != types.len() {
        return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".into(),
            "08P01".into(),
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameters.len(),
                types.len()
            ),
        ))));
    }
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let target = &types[i];
            let Some(raw) = raw else {
                return ScalarValue::try_from(target).map_err(|e| bad(e.to_string()));
            };
            let value = match portal.parameter_format.format_for(i) {
                FieldFormat::Text => text(raw, target)?,
                FieldFormat::Binary => {
                    let ty = declared
                        .get(i)
                        .cloned()
                        .flatten()
                        .filter(|t| *t != Type::UNKNOWN)
                        .or_else(|| arrow_pg::datatypes::into_pg_type(target).ok())
                        .unwrap_or(Type::TEXT);
                    binary(&ty, raw)?
                }
            };
            if value.data_type() == *target {
                return Ok(value);
            }
            // Text and other representations become the expected type here;
            // a failure is the client's bad input (22P02), not ours.
            value.cast_to(target).map_err(|_| bad(format!("invalid input syntax for type {}", pg_name(target))))
        })
        .collect()
}

fn pg_name(dt: &DataType) -> String {
    match dt {
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "timestamp with time zone".into(),
        other => {
            arrow_pg::datatypes::into_pg_type(other).map(|t| t.name().to_owned()).unwrap_or_else(|_| other.to_string())
        }
    }
}

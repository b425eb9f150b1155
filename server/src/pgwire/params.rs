//! Bind parameters: wire bytes (text or binary format) to DataFusion values
//! of the types the prepared statement expects.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use pgwire::api::Type;
use pgwire::api::portal::Portal;
use pgwire::api::results::FieldFormat;
use pgwire::error::{PgWireError, PgWireResult};
use rustydb_engine::api::{EngineError, Prepared, SqlState};

fn bad(message: String) -> PgWireError {
    super::encode::to_pgwire(EngineError::sql(SqlState::InvalidTextRepresentation, message))
}

/// The value of a binary-format parameter sent as type `ty`.
fn binary(ty: &Type, raw: &[u8]) -> PgWireResult<ScalarValue> {
    rustydb_engine::pg::decode_binary(ty, raw).map_err(super::encode::to_pgwire)
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
    // Integers and finite floats, the common keys, are read here: going
    // through `cast_to` builds and casts one-element arrays, which showed
    // in pgbench profiles. Anything else Rust does not read exactly as
    // PostgreSQL would (whitespace, infinities) takes the cast below.
    let direct = match target {
        DataType::Int16 => s.parse().ok().map(|v| ScalarValue::Int16(Some(v))),
        DataType::Int32 => s.parse().ok().map(|v| ScalarValue::Int32(Some(v))),
        DataType::Int64 => s.parse().ok().map(|v| ScalarValue::Int64(Some(v))),
        DataType::Float64 => s.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| ScalarValue::Float64(Some(v))),
        _ => None,
    };
    Ok(direct.unwrap_or_else(|| ScalarValue::Utf8(Some(s.to_owned()))))
}

/// Decodes every parameter of a portal to the statement's parameter types.
pub fn decode(portal: &Portal<Prepared>) -> PgWireResult<Vec<ScalarValue>> {
    let types = portal.statement.statement.param_types();
    let declared = &portal.statement.parameter_types;
    if portal.parameters.len() != types.len() {
        return Err(super::encode::to_pgwire(EngineError::sql(
            SqlState::ProtocolViolation,
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameters.len(),
                types.len()
            ),
        )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parameters_read_numbers_directly_and_leave_the_rest_to_casts() {
        assert_eq!(text(b"42", &DataType::Int32).unwrap(), ScalarValue::Int32(Some(42)));
        assert_eq!(text(b"-7", &DataType::Int64).unwrap(), ScalarValue::Int64(Some(-7)));
        assert_eq!(text(b"2.5", &DataType::Float64).unwrap(), ScalarValue::Float64(Some(2.5)));
        // Out of range, padded or infinite: text, for the cast to judge.
        for (raw, ty) in [
            (&b"40000"[..], DataType::Int16),
            (b" 5", DataType::Int32),
            (b"Infinity", DataType::Float64),
            (b"abc", DataType::Int64),
        ] {
            assert_eq!(text(raw, &ty).unwrap(), ScalarValue::Utf8(Some(String::from_utf8(raw.to_vec()).unwrap())));
        }
        assert!(text(&[0xff, 0xfe], &DataType::Int32).is_err());
    }
}

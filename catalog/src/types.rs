//! SQL column types as the user declared them.

use rustydb_storage::ColumnType;
use serde::{Deserialize, Serialize};

/// Largest NUMERIC precision (Arrow Decimal128 holds 38 digits).
pub const NUMERIC_PRECISION_MAX: u8 = 38;
/// Scale of NUMERIC without a declared precision. PostgreSQL's is unbounded;
/// ours is fixed so the value fits a Decimal128.
pub const NUMERIC_DEFAULT_SCALE: i8 = 10;

/// A column's declared SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric { precision: u8, scale: i8 },
    Text,
    Varchar(Option<u32>),
    Char(u32),
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    Json,
    Jsonb,
}

impl SqlType {
    /// How storage holds it.
    pub fn column_type(self) -> ColumnType {
        match self {
            SqlType::Bool => ColumnType::Bool,
            SqlType::Int2 => ColumnType::Int16,
            SqlType::Int4 => ColumnType::Int32,
            SqlType::Int8 => ColumnType::Int64,
            SqlType::Float4 => ColumnType::Float32,
            SqlType::Float8 => ColumnType::Float64,
            SqlType::Numeric { precision, scale } => ColumnType::Decimal { precision, scale },
            SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_) | SqlType::Json | SqlType::Jsonb => ColumnType::Text,
            SqlType::Bytea => ColumnType::Bytes,
            SqlType::Date => ColumnType::Date,
            SqlType::Timestamp => ColumnType::Timestamp,
            SqlType::TimestampTz => ColumnType::TimestampTz,
        }
    }

    /// The PostgreSQL name, as `format_type` prints it.
    pub fn pg_name(self) -> String {
        match self {
            SqlType::Bool => "boolean".into(),
            SqlType::Int2 => "smallint".into(),
            SqlType::Int4 => "integer".into(),
            SqlType::Int8 => "bigint".into(),
            SqlType::Float4 => "real".into(),
            SqlType::Float8 => "double precision".into(),
            SqlType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            SqlType::Text => "text".into(),
            SqlType::Varchar(None) => "character varying".into(),
            SqlType::Varchar(Some(n)) => format!("character varying({n})"),
            SqlType::Char(n) => format!("character({n})"),
            SqlType::Bytea => "bytea".into(),
            SqlType::Date => "date".into(),
            SqlType::Timestamp => "timestamp without time zone".into(),
            SqlType::TimestampTz => "timestamp with time zone".into(),
            SqlType::Json => "json".into(),
            SqlType::Jsonb => "jsonb".into(),
        }
    }

    /// PostgreSQL's type OID (pg_type.oid), as clients see it in catalogs.
    pub fn pg_type_oid(self) -> u32 {
        match self {
            SqlType::Bool => 16,
            SqlType::Int2 => 21,
            SqlType::Int4 => 23,
            SqlType::Int8 => 20,
            SqlType::Float4 => 700,
            SqlType::Float8 => 701,
            SqlType::Numeric { .. } => 1700,
            SqlType::Text => 25,
            SqlType::Varchar(_) => 1043,
            SqlType::Char(_) => 1042,
            SqlType::Bytea => 17,
            SqlType::Date => 1082,
            SqlType::Timestamp => 1114,
            SqlType::TimestampTz => 1184,
            SqlType::Json => 114,
            SqlType::Jsonb => 3802,
        }
    }

    /// PostgreSQL's type modifier (pg_attribute.atttypmod): the declared
    /// length plus 4 for character types, packed precision and scale plus 4
    /// for numeric, -1 when there is none.
    pub fn pg_typmod(self) -> i32 {
        match self {
            SqlType::Varchar(Some(n)) | SqlType::Char(n) => n as i32 + 4,
            SqlType::Numeric { precision, scale } => ((i32::from(precision) << 16) | (i32::from(scale) & 0xffff)) + 4,
            _ => -1,
        }
    }

    /// The length limit a text value must respect, if any.
    pub fn max_chars(self) -> Option<u32> {
        match self {
            SqlType::Varchar(n) => n,
            SqlType::Char(n) => Some(n),
            _ => None,
        }
    }
}

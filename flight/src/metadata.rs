//! What the server tells metadata calls: SqlInfo, the XDBC type list and
//! primary keys (arrow-flight has builders for the rest).

use std::sync::Arc;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetPrimaryKeys, Nullable, Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity,
    SqlSupportedTransaction, XdbcDataType,
};
use datafusion::arrow::array::{ArrayRef, Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rustydb_engine::api::{DATABASE_NAME, TableInfo};
use tonic::Status;

/// The server's answers to GetSqlInfo.
pub fn sql_info() -> Result<SqlInfoData, Status> {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "RustyDB");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "59");
    b.append(SqlInfo::FlightSqlServerReadOnly, false);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, SqlSupportedTransaction::Transaction as i32);
    b.append(SqlInfo::FlightSqlServerCancel, true);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, true);
    b.append(SqlInfo::FlightSqlServerIngestTransactionsSupported, true);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, true);
    b.append(SqlInfo::SqlDdlTable, true);
    b.append(SqlInfo::SqlIdentifierCase, SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlQuotedIdentifierCase, SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32);
    b.append(SqlInfo::SqlNullOrdering, SqlNullOrdering::SqlNullsSortedHigh as i32);
    b.append(SqlInfo::SqlTransactionsSupported, true);
    b.build().map_err(|e| Status::internal(format!("building SqlInfo: {e}")))
}

/// The SQL types columns can have, for GetXdbcTypeInfo.
pub fn xdbc_types() -> Result<XdbcTypeInfoData, Status> {
    let mut b = XdbcTypeInfoDataBuilder::new();
    let types: [(&str, XdbcDataType, Option<i32>, bool); 12] = [
        ("boolean", XdbcDataType::XdbcBit, Some(1), false),
        ("smallint", XdbcDataType::XdbcSmallint, Some(5), false),
        ("integer", XdbcDataType::XdbcInteger, Some(10), false),
        ("bigint", XdbcDataType::XdbcBigint, Some(19), false),
        ("real", XdbcDataType::XdbcReal, Some(24), false),
        ("double precision", XdbcDataType::XdbcDouble, Some(53), false),
        ("numeric", XdbcDataType::XdbcNumeric, Some(38), false),
        ("text", XdbcDataType::XdbcLongvarchar, None, true),
        ("character varying", XdbcDataType::XdbcVarchar, None, true),
        ("bytea", XdbcDataType::XdbcLongvarbinary, None, false),
        ("date", XdbcDataType::XdbcDate, Some(10), false),
        ("timestamp", XdbcDataType::XdbcTimestamp, Some(26), false),
    ];
    for (name, data_type, size, quoted) in types {
        b.append(XdbcTypeInfo {
            type_name: name.to_owned(),
            data_type,
            column_size: size,
            literal_prefix: quoted.then(|| "'".to_owned()),
            literal_suffix: quoted.then(|| "'".to_owned()),
            create_params: None,
            nullable: Nullable::NullabilityNullable,
            case_sensitive: quoted,
            searchable: Searchable::Full,
            unsigned_attribute: Some(false),
            fixed_prec_scale: false,
            auto_increment: Some(false),
            local_type_name: Some(name.to_owned()),
            minimum_scale: None,
            maximum_scale: None,
            sql_data_type: data_type,
            datetime_subcode: None,
            num_prec_radix: None,
            interval_precision: None,
        });
    }
    b.build().map_err(|e| Status::internal(format!("building type info: {e}")))
}

/// GetPrimaryKeys' result layout (Flight SQL's CommandGetPrimaryKeys).
pub fn primary_keys_schema() -> Schema {
    Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ])
}

/// The primary key columns of the table `query` names, in key order.
pub fn primary_keys(query: &CommandGetPrimaryKeys, tables: &[TableInfo]) -> Result<RecordBatch, Status> {
    let mut columns: [StringBuilder; 5] = Default::default();
    let mut sequence = Int32Builder::new();
    let catalog_matches = query.catalog.as_deref().is_none_or(|c| c == DATABASE_NAME);
    for t in tables.iter().filter(|t| catalog_matches && t.name == query.table) {
        if query.db_schema.as_deref().is_some_and(|s| s != t.schema) {
            continue;
        }
        let Some((key_name, key)) = &t.primary_key else { continue };
        for (k, column) in key.iter().enumerate() {
            for (builder, value) in columns.iter_mut().zip([DATABASE_NAME, &t.schema, &t.name, column, key_name]) {
                builder.append_value(value);
            }
            sequence.append_value(k as i32 + 1);
        }
    }
    let mut arrays: Vec<ArrayRef> = columns.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    arrays.push(Arc::new(sequence.finish()));
    let schema: SchemaRef = Arc::new(primary_keys_schema());
    RecordBatch::try_new(schema, arrays).map_err(|e| Status::internal(format!("building primary keys: {e}")))
}

//! `pg_catalog` for PostgreSQL clients: psql's `\d` family, driver type
//! introspection, SQLAlchemy/JDBC reflection.
//!
//! ```text
//! pg_catalog.<table>
//!   pg_namespace pg_class pg_attribute pg_index     built here from the statement's
//!   pg_constraint pg_attrdef pg_tables pg_indexes    CatalogSnapshot (OIDs from object ids)
//!   pg_database
//!   everything else (pg_type, pg_proc, pg_am, ...)  datafusion-pg-catalog's static tables
//! ```
//!
//! The crate also supplies the functions clients call (format_type,
//! has_*_privilege, quote_ident, ...). Those that must know our objects or
//! the session (version, current_schema, current_user, pg_backend_pid,
//! pg_get_indexdef, pg_get_constraintdef, pg_get_expr) are defined here.
//! Column layouts of the tables built here are taken from the crate's
//! definitions, so both halves agree on names and types.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, new_empty_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemoryCatalogProviderList, SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{self as pgc, PgCatalogSchemaProvider, PgCatalogStaticTables};
use parking_lot::RwLock;
use rustydb_catalog::{CatalogSnapshot, IndexDef, PUBLIC_SCHEMA_ID, RoleDef, TableDef};

use crate::query::catalog::StatementCell;
use crate::query::types::PG_TYPE_KEY;
use crate::session::settings::Settings;
use crate::sql::names::{BOOTSTRAP_USER, DATABASE_NAME};

/// PostgreSQL's system catalog schema.
pub const PG_CATALOG: &str = "pg_catalog";

/// OID of the `pg_catalog` namespace in every PostgreSQL cluster.
const PG_CATALOG_OID: i64 = 11;
/// OID of `public` in every PostgreSQL cluster.
const PUBLIC_OID: i64 = 2200;
/// OID of the one database.
const DATABASE_OID: i64 = 16384;
/// OID of the bootstrap superuser role, as in PostgreSQL.
const SUPERUSER_OID: i64 = 10;
/// btree access method.
const BTREE_AM_OID: i64 = 403;
/// heap access method.
const HEAP_AM_OID: i64 = 2;
/// Constraint OIDs are their index's OID plus this, keeping them apart.
const CONSTRAINT_OID_OFFSET: i64 = 1 << 30;

/// First OID PostgreSQL gives to user objects; ours are this plus the id.
fn object_oid(id: u64) -> i64 {
    16384 + id as i64
}

fn namespace_oid(snapshot: &CatalogSnapshot, schema: &str) -> i64 {
    match snapshot.schemas.get(schema) {
        Some(s) if s.id == PUBLIC_SCHEMA_ID => PUBLIC_OID,
        Some(s) => object_oid(s.id),
        None => 0,
    }
}

/// The first superuser owns every object and has PostgreSQL's OID 10.
fn owner(snap: &CatalogSnapshot) -> Option<&RoleDef> {
    snap.roles.values().filter(|r| r.superuser).min_by_key(|r| r.id)
}

fn role_oid(snap: &CatalogSnapshot, role: &RoleDef) -> i64 {
    if owner(snap).is_some_and(|o| o.id == role.id) { SUPERUSER_OID } else { object_oid(role.id) }
}

fn user_by_id(snap: &CatalogSnapshot, oid: i64) -> Option<String> {
    if oid == SUPERUSER_OID {
        return Some(owner(snap).map_or_else(|| BOOTSTRAP_USER.to_owned(), |o| o.name.clone()));
    }
    snap.roles.values().find(|r| object_oid(r.id) == oid).map(|r| r.name.clone())
}

fn constraint_oid(index: &IndexDef) -> i64 {
    object_oid(index.id.0) + CONSTRAINT_OID_OFFSET
}

/// Who the session is and its settings, for current_user, pg_backend_pid
/// and current_setting.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: String,
    pub backend_pid: i32,
    /// A copy of the session's settings, renewed whenever they change.
    pub settings: Settings,
}

impl Default for SessionInfo {
    fn default() -> Self {
        SessionInfo {
            user: BOOTSTRAP_USER.into(),
            backend_pid: std::process::id() as i32,
            settings: Settings::default(),
        }
    }
}

/// The static tables, parsed once per database (they are read-only), and
/// pg_type's name → OID map for to_regtype.
pub struct PgCatalogTables {
    /// The crate's provider, over an empty catalog list: every table that
    /// would read the catalog list is built here instead, so one provider
    /// serves all sessions.
    provider: Arc<CratePgCatalog>,
    type_oids: Arc<std::collections::HashMap<String, i64>>,
    /// Type OID → its default btree operator class, for pg_index.indclass.
    btree_opclasses: Arc<std::collections::HashMap<i64, i64>>,
    /// pg_proc OID → (result type, argument types), as
    /// pg_get_function_result / pg_get_function_arguments give them.
    function_signatures: Arc<std::collections::HashMap<i64, (String, String)>>,
}

type CratePgCatalog = PgCatalogSchemaProvider<Arc<dyn datafusion::catalog::CatalogProviderList>, EmptyContextProvider>;

impl PgCatalogTables {
    pub fn load() -> crate::error::Result<Self> {
        let tables = PgCatalogStaticTables::try_new()
            .map_err(|e| crate::error::EngineError::internal(format!("loading pg_catalog tables: {e}")))?;
        let mut type_oids = std::collections::HashMap::new();
        for batch in tables.pg_type.data() {
            let (Some(oids), Some(names)) = (batch.column_by_name("oid"), batch.column_by_name("typname")) else {
                continue;
            };
            let oids = cast(oids, &DataType::Int64).map_err(|e| crate::error::EngineError::internal(e.to_string()))?;
            let names = cast(names, &DataType::Utf8).map_err(|e| crate::error::EngineError::internal(e.to_string()))?;
            for (oid, name) in oids.as_primitive::<Int64Type>().iter().zip(names.as_string::<i32>().iter()) {
                if let (Some(oid), Some(name)) = (oid, name) {
                    type_oids.insert(name.to_owned(), oid);
                }
            }
        }
        let function_signatures = function_signatures(&tables, &type_oids)?;
        // SQL spellings of the built-in types.
        for (alias, name) in [("int", "int4"), ("decimal", "numeric")]
            .into_iter()
            .chain(SQL_TYPE_NAMES.iter().map(|&(name, sql)| (sql, name)))
        {
            if let Some(&oid) = type_oids.get(name) {
                type_oids.insert(alias.to_owned(), oid);
            }
        }
        let btree_opclasses = default_btree_opclasses(&tables)?;
        let empty: Arc<dyn datafusion::catalog::CatalogProviderList> = Arc::new(MemoryCatalogProviderList::new());
        let provider = PgCatalogSchemaProvider::try_new(empty, Arc::new(tables), EmptyContextProvider)
            .map_err(|e| crate::error::EngineError::internal(format!("pg_catalog provider: {e}")))?;
        Ok(PgCatalogTables {
            provider: Arc::new(provider),
            type_oids: Arc::new(type_oids),
            btree_opclasses: Arc::new(btree_opclasses),
            function_signatures: Arc::new(function_signatures),
        })
    }
}

/// The SQL spellings PostgreSQL's format_type gives built-in types.
const SQL_TYPE_NAMES: [(&str, &str); 10] = [
    ("int4", "integer"),
    ("int2", "smallint"),
    ("int8", "bigint"),
    ("float4", "real"),
    ("float8", "double precision"),
    ("bool", "boolean"),
    ("varchar", "character varying"),
    ("bpchar", "character"),
    ("timestamp", "timestamp without time zone"),
    ("timestamptz", "timestamp with time zone"),
];

/// Every pg_proc row's result and argument types, by the function's OID.
fn function_signatures(
    tables: &PgCatalogStaticTables,
    type_oids: &std::collections::HashMap<String, i64>,
) -> crate::error::Result<std::collections::HashMap<i64, (String, String)>> {
    let internal = |e: datafusion::arrow::error::ArrowError| crate::error::EngineError::internal(e.to_string());
    let mut type_names: std::collections::HashMap<i64, String> =
        type_oids.iter().map(|(name, &oid)| (oid, name.clone())).collect();
    for (name, sql) in SQL_TYPE_NAMES {
        if let Some(&oid) = type_oids.get(name) {
            type_names.insert(oid, sql.to_owned());
        }
    }
    let name_of = |oid: i64| type_names.get(&oid).cloned().unwrap_or_else(|| oid.to_string());
    let mut out = std::collections::HashMap::new();
    for batch in tables.pg_proc.data() {
        let (Some(oid), Some(result), Some(args), Some(set)) = (
            batch.column_by_name("oid"),
            batch.column_by_name("prorettype"),
            batch.column_by_name("proargtypes"),
            batch.column_by_name("proretset"),
        ) else {
            continue;
        };
        let (oid, result) =
            (cast(oid, &DataType::Int64).map_err(internal)?, cast(result, &DataType::Int64).map_err(internal)?);
        let (args, set) =
            (cast(args, &DataType::Utf8).map_err(internal)?, cast(set, &DataType::Boolean).map_err(internal)?);
        let (oid, result) = (oid.as_primitive::<Int64Type>(), result.as_primitive::<Int64Type>());
        let (args, set) = (args.as_string::<i32>(), set.as_boolean());
        for row in 0..batch.num_rows() {
            let setof = if set.is_valid(row) && set.value(row) { "SETOF " } else { "" };
            let arguments = if args.is_valid(row) { args.value(row) } else { "" };
            let arguments: Vec<String> =
                arguments.split_whitespace().filter_map(|a| a.parse().ok()).map(name_of).collect();
            out.insert(oid.value(row), (format!("{setof}{}", name_of(result.value(row))), arguments.join(", ")));
        }
    }
    Ok(out)
}

/// pg_opclass rows with `opcmethod` = btree and `opcdefault`, by input type.
fn default_btree_opclasses(
    tables: &PgCatalogStaticTables,
) -> crate::error::Result<std::collections::HashMap<i64, i64>> {
    const BTREE_AM_OID: i64 = 403;
    let internal = |e: datafusion::arrow::error::ArrowError| crate::error::EngineError::internal(e.to_string());
    let mut out = std::collections::HashMap::new();
    for batch in tables.pg_opclass.data() {
        let columns = ["oid", "opcmethod", "opcintype"].map(|c| batch.column_by_name(c));
        let ([Some(oid), Some(method), Some(input)], Some(default)) = (columns, batch.column_by_name("opcdefault"))
        else {
            continue;
        };
        let [oid, method, input] = [oid, method, input].map(|a| cast(a, &DataType::Int64));
        let (oid, method, input) = (oid.map_err(internal)?, method.map_err(internal)?, input.map_err(internal)?);
        let default = cast(default, &DataType::Boolean).map_err(internal)?;
        let (oid, method, input) =
            (oid.as_primitive::<Int64Type>(), method.as_primitive::<Int64Type>(), input.as_primitive::<Int64Type>());
        for row in 0..batch.num_rows() {
            if method.value(row) == BTREE_AM_OID && default.as_boolean().value(row) {
                out.entry(input.value(row)).or_insert(oid.value(row));
            }
        }
    }
    // varchar has no operator class of its own: PostgreSQL indexes it with
    // text's, as it is binary-coercible to text.
    const TEXT_OID: i64 = 25;
    const VARCHAR_OID: i64 = 1043;
    if let Some(&text) = out.get(&TEXT_OID) {
        out.entry(VARCHAR_OID).or_insert(text);
    }
    Ok(out)
}

/// int2vector, oidvector and int2[] columns, which the crate's layouts carry
/// as text. Drivers unnest and subscript them (SQLAlchemy's reflection,
/// PgJDBC's getPrimaryKeys), so here they are lists; the vector types are
/// marked with [`PG_TYPE_KEY`].
const ARRAY_COLUMNS: [(&str, &str, DataType, Option<&str>); 6] = [
    ("pg_index", "indkey", DataType::Int16, Some("int2vector")),
    ("pg_index", "indoption", DataType::Int16, Some("int2vector")),
    ("pg_index", "indclass", DataType::Int32, Some("oidvector")),
    ("pg_index", "indcollation", DataType::Int32, Some("oidvector")),
    ("pg_constraint", "conkey", DataType::Int16, None),
    ("pg_constraint", "confkey", DataType::Int16, None),
];

/// Columns PostgreSQL has that the crate's layouts lack, each placed
/// before the named column as in PostgreSQL (SQLAlchemy reads reloptions).
const MISSING_COLUMNS: [(&str, &str, &str); 2] =
    [("pg_class", "relacl", "relpartbound"), ("pg_class", "reloptions", "relpartbound")];

/// The crate's layout of one of our tables, with list-typed vector columns
/// and PostgreSQL's columns that the layout lacks.
fn own_layout(table: &str, layout: SchemaRef) -> SchemaRef {
    let mut fields = Vec::with_capacity(layout.fields().len() + MISSING_COLUMNS.len());
    for f in layout.fields() {
        for (_, column, _) in MISSING_COLUMNS.iter().filter(|(t, _, before)| *t == table && before == f.name()) {
            fields.push(Arc::new(Field::new(*column, DataType::new_list(DataType::Utf8, true), true)));
        }
        fields.push(match ARRAY_COLUMNS.iter().find(|(t, c, _, _)| *t == table && c == f.name()) {
            Some((_, _, elem, vector)) => {
                let list = Field::new(f.name(), DataType::new_list(elem.clone(), true), f.is_nullable());
                let metadata = vector.iter().map(|v| (PG_TYPE_KEY.to_owned(), (*v).to_owned()));
                Arc::new(list.with_metadata(metadata.collect()))
            }
            None => f.clone(),
        });
    }
    Arc::new(Schema::new_with_metadata(fields, layout.metadata().clone()))
}

/// The `pg_catalog` schema of one session.
#[derive(Debug)]
pub struct PgCatalogSchema {
    inner: Arc<CratePgCatalog>,
    btree_opclasses: Arc<std::collections::HashMap<i64, i64>>,
    cell: Arc<StatementCell>,
}

impl PgCatalogSchema {
    pub fn new(tables: &PgCatalogTables, cell: Arc<StatementCell>) -> Self {
        PgCatalogSchema { inner: tables.provider.clone(), btree_opclasses: tables.btree_opclasses.clone(), cell }
    }
}

/// Tables built from our catalog.
const OWN_TABLES: [&str; 10] = [
    "pg_roles",
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_index",
    "pg_constraint",
    "pg_attrdef",
    "pg_tables",
    "pg_indexes",
    "pg_database",
];

#[async_trait]
impl SchemaProvider for PgCatalogSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.push("pg_indexes".into());
        names
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let name = name.to_ascii_lowercase();
        if !OWN_TABLES.contains(&name.as_str()) {
            return self.inner.table(&name).await;
        }
        let snapshot = self
            .cell
            .get()
            .ok_or_else(|| DataFusionError::Internal("pg_catalog read outside of a statement".into()))?
            .catalog;
        let (schema, rows) = match name.as_str() {
            "pg_indexes" => (pg_indexes_schema(), pg_indexes(&snapshot)),
            // The crate names a column `hasindex`; PostgreSQL's is `hasindexes`.
            "pg_tables" => (pg_tables_schema(), own_rows("pg_tables", &snapshot, &self.btree_opclasses)),
            other => {
                let layout = self
                    .inner
                    .table(other)
                    .await?
                    .ok_or_else(|| DataFusionError::Internal(format!("no layout for {other}")))?
                    .schema();
                (own_layout(other, layout), own_rows(other, &snapshot, &self.btree_opclasses))
            }
        };
        let (schema, batch) = build_batch(&schema, &rows)?;
        Ok(Some(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        name == "pg_indexes" || self.inner.table_exist(&name)
    }
}

/// A catalog value before it takes its column's Arrow type.
#[derive(Debug, Clone)]
enum V {
    I(i64),
    S(String),
    B(bool),
    F(f64),
    /// int2vector / oidvector / int2[]: a list, or space-separated text.
    Ints(Vec<i64>),
    Null,
}

type Row = Vec<(&'static str, V)>;

fn s(v: impl Into<String>) -> V {
    V::S(v.into())
}

fn own_rows(table: &str, snap: &CatalogSnapshot, btree_opclasses: &std::collections::HashMap<i64, i64>) -> Vec<Row> {
    let tables = || snap.tables.values();
    match table {
        "pg_namespace" => {
            let mut rows = vec![
                vec![("oid", V::I(PG_CATALOG_OID)), ("nspname", s("pg_catalog")), ("nspowner", V::I(SUPERUSER_OID))],
                vec![("oid", V::I(13_000)), ("nspname", s("information_schema")), ("nspowner", V::I(SUPERUSER_OID))],
            ];
            rows.extend(snap.schemas.keys().map(|name| {
                vec![("oid", V::I(namespace_oid(snap, name))), ("nspname", s(name)), ("nspowner", V::I(SUPERUSER_OID))]
            }));
            rows
        }
        "pg_class" => {
            let mut rows = Vec::new();
            for t in tables() {
                let ns = namespace_oid(snap, &t.schema);
                rows.push(class_row(
                    object_oid(t.id.0),
                    &t.name,
                    ns,
                    'r',
                    HEAP_AM_OID,
                    t.columns.len(),
                    !t.indexes.is_empty(),
                ));
                for i in &t.indexes {
                    rows.push(class_row(object_oid(i.id.0), &i.name, ns, 'i', BTREE_AM_OID, i.columns.len(), false));
                }
            }
            rows
        }
        "pg_attribute" => {
            let mut rows = Vec::new();
            for t in tables() {
                for (k, c) in t.columns.iter().enumerate() {
                    rows.push(vec![
                        ("attrelid", V::I(object_oid(t.id.0))),
                        ("attname", s(&c.name)),
                        ("atttypid", V::I(i64::from(c.ty.pg_type_oid()))),
                        ("attnum", V::I(k as i64 + 1)),
                        ("atttypmod", V::I(i64::from(c.ty.pg_typmod()))),
                        ("attlen", V::I(-1)),
                        ("attnotnull", V::B(!c.nullable)),
                        ("atthasdef", V::B(c.default.is_some() || c.identity.is_some())),
                        ("attidentity", s(identity_code(c))),
                        ("attgenerated", s("")),
                        ("attisdropped", V::B(false)),
                        ("attislocal", V::B(true)),
                        ("attstattarget", V::I(-1)),
                    ]);
                }
                for i in &t.indexes {
                    for (k, &col) in i.columns.iter().enumerate() {
                        let c = &t.columns[col];
                        rows.push(vec![
                            ("attrelid", V::I(object_oid(i.id.0))),
                            ("attname", s(&c.name)),
                            ("atttypid", V::I(i64::from(c.ty.pg_type_oid()))),
                            ("attnum", V::I(k as i64 + 1)),
                            ("atttypmod", V::I(i64::from(c.ty.pg_typmod()))),
                            ("attnotnull", V::B(!c.nullable)),
                            ("attislocal", V::B(true)),
                        ]);
                    }
                }
            }
            rows
        }
        "pg_index" => tables()
            .flat_map(|t| {
                t.indexes.iter().map(move |i| {
                    let n = i.columns.len() as i64;
                    vec![
                        ("indexrelid", V::I(object_oid(i.id.0))),
                        ("indrelid", V::I(object_oid(t.id.0))),
                        ("indnatts", V::I(n)),
                        ("indnkeyatts", V::I(n)),
                        ("indisunique", V::B(i.unique)),
                        ("indisprimary", V::B(i.primary)),
                        ("indimmediate", V::B(true)),
                        ("indisvalid", V::B(true)),
                        ("indisready", V::B(true)),
                        ("indislive", V::B(true)),
                        ("indkey", V::Ints(i.columns.iter().map(|&c| c as i64 + 1).collect())),
                        ("indcollation", V::Ints(vec![0; i.columns.len()])),
                        (
                            "indclass",
                            V::Ints(
                                i.columns
                                    .iter()
                                    .map(|&c| {
                                        let ty = t.columns.get(c).map(|c| i64::from(c.ty.pg_type_oid()));
                                        ty.and_then(|ty| btree_opclasses.get(&ty).copied()).unwrap_or(0)
                                    })
                                    .collect(),
                            ),
                        ),
                        ("indoption", V::Ints(vec![0; i.columns.len()])),
                        ("indexprs", V::Null),
                        ("indpred", V::Null),
                    ]
                })
            })
            .collect(),
        "pg_constraint" => tables()
            .flat_map(|t| {
                let ns = namespace_oid(snap, &t.schema);
                t.indexes.iter().filter(|i| i.unique).map(move |i| {
                    vec![
                        ("oid", V::I(constraint_oid(i))),
                        ("conname", s(&i.name)),
                        ("connamespace", V::I(ns)),
                        ("contype", s(if i.primary { "p" } else { "u" })),
                        ("condeferrable", V::B(false)),
                        ("condeferred", V::B(false)),
                        ("convalidated", V::B(true)),
                        ("conrelid", V::I(object_oid(t.id.0))),
                        ("conindid", V::I(object_oid(i.id.0))),
                        ("confupdtype", s(" ")),
                        ("confdeltype", s(" ")),
                        ("confmatchtype", s(" ")),
                        ("conislocal", V::B(true)),
                        ("connoinherit", V::B(true)),
                        ("conkey", V::Ints(i.columns.iter().map(|&c| c as i64 + 1).collect())),
                        ("confkey", V::Null),
                        ("conbin", V::Null),
                    ]
                })
            })
            .collect(),
        "pg_attrdef" => tables()
            .flat_map(|t| {
                t.columns.iter().enumerate().filter_map(move |(k, c)| {
                    let expr = match (&c.default, &c.identity) {
                        (Some(d), _) => d.clone(),
                        (None, Some(_)) => return None,
                        (None, None) => return None,
                    };
                    Some(vec![
                        ("oid", V::I(object_oid(t.id.0) * 2048 + k as i64)),
                        ("adrelid", V::I(object_oid(t.id.0))),
                        ("adnum", V::I(k as i64 + 1)),
                        ("adbin", V::S(expr)),
                    ])
                })
            })
            .collect(),
        "pg_tables" => tables()
            .map(|t| {
                vec![
                    ("schemaname", s(&t.schema)),
                    ("tablename", s(&t.name)),
                    ("tableowner", V::S(user_by_id(snap, SUPERUSER_OID).unwrap_or_default())),
                    ("tablespace", V::Null),
                    ("hasindexes", V::B(!t.indexes.is_empty())),
                    ("hasrules", V::B(false)),
                    ("hastriggers", V::B(false)),
                    ("rowsecurity", V::B(false)),
                ]
            })
            .collect(),
        "pg_roles" => {
            let mut rows: Vec<Row> =
                snap.roles.values().map(|r| role_row(role_oid(snap, r), &r.name, r.superuser, r.login)).collect();
            // Until a superuser is created (RUSTYDB_PASSWORD), loopback
            // clients are trusted as the bootstrap superuser, which owns
            // every object (OID 10, see user_by_id).
            if owner(snap).is_none() {
                rows.push(role_row(SUPERUSER_OID, BOOTSTRAP_USER, true, true));
            }
            rows
        }
        "pg_database" => vec![vec![
            ("oid", V::I(DATABASE_OID)),
            ("datname", s(DATABASE_NAME)),
            ("datdba", V::I(SUPERUSER_OID)),
            ("encoding", V::I(6)),
            ("datlocprovider", s("c")),
            ("datistemplate", V::B(false)),
            ("datallowconn", V::B(true)),
            ("datconnlimit", V::I(-1)),
            ("datcollate", s("C.UTF-8")),
            ("datctype", s("C.UTF-8")),
            ("dattablespace", V::I(1663)),
            ("datacl", V::Null),
        ]],
        _ => Vec::new(),
    }
}

fn role_row(oid: i64, name: &str, superuser: bool, login: bool) -> Row {
    vec![
        ("oid", V::I(oid)),
        ("rolname", s(name)),
        ("rolsuper", V::B(superuser)),
        ("rolinherit", V::B(true)),
        ("rolcreaterole", V::B(superuser)),
        ("rolcreatedb", V::B(superuser)),
        ("rolcanlogin", V::B(login)),
        ("rolreplication", V::B(false)),
        ("rolconnlimit", V::I(-1)),
        ("rolpassword", s("********")),
        ("rolvaliduntil", V::Null),
        ("rolbypassrls", V::B(superuser)),
        ("rolconfig", V::Null),
    ]
}

fn class_row(oid: i64, name: &str, ns: i64, kind: char, am: i64, natts: usize, has_index: bool) -> Row {
    vec![
        ("oid", V::I(oid)),
        ("relname", s(name)),
        ("relnamespace", V::I(ns)),
        ("reltype", V::I(0)),
        ("relowner", V::I(SUPERUSER_OID)),
        ("relam", V::I(am)),
        ("relfilenode", V::I(oid)),
        ("reltablespace", V::I(0)),
        ("reltuples", V::F(-1.0)),
        ("relhasindex", V::B(has_index)),
        ("relisshared", V::B(false)),
        ("relpersistence", s("p")),
        ("relkind", s(kind.to_string())),
        ("relnatts", V::I(natts as i64)),
        ("relreplident", s(if kind == 'r' { "d" } else { "n" })),
        ("relispopulated", V::B(true)),
        ("relispartition", V::B(false)),
        ("relacl", V::Null),
        ("reloptions", V::Null),
        ("relpartbound", V::Null),
    ]
}

fn identity_code(c: &rustydb_catalog::ColumnDef) -> &'static str {
    match &c.identity {
        Some(i) if i.always => "a",
        Some(_) => "d",
        None => "",
    }
}

fn pg_indexes_schema() -> SchemaRef {
    let text = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("schemaname", false),
        text("tablename", false),
        text("indexname", false),
        text("tablespace", true),
        text("indexdef", false),
    ]))
}

fn pg_tables_schema() -> SchemaRef {
    let text = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
    let flag = |n: &str| Field::new(n, DataType::Boolean, false);
    Arc::new(Schema::new(vec![
        text("schemaname", false),
        text("tablename", false),
        text("tableowner", false),
        text("tablespace", true),
        flag("hasindexes"),
        flag("hasrules"),
        flag("hastriggers"),
        flag("rowsecurity"),
    ]))
}

fn pg_indexes(snap: &CatalogSnapshot) -> Vec<Row> {
    snap.tables
        .values()
        .flat_map(|t| {
            t.indexes.iter().map(move |i| {
                vec![
                    ("schemaname", s(&t.schema)),
                    ("tablename", s(&t.name)),
                    ("indexname", s(&i.name)),
                    ("tablespace", V::Null),
                    ("indexdef", V::S(index_def(t, i))),
                ]
            })
        })
        .collect()
}

/// `CREATE [UNIQUE] INDEX name ON schema.table USING btree (cols)`.
fn index_def(t: &TableDef, i: &IndexDef) -> String {
    format!(
        "CREATE {}INDEX {} ON {}.{} USING btree ({})",
        if i.unique { "UNIQUE " } else { "" },
        crate::sql::names::quote_if_needed(&i.name),
        crate::sql::names::quote_if_needed(&t.schema),
        crate::sql::names::quote_if_needed(&t.name),
        column_list(t, i)
    )
}

fn column_list(t: &TableDef, i: &IndexDef) -> String {
    i.columns.iter().map(|&c| crate::sql::names::quote_if_needed(&t.columns[c].name)).collect::<Vec<_>>().join(", ")
}

/// Builds one batch in `layout`'s column order; columns a row does not name
/// get PostgreSQL's neutral value (false, 0, '') or NULL. Every column is
/// made nullable so that absent values never fail the batch.
fn build_batch(layout: &SchemaRef, rows: &[Row]) -> DfResult<(SchemaRef, RecordBatch)> {
    let fields: Vec<Field> = layout.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, layout.metadata().clone()));
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, declared) in schema.fields().iter().zip(layout.fields()) {
        let dt = field.data_type();
        if rows.is_empty() {
            columns.push(new_empty_array(dt));
            continue;
        }
        let values = rows
            .iter()
            .map(|row| match row.iter().find(|(n, _)| *n == field.name()) {
                Some((_, v)) => scalar(v, dt),
                None if declared.is_nullable() => ScalarValue::try_from(dt),
                None => neutral(dt),
            })
            .collect::<DfResult<Vec<_>>>()?;
        columns.push(ScalarValue::iter_to_array(values)?);
    }
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((schema, batch))
}

fn neutral(dt: &DataType) -> DfResult<ScalarValue> {
    Ok(match dt {
        DataType::Boolean => ScalarValue::Boolean(Some(false)),
        DataType::Utf8 => ScalarValue::Utf8(Some(String::new())),
        DataType::Utf8View => ScalarValue::Utf8View(Some(String::new())),
        dt if dt.is_numeric() => ScalarValue::new_zero(dt)?,
        dt => ScalarValue::try_from(dt)?,
    })
}

fn scalar(v: &V, dt: &DataType) -> DfResult<ScalarValue> {
    let raw = match v {
        V::Null => return ScalarValue::try_from(dt),
        V::I(i) => ScalarValue::Int64(Some(*i)),
        V::F(f) => ScalarValue::Float64(Some(*f)),
        V::B(b) => ScalarValue::Boolean(Some(*b)),
        V::S(s) => ScalarValue::Utf8(Some(s.clone())),
        V::Ints(ints) => match dt {
            DataType::List(elem) | DataType::LargeList(elem) | DataType::FixedSizeList(elem, _) => {
                let items: Vec<ScalarValue> = ints
                    .iter()
                    .map(|i| ScalarValue::Int64(Some(*i)).cast_to(elem.data_type()))
                    .collect::<DfResult<_>>()?;
                return Ok(ScalarValue::List(ScalarValue::new_list_nullable(&items, elem.data_type())));
            }
            _ => ScalarValue::Utf8(Some(ints.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))),
        },
    };
    if raw.data_type() == *dt { Ok(raw) } else { raw.cast_to(dt) }
}

// ----- functions -----

/// Registers the functions PostgreSQL clients call on connect and in `\d`.
pub fn register_functions(
    ctx: &SessionContext,
    tables: &PgCatalogTables,
    cell: Arc<StatementCell>,
    info: Arc<RwLock<SessionInfo>>,
) {
    for udf in [
        pgc::create_current_schemas_udf(),
        pgc::create_pg_table_is_visible(),
        pgc::create_pg_encoding_to_char_udf(),
        pgc::create_pg_relation_size_udf(),
        pgc::create_pg_total_relation_size_udf(),
        pgc::create_pg_get_partkeydef_udf(),
        pgc::create_pg_relation_is_publishable_udf(),
        pgc::create_pg_get_statisticsobjdef_columns_udf(),
        pgc::create_pg_stat_get_numscans(),
        pgc::create_pg_get_partition_ancestors_udf(),
        pgc::format_type::create_format_type_udf(),
        pgc::quote_ident_udf::create_quote_ident_udf(),
        pgc::quote_ident_udf::create_parse_ident_udf(),
        pgc::array_bounds_udf::create_array_upper_udf(),
        pgc::array_bounds_udf::create_array_lower_udf(),
        pgc::has_privilege_udf::create_has_privilege_udf("has_table_privilege"),
        pgc::has_privilege_udf::create_has_privilege_udf("has_schema_privilege"),
        pgc::has_privilege_udf::create_has_privilege_udf("has_database_privilege"),
        pgc::has_privilege_udf::create_has_privilege_udf("has_any_column_privilege"),
    ] {
        ctx.register_udf(udf);
    }
    let version = format!(
        "PostgreSQL 16.0 (RustyDB {}) on {}-linux, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    ctx.register_udf(constant_text("version", version));
    ctx.register_udf(constant_text("current_database", DATABASE_NAME.to_owned()));
    ctx.register_udf(constant_text("current_catalog", DATABASE_NAME.to_owned()));
    for name in ["current_user", "session_user", "user", "current_role"] {
        let info = info.clone();
        ctx.register_udf(session_text(name, move || info.read().user.clone()));
    }
    let pid = info.clone();
    ctx.register_udf(create_udf(
        "pg_backend_pid",
        vec![],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Int32(Some(pid.read().backend_pid))))),
    ));
    ctx.register_udf(pg_get_indexdef(cell.clone()));
    ctx.register_udf(current_setting(info.clone()));
    for (name, part) in [("pg_get_function_result", 0), ("pg_get_function_arguments", 1)] {
        let signatures = tables.function_signatures.clone();
        ctx.register_udf(text_function(name, any_args(), move |args| {
            let arrays = ColumnarValue::values_to_arrays(&args.args)?;
            let oids = arrays.first().ok_or_else(|| DataFusionError::Plan(format!("{name} needs an OID")))?;
            let oids = cast(oids, &DataType::Int64)?;
            let out: StringArray = oids
                .as_primitive::<Int64Type>()
                .iter()
                .map(|oid| {
                    let (result, arguments) = signatures.get(&oid?)?;
                    Some(if part == 0 { result.clone() } else { arguments.clone() })
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }));
    }
    ctx.register_udf(ScalarUDF::new_from_impl(ExpandArray::new()));
    for (name, f) in [
        ("pg_get_constraintdef", constraintdef as fn(&CatalogSnapshot, i64) -> Option<String>),
        ("pg_get_userbyid", user_by_id),
    ] {
        ctx.register_udf(oid_lookup(name, cell.clone(), f));
    }
    // current_schema(): the first schema of search_path, which SET keeps as
    // DataFusion's default schema.
    ctx.register_udf(text_function("current_schema", Signature::exact(vec![], Volatility::Stable), |args| {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(args.config_options.catalog.default_schema.clone()))))
    }));
    let type_oids = tables.type_oids.clone();
    ctx.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let names = ColumnarValue::values_to_arrays(args)?;
            let names = cast(&names[0], &DataType::Utf8)?;
            let oids: datafusion::arrow::array::Int32Array = names
                .as_string::<i32>()
                .iter()
                .map(|n| n.and_then(|n| type_oids.get(n.trim().to_ascii_lowercase().as_str()).map(|&o| o as i32)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }),
    ));
    // Column defaults are stored as SQL text, which pg_get_expr returns.
    ctx.register_udf(text_function("pg_get_expr", any_args(), |args| {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let first = arrays.first().ok_or_else(|| DataFusionError::Plan("pg_get_expr needs an argument".into()))?;
        Ok(ColumnarValue::Array(cast(first, &DataType::Utf8)?))
    }));
    // Every type and function lives in pg_catalog, which is always on the path.
    for name in ["pg_type_is_visible", "pg_function_is_visible"] {
        ctx.register_udf(catalog_function(name, any_args(), DataType::Boolean, |args| {
            Ok(ColumnarValue::Array(ScalarValue::Boolean(Some(true)).to_array_of_size(args.number_rows)?))
        }));
    }
    // json_build_object(k1, v1, ...): ORMs ask for identity options with it.
    ctx.register_udf(text_function("json_build_object", any_args(), |args| {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if arrays.len() % 2 != 0 {
            return Err(DataFusionError::Plan("json_build_object needs an even number of arguments".into()));
        }
        let mut out = datafusion::arrow::array::StringBuilder::new();
        for row in 0..args.number_rows {
            // PostgreSQL keeps argument order and writes `{"k" : v, ...}`.
            let mut fields = Vec::with_capacity(arrays.len() / 2);
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                let value = ScalarValue::try_from_array(&pair[1], row)?;
                fields.push(format!("{} : {}", serde_json::Value::String(key.to_string()), json_value(&value)));
            }
            out.append_value(format!("{{{}}}", fields.join(", ")));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }));
    // Identity columns draw from sequences that are not relations of their
    // own here (pg_class lists none), so no column has a serial sequence.
    ctx.register_udf(text_function("pg_get_serial_sequence", any_args(), |args| {
        Ok(ColumnarValue::Array(ScalarValue::Utf8(None).to_array_of_size(args.number_rows)?))
    }));
    // Object comments: RustyDB stores none yet.
    for name in ["obj_description", "col_description", "shobj_description"] {
        ctx.register_udf(text_function(name, any_args(), |args| {
            Ok(ColumnarValue::Array(ScalarValue::Utf8(None).to_array_of_size(args.number_rows)?))
        }));
    }
}

fn constant_text(name: &str, value: String) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(value.clone()))))),
    )
}

fn session_text(name: &str, f: impl Fn() -> String + Send + Sync + 'static) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(f()))))),
    )
}

/// current_setting(name [, missing_ok]): a setting's value as SHOW gives
/// it; an unknown name is an error (42704), or NULL with missing_ok.
fn current_setting(info: Arc<RwLock<SessionInfo>>) -> ScalarUDF {
    text_function("current_setting", any_args(), move |args| {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = arrays.first().ok_or_else(|| DataFusionError::Plan("current_setting needs a name".into()))?;
        let names = cast(names, &DataType::Utf8)?;
        let missing_ok = match arrays.get(1) {
            Some(m) => cast(m, &DataType::Boolean)?,
            None => ScalarValue::Boolean(Some(false)).to_array_of_size(names.len())?,
        };
        let info = info.read();
        let out = names
            .as_string::<i32>()
            .iter()
            .zip(missing_ok.as_boolean().iter())
            .map(|(name, missing_ok)| match name.map(|n| info.settings.get(n)) {
                None => Ok(None),
                Some(Ok(value)) => Ok(Some(value)),
                Some(Err(_)) if missing_ok == Some(true) => Ok(None),
                Some(Err(e)) => Err(DataFusionError::External(Box::new(e))),
            })
            .collect::<DfResult<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    })
}

fn find_index(snap: &CatalogSnapshot, oid: i64) -> Option<(&Arc<TableDef>, &IndexDef)> {
    snap.tables.values().find_map(|t| t.indexes.iter().find(|i| object_oid(i.id.0) == oid).map(|i| (t, i)))
}

/// pg_get_indexdef(index_oid [, column, pretty]): the CREATE INDEX
/// statement, or with a column number above 0 that key column's name
/// (PgJDBC's getIndexInfo asks for each column this way).
fn pg_get_indexdef(cell: Arc<StatementCell>) -> ScalarUDF {
    text_function("pg_get_indexdef", any_args(), move |args| {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = arrays.first().ok_or_else(|| DataFusionError::Plan("pg_get_indexdef needs an OID".into()))?;
        let oids = cast(oids, &DataType::Int64)?;
        let columns = match arrays.get(1) {
            Some(c) => cast(c, &DataType::Int64)?,
            None => ScalarValue::Int64(Some(0)).to_array_of_size(oids.len())?,
        };
        let snap = cell.get().map(|c| c.catalog);
        let out: StringArray = oids
            .as_primitive::<Int64Type>()
            .iter()
            .zip(columns.as_primitive::<Int64Type>().iter())
            .map(|(oid, column)| {
                let (t, i) = find_index(snap.as_ref()?, oid?)?;
                match column.unwrap_or(0) {
                    0 => Some(index_def(t, i)),
                    k => {
                        let c = *i.columns.get(usize::try_from(k - 1).ok()?)?;
                        Some(crate::sql::names::quote_if_needed(&t.columns.get(c)?.name))
                    }
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    })
}

/// `_pg_expandarray(list)`: the list's elements paired with their 1-based
/// positions, as a list of `{x, n}` structs. PostgreSQL's
/// information_schema._pg_expandarray returns these as a set; the parser
/// wraps calls in unnest() to make the set (see sql/parser.rs).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

impl ExpandArray {
    fn new() -> Self {
        ExpandArray { signature: Signature::any(1, Volatility::Immutable) }
    }

    fn pair_fields(element: &DataType) -> datafusion::arrow::datatypes::Fields {
        vec![Field::new("x", element.clone(), true), Field::new("n", DataType::Int32, false)].into()
    }
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        "_pg_expandarray"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        match args {
            [DataType::List(element)] => {
                Ok(DataType::new_list(DataType::Struct(Self::pair_fields(element.data_type())), true))
            }
            other => Err(DataFusionError::Plan(format!("_pg_expandarray needs an array, not {other:?}"))),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::{Int32Array, ListArray, StructArray};
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let list = arrays
            .first()
            .and_then(|a| a.as_list_opt::<i32>())
            .ok_or_else(|| DataFusionError::Plan("_pg_expandarray needs an array".into()))?;
        let values = list.values().clone();
        let mut positions = vec![0i32; values.len()];
        for window in list.offsets().windows(2) {
            let (start, end) = (window[0] as usize, window[1] as usize);
            for (k, slot) in positions[start..end].iter_mut().enumerate() {
                *slot = k as i32 + 1;
            }
        }
        let element = values.data_type().clone();
        let pairs = StructArray::try_new(
            Self::pair_fields(&element),
            vec![values, Arc::new(Int32Array::from(positions))],
            None,
        )?;
        let item = Arc::new(Field::new_list_field(pairs.data_type().clone(), true));
        let out = ListArray::try_new(item, list.offsets().clone(), Arc::new(pairs), list.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

fn constraintdef(snap: &CatalogSnapshot, oid: i64) -> Option<String> {
    let (t, i) = find_index(snap, oid - CONSTRAINT_OID_OFFSET)?;
    Some(format!("{} ({})", if i.primary { "PRIMARY KEY" } else { "UNIQUE" }, column_list(t, i)))
}

/// A value as JSON: numbers and booleans stay typed, the rest is text.
fn json_value(v: &ScalarValue) -> serde_json::Value {
    use serde_json::Value as J;
    if v.is_null() {
        return J::Null;
    }
    match v {
        ScalarValue::Boolean(Some(b)) => J::Bool(*b),
        ScalarValue::Int8(Some(i)) => J::from(*i),
        ScalarValue::Int16(Some(i)) => J::from(*i),
        ScalarValue::Int32(Some(i)) => J::from(*i),
        ScalarValue::Int64(Some(i)) => J::from(*i),
        ScalarValue::UInt32(Some(i)) => J::from(*i),
        ScalarValue::UInt64(Some(i)) => J::from(*i),
        ScalarValue::Float64(Some(f)) => J::from(*f),
        other => J::String(other.to_string()),
    }
}

/// A catalog function; equal by name (one per name).
struct CatalogFunction {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Box<dyn Fn(ScalarFunctionArgs) -> DfResult<ColumnarValue> + Send + Sync>,
}

impl std::fmt::Debug for CatalogFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CatalogFunction({})", self.name)
    }
}

impl PartialEq for CatalogFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for CatalogFunction {}
impl std::hash::Hash for CatalogFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for CatalogFunction {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        (self.body)(args)
    }
}

fn text_function(
    name: &'static str,
    signature: Signature,
    body: impl Fn(ScalarFunctionArgs) -> DfResult<ColumnarValue> + Send + Sync + 'static,
) -> ScalarUDF {
    catalog_function(name, signature, DataType::Utf8, body)
}

fn catalog_function(
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: impl Fn(ScalarFunctionArgs) -> DfResult<ColumnarValue> + Send + Sync + 'static,
) -> ScalarUDF {
    ScalarUDF::new_from_impl(CatalogFunction { name, signature, returns, body: Box::new(body) })
}

fn any_args() -> Signature {
    Signature::variadic_any(Volatility::Stable)
}

/// A function of an object's OID (first argument) answered from the
/// statement's catalog snapshot; later arguments (column, pretty) are
/// accepted and ignored.
fn oid_lookup(
    name: &'static str,
    cell: Arc<StatementCell>,
    f: fn(&CatalogSnapshot, i64) -> Option<String>,
) -> ScalarUDF {
    text_function(name, any_args(), move |args| {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = arrays.first().ok_or_else(|| DataFusionError::Plan(format!("{name} needs an OID")))?;
        let oids = cast(oids, &DataType::Int64)?;
        let snap = cell.get().map(|c| c.catalog);
        let out: StringArray = oids
            .as_primitive::<Int64Type>()
            .iter()
            .map(|oid| oid.and_then(|oid| snap.as_ref().and_then(|s| f(s, oid))))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_their_column_types() {
        let layout = Arc::new(Schema::new(vec![
            Field::new("oid", DataType::Int32, false),
            Field::new("flag", DataType::Boolean, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("key", DataType::List(Arc::new(Field::new_list_field(DataType::Int16, true))), true),
            Field::new("keytext", DataType::Utf8, true),
        ]));
        let rows = vec![vec![("oid", V::I(7)), ("key", V::Ints(vec![1, 3])), ("keytext", V::Ints(vec![1, 3]))]];
        let (_, batch) = build_batch(&layout, &rows).unwrap();
        assert_eq!(batch.column(0).as_primitive::<datafusion::arrow::datatypes::Int32Type>().value(0), 7);
        assert!(!batch.column(1).as_boolean().value(0));
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "");
        assert_eq!(batch.column(3).as_list::<i32>().value(0).len(), 2);
        assert_eq!(batch.column(4).as_string::<i32>().value(0), "1 3");
    }
}

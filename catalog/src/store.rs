//! Reading and writing catalog rows in the system table.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rustydb_common::{IndexId, RowId, Scn, TableId};
use rustydb_storage::{
    ColumnSource, ColumnSpec, ColumnType, IndexSpec, Isolation, KeyRange, ReadView, ScanCursor, Storage, StorageError,
    TableSpec, Transaction, Value, WriteOutcome,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::defs::{SchemaDef, TableDef};
use crate::error::{CatalogError, Result};
use crate::roles::RoleDef;

/// The system table holding the catalog.
pub const CATALOG_TABLE: TableId = TableId(1);
const CATALOG_PKEY: IndexId = IndexId(2);
const KIND_SCHEMA: &str = "schema";
const KIND_TABLE: &str = "table";
const KIND_ROLE: &str = "role";

fn system_spec() -> TableSpec {
    let col = |name: &str| ColumnSpec { name: name.into(), ty: ColumnType::Text, nullable: false };
    TableSpec {
        id: CATALOG_TABLE,
        columns: vec![col("kind"), col("schema"), col("name"), col("body")],
        indexes: vec![IndexSpec {
            id: CATALOG_PKEY,
            name: "rustydb_catalog_pkey".into(),
            columns: vec![0, 1, 2],
            unique: true,
            primary: true,
        }],
    }
}

/// Creates the system table and the `public` schema on first start.
pub fn bootstrap(storage: &Arc<Storage>) -> Result<()> {
    if storage.has_table(CATALOG_TABLE) {
        return Ok(());
    }
    let mut txn = storage.begin(Isolation::ReadCommitted);
    txn.create_table(system_spec())?;
    create_schema(&mut txn, "public", crate::defs::PUBLIC_SCHEMA_ID)?;
    txn.commit()?;
    Ok(())
}

/// All schemas and tables as one snapshot saw them.
#[derive(Debug, Default)]
pub struct CatalogSnapshot {
    pub schemas: BTreeMap<String, SchemaDef>,
    pub tables: BTreeMap<(String, String), Arc<TableDef>>,
    pub roles: BTreeMap<String, RoleDef>,
}

impl CatalogSnapshot {
    /// Reads the catalog through a view.
    pub fn load(view: &ReadView) -> Result<Self> {
        let mut snap = CatalogSnapshot::default();
        let mut cursor = ScanCursor::default();
        while let Some(chunk) = view.scan_chunk(CATALOG_TABLE, &mut cursor, &[0, 1, 2, 3], 1024)? {
            let types = [ColumnType::Text; 4];
            let rows = rustydb_storage::batch::rows_from_arrays(&types, &chunk.columns)?;
            for row in rows {
                let (Value::Text(kind), Value::Text(schema), Value::Text(name), Value::Text(body)) =
                    (&row[0], &row[1], &row[2], &row[3])
                else {
                    return Err(CatalogError::Corrupt("catalog row with a null".into()));
                };
                match &**kind {
                    KIND_SCHEMA => {
                        snap.schemas.insert(name.to_string(), parse(body)?);
                    }
                    KIND_TABLE => {
                        snap.tables.insert((schema.to_string(), name.to_string()), Arc::new(parse(body)?));
                    }
                    KIND_ROLE => {
                        snap.roles.insert(name.to_string(), parse(body)?);
                    }
                    other => return Err(CatalogError::Corrupt(format!("unknown catalog kind {other}"))),
                }
            }
        }
        Ok(snap)
    }

    /// A table by schema and name.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Arc<TableDef>> {
        self.tables.get(&(schema.to_owned(), name.to_owned()))
    }

    /// Tables of one schema, by name.
    pub fn tables_in<'a>(&'a self, schema: &'a str) -> impl Iterator<Item = &'a Arc<TableDef>> + 'a {
        self.tables.iter().filter(move |((s, _), _)| s == schema).map(|(_, t)| t)
    }

    /// A table by id.
    pub fn table_by_id(&self, id: TableId) -> Option<&Arc<TableDef>> {
        self.tables.values().find(|t| t.id == id)
    }
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| CatalogError::Corrupt(format!("{e}")))
}

fn json<T: Serialize>(v: &T) -> Box<str> {
    serde_json::to_string(v).expect("catalog definitions always serialise").into()
}

/// Caches the latest catalog snapshot; reloaded only after DDL commits.
#[derive(Default)]
pub struct CatalogCache {
    cached: Mutex<Option<(Scn, Arc<CatalogSnapshot>)>>,
}

impl CatalogCache {
    /// The catalog as `view` sees it.
    pub fn get(&self, view: &ReadView) -> Result<Arc<CatalogSnapshot>> {
        if view.writes_table(CATALOG_TABLE) {
            return Ok(Arc::new(CatalogSnapshot::load(view)?));
        }
        let last_ddl = view.storage().table_last_write(CATALOG_TABLE)?;
        let snapshot = view.snapshot();
        if let Some((loaded_at, snap)) = &*self.cached.lock()
            && last_ddl <= snapshot.min(*loaded_at)
        {
            return Ok(snap.clone());
        }
        let snap = Arc::new(CatalogSnapshot::load(view)?);
        if snapshot >= last_ddl {
            *self.cached.lock() = Some((snapshot, snap.clone()));
        }
        Ok(snap)
    }
}

fn key(kind: &str, schema: &str, name: &str) -> Vec<Value> {
    vec![Value::Text(kind.into()), Value::Text(schema.into()), Value::Text(name.into())]
}

fn insert_entry(
    txn: &mut Transaction,
    kind: &str,
    schema: &str,
    name: &str,
    body: Box<str>,
) -> Result<(), StorageError> {
    let mut row = key(kind, schema, name);
    row.push(Value::Text(body));
    txn.insert(CATALOG_TABLE, vec![row.into()])?;
    Ok(())
}

fn find_entry(txn: &Transaction, kind: &str, schema: &str, name: &str) -> Result<Option<RowId>> {
    let chunk = txn.view().lookup(CATALOG_TABLE, CATALOG_PKEY, &KeyRange::eq(key(kind, schema, name)), &[])?;
    let Some(chunk) = chunk else { return Ok(None) };
    Ok(Some(chunk.row_id(0)))
}

fn delete_entry(txn: &mut Transaction, kind: &str, schema: &str, name: &str) -> Result<bool> {
    let Some(row) = find_entry(txn, kind, schema, name)? else { return Ok(false) };
    let snapshot = txn.snapshot();
    match txn.delete(CATALOG_TABLE, row, snapshot)? {
        WriteOutcome::Done => Ok(true),
        // Someone else changed this catalog row since our snapshot.
        WriteOutcome::Changed | WriteOutcome::Gone => Err(StorageError::SerializationFailure.into()),
    }
}

/// Creates a schema.
pub fn create_schema(txn: &mut Transaction, name: &str, id: u64) -> Result<()> {
    let body = json(&SchemaDef { name: name.into(), id });
    insert_entry(txn, KIND_SCHEMA, "", name, body).map_err(|e| match e {
        StorageError::UniqueViolation { .. } => CatalogError::DuplicateSchema(name.into()),
        e => e.into(),
    })
}

/// Drops an empty schema (the engine drops its tables first for CASCADE).
pub fn drop_schema(txn: &mut Transaction, name: &str) -> Result<()> {
    let snap = CatalogSnapshot::load(&txn.view())?;
    if snap.tables_in(name).next().is_some() {
        return Err(CatalogError::DependentObjects(name.into()));
    }
    if !delete_entry(txn, KIND_SCHEMA, "", name)? {
        return Err(CatalogError::UndefinedSchema(name.into()));
    }
    Ok(())
}

/// Creates a table: its catalog row and its storage.
pub fn create_table(txn: &mut Transaction, def: &TableDef) -> Result<()> {
    insert_entry(txn, KIND_TABLE, &def.schema, &def.name, json(def)).map_err(|e| match e {
        StorageError::UniqueViolation { .. } => CatalogError::DuplicateTable(def.name.clone()),
        e => e.into(),
    })?;
    txn.create_table(def.storage_spec())?;
    Ok(())
}

/// Creates a role.
pub fn create_role(txn: &mut Transaction, role: &RoleDef) -> Result<()> {
    insert_entry(txn, KIND_ROLE, "", &role.name, json(role)).map_err(|e| match e {
        StorageError::UniqueViolation { .. } => CatalogError::DuplicateRole(role.name.clone()),
        e => e.into(),
    })
}

/// Replaces a role's definition (ALTER ROLE).
pub fn replace_role(txn: &mut Transaction, role: &RoleDef) -> Result<()> {
    drop_role(txn, &role.name)?;
    create_role(txn, role)
}

/// Drops a role.
pub fn drop_role(txn: &mut Transaction, name: &str) -> Result<()> {
    if !delete_entry(txn, KIND_ROLE, "", name)? {
        return Err(CatalogError::UndefinedRole(name.into()));
    }
    Ok(())
}

/// Drops a table and its storage.
pub fn drop_table(txn: &mut Transaction, def: &TableDef) -> Result<()> {
    if !delete_entry(txn, KIND_TABLE, &def.schema, &def.name)? {
        return Err(CatalogError::UndefinedTable(def.name.clone()));
    }
    txn.drop_table(def.id)?;
    Ok(())
}

/// Replaces a table's definition (ALTER TABLE, CREATE/DROP INDEX); `map`
/// says how existing rows become rows of the new layout.
pub fn replace_table(txn: &mut Transaction, old: &TableDef, new: &TableDef, map: Vec<ColumnSource>) -> Result<()> {
    if !delete_entry(txn, KIND_TABLE, &old.schema, &old.name)? {
        return Err(CatalogError::UndefinedTable(old.name.clone()));
    }
    insert_entry(txn, KIND_TABLE, &new.schema, &new.name, json(new)).map_err(|e| match e {
        StorageError::UniqueViolation { .. } => CatalogError::DuplicateTable(new.name.clone()),
        e => e.into(),
    })?;
    txn.alter_table(new.storage_spec(), map)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defs::ColumnDef;
    use crate::types::SqlType;
    use rustydb_storage::StorageOptions;

    fn table(storage: &Storage, name: &str) -> TableDef {
        TableDef {
            id: TableId(storage.allocate_object_id()),
            schema: "public".into(),
            name: name.into(),
            columns: vec![ColumnDef {
                name: "a".into(),
                ty: SqlType::Int4,
                nullable: true,
                default: None,
                identity: None,
            }],
            indexes: vec![],
        }
    }

    #[test]
    fn ddl_is_transactional_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
            bootstrap(&storage).unwrap();
            let mut txn = storage.begin(Isolation::ReadCommitted);
            create_table(&mut txn, &table(&storage, "kept")).unwrap();
            txn.commit().unwrap();
            let mut txn = storage.begin(Isolation::ReadCommitted);
            create_table(&mut txn, &table(&storage, "rolled_back")).unwrap();
            assert!(CatalogSnapshot::load(&txn.view()).unwrap().table("public", "rolled_back").is_some());
            txn.rollback();
            let mut txn = storage.begin(Isolation::ReadCommitted);
            let dup = create_table(&mut txn, &table(&storage, "kept"));
            assert!(matches!(dup, Err(CatalogError::DuplicateTable(_))));
        }
        let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
        bootstrap(&storage).unwrap();
        let snap = CatalogSnapshot::load(&storage.begin(Isolation::ReadCommitted).view()).unwrap();
        assert!(snap.schemas.contains_key("public"));
        assert!(snap.table("public", "kept").is_some());
        assert!(snap.table("public", "rolled_back").is_none());
    }
}

//! Catalog facts for front ends' metadata calls (Flight SQL's GetTables,
//! GetDbSchemas, GetPrimaryKeys), read at the session's current snapshot:
//! the open block's, or a fresh one.

use datafusion::arrow::datatypes::SchemaRef;

use crate::error::Result;
use crate::query::table::table_schema;
use crate::session::Session;

/// A table as metadata calls list it.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// Its columns as Arrow fields (what a scan of it returns).
    pub arrow_schema: SchemaRef,
    /// The primary key's name and columns, in key order.
    pub primary_key: Option<(String, Vec<String>)>,
}

impl Session {
    /// Every schema's name, in name order.
    pub fn schema_names(&self) -> Result<Vec<String>> {
        let catalog = self.prepare_view(self.current_view()?)?;
        self.cell.clear();
        let mut names: Vec<String> = catalog.schemas.keys().cloned().collect();
        names.extend(["information_schema".to_owned(), "pg_catalog".to_owned()]);
        names.sort();
        Ok(names)
    }

    /// Every user table, in (schema, name) order.
    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let catalog = self.prepare_view(self.current_view()?)?;
        self.cell.clear();
        Ok(catalog
            .tables
            .values()
            .map(|t| TableInfo {
                schema: t.schema.clone(),
                name: t.name.clone(),
                arrow_schema: table_schema(t, false),
                primary_key: t.indexes.iter().find(|i| i.primary).map(|i| {
                    (
                        i.name.clone(),
                        i.columns.iter().filter_map(|&c| t.columns.get(c)).map(|c| c.name.clone()).collect(),
                    )
                }),
            })
            .collect())
    }

    /// Whether `schema.table` exists (the session's current schema when
    /// `schema` is None); names are taken exactly.
    pub fn table_exists(&self, schema: Option<&str>, table: &str) -> Result<bool> {
        let catalog = self.prepare_view(self.current_view()?)?;
        self.cell.clear();
        let schema = schema.map_or_else(|| self.settings.current_schema(), str::to_owned);
        Ok(catalog.tables.contains_key(&(schema, table.to_owned())))
    }
}

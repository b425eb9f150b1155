//! DDL: CREATE/DROP/ALTER TABLE, CREATE/DROP INDEX and SCHEMA, TRUNCATE.
//!
//! Every change is a catalog write plus a physical storage change in the
//! session's transaction, so DDL commits, rolls back and recovers exactly
//! like DML. Statements are validated against the catalog snapshot of the
//! statement; concurrent DDL on one table serialises on its table lock.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::sql::sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, ColumnOption, CreateIndex, CreateTable, Expr, GeneratedAs,
    IndexColumn, ObjectName, ObjectType, RenameTableNameKind, Statement, TableConstraint,
};
use rustydb_catalog::{CatalogSnapshot, ColumnDef, Identity, IndexDef, SqlType, TableDef};
use rustydb_common::limits::TABLE_COLUMNS_MAX;
use rustydb_common::{IndexId, TableId};
use rustydb_storage::{ColumnSource, ScanCursor, Value};

use crate::api::{StatementResult, Verb};
use crate::error::{EngineError, Result};
use crate::extension::WriteOp;
use crate::query::types::declared_type;
use crate::session::{Session, TxnSlot};
use crate::sql::names::{check_new_name, ident, split};
use rustydb_common::SqlState;

impl Session {
    pub(crate) async fn ddl(&mut self, slot: &mut TxnSlot, stmt: Statement) -> Result<StatementResult> {
        let catalog = self.prepare_context(slot.get()?)?;
        match stmt {
            Statement::CreateTable(ct) => self.create_table(slot, &catalog, ct).await,
            Statement::CreateSchema { schema_name, if_not_exists, .. } => {
                let name = match schema_name {
                    ast::SchemaName::Simple(n) => split(&n)?.1,
                    other => return Err(EngineError::unsupported(format!("CREATE SCHEMA {other}"))),
                };
                check_new_name(&name)?;
                if catalog.schemas.contains_key(&name) {
                    if if_not_exists {
                        return Ok(StatementResult::command("CREATE SCHEMA"));
                    }
                    return Err(EngineError::sql(
                        SqlState::DuplicateSchema,
                        format!("schema \"{name}\" already exists"),
                    ));
                }
                let id = self.db.next_object_id()?;
                slot.blocking(move |t| rustydb_catalog::create_schema(t, &name, id)).await??;
                Ok(StatementResult::command("CREATE SCHEMA"))
            }
            Statement::CreateIndex(ci) => self.create_index(slot, &catalog, ci).await,
            Statement::Drop { object_type, if_exists, names, cascade, .. } => {
                self.drop_objects(slot, &catalog, object_type, if_exists, names, cascade).await
            }
            Statement::AlterTable(at) => self.alter_table(slot, &catalog, at).await,
            Statement::Truncate(tr) => {
                for target in &tr.table_names {
                    let def = self.resolve_table(&catalog, &target.name)?;
                    self.before_write(&def, WriteOp::Truncate)?;
                    let id = def.id;
                    slot.blocking(move |t| t.truncate(id)).await??;
                }
                Ok(StatementResult::command("TRUNCATE TABLE"))
            }
            other => Err(EngineError::internal(format!("not a DDL statement: {other}"))),
        }
    }

    /// Finds a table by (possibly qualified) name, or fails with 42P01.
    pub(crate) fn resolve_table(&self, catalog: &CatalogSnapshot, name: &ObjectName) -> Result<Arc<TableDef>> {
        let (schema, table) = split(name)?;
        let schema = schema.unwrap_or_else(|| self.settings.current_schema());
        catalog
            .table(&schema, &table)
            .cloned()
            .ok_or_else(|| EngineError::sql(SqlState::UndefinedTable, format!("relation \"{table}\" does not exist")))
    }

    fn allocate_id(&self) -> u64 {
        self.db.storage().allocate_object_id()
    }

    /// Evaluates a constant expression (DEFAULT) to a value of type `ty`.
    pub(crate) async fn eval_constant(&self, expr: &str, ty: SqlType, column: &str) -> Result<Value> {
        let (_, batches) = self.run_sql(&format!("SELECT {expr}")).await?;
        let batch =
            batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| EngineError::internal("constant without a row"))?;
        let array = crate::query::types::coerce_to_column(batch.column(0), ty, column)?;
        Ok(rustydb_storage::batch::value_at(array.as_ref(), ty.column_type(), 0)?)
    }

    /// Builds a column from its AST; returns whether it asked for a primary
    /// key or unique constraint inline.
    async fn column_def(&self, c: &ast::ColumnDef) -> Result<(ColumnDef, bool, bool)> {
        let name = ident(&c.name);
        check_new_name(&name)?;
        let declared = declared_type(&c.data_type)?;
        let mut col = ColumnDef { name, ty: declared.ty, nullable: true, default: None, identity: None };
        if declared.serial {
            col.identity = Some(Identity { sequence: self.allocate_id(), always: false });
            col.nullable = false;
        }
        let (mut pk, mut unique) = (false, false);
        for opt in &c.options {
            match &opt.option {
                ColumnOption::Null => col.nullable = true,
                ColumnOption::NotNull => col.nullable = false,
                ColumnOption::Default(e) => {
                    let text = e.to_string();
                    // Check it now, so a bad default fails CREATE, not INSERT.
                    self.eval_constant(&text, col.ty, &col.name).await?;
                    col.default = Some(text);
                }
                ColumnOption::PrimaryKey(_) => pk = true,
                ColumnOption::Unique(_) => unique = true,
                ColumnOption::Generated { generated_as, generation_expr: None, .. } => {
                    let always = matches!(generated_as, GeneratedAs::Always);
                    col.identity = Some(Identity { sequence: self.allocate_id(), always });
                    col.nullable = false;
                }
                ColumnOption::Identity(_) => {
                    col.identity = Some(Identity { sequence: self.allocate_id(), always: false });
                    col.nullable = false;
                }
                ColumnOption::Comment(_) => {}
                other => return Err(EngineError::unsupported(format!("column option {other} is not supported yet"))),
            }
        }
        if col.identity.is_some() && !matches!(col.ty, SqlType::Int2 | SqlType::Int4 | SqlType::Int8) {
            return Err(EngineError::sql(
                SqlState::InvalidParameterValue,
                format!("identity column type must be smallint, integer, or bigint"),
            ));
        }
        Ok((col, pk, unique))
    }

    async fn create_table(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        ct: CreateTable,
    ) -> Result<StatementResult> {
        let (schema, name) = split(&ct.name)?;
        let schema = schema.unwrap_or_else(|| self.settings.current_schema());
        check_new_name(&name)?;
        if !catalog.schemas.contains_key(&schema) {
            return Err(EngineError::sql(SqlState::InvalidSchemaName, format!("schema \"{schema}\" does not exist")));
        }
        if catalog.table(&schema, &name).is_some() {
            if ct.if_not_exists {
                return Ok(StatementResult::command("CREATE TABLE"));
            }
            return Err(EngineError::sql(SqlState::DuplicateTable, format!("relation \"{name}\" already exists")));
        }
        if ct.temporary || ct.external {
            return Err(EngineError::unsupported("TEMPORARY and EXTERNAL tables are not supported yet"));
        }
        let mut def =
            TableDef { id: TableId(self.allocate_id()), schema, name, columns: Vec::new(), indexes: Vec::new() };
        if let Some(query) = &ct.query {
            return self.create_table_as(slot, def, query).await;
        }
        let mut pk_cols: Option<Vec<usize>> = None;
        let mut uniques: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for c in &ct.columns {
            let (col, pk, unique) = self.column_def(c).await?;
            if def.column(&col.name).is_some() {
                return Err(EngineError::sql(
                    SqlState::DuplicateColumn,
                    format!("column \"{}\" specified more than once", col.name),
                ));
            }
            let pos = def.columns.len();
            def.columns.push(col);
            if pk {
                if pk_cols.is_some() {
                    return Err(multiple_pk(&def.name));
                }
                pk_cols = Some(vec![pos]);
            }
            if unique {
                uniques.push((None, vec![pos]));
            }
        }
        if def.columns.len() > TABLE_COLUMNS_MAX {
            return Err(EngineError::sql(
                SqlState::TooManyColumns,
                format!("tables can have at most {TABLE_COLUMNS_MAX} columns"),
            ));
        }
        for constraint in &ct.constraints {
            match constraint {
                TableConstraint::PrimaryKey(pk) => {
                    if pk_cols.is_some() {
                        return Err(multiple_pk(&def.name));
                    }
                    pk_cols = Some(index_columns(&def, &pk.columns)?);
                }
                TableConstraint::Unique(u) => {
                    uniques.push((u.name.as_ref().map(ident), index_columns(&def, &u.columns)?))
                }
                other => return Err(EngineError::unsupported(format!("constraint {other} is not supported yet"))),
            }
        }
        if let Some(cols) = pk_cols {
            self.add_index(&mut def, None, cols, true, true)?;
        }
        for (name, cols) in uniques {
            self.add_index(&mut def, name, cols, true, false)?;
        }
        slot.blocking(move |t| rustydb_catalog::create_table(t, &def)).await??;
        Ok(StatementResult::command("CREATE TABLE"))
    }

    async fn create_table_as(
        &mut self,
        slot: &mut TxnSlot,
        mut def: TableDef,
        query: &ast::Query,
    ) -> Result<StatementResult> {
        let (schema, batches) = self.run_sql(&query.to_string()).await?;
        for f in schema.fields() {
            check_new_name(f.name())?;
            def.columns.push(ColumnDef {
                name: f.name().clone(),
                ty: sql_type_of(f.data_type())?,
                nullable: true,
                default: None,
                identity: None,
            });
        }
        self.before_write(&def, WriteOp::Insert)?;
        let table = def.id;
        let types: Vec<SqlType> = def.columns.iter().map(|c| c.ty).collect();
        let names: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
        slot.blocking(move |t| rustydb_catalog::create_table(t, &def)).await??;
        let mut rows = Vec::new();
        for b in &batches {
            let arrays = b
                .columns()
                .iter()
                .zip(types.iter().zip(&names))
                .map(|(a, (ty, n))| crate::query::types::coerce_to_column(a, *ty, n))
                .collect::<Result<Vec<_>>>()?;
            let col_types: Vec<_> = types.iter().map(|t| t.column_type()).collect();
            rows.extend(rustydb_storage::batch::rows_from_arrays(&col_types, &arrays)?);
        }
        let n = rows.len();
        slot.blocking(move |t| t.insert(table, rows)).await??;
        Ok(StatementResult::affected(Verb::Select, n as u64))
    }

    /// Adds an index definition, naming it as PostgreSQL does.
    fn add_index(
        &self,
        def: &mut TableDef,
        name: Option<String>,
        columns: Vec<usize>,
        unique: bool,
        primary: bool,
    ) -> Result<String> {
        let name = name.unwrap_or_else(|| {
            if primary {
                format!("{}_pkey", def.name)
            } else {
                let cols: Vec<&str> = columns.iter().map(|&c| def.columns[c].name.as_str()).collect();
                format!("{}_{}_{}", def.name, cols.join("_"), if unique { "key" } else { "idx" })
            }
        });
        if def.indexes.iter().any(|i| i.name == name) {
            return Err(EngineError::sql(SqlState::DuplicateTable, format!("relation \"{name}\" already exists")));
        }
        if primary {
            if def.primary_key().is_some() {
                return Err(multiple_pk(&def.name));
            }
            for &c in &columns {
                def.columns[c].nullable = false;
            }
        }
        def.indexes.push(IndexDef { id: IndexId(self.allocate_id()), name: name.clone(), columns, unique, primary });
        Ok(name)
    }

    async fn create_index(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        ci: CreateIndex,
    ) -> Result<StatementResult> {
        let old = self.resolve_table(catalog, &ci.table_name)?;
        if ci.predicate.is_some() || !ci.include.is_empty() {
            return Err(EngineError::unsupported("partial and covering indexes are not supported yet"));
        }
        let name = ci.name.as_ref().map(|n| split(n).map(|(_, n)| n)).transpose()?;
        if let Some(n) = &name {
            check_new_name(n)?;
            if index_exists(catalog, &old.schema, n) {
                if ci.if_not_exists {
                    return Ok(StatementResult::command("CREATE INDEX"));
                }
                return Err(EngineError::sql(SqlState::DuplicateTable, format!("relation \"{n}\" already exists")));
            }
        }
        let mut new = (*old).clone();
        let cols = index_columns(&new, &ci.columns)?;
        self.add_index(&mut new, name, cols, ci.unique, false)?;
        let map = identity_map(old.columns.len());
        slot.blocking(move |t| rustydb_catalog::replace_table(t, &old, &new, map)).await??;
        Ok(StatementResult::command("CREATE INDEX"))
    }

    async fn drop_objects(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        object_type: ObjectType,
        if_exists: bool,
        names: Vec<ObjectName>,
        cascade: bool,
    ) -> Result<StatementResult> {
        let tag = match object_type {
            ObjectType::Table => "DROP TABLE",
            ObjectType::Schema => "DROP SCHEMA",
            ObjectType::Index => "DROP INDEX",
            other => return Err(EngineError::unsupported(format!("DROP {other} is not supported"))),
        };
        for name in &names {
            match object_type {
                ObjectType::Table => match self.resolve_table(catalog, name) {
                    Ok(def) => slot.blocking(move |t| rustydb_catalog::drop_table(t, &def)).await??,
                    Err(_) if if_exists => {}
                    Err(e) => return Err(e),
                },
                ObjectType::Schema => {
                    let schema = split(name)?.1;
                    if !catalog.schemas.contains_key(&schema) {
                        if if_exists {
                            continue;
                        }
                        return Err(EngineError::sql(
                            SqlState::InvalidSchemaName,
                            format!("schema \"{schema}\" does not exist"),
                        ));
                    }
                    let tables: Vec<Arc<TableDef>> = catalog.tables_in(&schema).cloned().collect();
                    if !tables.is_empty() && !cascade {
                        return Err(EngineError::sql(
                            SqlState::DependentObjectsStillExist,
                            format!("cannot drop schema {schema} because other objects depend on it"),
                        ));
                    }
                    slot.blocking(move |t| -> Result<()> {
                        for def in &tables {
                            rustydb_catalog::drop_table(t, def)?;
                        }
                        rustydb_catalog::drop_schema(t, &schema)?;
                        Ok(())
                    })
                    .await??;
                }
                _ => {
                    let (schema, index) = split(name)?;
                    let schema = schema.unwrap_or_else(|| self.settings.current_schema());
                    let Some(old) =
                        catalog.tables_in(&schema).find(|t| t.indexes.iter().any(|i| i.name == index)).cloned()
                    else {
                        if if_exists {
                            continue;
                        }
                        return Err(EngineError::sql(
                            SqlState::UndefinedObject,
                            format!("index \"{index}\" does not exist"),
                        ));
                    };
                    if old.indexes.iter().any(|i| i.name == index && i.primary) {
                        return Err(EngineError::sql(
                            SqlState::DependentObjectsStillExist,
                            format!(
                                "cannot drop index {index} because constraint {index} on table {} requires it",
                                old.name
                            ),
                        ));
                    }
                    let mut new = (*old).clone();
                    new.indexes.retain(|i| i.name != index);
                    let map = identity_map(old.columns.len());
                    slot.blocking(move |t| rustydb_catalog::replace_table(t, &old, &new, map)).await??;
                }
            }
        }
        Ok(StatementResult::command(tag))
    }

    async fn alter_table(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        at: ast::AlterTable,
    ) -> Result<StatementResult> {
        let old = match self.resolve_table(catalog, &at.name) {
            Ok(t) => t,
            Err(_) if at.if_exists => return Ok(StatementResult::command("ALTER TABLE")),
            Err(e) => return Err(e),
        };
        let mut new = (*old).clone();
        let mut map = identity_map(old.columns.len());
        for op in &at.operations {
            self.alter_op(slot, catalog, &old, &mut new, &mut map, op).await?;
        }
        slot.blocking(move |t| rustydb_catalog::replace_table(t, &old, &new, map)).await??;
        Ok(StatementResult::command("ALTER TABLE"))
    }

    async fn alter_op(
        &self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        old: &TableDef,
        new: &mut TableDef,
        map: &mut Vec<ColumnSource>,
        op: &AlterTableOperation,
    ) -> Result<()> {
        match op {
            AlterTableOperation::AddColumn { column_def, if_not_exists, .. } => {
                let (col, pk, unique) = self.column_def(column_def).await?;
                if new.column(&col.name).is_some() {
                    if *if_not_exists {
                        return Ok(());
                    }
                    return Err(EngineError::sql(
                        SqlState::DuplicateColumn,
                        format!("column \"{}\" of relation \"{}\" already exists", col.name, new.name),
                    ));
                }
                let has_rows = table_has_rows(slot, old)?;
                if col.identity.is_some() && has_rows {
                    return Err(EngineError::unsupported(
                        "adding an identity column to a table with rows is not supported yet",
                    ));
                }
                let fill = match &col.default {
                    Some(d) => self.eval_constant(d, col.ty, &col.name).await?,
                    None => Value::Null,
                };
                if fill.is_null() && !col.nullable && has_rows {
                    return Err(EngineError::sql(
                        SqlState::NotNullViolation,
                        format!("column \"{}\" of relation \"{}\" contains null values", col.name, new.name),
                    ));
                }
                let pos = new.columns.len();
                new.columns.push(col);
                map.push(ColumnSource::Fill(fill));
                if pk {
                    self.add_index(new, None, vec![pos], true, true)?;
                }
                if unique {
                    self.add_index(new, None, vec![pos], true, false)?;
                }
            }
            AlterTableOperation::DropColumn { column_names, if_exists, .. } => {
                for c in column_names {
                    let name = ident(c);
                    let Some(pos) = new.column(&name) else {
                        if *if_exists {
                            continue;
                        }
                        return Err(undefined_column(&name, &new.name));
                    };
                    if new.columns.len() == 1 {
                        return Err(EngineError::unsupported("a table must keep at least one column"));
                    }
                    new.columns.remove(pos);
                    map.remove(pos);
                    // As PostgreSQL: indexes on a dropped column go with it.
                    new.indexes.retain(|i| !i.columns.contains(&pos));
                    for i in &mut new.indexes {
                        for c in &mut i.columns {
                            if *c > pos {
                                *c -= 1;
                            }
                        }
                    }
                }
            }
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                let (from, to) = (ident(old_column_name), ident(new_column_name));
                check_new_name(&to)?;
                let pos = new.column(&from).ok_or_else(|| undefined_column(&from, &new.name))?;
                if new.column(&to).is_some() {
                    return Err(EngineError::sql(
                        SqlState::DuplicateColumn,
                        format!("column \"{to}\" of relation \"{}\" already exists", new.name),
                    ));
                }
                new.columns[pos].name = to;
            }
            AlterTableOperation::RenameTable { table_name } => {
                let (RenameTableNameKind::To(n) | RenameTableNameKind::As(n)) = table_name;
                let to = split(n)?.1;
                check_new_name(&to)?;
                if catalog.table(&new.schema, &to).is_some() {
                    return Err(EngineError::sql(
                        SqlState::DuplicateTable,
                        format!("relation \"{to}\" already exists"),
                    ));
                }
                new.name = to;
            }
            AlterTableOperation::AddConstraint { constraint, .. } => match constraint {
                TableConstraint::PrimaryKey(pk) => {
                    let cols = index_columns(new, &pk.columns)?;
                    self.add_index(new, pk.name.as_ref().map(ident), cols, true, true)?;
                }
                TableConstraint::Unique(u) => {
                    let cols = index_columns(new, &u.columns)?;
                    self.add_index(new, u.name.as_ref().map(ident), cols, true, false)?;
                }
                other => return Err(EngineError::unsupported(format!("constraint {other} is not supported yet"))),
            },
            AlterTableOperation::DropConstraint { name, if_exists, .. } => {
                let name = ident(name);
                let before = new.indexes.len();
                new.indexes.retain(|i| !(i.unique && i.name == name));
                if before == new.indexes.len() && !*if_exists {
                    return Err(EngineError::sql(
                        SqlState::UndefinedObject,
                        format!("constraint \"{name}\" of relation \"{}\" does not exist", new.name),
                    ));
                }
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let name = ident(column_name);
                let pos = new.column(&name).ok_or_else(|| undefined_column(&name, &new.name))?;
                match op {
                    AlterColumnOperation::SetNotNull => new.columns[pos].nullable = false,
                    AlterColumnOperation::DropNotNull => {
                        if new.indexes.iter().any(|i| i.primary && i.columns.contains(&pos)) {
                            return Err(EngineError::sql(
                                SqlState::InvalidTableDefinition,
                                format!("column \"{name}\" is in a primary key"),
                            ));
                        }
                        new.columns[pos].nullable = true;
                    }
                    AlterColumnOperation::SetDefault { value } => {
                        let text = value.to_string();
                        self.eval_constant(&text, new.columns[pos].ty, &name).await?;
                        new.columns[pos].default = Some(text);
                    }
                    AlterColumnOperation::DropDefault => new.columns[pos].default = None,
                    other => {
                        return Err(EngineError::unsupported(format!("ALTER COLUMN {other} is not supported yet")));
                    }
                }
            }
            other => return Err(EngineError::unsupported(format!("ALTER TABLE {other} is not supported yet"))),
        }
        Ok(())
    }
}

fn table_has_rows(slot: &TxnSlot, def: &TableDef) -> Result<bool> {
    let mut cursor = ScanCursor::default();
    Ok(slot.get()?.view().scan_chunk(def.id, &mut cursor, &[], 1)?.is_some())
}

fn identity_map(n: usize) -> Vec<ColumnSource> {
    (0..n).map(ColumnSource::Existing).collect()
}

fn index_exists(catalog: &CatalogSnapshot, schema: &str, name: &str) -> bool {
    catalog.table(schema, name).is_some() || catalog.tables_in(schema).any(|t| t.indexes.iter().any(|i| i.name == name))
}

fn multiple_pk(table: &str) -> EngineError {
    EngineError::sql(
        SqlState::InvalidTableDefinition,
        format!("multiple primary keys for table \"{table}\" are not allowed"),
    )
}

fn undefined_column(column: &str, table: &str) -> EngineError {
    EngineError::sql(SqlState::UndefinedColumn, format!("column \"{column}\" of relation \"{table}\" does not exist"))
}

/// Column positions of an index's key.
fn index_columns(def: &TableDef, cols: &[IndexColumn]) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(cols.len());
    for c in cols {
        let name = match &c.column.expr {
            Expr::Identifier(i) => ident(i),
            other => {
                return Err(EngineError::unsupported(format!("expression indexes are not supported yet: {other}")));
            }
        };
        let pos = def.column(&name).ok_or_else(|| {
            EngineError::sql(SqlState::UndefinedColumn, format!("column \"{name}\" named in key does not exist"))
        })?;
        if out.contains(&pos) {
            return Err(EngineError::sql(
                SqlState::DuplicateColumn,
                format!("column \"{name}\" appears twice in the key"),
            ));
        }
        out.push(pos);
    }
    Ok(out)
}

/// The SQL type for a query result column (CREATE TABLE AS).
fn sql_type_of(dt: &DataType) -> Result<SqlType> {
    Ok(match dt {
        DataType::Boolean => SqlType::Bool,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => SqlType::Int2,
        DataType::Int32 | DataType::UInt16 => SqlType::Int4,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => SqlType::Int8,
        DataType::Float16 | DataType::Float32 => SqlType::Float4,
        DataType::Float64 => SqlType::Float8,
        DataType::Decimal128(p, s) if *s >= 0 => SqlType::Numeric { precision: *p, scale: *s },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => SqlType::Text,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Bytea,
        DataType::Date32 | DataType::Date64 => SqlType::Date,
        DataType::Timestamp(_, None) => SqlType::Timestamp,
        DataType::Timestamp(_, Some(_)) => SqlType::TimestampTz,
        other => return Err(EngineError::unsupported(format!("cannot store a column of type {other}"))),
    })
}

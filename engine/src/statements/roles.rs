//! CREATE / ALTER / DROP ROLE (and USER, their PostgreSQL synonym with
//! LOGIN), and the lookups authentication needs.
//!
//! Who may change roles: a superuser role, or anyone while the catalog has
//! no superuser yet (a fresh database in trust mode); a role may always
//! change its own password.

use datafusion::sql::sqlparser::ast::{
    AlterRoleOperation, CreateRole, Expr, Ident, ObjectName, Password, RoleOption, Statement, Value,
};
use rustydb_catalog::{CatalogSnapshot, RoleDef, ScramSecret};

use crate::api::StatementResult;
use crate::error::{EngineError, Result};
use crate::session::{Database, Session, TxnSlot};
use crate::sql::names::{check_new_name, ident};
use rustydb_common::SqlState;

impl Database {
    /// Whether connections must authenticate: some role has a password.
    pub(crate) fn password_required(&self) -> Result<bool> {
        Ok(self.latest_catalog()?.roles.values().any(|r| r.password.is_some()))
    }

    /// The SCRAM secret of a role that may log in, if it has one.
    pub fn login_secret(&self, user: &str) -> Result<Option<ScramSecret>> {
        Ok(self.latest_catalog()?.roles.get(user).filter(|r| r.login).and_then(|r| r.password.clone()))
    }

    /// Creates the first superuser (RUSTYDB_USER / RUSTYDB_PASSWORD) unless
    /// a role of that name exists. Returns whether it was created.
    pub fn ensure_superuser(&self, name: &str, password: &str) -> Result<bool> {
        check_new_name(name)?;
        if self.latest_catalog()?.roles.contains_key(name) {
            return Ok(false);
        }
        let id = self.next_object_id()?;
        let role = RoleDef {
            name: name.to_owned(),
            id,
            superuser: true,
            login: true,
            password: Some(ScramSecret::new(password)),
        };
        let mut txn = self.storage().begin(rustydb_storage::Isolation::ReadCommitted);
        rustydb_catalog::create_role(&mut txn, &role)?;
        txn.commit()?;
        Ok(true)
    }
}

impl Session {
    pub(crate) async fn role_statement(&mut self, slot: &mut TxnSlot, stmt: Statement) -> Result<StatementResult> {
        let catalog = self.prepare_context(slot.get()?)?;
        match stmt {
            Statement::CreateRole(create) => self.create_role(slot, &catalog, create).await,
            Statement::AlterRole { name, operation } => self.alter_role(slot, &catalog, &name, operation).await,
            Statement::Drop { names, if_exists, .. } => self.drop_roles(slot, &catalog, &names, if_exists).await,
            other => Err(EngineError::internal(format!("not a role statement: {other}"))),
        }
    }

    /// Whether the session may administer the server: a superuser, or
    /// anyone while the catalog has no superuser (trust mode).
    pub(crate) fn is_admin(&self, catalog: &CatalogSnapshot) -> bool {
        let has_superuser = catalog.roles.values().any(|r| r.superuser);
        !has_superuser || catalog.roles.get(&self.current_user()).is_some_and(|r| r.superuser)
    }

    /// Superusers change roles; while none exists, anyone may.
    fn check_role_admin(&self, catalog: &CatalogSnapshot) -> Result<()> {
        if self.is_admin(catalog) {
            return Ok(());
        }
        Err(EngineError::sql(SqlState::InsufficientPrivilege, "permission denied to create, alter or drop roles"))
    }

    async fn create_role(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        c: CreateRole,
    ) -> Result<StatementResult> {
        self.check_role_admin(catalog)?;
        let unsupported = c.inherit.is_some()
            || c.bypassrls.is_some()
            || c.create_db.is_some()
            || c.create_role.is_some()
            || c.replication.is_some()
            || c.connection_limit.is_some()
            || c.valid_until.is_some()
            || !c.in_role.is_empty()
            || !c.in_group.is_empty()
            || !c.role.is_empty()
            || !c.user.is_empty()
            || !c.admin.is_empty();
        if unsupported {
            return Err(EngineError::unsupported(
                "CREATE ROLE supports only LOGIN, SUPERUSER and PASSWORD options for now",
            ));
        }
        let password = c.password.as_ref().map(secret).transpose()?.flatten();
        for name in &c.names {
            let name = role_name(name)?;
            if catalog.roles.contains_key(&name) {
                if c.if_not_exists {
                    continue;
                }
                return Err(EngineError::sql(SqlState::DuplicateObject, format!("role \"{name}\" already exists")));
            }
            let role = RoleDef {
                name,
                id: self.db.next_object_id()?,
                superuser: c.superuser.unwrap_or(false),
                login: c.login.unwrap_or(false),
                password: password.clone(),
            };
            slot.blocking(move |t| rustydb_catalog::create_role(t, &role)).await??;
        }
        Ok(StatementResult::command("CREATE ROLE"))
    }

    async fn alter_role(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        name: &Ident,
        operation: AlterRoleOperation,
    ) -> Result<StatementResult> {
        let name = ident(name);
        let mut role =
            catalog.roles.get(&name).cloned().ok_or_else(|| {
                EngineError::sql(SqlState::UndefinedObject, format!("role \"{name}\" does not exist"))
            })?;
        let AlterRoleOperation::WithOptions { options } = operation else {
            return Err(EngineError::unsupported("ALTER ROLE supports only WITH options for now"));
        };
        let own_password_only =
            name == self.current_user() && options.iter().all(|o| matches!(o, RoleOption::Password(_)));
        if !own_password_only {
            self.check_role_admin(catalog)?;
        }
        for option in &options {
            match option {
                RoleOption::Password(p) => role.password = secret(p)?,
                RoleOption::SuperUser(s) => role.superuser = *s,
                RoleOption::Login(l) => role.login = *l,
                other => return Err(EngineError::unsupported(format!("ALTER ROLE option {other} is not supported"))),
            }
        }
        slot.blocking(move |t| rustydb_catalog::replace_role(t, &role)).await??;
        Ok(StatementResult::command("ALTER ROLE"))
    }

    async fn drop_roles(
        &mut self,
        slot: &mut TxnSlot,
        catalog: &CatalogSnapshot,
        names: &[ObjectName],
        if_exists: bool,
    ) -> Result<StatementResult> {
        self.check_role_admin(catalog)?;
        for name in names {
            let name = role_name(name)?;
            if !catalog.roles.contains_key(&name) {
                if if_exists {
                    continue;
                }
                return Err(EngineError::sql(SqlState::UndefinedObject, format!("role \"{name}\" does not exist")));
            }
            if name == self.current_user() {
                return Err(EngineError::sql(SqlState::ObjectInUse, "current user cannot be dropped"));
            }
            slot.blocking(move |t| rustydb_catalog::drop_role(t, &name)).await??;
        }
        Ok(StatementResult::command("DROP ROLE"))
    }
}

fn role_name(name: &ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => {
            let n = part.as_ident().map(ident).ok_or_else(|| EngineError::syntax(format!("bad role name {name}")))?;
            check_new_name(&n)?;
            Ok(n)
        }
        _ => Err(EngineError::syntax(format!("role names are not qualified: {name}"))),
    }
}

/// PASSWORD 'text' becomes a SCRAM secret; PASSWORD NULL removes it.
fn secret(p: &Password) -> Result<Option<ScramSecret>> {
    match p {
        Password::NullPassword => Ok(None),
        Password::Password(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) if !s.is_empty() => {
                Ok(Some(ScramSecret::new(s)))
            }
            Value::Null => Ok(None),
            _ => {
                Err(EngineError::sql(SqlState::InvalidParameterValue, "a password must be a non-empty string literal"))
            }
        },
        Password::Password(other) => Err(EngineError::sql(
            SqlState::InvalidParameterValue,
            format!("a password must be a string literal, not {other}"),
        )),
    }
}

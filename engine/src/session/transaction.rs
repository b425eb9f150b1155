//! BEGIN / COMMIT / ROLLBACK / SAVEPOINT and SET / SHOW.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{
    DiscardObject, Expr, Ident, Reset, ResetStatement, Set, Statement, TransactionIsolationLevel, TransactionMode,
    Value,
};
use rustydb_storage::Isolation;

use crate::api::{StatementResult, TransactionEvent};
use crate::error::{EngineError, Result};
use crate::session::settings::parse_isolation;
use crate::session::{Block, Session, TxnSlot, commit};
use rustydb_common::SqlState;

fn isolation_of(modes: &[TransactionMode]) -> Result<Option<Isolation>> {
    let mut out = None;
    for m in modes {
        if let TransactionMode::IsolationLevel(level) = m {
            out = Some(match level {
                TransactionIsolationLevel::ReadUncommitted | TransactionIsolationLevel::ReadCommitted => {
                    Isolation::ReadCommitted
                }
                TransactionIsolationLevel::RepeatableRead | TransactionIsolationLevel::Snapshot => {
                    Isolation::RepeatableRead
                }
                TransactionIsolationLevel::Serializable => parse_isolation("serializable")?,
            });
        }
    }
    Ok(out)
}

impl Session {
    /// Handles transaction-control statements; `None` for anything else.
    pub(crate) async fn transaction_control(&mut self, stmt: &Statement) -> Result<Option<StatementResult>> {
        let out = match stmt {
            Statement::StartTransaction { modes, .. } => {
                StatementResult::transaction(self.begin_block(isolation_of(modes)?)?)
            }
            Statement::Commit { .. } => StatementResult::transaction(self.commit_block().await?),
            Statement::Rollback { savepoint: None, .. } => StatementResult::transaction(self.rollback_block()),
            Statement::Rollback { savepoint: Some(name), .. } => {
                let b = self.block.as_mut().ok_or_else(|| no_block("ROLLBACK TO SAVEPOINT"))?;
                let name = crate::sql::names::ident(name);
                let pos = b.savepoints.iter().rposition(|(n, _)| *n == name).ok_or_else(|| no_savepoint(&name))?;
                b.savepoints.truncate(pos + 1);
                let sp = b.savepoints[pos].1.clone();
                b.txn.rollback_to(&sp);
                b.failed = false;
                self.stream_failure = Arc::default();
                StatementResult::transaction(TransactionEvent::RolledBackToSavepoint)
            }
            Statement::Savepoint { name } => {
                let b = self.block.as_mut().ok_or_else(|| no_block("SAVEPOINT"))?;
                if b.failed {
                    return Err(EngineError::in_failed_transaction());
                }
                b.savepoints.push((crate::sql::names::ident(name), b.txn.savepoint()));
                StatementResult::transaction(TransactionEvent::SavepointSet)
            }
            Statement::ReleaseSavepoint { name } => {
                let b = self.block.as_mut().ok_or_else(|| no_block("RELEASE SAVEPOINT"))?;
                if b.failed {
                    return Err(EngineError::in_failed_transaction());
                }
                let name = crate::sql::names::ident(name);
                let pos = b.savepoints.iter().rposition(|(n, _)| *n == name).ok_or_else(|| no_savepoint(&name))?;
                b.savepoints.truncate(pos);
                StatementResult::transaction(TransactionEvent::SavepointReleased)
            }
            _ => return Ok(None),
        };
        Ok(Some(out))
    }

    /// Opens a transaction block; inside one, PostgreSQL warns and carries on.
    fn begin_block(&mut self, isolation: Option<Isolation>) -> Result<TransactionEvent> {
        if self.block.is_none() {
            let txn = self.new_transaction(isolation)?;
            self.block = Some(Block { txn, savepoints: Vec::new(), failed: false });
            self.stream_failure = Arc::default();
        } else {
            tracing::warn!("there is already a transaction in progress");
        }
        Ok(TransactionEvent::Begun)
    }

    /// Ends the block with its writes, or without them if it failed.
    async fn commit_block(&mut self) -> Result<TransactionEvent> {
        Ok(match self.block.take() {
            None => TransactionEvent::Committed { scn: None },
            Some(b) if b.failed => {
                b.txn.rollback();
                self.cursors.end_of_block(false);
                TransactionEvent::RolledBack
            }
            Some(b) => {
                let committed = commit(b.txn).await;
                self.cursors.end_of_block(committed.is_ok());
                TransactionEvent::Committed { scn: Some(committed?) }
            }
        })
    }

    /// Ends the block without its writes.
    fn rollback_block(&mut self) -> TransactionEvent {
        if let Some(b) = self.block.take() {
            b.txn.rollback();
            self.cursors.end_of_block(false);
        }
        TransactionEvent::RolledBack
    }

    /// Checks that apply before any statement, typed or parsed.
    pub(crate) fn before_statement(&mut self) -> Result<()> {
        self.note_stream_failure();
        if self.copy.is_some() {
            return Err(EngineError::sql(SqlState::ProtocolViolation, "a COPY FROM STDIN is in progress"));
        }
        Ok(())
    }

    /// BEGIN, typed: opens a transaction block at the session's default
    /// isolation level.
    pub async fn begin(&mut self) -> Result<TransactionEvent> {
        self.typed_transaction("BEGIN", async |s| s.begin_block(None)).await
    }

    /// COMMIT, typed: [`TransactionEvent::Committed`] with the commit's SCN,
    /// or [`TransactionEvent::RolledBack`] when the block had failed (its
    /// writes are gone, as PostgreSQL does for COMMIT of a failed block).
    pub async fn commit(&mut self) -> Result<TransactionEvent> {
        self.typed_transaction("COMMIT", async |s| s.commit_block().await).await
    }

    /// ROLLBACK, typed.
    pub async fn rollback(&mut self) -> Result<TransactionEvent> {
        self.typed_transaction("ROLLBACK", async |s| Ok(s.rollback_block())).await
    }

    /// A typed transaction statement, with the checks of any statement and
    /// observed under its SQL name.
    async fn typed_transaction(
        &mut self,
        name: &'static str,
        work: impl AsyncFnOnce(&mut Session) -> Result<TransactionEvent>,
    ) -> Result<TransactionEvent> {
        self.observed(
            || name.into(),
            async |s| {
                s.before_statement()?;
                work(s).await
            },
        )
        .await
    }

    /// SET name = value, SET TRANSACTION ..., RESET is parsed as SET DEFAULT.
    pub(crate) fn set(&mut self, slot: &mut TxnSlot, set: Set) -> Result<StatementResult> {
        match set {
            Set::SingleAssignment { variable, values, .. } => {
                let name = variable.to_string().to_lowercase();
                let value = values.iter().map(setting_value).collect::<Vec<_>>().join(", ");
                if name.starts_with("datafusion.") {
                    // DataFusion's own options pass through (e.g. target_partitions).
                    self.ctx.state_ref().write().config_mut().options_mut().set(&name, &value)?;
                } else if value.eq_ignore_ascii_case("default") {
                    self.settings.reset(&name)?;
                } else if name == "time zone" {
                    self.settings.set("timezone", &value)?;
                } else {
                    self.settings.set(&name, &value)?;
                }
                self.settings_changed(slot)?;
                Ok(StatementResult::command("SET"))
            }
            Set::SetTimeZone { value, .. } => {
                self.settings.set("timezone", &setting_value(&value))?;
                self.settings_changed(slot)?;
                Ok(StatementResult::command("SET"))
            }
            Set::SetTransaction { modes, .. } => {
                if let Some(iso) = isolation_of(&modes)? {
                    // Outside a block this affects only the statement's own
                    // transaction, which has nothing left to do: as PostgreSQL.
                    slot.get_mut()?.set_isolation(iso);
                }
                Ok(StatementResult::command("SET"))
            }
            other => Err(EngineError::unsupported(format!("{other} is not supported"))),
        }
    }

    /// RESET name / RESET ALL: back to the defaults.
    pub(crate) fn reset(&mut self, slot: &mut TxnSlot, reset: ResetStatement) -> Result<StatementResult> {
        match reset.reset {
            Reset::ALL => self.settings.reset_all(),
            Reset::ConfigurationParameter(name) => self.settings.reset(&name.to_string())?,
        }
        self.settings_changed(slot)?;
        Ok(StatementResult::command("RESET"))
    }

    /// DISCARD: ALL closes every cursor, drops the statements made by SQL
    /// PREPARE and resets every setting (the PostgreSQL front end also
    /// drops the connection's protocol-level statements); PLANS, TEMP
    /// and SEQUENCES have nothing to drop: prepared statements re-plan by
    /// themselves when the catalog changes, and there are no temporary
    /// tables or per-session sequence caches.
    pub(crate) fn discard(
        &mut self,
        slot: &mut TxnSlot,
        object: DiscardObject,
        in_block: bool,
    ) -> Result<StatementResult> {
        let tag = match object {
            DiscardObject::ALL => {
                if in_block {
                    return Err(EngineError::sql(
                        SqlState::ActiveSqlTransaction,
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                self.close_cursor(&datafusion::sql::sqlparser::ast::CloseCursor::All)?;
                self.sql_prepared.clear();
                self.literal_cache.clear();
                self.settings.reset_all();
                self.settings_changed(slot)?;
                "DISCARD ALL"
            }
            DiscardObject::PLANS => {
                self.literal_cache.clear();
                "DISCARD PLANS"
            }
            DiscardObject::SEQUENCES => "DISCARD SEQUENCES",
            DiscardObject::TEMP => "DISCARD TEMP",
        };
        Ok(StatementResult::command(tag))
    }

    /// Carries changed settings to where they act: DataFusion's default
    /// schema, current_setting(), and the running transaction (inside a
    /// block, the block's).
    fn settings_changed(&mut self, slot: &mut TxnSlot) -> Result<()> {
        self.publish_settings();
        apply_to_txn(&self.settings, slot.get_mut()?)
    }

    /// Makes the settings what catalog functions and planning see.
    fn publish_settings(&mut self) {
        self.info.write().settings = self.settings.clone();
        let schema = self.settings.current_schema();
        self.ctx.state_ref().write().config_mut().options_mut().catalog.default_schema = schema;
    }

    /// Applies the settings of a client's startup packet (application_name,
    /// DateStyle, TimeZone, extra_float_digits, ... and `-c name=value`
    /// pairs in `options`) as this session's defaults, the values RESET
    /// restores. Parameters that are not settings (user, database) are
    /// skipped; a bad value is an error naming it.
    pub fn set_startup_parameters<'a>(&mut self, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in params {
            match name.to_lowercase().as_str() {
                "user" | "database" | "replication" | "client_encoding" => {}
                "options" => pairs.extend(command_line_settings(value)?),
                _ => pairs.push((name.to_owned(), value.to_owned())),
            }
        }
        for (name, value) in pairs {
            match self.settings.set_session_default(&name, &value) {
                Ok(()) => {}
                // Drivers send parameters PostgreSQL knows and we do not
                // (PgJDBC's, for one): those are ignored, as a server of an
                // older version ignores newer ones.
                Err(e) if e.sqlstate() == "42704" => tracing::debug!("startup parameter {name} ignored: {e}"),
                Err(e) => return Err(e),
            }
        }
        self.publish_settings();
        Ok(())
    }

    /// The result columns of SHOW, known before it runs.
    pub(crate) fn show_schema(&self, variable: &[Ident]) -> datafusion::arrow::datatypes::SchemaRef {
        let name = variable.iter().map(|i| i.value.to_lowercase()).collect::<Vec<_>>().join(" ");
        if name == "all" {
            return Arc::new(Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("setting", DataType::Utf8, false),
            ]));
        }
        Arc::new(Schema::new(vec![Field::new(show_key(&name), DataType::Utf8, false)]))
    }

    /// SHOW name / SHOW ALL.
    pub(crate) fn show(&self, variable: &[Ident]) -> Result<StatementResult> {
        let name = variable.iter().map(|i| i.value.to_lowercase()).collect::<Vec<_>>().join(" ");
        if name == "all" {
            let all = self.settings.all();
            let schema = Arc::new(Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("setting", DataType::Utf8, false),
            ]));
            let names = StringArray::from_iter_values(all.iter().map(|(k, _)| k.as_str()));
            let values = StringArray::from_iter_values(all.iter().map(|(_, v)| v.as_str()));
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(names), Arc::new(values)])
                .map_err(|e| EngineError::internal(e.to_string()))?;
            return Ok(StatementResult::from_batches(schema, vec![batch], None));
        }
        let key = if name == "transaction isolation level" {
            "transaction_isolation".to_owned()
        } else {
            name.replace(' ', "")
        };
        let value = if key == "transaction_isolation" {
            match &self.block {
                Some(b) => isolation_name(b.txn.isolation()).to_owned(),
                None => self.settings.get(&key)?,
            }
        } else {
            self.settings.get(&key)?
        };
        let schema = self.show_schema(variable);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec![value]))])
            .map_err(|e| EngineError::internal(e.to_string()))?;
        Ok(StatementResult::from_batches(schema, vec![batch], None))
    }
}

/// The `name=value` settings of a startup packet's `options` ("-c a=b
/// --c=d", spaces escaped with a backslash), as libpq's PGOPTIONS and
/// PgJDBC's `options` send them.
fn command_line_settings(options: &str) -> Result<Vec<(String, String)>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => words.extend((!word.is_empty()).then(|| std::mem::take(&mut word))),
            c => word.push(c),
        }
    }
    words.extend((!word.is_empty()).then_some(word));
    let bad = |w: &str| {
        EngineError::sql(SqlState::InvalidParameterValue, format!("invalid command-line argument in options: \"{w}\""))
    };
    let mut out = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let setting = match w.as_str() {
            "-c" => words.next().ok_or_else(|| bad(&w))?,
            _ => match w.strip_prefix("--").or_else(|| w.strip_prefix("-c")) {
                Some(rest) => rest.to_owned(),
                None => return Err(bad(&w)),
            },
        };
        let (name, value) = setting.split_once('=').ok_or_else(|| bad(&setting))?;
        // PostgreSQL accepts dashes for underscores here.
        out.push((name.replace('-', "_"), value.to_owned()));
    }
    Ok(out)
}

fn show_key(name: &str) -> String {
    if name == "transaction isolation level" { "transaction_isolation".to_owned() } else { name.replace(' ', "") }
}

fn apply_to_txn(settings: &crate::session::settings::Settings, txn: &mut rustydb_storage::Transaction) -> Result<()> {
    txn.set_lock_timeout(settings.lock_timeout()?);
    txn.set_synchronous_commit(settings.synchronous_commit()?);
    Ok(())
}

fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::ReadCommitted => "read committed",
        Isolation::RepeatableRead => "repeatable read",
    }
}

fn setting_value(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn no_block(what: &str) -> EngineError {
    EngineError::sql(SqlState::NoActiveSqlTransaction, format!("{what} can only be used in transaction blocks"))
}

fn no_savepoint(name: &str) -> EngineError {
    EngineError::sql(SqlState::InvalidSavepointSpecification, format!("savepoint \"{name}\" does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_options_give_settings() {
        let got = command_line_settings("-c statement_timeout=5s --search-path=a,b -capplication_name=x\\ y").unwrap();
        let want = [("statement_timeout", "5s"), ("search_path", "a,b"), ("application_name", "x y")];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
        assert!(command_line_settings("-d 5").is_err());
        assert!(command_line_settings("-c").is_err());
        assert!(command_line_settings("-c noequals").is_err());
        assert_eq!(command_line_settings("  ").unwrap(), vec![]);
    }

    /// The typed calls a front end makes instead of sending BEGIN/COMMIT
    /// text: COMMIT gives the commit's SCN, and COMMIT of a failed block
    /// says it rolled back, with its writes gone.
    #[tokio::test]
    async fn typed_transactions_report_what_happened() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::session::Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.execute("CREATE TABLE t (id INT PRIMARY KEY)").await.unwrap();
        assert_eq!(s.begin().await.unwrap(), TransactionEvent::Begun);
        s.execute("INSERT INTO t VALUES (1)").await.unwrap();
        let TransactionEvent::Committed { scn: Some(first) } = s.commit().await.unwrap() else { panic!() };
        assert_eq!(s.commit().await.unwrap(), TransactionEvent::Committed { scn: None }, "no block open");

        s.begin().await.unwrap();
        s.execute("INSERT INTO t VALUES (2)").await.unwrap();
        assert!(s.execute("INSERT INTO t VALUES (1)").await.is_err(), "a duplicate fails the block");
        assert_eq!(s.commit().await.unwrap(), TransactionEvent::RolledBack);
        s.begin().await.unwrap();
        s.execute("INSERT INTO t VALUES (3)").await.unwrap();
        assert_eq!(s.rollback().await.unwrap(), TransactionEvent::RolledBack);

        s.begin().await.unwrap();
        s.execute("INSERT INTO t VALUES (4)").await.unwrap();
        let TransactionEvent::Committed { scn: Some(second) } = s.commit().await.unwrap() else { panic!() };
        assert!(second > first);
        let (_, batches) = s.execute("SELECT id FROM t ORDER BY id").await.unwrap().remove(0).collect().await.unwrap();
        let ids: Vec<i32> = batches
            .iter()
            .flat_map(|b| {
                b.column(0).as_any().downcast_ref::<datafusion::arrow::array::Int32Array>().unwrap().values().to_vec()
            })
            .collect();
        assert_eq!(ids, vec![1, 4]);
    }
}

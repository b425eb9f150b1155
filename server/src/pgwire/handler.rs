//! One client connection: startup, simple query and extended query, all
//! over one engine `Session`.

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::DiscardObject;
use futures::{Sink, SinkExt};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler, finish_authentication,
    protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{Bind, BindComplete, Describe, Execute, Parse, ParseComplete};
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use rustydb_engine::api::{
    Admission, BOOTSTRAP_USER, DATABASE_NAME, Database, EngineError, Prepared, Session, SqlState, Statement,
    StatementResult, TransactionStatus, password_failed,
};
use rustydb_engine::pg::{self, SCRAM_ITERATIONS, SqlStatement};
use tokio::sync::Mutex;

use super::CancelRegistry;
use super::deferred::Deferred;
use super::encode::{self, to_pgwire};

/// The server's state for one connection.
pub struct Connection {
    session: Arc<Mutex<Session>>,
    parser: Arc<Parser>,
    /// The SCRAM-SHA-256 exchange, when some role has a password (decided
    /// when the connection opens). Without passwords the server trusts
    /// loopback clients, and refuses to listen anywhere else.
    scram: Option<SASLAuthStartupHandler<DefaultServerParameterProvider>>,
    cancels: Arc<CancelRegistry>,
    /// The (pid, secret key) this connection is registered under.
    cancel_key: std::sync::Mutex<Option<(i32, SecretKey)>>,
    /// Names of the prepared statements this connection parsed.
    statements: parking_lot::Mutex<StatementNames>,
}

/// Names of a connection's protocol-level prepared statements. pgwire's
/// store cannot list its entries, and DEALLOCATE ALL and DISCARD ALL must
/// drop every one.
#[derive(Default)]
struct StatementNames {
    names: std::collections::BTreeSet<String>,
    /// Past this many names, those already closed are forgotten (a client
    /// that prepares and closes statements forever keeps the set small).
    prune_at: usize,
}

/// The least [`StatementNames::prune_at`].
const STATEMENT_NAMES_PRUNE_MIN: usize = 256;

impl StatementNames {
    fn parsed<S: PortalStore>(&mut self, name: &str, store: &S) {
        if name == DEFAULT_NAME {
            return;
        }
        self.names.insert(name.to_owned());
        if self.names.len() > self.prune_at.max(STATEMENT_NAMES_PRUNE_MIN) {
            self.names.retain(|n| store.get_statement(n).is_some());
            self.prune_at = 2 * self.names.len();
        }
    }

    fn drop_all<S: PortalStore>(&mut self, store: &S) {
        for name in std::mem::take(&mut self.names) {
            store.rm_statement(&name);
        }
    }
}

/// Whether `stmt` drops the connection's prepared statements once the
/// engine has run it.
fn discards_all(stmt: &Statement) -> bool {
    matches!(stmt.sql(), Some(SqlStatement::Discard { object_type: DiscardObject::ALL }))
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Ok(Some((pid, key))) = self.cancel_key.lock().map(|mut k| k.take()) {
            self.cancels.remove(pid, &key);
        }
    }
}

impl Connection {
    pub fn new(db: Arc<Database>, cancels: Arc<CancelRegistry>) -> PgWireResult<Self> {
        let session = Arc::new(Mutex::new(db.session()));
        let scram = if db.admission().map_err(to_pgwire)? == Admission::Password {
            let mut auth = ScramAuth::new(Arc::new(CatalogAuth(db.clone())));
            auth.set_iterations(SCRAM_ITERATIONS as usize);
            Some(SASLAuthStartupHandler::new(Arc::new(server_parameters())).with_scram(auth))
        } else {
            None
        };
        Ok(Connection {
            parser: Arc::new(Parser { session: session.clone() }),
            session,
            scram,
            cancels,
            cancel_key: std::sync::Mutex::new(None),
            statements: Default::default(),
        })
    }

    /// Called once the client is authenticated: who it is, and how a
    /// CancelRequest finds its session.
    async fn started<C: ClientInfo>(&self, client: &C) {
        let user = client.metadata().get("user").cloned().unwrap_or_else(|| BOOTSTRAP_USER.into());
        let (pid, key) = client.pid_and_secret_key();
        let mut session = self.session.lock().await;
        session.set_session_info(&user, pid);
        self.cancels.register(pid, &key, session.interrupt());
        if let Ok(mut k) = self.cancel_key.lock() {
            *k = Some((pid, key));
        }
    }
}

/// What the server reports at startup.
fn server_parameters() -> DefaultServerParameterProvider {
    let mut params = DefaultServerParameterProvider::default();
    params.server_version = format!("16.0 (RustyDB {})", env!("CARGO_PKG_VERSION"));
    params.time_zone = "UTC".into();
    params.date_style = "ISO, MDY".into();
    params
}

/// Role secrets from the catalog, for the SCRAM exchange.
#[derive(Debug)]
struct CatalogAuth(Arc<Database>);

#[async_trait]
impl AuthSource for CatalogAuth {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default().to_owned();
        let db = self.0.clone();
        let secret = tokio::task::spawn_blocking(move || db.login_secret(&user))
            .await
            .map_err(|e| PgWireError::ApiError(Box::new(e)))?
            .map_err(to_pgwire)?;
        match secret {
            Some(s) => Ok(Password::new(Some(s.salt), s.salted_password)),
            // As PostgreSQL: the same message whether the role is missing,
            // cannot log in, or has no password.
            None => Err(encode::fatal(password_failed(login.user().unwrap_or_default()))),
        }
    }
}

/// Maps a statement's output to a response, telling pgwire about
/// transaction boundaries from the session's own state.
fn respond(
    out: StatementResult,
    before: TransactionStatus,
    after: TransactionStatus,
    format: &Format,
) -> PgWireResult<Response> {
    let resp = encode::response(out, format)?;
    Ok(match resp {
        Response::TransactionStart(tag) if before != TransactionStatus::Idle => Response::Execution(tag),
        Response::TransactionEnd(tag) if after != TransactionStatus::Idle => Response::Execution(tag),
        Response::Execution(tag) if before == TransactionStatus::Idle && after != TransactionStatus::Idle => {
            Response::TransactionStart(tag)
        }
        other => other,
    })
}

#[async_trait]
impl StartupHandler for Connection {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message
            && let Some(db) = startup.parameters.get("database")
            && db != DATABASE_NAME
        {
            return Err(encode::fatal(EngineError::sql(
                SqlState::InvalidCatalogName,
                format!("database \"{db}\" does not exist"),
            )));
        }
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            // Settings the client asks for (application_name, DateStyle,
            // `options`): a bad one refuses the connection, as in PostgreSQL.
            let params = startup.parameters.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            if let Err(e) = self.session.lock().await.set_startup_parameters(params) {
                return Err(encode::fatal(e));
            }
        }
        if let Some(scram) = &self.scram {
            scram.on_startup(client, message).await?;
            if matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
                self.started(client).await;
            }
            return Ok(());
        }
        let PgWireFrontendMessage::Startup(ref startup) = message else { return Ok(()) };
        protocol_negotiation(client, startup).await?;
        save_startup_parameters_to_metadata(client, startup);
        let pid = std::process::id() as i32 ^ rand_pid();
        client.set_pid_and_secret_key(pid, SecretKey::I32(rand_pid()));
        self.started(client).await;
        finish_authentication(client, &server_parameters()).await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
    }
}

fn rand_pid() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    (h.finish() & 0x7fff_ffff) as i32
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        let statements = match session.statements(query) {
            Ok(s) => s,
            Err(e) => return Ok(vec![Response::Error(Box::new(encode::error_info(&e)))]),
        };
        let mut responses = Vec::with_capacity(statements.len());
        let last = statements.len().saturating_sub(1);
        for (i, stmt) in statements.into_iter().enumerate() {
            if let Some(SqlStatement::Deallocate { name, .. }) = stmt.statement().and_then(Statement::sql) {
                let response = self.deallocate(client, &mut session, name).await;
                let failed = matches!(response, Response::Error(_));
                responses.push(response);
                if failed {
                    break;
                }
                continue;
            }
            let discards = stmt.statement().is_some_and(discards_all);
            let before = session.transaction_status();
            // Responses go out after every statement has run, so all but the
            // last result are materialised now; the last one streams.
            let out = match session.execute_piece(stmt).await {
                Ok(out) if i < last => out.materialize().await,
                other => other,
            };
            let after = session.transaction_status();
            match out {
                Ok(out) => {
                    if discards {
                        self.statements.lock().drop_all(client.portal_store());
                    }
                    let copy_in = matches!(out, StatementResult::CopyIn { .. });
                    responses.push(respond(out, before, after, &encode::text())?);
                    if copy_in && i < last {
                        // The rest of the string would run before the COPY
                        // data arrives; PostgreSQL runs it after. Refuse.
                        let e =
                            session.copy_in_fail("COPY FROM STDIN must be the last statement of a query string").await;
                        responses.pop();
                        responses.push(Response::Error(Box::new(encode::error_info(&e))));
                        break;
                    }
                }
                Err(e) => {
                    responses.push(Response::Error(Box::new(encode::error_info(&e))));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

impl Connection {
    /// DEALLOCATE name / DEALLOCATE ALL: statements made by SQL PREPARE
    /// live in the session, protocol-level ones in pgwire's store. Like any
    /// statement it is refused in a failed block, and its error fails one.
    async fn deallocate<C>(&self, client: &C, session: &mut Session, name: &pg::Ident) -> Response
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        let result = session
            .in_block(async |session| {
                let all = pg::deallocates_all(name);
                let made_by_prepare = session.deallocate_sql(name);
                if all {
                    self.statements.lock().drop_all(client.portal_store());
                    return Ok("DEALLOCATE ALL");
                }
                if made_by_prepare {
                    return Ok("DEALLOCATE");
                }
                let name = &name.value;
                match client.portal_store().get_statement(name) {
                    Some(_) => {
                        client.portal_store().rm_statement(name);
                        Ok("DEALLOCATE")
                    }
                    None => Err(EngineError::sql(
                        SqlState::InvalidSqlStatementName,
                        format!("prepared statement \"{name}\" does not exist"),
                    )),
                }
            })
            .await;
        match result {
            Ok(name) => Response::Execution(Tag::new(name)),
            Err(e) => Response::Error(Box::new(encode::error_info(&e))),
        }
    }
}

#[async_trait]
impl CopyHandler for Connection {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // A bad row is kept by the session and reported at CopyDone, after
        // the client has stopped sending, as PostgreSQL does.
        self.session.lock().await.copy_in_data(&copy_data.data).await.map_err(to_pgwire)
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let out = self.session.lock().await.copy_in_done().await.map_err(to_pgwire)?;
        if let StatementResult::Done(outcome) = out {
            client.send(PgWireBackendMessage::CommandComplete(encode::tag(&outcome).into())).await?;
        }
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        to_pgwire(self.session.lock().await.copy_in_fail(&fail.message).await)
    }
}

/// Parses and prepares statements for the extended protocol.
pub struct Parser {
    session: Arc<Mutex<Session>>,
}

/// The Arrow type a client-declared parameter type asks for.
fn arrow_of(ty: &Type) -> Option<DataType> {
    Some(match *ty {
        Type::BOOL => DataType::Boolean,
        Type::INT2 => DataType::Int16,
        Type::INT4 => DataType::Int32,
        Type::INT8 => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::JSONB => DataType::Utf8,
        Type::BYTEA => DataType::Binary,
        Type::DATE => DataType::Date32,
        Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        _ => return None,
    })
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let declared: Vec<Option<DataType>> = types.iter().map(|t| t.as_ref().and_then(arrow_of)).collect();
        let mut session = self.session.lock().await;
        session.prepare(sql, &declared).await.map(Some).map_err(to_pgwire)
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        stmt.param_types().iter().map(into_pg_type).collect()
    }

    fn get_result_schema(&self, stmt: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        match stmt.schema() {
            Some(schema) => encode::fields(schema, format.unwrap_or(&Format::UnifiedText)),
            None => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    /// Parse, with ParseComplete left for Sync to flush (see deferred.rs).
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client.portal_store().put_empty_statement(&name),
        }
        self.statements.lock().parsed(&name, client.portal_store());
        client.feed(PgWireBackendMessage::ParseComplete(ParseComplete::new())).await?;
        Ok(())
    }

    /// Bind, as pgwire does it, with BindComplete left for Sync to flush.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => client.portal_store().put_empty_portal(portal_name),
            Some(Entry::Empty) => {
                return Err(to_pgwire(EngineError::sql(
                    SqlState::ProtocolViolation,
                    format!(
                        "bind message supplies {} parameters, but prepared statement {statement_name:?} requires 0",
                        message.parameters.len()
                    ),
                )));
            }
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
        client.feed(PgWireBackendMessage::BindComplete(BindComplete::new())).await?;
        Ok(())
    }

    /// Execute, with its replies left for Sync to flush.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self._on_execute(&mut Deferred(client), message).await?;
        // COPY FROM STDIN waits for the client's data, which waits for
        // CopyInResponse: that one cannot wait for Sync.
        if matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            client.flush().await?;
        }
        Ok(())
    }

    /// PostgreSQL answers Describe of a statement that returns no rows
    /// (INSERT, UPDATE, DDL) with ParameterDescription and NoData. pgwire
    /// sends NoData only when there are also no parameters, and an empty
    /// RowDescription makes PgJDBC treat `INSERT ... VALUES (?)` as a query
    /// ("A result was returned when none was expected").
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type == b'S' {
            let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
            if let Some(Entry::Value(stored)) = client.portal_store().get_statement(name)
                && stored.statement.schema().is_none()
            {
                let response = self.do_describe_statement(client, &stored).await?;
                let oids = response.parameters.iter().map(Type::oid).collect();
                client.feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(oids))).await?;
                client.feed(PgWireBackendMessage::NoData(NoData::new())).await?;
                return Ok(());
            }
        }
        self._on_describe(&mut Deferred(client), message).await
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let mut session = self.session.lock().await;
        if let Some(SqlStatement::Deallocate { name, .. }) = prepared.statement().sql() {
            return match self.deallocate(client, &mut session, name).await {
                Response::Error(e) => Err(PgWireError::UserError(e)),
                done => Ok(done),
            };
        }
        let discards = discards_all(prepared.statement());
        let params = super::params::decode(portal)?;
        let before = session.transaction_status();
        // Rows stream: an Execute with a row limit sends a page and leaves
        // the rest in the portal (PortalSuspended) without reading it yet.
        let out = session.execute_prepared(prepared, params).await.map_err(to_pgwire)?;
        if discards {
            self.statements.lock().drop_all(client.portal_store());
        }
        if let Some(cursor) = prepared.declared_cursor() {
            // In PostgreSQL a SQL cursor is also a protocol portal: drivers
            // (psycopg's named cursors) Describe it to learn its columns.
            // Boxed: planning the FETCH inline would make every Execute's
            // future (copied whole when pgwire boxes it) kilobytes larger.
            if let Ok(Some(fetch)) = Box::pin(session.prepare_fetch_all(&cursor)).await {
                let statement = Arc::new(StoredStatement::new(cursor.clone(), fetch, vec![]));
                client.portal_store().put_portal(Arc::new(Portal::new_cursor(cursor, statement)));
            }
        }
        let after = session.transaction_status();
        respond(out, before, after, &portal.result_column_format)
    }
}

/// The startup of a connection over `max_connections`. As in PostgreSQL
/// the refusal comes after the SSLRequest is answered and the startup
/// packet read: libpq shows no error text sent in place of the SSL
/// answer (only "server sent an error response during SSL exchange"),
/// and a CancelRequest, which needs no slot, is still served.
pub struct OverLimit;

#[async_trait]
impl StartupHandler for OverLimit {
    async fn on_startup<C>(&self, _client: &mut C, _message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(encode::fatal(EngineError::sql(SqlState::TooManyConnections, "sorry, too many clients already")))
    }
}

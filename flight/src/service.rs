//! `FlightSqlService` over the engine's Session API.
//!
//! A query is planned at GetFlightInfo (so its schema and errors come back
//! there) and run at DoGet, streaming DataFusion's record batches as they
//! come; dropping the DoGet stream (a client that goes away) stops it.
//! Autocommit calls get a session of their own; calls that carry a
//! transaction id run in that transaction's session.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginTransactionRequest, ActionBeginTransactionResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, ActionEndTransactionRequest, Any,
    Command, CommandGetCatalogs, CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandPreparedStatementUpdate,
    CommandStatementIngest, CommandStatementQuery, CommandStatementUpdate, DoPutPreparedStatementResult,
    EndTransaction, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, FlightDescriptor, FlightEndpoint,
    FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc, Ticket,
};
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::ScalarValue;
use futures::{Stream, StreamExt, TryStreamExt};
use parking_lot::Mutex;
use prost::Message;
use rand::RngCore;
use rustydb_engine::api::{
    DATABASE_NAME, Database, EngineError, Interrupt, Prepared, Session, StatementResult, TransactionEvent,
    numbered_parameters,
};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{TOKEN_LIFETIME, Tokens};
use crate::error::to_status;
use crate::metadata;

type Shared = Arc<tokio::sync::Mutex<Session>>;
type DoGetStream = <FlightSqlServer as FlightService>::DoGetStream;

/// How long a planned query waits for its DoGet before it is dropped.
const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A query between GetFlightInfo and DoGet.
struct Pending {
    user: String,
    session: Shared,
    /// None: the statement returned no rows and already ran.
    prepared: Option<Prepared>,
    planned: Instant,
}

/// A prepared statement and the parameters last bound to it.
struct PreparedEntry {
    user: String,
    session: Shared,
    prepared: Prepared,
    params: Mutex<Option<RecordBatch>>,
}

struct Transaction {
    user: String,
    session: Shared,
    last_used: Instant,
}

/// A transaction no call has used for this long is rolled back (dropping
/// its session releases its locks): a client that went away must not
/// hold them until restart.
const TRANSACTION_IDLE_MAX: Duration = Duration::from_secs(30 * 60);

/// The Flight SQL service of one database.
pub struct FlightSqlServer {
    db: Arc<Database>,
    tokens: Tokens,
    pending: Mutex<HashMap<Bytes, Pending>>,
    running: Arc<Mutex<HashMap<Bytes, Arc<Interrupt>>>>,
    statements: Mutex<HashMap<Bytes, Arc<PreparedEntry>>>,
    transactions: Mutex<HashMap<Bytes, Transaction>>,
    sql_info: SqlInfoData,
    xdbc_types: XdbcTypeInfoData,
    next_pid: AtomicI32,
}

impl FlightSqlServer {
    pub fn new(db: Arc<Database>) -> Result<Self, Status> {
        Ok(FlightSqlServer {
            tokens: Tokens::new(db.clone(), TOKEN_LIFETIME),
            db,
            pending: Mutex::default(),
            running: Arc::default(),
            statements: Mutex::default(),
            transactions: Mutex::default(),
            sql_info: metadata::sql_info()?,
            xdbc_types: metadata::xdbc_types()?,
            // Flight sessions are numbered apart from PostgreSQL backends.
            next_pid: AtomicI32::new(1 << 24),
        })
    }

    fn user<T>(&self, request: &Request<T>) -> Result<String, Status> {
        self.tokens.authenticate(request.metadata())
    }

    fn new_session(&self, user: &str) -> Shared {
        let mut session = self.db.session();
        session.set_session_info(user, self.next_pid.fetch_add(1, Ordering::Relaxed));
        Arc::new(tokio::sync::Mutex::new(session))
    }

    /// The session a call runs in: its transaction's, or a new one.
    pub(crate) fn session_for(&self, user: &str, transaction_id: Option<&Bytes>) -> Result<Shared, Status> {
        match transaction_id.filter(|id| !id.is_empty()) {
            None => Ok(self.new_session(user)),
            Some(id) => match self.transactions.lock().get_mut(id) {
                Some(t) if t.user == user => {
                    t.last_used = Instant::now();
                    Ok(t.session.clone())
                }
                Some(_) => Err(Status::permission_denied("the transaction belongs to another user")),
                None => Err(Status::not_found("unknown transaction id")),
            },
        }
    }

    /// FlightInfo for a metadata command: its ticket is the command itself,
    /// which DoGet answers.
    fn command_info(
        &self,
        request: Request<FlightDescriptor>,
        command: &impl ProstMessageExt,
        schema: &Schema,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        Ok(Response::new(flight_info(schema, command.as_any().encode_to_vec(), request.into_inner())?))
    }

    fn prepared_entry(&self, user: &str, handle: &Bytes) -> Result<Arc<PreparedEntry>, Status> {
        match self.statements.lock().get(handle) {
            Some(e) if e.user == user => Ok(e.clone()),
            Some(_) => Err(Status::permission_denied("the prepared statement belongs to another user")),
            None => Err(Status::not_found("unknown prepared statement handle")),
        }
    }
}

fn new_handle() -> Bytes {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    Bytes::copy_from_slice(&bytes)
}

fn flight_info(schema: &Schema, ticket: Vec<u8>, descriptor: FlightDescriptor) -> Result<FlightInfo, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(ticket));
    Ok(FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?
        .with_endpoint(endpoint)
        .with_descriptor(descriptor))
}

/// A schema in the IPC message form prepared-statement results carry.
fn ipc_schema(schema: &Schema) -> Result<Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?;
    Ok(bytes)
}

/// Record batches as a DoGet stream; engine errors keep their SQLSTATE.
fn batches_stream(
    schema: SchemaRef,
    batches: impl Stream<Item = Result<RecordBatch, EngineError>> + Send + 'static,
) -> DoGetStream {
    let batches = batches.map_err(|e| FlightError::Tonic(Box::new(to_status(e))));
    Box::pin(FlightDataEncoderBuilder::new().with_schema(schema).build(batches).map_err(Status::from))
}

fn one_batch(batch: RecordBatch) -> DoGetStream {
    batches_stream(batch.schema(), futures::stream::iter([Ok(batch)]))
}

/// Rows a statement reports changing (0 for DDL and queries).
fn affected(out: &StatementResult) -> i64 {
    out.rows_affected().and_then(|n| i64::try_from(n).ok()).unwrap_or(0)
}

/// One row of a parameter batch as statement parameters.
fn row_params(batch: &RecordBatch, row: usize) -> Result<Vec<ScalarValue>, Status> {
    batch
        .columns()
        .iter()
        .map(|c| ScalarValue::try_from_array(c, row))
        .collect::<Result<_, _>>()
        .map_err(|e| Status::invalid_argument(format!("reading parameters: {e}")))
}

/// The record batches of a DoPut. A message with no IPC header carries
/// only the command (arrow-rs sends its prepared update that way, after
/// binding the parameters with a separate DoPut).
async fn put_batches(request: Request<PeekableFlightDataStream>) -> Result<Vec<RecordBatch>, Status> {
    let messages = request.into_inner().try_filter(|m| futures::future::ready(!m.data_header.is_empty()));
    let stream = FlightRecordBatchStream::new_from_flight_data(messages.map_err(FlightError::from));
    stream.try_collect().await.map_err(|e| Status::invalid_argument(format!("reading record batches: {e}")))
}

/// Runs a prepared statement once per parameter row (once without
/// parameters), returning its result.
async fn execute_rows(
    session: &Shared,
    prepared: &Prepared,
    params: Option<&RecordBatch>,
) -> Result<Vec<StatementResult>, Status> {
    let rows: Vec<Vec<ScalarValue>> = match params {
        None => vec![Vec::new()],
        Some(batch) => (0..batch.num_rows()).map(|r| row_params(batch, r)).collect::<Result<_, _>>()?,
    };
    let expected = prepared.param_types().len();
    let mut outputs = Vec::with_capacity(rows.len());
    let mut session = session.lock().await;
    for params in rows {
        if params.len() != expected {
            return Err(Status::invalid_argument(format!(
                "the statement takes {expected} parameters, the bound batch has {}",
                params.len()
            )));
        }
        outputs.push(session.execute_prepared(prepared, params).await.map_err(to_status)?);
    }
    Ok(outputs)
}

/// Removes a running query's cancel handle when its stream ends or drops.
struct Running {
    handle: Bytes,
    running: Arc<Mutex<HashMap<Bytes, Arc<Interrupt>>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.running.lock().remove(&self.handle);
    }
}

#[tonic::async_trait]
impl FlightSqlService for FlightSqlServer {
    type FlightService = FlightSqlServer;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>, Status> {
        let (_, token) = self.tokens.handshake(request.metadata())?;
        let reply = HandshakeResponse { protocol_version: 0, payload: token.clone().into() };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::iter([Ok(reply)])));
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("token is not a header value"))?;
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    // ----- statements -----

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.user(&request)?;
        let session = self.session_for(&user, query.transaction_id.as_ref())?;
        let sql = numbered_parameters(&query.query).map_err(to_status)?;
        let prepared = session.lock().await.prepare(&sql, &[]).await.map_err(to_status)?;
        let (schema, prepared) = match prepared.schema() {
            Some(schema) => (schema.as_ref().clone(), Some(prepared)),
            // Not a query (clients send DDL this way too): it runs now.
            None => {
                session.lock().await.execute_prepared(&prepared, Vec::new()).await.map_err(to_status)?;
                (Schema::empty(), None)
            }
        };
        let handle = new_handle();
        {
            let mut pending = self.pending.lock();
            pending.retain(|_, p| p.planned.elapsed() < PENDING_LIFETIME);
            pending.insert(handle.clone(), Pending { user, session, prepared, planned: Instant::now() });
        }
        let ticket = TicketStatementQuery { statement_handle: handle }.as_any().encode_to_vec();
        Ok(Response::new(flight_info(&schema, ticket, request.into_inner())?))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let handle = ticket.statement_handle;
        let pending = {
            let mut all = self.pending.lock();
            match all.get(&handle) {
                Some(p) if p.user != user => {
                    return Err(Status::permission_denied("the query belongs to another user"));
                }
                Some(_) => all.remove(&handle),
                None => None,
            }
        };
        let Some(Pending { session, prepared, .. }) = pending else {
            return Err(Status::not_found("unknown or already fetched statement ticket"));
        };
        let Some(prepared) = prepared else {
            return Ok(Response::new(batches_stream(Arc::new(Schema::empty()), futures::stream::empty())));
        };
        let mut session = session.lock().await;
        let guard = Running { handle: handle.clone(), running: self.running.clone() };
        self.running.lock().insert(handle, session.interrupt());
        let out = session.execute_prepared(&prepared, Vec::new()).await.map_err(to_status)?;
        match out {
            StatementResult::Rows { schema, stream, .. } => {
                let stream = stream.map_err(EngineError::from).map(move |b| {
                    let _running = &guard;
                    b
                });
                Ok(Response::new(batches_stream(schema, stream)))
            }
            _ => Ok(Response::new(batches_stream(Arc::new(Schema::empty()), futures::stream::empty()))),
        }
    }

    async fn do_put_statement_update(
        &self,
        command: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let user = self.user(&request)?;
        let session = self.session_for(&user, command.transaction_id.as_ref())?;
        let outputs = session.lock().await.execute(&command.query).await.map_err(to_status)?;
        Ok(outputs.iter().map(affected).sum())
    }

    async fn do_put_statement_ingest(
        &self,
        command: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let user = self.user(&request)?;
        crate::ingest::ingest(self, &user, command, request).await
    }

    // ----- prepared statements -----

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let user = self.user(&request)?;
        let session = self.session_for(&user, query.transaction_id.as_ref())?;
        // Flight SQL clients mark parameters with `?`.
        let sql = numbered_parameters(&query.query).map_err(to_status)?;
        let prepared = session.lock().await.prepare(&sql, &[]).await.map_err(to_status)?;
        let dataset = prepared.schema().map(|s| s.as_ref().clone()).unwrap_or_else(Schema::empty);
        let parameters = Schema::new(
            prepared
                .param_types()
                .iter()
                .enumerate()
                .map(|(i, t)| Field::new(format!("${}", i + 1), t.clone(), true))
                .collect::<Vec<_>>(),
        );
        let handle = new_handle();
        let entry = PreparedEntry { user, session, prepared, params: Mutex::new(None) };
        self.statements.lock().insert(handle.clone(), Arc::new(entry));
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle,
            dataset_schema: ipc_schema(&dataset)?,
            parameter_schema: ipc_schema(&parameters)?,
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let user = self.user(&request)?;
        self.prepared_entry(&user, &query.prepared_statement_handle)?;
        self.statements.lock().remove(&query.prepared_statement_handle);
        Ok(())
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let user = self.user(&request)?;
        let entry = self.prepared_entry(&user, &query.prepared_statement_handle)?;
        let batches = put_batches(request).await?;
        let params = match batches.first() {
            None => None,
            Some(first) => Some(
                concat_batches(&first.schema(), &batches)
                    .map_err(|e| Status::invalid_argument(format!("parameter batches differ: {e}")))?,
            ),
        };
        if let Some(p) = &params
            && p.num_columns() != entry.prepared.param_types().len()
        {
            return Err(Status::invalid_argument(format!(
                "the statement takes {} parameters, the bound batch has {} columns",
                entry.prepared.param_types().len(),
                p.num_columns()
            )));
        }
        *entry.params.lock() = params;
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(query.prepared_statement_handle) })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.user(&request)?;
        let entry = self.prepared_entry(&user, &query.prepared_statement_handle)?;
        if entry.prepared.schema().is_none() {
            // A statement without rows (DDL, DML) executed as a query: it
            // runs now, since clients read no result for it (ADBC's
            // cursor.execute prepares everything).
            let params = entry.params.lock().clone();
            execute_rows(&entry.session, &entry.prepared, params.as_ref()).await?;
        }
        let schema = entry.prepared.schema().map(|s| s.as_ref().clone()).unwrap_or_else(Schema::empty);
        let ticket = query.as_any().encode_to_vec();
        Ok(Response::new(flight_info(&schema, ticket, request.into_inner())?))
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let entry = self.prepared_entry(&user, &query.prepared_statement_handle)?;
        let Some(schema) = entry.prepared.schema().cloned() else {
            // It ran at GetFlightInfo.
            return Ok(Response::new(batches_stream(Arc::new(Schema::empty()), futures::stream::empty())));
        };
        let params = entry.params.lock().clone();
        let outputs = execute_rows(&entry.session, &entry.prepared, params.as_ref()).await?;
        let streams = outputs.into_iter().filter_map(|out| match out {
            StatementResult::Rows { stream, .. } => Some(stream.map_err(EngineError::from)),
            _ => None,
        });
        Ok(Response::new(batches_stream(schema, futures::stream::iter(streams).flatten())))
    }

    async fn do_put_prepared_statement_update(
        &self,
        query: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let user = self.user(&request)?;
        let entry = self.prepared_entry(&user, &query.prepared_statement_handle)?;
        let batches = put_batches(request).await?;
        let bound = entry.params.lock().clone();
        let mut total = 0;
        if batches.is_empty() {
            for out in execute_rows(&entry.session, &entry.prepared, bound.as_ref()).await? {
                total += affected(&out);
            }
        }
        for batch in &batches {
            for out in execute_rows(&entry.session, &entry.prepared, Some(batch)).await? {
                total += affected(&out);
            }
        }
        Ok(total)
    }

    // ----- transactions -----

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        let user = self.user(&request)?;
        let session = self.new_session(&user);
        session.lock().await.begin().await.map_err(to_status)?;
        let id = new_handle();
        let mut transactions = self.transactions.lock();
        transactions.retain(|_, t| t.last_used.elapsed() < TRANSACTION_IDLE_MAX);
        transactions.insert(id.clone(), Transaction { user, session, last_used: Instant::now() });
        Ok(ActionBeginTransactionResult { transaction_id: id })
    }

    async fn do_action_end_transaction(
        &self,
        query: ActionEndTransactionRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let user = self.user(&request)?;
        let session = self.session_for(&user, Some(&query.transaction_id))?;
        self.transactions.lock().remove(&query.transaction_id);
        let commit = match EndTransaction::try_from(query.action) {
            Ok(EndTransaction::Commit) => true,
            Ok(EndTransaction::Rollback) => false,
            _ => return Err(Status::invalid_argument("EndTransaction needs commit or rollback")),
        };
        let mut session = session.lock().await;
        let ended = if commit { session.commit().await } else { session.rollback().await }.map_err(to_status)?;
        if commit && ended == TransactionEvent::RolledBack {
            return Err(Status::aborted("the transaction was rolled back: a statement in it failed (SQLSTATE 25P02)"));
        }
        Ok(())
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let user = self.user(&request)?;
        if request.get_ref().r#type != "CancelFlightInfo" {
            return Err(Status::invalid_argument(format!("unknown action {:?}", request.get_ref().r#type)));
        }
        let cancel = CancelFlightInfoRequest::decode(request.get_ref().body.clone())
            .map_err(|e| Status::invalid_argument(format!("CancelFlightInfo: {e}")))?;
        let mut status = CancelStatus::NotCancellable;
        for endpoint in cancel.info.iter().flat_map(|i| i.endpoint.iter()) {
            let Some(ticket) = &endpoint.ticket else { continue };
            let Ok(Command::TicketStatementQuery(t)) =
                Any::decode(ticket.ticket.clone()).map_err(|_| ()).and_then(|a| Command::try_from(a).map_err(|_| ()))
            else {
                continue;
            };
            let handle = t.statement_handle;
            let removed = {
                let mut pending = self.pending.lock();
                match pending.get(&handle) {
                    Some(p) if p.user == user => pending.remove(&handle).is_some(),
                    _ => false,
                }
            };
            if removed {
                status = CancelStatus::Cancelled;
            } else if let Some(interrupt) = self.running.lock().get(&handle) {
                interrupt.cancel();
                status = CancelStatus::Cancelling;
            }
        }
        let result = CancelFlightInfoResult::new(status);
        let body = arrow_flight::Result { body: result.encode_to_vec().into() };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(body)]))))
    }

    // ----- metadata -----

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &query.clone().into_builder().schema())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let mut builder = query.into_builder();
        builder.append(DATABASE_NAME);
        Ok(Response::new(one_batch(builder.build().map_err(|e| Status::internal(e.to_string()))?)))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &query.clone().into_builder().schema())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let names = self.new_session(&user).lock().await.schema_names().map_err(to_status)?;
        let mut builder = query.into_builder();
        for name in names {
            builder.append(DATABASE_NAME, name);
        }
        Ok(Response::new(one_batch(builder.build().map_err(|e| Status::internal(e.to_string()))?)))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &query.clone().into_builder().schema())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let tables = self.new_session(&user).lock().await.tables().map_err(to_status)?;
        let mut builder = query.into_builder();
        for t in tables {
            builder
                .append(DATABASE_NAME, &t.schema, &t.name, "TABLE", &t.arrow_schema)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(Response::new(one_batch(builder.build().map_err(|e| Status::internal(e.to_string()))?)))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &query.clone().into_builder().schema())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let mut builder = query.into_builder();
        builder.append("TABLE");
        Ok(Response::new(one_batch(builder.build().map_err(|e| Status::internal(e.to_string()))?)))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &query.clone().into_builder(&self.sql_info).schema())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = query.into_builder(&self.sql_info).build().map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(one_batch(batch)))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &metadata::primary_keys_schema())
    }

    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let tables = self.new_session(&user).lock().await.tables().map_err(to_status)?;
        Ok(Response::new(one_batch(metadata::primary_keys(&query, &tables)?)))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &query.clone().into_builder(&self.xdbc_types).schema())
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = query.into_builder(&self.xdbc_types).build().map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(one_batch(batch)))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

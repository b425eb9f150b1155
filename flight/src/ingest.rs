//! CommandStatementIngest: an Arrow stream appended to a table, created or
//! replaced first as the client asks, all in one transaction (the call's
//! own, or the client's open one).

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{CommandStatementIngest, TableExistsOption, TableNotExistOption};
use futures::{StreamExt, TryStreamExt};
use rustydb_engine::api::{EngineError, Session, SqlState, TransactionEvent, create_table_sql, quote_ident};
use tonic::{Request, Status};

use crate::error::to_status;
use crate::service::FlightSqlServer;

pub(crate) async fn ingest(
    server: &FlightSqlServer,
    user: &str,
    command: CommandStatementIngest,
    request: Request<PeekableFlightDataStream>,
) -> Result<i64, Status> {
    if command.temporary {
        return Err(Status::unimplemented("temporary tables are not supported"));
    }
    if command.catalog.as_deref().is_some_and(|c| !c.is_empty() && c != rustydb_engine::api::DATABASE_NAME) {
        return Err(Status::not_found(format!("unknown catalog {:?}", command.catalog)));
    }
    let options = command.table_definition_options.unwrap_or_default();
    let if_missing = TableNotExistOption::try_from(options.if_not_exist).unwrap_or(TableNotExistOption::Unspecified);
    let if_exists = TableExistsOption::try_from(options.if_exists).unwrap_or(TableExistsOption::Unspecified);
    let schema = command.schema.as_deref().filter(|s| !s.is_empty());
    let table = command.table.as_str();

    let mut stream = FlightRecordBatchStream::new_from_flight_data(request.into_inner().map_err(FlightError::from));
    let first =
        stream.try_next().await.map_err(|e| Status::invalid_argument(format!("reading record batches: {e}")))?;
    let arrow_schema = match (&first, stream.schema()) {
        (Some(batch), _) => batch.schema(),
        (None, Some(schema)) => schema.clone(),
        (None, None) => return Err(Status::invalid_argument("the ingest stream carries no schema")),
    };
    let batches = futures::stream::iter(first.map(Ok))
        .chain(
            stream.map_err(|e| EngineError::sql(SqlState::ProtocolViolation, format!("reading record batches: {e}"))),
        )
        .boxed();

    let explicit = command.transaction_id.as_ref().is_some_and(|id| !id.is_empty());
    let session = server.session_for(user, command.transaction_id.as_ref())?;
    let mut session = session.lock().await;
    if !explicit {
        session.begin().await.map_err(to_status)?;
    }
    let result = async {
        let exists = session.table_exists(schema, table).map_err(to_status)?;
        let name = match schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(table)),
            None => quote_ident(table),
        };
        let create = create_table_sql(schema, table, &arrow_schema).map_err(to_status)?;
        match (exists, if_exists, if_missing) {
            (true, TableExistsOption::Replace, _) => {
                run(&mut session, &format!("DROP TABLE {name}")).await?;
                run(&mut session, &create).await?;
            }
            (true, TableExistsOption::Append, _) => {}
            (true, _, _) => return Err(Status::already_exists(format!("table {name} already exists"))),
            (false, _, TableNotExistOption::Create) => run(&mut session, &create).await?,
            (false, _, _) => return Err(Status::not_found(format!("table {name} does not exist"))),
        }
        let written = session.ingest(schema, table, batches).await.map_err(to_status)?;
        i64::try_from(written).map_err(|_| Status::internal("row count overflow"))
    }
    .await;
    if explicit {
        return result;
    }
    match result {
        Ok(n) => {
            if session.commit().await.map_err(to_status)? == TransactionEvent::RolledBack {
                return Err(Status::aborted("the ingest was rolled back"));
            }
            Ok(n)
        }
        Err(e) => {
            // The error is what the client needs; a failed rollback only
            // means the transaction is already gone.
            let _ = session.rollback().await;
            Err(e)
        }
    }
}

async fn run(session: &mut Session, sql: &str) -> Result<(), Status> {
    session.execute(sql).await.map(|_| ()).map_err(to_status)
}

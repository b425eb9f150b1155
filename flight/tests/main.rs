//! Flight SQL end to end: arrow-flight's `FlightSqlServiceClient` against
//! the service on a loopback port, over a real database directory.

use std::sync::Arc;

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, CommandGetXdbcTypeInfo, CommandStatementIngest,
    EndTransaction, SqlInfo, TableDefinitionOptions, TableExistsOption, TableNotExistOption,
};
use arrow_flight::{FlightInfo, Ticket};
use datafusion::arrow::array::{Array, AsArray, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use futures::TryStreamExt;
use rustydb_engine::api::Database;
use tonic::Code;
use tonic::transport::Channel;

struct Served {
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

/// A database (with superuser `rustydb` / `password` when given) served on
/// a free loopback port.
async fn serve(password: Option<&str>) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    if let Some(p) = password {
        db.ensure_superuser("rustydb", p).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(rustydb_flight::serve(db, listener, None, std::future::pending()));
    Served { addr, _dir: dir }
}

async fn client(served: &Served) -> FlightSqlServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", served.addr)).unwrap().connect().await.unwrap();
    FlightSqlServiceClient::new(channel)
}

async fn fetch(client: &mut FlightSqlServiceClient<Channel>, info: FlightInfo) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("an endpoint has a ticket");
        let stream = client.do_get(ticket).await.unwrap();
        batches.extend(stream.try_collect::<Vec<_>>().await.unwrap());
    }
    batches
}

async fn query(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> Vec<RecordBatch> {
    let info = client.execute(sql.to_owned(), None).await.unwrap();
    fetch(client, info).await
}

fn int64s(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(column).as_primitive::<Int64Type>().values().to_vec()).collect()
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let column = b.column_by_name(name).expect("column");
            let column = column.as_string::<i32>();
            (0..column.len()).map(|i| column.value(i).to_owned()).collect::<Vec<_>>()
        })
        .collect()
}

fn code_of(e: arrow_flight::error::FlightError) -> (Code, String) {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => (s.code(), s.message().to_owned()),
        other => panic!("expected a gRPC status, got {other}"),
    }
}

fn arrow_code(e: arrow_flight::error::FlightError) -> String {
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_checked_on_every_call() {
    let served = serve(Some("s3cret")).await;
    let mut c = client(&served).await;
    // No token, a wrong password, a forged token: all refused.
    let err = c.execute("SELECT 1".into(), None).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::Unauthenticated);
    let err = c.handshake("rustydb", "wrong").await.unwrap_err();
    assert!(arrow_code(err).contains("password authentication failed"));
    c.set_token("forged".into());
    let err = c.execute("SELECT 1".into(), None).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::Unauthenticated);
    c.clear_token();
    c.handshake("rustydb", "s3cret").await.unwrap();
    let batches = query(&mut c, "SELECT 41 + 1 AS answer").await;
    assert_eq!(int64s(&batches, 0), vec![42]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_updates_prepared_statements_and_errors() {
    let served = serve(Some("pw")).await;
    let mut c = client(&served).await;
    c.handshake("rustydb", "pw").await.unwrap();
    assert_eq!(
        c.execute_update("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)".into(), None).await.unwrap(),
        0
    );
    let n = c.execute_update("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')".into(), None).await;
    assert_eq!(n.unwrap(), 3);
    assert_eq!(c.execute_update("UPDATE items SET name = upper(name) WHERE id > 1".into(), None).await.unwrap(), 2);

    // A query: schema at GetFlightInfo, rows at DoGet.
    let info = c.execute("SELECT id, name FROM items ORDER BY id".into(), None).await.unwrap();
    let schema = info.clone().try_decode_schema().unwrap();
    assert_eq!(schema.field(1).name(), "name");
    let batches = fetch(&mut c, info).await;
    assert_eq!(int64s(&batches, 0), vec![1, 2, 3]);
    assert_eq!(strings(&batches, "name"), vec!["one", "TWO", "THREE"]);

    // DDL sent as a query (ADBC's cursor.execute does this) runs too.
    let batches = query(&mut c, "CREATE TABLE other (a INT)").await;
    assert!(batches.iter().all(|b| b.num_rows() == 0));

    // Prepared query with a parameter, executed twice without re-preparing.
    let mut stmt = c.prepare("SELECT name FROM items WHERE id = $1".into(), None).await.unwrap();
    assert_eq!(stmt.parameter_schema().unwrap().fields().len(), 1);
    assert_eq!(stmt.dataset_schema().unwrap().field(0).name(), "name");
    for (id, name) in [(2i64, "TWO"), (1, "one")] {
        let params = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![id]))],
        )
        .unwrap();
        stmt.set_parameters(params).unwrap();
        let info = stmt.execute().await.unwrap();
        let batches = fetch(&mut c, info).await;
        assert_eq!(strings(&batches, "name"), vec![name]);
    }
    stmt.close().await.unwrap();

    // Prepared update, one execution per parameter row.
    let mut insert = c.prepare("INSERT INTO items VALUES ($1, $2)".into(), None).await.unwrap();
    let rows = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true), Field::new("$2", DataType::Utf8, true)])),
        vec![Arc::new(Int64Array::from(vec![10, 11])), Arc::new(StringArray::from(vec!["ten", "eleven"]))],
    )
    .unwrap();
    insert.set_parameters(rows).unwrap();
    assert_eq!(insert.execute_update().await.unwrap(), 2);
    // A parameter batch of the wrong shape is refused.
    let wrong = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)])),
        vec![Arc::new(Int32Array::from(vec![1]))],
    )
    .unwrap();
    insert.set_parameters(wrong).unwrap();
    let err = insert.execute_update().await.unwrap_err();
    assert!(arrow_code(err).contains("parameters"), "wrong parameter batch accepted");
    insert.close().await.unwrap();
    assert_eq!(int64s(&query(&mut c, "SELECT count(*) FROM items").await, 0), vec![5]);

    // Errors carry their SQLSTATE and a gRPC code.
    let (code, message) = code_of(c.execute("SELECT * FROM missing".into(), None).await.unwrap_err());
    assert_eq!(code, Code::NotFound);
    assert!(message.contains("42P01"), "{message}");
    let err = c.execute_update("INSERT INTO items VALUES (1, 'dup')".into(), None).await.unwrap_err();
    let (code, message) = code_of(err);
    assert_eq!(code, Code::AlreadyExists);
    assert!(message.contains("23505"), "{message}");
    let (code, _) = code_of(c.execute("SELEC 1".into(), None).await.unwrap_err());
    assert_eq!(code, Code::InvalidArgument);

    // Malformed and unknown tickets.
    let err = c.do_get(Ticket::new(b"not a ticket".to_vec())).await.unwrap_err();
    assert!(matches!(code_of(err).0, Code::InvalidArgument | Code::Internal), "malformed ticket");
    let info = c.execute("SELECT 1".into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    fetch(&mut c, info).await;
    let err = c.do_get(ticket).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::NotFound, "a ticket is fetched once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() {
    let served = serve(None).await;
    let mut c = client(&served).await;
    // Trust mode (no passwords): calls need no handshake.
    c.execute_update("CREATE TABLE t (a BIGINT)".into(), None).await.unwrap();
    let txn = c.begin_transaction().await.unwrap();
    c.execute_update("INSERT INTO t VALUES (1)".into(), Some(txn.clone())).await.unwrap();
    let inside = c.execute("SELECT count(*) FROM t".into(), Some(txn.clone())).await.unwrap();
    assert_eq!(int64s(&fetch(&mut c, inside).await, 0), vec![1]);
    assert_eq!(int64s(&query(&mut c, "SELECT count(*) FROM t").await, 0), vec![0], "uncommitted row seen outside");
    c.end_transaction(txn.clone(), EndTransaction::Rollback).await.unwrap();
    assert_eq!(int64s(&query(&mut c, "SELECT count(*) FROM t").await, 0), vec![0]);
    let err = c.execute_update("INSERT INTO t VALUES (9)".into(), Some(txn)).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::NotFound, "an ended transaction is gone");

    let txn = c.begin_transaction().await.unwrap();
    c.execute_update("INSERT INTO t VALUES (2), (3)".into(), Some(txn.clone())).await.unwrap();
    c.end_transaction(txn, EndTransaction::Commit).await.unwrap();
    assert_eq!(int64s(&query(&mut c, "SELECT sum(a) FROM t").await, 0), vec![5]);

    // A failed statement dooms the transaction: COMMIT reports it.
    let txn = c.begin_transaction().await.unwrap();
    c.execute_update("INSERT INTO t VALUES (4)".into(), Some(txn.clone())).await.unwrap();
    assert!(c.execute_update("INSERT INTO nowhere VALUES (1)".into(), Some(txn.clone())).await.is_err());
    let err = c.end_transaction(txn, EndTransaction::Commit).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::Aborted);
    assert_eq!(int64s(&query(&mut c, "SELECT sum(a) FROM t").await, 0), vec![5]);
}

fn ingest_command(
    table: &str,
    if_missing: TableNotExistOption,
    if_exists: TableExistsOption,
) -> CommandStatementIngest {
    CommandStatementIngest {
        table_definition_options: Some(TableDefinitionOptions {
            if_not_exist: if_missing.into(),
            if_exists: if_exists.into(),
        }),
        table: table.to_owned(),
        schema: None,
        catalog: None,
        temporary: false,
        transaction_id: None,
        options: Default::default(),
    }
}

fn people(ids: std::ops::Range<i64>) -> RecordBatch {
    let names: Vec<String> = ids.clone().map(|i| format!("p{i}")).collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)])),
        vec![Arc::new(Int64Array::from(ids.collect::<Vec<_>>())), Arc::new(StringArray::from(names))],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_ingest_creates_appends_and_replaces() {
    let served = serve(None).await;
    let mut c = client(&served).await;
    let create = ingest_command("people", TableNotExistOption::Create, TableExistsOption::Fail);
    let stream = futures::stream::iter([Ok(people(0..1000)), Ok(people(1000..2500))]);
    assert_eq!(c.execute_ingest(create.clone(), stream).await.unwrap(), 2500);
    let batches = query(&mut c, "SELECT count(*), sum(id), max(name) FROM people").await;
    assert_eq!(int64s(&batches, 0), vec![2500]);
    assert_eq!(int64s(&batches, 1), vec![(0..2500).sum::<i64>()]);

    // Create again: the table exists.
    let err = c.execute_ingest(create, futures::stream::iter([Ok(people(0..1))])).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::AlreadyExists);
    // Append.
    let append = ingest_command("people", TableNotExistOption::Fail, TableExistsOption::Append);
    assert_eq!(c.execute_ingest(append, futures::stream::iter([Ok(people(5000..5010))])).await.unwrap(), 10);
    assert_eq!(int64s(&query(&mut c, "SELECT count(*) FROM people").await, 0), vec![2510]);
    // Append to a missing table fails.
    let missing = ingest_command("nobody", TableNotExistOption::Fail, TableExistsOption::Append);
    let err = c.execute_ingest(missing, futures::stream::iter([Ok(people(0..1))])).await.unwrap_err();
    assert_eq!(code_of(err).0, Code::NotFound);
    // Replace.
    let replace = ingest_command("people", TableNotExistOption::Create, TableExistsOption::Replace);
    assert_eq!(c.execute_ingest(replace, futures::stream::iter([Ok(people(7..9))])).await.unwrap(), 2);
    assert_eq!(int64s(&query(&mut c, "SELECT sum(id) FROM people").await, 0), vec![15]);

    // One transaction: a batch that breaks a constraint keeps nothing.
    c.execute_update("CREATE TABLE keyed (id BIGINT PRIMARY KEY, name TEXT)".into(), None).await.unwrap();
    let append = ingest_command("keyed", TableNotExistOption::Fail, TableExistsOption::Append);
    let stream = futures::stream::iter([Ok(people(0..10)), Ok(people(5..6))]);
    let err = c.execute_ingest(append, stream).await.unwrap_err();
    let (code, message) = code_of(err);
    assert_eq!(code, Code::AlreadyExists, "{message}");
    assert_eq!(int64s(&query(&mut c, "SELECT count(*) FROM keyed").await, 0), vec![0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_calls_describe_the_catalog() {
    let served = serve(None).await;
    let mut c = client(&served).await;
    c.execute_update("CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT NOT NULL)".into(), None).await.unwrap();
    c.execute_update("CREATE SCHEMA sales".into(), None).await.unwrap();
    c.execute_update("CREATE TABLE sales.orders (n BIGINT, k INT, PRIMARY KEY (k, n))".into(), None).await.unwrap();

    let info = c.get_catalogs().await.unwrap();
    assert_eq!(strings(&fetch(&mut c, info).await, "catalog_name"), vec!["rustydb"]);

    let info = c.get_db_schemas(CommandGetDbSchemas { catalog: None, db_schema_filter_pattern: None }).await.unwrap();
    let schemas = strings(&fetch(&mut c, info).await, "db_schema_name");
    assert!(schemas.contains(&"public".to_owned()) && schemas.contains(&"sales".to_owned()), "{schemas:?}");

    let tables = CommandGetTables {
        catalog: None,
        db_schema_filter_pattern: Some("sal%".into()),
        table_name_filter_pattern: None,
        table_types: vec![],
        include_schema: true,
    };
    let info = c.get_tables(tables).await.unwrap();
    let batches = fetch(&mut c, info).await;
    assert_eq!(strings(&batches, "table_name"), vec!["orders"]);
    let schema_bytes = batches[0].column_by_name("table_schema").unwrap().as_binary::<i32>().value(0).to_vec();
    let decoded = Schema::try_from(arrow_flight::IpcMessage(schema_bytes.into())).unwrap();
    assert_eq!(decoded.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), vec!["n", "k"]);

    let info = c.get_table_types().await.unwrap();
    assert_eq!(strings(&fetch(&mut c, info).await, "table_type"), vec!["TABLE"]);

    let info = c.get_sql_info(vec![SqlInfo::FlightSqlServerName, SqlInfo::FlightSqlServerTransaction]).await.unwrap();
    let batches = fetch(&mut c, info).await;
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);

    let keys = CommandGetPrimaryKeys { catalog: None, db_schema: Some("sales".into()), table: "orders".into() };
    let info = c.get_primary_keys(keys).await.unwrap();
    let batches = fetch(&mut c, info).await;
    assert_eq!(strings(&batches, "column_name"), vec!["k", "n"]);
    assert_eq!(strings(&batches, "key_name"), vec!["orders_pkey", "orders_pkey"]);

    let info = c.get_xdbc_type_info(CommandGetXdbcTypeInfo { data_type: None }).await.unwrap();
    let names = strings(&fetch(&mut c, info).await, "type_name");
    assert!(names.contains(&"bigint".to_owned()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_query_can_be_cancelled_and_large_results_stream() {
    use arrow_flight::{Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus};
    use prost::Message;
    let served = serve(None).await;
    let mut c = client(&served).await;
    let info = c.execute("SELECT 1".into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let body = CancelFlightInfoRequest::new(info).encode_to_vec();
    let mut results = c.do_action(Action { r#type: "CancelFlightInfo".into(), body: body.into() }).await.unwrap();
    let result = results.try_next().await.unwrap().expect("one result");
    let status = CancelFlightInfoResult::decode(result.body).unwrap().status;
    assert_eq!(status, CancelStatus::Cancelled as i32);
    assert_eq!(code_of(c.do_get(ticket).await.unwrap_err()).0, Code::NotFound, "a cancelled query is gone");

    // A result larger than one batch arrives as a stream of batches.
    let info = c.execute("SELECT value FROM generate_series(1, 300000) AS s(value)".into(), None).await.unwrap();
    let batches = fetch(&mut c, info).await;
    assert!(batches.len() > 1, "{} batches", batches.len());
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 300_000);
    assert_eq!(int64s(&batches, 0).iter().sum::<i64>(), (1..=300_000i64).sum::<i64>());
}

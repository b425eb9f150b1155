"""ADBC Flight SQL (adbc_driver_flightsql) and pyarrow.flight against
`rustydb serve`, with psycopg on the PostgreSQL port of the same server.
Arguments: PostgreSQL port, Flight SQL port; PGPASSWORD is the superuser's
password. Exits non-zero on the first failed check."""

import os
import sys

import adbc_driver_flightsql.dbapi as flight_sql
import psycopg
import pyarrow as pa
import pyarrow.flight as flight
from adbc_driver_manager import DatabaseOptions

PG_PORT, FLIGHT_PORT = int(sys.argv[1]), int(sys.argv[2])
PASSWORD = os.environ["PGPASSWORD"]
URI = f"grpc://127.0.0.1:{FLIGHT_PORT}"
CREDENTIALS = {DatabaseOptions.USERNAME.value: "rustydb", DatabaseOptions.PASSWORD.value: PASSWORD}


def connect(autocommit=True):
    return flight_sql.connect(URI, db_kwargs=CREDENTIALS, autocommit=autocommit)


# A wrong password is refused.
try:
    with flight_sql.connect(
        URI, db_kwargs={**CREDENTIALS, DatabaseOptions.PASSWORD.value: "wrong"}, autocommit=True
    ) as bad:
        bad.cursor().execute("SELECT 1")
except Exception as e:  # the driver raises on connect or on first use
    assert "password authentication failed" in str(e) or "Unauthenticated" in str(e), e
else:
    raise AssertionError("wrong password accepted")

with connect() as conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, price DOUBLE PRECISION)")
    cur.execute("INSERT INTO items VALUES (1, 'one', 1.5), (2, 'two', 2.5), (3, 'three', 3.5)")
    # Parameters (qmark style) and Arrow results.
    cur.execute("SELECT name, price FROM items WHERE id >= ? ORDER BY id", parameters=(2,))
    table = cur.fetch_arrow_table()
    assert table.column("name").to_pylist() == ["two", "three"], table
    assert table.schema.field("price").type == pa.float64(), table.schema
    cur.execute("SELECT count(*) FROM items WHERE name = ?", parameters=("one",))
    assert cur.fetchone() == (1,)

    # Bulk ingest: create, then append.
    data = pa.table({"k": pa.array(range(10_000), pa.int64()), "v": pa.array([f"v{i}" for i in range(10_000)])})
    assert cur.adbc_ingest("bulk", data, mode="create") == 10_000
    more = pa.table({"k": pa.array([10_000, 10_001], pa.int64()), "v": pa.array(["x", "y"])})
    assert cur.adbc_ingest("bulk", more, mode="append") == 2
    cur.execute("SELECT count(*), sum(k) FROM bulk")
    assert cur.fetchone() == (10_002, sum(range(10_002))), "ingested rows"

    # Metadata.
    objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    tables = {t["table_name"] for c in objects for s in c["catalog_db_schemas"] for t in (s["db_schema_tables"] or [])}
    assert {"items", "bulk"} <= tables, tables
    schema = conn.adbc_get_table_schema("items")
    assert schema.names == ["id", "name", "price"], schema
    assert schema.field("id").type == pa.int64(), schema

# Transactions: autocommit off, rollback then commit.
with connect(autocommit=False) as conn, conn.cursor() as cur:
    cur.execute("INSERT INTO items VALUES (10, 'ten', 10.0)")
    conn.rollback()
    cur.execute("SELECT count(*) FROM items WHERE id = 10")
    assert cur.fetchone() == (0,), "rolled back row visible"
    conn.rollback()
    cur.execute("INSERT INTO items VALUES (11, 'eleven', 11.0)")
    conn.commit()

# pyarrow.flight directly: handshake for a token, GetFlightInfo, DoGet.
client = flight.FlightClient(URI)
token = client.authenticate_basic_token("rustydb", PASSWORD)
options = flight.FlightCallOptions(headers=[token])


def command_statement_query(sql):
    """A Flight SQL CommandStatementQuery wrapped in google.protobuf.Any,
    written by hand (field 1: query string; Any: type_url, value)."""

    def field(number, payload):
        key = bytes([(number << 3) | 2])
        length = len(payload)
        varint = b""
        while True:
            byte = length & 0x7F
            length >>= 7
            varint += bytes([byte | (0x80 if length else 0)])
            if not length:
                break
        return key + varint + payload

    inner = field(1, sql.encode())
    type_url = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    return field(1, type_url) + field(2, inner)


descriptor = flight.FlightDescriptor.for_command(command_statement_query("SELECT id, name FROM items ORDER BY id"))
info = client.get_flight_info(descriptor, options)
reader = client.do_get(info.endpoints[0].ticket, options)
table = reader.read_all()
assert table.column("id").to_pylist() == [1, 2, 3, 11], table

# Rows written over Flight are read over the PostgreSQL protocol, and the reverse.
with psycopg.connect(host="127.0.0.1", port=PG_PORT, user="rustydb", password=PASSWORD, dbname="rustydb") as pg:
    assert pg.execute("SELECT count(*), max(v) FROM bulk").fetchone() == (10_002, "y")
    pg.execute("INSERT INTO items VALUES (20, 'from postgres', 20.0)")
    pg.commit()
with connect() as conn, conn.cursor() as cur:
    cur.execute("SELECT name FROM items WHERE id = 20")
    assert cur.fetchone() == ("from postgres",)

print("adbc: ok")

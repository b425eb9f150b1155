"""Flight SQL (ADBC) beside the PostgreSQL protocol (psycopg) on one
RustyDB server, and COPY into PostgreSQL, with the same data. Prints a
Markdown table. Run by benches/flight-compare.sh, which starts the servers.

    flight_vs_pg.py ROWS RUSTY_PG_PORT RUSTY_FLIGHT_PORT PG_PORT
"""

import io
import sys
import time

import adbc_driver_flightsql.dbapi as flight_sql
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv

ROWS, RUSTY_PG, RUSTY_FLIGHT, PG = (int(a) for a in sys.argv[1:5])
COLUMNS = "id BIGINT, qty INTEGER, price DOUBLE PRECISION, name TEXT, at TIMESTAMP"


def data():
    ids = pa.array(range(ROWS), pa.int64())
    return pa.table(
        {
            "id": ids,
            "qty": pc.cast(pc.bit_wise_and(ids, pa.scalar(1023, pa.int64())), pa.int32()),
            "price": pc.multiply(pc.cast(ids, pa.float64()), 0.25),
            "name": pc.binary_join_element_wise("item-", pc.cast(ids, pa.string()), ""),
            "at": pc.cast(pc.add(pc.multiply(ids, 1_000_000), 1_700_000_000_000_000), pa.timestamp("us")),
        }
    )


def csv_bytes(table):
    out = io.BytesIO()
    csv.write_csv(table, out, csv.WriteOptions(include_header=False))
    return out.getvalue()


def copy_in(port, user, password, table_name, payload):
    with psycopg.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="rustydb") as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table_name}")
        conn.execute(f"CREATE TABLE {table_name} ({COLUMNS})")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {table_name} FROM STDIN (FORMAT csv)") as copy:
            view = memoryview(payload)
            for offset in range(0, len(payload), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        conn.commit()
        return time.perf_counter() - start


def main():
    table = data()
    payload = csv_bytes(table)
    results = []

    # Bulk load: ADBC ingest, COPY into RustyDB, COPY into PostgreSQL.
    with flight_sql.connect(f"grpc://127.0.0.1:{RUSTY_FLIGHT}", autocommit=True) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        cur.adbc_ingest("flight_load", table.to_batches(max_chunksize=65_536), mode="create")
        ingest = time.perf_counter() - start
    copy_rusty = copy_in(RUSTY_PG, "rustydb", None, "copy_load", payload)
    copy_pg = copy_in(PG, "rustydb", None, "copy_load", payload)

    # Reading every row of a 5-column table.
    with flight_sql.connect(f"grpc://127.0.0.1:{RUSTY_FLIGHT}", autocommit=True) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        cur.execute("SELECT * FROM flight_load")
        result = cur.fetch_arrow_table()
        flight_read = time.perf_counter() - start
        assert result.num_rows == ROWS, result.num_rows
        arrow_bytes = result.nbytes
    with psycopg.connect(host="127.0.0.1", port=RUSTY_PG, user="rustydb", dbname="rustydb") as conn:
        start = time.perf_counter()
        n = 0
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT * FROM flight_load")
            while rows := cur.fetchmany(10_000):
                n += len(rows)
        pg_read = time.perf_counter() - start
        assert n == ROWS, n

    # A small query's round trip (what an application's many small
    # queries wait for): SELECT 1, median of 50, each protocol.
    def median_ms(run):
        times = []
        for _ in range(50):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return sorted(times)[25] * 1000

    with flight_sql.connect(f"grpc://127.0.0.1:{RUSTY_FLIGHT}", autocommit=True) as conn, conn.cursor() as cur:
        flight_rtt = median_ms(lambda: (cur.execute("SELECT 1"), cur.fetch_arrow_table()))
    with psycopg.connect(host="127.0.0.1", port=RUSTY_PG, user="rustydb", dbname="rustydb") as conn:
        pg_rtt = median_ms(lambda: conn.execute("SELECT 1").fetchall())

    mb = arrow_bytes / 1e6
    print(f"{ROWS:,} rows, 5 columns ({COLUMNS}); {mb:.0f} MB as Arrow, {len(payload) / 1e6:.0f} MB as CSV\n")
    print("| read all rows | seconds | rows/s | MB/s (Arrow size) |")
    print("|---|---|---|---|")
    for label, secs in [("Flight SQL (ADBC, fetch_arrow_table)", flight_read), ("PostgreSQL protocol (psycopg, binary)", pg_read)]:
        print(f"| {label} | {secs:.2f} | {ROWS / secs:,.0f} | {mb / secs:,.0f} |")
    print(f"\nFlight / PostgreSQL protocol: {pg_read / flight_read:.1f}x\n")
    print(f"SELECT 1 round trip (median of 50): Flight SQL {flight_rtt:.2f} ms, PostgreSQL protocol {pg_rtt:.2f} ms\n")
    print("| bulk load | seconds | rows/s |")
    print("|---|---|---|")
    for label, secs in [
        ("RustyDB, ADBC ingest (Flight SQL)", ingest),
        ("RustyDB, COPY FROM STDIN csv (psycopg)", copy_rusty),
        ("PostgreSQL 15, COPY FROM STDIN csv (psycopg)", copy_pg),
    ]:
        print(f"| {label} | {secs:.2f} | {ROWS / secs:,.0f} |")


main()

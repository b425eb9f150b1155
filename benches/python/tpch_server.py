"""TPC-H through a running `rustydb serve`: loads the Parquet files the tpch
bench wrote over Arrow Flight SQL (ADBC bulk ingest, a transaction per
million rows), checkpoints, runs the 22 queries once each over Flight SQL,
checks every answer against RustyDB's in-process ones, and reports the
server's resident memory (VmRSS now, VmHWM the peak so far, from
/proc/PID/status) after each phase. Run by benches/tpch-compare.sh, which
starts the server.

usage: tpch_server.py PARQUET_DIR QUERIES_DIR ANSWERS_DIR FLIGHT_PORT SERVER_PID
"""
import os
import sys
import time

import adbc_driver_flightsql.dbapi as flight_sql
import pyarrow as pa
import pyarrow.parquet as pq

from tpch_duckdb import cell, query_sql, rows_close

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]
TXN_ROWS = 1_000_000


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return f"RSS {fields['VmRSS']:.0f} MiB, peak {fields['VmHWM']:.0f} MiB"


def plain_strings(table):
    """The table with string_view columns (as tpchgen-cli writes them) cast
    to plain strings."""
    fields = [pa.field(f.name, pa.string(), f.nullable) if pa.types.is_string_view(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))


def load(cur, pq_dir, tables=TABLES):
    rows = 0
    for t in tables:
        f = pq.ParquetFile(os.path.join(pq_dir, f"{t}.parquet"))
        batches, pending, mode = [], 0, "create"
        for b in f.iter_batches(batch_size=65_536):
            batches.append(b)
            pending += b.num_rows
            if pending >= TXN_ROWS:
                cur.adbc_ingest(t, plain_strings(pa.Table.from_batches(batches)), mode=mode)
                rows += pending
                batches, pending, mode = [], 0, "append"
        if batches or mode == "create":
            cur.adbc_ingest(t, plain_strings(pa.Table.from_batches(batches, schema=f.schema_arrow)), mode=mode)
            rows += pending
    return rows


def main():
    pq_dir, qdir, ans, port, pid = sys.argv[1:6]
    with flight_sql.connect(f"grpc://127.0.0.1:{port}", autocommit=True) as conn, conn.cursor() as cur:
        print(f"server at start: {memory(pid)}")
        t0 = time.perf_counter()
        rows = load(cur, pq_dir)
        dt = time.perf_counter() - t0
        print(f"loaded {rows} rows over Flight SQL in {dt:.1f} s ({rows / dt:.0f} rows/s): {memory(pid)}")
        t0 = time.perf_counter()
        cur.execute("CHECKPOINT")
        cur.fetchall()
        print(f"CHECKPOINT {time.perf_counter() - t0:.1f} s: {memory(pid)}")
        total, wrong = 0.0, 0
        for n in range(1, 23):
            sql = query_sql(qdir, n)
            t0 = time.perf_counter()
            cur.execute(sql)
            table = cur.fetch_arrow_table()
            total += time.perf_counter() - t0
            got = ["|".join(cell(v) for v in row.values()) for row in table.to_pylist()]
            if "order by" not in sql.lower():
                got.sort()
            with open(os.path.join(ans, f"q{n}.txt")) as f:
                want = [line for line in f.read().split("\n") if line != ""]
            same = len(got) == len(want) and all(rows_close(g, w) for g, w in zip(got, want))
            wrong += not same
            if not same:
                print(f"q{n} differs from the in-process answer: {got[:2]} vs {want[:2]}")
        print(f"22 queries once each over Flight SQL: {total:.2f} s, {wrong} answers differ: {memory(pid)}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()

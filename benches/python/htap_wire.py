"""HTAP through a running server, with real clients: TPC-H q1 + q6 idle and
while pgbench's TPC-B (prepared, its five statements per transaction) runs
against the same server over the PostgreSQL protocol. Rounds alternate idle
and busy (which goes first alternates too); in a busy round the queries run
again and again until pgbench's run ends, and the round's busy latency is
their mean. Prints the medians, the median of the per-round ratios and
pgbench's tps alone and beside the queries.

Against `rustydb serve` the queries go over Arrow Flight SQL; with
`--postgres` they go to a PostgreSQL server over psycopg, as the baseline of
what a database on the same machine gives under the same load. Run by
benches/htap-wire.sh, which starts the server and initialises pgbench's
tables.

usage: htap_wire.py PARQUET_DIR QUERIES_DIR FLIGHT_PORT PG_PORT ROUNDS CLIENTS RATE
       htap_wire.py --postgres PARQUET_DIR QUERIES_DIR PG_PORT ROUNDS CLIENTS RATE
"""
import io
import math
import re
import statistics
import subprocess
import sys
import time

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tpch_duckdb import query_sql

# pgbench runs at least this long in a busy round, and long enough for
# three runs of the queries: only runs that end before pgbench count.
BUSY_SECONDS_MIN = 4
WARM_UP_SECONDS = 0.5

POSTGRES_LINEITEM = """CREATE TABLE lineitem (
    l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL,
    l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
    l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
    l_tax numeric(15,2) NOT NULL, l_returnflag text NOT NULL, l_linestatus text NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct text NOT NULL, l_shipmode text NOT NULL, l_comment text NOT NULL)"""


def pgbench(pg_port, clients, seconds, rate):
    args = ["pgbench", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "rustydb", "-n", "-M", "prepared",
            "-c", str(clients), "-j", str(clients), "-T", str(seconds)]
    if rate:
        args += ["-R", str(rate)]
    return subprocess.Popen(args + ["rustydb"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def tps(proc):
    out, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"pgbench failed: {out}")
    return float(re.search(r"^tps = ([0-9.]+)", out, re.M).group(1))


def measure(server, q1_q6, pg_port, rounds, clients, rate):
    """The idle and busy rounds, for the write load unthrottled and held to
    `rate` transactions a second."""
    busy_seconds = max(BUSY_SECONDS_MIN, math.ceil(3 * q1_q6()))
    for label, r in (("unthrottled", 0), (f"held to {rate} tx/s", rate)):
        alone = tps(pgbench(pg_port, clients, busy_seconds, r))
        idle, busy, ratios, beside = [], [], [], []
        for n in range(rounds):
            i = b = None
            for busy_turn in ([False, True] if n % 2 == 0 else [True, False]):
                if not busy_turn:
                    i = q1_q6()
                    continue
                proc = pgbench(pg_port, clients, busy_seconds, r)
                time.sleep(WARM_UP_SECONDS)
                runs = []
                while proc.poll() is None:
                    runs.append(q1_q6())
                beside.append(tps(proc))
                # The last run may have outlasted pgbench.
                b = statistics.mean(runs[:-1] or runs)
            idle.append(i)
            busy.append(b)
            ratios.append(b / i)
        print(
            f"HTAP over the wire ({server}), pgbench -c {clients} {label}: q1+q6 median "
            f"{statistics.median(idle):.3f} s idle, {statistics.median(busy):.3f} s beside pgbench; "
            f"ratio median {statistics.median(ratios):.2f}x "
            f"(rounds {min(ratios):.2f}-{max(ratios):.2f}x, {rounds} rounds); "
            f"pgbench {alone:.0f} tps alone, median {statistics.median(beside):.0f} tps beside the queries"
        )


def timed_queries(cur, queries, fetch):
    def q1_q6():
        t0 = time.perf_counter()
        for sql in queries:
            cur.execute(sql)
            fetch(cur)
        return time.perf_counter() - t0

    return q1_q6


def rustydb(pq_dir, queries, flight_port, pg_port, rounds, clients, rate):
    import adbc_driver_flightsql.dbapi as flight_sql

    from tpch_server import load

    with flight_sql.connect(f"grpc://127.0.0.1:{flight_port}", autocommit=True) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        rows = load(cur, pq_dir, ["lineitem"])
        cur.execute("CHECKPOINT")
        cur.fetchall()
        print(f"lineitem: {rows} rows loaded over Flight SQL and checkpointed in {time.perf_counter() - t0:.1f} s")
        measure("RustyDB, queries over Flight SQL", timed_queries(cur, queries, lambda c: c.fetch_arrow_table()),
                pg_port, rounds, clients, rate)


def postgres(pq_dir, queries, pg_port, rounds, clients, rate):
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=pg_port, user="rustydb", dbname="rustydb", autocommit=True) as conn:
        cur = conn.cursor()
        t0 = time.perf_counter()
        cur.execute("DROP TABLE IF EXISTS lineitem")
        cur.execute(POSTGRES_LINEITEM)
        with cur.copy("COPY lineitem FROM STDIN (FORMAT csv)") as copy:
            for batch in pq.ParquetFile(f"{pq_dir}/lineitem.parquet").iter_batches(batch_size=65_536):
                buf = io.BytesIO()
                pa_csv.write_csv(batch, buf, pa_csv.WriteOptions(include_header=False))
                copy.write(buf.getvalue())
        # Sets hint bits and the visibility map, as a long-lived table has them.
        cur.execute("VACUUM (FREEZE, ANALYZE) lineitem")
        print(f"lineitem loaded into PostgreSQL with COPY and vacuumed in {time.perf_counter() - t0:.1f} s")
        measure("PostgreSQL, queries over psycopg", timed_queries(cur, queries, lambda c: c.fetchall()),
                pg_port, rounds, clients, rate)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--postgres":
        pq_dir, qdir, pg_port, rounds, clients, rate = args[1:7]
        queries = [query_sql(qdir, 1), query_sql(qdir, 6)]
        postgres(pq_dir, queries, pg_port, int(rounds), int(clients), int(rate))
    else:
        pq_dir, qdir, flight_port, pg_port, rounds, clients, rate = args[:7]
        queries = [query_sql(qdir, 1), query_sql(qdir, 6)]
        rustydb(pq_dir, queries, flight_port, pg_port, int(rounds), int(clients), int(rate))


if __name__ == "__main__":
    main()

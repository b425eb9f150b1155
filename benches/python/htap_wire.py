"""HTAP through a running `rustydb serve`, with real clients: TPC-H q1 + q6
over Arrow Flight SQL, idle and while pgbench's TPC-B (prepared, its five
statements per transaction) runs against the same server over the
PostgreSQL protocol. Rounds alternate idle and busy (which goes first
alternates too); in a busy round the queries run again and again until
pgbench's run ends, and the round's busy latency is their mean. Prints the
medians, the median of the per-round ratios and pgbench's tps alone and
beside the queries. Run by benches/htap-wire.sh, which starts the server
and initialises pgbench's tables.

usage: htap_wire.py PARQUET_DIR QUERIES_DIR FLIGHT_PORT PG_PORT ROUNDS CLIENTS RATE
"""
import os
import re
import statistics
import subprocess
import sys
import time

import adbc_driver_flightsql.dbapi as flight_sql

from tpch_duckdb import query_sql
from tpch_server import load

BUSY_SECONDS = 4
WARM_UP_SECONDS = 0.5


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


def main():
    pq_dir, qdir, flight_port, pg_port, rounds, clients, rate = sys.argv[1:8]
    rounds, clients, rate = int(rounds), int(clients), int(rate)
    queries = [query_sql(qdir, 1), query_sql(qdir, 6)]
    with flight_sql.connect(f"grpc://127.0.0.1:{flight_port}", autocommit=True) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        rows = load(cur, pq_dir, ["lineitem"])
        cur.execute("CHECKPOINT")
        cur.fetchall()
        print(f"lineitem: {rows} rows loaded over Flight SQL and checkpointed in {time.perf_counter() - t0:.1f} s")

        def q1_q6():
            t0 = time.perf_counter()
            for sql in queries:
                cur.execute(sql)
                cur.fetch_arrow_table()
            return time.perf_counter() - t0

        q1_q6()
        for label, r in (("unthrottled", 0), (f"held to {rate} tx/s", rate)):
            alone = tps(pgbench(pg_port, clients, BUSY_SECONDS, r))
            idle, busy, ratios, beside = [], [], [], []
            for n in range(rounds):
                i = b = None
                for busy_turn in ([False, True] if n % 2 == 0 else [True, False]):
                    if not busy_turn:
                        i = q1_q6()
                        continue
                    proc = pgbench(pg_port, clients, BUSY_SECONDS, r)
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
                f"HTAP over the wire, pgbench -c {clients} {label}: q1+q6 median {statistics.median(idle):.3f} s idle, "
                f"{statistics.median(busy):.3f} s beside pgbench; ratio median {statistics.median(ratios):.2f}x "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f}x, {rounds} rounds); "
                f"pgbench {alone:.0f} tps alone, median {statistics.median(beside):.0f} tps beside the queries"
            )


if __name__ == "__main__":
    main()

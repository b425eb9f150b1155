"""DuckDB over the Parquet files the tpch bench wrote: times the 22 queries
and checks each answer against RustyDB's (normalised the same way as
benches/src/tpch.rs: numbers with a fraction to 7 significant digits in
Rust's `{:.6e}` form, rows sorted unless the query orders them; numbers
then compared within a relative 1e-4, as DuckDB averages decimals as
doubles where DataFusion keeps a fixed scale).

usage: tpch_duckdb.py PARQUET_DIR QUERIES_DIR ANSWERS_DIR
"""
import math
import os
import re
import sys
import time

import duckdb


def query_sql(qdir, n):
    text = open(os.path.join(qdir, f"q{n}.sql")).read()
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    if n != 15:
        return text
    stmts = [s.strip() for s in text.split(";") if s.strip()]
    view = stmts[0][len("create view"):].strip()
    head, body = view.split(" as", 1)
    return f"with {head} as ({body}) {stmts[1]}"


def rust_exp(v):
    m, e = f"{v:.6e}".split("e")
    return f"{m}e{int(e)}"


def cell(v):
    if v is None:
        return ""
    s = str(v)
    if re.fullmatch(r"-?\d+\.\d*", s) or isinstance(v, float):
        return rust_exp(float(v))
    return s


def cells_close(a, b):
    """Equal text, or numbers within a relative 1e-4: DuckDB averages and
    divides decimals as doubles, DataFusion in decimals whose scale it cuts
    (q1's avg(l_discount): 0.04999771 in DuckDB, 0.049997 in DataFusion)."""
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-4, abs_tol=1e-9)
    except ValueError:
        return False


def rows_close(a, b):
    ca, cb = a.split("|"), b.split("|")
    return len(ca) == len(cb) and all(cells_close(x, y) for x, y in zip(ca, cb))


def main():
    pq, qdir, ans = sys.argv[1:4]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    for t in ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]:
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{os.path.join(pq, t + '.parquet')}')")
    total, wrong = 0.0, 0
    print(f"{'q':>4} {'duckdb_s':>10} {'check':>6}")
    for n in range(1, 23):
        sql = query_sql(qdir, n)
        dt = float("inf")
        for _ in range(3):  # best of three warm runs, as for the others
            t0 = time.perf_counter()
            rows = con.execute(sql).fetchall()
            dt = min(dt, time.perf_counter() - t0)
        total += dt
        got = ["|".join(cell(v) for v in r) for r in rows]
        if "order by" not in sql.lower():
            got.sort()
        with open(os.path.join(ans, f"q{n}.txt")) as f:
            want = [l for l in f.read().split("\n") if l != ""] if os.path.getsize(f.name) else []
        same = len(got) == len(want) and all(rows_close(g, w) for g, w in zip(got, want))
        wrong += not same
        print(f"{n:>4} {dt:>10.3f} {'ok' if same else 'DIFF':>6}")
        if not same:
            for g, w in list(zip(got, want))[:3]:
                if not rows_close(g, w):
                    print(f"     duckdb  {g}\n     rustydb {w}")
    print(f"total {total:.2f} s DuckDB (in memory); {wrong} answers differ from RustyDB's")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()

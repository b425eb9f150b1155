"""psycopg 3 against a running RustyDB server: types in text and binary,
transactions, executemany, server-side prepared statements, fetchmany over a
large result, named (server-side) cursors, COPY in and out. Run by
server/tests/python.rs with the port
as the only argument; any failed assertion exits non-zero."""

import datetime as dt
import decimal
import sys

import psycopg
from psycopg.types.json import Json, Jsonb

PORT = int(sys.argv[1])
DSN = f"host=127.0.0.1 port={PORT} dbname=rustydb user=rustydb connect_timeout=10"

ROWS = [
    (
        1, 32767, 2147483647, 9223372036854775807, 1.5, 2.25,
        decimal.Decimal("12345.6789"), "tekst ü €", "var", b"\x00\x01\xffbytes", True,
        dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
        dt.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=dt.timezone.utc),
        {"a": [1, 2, {"b": None}]}, {"k": "v"},
    ),
    (2, None, None, None, None, None, None, None, None, None, None, None, None, None, None, None),
    (
        3, -32768, -2147483648, -9223372036854775808, -0.25, -1e300,
        decimal.Decimal("-0.0001"), "", "", b"", False,
        dt.date(1970, 1, 1), dt.datetime(1999, 12, 31, 23, 59, 59),
        dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), [], {},
    ),
]


def same(a, b):
    """Equality where a tz-aware datetime may come back in another zone."""
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime) and a.tzinfo and b.tzinfo:
        return a == b
    return a == b


def check_rows(got, label):
    assert len(got) == len(ROWS), (label, got)
    for want, row in zip(ROWS, got):
        for i, (w, g) in enumerate(zip(want, row)):
            assert same(w, g), (label, want[0], i, w, g)


def types_round_trip(conn):
    conn.execute("DROP TABLE IF EXISTS types")
    conn.execute(
        """CREATE TABLE types (id INT PRIMARY KEY, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL,
           f8 DOUBLE PRECISION, num NUMERIC(20,4), t TEXT, v VARCHAR(10), b BYTEA, flag BOOLEAN,
           d DATE, ts TIMESTAMP, tstz TIMESTAMPTZ, j JSON, jb JSONB)"""
    )
    with conn.cursor() as cur:
        for r in ROWS:
            params = list(r)
            params[14] = None if r[14] is None else Json(r[14])
            params[15] = None if r[15] is None else Jsonb(r[15])
            cur.execute("INSERT INTO types VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", params)
    conn.commit()
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT * FROM types ORDER BY id")
            check_rows(cur.fetchall(), f"binary={binary}")
            # json and jsonb columns are described with their own types.
            assert [d.type_code for d in cur.description][14:] == [114, 3802], cur.description
            # Parameters come back as they went in.
            cur.execute("SELECT t, b, num FROM types WHERE id = %s AND t = %s", (1, ROWS[0][7]))
            assert cur.fetchone() == (ROWS[0][7], ROWS[0][9], ROWS[0][6])


def transactions(conn):
    conn.execute("DROP TABLE IF EXISTS acc")
    conn.execute("CREATE TABLE acc (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
    conn.commit()
    with conn.transaction():
        conn.execute("INSERT INTO acc VALUES (1, 100), (2, 0)")
    try:
        with conn.transaction():
            conn.execute("UPDATE acc SET balance = balance - 50 WHERE id = 1")
            conn.execute("INSERT INTO acc VALUES (1, 0)")  # duplicate key: rolls back
    except psycopg.errors.UniqueViolation:
        pass
    else:
        raise AssertionError("expected 23505")
    assert conn.execute("SELECT balance FROM acc WHERE id = 1").fetchone() == (100,)
    # A failed statement fails the block until rollback (25P02).
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        try:
            cur.execute("SELECT 1")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        else:
            raise AssertionError("expected 25P02")
    conn.rollback()
    conn.commit()


def executemany_and_prepared(conn):
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO acc VALUES (%s, %s)", [(i, i * 10) for i in range(10, 110)])
        conn.commit()
        cur.execute("SELECT count(*), sum(balance) FROM acc WHERE id >= 10")
        assert cur.fetchone() == (100, sum(i * 10 for i in range(10, 110)))
        # prepare=True forces a named server-side statement from the first run.
        for i in range(10, 20):
            cur.execute("SELECT balance FROM acc WHERE id = %s", (i,), prepare=True)
            assert cur.fetchone() == (i * 10,)
    conn.commit()


def fetchmany_large(conn):
    n = 1_000_000
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM generate_series(1, %s) AS g(value)" % n)
        total, count = 0, 0
        while True:
            batch = cur.fetchmany(50_000)
            if not batch:
                break
            count += len(batch)
            total += sum(r[0] for r in batch)
        assert count == n and total == n * (n + 1) // 2, (count, total)
    conn.commit()


def server_side_cursor(conn):
    # A named cursor is DECLARE + Describe of its portal + FETCH FORWARD n.
    with conn.cursor(name="big") as cur:
        cur.execute("SELECT value, value * 2 AS twice FROM generate_series(1, 100000) AS g(value)")
        assert [d.name for d in cur.description] == ["value", "twice"], cur.description
        count, total = 0, 0
        while rows := cur.fetchmany(7000):
            count += len(rows)
            total += sum(r[1] for r in rows)
        assert (count, total) == (100000, 100000 * 100001), (count, total)
    conn.commit()


def copy_in_and_out(conn):
    conn.execute("DROP TABLE IF EXISTS c")
    conn.execute("CREATE TABLE c (id INT PRIMARY KEY, name TEXT, at DATE)")
    conn.commit()
    with conn.cursor() as cur:
        with cur.copy("COPY c (id, name, at) FROM STDIN") as copy:
            for i in range(5000):
                copy.write_row((i, None if i % 7 == 0 else f"name\t{i}", dt.date(2024, 1, 1 + i % 28)))
        conn.commit()
        cur.execute("SELECT count(*), count(name) FROM c")
        assert cur.fetchone() == (5000, 5000 - len(range(0, 5000, 7)))
        rows = []
        with cur.copy("COPY (SELECT id, name, at FROM c WHERE id < 8 ORDER BY id) TO STDOUT") as copy:
            for row in copy.rows():
                rows.append(row)
        assert rows[0] == ("0", None, "2024-01-01"), rows[0]
        assert rows[1] == ("1", "name\t1", "2024-01-02"), rows[1]
        assert len(rows) == 8
        # A bad row fails the COPY and keeps nothing of it.
        try:
            with cur.copy("COPY c (id, name) FROM STDIN") as copy:
                copy.write(b"9001\tok\n9002\tfine\nnotanumber\tbad\n")
        except psycopg.errors.InvalidTextRepresentation as e:
            assert "line 3" in str(e.diag.context), e.diag.context
        else:
            raise AssertionError("expected 22P02")
        conn.rollback()
        cur.execute("SELECT count(*) FROM c WHERE id > 9000")
        assert cur.fetchone() == (0,)
    conn.commit()


def introspection(conn):
    info = conn.info
    assert info.server_version >= 160000, info.server_version
    row = conn.execute("SELECT current_database(), current_user").fetchone()
    assert row == ("rustydb", "rustydb"), row
    # psycopg's type registry queries pg_type.
    from psycopg.types import TypeInfo

    t = TypeInfo.fetch(conn, "int4")
    assert t is not None and t.oid == 23, t
    conn.commit()


def main():
    with psycopg.connect(DSN) as conn:
        types_round_trip(conn)
        transactions(conn)
        executemany_and_prepared(conn)
        fetchmany_large(conn)
        server_side_cursor(conn)
        copy_in_and_out(conn)
        introspection(conn)
    print("psycopg: ok")


if __name__ == "__main__":
    main()

"""asyncpg against a running RustyDB server (SCRAM via PGPASSWORD): binary
types both ways, prepared statements, executemany, transactions, binary COPY
in (copy_records_to_table) and text COPY out. Port as the only argument."""

import asyncio
import datetime as dt
import decimal
import os
import sys

import asyncpg

PORT = int(sys.argv[1])


async def main():
    conn = await asyncpg.connect(
        host="127.0.0.1", port=PORT, user="rustydb", password=os.environ["PGPASSWORD"], database="rustydb"
    )
    assert conn.get_server_version().major == 16
    await conn.execute(
        """CREATE TABLE a (id INT PRIMARY KEY, i2 SMALLINT, i8 BIGINT, t TEXT, n NUMERIC(12,4), d DATE,
           ts TIMESTAMP, tz TIMESTAMPTZ, b BYTEA, f4 REAL, f8 DOUBLE PRECISION, flag BOOL)"""
    )
    row = (
        1, -32768, 9223372036854775807, "tekst €", decimal.Decimal("-12345.6789"), dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 1, 2, 3, 456789), dt.datetime(2024, 2, 29, 1, 2, 3, tzinfo=dt.timezone.utc),
        b"\x00\xff", 1.5, -2.25e100, False,
    )
    await conn.execute("INSERT INTO a VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)", *row)
    got = await conn.fetchrow("SELECT * FROM a WHERE id = $1", 1)
    assert tuple(got) == row, (tuple(got), row)

    # json and jsonb travel in binary (jsonb with its version byte) and come
    # back as the documents' text, asyncpg's default for both.
    await conn.execute("CREATE TABLE docs (id INT PRIMARY KEY, j JSON, jb JSONB)")
    await conn.execute("INSERT INTO docs VALUES (1, $1, $2)", '{"x": [1, 2]}', '{"y": true}')
    assert tuple(await conn.fetchrow("SELECT j, jb FROM docs")) == ('{"x": [1, 2]}', '{"y": true}')

    stmt = await conn.prepare("SELECT t FROM a WHERE id = $1")
    assert await stmt.fetchval(1) == "tekst €"
    assert await stmt.fetchval(2) is None

    await conn.executemany("INSERT INTO a (id, t) VALUES ($1, $2)", [(i, f"r{i}") for i in range(2, 102)])
    assert await conn.fetchval("SELECT count(*) FROM a") == 101

    try:
        async with conn.transaction():
            await conn.execute("UPDATE a SET t = 'changed' WHERE id = 2")
            await conn.execute("INSERT INTO a (id) VALUES (1)")
    except asyncpg.UniqueViolationError:
        pass
    else:
        raise AssertionError("expected 23505")
    assert await conn.fetchval("SELECT t FROM a WHERE id = 2") == "r2"

    # Binary COPY in, text COPY out.
    records = [(1000 + i, i, None, f"copied {i}", decimal.Decimal(i) / 4, None, None, None, bytes([i % 256]), None, None, i % 2 == 0)
               for i in range(500)]
    result = await conn.copy_records_to_table("a", records=records)
    assert result == "COPY 500", result
    assert await conn.fetchval("SELECT sum(i2) FROM a WHERE id >= 1000") == sum(range(500))
    assert await conn.fetchval("SELECT n FROM a WHERE id = 1003") == decimal.Decimal("0.75")
    lines = []

    async def sink(data):
        lines.append(data)

    await conn.copy_from_query("SELECT id, t FROM a WHERE id IN (1000, 1001) ORDER BY id", output=sink)
    assert b"".join(lines) == b"1000\tcopied 0\n1001\tcopied 1\n", lines
    await conn.close()
    print("asyncpg: ok")


asyncio.run(main())

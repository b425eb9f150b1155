"""SQLAlchemy 2 (psycopg 3 dialect, SCRAM via PGPASSWORD): Core and ORM
create_all, insert (insertmanyvalues with RETURNING), query, update, and
reflection (table names, columns, primary key, unique constraints, indexes,
a whole-metadata reflect). Port as argument."""

import decimal
import os
import sys

from sqlalchemy import Numeric, String, create_engine, inspect, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

PORT = int(sys.argv[1])
engine = create_engine(f"postgresql+psycopg://rustydb:{os.environ['PGPASSWORD']}@127.0.0.1:{PORT}/rustydb")


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(50), unique=True)
    balance = mapped_column(Numeric(10, 2), default=0)


Base.metadata.create_all(engine)
with Session(engine) as s:
    s.add_all([Account(owner="ann"), Account(owner="bob"), Account(owner="cy")])
    s.commit()
    bob = s.scalars(select(Account).where(Account.owner == "bob")).one()
    bob.balance = decimal.Decimal("5.25")
    s.commit()
    got = [(a.id, a.owner, a.balance) for a in s.scalars(select(Account).order_by(Account.id))]
    assert got == [(1, "ann", decimal.Decimal("0.00")), (2, "bob", decimal.Decimal("5.25")), (3, "cy", decimal.Decimal("0.00"))], got

insp = inspect(engine)
assert insp.get_table_names() == ["accounts"], insp.get_table_names()
columns = {c["name"]: c for c in insp.get_columns("accounts")}
assert list(columns) == ["id", "owner", "balance"], list(columns)
assert str(columns["owner"]["type"]) == "VARCHAR(50)", columns["owner"]["type"]
assert str(columns["balance"]["type"]) == "NUMERIC(10, 2)", columns["balance"]["type"]
# A server-side default is reflected.
with engine.begin() as conn:
    conn.exec_driver_sql("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT DEFAULT 'empty')")
assert {c["name"]: c["default"] for c in inspect(engine).get_columns("notes")}["body"] == "'empty'"
# Mapped[str] is NOT NULL in SQLAlchemy 2; the untyped balance is nullable.
assert [columns[c]["nullable"] for c in ("id", "owner", "balance")] == [False, False, True], columns

pk = insp.get_pk_constraint("accounts")
assert pk["constrained_columns"] == ["id"] and pk["name"] == "accounts_pkey", pk
uniques = insp.get_unique_constraints("accounts")
assert [u["column_names"] for u in uniques] == [["owner"]], uniques
with engine.begin() as conn:
    conn.exec_driver_sql("CREATE INDEX accounts_owner_balance ON accounts (owner, balance)")
indexes = {i["name"]: i for i in inspect(engine).get_indexes("accounts")}
assert indexes["accounts_owner_balance"]["column_names"] == ["owner", "balance"], indexes
assert indexes["accounts_owner_balance"]["unique"] is False, indexes
# Default operator classes are not reported as options.
assert "postgresql_ops" not in indexes["accounts_owner_balance"].get("dialect_options", {}), indexes
assert any(i["unique"] and i["column_names"] == ["owner"] for i in indexes.values()), indexes

# Reflect the whole schema into fresh metadata and use it.
from sqlalchemy import MetaData, Table

meta = MetaData()
accounts = Table("accounts", meta, autoload_with=engine)
assert [c.name for c in accounts.primary_key.columns] == ["id"], accounts.primary_key
with engine.connect() as conn:
    assert conn.execute(select(accounts.c.owner).where(accounts.c.id == 2)).scalar_one() == "bob"
print("sqlalchemy: ok")

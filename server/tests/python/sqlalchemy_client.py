"""SQLAlchemy 2 (psycopg 3 dialect, SCRAM via PGPASSWORD): Core and ORM
create_all, insert (insertmanyvalues with RETURNING), query, update, and the
reflection that works so far (table names, columns). Port as argument.
Primary-key and index reflection are not there yet (they need
generate_subscripts and unnest over int2vector columns)."""

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
# Mapped[str] is NOT NULL in SQLAlchemy 2; the untyped balance is nullable.
assert [columns[c]["nullable"] for c in ("id", "owner", "balance")] == [False, False, True], columns
print("sqlalchemy: ok")

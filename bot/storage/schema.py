"""Tables of the one database (records, their history, the dispatch outbox, agents) and its migrations.

A new database is created at the latest version; an older one is brought forward step by step, each
step in its own transaction, and the version it reached is kept in `schema_version`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

meta = sa.MetaData()
_TZ = sa.DateTime(timezone=True)

records = sa.Table(
    "records", meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("ticket", sa.String(32), unique=True),
    sa.Column("conversation_id", sa.String(128), index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", _TZ, nullable=False),
    sa.Column("updated_at", _TZ, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("urgency", sa.Integer, nullable=False),
    sa.Column("deadline", sa.String(32), nullable=False),
    sa.Column("district", sa.String(16)),
    sa.Column("street", sa.String(32)),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    # version 2
    sa.Column("subcategory", sa.String(48)),
    sa.Column("phone", sa.String(24), index=True),
    sa.Column("media", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("merged_into", sa.String(36)),
    sa.Column("words", sa.Text),
    # version 3
    sa.Column("images", sa.Text),  # JSON list of image files the citizen sent with the record
)

history = sa.Table(
    "history", meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", _TZ, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("old", sa.Text),
    sa.Column("new", sa.Text),
)

outbox = sa.Table(
    "outbox", meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("format", sa.String(16)),  # the protocol it was delivered in
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(12), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", _TZ, nullable=False),
    sa.Column("lease_until", _TZ),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", _TZ, nullable=False),
    sa.Column("delivered_at", _TZ),
    sa.Column("remote_id", sa.String(64)),
    sa.Column("remote_status", sa.String(32)),
)

agents = sa.Table(
    "agents", meta,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", _TZ, nullable=False),
)

sessions = sa.Table(
    "sessions", meta,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires_at", _TZ, nullable=False),
)

access_log = sa.Table(
    "access_log", meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _TZ, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("what", sa.String(32), nullable=False),
)

schema_version = sa.Table("schema_version", meta, sa.Column("version", sa.Integer, nullable=False))


def _v2(db: Connection) -> None:
    """Version 1 had the records table only, and called a record the bot would dispatch `filed`: with no
    outbox then, those go to an agent, who confirms them."""
    for name in ("subcategory", "phone", "media", "note", "merged_into", "words"):
        column = records.c[name]
        db.execute(sa.text(f"ALTER TABLE records ADD COLUMN {name} {column.type.compile(db.dialect)}"))
    db.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_records_phone ON records (phone)"))
    # The text search column of the old rows.
    for seq, raw in db.execute(sa.text("SELECT seq, data FROM records")).all():
        data = json.loads(raw)
        db.execute(records.update().where(records.c.seq == seq).values(
            words=f"{data['text']}\n{data['summary']}", subcategory=data.get("subcategory"),
            phone=data["contact"].get("phone")))
    for table in (history, outbox, agents, sessions, access_log):
        table.create(db, checkfirst=True)
    db.execute(records.update().where(records.c.status == "filed").values(
        status="handoff", note="系统升级前登记的工单，请核对后派单"))


def _v3(db: Connection) -> None:
    """Images get a column of their own: `media` is the recording the desk plays."""
    db.execute(sa.text(f"ALTER TABLE records ADD COLUMN images {records.c.images.type.compile(db.dialect)}"))


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(2, _v2), (3, _v3)]
LATEST = MIGRATIONS[-1][0]


def migrate(engine: Engine) -> int:
    """Create or bring forward the schema; returns the version reached. Processes starting together on a new
    database: PostgreSQL serialises them with an advisory lock; on SQLite the loser of the race tries again
    and finds the schema made."""
    for attempt in range(3):
        try:
            return _migrate(engine)
        except sa.exc.OperationalError:
            if attempt == 2 or engine.dialect.name != "sqlite":
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _migrate(engine: Engine) -> int:
    with engine.begin() as db:
        _lock(db)
        inspector = sa.inspect(db)
        if inspector.has_table("schema_version"):
            version = int(db.execute(sa.select(schema_version.c.version)).scalar_one())
        elif inspector.has_table("records"):
            version = 1
            schema_version.create(db)
            db.execute(schema_version.insert().values(version=1))
        else:
            meta.create_all(db)
            db.execute(schema_version.insert().values(version=LATEST))
            return LATEST
    for number, step in MIGRATIONS:
        if number > version:
            with engine.begin() as db:
                _lock(db)
                version = int(db.execute(sa.select(schema_version.c.version)).scalar_one())
                if number > version:  # another process may have taken this step meanwhile
                    step(db)
                    db.execute(schema_version.update().values(version=number))
                    version = number
    return version


def _lock(db: Connection) -> None:
    if db.dialect.name == "postgresql":
        db.execute(sa.text("SELECT pg_advisory_xact_lock(12345)"))


def create_tables(engine: Engine, meta: sa.MetaData) -> None:
    """Create a channel's tables, and add the nullable columns a later version gave them to tables an earlier
    version made (the channels' tables only ever grow by such columns)."""
    with engine.begin() as db:
        _lock(db)
        meta.create_all(db)
        inspector = sa.inspect(db)
        for table in meta.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    if not column.nullable:
                        raise RuntimeError(f"{table.name}.{column.name}: a new column must be nullable")
                    kind = column.type.compile(db.dialect)
                    db.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))

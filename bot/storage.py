"""Records in one database: an SQLite file by default, PostgreSQL (or any SQLAlchemy URL) by
HOTLINE_DB_URL. A record is written and committed before anything is acknowledged."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import PROJECT_DIR
from bot.record import ComplaintRecord

DEFAULT_DB = PROJECT_DIR / "var" / "hotline.db"

_meta = sa.MetaData()
records = sa.Table(
    "records", _meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("ticket", sa.String(32), unique=True),
    sa.Column("conversation_id", sa.String(128), index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("urgency", sa.Integer, nullable=False),
    sa.Column("deadline", sa.String(32), nullable=False),
    sa.Column("district", sa.String(16)),
    sa.Column("street", sa.String(32)),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)
_BEIJING = timezone(timedelta(hours=8))
STATUSES = ("filed", "handoff", "redirect", "answered", "dispatched")


@dataclass
class StoredRecord:
    """A record as the database holds it."""

    ticket: str
    """the number the citizen is told, e.g. 12345-20261121-000042"""
    conversation_id: str | None
    """the Rasa sender id it came from, when it came from a conversation"""
    status: str
    """filed | handoff | redirect | answered | dispatched"""
    record: dict[str, Any]
    """the record as JSON (shared/record.schema.json)"""


def database_url() -> str:
    """HOTLINE_DB_URL, else the SQLite file var/hotline.db in the project."""
    return os.environ.get("HOTLINE_DB_URL") or f"sqlite:///{DEFAULT_DB}"


class Storage:
    """The record store. One instance per process; safe for concurrent writers (SQLite in WAL mode)."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sa.create_engine(url, connect_args={"timeout": 30}, future=True)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, future=True)
        _meta.create_all(self.engine)

    @classmethod
    def from_env(cls) -> Storage:
        return cls(database_url())

    def save(self, record: ComplaintRecord, status: str, conversation_id: str | None = None) -> StoredRecord:
        """Insert or update by record id; the ticket number is given once, on first save."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        now = datetime.now(timezone.utc)
        row = {
            "conversation_id": conversation_id, "status": status, "updated_at": now, "type": record.type,
            "category": record.category, "urgency": record.urgency, "deadline": record.deadline,
            "district": record.location.district, "street": record.location.street,
            "action": record.dispatch.action, "data": json.dumps(record.to_dict(), ensure_ascii=False),
        }
        with self.engine.begin() as db:
            seq = db.execute(sa.select(records.c.seq).where(records.c.id == record.id)).scalar()
            if seq is None:
                seq = db.execute(records.insert().values(id=record.id, created_at=now, **row)).inserted_primary_key[0]
                db.execute(records.update().where(records.c.seq == seq).values(ticket=_ticket(seq, now)))
            else:
                db.execute(records.update().where(records.c.seq == seq).values(**row))
        stored = self.get(record.id)
        assert stored is not None
        return stored

    def get(self, record_id: str) -> StoredRecord | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(records).where(records.c.id == record_id)).mappings().first()
        return _stored(row) if row else None

    def by_conversation(self, conversation_id: str) -> list[StoredRecord]:
        """Records of one conversation, oldest first."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(records).where(records.c.conversation_id == conversation_id)
                              .order_by(records.c.seq)).mappings().all()
        return [_stored(r) for r in rows]


def _ticket(seq: int, when: datetime) -> str:
    return f"12345-{when.astimezone(_BEIJING):%Y%m%d}-{seq:06d}"


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(ticket=row["ticket"], conversation_id=row["conversation_id"], status=row["status"],
                        record=json.loads(row["data"]))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=4)
def load_storage(url: str | None = None) -> Storage:
    """One Storage per URL per process."""
    return Storage(url or database_url())

"""One database for records, history, the dispatch outbox and agents: an SQLite file by default,
PostgreSQL (or any SQLAlchemy URL) by HOTLINE_DB_URL."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import PROJECT_DIR
from bot.storage.agents import Agents, Session
from bot.storage.outbox import Outbox, OutboxItem
from bot.storage.records import AWAITING_AGENT, FIELDS, STATUSES, Change, StatusConflict, Storage, StoredRecord
from bot.storage.schema import create_tables, migrate

DEFAULT_DB = PROJECT_DIR / "var" / "hotline.db"

__all__ = ["AWAITING_AGENT", "FIELDS", "STATUSES", "Agents", "Change", "Outbox", "OutboxItem", "Session",
           "StatusConflict", "Storage", "StoredRecord", "create_tables", "database_url", "load_engine", "load_storage",
           "open_engine"]


def database_url() -> str:
    """HOTLINE_DB_URL, else the SQLite file var/hotline.db in the project."""
    return os.environ.get("HOTLINE_DB_URL") or f"sqlite:///{DEFAULT_DB}"


def open_engine(url: str) -> Engine:
    """An engine on a migrated database. SQLite runs in WAL mode, safe for several writing processes. Errors
    never show the statement's parameters: they hold citizens' words and numbers."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # Pooled connections: SQLAlchemy 1.4 would open a new file connection per transaction. The pool hands
        # them across threads (asyncio.to_thread), one thread at a time.
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  poolclass=sa.pool.QueuePool, hide_parameters=True, future=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, future=True)
    migrate(engine)
    return engine


@lru_cache(maxsize=4)
def load_engine(url: str | None = None) -> Engine:
    """One engine per URL per process."""
    return open_engine(url or database_url())


def load_storage(url: str | None = None) -> Storage:
    """The record store on the process's engine for `url` (default: database_url())."""
    return Storage(load_engine(url))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns, so what was acknowledged survives a power cut too.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()

"""bot/storage/schema: a database made by the first version is brought forward with its records intact."""

import sqlite3

import sqlalchemy as sa

from bot.storage import Storage, open_engine
from bot.storage.schema import LATEST

# The records table as version 1 created it.
V1 = """CREATE TABLE records (seq INTEGER NOT NULL PRIMARY KEY, id VARCHAR(36) NOT NULL UNIQUE,
 ticket VARCHAR(32) UNIQUE, conversation_id VARCHAR(128), status VARCHAR(16) NOT NULL,
 created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, type VARCHAR(16) NOT NULL,
 category VARCHAR(32) NOT NULL, urgency INTEGER NOT NULL, deadline VARCHAR(32) NOT NULL,
 district VARCHAR(16), street VARCHAR(32), action VARCHAR(16) NOT NULL, data TEXT NOT NULL)"""


def test_version_1_database_is_migrated_and_keeps_its_records(tmp_path, record):
    path = tmp_path / "old.db"
    filed_id = "filed-in-version-1"
    import json
    with sqlite3.connect(path) as db:
        db.execute(V1)
        db.execute("INSERT INTO records (id, ticket, conversation_id, status, created_at, updated_at, type, category,"
                   " urgency, deadline, district, street, action, data) VALUES (?, '12345-20261101-000001', 'c1',"
                   " 'handoff', '2026-11-01 08:00:00', '2026-11-01 08:00:00', ?, ?, ?, ?, ?, ?, 'handoff', ?)",
                   (record.id, record.type, record.category, record.urgency, record.deadline,
                    record.location.district, record.location.street, json.dumps(record.to_dict())))
        filed = record.to_dict() | {"id": filed_id}
        db.execute("INSERT INTO records (id, ticket, status, created_at, updated_at, type, category, urgency,"
                   " deadline, action, data) VALUES (?, '12345-20261101-000002', 'filed', '2026-11-01 09:00:00',"
                   " '2026-11-01 09:00:00', 'help', 'utilities', 3, ?, 'dispatch', ?)",
                   (filed_id, record.deadline, json.dumps(filed)))
    engine = open_engine(f"sqlite:///{path}")
    with engine.connect() as db:
        assert db.execute(sa.text("select version from schema_version")).scalar_one() == LATEST
    store = Storage(engine)
    assert store.get(record.id).ticket == "12345-20261101-000001"
    # version 1's `filed` (the bot would dispatch it) had no outbox: an agent confirms it now
    assert store.get(filed_id).status == "handoff" and "升级前" in store.get(filed_id).note
    assert sorted(s.id for s in store.queue()) == sorted([record.id, filed_id])
    store.edit(record.id, {"phone": "13700001111"}, actor="a")
    assert store.search(phone="13700001111")[0].id == record.id
    # opening again is a no-op
    open_engine(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        assert db.execute("select count(*) from schema_version").fetchone() == (1,)


def test_new_database_starts_at_the_latest_version(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'new.db'}")
    tables = set(sa.inspect(engine).get_table_names())
    assert {"records", "history", "outbox", "agents", "sessions", "access_log", "schema_version"} <= tables

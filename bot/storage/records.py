"""The record store: records, every change to them, and their place in the dispatch outbox, in one
database. A record is written and committed before anything is acknowledged."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.record import ComplaintRecord
from bot.storage.schema import history, outbox, records
from bot.taxonomy import load_taxonomy

BEIJING = timezone(timedelta(hours=8))
STATUSES = ("handoff", "queued", "dispatched", "dead", "answered", "redirect", "rejected", "duplicate", "closed")
"""handoff and dead wait for an agent; queued waits in the outbox; the rest are settled."""
AWAITING_AGENT = ("handoff", "dead")
SETTLED = ("queued", "dispatched", "rejected", "duplicate", "closed")
"""a record in one of these keeps its status when the conversation saves it again"""


class StatusConflict(Exception):
    """The record left the state the caller expected (another agent, or the relay, got there first)."""

# Desk form field -> path in the record JSON.
FIELDS: dict[str, tuple[str, ...]] = {
    "type": ("type",), "subcategory": ("subcategory",), "urgency": ("urgency",),
    "district": ("location", "district"), "street": ("location", "street"), "address": ("location", "address"),
    "name": ("contact", "name"), "phone": ("contact", "phone"), "summary": ("summary",),
}
# Record fields whose confidence an agent's edit settles.
_CONFIDENCE = {"type": "type", "subcategory": "category", "urgency": "urgency", "district": "location",
               "street": "location"}


@dataclass
class StoredRecord:
    """A record as the database holds it."""

    ticket: str
    """the number the citizen is told, e.g. 12345-20261121-000042"""
    conversation_id: str | None
    """the Rasa sender id it came from, when it came from a conversation"""
    status: str
    """one of STATUSES"""
    record: dict[str, Any]
    """the record as JSON (shared/record.schema.json)"""
    created_at: datetime
    """when it was first stored"""
    note: str | None = None
    """why it waits for an agent, when dispatch gave up on it"""
    media: str | None = None
    """the recording it was transcribed from"""
    merged_into: str | None = None
    """the record id it duplicates"""
    images: list[str] = dataclasses.field(default_factory=list)
    """image files the citizen sent with it"""

    @property
    def id(self) -> str:
        return str(self.record["id"])


@dataclass
class Change:
    """One line of a record's history."""

    at: datetime
    actor: str
    """agent username, or `system` / `dispatch`"""
    field: str
    old: Any
    new: Any


class Storage:
    """Records, history and outbox on one engine (see bot.storage.open_engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, record: ComplaintRecord | dict[str, Any], status: str, conversation_id: str | None = None,
             media: str | None = None, actor: str = "system") -> StoredRecord:
        """Insert or update by record id; the ticket number is given once, on first save. Status `queued`
        puts the record in the dispatch outbox in the same transaction."""
        data = record.to_dict() if isinstance(record, ComplaintRecord) else record
        _check_status(status)
        with self.engine.begin() as db:
            return self._save(db, data, status, conversation_id, media, actor)

    def _save(self, db: Connection, data: dict[str, Any], status: str, conversation_id: str | None,
              media: str | None, actor: str) -> StoredRecord:
        now = _now()
        row = db.execute(sa.select(records.c.seq, records.c.status).where(records.c.id == data["id"])).first()
        columns = _columns(data) | {"status": status, "updated_at": now}
        if conversation_id is not None:
            columns["conversation_id"] = conversation_id
        if media is not None:
            columns["media"] = media
        if row is None:
            inserted = db.execute(records.insert().values(id=data["id"], created_at=now, **columns))
            seq = inserted.inserted_primary_key[0]
            db.execute(records.update().where(records.c.seq == seq).values(ticket=_ticket(seq, now)))
            _log(db, data["id"], actor, "status", None, status, now)
        else:
            if row.status in SETTLED:  # a retried action must not re-send or reopen it
                status = columns["status"] = row.status
            db.execute(records.update().where(records.c.seq == row.seq).values(**columns))
            if row.status != status:
                _log(db, data["id"], actor, "status", row.status, status, now)
        if status == "queued":
            _enqueue(db, data, now)
        return self._get(db, data["id"])

    def attach_image(self, record_id: str, path: str, actor: str) -> StoredRecord:
        """Add an image file to the record (once, however often the same file is attached)."""
        with self.engine.begin() as db:
            row = db.execute(sa.select(records.c.images).where(records.c.id == record_id)).first()
            if row is None:
                raise KeyError(record_id)
            images = json.loads(row.images) if row.images else []
            if path not in images:
                now = _now()
                db.execute(records.update().where(records.c.id == record_id)
                           .values(images=json.dumps([*images, path], ensure_ascii=False), updated_at=now))
                _log(db, record_id, actor, "images", None, path, now)
            return self._get(db, record_id)

    def get(self, record_id: str) -> StoredRecord | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(records).where(records.c.id == record_id)).mappings().first()
        return _stored(row) if row else None

    @staticmethod
    def _get(db: Connection, record_id: str) -> StoredRecord:
        return _stored(db.execute(sa.select(records).where(records.c.id == record_id)).mappings().one())

    def by_ticket(self, ticket: str) -> StoredRecord | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(records).where(records.c.ticket == ticket)).mappings().first()
        return _stored(row) if row else None

    def by_conversation(self, conversation_id: str) -> list[StoredRecord]:
        """Records of one conversation, oldest first."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(records).where(records.c.conversation_id == conversation_id)
                              .order_by(records.c.seq)).mappings().all()
        return [_stored(r) for r in rows]

    def edit(self, record_id: str, changes: dict[str, Any], actor: str) -> StoredRecord:
        """Apply an agent's field changes (keys of FIELDS) to a record waiting for an agent; each changed field
        gets a history line. Derived fields follow: kind from type, category from subcategory, deadline from
        urgency. StatusConflict when the record was settled or changed meanwhile."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ValueError(f"fields cannot be edited: {sorted(unknown)}")
        tax = load_taxonomy()
        now = _now()
        with self.engine.begin() as db:
            row = db.execute(sa.select(records.c.data).where(records.c.id == record_id)).first()
            if row is None:
                raise KeyError(record_id)
            data = json.loads(row.data)
            for name, value in changes.items():
                *parents, leaf = FIELDS[name]
                target = data
                for key in parents:
                    target = target[key]
                old = target.get(leaf)
                if old == value:
                    continue
                target[leaf] = value
                _log(db, record_id, actor, name, old, value, now)
                if name in _CONFIDENCE:
                    data["confidence"][_CONFIDENCE[name]] = 1.0
                if name == "type":
                    data["kind"] = tax.kinds[value]
                elif name == "subcategory":
                    data["category"] = value.split(".", 1)[0]
                elif name == "urgency":
                    received = datetime.fromisoformat(data["received_at"])
                    data["deadline"] = (received + timedelta(hours=tax.urgency_hours[value])).isoformat()
            # Compare-and-set: nobody settled or edited it since it was read.
            done = db.execute(records.update().where(records.c.id == record_id,
                                                     records.c.status.in_(AWAITING_AGENT),
                                                     records.c.data == row.data)
                              .values(updated_at=now, **_columns(data)))
            if not done.rowcount:
                raise StatusConflict(record_id)
            return self._get(db, record_id)

    def confirm(self, record_id: str, units: list[dict[str, str]], actor: str) -> StoredRecord:
        """An agent confirmed the record: it is queued for dispatch to `units`. StatusConflict when it no longer
        waits for an agent (two agents confirming at once: one wins)."""
        now = _now()
        with self.engine.begin() as db:
            row = db.execute(sa.select(records.c.data, records.c.status).where(records.c.id == record_id)).first()
            if row is None:
                raise KeyError(record_id)
            data = json.loads(row.data)
            data["dispatch"] = {"action": "dispatch", "units": units, "reason": f"坐席{actor}确认派单"}
            data["needs_review"] = False
            done = db.execute(records.update().where(records.c.id == record_id,
                                                     records.c.status.in_(AWAITING_AGENT))
                              .values(status="queued", updated_at=now, **_columns(data)))
            if not done.rowcount:
                raise StatusConflict(record_id)
            _log(db, record_id, actor, "status", row.status, "queued", now)
            _enqueue(db, data, now)
            return self._get(db, record_id)

    def settle(self, record_id: str, status: str, actor: str, note: str | None = None,
               merged_into: str | None = None, only_from: tuple[str, ...] | None = None) -> StoredRecord:
        """Change the status alone (reject, merge as duplicate, dead letter, closed). With `only_from`, only
        while the record is in one of those statuses: StatusConflict when another agent got there first."""
        _check_status(status)
        with self.engine.begin() as db:
            settled = self._settle(db, record_id, status, actor, note, merged_into, only_from)
        if settled is None:
            raise StatusConflict(record_id)
        return settled

    def _settle(self, db: Connection, record_id: str, status: str, actor: str, note: str | None = None,
                merged_into: str | None = None, only_from: tuple[str, ...] | None = None) -> StoredRecord | None:
        """The status change; with `only_from`, only while the record is in one of those (else None)."""
        now = _now()
        # Row lock (PostgreSQL): the old status in the history line is the one this update replaces.
        old = db.execute(sa.select(records.c.status).where(records.c.id == record_id).with_for_update()).scalar()
        if old is None:
            raise KeyError(record_id)
        if only_from and old not in only_from:
            return None
        # The status condition again: SQLite read the old status outside the write transaction.
        where = [records.c.id == record_id] + ([records.c.status.in_(only_from)] if only_from else [])
        done = db.execute(records.update().where(*where).values(
            status=status, note=note, merged_into=merged_into, updated_at=now))
        if not done.rowcount:
            return None
        if old != status:
            _log(db, record_id, actor, "status", old, status, now)
        if note:
            _log(db, record_id, actor, "note", None, note, now)
        return self._get(db, record_id)

    def hand_off(self, record: ComplaintRecord, actor: str, note: str, conversation_id: str | None = None,
                 media: str | None = None) -> StoredRecord:
        """Put a record before an agent with the reason: stored as `handoff` when new, the note added when it
        already waits for an agent. One queued, answered or settled is left as it is: someone has it."""
        with self.engine.begin() as db:  # one transaction: a crash leaves no record without its reason
            status = db.execute(sa.select(records.c.status).where(records.c.id == record.id)).scalar()
            if status is None:
                self._save(db, record.to_dict(), "handoff", conversation_id, media, actor)
            elif status not in AWAITING_AGENT:
                return self._get(db, record.id)
            # Compare-and-set: an agent who confirmed it since the read keeps it.
            settled = self._settle(db, record.id, "handoff", actor, note=note, only_from=AWAITING_AGENT)
            return settled or self._get(db, record.id)

    def history(self, record_id: str) -> list[Change]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(history).where(history.c.record_id == record_id)
                              .order_by(history.c.seq)).mappings().all()
        return [Change(_aware(r["at"]), r["actor"], r["field"], _loads(r["old"]), _loads(r["new"])) for r in rows]

    def queue(self, limit: int = 200) -> list[StoredRecord]:
        """Records waiting for an agent: most urgent first, then newest first."""
        query = (sa.select(records).where(records.c.status.in_(AWAITING_AGENT))
                 .order_by(records.c.urgency, records.c.created_at.desc(), records.c.seq.desc()).limit(limit))
        with self.engine.connect() as db:
            return [_stored(r) for r in db.execute(query).mappings().all()]

    def search(self, text: str | None = None, phone: str | None = None, district: str | None = None,
               category: str | None = None, status: str | None = None, since: datetime | None = None,
               until: datetime | None = None, limit: int = 200) -> list[StoredRecord]:
        """Newest first. `text` matches the citizen's words and the summary; `category` a top-level or
        `top.sub` code; `since`/`until` the time the record was stored."""
        query = sa.select(records)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(records.c.words.like(pattern, escape="\\"))
        if phone:
            query = query.where(records.c.phone == "".join(c for c in phone if c.isdigit()))
        if district:
            query = query.where(records.c.district == district)
        if category:
            column = records.c.subcategory if "." in category else records.c.category
            query = query.where(column == category)
        if status:
            query = query.where(records.c.status == status)
        if since:
            query = query.where(records.c.created_at >= since.astimezone(timezone.utc))
        if until:
            query = query.where(records.c.created_at < until.astimezone(timezone.utc))
        query = query.order_by(records.c.created_at.desc(), records.c.seq.desc()).limit(limit)
        with self.engine.connect() as db:
            return [_stored(r) for r in db.execute(query).mappings().all()]

    def corrections(self) -> Iterator[dict[str, Any]]:
        """Records an agent corrected: the citizen's text, what the system said and what the agent set."""
        with self.engine.connect() as db:
            edited = db.execute(sa.select(history.c.record_id, history.c.field, history.c.old, history.c.new,
                                          history.c.actor)
                                .where(history.c.field.in_(list(FIELDS))).order_by(history.c.seq)).all()
        by_record: dict[str, dict[str, Any]] = {}
        for record_id, field, old, new, actor in edited:
            entry = by_record.setdefault(record_id, {"before": {}, "after": {}, "agents": []})
            entry["before"].setdefault(field, _loads(old))
            entry["after"][field] = _loads(new)
            if actor not in entry["agents"]:
                entry["agents"].append(actor)
        for record_id, entry in by_record.items():
            stored = self.get(record_id)
            if stored is None:
                continue
            data = stored.record
            labels = {"type": data["type"], "category": data["category"], "subcategory": data["subcategory"],
                      "urgency": data["urgency"], "district": data["location"]["district"],
                      "street": data["location"]["street"]}
            yield {"id": record_id, "ticket": stored.ticket, "text": data["text"], "labels": labels,
                   "corrected": entry["after"], "system": entry["before"], "agents": entry["agents"],
                   "status": stored.status}


def _enqueue(db: Connection, data: dict[str, Any], now: datetime) -> None:
    """One live outbox row per record, and none once delivered. The key is stable for one dispatch of one
    record whatever the retries; a record re-confirmed after a dead letter keeps the last key when the payload
    is the same (the receiver may have stored an attempt it never answered) and gets a new one otherwise."""
    rows = db.execute(sa.select(outbox.c.state, outbox.c.key, outbox.c.payload).where(outbox.c.record_id == data["id"])
                      .order_by(outbox.c.seq)).all()
    if any(r.state in ("pending", "sending", "delivered") for r in rows):
        return
    payload = _dumps(data)
    if rows and json.loads(rows[-1].payload) == data:
        db.execute(outbox.update().where(outbox.c.key == rows[-1].key).values(
            state="pending", attempts=0, next_at=now, lease_until=None))
        return
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hotline:{data['id']}:{len(rows)}"))
    db.execute(outbox.insert().values(record_id=data["id"], key=key, payload=payload, state="pending",
                                      attempts=0, next_at=now, created_at=now))


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")


def _columns(data: dict[str, Any]) -> dict[str, Any]:
    phone = data["contact"].get("phone")
    return {"type": data["type"], "category": data["category"], "subcategory": data.get("subcategory"),
            "urgency": data["urgency"], "deadline": data["deadline"], "district": data["location"]["district"],
            "street": data["location"]["street"], "action": data["dispatch"]["action"], "phone": phone,
            "words": f"{data['text']}\n{data['summary']}", "data": _dumps(data)}


def _log(db: Connection, record_id: str, actor: str, field: str, old: Any, new: Any, at: datetime) -> None:
    db.execute(history.insert().values(record_id=record_id, at=at, actor=actor, field=field,
                                       old=None if old is None else _dumps(old),
                                       new=None if new is None else _dumps(new)))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _ticket(seq: int, when: datetime) -> str:
    return f"12345-{when.astimezone(BEIJING):%Y%m%d}-{seq:06d}"


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(ticket=row["ticket"], conversation_id=row["conversation_id"], status=row["status"],
                        record=json.loads(row["data"]), created_at=_aware(row["created_at"]), note=row["note"],
                        media=row["media"], merged_into=row["merged_into"],
                        images=json.loads(row["images"]) if row["images"] else [])

"""The dispatch outbox: rows the relay claims with a lease, so a relay killed mid-POST leaves its row to be
claimed again once the lease runs out. The receiver dedupes on the row's key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.storage.records import Storage, _aware, _log
from bot.storage.schema import outbox, records

STATES = ("pending", "sending", "delivered", "dead")


@dataclass
class OutboxItem:
    """One dispatch of one record."""

    seq: int
    record_id: str
    key: str
    """the Idempotency-Key: the same for every attempt of this dispatch"""
    payload: dict[str, Any]
    """the record as it was confirmed"""
    attempts: int
    """attempts started, this one included"""
    created_at: datetime
    remote_id: str | None = None
    ticket: str | None = None
    """the record's ticket number, which the receiving unit quotes back to the citizen"""


class Outbox:
    """Claim, deliver, retry and give up on outbox rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = Storage(engine)

    def claim(self, limit: int, lease: float, now: datetime | None = None) -> list[OutboxItem]:
        """Up to `limit` due rows, each leased for `lease` seconds to this caller alone."""
        now = now or datetime.now(timezone.utc)
        due = sa.or_(sa.and_(outbox.c.state == "pending", outbox.c.next_at <= now),
                     sa.and_(outbox.c.state == "sending", outbox.c.lease_until <= now))
        claimed = []
        with self.engine.begin() as db:
            rows = db.execute(sa.select(outbox, records.c.ticket)
                              .select_from(outbox.outerjoin(records, records.c.id == outbox.c.record_id))
                              .where(due).order_by(outbox.c.next_at, outbox.c.seq).limit(limit)).mappings().all()
            for row in rows:
                # Another relay may have taken it since the select: the guarded update decides.
                taken = db.execute(outbox.update().where(outbox.c.seq == row["seq"], outbox.c.state == row["state"],
                                                         outbox.c.attempts == row["attempts"])
                                   .values(state="sending", attempts=row["attempts"] + 1,
                                           lease_until=now + timedelta(seconds=lease))).rowcount
                if taken:
                    claimed.append(OutboxItem(row["seq"], row["record_id"], row["key"], json.loads(row["payload"]),
                                              row["attempts"] + 1, _aware(row["created_at"]), row["remote_id"],
                                              row["ticket"]))
        return claimed

    def delivered(self, item: OutboxItem, fmt: str, remote_id: str | None, remote_status: str | None = None) -> bool:
        """The receiver has it; `fmt` is the protocol it was sent in (json | open311). False when this caller's
        lease was lost to another relay, which then owns the row."""
        now = datetime.now(timezone.utc)
        with self.engine.begin() as db:
            if not _own(db, item, state="delivered", format=fmt, delivered_at=now, lease_until=None,
                        remote_id=remote_id, remote_status=remote_status, last_error=None):
                return False
            old = db.execute(sa.select(records.c.status).where(records.c.id == item.record_id)).scalar()
            db.execute(records.update().where(records.c.id == item.record_id)
                       .values(status="dispatched", updated_at=now))
            _log(db, item.record_id, "dispatch", "status", old, "dispatched", now)
            if remote_id:
                _log(db, item.record_id, "dispatch", "remote_id", None, remote_id, now)
        return True

    def retry(self, item: OutboxItem, error: str, delay: float) -> bool:
        """Back to pending, due after `delay` seconds; False when the lease was lost."""
        now = datetime.now(timezone.utc)
        with self.engine.begin() as db:
            return _own(db, item, state="pending", lease_until=None, last_error=error[:500],
                        next_at=now + timedelta(seconds=delay))

    def dead(self, item: OutboxItem, error: str) -> bool:
        """Given up: the record returns to the desk with the reason; False when the lease was lost."""
        with self.engine.begin() as db:
            if not _own(db, item, state="dead", lease_until=None, last_error=error[:500]):
                return False
        self.store.settle(item.record_id, "dead", "dispatch", note=f"派单失败（{item.attempts}次尝试）：{error[:200]}")
        return True

    def remote_status(self, seq: int, status: str) -> None:
        """A status read back from the receiver; `closed` closes the record."""
        with self.engine.begin() as db:
            db.execute(outbox.update().where(outbox.c.seq == seq).values(remote_status=status))
            record_id = db.execute(sa.select(outbox.c.record_id).where(outbox.c.seq == seq)).scalar_one()
        if status == "closed":
            self.store.settle(record_id, "closed", "dispatch")

    def delivered_open(self, limit: int = 100, after: int = 0) -> list[tuple[int, str, str]]:
        """(seq, format, remote id) of delivered rows whose remote status is not closed yet, from seq `after` on
        (exclusive), in seq order: a caller pages through all of them."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(outbox.c.seq, outbox.c.format, outbox.c.remote_id)
                              .where(outbox.c.state == "delivered", outbox.c.remote_id.is_not(None),
                                     outbox.c.seq > after,
                                     sa.or_(outbox.c.remote_status.is_(None), outbox.c.remote_status != "closed"))
                              .order_by(outbox.c.seq).limit(limit)).all()
        return [(r.seq, r.format, r.remote_id) for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state)).all()
        return {state: 0 for state in STATES} | {state: n for state, n in rows}

    def rows(self, record_id: str) -> list[dict[str, Any]]:
        """Every dispatch of one record, for the desk."""
        with self.engine.connect() as db:
            found = db.execute(sa.select(outbox).where(outbox.c.record_id == record_id)
                               .order_by(outbox.c.seq)).mappings().all()
        return [{k: v for k, v in row.items() if k != "payload"} for row in found]


def _own(db: Connection, item: OutboxItem, **values: Any) -> bool:
    """Update the row only while this attempt still holds it: a relay whose lease ran out and whose row another
    relay claimed again must not overwrite that relay's outcome."""
    done = db.execute(outbox.update().where(outbox.c.seq == item.seq, outbox.c.state == "sending",
                                            outbox.c.attempts == item.attempts).values(**values))
    return bool(done.rowcount)

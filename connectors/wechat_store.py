"""The WeChat channel's tables in the project database: an inbox of pushed messages (one row per message however
often WeChat retries it) and the nonces of accepted requests, kept until their timestamp leaves the window.

A row goes received → turned (the bot's answers saved) → done (all answers sent), or → failed (WeChat refused
the reply: the conversation waits for an agent). A worker holds a row by a lease with an owner token and keeps
extending it; every write checks the token, so a worker that lost its lease (its heartbeat failed, another
worker took the row) changes nothing. A row whose lease ran out (its worker died) is claimed again, so a crash
loses nothing."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.storage import create_tables
from connectors.wechat_crypto import ReplayedNonce, WeChatMessage

meta = sa.MetaData()
OPEN = ("received", "turned")

inbox = sa.Table(
    "wechat_inbox", meta,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("from_user", sa.String(128), nullable=False, index=True),
    sa.Column("msg_type", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("state", sa.String(12), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("replies", sa.Text),
    sa.Column("sent", sa.Integer, nullable=False, default=0),
    sa.Column("media", sa.Text),
    sa.Column("error", sa.Text),
    # Epoch seconds: portable across SQLite and PostgreSQL without time-zone surprises.
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("owner", sa.String(32)),
)

nonces = sa.Table(
    "wechat_nonces", meta,
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False, index=True),
    # The message the nonce came with: WeChat's retry of that message may carry the same nonce.
    sa.Column("key", sa.String(200)),
    # The request's timestamp plus the window: after that the timestamp check refuses the request anyway.
    sa.Column("expires_at", sa.Float, index=True),
)


class LeaseLost(RuntimeError):
    """Another worker holds the row now: this one must stop working on it."""


@dataclass
class InboxRow:
    """One pushed message as the inbox holds it."""

    key: str
    """WeChatMessage.dedup_key"""
    message: WeChatMessage
    state: str
    """received, turned, done or failed"""
    attempts: int
    """claims so far, this one included"""
    replies: list[str] | None
    """the bot's answers, once the turn ran"""
    sent: int
    """how many of the replies WeChat has accepted"""
    media: str | None
    """the downloaded voice or image file"""
    error: str | None
    """the last error, e.g. `45015 reply window passed`"""
    owner: str | None = None
    """the claim's token; every write of this worker names it"""


class Inbox:
    """Accept, claim, advance and finish inbox rows (synchronous: call through asyncio.to_thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine, meta)

    def accept(self, message: WeChatMessage, nonce: str, expires_at: float, now: float | None = None) -> bool:
        """Store a message and its request's nonce in one transaction: True when the message is new, False when
        it is already stored (WeChat's retry, with a new nonce or the same one). ReplayedNonce when the nonce
        came with another message and has not expired."""
        now = time.time() if now is None else now
        key = message.dedup_key
        for attempt in range(3):
            try:
                with self.engine.begin() as db:
                    return self._accept(db, message, nonce, expires_at, now)
            except IntegrityError:  # a parallel duplicate committed first: the next round finds its rows
                if attempt == 2:
                    raise
        raise AssertionError(f"unreachable: {key}")

    def _accept(self, db: Any, message: WeChatMessage, nonce: str, expires_at: float, now: float) -> bool:
        key = message.dedup_key
        # Rows made before expires_at existed: kept as long as the old rule (seen_at + 2 × 300 s) kept them.
        expiry = sa.func.coalesce(nonces.c.expires_at, nonces.c.seen_at + 600.0)
        if int(now) % 16 == 0:  # now and then, not on every request
            db.execute(nonces.delete().where(expiry < now))
        seen = db.execute(sa.select(nonces.c.key, expiry.label("expiry"))
                          .where(nonces.c.nonce == nonce)).first()
        if seen is not None and seen.expiry >= now and seen.key != key:
            raise ReplayedNonce("nonce already used")
        if seen is None:
            db.execute(nonces.insert().values(nonce=nonce, key=key, seen_at=now, expires_at=expires_at))
        elif seen.expiry < now:  # expired: the nonce is free again
            db.execute(nonces.update().where(nonces.c.nonce == nonce)
                       .values(key=key, seen_at=now, expires_at=expires_at))
        if db.execute(sa.select(inbox.c.key).where(inbox.c.key == key)).first() is not None:
            return False
        db.execute(inbox.insert().values(
            key=key, from_user=message.from_user, msg_type=message.msg_type,
            message=json.dumps(asdict(message), ensure_ascii=False), state="received", attempts=0, sent=0,
            received_at=now, next_at=now))
        return True

    def due(self, limit: int = 50, now: float | None = None) -> list[tuple[str, str]]:
        """(key, sender) of open rows nobody holds, oldest first."""
        now = time.time() if now is None else now
        with self.engine.connect() as db:
            rows = db.execute(sa.select(inbox.c.key, inbox.c.from_user).where(*_claimable(now))
                              .order_by(inbox.c.received_at).limit(limit)).all()
        return [(r.key, r.from_user) for r in rows]

    def claim(self, key: str, lease: float, now: float | None = None) -> InboxRow | None:
        """The row, held for `lease` seconds by this caller alone (row.owner); None when finished or held."""
        now = time.time() if now is None else now
        owner = uuid.uuid4().hex
        with self.engine.begin() as db:
            taken = db.execute(inbox.update().where(inbox.c.key == key, *_claimable(now))
                               .values(lease_until=now + lease, owner=owner,
                                       attempts=inbox.c.attempts + 1)).rowcount
            if not taken:
                return None
            row = db.execute(sa.select(inbox).where(inbox.c.key == key)).mappings().one()
        return _row(row)

    def extend(self, row: InboxRow, lease: float) -> bool:
        """Hold the row `lease` seconds more; False when it is no longer this worker's."""
        return self._write(row, lease_until=time.time() + lease)

    def turned(self, row: InboxRow, replies: list[str], media: str | None = None) -> None:
        """The bot has answered: from now on only the sending is left to do."""
        values: dict[str, Any] = {"state": "turned", "replies": json.dumps(replies, ensure_ascii=False)}
        if media is not None:
            values["media"] = media
        self._must_write(row, **values)

    def sent(self, row: InboxRow, count: int, error: str | None = None) -> None:
        values: dict[str, Any] = {"sent": count} | ({"error": error[:500]} if error else {})
        self._must_write(row, **values)

    def done(self, row: InboxRow) -> None:
        self._must_write(row, state="done", lease_until=None, finished_at=time.time())

    def failed(self, row: InboxRow, error: str) -> None:
        """Given up on replying: the error stays on the row."""
        self._must_write(row, state="failed", lease_until=None, error=error[:500], finished_at=time.time())

    def retry(self, row: InboxRow, error: str, delay: float) -> None:
        """Let go of the row; it is due again after `delay` seconds."""
        self._must_write(row, lease_until=None, error=error[:500], next_at=time.time() + delay)

    def get(self, key: str) -> InboxRow | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(inbox).where(inbox.c.key == key)).mappings().first()
        return _row(row) if row else None

    def all(self) -> list[InboxRow]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(inbox).order_by(inbox.c.received_at)).mappings().all()
        return [_row(r) for r in rows]

    def _write(self, row: InboxRow, **values: Any) -> bool:
        with self.engine.begin() as db:
            return bool(db.execute(inbox.update().where(inbox.c.key == row.key, inbox.c.owner == row.owner,
                                                        inbox.c.state.in_(OPEN)).values(**values)).rowcount)

    def _must_write(self, row: InboxRow, **values: Any) -> None:
        if not self._write(row, **values):
            raise LeaseLost(row.key)


def _claimable(now: float) -> tuple[Any, ...]:
    return (inbox.c.state.in_(OPEN), inbox.c.next_at <= now,
            sa.or_(inbox.c.lease_until.is_(None), inbox.c.lease_until < now))


def _row(row: Any) -> InboxRow:
    return InboxRow(row["key"], WeChatMessage(**json.loads(row["message"])), row["state"], row["attempts"],
                    json.loads(row["replies"]) if row["replies"] else None, row["sent"], row["media"], row["error"],
                    row["owner"])

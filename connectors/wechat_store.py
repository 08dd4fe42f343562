"""The WeChat channel's tables in the project database: an inbox of pushed messages (one row per message however
often WeChat retries it) and the nonces seen within the timestamp window.

A row goes received → turned (the bot's answers saved) → done (all answers sent), or → failed (WeChat refused
the reply: the conversation waits for an agent). A worker holds a row by a lease it keeps extending; a row whose
lease ran out (its worker died) is claimed again, so a crash loses nothing."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from connectors.wechat_crypto import WeChatMessage

meta = sa.MetaData()
STATES = ("received", "turned", "done", "failed")
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
)

nonces = sa.Table(
    "wechat_nonces", meta,
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False, index=True),
)


@dataclass
class InboxRow:
    """One pushed message as the inbox holds it."""

    key: str
    """WeChatMessage.dedup_key"""
    message: WeChatMessage
    state: str
    """one of STATES"""
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


class Inbox:
    """Accept, claim, advance and finish inbox rows (synchronous: call through asyncio.to_thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        meta.create_all(engine)

    def accept(self, message: WeChatMessage, now: float | None = None) -> bool:
        """Store a message; False when it is already there (a retry or a parallel duplicate)."""
        now = time.time() if now is None else now
        try:
            with self.engine.begin() as db:
                db.execute(inbox.insert().values(
                    key=message.dedup_key, from_user=message.from_user, msg_type=message.msg_type,
                    message=json.dumps(asdict(message), ensure_ascii=False), state="received", attempts=0, sent=0,
                    received_at=now, next_at=now))
        except IntegrityError:
            return False
        return True

    def remember_nonce(self, nonce: str, window: float, now: float | None = None) -> bool:
        """False when the nonce was seen within the window; nonces older than twice the window are forgotten."""
        now = time.time() if now is None else now
        try:
            with self.engine.begin() as db:
                db.execute(nonces.delete().where(nonces.c.nonce == nonce, nonces.c.seen_at < now - window))
                db.execute(nonces.insert().values(nonce=nonce, seen_at=now))
                if int(now) % 16 == 0:  # now and then, not on every request
                    db.execute(nonces.delete().where(nonces.c.seen_at < now - 2 * window))
        except IntegrityError:
            return False
        return True

    def forget_nonce(self, nonce: str) -> None:
        with self.engine.begin() as db:
            db.execute(nonces.delete().where(nonces.c.nonce == nonce))

    def due(self, limit: int = 50, now: float | None = None) -> list[str]:
        """Keys of open rows nobody holds, oldest first."""
        now = time.time() if now is None else now
        with self.engine.connect() as db:
            rows = db.execute(sa.select(inbox.c.key).where(*_claimable(now)).order_by(inbox.c.received_at)
                              .limit(limit)).all()
        return [r.key for r in rows]

    def claim(self, key: str, lease: float, now: float | None = None) -> InboxRow | None:
        """The row, held for `lease` seconds by this caller alone; None when it is finished or held."""
        now = time.time() if now is None else now
        with self.engine.begin() as db:
            taken = db.execute(inbox.update().where(inbox.c.key == key, *_claimable(now))
                               .values(lease_until=now + lease, attempts=inbox.c.attempts + 1)).rowcount
            if not taken:
                return None
            row = db.execute(sa.select(inbox).where(inbox.c.key == key)).mappings().one()
        return _row(row)

    def extend(self, key: str, lease: float) -> None:
        with self.engine.begin() as db:
            db.execute(inbox.update().where(inbox.c.key == key, inbox.c.state.in_(OPEN))
                       .values(lease_until=time.time() + lease))

    def turned(self, key: str, replies: list[str], media: str | None = None) -> None:
        """The bot has answered: from now on only the sending is left to do."""
        values: dict[str, Any] = {"state": "turned", "replies": json.dumps(replies, ensure_ascii=False)}
        if media is not None:
            values["media"] = media
        with self.engine.begin() as db:
            db.execute(inbox.update().where(inbox.c.key == key).values(**values))

    def sent(self, key: str, count: int) -> None:
        with self.engine.begin() as db:
            db.execute(inbox.update().where(inbox.c.key == key).values(sent=count))

    def done(self, key: str) -> None:
        with self.engine.begin() as db:
            db.execute(inbox.update().where(inbox.c.key == key)
                       .values(state="done", lease_until=None, error=None, finished_at=time.time()))

    def failed(self, key: str, error: str) -> None:
        """Given up on replying: the error stays on the row."""
        with self.engine.begin() as db:
            db.execute(inbox.update().where(inbox.c.key == key)
                       .values(state="failed", lease_until=None, error=error[:500], finished_at=time.time()))

    def retry(self, key: str, error: str, delay: float) -> None:
        """Let go of the row; it is due again after `delay` seconds."""
        with self.engine.begin() as db:
            db.execute(inbox.update().where(inbox.c.key == key).values(
                lease_until=None, error=error[:500], next_at=time.time() + delay))

    def get(self, key: str) -> InboxRow | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(inbox).where(inbox.c.key == key)).mappings().first()
        return _row(row) if row else None

    def all(self) -> list[InboxRow]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(inbox).order_by(inbox.c.received_at)).mappings().all()
        return [_row(r) for r in rows]


def _claimable(now: float) -> tuple[Any, ...]:
    return (inbox.c.state.in_(OPEN), inbox.c.next_at <= now,
            sa.or_(inbox.c.lease_until.is_(None), inbox.c.lease_until < now))


def _row(row: Any) -> InboxRow:
    return InboxRow(row["key"], WeChatMessage(**json.loads(row["message"])), row["state"], row["attempts"],
                    json.loads(row["replies"]) if row["replies"] else None, row["sent"], row["media"], row["error"])

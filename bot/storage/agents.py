"""Agent accounts, their desk sessions, and the log of who revealed whose personal data."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.storage.records import _aware
from bot.storage.schema import access_log, agents, sessions

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass
class Session:
    """A logged-in agent."""

    username: str
    display_name: str
    csrf: str
    """the token every form of this session must send back"""


def hash_password(password: str) -> str:
    """scrypt with a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether the password matches a hash_password() value, compared in constant time."""
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(got.hex(), digest)


@lru_cache(maxsize=1)
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Agents:
    """Accounts and sessions. Session tokens are stored hashed: a copy of the database opens no session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, username: str, password: str, display_name: str | None = None) -> None:
        """Create or reset an account."""
        if not username or len(username) > 64 or not username.isprintable():
            raise ValueError("username must be 1-64 printable characters")
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        values = {"display_name": display_name or username, "password_hash": hash_password(password)}
        with self.engine.begin() as db:
            if db.execute(sa.select(agents.c.username).where(agents.c.username == username)).first():
                db.execute(agents.update().where(agents.c.username == username).values(**values))
                db.execute(sessions.delete().where(sessions.c.username == username))  # a reset logs out
            else:
                db.execute(agents.insert().values(username=username, created_at=datetime.now(timezone.utc),
                                                  **values))

    def exists(self) -> bool:
        """Whether any account exists."""
        with self.engine.connect() as db:
            return db.execute(sa.select(agents.c.username).limit(1)).first() is not None

    def login(self, username: str, password: str, hours: float = 12) -> str | None:
        """A new session token, or None for a wrong name or password."""
        with self.engine.connect() as db:
            row = db.execute(sa.select(agents).where(agents.c.username == username)).mappings().first()
        # An unknown name costs the same single hash as a known one.
        ok = check_password(password, row["password_hash"] if row else _decoy()) and row is not None
        if not ok:
            return None
        token = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.expires_at < now))
            db.execute(sessions.insert().values(token_hash=_token_hash(token), username=username,
                                                csrf=secrets.token_urlsafe(24),
                                                expires_at=now + timedelta(hours=hours)))
        return token

    def session(self, token: str) -> Session | None:
        """The live session of a token, or None."""
        query = (sa.select(sessions.c.username, sessions.c.csrf, sessions.c.expires_at, agents.c.display_name)
                 .join(agents, agents.c.username == sessions.c.username)
                 .where(sessions.c.token_hash == _token_hash(token)))
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None or _aware(row.expires_at) < datetime.now(timezone.utc):
            return None
        return Session(row.username, row.display_name, row.csrf)

    def logout(self, token: str) -> None:
        """End the session of a token."""
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))

    def log_access(self, username: str, record_id: str, what: str) -> None:
        """Remember that an agent saw what is masked on a record."""
        with self.engine.begin() as db:
            db.execute(access_log.insert().values(at=datetime.now(timezone.utc), username=username,
                                                  record_id=record_id, what=what))

    def accesses(self, record_id: str) -> list[tuple[datetime, str, str]]:
        """(when, who, what) for one record, oldest first."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(access_log.c.at, access_log.c.username, access_log.c.what)
                              .where(access_log.c.record_id == record_id).order_by(access_log.c.seq)).all()
        return [(_aware(r.at), r.username, r.what) for r in rows]

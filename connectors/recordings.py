"""Call recordings → records: an upload endpoint (a Rasa input channel, /webhooks/recordings/upload) and a
folder the telephony system drops recordings into (`hotline intake --watch DIR`).

Both go through one spool: the file is written into the spool directory and a row keyed by the call id is
committed before the upload is answered (or the dropped file is moved away). Rows are then transcribed one at a
time, each under a lease, so whatever was accepted but not processed when a process died is processed after the
restart. The call id makes it idempotent: a second upload of one call with the same content is answered
`duplicate` and changes nothing, one with other content is refused; a recording without a call id is keyed by
its content."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot import PROJECT_DIR
from bot.intake.errors import IntakeError
from bot.storage import create_tables
from bot.voice import AUDIO_SUFFIX

if TYPE_CHECKING:
    from bot.intake.extractor import Extractor
    from bot.speech import SpeechConfig

log = logging.getLogger(__name__)
meta = sa.MetaData()
_CALL_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_PHONE = re.compile(r"^\+?\d{3,20}$")

spool = sa.Table(
    "recording_spool", meta,
    sa.Column("call_id", sa.String(128), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("caller", sa.String(24)),
    sa.Column("started_at", sa.String(40)),
    sa.Column("state", sa.String(12), nullable=False, index=True),  # received | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("record_id", sa.String(36)),
    sa.Column("error", sa.Text),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("digest", sa.String(64)),  # sha256 of the recording; None on rows from before it was kept
)


class RecordingError(ValueError):
    """An upload or dropped file that cannot be accepted; the message says why."""


class RecordingConflict(RecordingError):
    """A call id already spooled with a different recording."""


@dataclass(frozen=True)
class CallInfo:
    """What the telephony system knows about a call, all optional."""

    call_id: str | None = None
    """its id in the telephony system: the same id is one recording, however often it is sent"""
    caller: str | None = None
    """the calling number, digits (becomes the record's contact phone when the caller says none)"""
    started_at: str | None = None
    """when the call started, ISO 8601"""

    def __post_init__(self) -> None:
        if self.call_id is not None and not _CALL_ID.match(self.call_id):
            raise RecordingError("call_id: 1-100 letters, digits or . _ : -")
        if self.caller is not None and not _PHONE.match(self.caller):
            raise RecordingError("caller: digits only")
        if self.started_at is not None:
            try:
                datetime.fromisoformat(self.started_at)
            except ValueError as e:
                raise RecordingError("start_time: ISO 8601 expected") from e


@dataclass
class SpoolRow:
    """One accepted recording."""

    call_id: str
    path: Path
    info: CallInfo
    state: str
    """received | done | failed"""
    attempts: int
    record_id: str | None
    error: str | None
    digest: str | None
    """sha256 of the recording (None on rows from before it was kept)"""


class RecordingSpool:
    """Accept recordings and turn them into stored records (synchronous; models load on first use)."""

    def __init__(self, engine: Engine, spool_dir: Path, lease: float = 600.0) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        self.engine = engine
        self.dir = spool_dir
        self.lease = lease
        create_tables(engine, meta)  # adds `digest` to a table an earlier version made
        self._lock = threading.Lock()
        self._models: tuple[Extractor, SpeechConfig] | None = None

    def accept_file(self, source: Path, info: CallInfo, move: bool = False) -> tuple[str, bool]:
        """(call id, True when new) for a recording on disk; a dropped file is moved into the spool (removed
        once its row is committed, or at once when it is a duplicate)."""
        from bot.voice import file_digest

        suffix = source.suffix.lower()
        if not AUDIO_SUFFIX.search(suffix):
            raise RecordingError(f"not an audio file name: {source.name}")
        digest = file_digest(source)
        call_id = info.call_id or "sha256:" + digest
        new = not self._spooled(call_id, digest) and self._store(call_id, digest, source, suffix, info)
        if move:
            source.unlink(missing_ok=True)
        return call_id, new

    def accept_bytes(self, data: bytes, suffix: str, info: CallInfo) -> tuple[str, bool]:
        """(call id, True when new) for an uploaded recording."""
        if not AUDIO_SUFFIX.search(suffix):
            raise RecordingError(f"not an audio file type: {suffix or 'none'}")
        digest = hashlib.sha256(data).hexdigest()
        call_id = info.call_id or "sha256:" + digest
        new = not self._spooled(call_id, digest) and self._store(call_id, digest, data, suffix.lower(), info)
        return call_id, new

    def get(self, call_id: str) -> SpoolRow | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(spool).where(spool.c.call_id == call_id)).mappings().first()
        return _row(row) if row else None

    def claim(self, now: float | None = None) -> SpoolRow | None:
        """The oldest unprocessed recording nobody holds, leased to this caller."""
        now = time.time() if now is None else now
        free = (spool.c.state == "received", sa.or_(spool.c.lease_until.is_(None), spool.c.lease_until < now))
        with self.engine.begin() as db:
            for row in db.execute(sa.select(spool).where(*free).order_by(spool.c.received_at).limit(5)).mappings():
                taken = db.execute(spool.update().where(spool.c.call_id == row["call_id"], *free)
                                   .values(lease_until=now + self.lease, attempts=row["attempts"] + 1)).rowcount
                if taken:
                    return _row({**row, "attempts": row["attempts"] + 1})
        return None

    def process_one(self) -> SpoolRow | None:
        """Transcribe, extract and store one recording; the row as it ended, or None when none was due."""
        row = self.claim()
        if row is None:
            return None
        try:
            record_id, status = self._record(row)
        except IntakeError as e:  # no speech, undecodable audio: nothing to retry
            log.warning("recording.failed call=%s reason=%s", row.call_id, type(e).__name__)
            self._finish(row.call_id, "failed", error=str(e))
        except Exception as e:
            log.exception("recording.error call=%s", row.call_id)
            # Leave the lease to run out: another pass tries again, up to three times.
            if row.attempts >= 3:
                self._finish(row.call_id, "failed", error=f"{type(e).__name__}: {e}")
        else:
            log.info("recording.stored call=%s status=%s", row.call_id, status)
            self._finish(row.call_id, "done", record_id=record_id)
        return self.get(row.call_id)

    def process_all(self) -> int:
        """Process until nothing is due; how many were processed."""
        count = 0
        while self.process_one() is not None:
            count += 1
        return count

    def models(self) -> tuple[Extractor, SpeechConfig]:
        with self._lock:
            if self._models is None:
                from bot.intake.extractor import Extractor
                from bot.speech import SpeechConfig

                self._models = (Extractor.load(), SpeechConfig.from_env())
            return self._models

    def _record(self, row: SpoolRow) -> tuple[str, str]:
        from bot.storage import Storage
        from bot.voice import record_from_audio

        extractor, config = self.models()
        record = record_from_audio(row.path, extractor, config, channel="phone",
                                   message_id=f"call:{row.call_id}").record
        if row.info.caller and not record.contact.phone:
            record.contact.phone = row.info.caller.lstrip("+")
            extractor.decide(record)  # the number may be all the policy missed
        status = _STATUS[record.dispatch.action]
        stored = Storage(self.engine).save(record, status, conversation_id=f"call:{row.call_id}"[:128],
                                           media=str(row.path))
        return stored.id, status

    def _spooled(self, call_id: str, digest: str) -> bool:
        """Whether the call is spooled with this content already; RecordingConflict when with other content."""
        row = self.get(call_id)
        if row is None:
            return False
        if row.digest is not None and row.digest != digest:
            raise RecordingConflict(f"call_id {call_id} already used for a different recording")
        return True

    def _store(self, call_id: str, digest: str, content: Path | bytes, suffix: str, info: CallInfo) -> bool:
        """Write the recording and commit its row; False when a concurrent upload of the call won."""
        target = self._path(call_id, digest, suffix)
        self._write(target, content)
        if self._insert(call_id, digest, target, info):
            return True
        if (row := self.get(call_id)) is None or row.path != target:
            target.unlink(missing_ok=True)  # the winner's file is another one: leave nothing unreferenced
        self._spooled(call_id, digest)
        return False

    def _write(self, target: Path, content: Path | bytes) -> None:
        """The recording under its final name, whole or absent after a crash, and on disk (file and name)
        before its row is committed and a dropped original removed."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                if isinstance(content, bytes):
                    f.write(content)
                else:
                    with open(content, "rb") as source:
                        shutil.copyfileobj(source, f, 1 << 20)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.dir)

    def _insert(self, call_id: str, digest: str, path: Path, info: CallInfo) -> bool:
        try:
            with self.engine.begin() as db:
                db.execute(spool.insert().values(call_id=call_id, path=str(path), caller=info.caller,
                                                 started_at=info.started_at, state="received", attempts=0,
                                                 received_at=time.time(), digest=digest))
        except IntegrityError:
            return False
        return True

    def _finish(self, call_id: str, state: str, record_id: str | None = None, error: str | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(spool.update().where(spool.c.call_id == call_id).values(
                state=state, record_id=record_id, error=error[:500] if error else None, lease_until=None))

    def _path(self, call_id: str, digest: str, suffix: str) -> Path:
        """One name per call and content: uploads of one call id racing each other never share a file."""
        return self.dir / (hashlib.sha256(f"{call_id}\0{digest}".encode()).hexdigest()[:32] + suffix)


_STATUS = {"dispatch": "queued", "handoff": "handoff", "redirect": "redirect", "answer": "answered"}
"""the stored status of a record by the policy's decision"""


def _row(row: Any) -> SpoolRow:
    return SpoolRow(row["call_id"], Path(row["path"]), CallInfo(None, row["caller"], row["started_at"]),
                    row["state"], row["attempts"], row["record_id"], row["error"], row["digest"])


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` survive a power loss (POSIX: fsync on the directory itself)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def call_info(fields: dict[str, str]) -> CallInfo:
    """CallInfo from form fields or a sidecar JSON (call_id, caller, start_time); empty values are absent."""
    def get(name: str) -> str | None:
        value = fields.get(name)
        return str(value).strip() or None if value is not None else None

    return CallInfo(get("call_id"), get("caller"), get("start_time"))


def watch(directory: Path, recordings: RecordingSpool, poll: float = 2.0) -> None:
    """Take every audio file dropped into `directory` (once it stopped growing) into the spool, and process
    the spool; `name.json` beside `name.wav` may carry the call's metadata. Runs until interrupted."""
    sizes: dict[Path, int] = {}
    recordings.process_all()  # what an earlier run accepted but did not process
    while True:
        for path in sorted(directory.iterdir()):
            if not path.is_file() or not AUDIO_SUFFIX.search(path.name):
                continue
            size = path.stat().st_size
            if sizes.get(path) != size:  # still being written, or new: look again next time
                sizes[path] = size
                continue
            sizes.pop(path, None)
            take(path, recordings)
        recordings.process_all()
        time.sleep(poll)


def take(path: Path, recordings: RecordingSpool) -> None:
    """Move one dropped recording (and its sidecar) into the spool, or into DIR/rejected when it cannot be
    accepted: nothing dropped is deleted unless its content is in the spool."""
    sidecar = path.with_suffix(".json")
    try:
        fields = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
        info = call_info(fields if isinstance(fields, dict) else {})
        if info.call_id is not None:
            call_id, new = recordings.accept_file(path, info, move=True)
        else:
            call_id, new = _accept_by_name(path, info, recordings)
        sidecar.unlink(missing_ok=True)
        log.info("recording.accepted call=%s new=%s", call_id, new)
    except (RecordingError, ValueError, OSError) as e:
        moved = _reject(path, sidecar)
        log.warning("recording.rejected file=%s moved_to=%s reason=%s", path.name, moved, e)


def _accept_by_name(path: Path, info: CallInfo, recordings: RecordingSpool) -> tuple[str, bool]:
    """The file name is the call id when no sidecar gives one. Telephony systems that reuse names (every
    call `recording.wav`) make a name taken by other content another call: that one is keyed by its content."""
    if _CALL_ID.match(path.stem):
        try:
            return recordings.accept_file(path, replace(info, call_id=path.stem), move=True)
        except RecordingConflict:
            log.info("recording.name_reused file=%s: keyed by its content", path.name)
    return recordings.accept_file(path, info, move=True)


def _reject(path: Path, sidecar: Path) -> Path:
    """Move a recording and its sidecar into DIR/rejected under a name no earlier rejected file has."""
    rejected = path.parent / "rejected"
    rejected.mkdir(exist_ok=True)
    stem, n = path.stem, 1
    while (rejected / (stem + path.suffix)).exists() or (rejected / (stem + ".json")).exists():
        stem, n = f"{path.stem}-{n}", n + 1
    target = rejected / (stem + path.suffix)
    shutil.move(str(path), target)
    if sidecar.exists():
        shutil.move(str(sidecar), rejected / (stem + ".json"))
    return target


@dataclass(frozen=True)
class RecordingsConfig:
    """The `recordings` entry of credentials.yml."""

    token: str = field(repr=False)
    """shared secret the telephony system sends as `Authorization: Bearer <token>`"""
    max_bytes: int = 50 * 1024 * 1024
    """largest recording accepted"""
    spool_dir: str = str(PROJECT_DIR / "var" / "recordings")
    """where accepted recordings are kept"""
    db_url: str | None = None
    """the project database (HOTLINE_DB_URL or var/hotline.db when None)"""
    lease: float = 600.0
    """seconds one recording may take before another worker takes it up"""

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise ValueError("recordings: token must have at least 16 characters")
        if self.max_bytes <= 0 or self.lease <= 0:
            raise ValueError("recordings: max_bytes and lease must be positive")

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RecordingsConfig:
        values = dict(credentials or {})
        unknown = set(values) - {"token", "max_bytes", "spool_dir", "db_url", "lease"}
        if unknown:
            raise ValueError(f"recordings: unknown settings {sorted(unknown)}")
        if not values.get("token"):
            raise ValueError("recordings: token is missing")
        try:
            return cls(token=str(values["token"]), max_bytes=int(values.get("max_bytes", cls.max_bytes)),
                       spool_dir=str(values.get("spool_dir") or cls.spool_dir), db_url=values.get("db_url"),
                       lease=float(values.get("lease", cls.lease)))
        except (TypeError, ValueError) as e:
            raise ValueError(f"recordings: {e}") from e


def check_token(header: str | None, token: str) -> bool:
    """A bearer token compared in constant time."""
    given = (header or "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


async def run_spool(recordings: RecordingSpool, wake: asyncio.Event, period: float = 5.0) -> None:
    """Process the spool whenever an upload arrives, and every `period` seconds (leases that ran out)."""
    while True:
        try:
            await asyncio.to_thread(recordings.process_all)
        except Exception:
            log.exception("recording.spool_failed")
        try:
            await asyncio.wait_for(wake.wait(), period)
        except asyncio.TimeoutError:
            pass
        wake.clear()

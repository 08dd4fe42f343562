"""Call recordings → records: an upload endpoint (a Rasa input channel, /webhooks/recordings/upload) and a
folder the telephony system drops recordings into (`hotline intake --watch DIR`).

Both go through one spool: the file is written into the spool directory and a row keyed by the call id is
committed before the upload is answered (or the dropped file is moved away). Rows are then transcribed one at a
time, each under a lease, so whatever was accepted but not processed when a process died is processed after the
restart. The call id makes it idempotent: a second upload of one call with the same content is answered
`duplicate` and changes nothing, one with other content is refused; a recording without a call id is keyed by
its content. Every call reaches a person: one that cannot be transcribed becomes a record for an agent with the
recording and the reason."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot import PROJECT_DIR
from bot.intake.errors import IntakeError
from bot.speech.errors import DecodeTimeout
from bot.storage import create_tables
from bot.voice import AUDIO_SUFFIX

if TYPE_CHECKING:
    from bot.intake.extractor import Extractor
    from bot.speech import SpeechConfig

log = logging.getLogger(__name__)
meta = sa.MetaData()
_CALL_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_PHONE = re.compile(r"^\+?\d{3,20}$")
_STARTED_AT = 40
"""the longest start time kept (the column's width)"""
ATTEMPTS = 3
"""tries at transcribing one recording before it goes to an agent untranscribed"""
UNTRANSCRIBED = "（电话录音，未能自动转写）"
"""the text of the record an agent gets for a call that could not be transcribed"""
SIDECAR_GRACE = 30.0
"""seconds a sidecar that does not parse may still be being written"""

spool = sa.Table(
    "recording_spool", meta,
    sa.Column("call_id", sa.String(128), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("caller", sa.String(24)),
    sa.Column("started_at", sa.String(_STARTED_AT)),
    sa.Column("state", sa.String(12), nullable=False, index=True),  # received | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("record_id", sa.String(36)),
    sa.Column("error", sa.Text),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("digest", sa.String(64)),  # sha256 of the recording; None on rows from before it was kept
    sa.Column("owner", sa.String(32)),  # the claim that holds the lease: only it may finish the row
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
            if len(self.started_at) > _STARTED_AT:  # valid ISO 8601 can be longer than the column
                raise RecordingError(f"start_time: at most {_STARTED_AT} characters")
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
    owner: str | None
    """the claim holding it (None before the first claim)"""


class RecordingSpool:
    """Accept recordings and turn them into stored records (synchronous; models load on first use)."""

    def __init__(self, engine: Engine, spool_dir: Path, lease: float = 600.0) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        self.engine = engine
        self.dir = spool_dir
        self.lease = lease
        create_tables(engine, meta)  # adds `digest` and `owner` to a table an earlier version made
        self._lock = threading.Lock()
        self._stopping = threading.Event()
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
        """The oldest unprocessed recording nobody holds, leased to this caller under a new owner token."""
        now = time.time() if now is None else now
        owner = uuid.uuid4().hex
        free = (spool.c.state == "received", sa.or_(spool.c.lease_until.is_(None), spool.c.lease_until < now))
        with self.engine.begin() as db:
            for row in db.execute(sa.select(spool).where(*free).order_by(spool.c.received_at).limit(5)).mappings():
                attempts = row["attempts"] + 1
                taken = db.execute(spool.update().where(spool.c.call_id == row["call_id"], *free)
                                   .values(lease_until=now + self.lease, attempts=attempts, owner=owner)).rowcount
                if taken:
                    return _row({**row, "attempts": attempts, "owner": owner})
        return None

    def process_one(self) -> SpoolRow | None:
        """Transcribe, extract and store one recording; the row as it ended, or None when none was due."""
        row = self.claim()
        if row is None:
            return None
        # A failure that may pass leaves the lease to run out: another pass tries again, up to ATTEMPTS times.
        try:
            record_id, status = self._record(row)
        except DecodeTimeout as e:  # a busy machine, not bad audio
            log.warning("recording.retry call=%s attempt=%d reason=%s", row.call_id, row.attempts, type(e).__name__)
            if row.attempts >= ATTEMPTS:
                self._hand_off(row, str(e))
        except IntakeError as e:  # no speech, too long, undecodable: the same every time
            log.warning("recording.untranscribed call=%s reason=%s", row.call_id, type(e).__name__)
            self._hand_off(row, str(e))
        except Exception as e:
            log.exception("recording.error call=%s attempt=%d", row.call_id, row.attempts)
            if row.attempts >= ATTEMPTS:
                self._hand_off(row, f"{type(e).__name__}: {e}")
        else:
            log.info("recording.stored call=%s status=%s", row.call_id, status)
            self._finish(row, "done", record_id=record_id)
        return self.get(row.call_id)

    def process_all(self) -> int:
        """Process until nothing is due or stop() was called; how many were processed."""
        count = 0
        while not self._stopping.is_set() and self.process_one() is not None:
            count += 1
        return count

    def stop(self) -> None:
        """Make process_all return after the recording in hand (a shutdown need not wait for the queue)."""
        self._stopping.set()

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

    def _hand_off(self, row: SpoolRow, reason: str) -> None:
        """A record for an agent with the recording and why it has no transcript; the row fails with its id. The
        record id is the one a transcript gives, so a retry updates that record instead of adding one."""
        from bot.intake.extractor import Message
        from bot.record import Dispatch
        from bot.storage import Storage

        note = f"录音未能转写：{reason[:200]}"
        extractor, _ = self.models()
        record = extractor.extract(Message(UNTRANSCRIBED, channel="phone", message_id=f"call:{row.call_id}"))
        if row.info.caller:
            record.contact.phone = row.info.caller.lstrip("+")
        record.dispatch, record.needs_review = Dispatch("handoff", [], note), True
        # A transcript's record that an earlier attempt stored before it died is the one handed off.
        stored = Storage(self.engine).hand_off(record, "phone", note, conversation_id=f"call:{row.call_id}"[:128],
                                               media=str(row.path))
        log.info("recording.handed_off call=%s", row.call_id)
        self._finish(row, "failed", record_id=stored.id, error=reason)

    def _spooled(self, call_id: str, digest: str) -> bool:
        """Whether the call is spooled with this content already; RecordingConflict when with other content."""
        row = self.get(call_id)
        if row is None:
            return False
        if (row.digest or self._backfill(row)) != digest:
            raise RecordingConflict(f"call_id {call_id} already used for a different recording")
        return True

    def _backfill(self, row: SpoolRow) -> str | None:
        """The digest of a row from before digests were kept, from its file (and kept on the row); None when the
        file is gone: nothing then shows the content is the same, so it counts as another recording."""
        from bot.voice import file_digest

        try:
            digest = file_digest(row.path)
        except FileNotFoundError:
            return None
        with self.engine.begin() as db:
            db.execute(spool.update().where(spool.c.call_id == row.call_id, spool.c.digest.is_(None))
                       .values(digest=digest))
        return digest

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

    def _finish(self, row: SpoolRow, state: str, record_id: str | None = None, error: str | None = None) -> None:
        """End the row's processing, unless its lease ran out and another claim holds it: that one's outcome
        stands, this stale one changes nothing."""
        with self.engine.begin() as db:
            done = db.execute(spool.update().where(spool.c.call_id == row.call_id, spool.c.owner == row.owner).values(
                state=state, record_id=record_id, error=error[:500] if error else None, lease_until=None)).rowcount
        if not done:
            log.warning("recording.lease_lost call=%s state=%s: another worker holds it", row.call_id, state)

    def _path(self, call_id: str, digest: str, suffix: str) -> Path:
        """One name per call and content: uploads of one call id racing each other never share a file."""
        return self.dir / (hashlib.sha256(f"{call_id}\0{digest}".encode()).hexdigest()[:32] + suffix)


_STATUS = {"dispatch": "queued", "handoff": "handoff", "redirect": "redirect", "answer": "answered"}
"""the stored status of a record by the policy's decision"""


def _row(row: Any) -> SpoolRow:
    # SQLite kept start times longer than the column before they were refused: such a row must not block the spool.
    started = row["started_at"] if row["started_at"] and len(row["started_at"]) <= _STARTED_AT else None
    return SpoolRow(row["call_id"], Path(row["path"]), CallInfo(None, row["caller"], started),
                    row["state"], row["attempts"], row["record_id"], row["error"], row["digest"], row["owner"])


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
    """Take every audio file dropped into `directory` (once it is written, see _settled) into the spool, and
    process the spool; `name.json` beside `name.wav` may carry the call's metadata. Runs until interrupted: an
    error with one file or one pass over the spool is logged, and the next poll goes on."""
    seen: dict[Path, _Look] = {}
    _process(recordings)  # what an earlier run accepted but did not process
    while True:
        try:
            ready = _settled(directory, seen, poll)
        except OSError:
            log.exception("recording.watch_failed: the folder cannot be listed")
            ready = []
        for path in ready:
            try:
                take(path, recordings)
            except Exception:
                seen.pop(path, None)  # still there: looked at afresh, not retried at every poll
                log.exception("recording.take_failed")
        _process(recordings)
        time.sleep(poll)


def _process(recordings: RecordingSpool) -> None:
    """One pass over the spool; its failure is logged, not the watcher's end."""
    try:
        recordings.process_all()
    except Exception:  # the database away for a moment: the rows wait for the next pass
        log.exception("recording.spool_failed")


@dataclass(frozen=True)
class _Look:
    """A dropped file as the last poll saw it."""

    size: int
    mtime_ns: int
    unchanged: int
    """how many polls in a row saw this size and mtime after the first"""


def _settled(directory: Path, seen: dict[Path, _Look], poll: float) -> list[Path]:
    """The audio files in `directory` whose size and mtime stayed the same over the last two polls and that were
    last written at least a poll ago: a copy that stalls for a moment is not taken half-written. `seen` is
    updated to this poll's looks."""
    now = time.time()
    looks: dict[Path, _Look] = {}
    for path in sorted(p for p in directory.iterdir() if AUDIO_SUFFIX.search(p.name)):
        try:
            st = path.stat()
        except FileNotFoundError:  # gone since the folder was listed
            continue
        except OSError as e:
            log.warning("recording.unreadable reason=%s", e.strerror)
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        last = seen.get(path)
        same = last is not None and (last.size, last.mtime_ns) == (st.st_size, st.st_mtime_ns)
        looks[path] = _Look(st.st_size, st.st_mtime_ns, last.unchanged + 1 if last and same else 0)
    seen.clear()
    seen.update(looks)
    return [path for path, look in looks.items() if look.unchanged >= 2 and look.mtime_ns <= (now - poll) * 1e9]


def take(path: Path, recordings: RecordingSpool) -> None:
    """Move one dropped recording (and its sidecar) into the spool, or into DIR/rejected when it cannot be
    accepted: nothing dropped is deleted unless its content is in the spool. A recording whose sidecar is still
    being written is left for a later poll."""
    sidecar = path.with_suffix(".json")
    try:
        fields = _sidecar(sidecar)
        if fields is None:
            log.info("recording.waiting: its sidecar does not parse yet")
            return
        info = call_info(fields)
        if info.call_id is not None:
            call_id, new = recordings.accept_file(path, info, move=True)
        else:
            call_id, new = _accept_by_name(path, info, recordings)
        sidecar.unlink(missing_ok=True)
        log.info("recording.accepted call=%s new=%s", call_id, new)
    except (RecordingError, ValueError, OSError) as e:
        moved = _reject(path, sidecar)
        log.warning("recording.rejected file=%s moved_to=%s reason=%s", path.name, moved, e)


def _sidecar(sidecar: Path) -> dict[str, str] | None:
    """The fields of a recording's sidecar ({} when it has none); None when it does not parse but may still be
    being written (younger than SIDECAR_GRACE), ValueError when it does not parse and is older."""
    if not sidecar.exists():
        return {}
    try:
        fields = json.loads(sidecar.read_text(encoding="utf-8"))
    except ValueError:  # JSONDecodeError, or UnicodeDecodeError when cut inside a character
        if time.time() - sidecar.stat().st_mtime < SIDECAR_GRACE:
            return None
        raise
    return fields if isinstance(fields, dict) else {}


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

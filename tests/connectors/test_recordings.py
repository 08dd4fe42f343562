"""Call recordings: the spool (idempotent on the call id, one call id one recording, whole and synced files
only, a call that cannot be transcribed handed to an agent, a stale worker's outcome discarded), the upload
endpoint over real HTTP in a process of its own (refusals before the body is read), a restart after a kill, and
`hotline intake --watch DIR` (only whole files taken, errors survived)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.intake.extractor import record_id
from bot.speech import SpeechConfig
from bot.storage import open_engine
from bot.storage.records import Storage
from bot.voice import file_digest
from connectors.recordings import (
    CallInfo,
    RecordingConflict,
    RecordingError,
    RecordingsConfig,
    RecordingSpool,
    spool,
    take,
    watch,
)
from tests.connectors.test_wechat import _port, wait_for

HERE = Path(__file__).resolve().parent
WAV = HERE.parent / "audio" / "heating.wav"
OTHER_WAV = HERE.parent / "audio" / "streetlight.wav"
THIRD_WAV = HERE.parent / "audio" / "english.wav"
TOKEN = "telephony-shared-secret-0123"


@pytest.mark.parametrize("fields", [{"call_id": "has space"}, {"call_id": "x" * 101}, {"caller": "138-0013"},
                                    {"started_at": "yesterday"},
                                    {"started_at": "2026-11-21T09:30:00.123456+08:00:00.123456"}])  # valid, 42 long
def test_bad_call_info(fields: dict[str, str]) -> None:
    with pytest.raises(RecordingError):
        CallInfo(**fields)


@pytest.mark.parametrize("credentials", [{}, {"token": "short"}, {"token": TOKEN, "max_bytes": 0},
                                         {"token": TOKEN, "max_bytes": "big"}, {"token": TOKEN, "colour": "red"}])
def test_bad_config(credentials: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RecordingsConfig.from_credentials(credentials)


def rows(engine: Engine) -> int:
    with engine.connect() as db:
        return int(db.execute(sa.select(sa.func.count()).select_from(spool)).scalar_one())


def test_spool_is_idempotent(tmp_path: Path) -> None:
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    data = WAV.read_bytes()
    assert recordings.accept_bytes(data, ".wav", CallInfo("c-1")) == ("c-1", True)
    assert recordings.accept_bytes(data, ".wav", CallInfo("c-1", caller="13800138000")) == ("c-1", False)
    with pytest.raises(RecordingConflict, match="c-1 already used for a different recording"):
        recordings.accept_bytes(b"other bytes", ".wav", CallInfo("c-1"))
    with pytest.raises(RecordingConflict):  # a file of other content: the same digest kind, the same refusal
        recordings.accept_file(OTHER_WAV, CallInfo("c-1"))
    assert recordings.accept_file(WAV, CallInfo("c-1")) == ("c-1", False)
    row = recordings.get("c-1")
    assert row is not None and row.state == "received" and row.path.read_bytes() == data and row.info.caller is None
    assert row.digest == hashlib.sha256(data).hexdigest() == file_digest(WAV)
    assert len(list((tmp_path / "spool").iterdir())) == 1
    keyed, new = recordings.accept_bytes(data, ".wav", CallInfo())
    assert new and keyed == "sha256:" + row.digest and recordings.accept_file(WAV, CallInfo()) == (keyed, False)
    with pytest.raises(RecordingError):
        recordings.accept_bytes(data, ".exe", CallInfo("c-2"))
    assert not list((tmp_path / "spool").glob("*.part"))
    claimed = recordings.claim()
    assert claimed is not None and claimed.call_id == "c-1"
    assert recordings.claim() is not None and recordings.claim() is None


def test_rows_from_before_the_digest_compare_by_their_file(tmp_path: Path) -> None:
    """A table made before the digest was kept gets the new columns. An old row's digest is taken from its file
    (and kept): the same content is a duplicate, other content a conflict; a row whose file is gone matches no
    content. In the watched folder, such a name dropped again with a new recording is another call."""
    engine = open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    old = sa.MetaData()
    sa.Table("recording_spool", old, *(sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                                       for c in spool.columns if c.name not in ("digest", "owner")))
    old.create_all(engine)
    kept = tmp_path / "old" / "kept.wav"
    kept.parent.mkdir()
    shutil.copy(WAV, kept)
    with engine.begin() as db:
        db.execute(sa.text("INSERT INTO recording_spool (call_id, path, state, attempts, received_at) VALUES "
                           f"('recording', '{kept}', 'done', 1, 0), ('gone', '{tmp_path / 'gone.wav'}', 'done', 1, 0)"))
    recordings = RecordingSpool(engine, tmp_path / "spool")
    assert {"digest", "owner"} <= {c["name"] for c in sa.inspect(engine).get_columns("recording_spool")}
    with pytest.raises(RecordingConflict):
        recordings.accept_bytes(OTHER_WAV.read_bytes(), ".wav", CallInfo("recording"))
    old_row = recordings.get("recording")
    assert old_row is not None and old_row.digest == file_digest(WAV) and old_row.state == "done"
    assert recordings.accept_bytes(WAV.read_bytes(), ".wav", CallInfo("recording")) == ("recording", False)
    with pytest.raises(RecordingConflict):
        recordings.accept_bytes(WAV.read_bytes(), ".wav", CallInfo("gone"))
    drop = tmp_path / "drop"
    drop.mkdir()
    for name, audio in (("recording.wav", OTHER_WAV), ("gone.wav", THIRD_WAV)):
        shutil.copy(audio, drop / name)
        take(drop / name, recordings)
        keyed = recordings.get("sha256:" + file_digest(audio))
        assert keyed is not None and keyed.path.read_bytes() == audio.read_bytes()
    assert list(drop.iterdir()) == []
    RecordingSpool(engine, tmp_path / "spool")  # a second start finds the columns made
    assert rows(engine) == 4


def test_untranscribable_call_goes_to_an_agent(tmp_path: Path, extractor: Any) -> None:
    """Audio that cannot be decoded is not retried: a record for an agent, with the recording, the reason and
    the caller's number, under the id a transcript would have had; the row fails with that record."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    recordings._models = (extractor, SpeechConfig())
    recordings.accept_bytes(b"RIFF, but no audio in it", ".wav", CallInfo("bad-1", caller="+8613800138000"))
    row = recordings.process_one()
    assert row is not None and row.state == "failed" and row.attempts == 1 and row.record_id
    storage = Storage(recordings.engine)
    stored = storage.get(row.record_id)
    assert stored is not None and storage.by_conversation("call:bad-1") == [stored]
    assert stored.id == record_id("phone", "call:bad-1", "") and stored.status == "handoff"
    assert stored.media == str(row.path) and stored.note and stored.note.startswith("录音未能转写：")
    assert stored.record["contact"]["phone"] == "8613800138000" and stored.record["needs_review"]
    assert stored.record["text"] == "（电话录音，未能自动转写）" and stored.record["dispatch"]["action"] == "handoff"


@pytest.mark.parametrize("failure", ["decode timeout", "crash"])
def test_failing_call_is_retried_then_goes_to_an_agent(tmp_path: Path, extractor: Any,
                                                        monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    """A decode time-out (a busy machine) and any other error are tried three times; then the call goes to an
    agent like one that cannot be transcribed."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool", lease=0.01)
    recordings._models = (extractor, SpeechConfig(decode_timeout=0.001 if failure == "decode timeout" else 120))
    if failure == "crash":
        def broken(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("whisper weights unreadable")

        monkeypatch.setattr("bot.voice.record_from_audio", broken)
    recordings.accept_bytes(WAV.read_bytes(), ".wav", CallInfo("slow-1"))
    for attempt in (1, 2):
        row = recordings.process_one()
        assert row is not None and (row.state, row.attempts, row.record_id) == ("received", attempt, None)
        time.sleep(0.05)  # the lease runs out
    row = recordings.process_one()
    assert row is not None and row.state == "failed" and row.attempts == 3 and row.record_id
    stored = Storage(recordings.engine).get(row.record_id)
    assert stored is not None and stored.status == "handoff" and stored.note
    assert ("decoding took over" if failure == "decode timeout" else "whisper weights unreadable") in stored.note


def test_a_stale_worker_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose lease ran out while it worked: the worker that took the row up since settles it."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    recordings.accept_bytes(WAV.read_bytes(), ".wav", CallInfo("c-1"))

    def slow(row: Any) -> tuple[str, str]:
        later = recordings.claim(now=time.time() + recordings.lease + 1)
        assert later is not None and later.owner != row.owner
        recordings._finish(later, "done", record_id="the-later-workers")
        return "the-stale-workers", "queued"

    monkeypatch.setattr(recordings, "_record", slow)
    row = recordings.process_one()
    assert row is not None and (row.state, row.record_id, row.attempts) == ("done", "the-later-workers", 2)


def test_an_older_rows_long_start_time_does_not_block_the_spool(tmp_path: Path) -> None:
    """SQLite stored start times longer than the column before they were refused: such a row is still claimed."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    recordings.accept_bytes(WAV.read_bytes(), ".wav", CallInfo("c-1", None, "2026-11-21T09:30:00"))
    with recordings.engine.begin() as db:
        long_time = "2026-11-21T09:30:00.123456+08:00:00.123456"  # valid ISO 8601, 42 characters
        db.execute(sa.text("UPDATE recording_spool SET started_at = :t"), {"t": long_time})
    row = recordings.claim()
    assert row is not None and row.call_id == "c-1" and row.info.started_at is None


def test_shutdown_ends_a_pass_between_recordings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The channel stopping while a pass is under way: the pass ends after the recording in hand."""
    from connectors.recordings_channel import RecordingsInput

    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    for n, audio in enumerate((WAV, OTHER_WAV, THIRD_WAV)):
        recordings.accept_bytes(audio.read_bytes(), ".wav", CallInfo(f"c-{n}"))
    channel = RecordingsInput(RecordingsConfig(TOKEN))
    channel._spool = recordings

    def record(row: Any) -> tuple[str, str]:
        channel.shutdown()
        return f"record-{row.call_id}", "queued"

    monkeypatch.setattr(recordings, "_record", record)
    assert recordings.process_all() == 1
    states = [(row.state if (row := recordings.get(f"c-{n}")) else None) for n in range(3)]
    assert states == ["done", "received", "received"]


def test_spool_writes_are_synced_before_the_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """accept_file: the copy is fsynced, renamed, the directory fsynced, and only then the row committed and
    the dropped file removed; accept_bytes syncs the directory as well."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    source = tmp_path / "drop" / "call-5.wav"
    source.parent.mkdir()
    shutil.copy(WAV, source)
    events: list[tuple[Any, ...]] = []
    fsync, rename = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        synced = Path(os.readlink(f"/proc/self/fd/{fd}"))
        events.append(("fsync", synced, rows(recordings.engine), source.exists()))
        fsync(fd)

    def recording_replace(src: Any, dst: Any) -> None:
        events.append(("replace", Path(src), Path(dst)))
        rename(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    assert recordings.accept_file(source, CallInfo("call-5"), move=True) == ("call-5", True)
    row = recordings.get("call-5")
    assert row is not None and not source.exists()
    (_, part, *before_file), (_, renamed, target), (_, directory, *before_dir) = events
    assert part.suffix == ".part" and renamed == part and target == row.path
    assert directory == tmp_path / "spool" and before_file == before_dir == [0, True]
    events.clear()
    recordings.accept_bytes(OTHER_WAV.read_bytes(), ".wav", CallInfo("call-6"))
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"] and events[2][1:3] == (directory, 1)


def test_a_lost_race_for_a_call_id_leaves_the_winner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two uploads of one call id both found it free: the loser's file goes, the winner's row and file stay."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    assert recordings.accept_bytes(WAV.read_bytes(), ".wav", CallInfo("c-1"))[1]
    real = recordings._spooled
    # Each upload looks before the other's commit (finds nothing), and for real after its insert failed.
    looks = iter([False, True, False, True])

    def spooled(call_id: str, digest: str) -> bool:
        return real(call_id, digest) if next(looks) else False

    monkeypatch.setattr(recordings, "_spooled", spooled)
    with pytest.raises(RecordingConflict):
        recordings.accept_bytes(OTHER_WAV.read_bytes(), ".wav", CallInfo("c-1"))
    assert recordings.accept_bytes(WAV.read_bytes(), ".mp3", CallInfo("c-1")) == ("c-1", False)
    row = recordings.get("c-1")
    assert row is not None and [p.name for p in (tmp_path / "spool").iterdir()] == [row.path.name]
    assert row.path.read_bytes() == WAV.read_bytes() and rows(recordings.engine) == 1


def test_dropped_files_with_reused_names(tmp_path: Path) -> None:
    """A name the telephony system reuses for another call keys that call by its content; a sidecar's call id
    that came with other content sends the file to rejected/, where no earlier rejected file is overwritten."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    drop = tmp_path / "drop"
    drop.mkdir()

    def drop_and_take(audio: Path, name: str = "recording.wav", call_id: str | None = None) -> None:
        shutil.copy(audio, drop / name)
        if call_id:
            (drop / name).with_suffix(".json").write_text(json.dumps({"call_id": call_id}))
        take(drop / name, recordings)

    drop_and_take(WAV)
    row = recordings.get("recording")
    assert row is not None and row.digest == file_digest(WAV) and not (drop / "recording.wav").exists()
    drop_and_take(OTHER_WAV)  # the next call, the same name
    keyed = recordings.get("sha256:" + file_digest(OTHER_WAV))
    assert keyed is not None and keyed.path.read_bytes() == OTHER_WAV.read_bytes()
    assert not (drop / "recording.wav").exists() and rows(recordings.engine) == 2
    drop_and_take(OTHER_WAV)  # dropped again: its content is in the spool, so it goes
    drop_and_take(WAV)
    assert sorted(p.name for p in drop.iterdir()) == [] and rows(recordings.engine) == 2
    drop_and_take(OTHER_WAV, "x.wav", call_id="recording")
    drop_and_take(THIRD_WAV, "x.wav", call_id="recording")
    rejected = drop / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["x-1.json", "x-1.wav", "x.json", "x.wav"]
    assert (rejected / "x.wav").read_bytes() == OTHER_WAV.read_bytes()
    assert (rejected / "x-1.wav").read_bytes() == THIRD_WAV.read_bytes()
    assert sorted(p.name for p in drop.iterdir()) == ["rejected"] and rows(recordings.engine) == 2
    assert recordings.get("recording") == row


def run_watch(drop: Path, recordings: RecordingSpool, monkeypatch: pytest.MonkeyPatch, polls: int,
              between: Callable[[int], None] | None = None) -> list[list[str]]:
    """The names in `drop` after each of `polls` polls of watch(), `between(n)` run after poll n. The poll is
    60 s and no real time passes: only files whose mtime is over a minute old are ever taken."""
    seen: list[list[str]] = []

    def sleep(_seconds: float) -> None:
        seen.append(sorted(p.name for p in drop.iterdir()))
        if len(seen) == polls:
            raise KeyboardInterrupt
        if between:
            between(len(seen))

    monkeypatch.setattr(time, "sleep", sleep)
    with pytest.raises(KeyboardInterrupt):
        watch(drop, recordings, poll=60)
    return seen


def dropped(drop: Path, name: str, audio: Path, age: float = 120.0) -> Path:
    path = drop / name
    shutil.copy(audio, path)
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_watch_takes_a_file_once_it_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is taken once its size and mtime stayed the same over two polls and it was last written a poll
    ago: a copy that stalls, or that was written just now, is left alone."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    monkeypatch.setattr(recordings, "process_all", lambda: 0)
    drop = tmp_path / "drop"
    drop.mkdir()
    dropped(drop, "stalled.wav", WAV)
    touched = dropped(drop, "touched.wav", THIRD_WAV)
    dropped(drop, "fresh.wav", OTHER_WAV, age=0)

    def between(poll: int) -> None:
        if poll == 2:  # written to again, to the same size
            os.utime(touched, (time.time() - 130, time.time() - 130))

    names = run_watch(drop, recordings, monkeypatch, 5, between)
    assert names == [["fresh.wav", "stalled.wav", "touched.wav"]] * 2 + [["fresh.wav", "touched.wav"]] * 2 \
        + [["fresh.wav"]]
    assert recordings.get("stalled") is not None and recordings.get("touched") is not None


def test_a_sidecar_still_being_written_waits(tmp_path: Path) -> None:
    """A sidecar that does not parse yet holds its recording back; once it is 30 s old it is taken as broken."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    drop = tmp_path / "drop"
    drop.mkdir()
    audio = dropped(drop, "call-9.wav", WAV)
    sidecar = drop / "call-9.json"
    sidecar.write_text('{"call_id": "c-9", "cal')
    take(audio, recordings)
    assert sorted(p.name for p in drop.iterdir()) == ["call-9.json", "call-9.wav"] and rows(recordings.engine) == 0
    sidecar.write_text(json.dumps({"call_id": "c-9", "caller": "13800138000"}))
    take(audio, recordings)
    row = recordings.get("c-9")
    assert row is not None and row.info.caller == "13800138000" and list(drop.iterdir()) == []
    broken = dropped(drop, "call-10.wav", OTHER_WAV)
    (drop / "call-10.json").write_text("{never finished")
    os.utime(drop / "call-10.json", (time.time() - 31, time.time() - 31))
    take(broken, recordings)
    assert sorted(p.name for p in (drop / "rejected").iterdir()) == ["call-10.json", "call-10.wav"]


def test_watch_goes_on_after_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    caplog: pytest.LogCaptureFixture) -> None:
    """A failed pass over the spool (the database away), a file gone between listing and looking at it, and a
    rejection that fails (rejected/ cannot be made) are logged, and the watcher goes on."""
    recordings = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    passes: list[int] = []

    def process_all() -> int:
        passes.append(1)
        if len(passes) <= 2:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return 0

    monkeypatch.setattr(recordings, "process_all", process_all)
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "rejected").write_text("")  # a file where the folder for rejected recordings should be
    dropped(drop, "bad.wav", WAV)
    (drop / "bad.json").write_text(json.dumps({"call_id": "has space"}))
    dropped(drop, "good.wav", OTHER_WAV)
    dropped(drop, "vanishing.wav", THIRD_WAV)
    real_stat, looks = Path.stat, []

    def stat(path: Path, *args: Any, **kwargs: Any) -> os.stat_result:
        if path.name == "vanishing.wav":
            looks.append(path)
            if len(looks) == 2:  # removed between the listing and the second look
                path.unlink()
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    with caplog.at_level("INFO", logger="connectors.recordings"):
        names = run_watch(drop, recordings, monkeypatch, 4)
    assert names[-1] == ["bad.json", "bad.wav", "rejected"] and len(passes) == 5
    assert recordings.get("good") is not None and rows(recordings.engine) == 1
    assert "recording.spool_failed" in caplog.text and "recording.take_failed" in caplog.text
    assert "recording.unreadable" not in caplog.text and "recording.watch_failed" not in caplog.text  # gone: no error


class Server:
    def __init__(self, tmp: Path, lease: float = 600.0, max_bytes: int = 5_000_000) -> None:
        self.db_url = f"sqlite:///{tmp / 'hotline.db'}"
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/recordings"
        self.log = tmp / "server.log"
        self.spool_dir = tmp / "spool"
        credentials = {"token": TOKEN, "db_url": self.db_url, "spool_dir": str(self.spool_dir), "lease": lease,
                       "max_bytes": max_bytes}
        self.env = {**os.environ, "RECORDINGS_CREDENTIALS": json.dumps(credentials), "PORT": str(self.port)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.storage = Storage(open_engine(self.db_url))

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, str(HERE / "recordings_server.py")], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(self.log.read_text()[-3000:])
            try:
                return requests.get(self.url + "/", timeout=1).status_code == 200
            except requests.RequestException:  # refused while starting, or slow while models load
                return False

        wait_for(up, 120, "the recordings server")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(15)

    def upload(self, data: bytes, token: str = TOKEN, **fields: str) -> requests.Response:
        return requests.post(self.url + "/upload", files={"audio": ("call.wav", data, "audio/wav")}, data=fields,
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def raw(self, head: list[str], body: bytes = b"") -> bytes:
        """What the server answers to a request sent as is, read until it closes the connection (a timeout
        when it waits for more of the body instead)."""
        request = "\r\n".join(["POST /webhooks/recordings/upload HTTP/1.1", "Host: 127.0.0.1", *head, "", ""])
        answer = b""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(request.encode() + body)
            try:
                while chunk := s.recv(65536):
                    answer += chunk
            except ConnectionResetError:  # closed with unread body: the answer came before
                assert answer
        return answer

    def nothing_stored(self) -> bool:
        files = list(self.spool_dir.iterdir()) if self.spool_dir.exists() else []
        return files == [] and rows(self.storage.engine) == 0

    def refused(self, status: int) -> bool:
        """The server's log says it answered `status` before reading the body."""
        return f"recording.refused status={status}" in self.log.read_text()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path, lease=3.0, max_bytes=WAV.stat().st_size + 1000)
    server.start()
    yield server
    server.stop()


def test_upload_becomes_one_record(server: Server) -> None:
    data = WAV.read_bytes()
    first = server.upload(data, call_id="call-1", caller="13800138000", start_time="2026-11-21T09:30:00+08:00")
    assert first.status_code == 202 and first.json() == {"call_id": "call-1", "status": "accepted"}
    again = server.upload(data, call_id="call-1")
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    other = server.upload(OTHER_WAV.read_bytes(), call_id="call-1")
    assert other.status_code == 409
    assert other.json() == {"error": "call_id call-1 already used for a different recording"}
    assert server.upload(data, token="wrong-token-0000000000", call_id="call-2").status_code == 401
    assert server.upload(data, call_id="call-4", start_time="2026-11-21T09:30:00.123456+08:00:00.123456").json() \
        == {"error": "start_time: at most 40 characters"}
    too_big = server.upload(data + b"\0" * 2000, call_id="call-3")
    assert too_big.status_code == 413
    stored = wait_for(lambda: server.storage.by_conversation("call:call-1"), 300, "the record")
    assert len(stored) == 1 and stored[0].status in ("handoff", "queued") and stored[0].media
    assert "暖气" in stored[0].record["text"]
    assert stored[0].record["contact"]["phone"]
    time.sleep(1)
    assert len(server.storage.by_conversation("call:call-1")) == 1
    assert len(list(server.spool_dir.iterdir())) == 1 and rows(server.storage.engine) == 1
    assert server.storage.by_conversation("call:call-3") == []


def test_refused_before_the_body_is_read(server: Server) -> None:
    """A wrong token, or a declared length over the limit, is answered with no byte of the body sent, and the
    connection closes (Sanic would otherwise wait for the body, up to its 100 MB limit, to keep it open)."""
    unauthorized = server.raw(["Authorization: Bearer wrong-token-0000000000", "Content-Length: 100000000",
                               "Content-Type: multipart/form-data; boundary=b"])
    assert unauthorized.startswith(b"HTTP/1.1 401 ") and b"connection: close" in unauthorized.lower()
    too_large = server.raw([f"Authorization: Bearer {TOKEN}", f"Content-Length: {WAV.stat().st_size + 70_000}",
                            "Content-Type: multipart/form-data; boundary=b"])
    assert too_large.startswith(b"HTTP/1.1 413 ") and b"recording too large" in too_large
    no_token = server.raw(["Transfer-Encoding: chunked", "Content-Type: multipart/form-data; boundary=b"],
                          b"10000\r\n" + b"\0" * 0x10000 + b"\r\n")  # the first chunk, and no end
    assert no_token.startswith(b"HTTP/1.1 401 ")
    assert server.nothing_stored()


@pytest.mark.parametrize(("content_type", "body", "error"), [
    ("audio/wav", b"RIFF\0\0\0\0WAVE", "multipart/form-data expected"),
    ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno colon\r\n\r\nx\r\n--XyZ--\r\n", "malformed multipart body"),
    ("multipart/form-data; boundary=XyZ", b'--XyZ\r\nContent-Disposition: form-data; name="call_id"\r\n\r\nc-1\r\n'
                                          b"--XyZ--\r\n", "multipart field `audio` is missing"),
], ids=["not multipart", "malformed", "no audio"])
def test_upload_that_is_no_recording_form(server: Server, content_type: str, body: bytes, error: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
    answer = requests.post(server.url + "/upload", data=body, headers=headers, timeout=30)
    assert answer.status_code == 400 and answer.json() == {"error": error} and server.nothing_stored()


@pytest.mark.parametrize("token", ["wrong-token-0000000000", TOKEN])
def test_streamed_upload_over_the_limit(server: Server, token: str) -> None:
    """A chunked upload with no Content-Length, far larger than max_bytes: 401 (wrong token) or 413, and the
    server stops reading long before the client sent it all; nothing is stored."""
    total, sent = 32 * 1024 * 1024, 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        head = b'--b\r\nContent-Disposition: form-data; name="audio"; filename="call.wav"\r\n\r\n'
        yield head
        while sent < total:
            sent += 65536
            yield b"\0" * 65536

    status = 401 if token != TOKEN else 413
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; boundary=b"}
    try:
        answer = requests.post(server.url + "/upload", data=body(), headers=headers, timeout=30)
    except requests.ConnectionError:  # the reset after the server's answer reached the client first
        assert server.refused(status)
    else:
        assert answer.status_code == status and server.refused(status)
    assert sent < total
    assert server.nothing_stored()


def test_accepted_recording_survives_a_kill(server: Server) -> None:
    answer = server.upload(WAV.read_bytes(), call_id="call-kill")
    assert answer.json()["status"] == "accepted"
    server.stop(kill=True)  # long before the models have loaded and the transcript is made
    assert server.storage.by_conversation("call:call-kill") == []
    server.start()
    stored = wait_for(lambda: server.storage.by_conversation("call:call-kill"), 300, "the record after restart")
    assert len(stored) == 1


def test_watch_folder(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    db_url = f"sqlite:///{tmp_path / 'hotline.db'}"
    env = {**os.environ, "HOTLINE_DB_URL": db_url, "HOTLINE_RECORDINGS_DIR": str(tmp_path / "spool")}
    storage = Storage(open_engine(db_url))
    cmd = [sys.executable, "-m", "bot", "intake", "--watch", str(drop)]
    log = open(tmp_path / "watch.log", "ab")  # noqa: SIM115
    watcher = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        (drop / "call-77.json").write_text(json.dumps({"caller": "13900139000"}))  # the sidecar first
        shutil.copy(WAV, drop / "call-77.wav")
        stored = wait_for(lambda: storage.by_conversation("call:call-77"), 300, "the watched recording's record")
        assert len(stored) == 1 and stored[0].record["contact"]["phone"]
        wait_for(lambda: not (drop / "call-77.wav").exists() and not (drop / "call-77.json").exists(), 10,
                 "the dropped files to be taken")
        shutil.copy(WAV, drop / "call-77.wav")  # the telephony system drops the same call again
        wait_for(lambda: not (drop / "call-77.wav").exists(), 30, "the duplicate to be taken")
        assert len(storage.by_conversation("call:call-77")) == 1
        shutil.copy(OTHER_WAV, drop / "call-77.wav")  # the name reused for another call: keyed by its content
        keyed = f"call:sha256:{file_digest(OTHER_WAV)}"
        assert len(wait_for(lambda: storage.by_conversation(keyed), 300, "the reused name's record")) == 1
        assert len(storage.by_conversation("call:call-77")) == 1 and not (drop / "rejected").exists()
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(15)
        except subprocess.TimeoutExpired:
            watcher.kill()
        log.close()

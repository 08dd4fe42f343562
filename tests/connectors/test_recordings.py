"""Call recordings: the spool (idempotent on the call id, whole files only), the upload endpoint over real HTTP
in a process of its own, a restart after a kill, and `hotline intake --watch DIR`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.storage import open_engine
from bot.storage.records import Storage
from connectors.recordings import CallInfo, RecordingError, RecordingsConfig, RecordingSpool
from tests.connectors.test_wechat import _port, wait_for

HERE = Path(__file__).resolve().parent
WAV = HERE.parent / "audio" / "heating.wav"
TOKEN = "telephony-shared-secret-0123"


@pytest.mark.parametrize("fields", [{"call_id": "has space"}, {"call_id": "x" * 101}, {"caller": "138-0013"},
                                    {"started_at": "yesterday"}])
def test_bad_call_info(fields: dict[str, str]) -> None:
    with pytest.raises(RecordingError):
        CallInfo(**fields)


@pytest.mark.parametrize("credentials", [{}, {"token": "short"}, {"token": TOKEN, "max_bytes": 0},
                                         {"token": TOKEN, "max_bytes": "big"}, {"token": TOKEN, "colour": "red"}])
def test_bad_config(credentials: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RecordingsConfig.from_credentials(credentials)


def test_spool_is_idempotent(tmp_path: Path) -> None:
    spool = RecordingSpool(open_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "spool")
    data = WAV.read_bytes()
    assert spool.accept_bytes(data, ".wav", CallInfo("c-1")) == ("c-1", True)
    assert spool.accept_bytes(b"other bytes", ".wav", CallInfo("c-1")) == ("c-1", False)
    row = spool.get("c-1")
    assert row is not None and row.state == "received" and row.path.read_bytes() == data
    keyed, new = spool.accept_bytes(data, ".wav", CallInfo())
    assert new and keyed.startswith("sha256:") and spool.accept_bytes(data, ".wav", CallInfo()) == (keyed, False)
    with pytest.raises(RecordingError):
        spool.accept_bytes(data, ".exe", CallInfo("c-2"))
    assert not list((tmp_path / "spool").glob("*.part"))
    claimed = spool.claim()
    assert claimed is not None and claimed.call_id == "c-1" and spool.claim() is not None and spool.claim() is None


class Server:
    def __init__(self, tmp: Path, lease: float = 600.0, max_bytes: int = 5_000_000) -> None:
        self.db_url = f"sqlite:///{tmp / 'hotline.db'}"
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/recordings"
        self.log = tmp / "server.log"
        credentials = {"token": TOKEN, "db_url": self.db_url, "spool_dir": str(tmp / "spool"), "lease": lease,
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
    assert server.upload(data, token="wrong-token-0000000000", call_id="call-2").status_code == 401
    too_big = server.upload(data + b"\0" * 2000, call_id="call-3")
    assert too_big.status_code == 413
    stored = wait_for(lambda: server.storage.by_conversation("call:call-1"), 300, "the record")
    assert len(stored) == 1 and stored[0].status in ("handoff", "queued") and stored[0].media
    assert "暖气" in stored[0].record["text"]
    assert stored[0].record["contact"]["phone"]
    time.sleep(1)
    assert len(server.storage.by_conversation("call:call-1")) == 1
    assert server.storage.by_conversation("call:call-3") == []


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
        shutil.copy(WAV, drop / "call-77.wav")
        (drop / "call-77.json").write_text(json.dumps({"caller": "13900139000"}))
        stored = wait_for(lambda: storage.by_conversation("call:call-77"), 300, "the watched recording's record")
        assert len(stored) == 1 and stored[0].record["contact"]["phone"]
        wait_for(lambda: not (drop / "call-77.wav").exists() and not (drop / "call-77.json").exists(), 10,
                 "the dropped files to be taken")
        shutil.copy(WAV, drop / "call-77.wav")  # the telephony system drops the same call again
        wait_for(lambda: not (drop / "call-77.wav").exists(), 30, "the duplicate to be taken")
        assert len(storage.by_conversation("call:call-77")) == 1
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(15)
        except subprocess.TimeoutExpired:
            watcher.kill()
        log.close()

"""The Rasa assistant as processes: train it, serve it (Rasa server + action server), chat with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE, STDOUT
from urllib.parse import urlsplit

import yaml

from bot import DATA_DIR, PROJECT_DIR
from bot.desk.config import DeskConfig
from bot.logmask import copy_masked
from bot.storage import database_url

RASA_DIR = PROJECT_DIR / "models" / "rasa"
RASA_MODEL = RASA_DIR / "hotline.tar.gz"
USERDICT = PROJECT_DIR / "models" / "jieba" / "userdict.txt"
DIALOGUE_DATA = [PROJECT_DIR / "nlu_data" / "train", PROJECT_DIR / "nlu_data" / "dialogue"]
# Words jieba must keep whole besides place names: what citizens call things on the hotline.
HOTLINE_WORDS = ("12345", "接诉即办", "转人工", "人工客服", "工单", "暖气", "供暖", "物业", "物业费", "居住证", "社保",
                 "医保", "公积金", "公租房", "摇号", "垃圾分类", "厨余垃圾", "可回收物", "有害垃圾", "其他垃圾", "噪音",
                 "扰民", "拖欠工资", "欠薪", "私搭乱建", "违建", "群租房", "井盖", "路灯", "下水道", "停水", "停电",
                 "燃气", "煤气", "签证", "延期", "派出所", "街道办", "居委会", "村委会", "城管", "共享单车")


def write_userdict(path: Path = USERDICT) -> int:
    """jieba's user dictionary: every district, street/town, community and landmark, plus hotline words."""
    landmarks: dict[str, object] = yaml.safe_load((DATA_DIR / "landmarks.yml").read_text(encoding="utf-8"))
    beijing = json.loads((DATA_DIR / "beijing.json").read_text(encoding="utf-8"))
    words: set[str] = set(HOTLINE_WORDS) | set(landmarks)
    for district, streets in beijing.items():
        words.add(district)
        for street, communities in streets.items():
            words.add(street)
            words.update(communities)
    taxonomy = yaml.safe_load((DATA_DIR / "taxonomy.yml").read_text(encoding="utf-8"))
    for cat in taxonomy["categories"].values():
        for sub in cat["subs"].values():
            words.update(w for w in sub.get("words") or [] if len(w) > 1)
    lines = sorted(f"{w} 2000 n" for w in words if 1 < len(w) <= 20 and " " not in w)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def train(out: Path = RASA_DIR) -> Path:
    """`rasa train` on config.yml, domain.yml and nlu_data/ into models/rasa/hotline.tar.gz."""
    write_userdict()
    cmd = [sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
           "--data", *[str(p) for p in DIALOGUE_DATA], "--out", str(out), "--fixed-model-name", "hotline"]
    subprocess.run(cmd, cwd=PROJECT_DIR, check=True)
    return out / "hotline.tar.gz"


@dataclass(frozen=True)
class ServeOptions:
    """Where the two servers listen; loopback by default."""

    host: str = "127.0.0.1"
    """interface for both servers"""
    port: int = 5005
    """Rasa server (REST channel at /webhooks/rest/webhook)"""
    actions_port: int = 5055
    """action server"""
    model: Path = RASA_MODEL
    """trained Rasa model"""
    credentials: Path = PROJECT_DIR / "credentials.yml"
    """the input channels (REST, WeChat, recording upload) and their settings"""

    @classmethod
    def from_env(cls) -> ServeOptions:
        return cls(host=os.environ.get("HOTLINE_HOST", "127.0.0.1"), port=int(os.environ.get("HOTLINE_PORT", 5005)),
                   actions_port=int(os.environ.get("HOTLINE_ACTIONS_PORT", 5055)),
                   model=Path(os.environ.get("HOTLINE_RASA_MODEL") or RASA_MODEL),
                   credentials=Path(os.environ.get("HOTLINE_CREDENTIALS") or PROJECT_DIR / "credentials.yml"))


def endpoints(opts: ServeOptions, url: str | None = None) -> dict[str, object]:
    """Rasa endpoints: our action server, and the tracker store in the records' database."""
    parts = urlsplit(url or database_url())
    if parts.scheme.startswith("sqlite"):
        store: dict[str, object] = {"type": "SQL", "dialect": "sqlite", "db": parts.path.removeprefix("/")}
    else:
        store = {"type": "SQL", "dialect": parts.scheme, "url": parts.hostname, "port": parts.port,
                 "db": parts.path.removeprefix("/"), "username": parts.username, "password": parts.password}
    return {"action_endpoint": {"url": f"http://{opts.host}:{opts.actions_port}/webhook"}, "tracker_store": store}


def server_env(tensorflow: bool = True) -> dict[str, str]:
    """A server's environment: one torch thread for the classifier and (for a process that runs
    Rasa's policies) one TensorFlow thread, unless set otherwise. Every turn is one short text and the
    processes share the machine's cores; a library spreading each small call over all of them makes
    turns slower, alone and under load (benchmarks/conversation_load.py). The action server has no
    TensorFlow work: Rasa would import TensorFlow just to apply the setting."""
    env = dict(os.environ)
    names = ["HOTLINE_INTAKE_THREADS"]
    if tensorflow:
        names += ["TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"]
    for name in names:
        env.setdefault(name, "1")
    return env


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no answer from {url} after {seconds:.0f} s")


def start(opts: ServeOptions, log_dir: Path | None = None, rasa_server: bool = True,
          desk: bool = False) -> list[subprocess.Popen[bytes]]:
    """Action server, then (unless rasa_server is False) Rasa server, then (with desk) the agent desk with the
    dispatch relay, each ready to answer; stop them with stop()."""
    if not opts.model.exists():
        raise FileNotFoundError(f"no trained assistant at {opts.model}: run `make install`")
    logs = log_dir or PROJECT_DIR / "var"
    logs.mkdir(parents=True, exist_ok=True)
    endpoints_file = logs / "endpoints.yml"
    endpoints_file.write_text(yaml.safe_dump(endpoints(opts)), encoding="utf-8")
    rasa = [sys.executable, "-m", "rasa"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([*rasa, "run", "actions", "--actions", "bot.actions", "--port",
                                       str(opts.actions_port)], cwd=PROJECT_DIR, env=server_env(tensorflow=False),
                                      stdout=PIPE, stderr=STDOUT))
        assert procs[0].stdout is not None
        copy_masked(procs[0].stdout, logs / "actions.log")
        _wait(f"http://{opts.host}:{opts.actions_port}/health", procs[0], 120)
        if not rasa_server:
            return procs
        procs.append(subprocess.Popen(
            [*rasa, "run", "--enable-api", "--interface", opts.host, "--port", str(opts.port), "--model",
             str(opts.model), "--endpoints", str(endpoints_file), "--credentials", str(opts.credentials)],
            cwd=PROJECT_DIR, env=server_env(), stdout=PIPE, stderr=STDOUT))
        assert procs[1].stdout is not None
        copy_masked(procs[1].stdout, logs / "rasa.log")
        _wait(f"http://{opts.host}:{opts.port}/status", procs[1], 300)
        if desk:
            config = DeskConfig.from_env()
            procs.append(subprocess.Popen([sys.executable, "-m", "bot", "desk"], cwd=PROJECT_DIR, stdout=PIPE,
                                          stderr=STDOUT))
            assert procs[2].stdout is not None
            copy_masked(procs[2].stdout, logs / "desk.log")
            _wait(f"http://{config.host}:{config.port}/login", procs[2], 120)
    except BaseException:
        stop(procs)
        raise
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM, then SIGKILL whatever has not exited after 20 s."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(opts: ServeOptions) -> int:
    """Run both servers until Ctrl-C (or SIGTERM) or until one of them dies; both are stopped on the way out."""
    signal.signal(signal.SIGTERM, _interrupt)
    procs = start(opts, desk=True)
    desk = DeskConfig.from_env()
    print(f"hotline: REST channel at http://{opts.host}:{opts.port}/webhooks/rest/webhook, agent desk at "
          f"http://{desk.host}:{desk.port}/ (logs in var/); Ctrl-C stops", flush=True)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(procs)


def chat(opts: ServeOptions) -> int:
    """Talk to the assistant in this terminal (rasa shell) with the action server behind it."""
    procs = start(opts, rasa_server=False)
    try:
        return subprocess.run([sys.executable, "-m", "rasa", "shell", "--model", str(opts.model), "--endpoints",
                               str(PROJECT_DIR / "var" / "endpoints.yml"), "--port", str(opts.port)],
                              cwd=PROJECT_DIR, env=server_env()).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        stop(procs)

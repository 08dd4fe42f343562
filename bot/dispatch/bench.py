"""Dispatch throughput (`hotline bench --dispatch`): records pushed through extract -> store -> relay -> the
reference sink on loopback, one stage after the other, and counted at both ends: none may be lost or
duplicated. The sink runs in its own process, as a receiver would. The baseline of the same run: the same
records POSTed straight to the sink at the same concurrency, without the outbox."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.engine import Engine

from bot import PROJECT_DIR
from bot.dispatch.client import DispatchClient, record_body
from bot.dispatch.config import DispatchConfig
from bot.dispatch.relay import Relay
from bot.intake.dataset import HELDOUT_FILE, read_examples, train_files
from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor, Message
from bot.record import ComplaintRecord
from bot.storage import Outbox, Storage, open_engine

BATCH = 64


def run(records: int = 1000, extractor: Extractor | None = None) -> dict[str, Any]:
    """Records/s of each stage and end to end, with the outbox's and the sink's counts. Every record is
    queued for dispatch, whatever its own decision; one the receiver refuses (Open311 needs a location)
    goes back to the desk, which is not a loss. HOTLINE_DB_URL, when set, must name an empty database (the
    bench writes its records there); otherwise a temporary SQLite file is used."""
    if records < 1:
        raise ValueError("the dispatch bench needs at least one record")
    with tempfile.TemporaryDirectory(prefix="hotline-dispatch-bench-") as tmp:
        engine = open_engine(os.environ.get("HOTLINE_DB_URL") or f"sqlite:///{Path(tmp) / 'hotline.db'}")
        store = Storage(engine)
        if store.search(limit=1):
            raise ValueError("bench --dispatch writes test records: HOTLINE_DB_URL must name an empty database "
                             "(or leave it unset for a temporary one)")
        extractor = extractor or Extractor.load()
        extractor.extract("暖气不热")  # the first call builds lazy tables (pinyin, OpenCC): not the stage's cost
        texts = _texts(records)
        run_id = uuid.uuid4().hex[:8]  # distinct record ids from one run to the next

        t0 = time.perf_counter()
        extracted: list[ComplaintRecord] = []
        for b in range(0, len(texts), BATCH):
            batch: list[Message | str] = [Message(t, channel="cli", message_id=f"bench-{run_id}-{b + i}")
                                          for i, t in enumerate(texts[b:b + BATCH])]
            extracted += [r for r in extractor.extract_many(batch) if not isinstance(r, IntakeError)]
        extract_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        for record in extracted:
            store.save(record, "queued")
        store_s = time.perf_counter() - t0

        config = replace(DispatchConfig.from_env(), poll_interval=0.05)
        with _SinkProcess(Path(tmp) / "sink.db") as url:
            relay_s, sink = asyncio.run(_relay(engine, replace(config, url=url), len(extracted)))
            direct_s = asyncio.run(_direct(url, [r.to_dict() for r in extracted], config.concurrency))
        counts = Outbox(engine).counts()
        engine.dispose()

    total = extract_s + store_s + relay_s
    return {
        "records": records,
        "extracted": len(extracted),
        "format": config.format,
        "concurrency": config.concurrency,
        "extract_records_per_s": round(len(texts) / extract_s, 1),
        "store_records_per_s": round(len(extracted) / store_s, 1),
        "relay_records_per_s": round(len(extracted) / relay_s, 1),
        "end_to_end_records_per_s": round(len(extracted) / total, 1),
        "direct_post_records_per_s": round(len(extracted) / direct_s, 1),
        "relay_vs_direct_post": round(direct_s / relay_s, 2),
        "outbox": counts,
        "sink": sink,
        "refused": counts["dead"],
        "lost": len(extracted) - counts["dead"] - sink["tickets"],
        "duplicated": sink["unique"] - sink["tickets"],
    }


def _texts(n: int) -> list[str]:
    base = [e.text for e in read_examples([HELDOUT_FILE] if HELDOUT_FILE.exists() else train_files())]
    return [base[i % len(base)] for i in range(n)]


class _SinkProcess:
    """`hotline dispatch-sink` on a free loopback port, in its own process, for the length of a with block."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "dispatch-sink", "--port", "0", "--db",
                                         str(self.db)], stdout=subprocess.PIPE, text=True, cwd=PROJECT_DIR)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("dispatch sink on "):
            self.process.kill()
            raise RuntimeError(f"the dispatch sink did not start: {line!r}")
        return line.split()[3]

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


async def _direct(url: str, records: list[dict[str, Any]], concurrency: int) -> float:
    """Seconds to POST the same records straight to the sink at the same concurrency, with no outbox: the
    baseline the relay's rate is compared with (the sink counts these apart, under their own keys)."""
    slots = asyncio.Semaphore(concurrency)

    async def post(session: aiohttp.ClientSession, record: dict[str, Any]) -> None:
        async with slots, session.post(f"{url}/records", json=record_body(record, None),
                                       headers={"Idempotency-Key": uuid.uuid4().hex}) as response:
            response.raise_for_status()

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(post(session, r) for r in records))
        return time.perf_counter() - t0


async def _relay(engine: Engine, config: DispatchConfig, expected: int) -> tuple[float, dict[str, Any]]:
    """Seconds the relay took to settle every queued row, and the sink's counts afterwards."""
    outbox = Outbox(engine)
    stop = asyncio.Event()
    async with DispatchClient(config) as client:
        t0 = time.perf_counter()
        relay = asyncio.create_task(Relay(engine, config, client).run(stop))
        while True:
            counts = await asyncio.to_thread(outbox.counts)
            if counts["delivered"] + counts["dead"] >= expected or relay.done():
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        stop.set()
        await relay
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{config.url}/stats") as response:
            stats: dict[str, Any] = await response.json()
    return elapsed, stats

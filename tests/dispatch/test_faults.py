"""Faults between the relay and the receiver: 500s, connection resets, held requests, and a relay killed while
the receiver holds its request. Whatever happens, every record reaches the receiver exactly once. The delay
from enqueue to delivery is printed (pytest -s shows it)."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from bot import PROJECT_DIR
from bot.storage import Outbox, Storage
from tests.dispatch.conftest import PHONES, delays, fast_config, outbox_rows, relay_until_settled, sink_at, sink_stats


def assert_exactly_once(engine, sink_db, records):
    """Every record delivered, and the receiver holds each dispatch once, under the outbox row's key."""
    rows = outbox_rows(engine)
    assert len(rows) == len(records) and {r["state"] for r in rows} == {"delivered"}
    store = Storage(engine)
    assert {store.get(r["id"]).status for r in records} == {"dispatched"}
    with sqlite3.connect(sink_db) as db:
        received = db.execute("SELECT key, ticket FROM requests").fetchall()
    assert sorted(key for key, _ in received) == sorted(r["key"] for r in rows)
    assert sorted(ticket for _, ticket in received) == sorted(store.get(r["id"]).ticket for r in records)


@pytest.mark.parametrize("faults, fmt", [
    ({"error": 50}, "json"),
    ({"reset": 50}, "json"),
    ({"hang": 100, "first": 1}, "json"),
    ({"error": 20, "reset": 20, "hang": 10}, "open311"),
])
def test_every_record_arrives_once_through_faults(tmp_path, engine, queue, faults, fmt):
    records = queue(16)

    async def run():
        async with sink_at(tmp_path / "sink.db", **faults) as (url, _sink):
            config = fast_config(url, format=fmt, max_attempts=40)
            counts = await relay_until_settled(engine, config)
            return counts, await sink_stats(url)

    counts, stats = asyncio.run(run())
    print(f"\n{faults} {fmt}: {stats}\n{delays(engine)[1]}")
    assert counts["delivered"] == 16
    assert (stats["unique"], stats["tickets"]) == (16, 16)
    struck = stats["faults"]
    assert sum(struck.values()) > 0, "the faults never struck"
    # A 500 stores nothing; a reset or a held request stores, and its retry is answered as a duplicate. On a
    # busy machine an answer may also come after the client's timeout: that retry is a duplicate too.
    late = stats["received"] - 16 - sum(struck.values())
    assert late >= 0
    assert stats["duplicates"] == struck.get("reset", 0) + struck.get("hang", 0) + late
    assert_exactly_once(engine, tmp_path / "sink.db", records)


def start_relay(tmp_path, url, name):
    env = os.environ | {
        "HOTLINE_DB_URL": f"sqlite:///{tmp_path / 'hotline.db'}", "HOTLINE_DISPATCH_URL": url,
        "HOTLINE_DISPATCH_TIMEOUT": "2", "HOTLINE_DISPATCH_CONNECT_TIMEOUT": "1", "HOTLINE_DISPATCH_LEASE": "2.5",
        "HOTLINE_DISPATCH_BACKOFF_BASE": "0.05", "HOTLINE_DISPATCH_BACKOFF_CAP": "0.5",
        "HOTLINE_DISPATCH_CONCURRENCY": "4", "HOTLINE_DISPATCH_POLL_INTERVAL": "0.05",
    }
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "bot", "relay", "--verbose"], env=env, cwd=PROJECT_DIR,
                            stdout=log, stderr=subprocess.STDOUT)


def test_relay_killed_while_the_receiver_holds_its_request(tmp_path, engine, queue):
    """SIGKILL `hotline relay` while a request of it is held by the receiver; a new relay delivers everything,
    and the held request's record arrives once, not twice."""
    records = queue(16)
    rows = Outbox(engine)

    async def run():
        # 30% of first attempts are held for a minute: longer than the relay waits (2 s).
        async with sink_at(tmp_path / "sink.db", hang=30, first=1, hang_seconds=60) as (url, sink):
            first = start_relay(tmp_path, url, "relay1")
            try:
                # Kill when the relay waits on a request the sink holds, and some records were delivered.
                while True:
                    assert first.poll() is None, (tmp_path / "relay1.log").read_text()
                    state = await asyncio.to_thread(outbox_rows, engine)
                    waiting = {r["key"] for r in state if r["state"] == "sending"} & set(sink.held)
                    if waiting and sum(r["state"] == "delivered" for r in state) >= 2:
                        break
                    await asyncio.sleep(0.02)
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=30)
            at_kill = await asyncio.to_thread(rows.counts)
            second = start_relay(tmp_path, url, "relay2")
            try:
                while True:
                    counts = await asyncio.to_thread(rows.counts)
                    if counts["pending"] == counts["sending"] == 0:
                        break
                    assert second.poll() is None, (tmp_path / "relay2.log").read_text()
                    await asyncio.sleep(0.05)
            finally:
                second.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(second.wait, 30)
            return waiting, at_kill, counts, await sink_stats(url), code

    waiting, at_kill, counts, stats, code = asyncio.run(run())
    logs = (tmp_path / "relay1.log").read_text() + (tmp_path / "relay2.log").read_text()
    print(f"\nat the kill: {at_kill}, {len(waiting)} held by the sink\nafter the restart: {counts}\n"
          f"sink: {stats}\n{delays(engine)[1]}")
    # the held requests' rows were sent again by the second relay, and answered as duplicates
    assert all(r["attempts"] >= 2 for r in outbox_rows(engine) if r["key"] in waiting)
    assert code == 0  # SIGTERM is a clean stop
    assert counts == {"pending": 0, "sending": 0, "delivered": 16, "dead": 0}
    assert (stats["unique"], stats["tickets"]) == (16, 16) and stats["duplicates"] >= 1
    assert_exactly_once(engine, tmp_path / "sink.db", records)
    assert "delivered" in logs and not any(p in logs for p in PHONES)

"""bot/dispatch/relay: deliver, retry with backoff, give up to the desk, read back the remote status, stop cleanly;
and the dispatch bench end to end."""

import asyncio
import logging
import random
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from bot.dispatch import bench
from bot.dispatch.client import DispatchClient
from bot.dispatch.relay import Relay, backoff
from bot.storage import Outbox, Storage, open_engine
from tests.dispatch.conftest import (
    PHONES,
    fast_config,
    outbox_rows,
    receiver,
    relay_until_settled,
    sink_at,
    sink_stats,
)


@pytest.mark.parametrize("attempts, bound", [(1, 0.05), (2, 0.1), (3, 0.2), (4, 0.4), (5, 0.5), (60, 0.5),
                                             (10_000, 0.5)])
def test_backoff_is_full_jitter_under_a_doubling_bound(attempts, bound):
    rng = random.Random(3)
    delays = [backoff(attempts, 0.05, 0.5, rng) for _ in range(2000)]
    assert all(0 <= d <= bound for d in delays)
    # full jitter: the whole range is used, not a band near the bound
    assert min(delays) < bound * 0.05 and max(delays) > bound * 0.95


@pytest.mark.parametrize("fmt", ["json", "open311"])
def test_delivers_every_record_once(tmp_path, engine, queue, fmt):
    records = queue(6)

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink):
            # Timeouts generous enough that a busy machine does not turn a slow answer into a retry: here
            # nothing fails, so every record must go out exactly once.
            config = fast_config(url, format=fmt, total_timeout=10.0, lease=15.0)
            counts = await relay_until_settled(engine, config)
            return counts, await sink_stats(url)

    counts, stats = asyncio.run(run())
    assert counts == {"pending": 0, "sending": 0, "delivered": 6, "dead": 0}
    assert (stats["received"], stats["unique"], stats["tickets"], stats["duplicates"]) == (6, 6, 6, 0)
    store = Storage(engine)
    assert all(store.get(r["id"]).status == "dispatched" for r in records)
    rows = outbox_rows(engine)
    assert {r["format"] for r in rows} == {fmt} and all(r["remote_id"] and r["attempts"] == 1 for r in rows)


def test_retries_then_succeeds_and_logs_no_personal_data(tmp_path, engine, queue, caplog):
    records = queue(4)
    caplog.set_level(logging.INFO, logger="bot.dispatch")

    async def run():
        async with sink_at(tmp_path / "sink.db", error=100, first=2) as (url, _sink):
            counts = await relay_until_settled(engine, fast_config(url))
            return counts, await sink_stats(url)

    counts, stats = asyncio.run(run())
    assert counts["delivered"] == 4
    assert (stats["received"], stats["unique"], stats["faults"]) == (12, 4, {"error": 8})
    assert all(r["attempts"] == 3 and r["last_error"] is None for r in outbox_rows(engine))
    assert "retry in" in caplog.text and "delivered" in caplog.text
    assert not any(p in caplog.text for p in PHONES) and not any(r["text"] in caplog.text for r in records)


def test_gives_up_after_max_attempts_and_the_record_returns_to_the_desk(tmp_path, engine, queue):
    [record] = queue(1)

    async def run():
        async with sink_at(tmp_path / "sink.db", error=100) as (url, _sink):
            counts = await relay_until_settled(engine, fast_config(url, max_attempts=3))
            return counts, await sink_stats(url)

    counts, stats = asyncio.run(run())
    assert counts["dead"] == 1 and stats["received"] == 3 and stats["unique"] == 0
    stored = Storage(engine).get(record["id"])
    assert stored.status == "dead" and "3次尝试" in stored.note and "HTTP 500" in stored.note
    assert [s.id for s in Storage(engine).queue()] == [record["id"]]


def test_a_refused_record_is_dead_at_once(tmp_path, engine, queue):
    [bad] = queue(1, subcategory="utilities.teleportation")
    [good] = queue(1)

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink):
            counts = await relay_until_settled(engine, fast_config(url))
            return counts, await sink_stats(url)

    counts, stats = asyncio.run(run())
    assert (counts["dead"], counts["delivered"]) == (1, 1) and stats["received"] == 2
    stored = Storage(engine).get(bad["id"])
    assert stored.status == "dead" and "HTTP 400" in stored.note and "unknown subcategory" in stored.note
    assert [r["attempts"] for r in outbox_rows(engine)] == [1, 1]
    assert Storage(engine).get(good["id"]).status == "dispatched"


@pytest.mark.parametrize("fmt, close", [("json", "/records/{id}/close"),
                                        ("open311", "/open311/v2/requests/{id}/close.json")])
def test_status_read_back_closes_a_record(tmp_path, engine, queue, fmt, close):
    first, second = queue(2)

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink):
            config = fast_config(url, format=fmt)
            await relay_until_settled(engine, config)
            remote = {r["record_id"]: r["remote_id"] for r in outbox_rows(engine)}
            async with aiohttp.ClientSession() as session:
                async with session.post(url + close.format(id=remote[first["id"]])) as response:
                    assert response.status == 200
            async with DispatchClient(config) as client:
                relay = Relay(engine, config, client)
                assert await relay.poll_status() == 1
                assert await relay.poll_status() == 0

    asyncio.run(run())
    store = Storage(engine)
    assert store.get(first["id"]).status == "closed" and store.get(second["id"]).status == "dispatched"
    assert [r["remote_status"] for r in outbox_rows(engine)] == ["closed", "open"]
    assert len(Outbox(engine).delivered_open()) == 1


def test_drain_once_and_retry_after(tmp_path, engine, queue):
    """A 503 with Retry-After waits at least that long (within the backoff cap), whatever the jitter drew."""
    queue(3)

    async def busy(_request):
        return web.Response(status=503, text="维护中", headers={"Retry-After": "30"})

    async def run():
        async with receiver(busy, "/records") as url:
            config = fast_config(url, concurrency=2, backoff_cap=60)
            async with DispatchClient(config) as client:
                relay = Relay(engine, config, client)
                before = datetime.now(timezone.utc)
                assert await relay.drain_once() == 2
                assert await relay.drain_once() == 1
                assert await relay.drain_once() == 0
                return before

    before = asyncio.run(run())
    rows = outbox_rows(engine)
    assert all(r["state"] == "pending" and "HTTP 503: 维护中" in r["last_error"] for r in rows)
    assert all((r["next_at"].replace(tzinfo=timezone.utc) - before).total_seconds() >= 29.9 for r in rows)


def test_stop_lets_requests_in_flight_finish_and_records_their_outcome(tmp_path, engine, queue):
    queue(3)

    async def run():
        async with sink_at(tmp_path / "sink.db", hang=100) as (url, sink):
            config = fast_config(url, total_timeout=0.5, connect_timeout=0.5, lease=30)
            stop = asyncio.Event()
            async with DispatchClient(config) as client:
                task = asyncio.create_task(Relay(engine, config, client).run(stop))
                while sink.held.total() < 3:
                    await asyncio.sleep(0.02)
                stop.set()
                await asyncio.wait_for(task, 10)

    asyncio.run(run())
    # nothing is left leased to a relay that has gone: the rows wait for their retry
    assert {r["state"] for r in outbox_rows(engine)} == {"pending"}


def test_a_status_read_that_fails_is_logged_and_tried_next_round(tmp_path, engine, queue, caplog):
    queue(1)

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink):
            await relay_until_settled(engine, fast_config(url))
        async with DispatchClient(fast_config(url)) as client:  # the sink has gone
            assert await Relay(engine, fast_config(url), client).poll_status() == 0

    asyncio.run(run())
    assert "status not read back" in caplog.text and outbox_rows(engine)[0]["remote_status"] == "open"


def test_bench_pushes_records_through_without_loss_or_duplicates(extractor, monkeypatch):
    monkeypatch.delenv("HOTLINE_DB_URL", raising=False)
    result = bench.run(records=200, extractor=extractor)
    print(result)
    assert result["extracted"] == 200 and result["lost"] == result["duplicated"] == result["refused"] == 0
    assert result["outbox"] == {"pending": 0, "sending": 0, "delivered": 200, "dead": 0}
    sink = result["sink"]
    assert (sink["received"], sink["unique"], sink["tickets"], sink["duplicates"]) == (200, 200, 200, 0)


def test_bench_refuses_a_database_with_records(tmp_path, monkeypatch, make_record, extractor):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    Storage(open_engine(url)).save(make_record(), "handoff")
    monkeypatch.setenv("HOTLINE_DB_URL", url)
    with pytest.raises(ValueError, match="empty database"):
        bench.run(records=5, extractor=extractor)

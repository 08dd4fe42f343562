"""Records, a database, the reference sink on a free loopback port, and a relay run until the outbox settles."""

import asyncio
import itertools
import random
import statistics
from contextlib import asynccontextmanager

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.dispatch.client import DispatchClient
from bot.dispatch.config import DispatchConfig
from bot.dispatch.relay import Relay
from bot.dispatch.sink import Faults, Sink, running
from bot.intake.extractor import Message
from bot.storage import Outbox, Storage, open_engine
from bot.storage.schema import outbox

TEXTS = [
    "朝阳区望京街道望京西园三区{n}号楼暖气不热，电话13911112222",
    "海淀区中关村街道{n}号院门口路灯不亮好几天了，我姓王，电话13800138000",
    "我要举报朝阳区望京街道有群租房，{n}号楼住了十几个人，我姓李，电话13911112223",
    "东城区东华门街道{n}号楼下水道堵了，污水反上来，电话13700001111",
]
PHONES = ("13911112222", "13800138000", "13911112223", "13700001111")


@pytest.fixture()
def engine(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'hotline.db'}")
    yield engine
    engine.dispose()


@pytest.fixture()
def make_record(extractor):
    """make(text=None, **changes) -> a record dict; each call a new record (its own message id)."""
    counter = itertools.count(1)

    def make(text=None, **changes):
        n = next(counter)
        message = Message((text or TEXTS[n % len(TEXTS)]).format(n=n), channel="phone", message_id=f"test-{n}")
        return extractor.extract(message).to_dict() | changes

    return make


@pytest.fixture()
def queue(engine, make_record):
    """queue(n) -> n new records saved as queued for dispatch."""

    def put(n, **changes):
        store = Storage(engine)
        records = [make_record(**changes) for _ in range(n)]
        for record in records:
            store.save(record, "queued")
        return records

    return put


def fast_config(url, **changes):
    """Small timeouts and backoff so that faults cost fractions of a second."""
    values = {"url": url, "connect_timeout": 0.5, "total_timeout": 1.0, "lease": 1.5, "backoff_base": 0.05,
              "backoff_cap": 0.5, "poll_interval": 0.02, "status_interval": 3600.0, "concurrency": 8}
    return DispatchConfig(**(values | changes))


@asynccontextmanager
async def sink_at(path, seed=1, **faults):
    """The reference sink on a free loopback port: yields (url, sink)."""
    sink = Sink(path, Faults(**faults), seed=seed)
    async with running(sink) as url:
        yield url, sink


@asynccontextmanager
async def receiver(handler, *paths):
    """A stand-in receiver answering POSTs to `paths` with `handler`, for answers the sink never gives."""
    app = web.Application()
    for path in paths:
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def sink_stats(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/stats") as response:
            return await response.json()


async def relay_until_settled(engine, config, limit=60.0):
    """Run a relay until no row is pending or being sent; the outbox counts then. `limit` only guards
    against a hung test."""
    rows = Outbox(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with DispatchClient(config) as client:
        task = asyncio.create_task(Relay(engine, config, client, rng=random.Random(7)).run(stop))
        deadline = loop.time() + limit
        while True:
            counts = await asyncio.to_thread(rows.counts)
            if counts["pending"] == counts["sending"] == 0 or task.done():
                break
            assert loop.time() < deadline, f"outbox not settled: {counts}"
            await asyncio.sleep(0.05)
        stop.set()
        await task
    return counts


def outbox_rows(engine):
    with engine.connect() as db:
        return [dict(r) for r in db.execute(sa.select(outbox).order_by(outbox.c.seq)).mappings()]


def delays(engine):
    """Seconds from enqueue to delivery of every delivered row, with a one-line summary to print."""
    seconds = sorted((r["delivered_at"] - r["created_at"]).total_seconds() for r in outbox_rows(engine)
                     if r["delivered_at"] is not None)
    line = (f"enqueue->delivery over {len(seconds)} records: min {seconds[0]:.3f} s, "
            f"median {statistics.median(seconds):.3f} s, max {seconds[-1]:.3f} s") if seconds else "none delivered"
    return seconds, line

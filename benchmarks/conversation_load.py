"""Bot turn latency with 20 concurrent conversations over the REST channel on loopback.

Starts the Rasa server and the action server (bot.assistant.start) with a scratch database, warms
them up, then measures three loads:
- alone (the baseline in the same run): one conversation, nobody else on the line;
- steady: CONVERSATIONS citizens, each holding full demand conversations one after another for the
  whole round, so that 20 are always under way. Citizens start at random moments within two THINK
  periods (that ramp is not counted) and take between half and one and a half THINK seconds before
  each next message, as people reading and typing do;
- back-to-back: CONVERSATIONS conversations whose citizens answer the instant the reply arrives (the
  server's capacity).

    .venv/bin/python benchmarks/conversation_load.py [--conversations 20] [--rounds 3] [--seconds 60]
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bot.assistant import ServeOptions, start, stop

SCRIPT = ["你好", "我家暖气一点都不热，屋里才十五度", "朝阳区", "望京街道", "望京西园三区5号楼2单元",
          "一三九一一一一二二二二", "对的", "没有了"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def conversation(session, url, times, think=0.0, rng=None, counted=None):
    """One demand conversation; each turn's seconds go to times when counted() says so (default: all)."""
    sender = uuid.uuid4().hex
    for i, text in enumerate(SCRIPT):
        if think and i:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)  # a citizen reads the reply and types
        count = counted is None or counted()
        t0 = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": text}) as resp:
            replies = await resp.json()
        if count:
            times.append(time.perf_counter() - t0)
        if not replies:
            raise RuntimeError(f"no reply to {text!r}")


async def citizen(session, url, times, think, rng, counted, end):
    await asyncio.sleep(rng.uniform(0, 2 * think))  # citizens do not all call in the same instant
    while time.perf_counter() < end:
        await conversation(session, url, times, think, rng, counted)


async def run(url, conversations, think=0.0, seconds=0.0, seed=0):
    """Without think: conversations at once, back to back. With it: citizens for seconds after the ramp."""
    times: list[float] = []
    rng = random.Random(seed)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        t0 = time.perf_counter()
        if think:
            start_at, end = t0 + 2 * think, t0 + 2 * think + seconds

            def counted():  # only turns sent while all citizens are on the line; the last ones finish uncounted
                return start_at <= time.perf_counter() < end

            await asyncio.gather(*(citizen(session, url, times, think, rng, counted, end)
                                   for _ in range(conversations)))
        else:
            await asyncio.gather(*(conversation(session, url, times) for _ in range(conversations)))
        wall = time.perf_counter() - t0
    return times, wall


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--think", type=float, default=3.0, help="seconds a citizen takes before the next message")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds of steady load per round")
    args = ap.parse_args()
    if args.think <= 0 or args.seconds <= 0:
        ap.error("--think and --seconds must be positive")
    scratch = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    os.environ["HOTLINE_DB_URL"] = f"sqlite:///{scratch / 'hotline.db'}"
    opts = ServeOptions(port=free_port(), actions_port=free_port())
    procs = start(opts, log_dir=scratch)
    url = f"http://{opts.host}:{opts.port}/webhooks/rest/webhook"
    try:
        asyncio.run(run(url, 2))  # warm-up: models loaded, caches filled
        alone, steady, loaded, loaded_wall = [], [], [], 0.0
        for n in range(args.rounds):
            alone += asyncio.run(run(url, 1))[0]
            steady += asyncio.run(run(url, args.conversations, args.think, args.seconds, seed=n))[0]
            times, wall = asyncio.run(run(url, args.conversations))
            loaded += times
            loaded_wall += wall
        result = {
            "turns_alone": len(alone), "alone_median_ms": round(1000 * statistics.median(alone), 1),
            "alone_p95_ms": round(1000 * pct(alone, 0.95), 1),
            "think_s": args.think, "turns_steady": len(steady),
            "steady_median_ms": round(1000 * statistics.median(steady), 1),
            "steady_p95_ms": round(1000 * pct(steady, 0.95), 1),
            "steady_median_ratio_to_alone": round(statistics.median(steady) / statistics.median(alone), 2),
            "turns_concurrent": len(loaded), "concurrent_median_ms": round(1000 * statistics.median(loaded), 1),
            "concurrent_p95_ms": round(1000 * pct(loaded, 0.95), 1),
            "median_ratio_to_alone": round(statistics.median(loaded) / statistics.median(alone), 2),
            "turns_per_second": round(len(loaded) / loaded_wall, 1),
        }
        print(json.dumps(result, indent=1))
    finally:
        stop(procs)


if __name__ == "__main__":
    main()

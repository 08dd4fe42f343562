"""The relay (`hotline relay`): delivers the outbox to the dispatch API and reads back what became of it.

Every bit of state is in the database: a row is leased before it is sent, so a relay killed mid-request
leaves it to be claimed again once the lease ends, and the receiver dedupes the second send on the row's
Idempotency-Key. Transient failures wait an exponential backoff with full jitter; permanent ones, and
transient ones past the attempt limit, return the record to the agent desk with the reason."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from bot.dispatch.client import DispatchClient, PermanentDispatchError, TransientDispatchError
from bot.dispatch.config import DispatchConfig
from bot.logmask import mask
from bot.storage.outbox import Outbox, OutboxItem

log = logging.getLogger(__name__)

STATUS_PAGE = 100


def backoff(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: full jitter, uniform(0, min(cap, base * 2**(n-1)))."""
    return rng.uniform(0, min(cap, base * 2.0 ** min(attempts - 1, 64)))


class Relay:
    """Claims due outbox rows, sends them through `client`, records each outcome."""

    def __init__(self, engine: Engine, config: DispatchConfig, client: DispatchClient,
                 rng: random.Random | None = None) -> None:
        self.outbox = Outbox(engine)
        self.config = config
        self.client = client
        self.rng = rng or random.Random()
        self._status_slots = asyncio.Semaphore(config.concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then let the requests in flight finish (each within the request
        timeout) and record their outcome, so nothing waits for a lease to end after a clean stop."""
        loop = asyncio.get_running_loop()
        inflight: set[asyncio.Task[None]] = set()
        status_round: asyncio.Task[int] | None = None
        next_status = loop.time()
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                free = self.config.concurrency - len(inflight)
                if free > 0:
                    # Claim no more than there are free slots: a lease starts when its request can start.
                    for item in await self._claim(free):
                        inflight.add(asyncio.create_task(self._deliver(item)))
                if (status_round is None or status_round.done()) and loop.time() >= next_status:
                    status_round = asyncio.create_task(self.poll_status())
                    next_status = loop.time() + self.config.status_interval
                # Wake when a slot frees (more may be due), at the poll interval, or on stop.
                await asyncio.wait(inflight | {stopping}, timeout=self.config.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                inflight = {task for task in inflight if not task.done()}
        finally:
            stopping.cancel()
            if status_round is not None:
                status_round.cancel()
            await asyncio.gather(*inflight, *([status_round] if status_round else []), return_exceptions=True)

    async def drain_once(self) -> int:
        """Claim what is due (up to `concurrency` rows), send it all and record the outcomes; rows handled."""
        items = await self._claim(self.config.concurrency)
        await asyncio.gather(*(self._deliver(item) for item in items))
        return len(items)

    async def poll_status(self) -> int:
        """Read back the remote status of every delivered record not closed yet; the number now closed."""
        closed = after = 0
        while True:
            try:
                page = await asyncio.to_thread(self.outbox.delivered_open, STATUS_PAGE, after)
            except Exception as e:  # the database is down or locked: the next round reads again
                log.error("dispatch: cannot read delivered rows (%s)", type(e).__name__)
                return closed
            if not page:
                return closed
            results = await asyncio.gather(*(self._read_status(seq, fmt, remote_id) for seq, fmt, remote_id in page))
            closed += sum(results)
            after = page[-1][0]

    async def _claim(self, limit: int) -> list[OutboxItem]:
        try:
            return await asyncio.to_thread(self.outbox.claim, limit, self.config.lease)
        except Exception as e:  # the database is down or locked: try again at the next poll
            log.error("dispatch: cannot claim from the outbox (%s)", type(e).__name__)
            return []

    async def _deliver(self, item: OutboxItem) -> None:
        """One attempt of one row, and its outcome recorded."""
        name = f"seq={item.seq} ticket={item.ticket or item.record_id} attempt={item.attempts}"
        try:
            try:
                delivery = await self.client.send(item)
            except PermanentDispatchError as e:
                log.warning("dispatch %s refused, back to the desk: %s", name, mask(str(e)))
                await asyncio.to_thread(self.outbox.dead, item, str(e))
                return
            except Exception as e:  # transient, or a fault of ours that a later attempt may not meet
                reason = str(e) if isinstance(e, TransientDispatchError) else f"unexpected {type(e).__name__}"
                await self._retry_or_give_up(item, name, reason, getattr(e, "retry_after", None))
                return
            await asyncio.to_thread(self.outbox.delivered, item, delivery.format, delivery.remote_id, delivery.status)
            waited = (datetime.now(timezone.utc) - item.created_at).total_seconds()
            log.info("dispatch %s delivered as %s %s, %.2f s after enqueue", name, delivery.format,
                     delivery.remote_id, waited)
        except Exception as e:
            # Recording the outcome failed (the database): the lease runs out and the row is sent again,
            # which the receiver dedupes. The exception's text may quote the record, so only its type is logged.
            log.error("dispatch %s: outcome not recorded (%s); resent after the lease", name, type(e).__name__)

    async def _retry_or_give_up(self, item: OutboxItem, name: str, reason: str, retry_after: float | None) -> None:
        if item.attempts >= self.config.max_attempts:
            log.warning("dispatch %s failed, giving up after %d attempts: %s", name, item.attempts, mask(reason))
            await asyncio.to_thread(self.outbox.dead, item, reason)
            return
        delay = backoff(item.attempts, self.config.backoff_base, self.config.backoff_cap, self.rng)
        if retry_after is not None:  # the receiver asked for a pause: honour it, within the cap
            delay = max(delay, min(retry_after, self.config.backoff_cap))
        log.warning("dispatch %s failed, retry in %.2f s: %s", name, delay, mask(reason))
        await asyncio.to_thread(self.outbox.retry, item, reason, delay)

    async def _read_status(self, seq: int, fmt: str, remote_id: str) -> bool:
        async with self._status_slots:
            try:
                status = await self.client.status(fmt, remote_id)
            except Exception as e:
                log.warning("dispatch seq=%s: status not read back: %s", seq, mask(str(e)))
                return False
        try:
            await asyncio.to_thread(self.outbox.remote_status, seq, status)
        except Exception as e:  # read again next round
            log.error("dispatch seq=%s: status %s not recorded (%s)", seq, status, type(e).__name__)
            return False
        return status == "closed"


async def serve(engine: Engine, config: DispatchConfig) -> None:
    """Relay until SIGINT or SIGTERM, then finish the requests in flight and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with DispatchClient(config) as client:
        await Relay(engine, config, client).run(stop)

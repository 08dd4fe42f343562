"""The one client of the dispatch API: sends a record as the project's JSON or as an Open311 service
request, with the outbox row's Idempotency-Key on every attempt, and reads back its status."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.dispatch import open311
from bot.dispatch.config import DispatchConfig
from bot.logmask import mask
from bot.storage.outbox import OutboxItem

log = logging.getLogger(__name__)

_REASON_LIMIT = 200


class DispatchError(Exception):
    """A dispatch request that did not succeed; the message is the one-line reason shown to agents."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status  # None when no answer came


class TransientDispatchError(DispatchError):
    """Worth another attempt with the same key: the receiver was down, slow, overloaded or garbled."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason, status)
        self.retry_after = retry_after  # seconds the receiver asked for (Retry-After), if it did


class PermanentDispatchError(DispatchError):
    """The receiver refused the request itself: sending it again cannot help."""


@dataclass(frozen=True)
class Delivery:
    """The receiver's acknowledgement of one record."""

    format: str
    """the protocol it went in: json | open311"""
    remote_id: str | None
    """the receiver's id of it; None when an Open311 server gave a token only"""
    status: str | None = None
    """the receiver's status of it (open), when it said"""


# Statuses worth a retry among the 4xx: request timeout, a concurrent request with the same key still
# being processed, too early, too many requests.
_TRANSIENT_4XX = frozenset({408, 409, 425, 429})


def error_for(status: int, body: str = "", retry_after: str | None = None) -> DispatchError | None:
    """The error an HTTP answer means, None for success (2xx). 5xx and the retryable 4xx are transient;
    other 4xx, and redirects (a misconfigured URL), are permanent."""
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}" + (f": {_reason(body)}" if _reason(body) else "")
    if status >= 500 or status in _TRANSIENT_4XX:
        return TransientDispatchError(reason, status, parse_retry_after(retry_after))
    return PermanentDispatchError(reason, status)


def _reason(body: str) -> str:
    """What the receiver said went wrong: an Open311 description, a JSON `error`, or the text itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:_REASON_LIMIT]
    described = open311.error_description(data)
    if described is None and isinstance(data, dict):
        described = data.get("error") or data.get("message")
    return " ".join(str(described if described is not None else data).split())[:_REASON_LIMIT]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class DispatchClient:
    """One aiohttp session for the process; use `async with DispatchClient(config) as client`."""

    def __init__(self, config: DispatchConfig) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session; inside a running event loop."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.config.total_timeout,
                                            sock_connect=self.config.connect_timeout)
            # One connection per request in flight at most; the status poller shares the same pool.
            connector = aiohttp.TCPConnector(limit=self.config.concurrency)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> DispatchClient:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def send(self, item: OutboxItem) -> Delivery:
        """Deliver one outbox row in the configured protocol; raises a DispatchError subclass."""
        fmt = self.config.format
        try:
            if fmt == "open311":
                form = open311.request_fields(item.payload, item.ticket, self.config.api_key, self.config.jurisdiction)
                request: dict[str, Any] = {"data": form}
                url = f"{self.base}/open311/v2/requests.json"
            else:
                request = {"json": record_body(item.payload, item.ticket)}
                url = f"{self.base}/records"
        except ValueError as e:
            raise PermanentDispatchError(f"record cannot be sent: {e}") from None
        except (KeyError, TypeError, AttributeError) as e:
            raise PermanentDispatchError(f"record cannot be sent: missing or malformed field {e}") from None
        status, body, retry_after = await self._request("POST", url, {"Idempotency-Key": item.key}, **request)
        error = error_for(status, body, retry_after)
        if error is not None:
            raise error
        try:
            if fmt == "open311":
                remote_id, token = open311.parse_created(json.loads(body))
                if remote_id is None:
                    log.info("dispatch seq=%s: Open311 token %s, no request id yet", item.seq, token)
                return Delivery(fmt, remote_id, "open" if remote_id else None)
            data = json.loads(body)
            return Delivery(fmt, str(data["id"]), data.get("status"))
        except (ValueError, KeyError, TypeError):
            # The same key makes a retry safe, and a garbled answer (a proxy's page) is usually passing.
            raise TransientDispatchError(f"HTTP {status} with an unreadable answer: {_reason(body)}", status) from None

    async def status(self, fmt: str, remote_id: str) -> str:
        """The receiver's current status of a delivered record (open | closed)."""
        rid = quote(remote_id, safe="")
        if fmt == "open311":
            url = f"{self.base}/open311/v2/requests/{rid}.json"
            # GeoReport v2 reads need no api_key, and a key in a query string ends up in access logs.
            params = {"jurisdiction_id": self.config.jurisdiction} if self.config.jurisdiction else {}
        else:
            url, params = f"{self.base}/records/{rid}", {}
        status, body, retry_after = await self._request("GET", url, {}, params=params)
        error = error_for(status, body, retry_after)
        if error is not None:
            raise error
        try:
            data = json.loads(body)
            value = open311.parse_status(data) if fmt == "open311" else data["status"]
        except (ValueError, KeyError, TypeError):
            raise TransientDispatchError(f"HTTP {status} with an unreadable status: {_reason(body)}", status) from None
        return str(value)

    async def _request(self, method: str, url: str, headers: dict[str, str],
                       **kwargs: Any) -> tuple[int, str, str | None]:
        """(status, body, Retry-After) of one request; no answer at all is a TransientDispatchError."""
        if self._session is None:
            raise RuntimeError("DispatchClient used before start()")
        try:
            async with self._session.request(method, url, headers=headers, allow_redirects=False,
                                             **kwargs) as response:
                return response.status, await response.text(errors="replace"), response.headers.get("Retry-After")
        except asyncio.TimeoutError:
            raise TransientDispatchError(f"no answer within {self.config.total_timeout:g} s") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as e:
            raise TransientDispatchError(f"connection failed: {type(e).__name__}: {mask(str(e))}"[:300]) from None


def record_body(record: dict[str, Any], ticket: str | None) -> dict[str, Any]:
    """The JSON body of POST /records: the record as the unit may see it, with the citizen's ticket number."""
    return {**open311.dispatch_view(record), "ticket": ticket}

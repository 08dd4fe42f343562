"""WeChat's server API as the channel uses it: access_token, customer-service messages, media download."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from connectors.wechat_crypto import WeChatError

log = logging.getLogger(__name__)
TOKEN_ERRORS = (40001, 40014, 42001)
"""access_token invalid or expired: fetch a new one and try again"""


class ApiError(WeChatError):
    """WeChat answered with a non-zero errcode, or not at all."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenExpired(ApiError):
    """40001/42001: the access_token is no longer valid"""


class ReplyWindowPassed(ApiError):
    """45015: the citizen's last message is older than the reply window (48 h)"""


class QuotaExceeded(ApiError):
    """45047: the customer-service messages allowed in reply to this citizen are used up"""


class Transient(ApiError):
    """-1 (system busy), HTTP 5xx, timeouts and broken connections: worth another try"""


class MaybeSent(ApiError):
    """A send timed out or lost its connection after the request went out: WeChat may have delivered it."""


def error_for(status: int, body: Any) -> ApiError | None:
    """The error a response stands for, or None for success (pure: status and parsed JSON body in)."""
    if status >= 500 or status == 429:
        return Transient(-status, f"HTTP {status}")
    if not isinstance(body, dict):
        return ApiError(-status, f"HTTP {status}: not a JSON object") if status != 200 or body is not None else None
    code = body.get("errcode", 0)
    if not isinstance(code, int) or code == 0:
        return None if status < 400 else ApiError(-status, f"HTTP {status}")
    message = str(body.get("errmsg", ""))
    if code in TOKEN_ERRORS:
        return TokenExpired(code, message)
    if code == 45015:
        return ReplyWindowPassed(code, message)
    if code == 45047:
        return QuotaExceeded(code, message)
    # Other codes (45009/45011 API rate limits, 45002 too long, ...) are plain errors: the channel tries the
    # message again later and hands it to an agent after its last try.
    if code == -1:
        return Transient(code, message)
    return ApiError(code, message)


@dataclass(frozen=True)
class Media:
    """A downloaded voice or image file."""

    data: bytes
    content_type: str
    """as WeChat labelled it (audio/amr, image/jpeg, ...)"""
    filename: str | None
    """from Content-Disposition, when given"""


class WeChatClient:
    """One app's API client: a cached access_token refreshed before it expires, retries with full jitter."""

    def __init__(self, session: aiohttp.ClientSession, api_base: str, appid: str, secret: str,
                 attempts: int = 4, backoff: float = 0.5, rng: random.Random | None = None) -> None:
        if not api_base.startswith(("http://", "https://")):
            raise ValueError("api_base must be an http(s) URL")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.session = session
        self.api_base = api_base.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.rng = rng or random.Random()
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def access_token(self, stale: str | None = None) -> str:
        """The cached token, fetched anew within five minutes of expiry or when it is `stale` (WeChat refused
        it). One fetch at a time, and one per refused token: callers that saw the same token refused share the
        new one, instead of each fetching (which uses up the daily quota and revokes the others' tokens)."""
        async with self._lock:
            if self._token is None or self._token == stale or time.monotonic() > self._expires - 300:
                body = await self._call("GET", "/cgi-bin/token", {"grant_type": "client_credential",
                                                                   "appid": self.appid, "secret": self.secret})
                token = body.get("access_token")
                if not isinstance(token, str) or not token:
                    raise ApiError(-2, "no access_token in the answer")
                self._token = token
                self._expires = time.monotonic() + float(body.get("expires_in", 7200))
            return self._token

    async def send_text(self, openid: str, text: str) -> None:
        """One customer-service text message to a citizen."""
        await self._with_token("POST", "/cgi-bin/message/custom/send",
                               {"touser": openid, "msgtype": "text", "text": {"content": text}}, resend=False)

    async def media(self, media_id: str) -> Media:
        """A temporary media file (voice, image) by its MediaId."""
        stale: str | None = None
        for attempt in range(self.attempts):
            token = await self.access_token(stale)
            try:
                async with self.session.get(f"{self.api_base}/cgi-bin/media/get",
                                            params={"access_token": token, "media_id": media_id}) as resp:
                    data = await resp.read()
                    kind = resp.headers.get("Content-Type", "")
                    # Errors come back as JSON; media as anything else.
                    if resp.status == 200 and "json" not in kind and "text/plain" not in kind:
                        return Media(data, kind, resp.content_disposition.filename
                                     if resp.content_disposition else None)
                    error = error_for(resp.status, _json(data)) or ApiError(-3, "media answer is JSON")
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                error = Transient(-4, type(e).__name__)
            if not isinstance(error, (TokenExpired, Transient)) or attempt == self.attempts - 1:
                raise error
            stale = token if isinstance(error, TokenExpired) else None
            await self._sleep(attempt)
        raise AssertionError("unreachable")

    async def _with_token(self, method: str, path: str, payload: dict[str, Any], resend: bool = True
                          ) -> dict[str, Any]:
        for attempt in range(self.attempts):
            token = await self.access_token()
            try:
                return await self._call(method, path, {"access_token": token}, payload, resend)
            except TokenExpired:
                if attempt == self.attempts - 1:
                    raise
                await self.access_token(stale=token)
        raise AssertionError("unreachable")

    async def _call(self, method: str, path: str, params: dict[str, str],
                    payload: dict[str, Any] | None = None, resend: bool = True) -> dict[str, Any]:
        """One API call; Transient errors are tried again up to `attempts` times. With resend False a request
        that may have arrived (time-out, connection lost after connecting) is not sent again: MaybeSent."""
        for attempt in range(self.attempts):
            try:
                async with self.session.request(method, self.api_base + path, params=params, json=payload) as resp:
                    body = _json(await resp.read())
                    error = error_for(resp.status, body)
            except aiohttp.ClientConnectorError as e:  # never connected: nothing was sent
                error = Transient(-4, type(e).__name__)
                body = None
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                if not resend:
                    raise MaybeSent(-4, type(e).__name__) from e
                error = Transient(-4, type(e).__name__)
                body = None
            if error is None and isinstance(body, dict):
                return body
            if not isinstance(error, Transient) or attempt == self.attempts - 1:
                raise error or ApiError(-5, "empty answer")
            await self._sleep(attempt)
        raise AssertionError("unreachable")

    async def _sleep(self, attempt: int) -> None:
        # Full jitter: many channels retrying at once spread out instead of hitting WeChat together.
        await asyncio.sleep(self.rng.uniform(0, self.backoff * 2 ** attempt))


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None

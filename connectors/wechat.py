"""WeChat mini-program customer-service messages as a Rasa input channel.

WeChat pushes each message to /webhooks/wechat/webhook and wants an answer within 5 seconds, else it retries
(three times). So a POST only checks the request, stores the message in the inbox and answers "success"; the
turn runs afterwards and its answers go back through the customer-service message API. One inbox row per
message (MsgId, or sender + CreateTime for events) makes retries and parallel duplicates one turn, and a row
left unfinished by a crash is taken up again when its lease runs out, in this process or after a restart.

credentials.yml:

    connectors.wechat.WeChatInput:
      token: ...                # 令牌(Token) of 消息推送
      encoding_aes_key: ...     # 消息加密密钥(EncodingAESKey), 43 characters
      appid: ...
      secret: ...               # AppSecret, for access_token
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import PROJECT_DIR
from connectors.streaming import close_after, read_limited
from connectors.wechat_api import ApiError, MaybeSent, QuotaExceeded, ReplyWindowPassed, WeChatClient
from connectors.wechat_crypto import (
    MAX_BODY,
    BadSignature,
    MalformedMessage,
    WeChatCrypto,
    WeChatError,
    WeChatMessage,
    check_signature,
    check_timestamp,
    parse_envelope,
    parse_message,
)
from connectors.wechat_intake import Intake
from connectors.wechat_store import Inbox, InboxRow, LeaseLost

log = logging.getLogger(__name__)
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
UNSUPPORTED = "暂时只能处理文字、语音、图片和位置消息，请用文字描述您的问题。"
IMAGE_RECEIVED = "图片已收到，已附在您反映的问题上。请用文字说明具体情况和地点。"
IMAGE_NO_RECORD = "图片已收到。请用文字说明您要反映的问题和地点，我们会把图片一并转交。"
NO_SPEECH = "没有听清您的语音，请再说一遍或改用文字。"
_MEDIA_SUFFIX = {"audio/amr": ".amr", "audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
                 "audio/speex": ".speex", "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}


@dataclass(frozen=True)
class WeChatConfig:
    """The `wechat` entry of credentials.yml, checked when the server starts."""

    token: str = field(repr=False)
    """令牌(Token) set in the mini-program's 消息推送 settings"""
    encoding_aes_key: str = field(repr=False)
    """消息加密密钥(EncodingAESKey): 43 characters"""
    appid: str
    """the mini-program's AppID: safe-mode messages must name it"""
    secret: str = field(repr=False)
    """AppSecret, to fetch the access_token"""
    api_base: str = "https://api.weixin.qq.com"
    """WeChat's API; tests point it at a fake on loopback"""
    timestamp_window: float = 300.0
    """seconds a request's timestamp may differ from now; nonces are remembered as long"""
    db_url: str | None = None
    """the project database (HOTLINE_DB_URL or var/hotline.db when None)"""
    media_dir: str = str(PROJECT_DIR / "var" / "wechat-media")
    """where downloaded voice and image files are kept"""
    lease: float = 60.0
    """seconds a worker holds a message; a dead worker's messages are taken up this long after it died"""
    retry_delay: float = 30.0
    """seconds before a message whose turn or reply failed is tried again"""
    max_attempts: int = 6
    """tries before a message is given up and handed to an agent"""
    api_timeout: float = 10.0
    """seconds for one call to WeChat's API"""
    api_attempts: int = 4
    """tries of one API call on timeouts, 5xx and -1"""
    greeting: str = "/greet"
    """what the bot is told when a citizen opens the chat (user_enter_tempsession)"""
    allow_plaintext: bool = False
    """accept 明文 (plaintext) mode, whose signature does not cover the body: only for a server set to 明文"""

    def __post_init__(self) -> None:
        WeChatCrypto(self.token, self.encoding_aes_key, self.appid)  # raises on a bad key, token or appid
        if not self.secret:
            raise ValueError("wechat: secret is empty")
        if not self.api_base.startswith(("http://", "https://")):
            raise ValueError("wechat: api_base must be an http(s) URL")
        for name in ("timestamp_window", "lease", "retry_delay", "api_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"wechat: {name} must be positive")
        if self.max_attempts < 1 or self.api_attempts < 1:
            raise ValueError("wechat: attempts must be at least 1")

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatConfig:
        credentials = dict(credentials or {})
        known = {f.name: f for f in fields(cls)}
        unknown = set(credentials) - set(known)
        if unknown:
            raise ValueError(f"wechat: unknown settings {sorted(unknown)}")
        missing = [n for n in ("token", "encoding_aes_key", "appid", "secret") if not credentials.get(n)]
        if missing:
            raise ValueError(f"wechat: missing {missing}")
        values: dict[str, Any] = {}
        for name, value in credentials.items():
            if value is None:  # `lease:` left empty in the YAML: the default
                continue
            kind = _KINDS[str(known[name].type)]
            try:
                values[name] = kind(value)
            except (TypeError, ValueError) as e:
                raise ValueError(f"wechat: {name} must be a {kind.__name__}") from e
        return cls(**values)


class WeChatInput(InputChannel):  # type: ignore[misc]  # rasa ships no types: its base is Any
    """Rasa input channel for WeChat mini-program message push (plaintext, compatible and safe mode)."""

    def __init__(self, config: WeChatConfig, intake: Intake | None = None) -> None:
        self.config = config
        self.crypto = WeChatCrypto(config.token, config.encoding_aes_key, config.appid)
        self.intake = intake or Intake()
        self._inbox: Inbox | None = None
        self._client: WeChatClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._on_new_message: OnNewMessage | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._app: Any = None
        self._acks = ThreadPoolExecutor(4, thread_name_prefix="wechat-ack")
        self._senders: dict[str, _SenderTurn] = {}

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(WeChatConfig.from_credentials(credentials))

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint("wechat_webhook", __name__)
        self._on_new_message = on_new_message

        async def start(app: Any, _loop: Any) -> None:
            self._app = app  # Rasa puts its agent on app.ctx once the model is loaded
            await self.start()

        async def stop(_app: Any, _loop: Any) -> None:
            await self.stop()

        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self._inbox else "starting"}, status=200 if self._inbox else 503)

        async def verify(request: Request) -> HTTPResponse:
            return self.verify_url(_args(request))

        async def receive(request: Request) -> HTTPResponse:
            args = _args(request)
            try:  # before any of the body is read: the signature of the query, the timestamp, the nonce
                self.check_query(args)
            except WeChatError as e:
                close_after(request)
                return _rejected(e)
            body = await read_limited(request, MAX_BODY)
            if body is None:
                close_after(request)
                log.warning("wechat.rejected reason=TooLarge")
                return response.text("too large", status=413)
            return await self.receive(args, body)

        # Method calls, not sanic's decorators: those are untyped.
        bp.listener(start, "before_server_start")  # before the socket takes requests
        bp.listener(stop, "before_server_stop")
        bp.add_route(health, "/", methods=["GET"])
        bp.add_route(verify, "/webhook", methods=["GET"], name="verify")
        bp.add_route(receive, "/webhook", methods=["POST"], name="receive", stream=True)
        return bp

    # -- life cycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the inbox and the API client, then take up whatever an earlier run left unfinished."""
        from bot.storage import load_engine

        engine = await asyncio.to_thread(load_engine, self.config.db_url)
        self._inbox = await asyncio.to_thread(Inbox, engine)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.api_timeout))
        self._client = WeChatClient(self._session, self.config.api_base, self.config.appid, self.config.secret,
                                    attempts=self.config.api_attempts)
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        for task in list(self._running.values()):
            task.cancel()  # the leases run out and the rows are taken up again
        if self._session:
            await self._session.close()
        self._acks.shutdown(wait=False)

    @property
    def inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("the WeChat channel has not started")
        return self._inbox

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def verify_url(self, args: dict[str, str]) -> HTTPResponse:
        """WeChat's check of the server URL: echo echostr when the signature is the token's."""
        try:
            check_signature(args.get("signature", ""), self.config.token, args.get("timestamp", ""),
                            args.get("nonce", ""))
        except BadSignature:
            log.warning("wechat.verify_rejected")
            return response.text("forbidden", status=403)
        return response.text(args.get("echostr", ""))

    async def receive(self, args: dict[str, str], body: bytes) -> HTTPResponse:
        """Check, store, acknowledge; the turn runs in the background."""
        try:
            message = self.open(args, body)
            # The nonce must stay refused as long as the timestamp passes the window check (open checked it).
            expires_at = int(args["timestamp"]) + self.config.timestamp_window
            # Threads of its own: transcription and intake in the default pool must not hold up the answer.
            new = await asyncio.get_running_loop().run_in_executor(
                self._acks, partial(self.inbox.accept, message, args["nonce"], expires_at))
        except WeChatError as e:
            return _rejected(e)
        except Exception as e:  # the database: no "success", so WeChat tries again
            log.error("wechat.store_failed error=%s", type(e).__name__)  # its text may hold the message
            return response.text("error", status=500)
        log.info("wechat.accepted sender=%s type=%s new=%s", _sender(message.from_user), message.msg_type, new)
        if new:
            self._spawn(message.dedup_key, message.from_user)
        return response.text("success")

    def check_query(self, args: dict[str, str]) -> None:
        """The checks a POST's query allows before its body is read (pure; raises WeChatError)."""
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        check_signature(args.get("signature", ""), self.config.token, timestamp, nonce)
        check_timestamp(timestamp, time.time(), self.config.timestamp_window)
        if not nonce or len(nonce) > 128:
            raise BadSignature("bad nonce")

    def open(self, args: dict[str, str], body: bytes) -> WeChatMessage:
        """The message in a POST, after every check but the nonce's use (pure; raises WeChatError)."""
        self.check_query(args)
        timestamp, nonce = args["timestamp"], args["nonce"]
        if args.get("encrypt_type", "raw") == "raw":
            # In 明文 mode the signature covers token, timestamp and nonce only: whoever saw one signed query
            # could post any body. A server set to 安全 or 兼容 refuses it.
            if not self.config.allow_plaintext:
                raise BadSignature("plaintext messages are not accepted: the server expects encrypted ones")
            return parse_message(body)
        if args["encrypt_type"] != "aes":
            raise MalformedMessage("unknown encrypt_type")
        envelope = parse_envelope(body)
        if envelope is None:
            raise MalformedMessage("encrypt_type=aes without Encrypt")
        return parse_message(self.crypto.open(envelope, args.get("msg_signature", ""), timestamp, nonce))

    # -- processing ---------------------------------------------------------------------------------------------

    def _spawn(self, key: str, sender: str) -> None:
        if key not in self._running:
            task = asyncio.create_task(self._in_order(key, sender))
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))

    async def _in_order(self, key: str, sender: str) -> None:
        """One citizen's messages one at a time, in the order they came (asyncio.Lock wakes waiters first in,
        first out): a voice message still being transcribed is answered before the text sent after it."""
        turn = self._senders.setdefault(sender, _SenderTurn())
        turn.users += 1
        try:
            async with turn.lock:
                await self._process(key)
        finally:
            turn.users -= 1
            if not turn.users:
                self._senders.pop(sender, None)

    async def _sweep(self) -> None:
        """Take up due rows: on start-up those an earlier run left, later those whose retry time came."""
        period = min(self.config.lease / 2, 5.0)
        while True:
            try:
                for key, sender in await asyncio.to_thread(self.inbox.due):
                    self._spawn(key, sender)
            except Exception:
                log.exception("wechat.sweep_failed")
            await asyncio.sleep(period)

    async def _process(self, key: str) -> None:
        """Claim the row and work on it while the lease holds; a worker whose lease is lost stops at once."""
        row = await asyncio.to_thread(self.inbox.claim, key, self.config.lease)
        if row is None:
            return
        work = asyncio.create_task(self._work(row))
        held_until = time.time() + self.config.lease
        try:
            while not (await asyncio.wait({work}, timeout=self.config.lease / 3))[0]:
                try:
                    if not await asyncio.to_thread(self.inbox.extend, row, self.config.lease):
                        raise LeaseLost(key)
                    held_until = time.time() + self.config.lease
                except Exception as e:
                    # A database blip may pass; a lease that runs out before the next heartbeat may not.
                    if work.done():
                        break
                    if isinstance(e, LeaseLost) or time.time() + self.config.lease / 3 >= held_until:
                        log.warning("wechat.lease_lost sender=%s", _sender(row.message.from_user))
                        break
        finally:
            work.cancel()  # a no-op when it is done

    async def _work(self, row: InboxRow) -> None:
        sender = _sender(row.message.from_user)
        try:
            try:
                if row.state == "received":
                    await self._answer(row)
                await self._send(row)
                await asyncio.to_thread(self.inbox.done, row)
                log.info("wechat.replied sender=%s replies=%d", sender, len(row.replies or []))
            except (ReplyWindowPassed, QuotaExceeded) as e:
                log.warning("wechat.reply_refused sender=%s errcode=%s", sender, e.errcode)
                await self._give_up(row, str(e))
            except LeaseLost:
                raise
            except Exception as e:
                if row.attempts >= self.config.max_attempts:
                    log.exception("wechat.gave_up sender=%s", sender)
                    await self._give_up(row, f"{type(e).__name__}: {e}")
                else:
                    log.warning("wechat.retry sender=%s error=%s", sender, type(e).__name__)
                    await asyncio.to_thread(self.inbox.retry, row, f"{type(e).__name__}: {e}",
                                            self.config.retry_delay)
        except LeaseLost:
            log.warning("wechat.lease_lost sender=%s", sender)
        except Exception:  # the database failed while noting the outcome: the row is taken up after its lease
            log.exception("wechat.process_failed sender=%s", sender)

    async def _answer(self, row: InboxRow) -> None:
        """Run the turn, or, when an earlier run died after Rasa saved it, take its answers from the tracker:
        the citizen's message makes one turn however often the row is claimed."""
        replies = await self._answered(row) if row.attempts > 1 else None
        if replies is None:
            replies, row.media = await self._turn(row)
        else:
            log.info("wechat.turn_recovered sender=%s", _sender(row.message.from_user))
        row.replies = replies
        await asyncio.to_thread(self.inbox.turned, row, replies, row.media)

    async def _answered(self, row: InboxRow) -> list[str] | None:
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        tracker = await store.retrieve(row.message.from_user)
        return answers_to(tracker.events, row.key) if tracker else None

    async def _send(self, row: InboxRow) -> None:
        assert self._client is not None
        replies = row.replies or []
        for i in range(row.sent, len(replies)):
            error = None
            try:
                await self._client.send_text(row.message.from_user, replies[i])
            except MaybeSent as e:
                # WeChat's send has no idempotency key: sending again could answer twice. Noted on the row.
                log.warning("wechat.reply_uncertain sender=%s", _sender(row.message.from_user))
                error = f"回复可能未送达：{e}"
            await asyncio.to_thread(self.inbox.sent, row, i + 1, error)

    async def _give_up(self, row: InboxRow, error: str) -> None:
        """The citizen cannot be answered here: an agent gets the conversation, then the row keeps the error.
        In that order: a crash in between hands off again (the same record) rather than losing the handoff."""
        try:
            await asyncio.to_thread(self.intake.handoff, self.config.db_url, row.message, row.key, error, row.media)
        except Exception as e:  # the row stays open and the handoff is tried again after the retry delay
            log.error("wechat.handoff_failed sender=%s error=%s", _sender(row.message.from_user), type(e).__name__)
            await asyncio.to_thread(self.inbox.retry, row, f"{error}; handoff: {type(e).__name__}",
                                    self.config.retry_delay)
            return
        await asyncio.to_thread(self.inbox.failed, row, error)

    async def _turn(self, row: InboxRow) -> tuple[list[str], str | None]:
        """The bot's answers to one message, and the media file it came with."""
        message, media, fixed = row.message, None, None
        text: str | None = None
        if message.msg_type == "text":
            text = message.content
        elif message.msg_type == "voice":
            media = await self._download(row)
            text = await asyncio.to_thread(self.intake.voice, self.config.db_url, Path(media), message, row.key)
            fixed = None if text else NO_SPEECH
        elif message.msg_type == "location":
            await asyncio.to_thread(self.intake.location, self.config.db_url, message, row.key)
            text = message.label
        elif message.msg_type == "image":
            attached = False
            if message.media_id:  # PicUrl alone is not fetched: a URL from the request is no file of ours
                media = await self._download(row)
                attached = await asyncio.to_thread(self.intake.attach, self.config.db_url, message.from_user, media)
            fixed = IMAGE_RECEIVED if attached else IMAGE_NO_RECORD
        elif message.msg_type == "event" and message.event == "user_enter_tempsession":
            text = self.config.greeting
        elif message.msg_type != "event":  # other events (subscription pop-ups, ...) want no answer
            fixed = UNSUPPORTED
        if not text:
            return ([fixed] if fixed else []), media
        if self._on_new_message is None:
            raise RuntimeError("the WeChat channel has no blueprint")
        collector = CollectingOutputChannel()
        await self._on_new_message(UserMessage(text, collector, sender_id=message.from_user,
                                               input_channel=self.name(), message_id=row.key,
                                               metadata={"wechat_msg_type": message.msg_type}))
        return [m["text"] for m in collector.messages if m.get("text")], media

    async def _download(self, row: InboxRow) -> str:
        assert self._client is not None and row.message.media_id
        found = await self._client.media(row.message.media_id)
        suffix = _MEDIA_SUFFIX.get(found.content_type.split(";")[0].strip(), "")
        if not suffix and found.filename and "." in found.filename:
            suffix = "." + re.sub(r"[^a-z0-9]", "", found.filename.rsplit(".", 1)[1].lower())[:8]
        path = Path(self.config.media_dir) / (hashlib.sha256(row.key.encode()).hexdigest()[:32] + suffix)
        await asyncio.to_thread(_write, path, found.data)
        return str(path)


@dataclass
class _SenderTurn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    """tasks holding or waiting for the lock: at 0 the entry goes"""


def _rejected(error: WeChatError) -> HTTPResponse:
    log.warning("wechat.rejected reason=%s", type(error).__name__)
    if isinstance(error, BadSignature):
        return response.text("forbidden", status=403)
    return response.text("bad request", status=400)


def answers_to(events: Iterable[Event], message_id: str) -> list[str] | None:
    """The bot's texts after the citizen's message `message_id` in a tracker's events, up to the next message;
    None when the tracker does not have that message."""
    answers: list[str] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if answers is not None:
                break
            if event.message_id == message_id:
                answers = []
        elif answers is not None and isinstance(event, BotUttered) and event.text:
            answers.append(event.text)
    return answers


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "1"):
        return True
    if str(value).lower() in ("false", "no", "0"):
        return False
    raise ValueError(value)


_KINDS: dict[str, Any] = {"str": str, "str | None": str, "float": float, "int": int, "bool": _bool}


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _args(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in request.args.items() if v}


def _sender(openid: str) -> str:
    """An openid is no phone number, but logs need not carry it whole either."""
    return hashlib.sha256(openid.encode()).hexdigest()[:12]


__all__ = ["ApiError", "WeChatConfig", "WeChatInput"]

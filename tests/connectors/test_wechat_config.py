"""Bad WeChat settings fail at start-up; WeChat API answers map to the right error (a pure function); the API
client tries again only what is safe to send twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.wechat import WeChatConfig, WeChatInput
from connectors.wechat_api import ApiError, QuotaExceeded, ReplyWindowPassed, TokenExpired, Transient, error_for

GOOD = {"token": "tok", "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "appid": "wx1",
        "secret": "s"}


@pytest.mark.parametrize("change", [{"token": ""}, {"encoding_aes_key": "short"}, {"encoding_aes_key": "é" * 43},
                                    {"appid": None}, {"secret": ""}, {"api_base": "ftp://x"},
                                    {"timestamp_window": 0}, {"timestamp_window": "soon"}, {"lease": -1},
                                    {"max_attempts": 0}, {"unknown": 1}])
def test_bad_settings_fail_at_start(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WeChatInput.from_credentials({**GOOD, **change})


def test_good_settings_and_no_secret_in_repr() -> None:
    channel = WeChatInput.from_credentials({**GOOD, "timestamp_window": "120", "api_base": "http://127.0.0.1:1"})
    assert isinstance(channel, WeChatInput) and channel.name() == "wechat"
    assert channel.config.timestamp_window == 120.0
    assert "abcdefghij" not in repr(channel.config) and "tok" not in repr(WeChatConfig(**GOOD))


@pytest.mark.parametrize(("status", "body", "error"), [
    (200, {"errcode": 0, "errmsg": "ok"}, None),
    (200, {"access_token": "T", "expires_in": 7200}, None),
    (200, {"errcode": 40001, "errmsg": "invalid credential"}, TokenExpired),
    (200, {"errcode": 42001, "errmsg": "access_token expired"}, TokenExpired),
    (200, {"errcode": 45015, "errmsg": "response out of time limit"}, ReplyWindowPassed),
    (200, {"errcode": 45047, "errmsg": "out of response count limit"}, QuotaExceeded),
    (200, {"errcode": -1, "errmsg": "system error"}, Transient),
    (200, {"errcode": 40003, "errmsg": "invalid openid"}, ApiError),
    # rate limits are not the reply quota: tried again later, not handed off at once
    (200, {"errcode": 45009, "errmsg": "reach max api daily quota limit"}, ApiError),
    (200, {"errcode": 45011, "errmsg": "api minute-quota reach limit"}, ApiError),
    (502, None, Transient), (429, None, Transient), (404, None, ApiError), (200, ["x"], ApiError),
])
def test_error_for(status: int, body: Any, error: type[ApiError] | None) -> None:
    found = error_for(status, body)
    assert (found is None) if error is None else type(found) is error


def test_plaintext_is_refused_unless_the_server_is_set_to_plaintext() -> None:
    """明文 mode signs the query only: whoever saw one signed URL could post any body."""
    import time

    from connectors.wechat_crypto import BadSignature, signature, to_xml

    ts, nonce = str(int(time.time())), "n1"
    args = {"signature": signature("tok", ts, nonce), "timestamp": ts, "nonce": nonce}
    body = to_xml({"ToUserName": "gh", "FromUserName": "o1", "CreateTime": 1, "MsgType": "text", "Content": "hi",
                   "MsgId": 1})
    with pytest.raises(BadSignature, match="plaintext"):
        WeChatInput.from_credentials(GOOD).open(args, body)
    opened = WeChatInput.from_credentials({**GOOD, "allow_plaintext": "true"}).open(args, body)
    assert opened.content == "hi"


class SlowWeChat:
    """A loopback stand-in of WeChat's API whose send answers after `delay` seconds, and accepts only tokens
    numbered `valid_from` or later; it counts requests."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.sends = 0
        self.token_calls = 0
        self.valid_from = 1

    async def __aenter__(self) -> str:
        from aiohttp import web

        async def token(_request: web.Request) -> web.Response:
            self.token_calls += 1
            return web.json_response({"access_token": f"T{self.token_calls}", "expires_in": 7200})

        async def send(request: web.Request) -> web.Response:
            self.sends += 1
            await asyncio.sleep(self.delay)
            if int(request.query["access_token"][1:]) < self.valid_from:
                return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
            return web.json_response({"errcode": 0, "errmsg": "ok"})

        app = web.Application()
        app.router.add_get("/cgi-bin/token", token)
        app.router.add_post("/cgi-bin/message/custom/send", send)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def __aexit__(self, *_exc: object) -> None:
        await self.runner.cleanup()


def test_a_send_that_timed_out_is_not_sent_again() -> None:
    """WeChat's send has no idempotency key: after a time-out the message may have arrived, so a second send
    could reply twice. The client says so (MaybeSent) instead of retrying."""
    import aiohttp

    from connectors.wechat_api import MaybeSent, WeChatClient

    async def run() -> int:
        slow = SlowWeChat(delay=2.0)
        async with slow as url, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
            client = WeChatClient(session, url, "wx1", "s", attempts=4, backoff=0.01)
            with pytest.raises(MaybeSent):
                await client.send_text("o1", "您好")
        return slow.sends

    assert asyncio.run(run()) == 1



def test_a_refused_token_is_fetched_again_once_for_all_senders() -> None:
    """Five sends see their token refused at once: one new token serves all five. A fetch each would use up
    the daily quota and revoke the tokens the other senders just got."""
    import aiohttp

    from connectors.wechat_api import WeChatClient

    async def run() -> SlowWeChat:
        server = SlowWeChat()
        async with server as url, aiohttp.ClientSession() as session:
            client = WeChatClient(session, url, "wx1", "s", attempts=3, backoff=0.01)
            assert await client.access_token() == "T1"
            server.valid_from = 2  # WeChat revoked T1
            await asyncio.gather(*(client.send_text(f"o{i}", "您好") for i in range(5)))
        return server

    server = asyncio.run(run())
    assert server.token_calls == 2 and server.sends == 10


def test_a_reply_that_may_have_arrived_is_noted_and_not_sent_again(tmp_path: Any) -> None:
    """Both replies time out after reaching WeChat's (slow) loopback stand-in: each is sent once, and the inbox
    row counts them sent and says they may not have arrived."""
    import time

    import aiohttp

    from bot.storage import open_engine
    from connectors.wechat_api import WeChatClient
    from connectors.wechat_crypto import WeChatMessage
    from connectors.wechat_store import Inbox

    inbox = Inbox(open_engine(f"sqlite:///{tmp_path / 'h.db'}"))
    message = WeChatMessage("gh", "o-citizen", 1_700_000_000, "text", content="暖气不热", msg_id="1")
    inbox.accept(message, "n1", time.time() + 300)
    row = inbox.claim(message.dedup_key, lease=60)
    assert row is not None
    row.replies = ["收到", "请问在哪个区？"]
    inbox.turned(row, row.replies)

    async def run() -> int:
        slow = SlowWeChat(delay=2.0)
        async with slow as url, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
            channel = WeChatInput.from_credentials({**GOOD, "api_base": url})
            assert isinstance(channel, WeChatInput)
            channel._inbox, channel._client = inbox, WeChatClient(session, url, "wx1", "s", backoff=0.01)
            await channel._send(row)
        return slow.sends

    assert asyncio.run(run()) == 2
    stored = inbox.get(message.dedup_key)
    assert stored is not None and stored.sent == 2 and "回复可能未送达" in (stored.error or "")

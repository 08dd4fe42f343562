"""A fake of WeChat's server API on loopback, in WeChat's formats: /cgi-bin/token, /cgi-bin/message/custom/send
and /cgi-bin/media/get. It runs in the test process, in a thread of its own, so it outlives the channel
processes the tests kill."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

REFUSALS = {45015: "response out of time limit or subscription is canceled", 45047: "out of response count limit"}


@dataclass
class Media:
    data: bytes
    content_type: str
    filename: str


@dataclass
class FakeWeChat:
    appid: str
    secret: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    """every customer-service message WeChat accepted"""
    tokens_issued: int = 0
    media: dict[str, Media] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)
    """openid -> errcode the send API answers for that citizen (45015, 45047)"""
    hold: dict[str, float] = field(default_factory=dict)
    """message text -> seconds the send of that text is held (once) before it is accepted; a sender that hung
    up meanwhile has sent nothing"""
    held: list[str] = field(default_factory=list)
    """texts whose send is or was held"""
    expire_next_token: bool = False
    """answer the next send with 42001 (expired), as WeChat does when a token is revoked early"""
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self, openid: str) -> list[str]:
        with self._lock:
            return [m["text"]["content"] for m in self.sent if m["touser"] == openid]

    async def token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential" or q.get("appid") != self.appid or q.get("secret") != self.secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        with self._lock:
            self.tokens_issued += 1
            return web.json_response({"access_token": f"TOKEN-{self.tokens_issued}", "expires_in": 7200})

    def _token_error(self, request: web.Request) -> web.Response | None:
        with self._lock:
            if request.query.get("access_token") != f"TOKEN-{self.tokens_issued}":
                return web.json_response({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
            if self.expire_next_token:
                self.expire_next_token = False
                return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def send(self, request: web.Request) -> web.Response:
        error = self._token_error(request)
        if error is not None:  # a Response is a mapping, empty and falsy
            return error
        body = json.loads(await request.read())
        if body.get("msgtype") != "text" or not body.get("touser"):
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        code = self.refuse.get(body["touser"])
        if code:
            return web.json_response({"errcode": code, "errmsg": REFUSALS.get(code, "refused")})
        content = body.get("text", {}).get("content", "")
        with self._lock:
            delay = self.hold.pop(content, 0.0)
        if delay:
            self.held.append(content)
            await asyncio.sleep(delay)
            if request.transport is None or request.transport.is_closing():
                return web.json_response({"errcode": -1, "errmsg": "system error"})
        with self._lock:
            self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def media_get(self, request: web.Request) -> web.Response:
        error = self._token_error(request)
        if error is not None:  # a Response is a mapping, empty and falsy
            return error
        found = self.media.get(request.query.get("media_id", ""))
        if found is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=found.data, content_type=found.content_type,
                            headers={"Content-Disposition": f'attachment; filename="{found.filename}"'})

    def start(self) -> None:
        """Serve on a free loopback port in a daemon thread; sets self.url."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/cgi-bin/token", self.token)
            app.router.add_post("/cgi-bin/message/custom/send", self.send)
            app.router.add_get("/cgi-bin/media/get", self.media_get)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True, name="fake-wechat").start()
        ready.wait(10)

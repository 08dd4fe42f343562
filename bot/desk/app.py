"""The agent desk: an aiohttp app with a Chinese UI over the record store. Agents log in, work the queue of
pre-filled records, correct and confirm them (which queues the dispatch), reject or merge duplicates, and
search. Every POST carries the session's CSRF token; phone and ID numbers are masked until revealed, and a
reveal is logged."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from sqlalchemy.engine import Engine
from yarl import URL

from bot.desk import form
from bot.desk.config import DeskConfig
from bot.dispatch.policy import Policy
from bot.dispatch.routing import Router, load_router
from bot.intake.gazetteer import Gazetteer, load_gazetteer
from bot.storage import AWAITING_AGENT, Agents, Outbox, Session, StatusConflict, Storage, StoredRecord
from bot.storage.records import BEIJING
from bot.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "hotline_session"
LOGIN_COOKIE = "hotline_login"
STATUS_NAMES = {"handoff": "待人工", "dead": "派单失败", "queued": "待派单", "dispatched": "已派单",
                "answered": "已答复", "redirect": "已转紧急", "rejected": "已退回", "duplicate": "重复件",
                "closed": "已办结"}
CHANNEL_NAMES = {"phone": "电话", "wechat": "微信", "web": "网页", "cli": "命令行"}
FIELD_NAMES = {"status": "状态", "type": "类型", "subcategory": "类别", "urgency": "紧急程度", "district": "区",
               "street": "街道乡镇", "address": "地址", "name": "联系人", "phone": "电话", "summary": "摘要",
               "note": "说明", "remote_id": "对方编号"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Desk:
    """What the handlers share."""

    store: Storage
    agents: Agents
    outbox: Outbox
    config: DeskConfig
    policy: Policy
    taxonomy: Taxonomy
    gazetteer: Gazetteer
    router: Router
    templates: jinja2.Environment


DESK = web.AppKey("desk", Desk)


def make_app(engine: Engine, config: DeskConfig | None = None, policy: Policy | None = None) -> web.Application:
    """The desk on an open database engine."""
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                   undefined=jinja2.StrictUndefined)
    desk = Desk(Storage(engine), Agents(engine), Outbox(engine), config or DeskConfig(), policy or Policy.from_env(),
                load_taxonomy(), load_gazetteer(), load_router(), templates)
    templates.globals.update(status_names=STATUS_NAMES, channel_names=CHANNEL_NAMES, taxonomy=desk.taxonomy,
                             beijing_time=_beijing_time)
    templates.filters["mask"] = form.mask
    app = web.Application(middlewares=[_headers, _auth], client_max_size=64 * 1024)
    app[DESK] = desk
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", queue_page)
    app.router.add_get("/queue/rows", queue_rows)
    app.router.add_get("/search", search_page)
    app.router.add_post("/search", search_page)
    app.router.add_get("/records/{id}", record_page)
    app.router.add_post("/records/{id}", record_action)
    app.router.add_get("/records/{id}/audio", record_audio)
    app.router.add_get("/records/{id}/images/{n:[0-9]+}", record_image)
    app.router.add_static("/static/", HERE / "static")
    return app


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; media-src 'self'; frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
    return response


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but login needs a session; every POST but login needs the session's CSRF token."""
    if request.path == "/login" or request.path.startswith("/static/"):
        return await handler(request)
    desk = request.app[DESK]
    token = request.cookies.get(COOKIE)
    session = desk.agents.session(token) if token else None
    if session is None:
        if request.method == "GET":
            # The path only: a search's query may hold a phone number.
            raise web.HTTPSeeOther("/login?next=" + quote(request.path, safe=""))
        raise web.HTTPUnauthorized(text="请先登录")
    if request.method == "POST":
        data = await request.post()
        if not hmac.compare_digest(str(data.get("csrf", "")), session.csrf):
            log.warning("desk csrf refused agent=%s path=%s", session.username, request.path)
            raise web.HTTPForbidden(text="表单已过期，请刷新页面后重试")
    request["session"] = session
    return await handler(request)


def _render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    desk = request.app[DESK]
    session: Session | None = request.get("session")
    html = desk.templates.get_template(name).render(session=session, **context)
    return web.Response(text=html, content_type="text/html", status=status)


async def login_page(request: web.Request) -> web.Response:
    # Login CSRF: a random value in a cookie that the form must send back (no session exists yet). A value
    # already set is kept, so a second tab or the browser's favicon request does not void the first form.
    value = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    response = _render(request, "login.html", login_csrf=value, next=_safe_next(request.query.get("next")),
                       error=None)
    _cookie(request, response, LOGIN_COOKIE, value, max_age=3600)
    return response


async def login(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    data = await request.post()
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(str(data.get("login_csrf", "")), cookie):
        raise web.HTTPForbidden(text="登录页已过期，请刷新后重试")
    username = str(data.get("username", "")).strip()
    # scrypt takes tens of milliseconds: off the event loop the relay shares.
    token = await asyncio.to_thread(desk.agents.login, username, str(data.get("password", "")),
                                    desk.config.session_hours)
    if token is None:
        log.info("desk login refused")
        return _render(request, "login.html", status=401, login_csrf=cookie, next=_safe_next(str(data.get("next"))),
                       error="用户名或密码不正确")
    log.info("desk login agent=%s", username)
    response = web.HTTPSeeOther(_safe_next(str(data.get("next"))))
    _cookie(request, response, COOKIE, token, max_age=int(desk.config.session_hours * 3600))
    response.del_cookie(LOGIN_COOKIE)
    raise response


async def logout(request: web.Request) -> web.Response:
    request.app[DESK].agents.logout(request.cookies.get(COOKIE, ""))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE)
    raise response


async def queue_page(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    return _render(request, "queue.html", rows=desk.store.queue(), done=request.query.get("done"),
                   ticket=request.query.get("ticket"), counts=desk.outbox.counts())


async def queue_rows(request: web.Request) -> web.Response:
    """The queue's table body, polled by the page every few seconds."""
    return _render(request, "queue_rows.html", rows=request.app[DESK].store.queue())


async def search_page(request: web.Request) -> web.Response:
    """The form POSTs, so a phone number stays out of URLs and history; the week link GETs dates only."""
    desk = request.app[DESK]
    raw = await request.post() if request.method == "POST" else request.query
    q = {k: str(v).strip() for k, v in raw.items() if k != "csrf"}
    errors: list[str] = []
    since, until = _date(q.get("since"), errors), _date(q.get("until"), errors)
    if until:
        until += timedelta(days=1)  # the end date is included
    searched = any(q.get(k) for k in ("text", "phone", "district", "category", "status", "since", "until"))
    results = [] if errors or not searched else desk.store.search(
        text=q.get("text") or None, phone=q.get("phone") or None, district=q.get("district") or None,
        category=q.get("category") or None, status=q.get("status") or None, since=since, until=until)
    today = datetime.now(BEIJING).date()
    week_start = today - timedelta(days=today.weekday())
    return _render(request, "search.html", q=q, results=results, errors=errors,
                   searched=searched, districts=list(desk.gazetteer.districts), week_start=week_start.isoformat(),
                   today=today.isoformat())


def _date(raw: str | None, errors: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=BEIJING)
    except ValueError:
        errors.append(f"日期格式不对：{raw}（应为2026-11-21）")
        return None


def _record(request: web.Request) -> StoredRecord:
    stored = request.app[DESK].store.get(request.match_info["id"])
    if stored is None:
        raise web.HTTPNotFound(text="没有这个工单")
    return stored


async def record_page(request: web.Request) -> web.Response:
    return _record_view(request, _record(request))


def _record_view(request: web.Request, stored: StoredRecord, status: int = 200, reveal: bool = False,
                 errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                 message: str | None = None) -> web.Response:
    desk = request.app[DESK]
    data = stored.record
    loc = data["location"]
    units = desk.router.units(data["subcategory"], loc["district"], loc["street"])
    text = data["text"] if reveal else form.mask(data["text"])
    evidence = {name: [_span_view(s, text) for s in data.get("evidence", {}).get(key, [])]
                for name, key in form.EVIDENCE_OF.items()}
    fields = {
        "type": data["type"], "subcategory": data["subcategory"] or "", "urgency": data["urgency"],
        "district": loc["district"] or "", "street": loc["street"] or "", "address": loc["address"] or "",
        "name": data["contact"]["name"] or "", "summary": data["summary"],
        "phone": (data["contact"]["phone"] or "") if reveal else form.mask(data["contact"]["phone"]),
    }
    if values:  # a refused form shows what the agent typed
        fields.update((k, values[k]) for k in fields if k in values)
    return _render(request, "record.html", status=status, stored=stored, data=data, fields=fields,
                   editable=stored.status in AWAITING_AGENT, flags=form.flagged(data, desk.policy),
                   evidence=evidence, segments=_segments(text, data.get("evidence", {})), units=units,
                   history=_history(desk, stored.id), alert=status >= 400, text_masked=text != data["text"],
                   dispatches=desk.outbox.rows(stored.id), errors=errors or {}, message=message, reveal=reveal,
                   streets={d: list(s) for d, s in desk.gazetteer.districts.items()})


def _history(desk: Desk, record_id: str) -> list[str]:
    """Who changed what and who looked at what, oldest first; numbers masked."""
    lines = []
    for c in desk.store.history(record_id):
        old, new = (STATUS_NAMES.get(v, v) if c.field == "status" else v for v in (c.old, c.new))
        change = f"{form.mask(str(old))} → {form.mask(str(new))}" if old is not None else form.mask(str(new))
        lines.append((c.at, f"{c.actor}：{FIELD_NAMES.get(c.field, c.field)} {change}"))
    lines += [(at, f"{who}：查看完整号码") for at, who, _ in desk.agents.accesses(record_id)]
    return [f"{_beijing_time(at)} {text}" for at, text in sorted(lines, key=lambda x: x[0])]


def _span_view(span: dict[str, Any], text: str) -> dict[str, Any]:
    """Evidence words as shown (masked like the text), with their audio seconds."""
    return {"text": text[span["start"]:span["end"]], "audio_start": span.get("audio_start"),
            "audio_end": span.get("audio_end")}


def _segments(text: str, evidence: dict[str, list[dict[str, Any]]]) -> list[tuple[str, list[str]]]:
    """The text cut at evidence boundaries, each piece with the fields it is evidence for."""
    cuts = {0, len(text)}
    for spans in evidence.values():
        for s in spans:
            cuts.update((max(0, min(len(text), s["start"])), max(0, min(len(text), s["end"]))))
    edges = sorted(cuts)
    out = []
    for a, b in zip(edges, edges[1:], strict=False):
        keys = sorted(k for k, spans in evidence.items() if any(s["start"] <= a and b <= s["end"] for s in spans))
        out.append((text[a:b], keys))
    return out


async def record_action(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    session: Session = request["session"]
    stored = _record(request)
    data = {k: str(v) for k, v in (await request.post()).items()}
    action = data.get("action", "")
    if action == "reveal":
        desk.agents.log_access(session.username, stored.id, "numbers")
        log.info("desk reveal record=%s agent=%s", stored.id, session.username)
        return _record_view(request, stored, reveal=True)
    if stored.status not in AWAITING_AGENT:
        return _record_view(request, stored, status=409,
                            message=f"该工单当前状态为“{STATUS_NAMES[stored.status]}”，已由他人处理，不能再修改")
    if action == "reject":
        reason = " ".join(data.get("reason", "").split())[:200]
        if not reason:
            return _record_view(request, stored, status=400, message="退回需要填写原因")
        try:
            desk.store.settle(stored.id, "rejected", session.username, note=reason, only_from=AWAITING_AGENT)
        except StatusConflict:
            return _conflict(request)
        log.info("desk reject record=%s agent=%s", stored.id, session.username)
        raise web.HTTPSeeOther(f"/?done=rejected&ticket={stored.ticket}")
    if action == "duplicate":
        original = desk.store.by_ticket(data.get("duplicate_of", "").strip())
        if original is None or original.id == stored.id:
            return _record_view(request, stored, status=400, message="请填写被重复的另一张工单号")
        try:
            desk.store.settle(stored.id, "duplicate", session.username, note=f"与{original.ticket}重复",
                              merged_into=original.id, only_from=AWAITING_AGENT)
        except StatusConflict:
            return _conflict(request)
        raise web.HTTPSeeOther(f"/?done=duplicate&ticket={stored.ticket}")
    if action not in ("save", "confirm"):
        raise web.HTTPBadRequest(text="未知操作")
    result = form.parse(data, desk.taxonomy, desk.gazetteer, stored.record)
    if result.errors:
        return _record_view(request, stored, status=400, errors=result.errors, values=data,
                            message="请改正标红的字段")
    try:
        stored = desk.store.edit(stored.id, result.changes, session.username)
        if action == "save":
            return _record_view(request, stored, message="已保存")
        loc = stored.record["location"]
        units = desk.router.units(stored.record["subcategory"], loc["district"], loc["street"])
        if not units:
            return _record_view(request, stored, status=400, message="无法确定承办单位：请补全区和街道乡镇")
        desk.store.confirm(stored.id, form.units_json(units), session.username)
    except StatusConflict:
        return _conflict(request)
    log.info("desk confirm record=%s agent=%s units=%d", stored.id, session.username, len(units))
    raise web.HTTPSeeOther(f"/?done=confirmed&ticket={stored.ticket}")


def _conflict(request: web.Request) -> web.Response:
    """Another agent (or the dispatch relay) changed the record between this page's read and its write."""
    return _record_view(request, _record(request), status=409, message="该工单刚被他人修改或处理，请核对后再操作")


async def record_audio(request: web.Request) -> web.StreamResponse:
    stored = _record(request)
    if not stored.media or not Path(stored.media).is_file():
        raise web.HTTPNotFound(text="该工单没有录音")
    return web.FileResponse(stored.media)


async def record_image(request: web.Request) -> web.StreamResponse:
    stored = _record(request)
    n = int(request.match_info["n"])
    if n >= len(stored.images) or not Path(stored.images[n]).is_file():
        raise web.HTTPNotFound(text="没有这张图片")
    return web.FileResponse(stored.images[n])


def _safe_next(raw: str | None) -> str:
    """Only a path on this site: no open redirect (browsers drop tabs and newlines, and read \\ as /)."""
    if not raw or any(c <= " " or c == "\\" for c in raw):
        return "/"
    url = URL(raw)
    if url.scheme or url.host or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    return raw


def _cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Strict", path="/",
                        secure=request.app[DESK].config.secure_cookies)


def _beijing_time(value: str | datetime | None) -> str:
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(BEIJING).strftime("%m-%d %H:%M")

"""The reference dispatch receiver (`hotline dispatch-sink`): both protocols the relay speaks, each request
stored in its own SQLite file before it is answered, a repeated Idempotency-Key answered with the first
answer; faults on demand (500s, connection resets, held requests) for tests and demonstrations.

    POST /records                            GET /records/{id}               POST /records/{id}/close
    POST /open311/v2/requests.json           GET /open311/v2/requests/{id}.json
    GET  /open311/v2/services.json           POST /open311/v2/requests/{id}/close.json
    GET  /stats                              GET|POST /faults"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import signal
import socket
import sqlite3
import struct
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from bot.dispatch import open311
from bot.taxonomy import load_taxonomy

log = logging.getLogger(__name__)

T = TypeVar("T")
BEIJING = timezone(timedelta(hours=8))
KEY_LIMIT = 255

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    protocol TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    record_id TEXT,
    ticket TEXT,
    service_code TEXT NOT NULL,
    description TEXT NOT NULL,
    address TEXT,
    lat REAL,
    long REAL,
    agency TEXT,
    status TEXT NOT NULL,
    status_notes TEXT,
    answer_status INTEGER NOT NULL DEFAULT 0,
    answer TEXT NOT NULL DEFAULT '',
    duplicates INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Faults:
    """Faults the sink injects into POSTs that create a request. The three rates add up to 100 at most."""

    error: float = 0.0
    """percent answered 500 before anything is stored"""
    reset: float = 0.0
    """percent stored, then the connection reset instead of an answer"""
    hang: float = 0.0
    """percent stored, then held `hang_seconds` before the answer (longer than the client waits)"""
    hang_seconds: float = 3600.0
    """how long a held request is held, unless the sink shuts down first"""
    first: int = 0
    """faults strike only the first `first` attempts of each key (0: every attempt)"""

    def __post_init__(self) -> None:
        for name in ("error", "reset", "hang"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"fault rate {name} must be a percentage 0..100, got {getattr(self, name)}")
        if self.error + self.reset + self.hang > 100:
            raise ValueError("fault rates error + reset + hang must add up to 100 at most")
        if not self.hang_seconds > 0 or self.first < 0:
            raise ValueError("hang_seconds must be positive and first at least 0")

    @classmethod
    def from_dict(cls, data: Any) -> Faults:
        """From a JSON object as POST /faults takes it; unknown or mistyped fields raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        kinds = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(kinds)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"fault setting {name} must be a number")
            if kinds[name] == "int" and value != int(value):
                raise ValueError(f"fault setting {name} must be a whole number")
            values[name] = int(value) if kinds[name] == "int" else float(value)
        return cls(**values)

    def pick(self, attempt: int, roll: float) -> str | None:
        """The fault for the `attempt`-th POST of a key, given a uniform roll in [0, 100)."""
        if self.first and attempt > self.first:
            return None
        for name in ("error", "reset", "hang"):
            rate: float = getattr(self, name)
            if roll < rate:
                return name
            roll -= rate
        return None


class SinkStore:
    """The sink's SQLite file, used from one worker thread so the event loop never waits on a disk write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-db")
        self._conn: sqlite3.Connection | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(shut).result()
        self._executor.shutdown()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an answered request survives a power cut
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def accept(self, key: str, protocol: str, digest: str, columns: dict[str, Any],
               answer: Callable[[int], tuple[int, Any]]) -> tuple[int, str, bool]:
        """(HTTP status, answer body, duplicate?) for one POST. A new key is stored and its answer with it,
        in one transaction, before anything is answered; a known key gets its first answer again."""
        with _transaction(self._db()) as db:
            _tally(db, "received")
            row = db.execute("SELECT id, digest, answer_status, answer FROM requests WHERE key = ?", (key,)).fetchone()
            if row is not None and row["digest"] != digest:
                _tally(db, "rejected")
                result = 422, json.dumps(_error(protocol, 422, "Idempotency-Key reused for a different request"),
                                         ensure_ascii=False), False
            elif row is not None:
                db.execute("UPDATE requests SET duplicates = duplicates + 1 WHERE id = ?", (row["id"],))
                result = row["answer_status"], row["answer"], True
            else:
                now = datetime.now(BEIJING).isoformat(timespec="seconds")
                values = {"key": key, "protocol": protocol, "digest": digest, "status": "open",
                          "created_at": now, "updated_at": now} | columns
                cursor = db.execute(f"INSERT INTO requests ({', '.join(values)}) VALUES "
                                    f"({', '.join('?' * len(values))})", tuple(values.values()))
                remote_id = int(cursor.lastrowid or 0)
                status, body = answer(remote_id)
                text = json.dumps(body, ensure_ascii=False)
                db.execute("UPDATE requests SET answer_status = ?, answer = ? WHERE id = ?", (status, text, remote_id))
                result = status, text, False
        return result

    def tally(self, *names: str) -> None:
        with _transaction(self._db()) as db:
            for name in names:
                _tally(db, name)

    def get(self, remote_id: int) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM requests WHERE id = ?", (remote_id,)).fetchone()
        return dict(row) if row else None

    def set_status(self, remote_id: int, status: str, notes: str | None) -> dict[str, Any] | None:
        with _transaction(self._db()) as db:
            db.execute("UPDATE requests SET status = ?, status_notes = ?, updated_at = ? WHERE id = ?",
                       (status, notes, datetime.now(BEIJING).isoformat(timespec="seconds"), remote_id))
        return self.get(remote_id)

    def stats(self) -> dict[str, int]:
        db = self._db()
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        unique, duplicates, tickets = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(duplicates), 0), COUNT(DISTINCT ticket) FROM requests").fetchone()
        return {"received": counters.get("received", 0), "unique": unique, "duplicates": duplicates,
                "tickets": tickets, "rejected": counters.get("rejected", 0),
                "faults": {k.removeprefix("fault_"): v for k, v in counters.items() if k.startswith("fault_")}}


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; the write lock is taken at the start, so a read-then-write cannot race."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _tally(db: sqlite3.Connection, name: str) -> None:
    db.execute("INSERT INTO counters (name, value) VALUES (?, 1) "
               "ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))


def _error(protocol: str, status: int, reason: str) -> Any:
    return open311.error_body(status, reason) if protocol == "open311" else {"error": reason}


class Sink:
    """The receiver: its store, its faults, and the aiohttp application that serves both protocols."""

    def __init__(self, db_path: Path, faults: Faults | None = None, api_key: str | None = None,
                 seed: int | None = None) -> None:
        self.store = SinkStore(db_path)
        self.faults = faults or Faults()
        self.api_key = api_key
        self.attempts: Counter[str] = Counter()  # POSTs per key since start, for `Faults.first`
        self.held: Counter[str] = Counter()  # keys of the requests being held right now
        self._rng = random.Random(seed)
        self._release = asyncio.Event()
        tax = load_taxonomy()
        self._services = open311.services(tax)
        self._codes = {s["service_code"] for s in self._services}
        self._categories = set(tax.categories)

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([
            web.post("/records", self.post_record),
            web.get("/records/{id:\\d+}", self.get_record),
            web.post("/records/{id:\\d+}/close", self.close_record),
            web.post("/open311/v2/requests.json", self.post_open311),
            web.get("/open311/v2/requests/{id:\\d+}.json", self.get_open311),
            web.post("/open311/v2/requests/{id:\\d+}/close.json", self.close_open311),
            web.get("/open311/v2/services.json", self.get_services),
            web.get("/stats", self.get_stats),
            web.get("/faults", self.get_faults),
            web.post("/faults", self.set_faults),
        ])
        return app

    def release(self) -> None:
        """Answer every held request now (shutting down)."""
        self._release.set()

    async def close(self) -> None:
        """Release held requests and close the store; after the server stopped."""
        self.release()
        await asyncio.to_thread(self.store.close)

    # --- creating requests -------------------------------------------------------------------------------

    async def post_record(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        return await self._create(request, "json", body)

    async def post_open311(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        return await self._create(request, "open311", [(k, str(v)) for k, v in form.items()])

    async def _create(self, request: web.Request, protocol: str, body: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key", "")
        if not key or len(key) > KEY_LIMIT:
            await self.store.call(self.store.tally, "received", "rejected")
            return _answer(protocol, 400, f"an Idempotency-Key header of 1-{KEY_LIMIT} characters is required")
        self.attempts[key] += 1
        fault = self.faults.pick(self.attempts[key], self._rng.uniform(0, 100))
        if fault == "error":
            await self.store.call(self.store.tally, "received", "fault_error")
            return _answer(protocol, 500, "injected fault")
        try:
            columns = self._columns_json(body) if protocol == "json" else self._columns_open311(body)
        except ValueError as e:
            await self.store.call(self.store.tally, "received", "rejected")
            return _answer(protocol, 400, str(e))
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        status, text, duplicate = await self.store.call(self.store.accept, key, protocol, digest, columns,
                                                        _created(protocol))
        if fault == "reset":
            await self.store.call(self.store.tally, "fault_reset")
            _reset(request)
            raise web.HTTPInternalServerError()  # never reaches the client: the connection is gone
        if fault == "hang":
            await self.store.call(self.store.tally, "fault_hang")
            self.held[key] += 1
            try:
                await asyncio.wait_for(self._release.wait(), self.faults.hang_seconds)
            except asyncio.TimeoutError:
                pass
            finally:
                self.held[key] -= 1
                if not self.held[key]:
                    del self.held[key]
        headers = {"Idempotent-Replayed": "true"} if duplicate else {}
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    def _columns_json(self, body: Any) -> dict[str, Any]:
        """The stored columns of a JSON record; ValueError says what is wrong with it."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object (a record)")
        for name, kind in (("id", str), ("text", str), ("summary", str), ("category", str),
                           ("location", dict), ("contact", dict), ("dispatch", dict)):
            value = body.get(name)
            if not isinstance(value, kind) or (name in ("id", "text") and not value):
                raise ValueError(f"record field {name} is missing, empty or not a {kind.__name__}")
        if body["category"] not in self._categories:
            raise ValueError(f"unknown category {body['category']!r}")
        code = open311.service_code(body)
        if code not in self._codes or code.split(".", 1)[0] != body["category"]:
            raise ValueError(f"unknown subcategory {body.get('subcategory')!r}")
        if body.get("urgency") not in (1, 2, 3, 4):
            raise ValueError("record field urgency must be 1..4")
        contact = body["contact"]
        if contact.get("confidential") and (contact.get("name") or contact.get("phone")):
            raise ValueError("a confidential report must not carry the reporter's name or phone")
        location = body["location"]
        units = [u.get("name") for u in body["dispatch"].get("units", []) if isinstance(u, dict)]
        return {"body": json.dumps(body, ensure_ascii=False), "record_id": body["id"], "ticket": body.get("ticket"),
                "service_code": code, "description": f"{body['summary']}\n{body['text']}",
                "address": location.get("address"), "lat": location.get("latitude"),
                "long": location.get("longitude"), "agency": units[0] if units else None}

    def _columns_open311(self, form: list[tuple[str, str]]) -> dict[str, Any]:
        """The stored columns of an Open311 service request; ValueError says what is wrong with it."""
        values = dict(form)
        if self.api_key is not None and values.get("api_key") != self.api_key:
            raise ValueError("api_key is missing or wrong")
        code = values.get("service_code", "")
        if code not in self._codes:
            raise ValueError(f"service_code {code!r} is not a service of this jurisdiction")
        if not values.get("description"):
            raise ValueError("description is required")
        try:
            lat = float(values["lat"]) if values.get("lat") else None
            lng = float(values["long"]) if values.get("long") else None
        except ValueError:
            raise ValueError("lat and long must be numbers") from None
        if (lat is None) != (lng is None):
            raise ValueError("lat and long go together")
        if lat is None and not values.get("address_string") and not values.get("address_id"):
            raise ValueError("a location is required: lat and long, address_string or address_id")
        units = [v for k, v in form if k == "attribute[units][]"]
        stored = [(k, v) for k, v in form if k != "api_key"]
        return {"body": json.dumps(stored, ensure_ascii=False), "record_id": None,
                "ticket": values.get("attribute[ticket]"), "service_code": code,
                "description": values["description"], "address": values.get("address_string"), "lat": lat,
                "long": lng, "agency": units[0] if units else None}

    # --- reading and closing -----------------------------------------------------------------------------

    async def get_record(self, request: web.Request) -> web.Response:
        row = await self.store.call(self.store.get, int(request.match_info["id"]))
        if row is None:
            return _answer("json", 404, "no such record")
        return web.json_response(_record_status(row), dumps=_dumps)

    async def close_record(self, request: web.Request) -> web.Response:
        row = await self.store.call(self.store.set_status, int(request.match_info["id"]), "closed",
                                    request.query.get("notes"))
        if row is None:
            return _answer("json", 404, "no such record")
        return web.json_response(_record_status(row), dumps=_dumps)

    async def get_open311(self, request: web.Request) -> web.Response:
        row = await self.store.call(self.store.get, int(request.match_info["id"]))
        if row is None:
            return _answer("open311", 404, "no such service request")
        return web.json_response([_service_request(row)], dumps=_dumps)

    async def close_open311(self, request: web.Request) -> web.Response:
        row = await self.store.call(self.store.set_status, int(request.match_info["id"]), "closed",
                                    request.query.get("status_notes"))
        if row is None:
            return _answer("open311", 404, "no such service request")
        return web.json_response([_service_request(row)], dumps=_dumps)

    async def get_services(self, _request: web.Request) -> web.Response:
        return web.json_response(self._services, dumps=_dumps)

    async def get_stats(self, _request: web.Request) -> web.Response:
        stats = await self.store.call(self.store.stats)
        return web.json_response(stats | {"holding": self.held.total()})

    async def get_faults(self, _request: web.Request) -> web.Response:
        return web.json_response(asdict(self.faults))

    async def set_faults(self, request: web.Request) -> web.Response:
        """Replace the faults; the attempts counted per key start again."""
        try:
            self.faults = Faults.from_dict(await request.json())
        except ValueError as e:
            return _answer("json", 400, str(e))
        self.attempts.clear()
        return web.json_response(asdict(self.faults))


def _created(protocol: str) -> Callable[[int], tuple[int, Any]]:
    def answer(remote_id: int) -> tuple[int, Any]:
        if protocol == "open311":
            return 201, [{"service_request_id": str(remote_id), "service_notice": "已受理", "account_id": None}]
        return 201, {"id": str(remote_id), "status": "open"}

    return answer


def _record_status(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "record_id": row["record_id"], "ticket": row["ticket"], "status": row["status"],
            "status_notes": row["status_notes"], "created_at": row["created_at"], "updated_at": row["updated_at"]}


def _service_request(row: dict[str, Any]) -> dict[str, Any]:
    return {"service_request_id": str(row["id"]), "status": row["status"], "status_notes": row["status_notes"],
            "service_code": row["service_code"], "description": row["description"],
            "agency_responsible": row["agency"], "requested_datetime": row["created_at"],
            "updated_datetime": row["updated_at"], "address": row["address"], "lat": row["lat"],
            "long": row["long"]}


def _answer(protocol: str, status: int, reason: str) -> web.Response:
    return web.json_response(_error(protocol, status, reason), status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset, as a crashed proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@asynccontextmanager
async def running(sink: Sink, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the sink while inside; yields its base URL (port 0 picks a free port)."""
    runner = web.AppRunner(sink.app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        sink.release()  # held requests answer now, so shutting down does not wait for them
        await runner.cleanup()
        await sink.close()


async def serve(sink: Sink, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; prints the URL on stdout once it listens."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(sink, host, port) as url:
        print(f"dispatch sink on {url} (db {sink.store.path})", flush=True)
        await stop.wait()

"""bot/dispatch/client and config: the answer -> error mapping, bad settings, and real requests on loopback."""

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest
from aiohttp import web

from bot import PROJECT_DIR
from bot.dispatch.client import (
    DispatchClient,
    PermanentDispatchError,
    TransientDispatchError,
    error_for,
    parse_retry_after,
    record_body,
)
from bot.dispatch.config import DispatchConfig
from bot.storage import OutboxItem
from tests.dispatch.conftest import fast_config, receiver, sink_at, sink_stats

REPORT = "我要举报朝阳区望京街道有群租房，{n}号楼住了十几个人，我姓李，电话13911112223"


@pytest.mark.parametrize("status, expected", [
    (200, None), (201, None), (202, None), (204, None),
    (301, PermanentDispatchError), (302, PermanentDispatchError),
    (400, PermanentDispatchError), (401, PermanentDispatchError), (403, PermanentDispatchError),
    (404, PermanentDispatchError), (410, PermanentDispatchError), (413, PermanentDispatchError),
    (422, PermanentDispatchError),
    (408, TransientDispatchError), (409, TransientDispatchError), (425, TransientDispatchError),
    (429, TransientDispatchError),
    (500, TransientDispatchError), (502, TransientDispatchError), (503, TransientDispatchError),
    (504, TransientDispatchError),
])
def test_status_to_error(status, expected):
    error = error_for(status, "")
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected and error.status == status and str(error) == f"HTTP {status}"


@pytest.mark.parametrize("body, reason", [
    ('[{"code": 400, "description": "service_code 无效"}]', "HTTP 400: service_code 无效"),
    ('{"error": "record field text is missing"}', "HTTP 400: record field text is missing"),
    ("<html>\n<b>Bad   Request</b></html>", "HTTP 400: <html> <b>Bad Request</b></html>"),
    ("x" * 1000, "HTTP 400: " + "x" * 200),
])
def test_the_reason_is_what_the_receiver_said(body, reason):
    assert str(error_for(400, body)) == reason


@pytest.mark.parametrize("header, seconds", [
    ("120", 120.0), (" 3 ", 3.0), ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0), ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
    ("soon", None), ("", None), (None, None),
])
def test_retry_after(header, seconds):
    now = datetime(2026, 10, 21, 7, 28, tzinfo=timezone.utc)
    assert parse_retry_after(header, now=now) == seconds


def test_a_transient_error_carries_retry_after():
    error = error_for(503, "", "7")
    assert isinstance(error, TransientDispatchError) and error.retry_after == 7.0


def test_config_from_environment():
    config = DispatchConfig.from_env({"HOTLINE_DISPATCH_URL": "https://dispatch.example.cn/api",
                                      "HOTLINE_DISPATCH_FORMAT": "open311", "HOTLINE_DISPATCH_API_KEY": "k",
                                      "HOTLINE_DISPATCH_MAX_ATTEMPTS": "3", "HOTLINE_DISPATCH_TIMEOUT": "5",
                                      "HOTLINE_DISPATCH_LEASE": "6", "HOTLINE_DISPATCH_BACKOFF_BASE": "",
                                      "HOTLINE_DISPATCH_JURISDICTION": "beijing"})
    assert (config.url, config.format, config.api_key, config.jurisdiction) == (
        "https://dispatch.example.cn/api", "open311", "k", "beijing")
    assert (config.max_attempts, config.total_timeout, config.lease) == (3, 5.0, 6.0)
    assert config.backoff_base == DispatchConfig().backoff_base


@pytest.mark.parametrize("env, message", [
    ({"HOTLINE_DISPATCH_URL": "ftp://127.0.0.1"}, "HOTLINE_DISPATCH_URL"),
    ({"HOTLINE_DISPATCH_URL": "127.0.0.1:8088"}, "HOTLINE_DISPATCH_URL"),
    ({"HOTLINE_DISPATCH_FORMAT": "xml"}, "HOTLINE_DISPATCH_FORMAT"),
    ({"HOTLINE_DISPATCH_TIMEOUT": "soon"}, "HOTLINE_DISPATCH_TIMEOUT must be a number"),
    ({"HOTLINE_DISPATCH_TIMEOUT": "0"}, "HOTLINE_DISPATCH_TIMEOUT must be a positive"),
    ({"HOTLINE_DISPATCH_CONNECT_TIMEOUT": "-1"}, "HOTLINE_DISPATCH_CONNECT_TIMEOUT"),
    ({"HOTLINE_DISPATCH_CONNECT_TIMEOUT": "20"}, "cannot exceed HOTLINE_DISPATCH_TIMEOUT"),
    ({"HOTLINE_DISPATCH_MAX_ATTEMPTS": "0"}, "HOTLINE_DISPATCH_MAX_ATTEMPTS must be at least 1"),
    ({"HOTLINE_DISPATCH_MAX_ATTEMPTS": "2.5"}, "HOTLINE_DISPATCH_MAX_ATTEMPTS must be a whole number"),
    ({"HOTLINE_DISPATCH_CONCURRENCY": "0"}, "HOTLINE_DISPATCH_CONCURRENCY"),
    ({"HOTLINE_DISPATCH_BACKOFF_BASE": "nan"}, "HOTLINE_DISPATCH_BACKOFF_BASE"),
    ({"HOTLINE_DISPATCH_BACKOFF_CAP": "0.5"}, "HOTLINE_DISPATCH_BACKOFF_CAP"),
    ({"HOTLINE_DISPATCH_LEASE": "10"}, "HOTLINE_DISPATCH_LEASE .* must exceed HOTLINE_DISPATCH_TIMEOUT"),
    ({"HOTLINE_DISPATCH_POLL_INTERVAL": "0"}, "HOTLINE_DISPATCH_POLL_INTERVAL"),
])
def test_bad_config_fails_at_start(env, message):
    with pytest.raises(ValueError, match=message):
        DispatchConfig.from_env(env)


@pytest.mark.parametrize("var, value", [("HOTLINE_DISPATCH_FORMAT", "xml"), ("HOTLINE_DISPATCH_LEASE", "1")])
def test_the_relay_command_refuses_bad_config_at_start(tmp_path, var, value):
    env = os.environ | {"HOTLINE_DB_URL": f"sqlite:///{tmp_path / 'h.db'}", var: value}
    done = subprocess.run([sys.executable, "-m", "bot", "relay"], env=env, cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {var}")


def item_for(record, key=None):
    return OutboxItem(seq=1, record_id=record["id"], key=key or str(uuid.uuid4()), payload=record, attempts=1,
                      created_at=datetime.now(timezone.utc), ticket="12345-20261121-000001")


@pytest.mark.parametrize("fmt", ["json", "open311"])
def test_send_read_back_and_a_repeated_key(tmp_path, make_record, fmt):
    record = make_record()
    item = item_for(record)

    async def body():
        async with sink_at(tmp_path / "sink.db") as (url, sink), DispatchClient(fast_config(url, format=fmt)) as c:
            first = await c.send(item)
            again = await c.send(item)  # a relay that never saw the first answer sends the same key again
            assert first == again and first.format == fmt and first.status == "open"
            assert await c.status(fmt, first.remote_id) == "open"
            row = await sink.store.call(sink.store.get, int(first.remote_id))
            assert row["key"] == item.key and row["ticket"] == item.ticket and row["protocol"] == fmt
            stats = await sink_stats(url)
            assert (stats["received"], stats["unique"], stats["duplicates"]) == (2, 1, 1)
            await sink.store.call(sink.store.set_status, int(first.remote_id), "closed", None)
            assert await c.status(fmt, first.remote_id) == "closed"

    asyncio.run(body())


def test_the_json_body_is_the_record_with_its_ticket_and_no_reporter(make_record):
    report = make_record(REPORT)
    body = record_body(report, "12345-20261121-000009")
    assert body["ticket"] == "12345-20261121-000009" and body["id"] == report["id"]
    assert body["contact"]["phone"] is None and "13911112223" not in body["text"]


def test_a_refused_record_is_permanent_with_the_receivers_reason(tmp_path, make_record):
    bad = make_record(subcategory="utilities.teleportation")

    async def body():
        async with sink_at(tmp_path / "sink.db") as (url, _sink):
            for fmt, reason in (("json", "unknown subcategory"), ("open311", "service_code")):
                async with DispatchClient(fast_config(url, format=fmt)) as client:
                    with pytest.raises(PermanentDispatchError, match=reason) as raised:
                        await client.send(item_for(bad))
                    assert raised.value.status == 400

    asyncio.run(body())


def test_a_record_that_cannot_be_built_into_a_request_is_permanent(make_record):
    broken = make_record()
    del broken["summary"]
    nowhere = make_record()
    nowhere["location"] = {"district": None, "street": None, "address": None}

    async def body():
        async with DispatchClient(fast_config("http://127.0.0.1:9", format="open311")) as client:
            with pytest.raises(PermanentDispatchError, match="cannot be sent: missing or malformed field 'summary'"):
                await client.send(item_for(broken))
            with pytest.raises(PermanentDispatchError, match="cannot be sent: an Open311 request needs a location"):
                await client.send(item_for(nowhere))

    asyncio.run(body())


def test_refused_connection_times_out_and_reset_are_transient(tmp_path, make_record):
    record = make_record()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"

    async def body():
        async with DispatchClient(fast_config(closed)) as client:
            with pytest.raises(TransientDispatchError, match="connection failed"):
                await client.send(item_for(record))
        async with sink_at(tmp_path / "hang.db", hang=100) as (url, sink):
            async with DispatchClient(fast_config(url, total_timeout=0.3, connect_timeout=0.3)) as client:
                with pytest.raises(TransientDispatchError, match="no answer within 0.3 s"):
                    await client.send(item_for(record))
                assert sink.held.total() == 1
        async with sink_at(tmp_path / "reset.db", reset=100) as (url, _sink):
            async with DispatchClient(fast_config(url)) as client:
                with pytest.raises(TransientDispatchError, match="connection failed"):
                    await client.send(item_for(record))

    asyncio.run(body())


@pytest.mark.parametrize("answer", ["<html>维护中</html>", "{}", '{"status": "open"}', "[]"])
def test_a_garbled_success_is_transient(make_record, answer):
    """A 2xx whose body says nothing usable: the same key makes a retry safe."""
    record = make_record()

    async def garbled(_request):
        return web.Response(status=200, text=answer)

    async def body():
        async with receiver(garbled, "/records", "/open311/v2/requests.json") as url:
            for fmt in ("json", "open311"):
                async with DispatchClient(fast_config(url, format=fmt)) as client:
                    with pytest.raises(TransientDispatchError, match="unreadable answer"):
                        await client.send(item_for(record))

    asyncio.run(body())


def test_the_client_needs_start():
    async def body():
        with pytest.raises(RuntimeError, match="start"):
            await DispatchClient(fast_config("http://127.0.0.1:9")).status("json", "1")

    asyncio.run(body())

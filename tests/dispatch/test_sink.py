"""bot/dispatch/sink: both protocols, idempotency that survives a restart, validation, faults, the command."""

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest

from bot import PROJECT_DIR
from bot.dispatch import open311
from bot.dispatch.client import record_body
from bot.dispatch.sink import Faults
from bot.taxonomy import load_taxonomy
from tests.dispatch.conftest import sink_at, sink_stats

REPORT = "我要举报朝阳区望京街道有群租房，{n}号楼住了十几个人，我姓李，电话13911112223"


async def post(session, url, key, **kwargs):
    headers = {"Idempotency-Key": key} if key else {}
    async with session.post(url, headers=headers, **kwargs) as response:
        return response.status, await response.json(), response.headers.get("Idempotent-Replayed")


def test_a_repeated_key_gets_the_first_answer_also_after_a_restart(tmp_path, make_record):
    body = record_body(make_record(), "12345-20261121-000001")

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            first = await post(session, f"{url}/records", "k1", json=body)
            assert first[:2] == (201, {"id": "1", "status": "open"}) and first[2] is None
            assert await post(session, f"{url}/records", "k1", json=body) == (201, first[1], "true")
            status, answer, _ = await post(session, f"{url}/records", "k1", json=body | {"urgency": 1})
            assert status == 422 and "different request" in answer["error"]
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            assert await post(session, f"{url}/records", "k1", json=body) == (201, first[1], "true")
            assert (await post(session, f"{url}/records", "k2", json=body))[1]["id"] == "2"
            async with session.get(f"{url}/records/1") as response:
                got = await response.json()
            assert (got["id"], got["record_id"], got["ticket"], got["status"]) == (
                "1", body["id"], "12345-20261121-000001", "open")
            stats = await sink_stats(url)
        assert stats | {"faults": None} == {"received": 5, "unique": 2, "duplicates": 2, "tickets": 1,
                                            "rejected": 1, "faults": None, "holding": 0}

    asyncio.run(run())


def test_open311_routes(tmp_path, make_record):
    record = make_record()
    form = open311.request_fields(record, "12345-20261121-000002")

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            base = f"{url}/open311/v2"
            status, answer, _ = await post(session, f"{base}/requests.json", "k", data=form)
            assert status == 201 and answer[0]["service_request_id"] == "1"
            async with session.get(f"{base}/requests/1.json") as response:
                [got] = await response.json()
            assert got["status"] == "open" and got["service_code"] == record["subcategory"]
            assert got["agency_responsible"] == record["dispatch"]["units"][0]["name"]
            assert got["address"] == record["location"]["address"] and got["requested_datetime"]
            async with session.post(f"{base}/requests/1/close.json", params={"status_notes": "已修复"}) as response:
                [closed] = await response.json()
            assert (closed["status"], closed["status_notes"]) == ("closed", "已修复")
            async with session.get(f"{base}/requests/9.json") as response:
                assert response.status == 404 and (await response.json())[0]["code"] == 404
            async with session.get(f"{base}/services.json") as response:
                assert await response.json() == open311.services(load_taxonomy())

    asyncio.run(run())


def test_json_close_and_unknown_ids(tmp_path, make_record):
    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            await post(session, f"{url}/records", "k", json=record_body(make_record(), "t"))
            async with session.post(f"{url}/records/1/close", params={"notes": "已办结"}) as response:
                assert (await response.json())["status"] == "closed"
            for method, path in (("GET", "/records/7"), ("POST", "/records/7/close")):
                async with session.request(method, url + path) as response:
                    assert response.status == 404 and "error" in await response.json()

    asyncio.run(run())


@pytest.mark.parametrize("change, reason", [
    ({"text": ""}, "text"),
    ({"category": "weather"}, "unknown category"),
    ({"subcategory": "utilities.teleportation"}, "unknown subcategory"),
    ({"subcategory": "transport.parking"}, "unknown subcategory"),  # not of the record's category
    ({"urgency": 7}, "urgency"),
    ({"contact": {"name": "李", "phone": "13911112223", "confidential": True}}, "confidential"),
    ({"location": None}, "location"),
])
def test_json_validation(tmp_path, make_record, change, reason):
    body = record_body(make_record(), "t") | change

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            status, answer, _ = await post(session, f"{url}/records", "k", json=body)
            assert status == 400 and reason in answer["error"]
            status, answer, _ = await post(session, f"{url}/records", "k", data="not json")
            assert status == 400 and "JSON object" in answer["error"]

    asyncio.run(run())


@pytest.mark.parametrize("change, reason", [
    ({"service_code": "weather"}, "service_code"),
    ({"description": ""}, "description"),
    ({"address_string": ""}, "location is required"),
    ({"lat": "39.9"}, "lat and long"),
    ({"lat": "north", "long": "east"}, "numbers"),
    ({"api_key": "wrong"}, "api_key"),
])
def test_open311_validation_answers_in_the_open311_error_format(tmp_path, make_record, change, reason):
    form = dict(open311.request_fields(make_record(), "t", api_key="secret")) | change

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, sink), aiohttp.ClientSession() as session:
            sink.api_key = "secret"
            status, answer, _ = await post(session, f"{url}/open311/v2/requests.json", "k", data=form)
            assert status == 400 and answer[0]["code"] == 400 and reason in answer[0]["description"]

    asyncio.run(run())


def test_the_key_is_required(tmp_path, make_record):
    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            status, answer, _ = await post(session, f"{url}/records", None, json=record_body(make_record(), "t"))
            assert status == 400 and "Idempotency-Key" in answer["error"]
            status, answer, _ = await post(session, f"{url}/open311/v2/requests.json", "x" * 300, data={})
            assert status == 400 and "Idempotency-Key" in answer[0]["description"]
            assert (await sink_stats(url))["rejected"] == 2

    asyncio.run(run())


def test_a_report_with_the_reporter_in_it_is_refused(tmp_path, make_record):
    """The sink checks what the client promises: a confidential report arrives without its reporter."""
    report = make_record(REPORT)

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            assert (await post(session, f"{url}/records", "a", json=record_body(report, "t")))[0] == 201
            leaked = {**report, "ticket": "t"}
            assert (await post(session, f"{url}/records", "b", json=leaked))[0] == 400

    asyncio.run(run())


@pytest.mark.parametrize("faults, attempt, roll, expected", [
    ({}, 1, 0.0, None),
    ({"error": 100}, 5, 99.9, "error"),
    ({"error": 100, "first": 2}, 2, 50.0, "error"),
    ({"error": 100, "first": 2}, 3, 50.0, None),
    ({"error": 20, "reset": 30, "hang": 10}, 1, 19.9, "error"),
    ({"error": 20, "reset": 30, "hang": 10}, 1, 49.9, "reset"),
    ({"error": 20, "reset": 30, "hang": 10}, 1, 59.9, "hang"),
    ({"error": 20, "reset": 30, "hang": 10}, 1, 60.0, None),
])
def test_fault_pick(faults, attempt, roll, expected):
    assert Faults(**faults).pick(attempt, roll) == expected


@pytest.mark.parametrize("data", [
    {"error": 101}, {"error": -1}, {"error": "50"}, {"error": True}, {"bogus": 1}, {"error": 60, "reset": 50},
    {"first": 1.5}, {"first": -1}, {"hang_seconds": 0}, [1],
])
def test_bad_faults_are_refused(data):
    with pytest.raises(ValueError):
        Faults.from_dict(data)


def test_faults_set_over_http_strike_the_first_attempts_of_each_key(tmp_path, make_record):
    body = record_body(make_record(), "t")

    async def run():
        async with sink_at(tmp_path / "sink.db") as (url, _sink), aiohttp.ClientSession() as session:
            async with session.post(f"{url}/faults", json={"error": 100, "first": 2}) as response:
                assert (await response.json())["first"] == 2
            statuses = [(await post(session, f"{url}/records", "k", json=body))[0] for _ in range(4)]
            assert statuses == [500, 500, 201, 201]
            async with session.post(f"{url}/faults", json={"error": 200}) as response:
                assert response.status == 400 and "percentage" in (await response.json())["error"]
            async with session.get(f"{url}/faults") as response:
                assert (await response.json())["error"] == 100
            stats = await sink_stats(url)
            assert (stats["received"], stats["unique"], stats["duplicates"], stats["faults"]) == (4, 1, 1, {"error": 2})

    asyncio.run(run())


def test_the_dispatch_sink_command(tmp_path, make_record):
    """`hotline dispatch-sink --port 0` prints where it listens, serves, and stops cleanly on SIGTERM."""
    process = subprocess.Popen([sys.executable, "-m", "bot", "dispatch-sink", "--port", "0", "--db",
                                str(tmp_path / "sink.db"), "--error", "100", "--first", "1"],
                               stdout=subprocess.PIPE, text=True, cwd=PROJECT_DIR, env=os.environ.copy())
    try:
        line = process.stdout.readline()
        assert line.startswith("dispatch sink on http://127.0.0.1:"), line
        url = line.split()[3]

        async def run():
            async with aiohttp.ClientSession() as session:
                body = record_body(make_record(), "t")
                assert [(await post(session, f"{url}/records", "k", json=body))[0] for _ in range(2)] == [500, 201]

        asyncio.run(run())
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

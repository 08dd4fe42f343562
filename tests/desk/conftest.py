import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.desk.app import make_app
from bot.storage import Agents, Storage, open_engine

PASSWORD = "desk-test-pass"


@pytest.fixture()
def engine(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    Agents(engine).add("li", PASSWORD, "李坐席")
    return engine


@pytest.fixture()
def store(engine):
    return Storage(engine)


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def logged_in(client: TestClient, username: str = "li", password: str = PASSWORD) -> str:
    """Logs in through the form; returns the CSRF token of the session."""
    page = await (await client.get("/login")).text()
    token = re.search(r'name="login_csrf" value="([^"]+)"', page).group(1)
    response = await client.post("/login", data={"username": username, "password": password, "login_csrf": token,
                                                  "next": "/"})
    assert response.status == 200, await response.text()
    return csrf(await response.text())


@pytest.fixture()
def desk(engine):
    """run(scenario): scenario(client) against the desk on a loopback port."""

    def run(scenario):
        async def main():
            async with TestClient(TestServer(make_app(engine), host="127.0.0.1")) as client:
                return await scenario(client)

        return asyncio.run(main())

    return run

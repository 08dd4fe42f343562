"""The desk in headless Chromium (Debian's chromium and chromedriver): an agent logs in, opens a queued
record, corrects district and category, confirms, and the reference dispatch receiver gets the corrected
record from the relay. Screenshots of the queue and record pages go to tmp_path, and to
HOTLINE_SCREENSHOT_DIR when set (docs/ holds the committed ones)."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.storage import Agents, Storage, open_engine

pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="`make install` installs chromium and chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited with {process.returncode}"
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture()
def servers(tmp_path):
    """The reference dispatch receiver and `hotline desk` (desk and relay) on loopback ports."""
    db_url = f"sqlite:///{tmp_path / 'hotline.db'}"
    engine = open_engine(db_url)
    Agents(engine).add("li", "browser-test-pass", "李坐席")
    sink_port, desk_port = free_port(), free_port()
    env = os.environ | {"HOTLINE_DB_URL": db_url, "HOTLINE_DESK_PORT": str(desk_port),
                        "HOTLINE_DISPATCH_URL": f"http://127.0.0.1:{sink_port}"}
    sink = subprocess.Popen([sys.executable, "-m", "bot", "dispatch-sink", "--port", str(sink_port),
                             "--db", str(tmp_path / "sink.db")], env=env)
    desk = subprocess.Popen([sys.executable, "-m", "bot", "desk"], env=env)
    try:
        wait_http(f"http://127.0.0.1:{sink_port}/stats", sink)
        wait_http(f"http://127.0.0.1:{desk_port}/login", desk)
        yield {"engine": engine, "desk": f"http://127.0.0.1:{desk_port}", "sink": f"http://127.0.0.1:{sink_port}",
               "sink_db": tmp_path / "sink.db"}
    finally:
        for p in (desk, sink):
            p.terminate()
        for p in (desk, sink):
            p.wait(timeout=30)


@pytest.fixture()
def browser():
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--lang=zh-CN"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    target = os.environ.get("HOTLINE_SCREENSHOT_DIR")
    if target:
        shutil.copy(path, Path(target) / name)


def test_agent_corrects_and_confirms_and_the_unit_receives_the_correction(servers, browser, extractor, tmp_path):
    store = Storage(servers["engine"])
    # The system heard 望京 and a heating problem; the citizen meant 中关村 and a leaking roof. No phone was
    # given, so the record waits for an agent.
    wrong = extractor.extract("我是王先生，望京那边小区暖气片漏水了，家里墙都湿了")
    others = [extractor.extract(t) for t in ("电梯困人了，里面有个老人，在回龙观龙泽苑，快来人，电话13911112222",
                                             "我要举报，隔壁楼群租，住了十几个人，在双井那边",
                                             "楼道的灯坏了一个星期了没人修")]
    for record in [wrong, *others]:
        assert record.dispatch.action == "handoff", record.dispatch
        store.save(record, "handoff")
    ticket = store.get(wrong.id).ticket

    wait = WebDriverWait(browser, 20)
    browser.get(servers["desk"] + "/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "username"))).send_keys("li")
    browser.find_element(By.ID, "password").send_keys("browser-test-pass")
    browser.find_element(By.ID, "login").click()
    link = wait.until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, ticket)))
    assert "13911112222" not in browser.page_source
    screenshot(browser, tmp_path, "desk-queue.png")

    link.click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "ticket"), ticket))
    screenshot(browser, tmp_path, "desk-record.png")
    Select(browser.find_element(By.ID, "district")).select_by_visible_text("海淀区")
    # the street list follows the district (desk.js)
    wait.until(lambda d: "中关村街道" in [o.text for o in Select(d.find_element(By.ID, "street")).options])
    Select(browser.find_element(By.ID, "street")).select_by_visible_text("中关村街道")
    Select(browser.find_element(By.ID, "subcategory")).select_by_value("housing.house_repair")
    browser.find_element(By.ID, "confirm").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "已确认"))
    assert ticket not in browser.find_element(By.ID, "queue-rows").text

    # the relay in `hotline desk` delivers it; the receiver stored what the agent confirmed
    deadline = time.monotonic() + 60
    while store.get(wrong.id).status != "dispatched":
        assert time.monotonic() < deadline, f"not delivered: {store.get(wrong.id).status}"
        time.sleep(0.3)
    stats = json.load(urllib.request.urlopen(servers["sink"] + "/stats", timeout=5))
    assert stats["unique"] == 1
    with sqlite3.connect(servers["sink_db"]) as db:
        [(body,)] = db.execute("SELECT body FROM requests").fetchall()
    received = json.loads(body)
    assert received["id"] == wrong.id and received["subcategory"] == "housing.house_repair"
    assert (received["location"]["district"], received["location"]["street"]) == ("海淀区", "中关村街道")
    assert {"name": "海淀区中关村街道办事处", "level": "street"} in received["dispatch"]["units"]

"""The WeChat channel inside the real Rasa server: loaded from a credentials file by its dotted path, a
signed message runs a turn through the trained assistant and its actions, and the assistant's answer
reaches the citizen through (the fake of) WeChat's customer-service API. The tracker Rasa saved holds what
a restarted channel needs to send a turn's answers without running it again."""

import json
import time
import uuid

import pytest
import requests
import sqlalchemy as sa
import yaml
from rasa.shared.core.events import deserialise_events

from bot.assistant import ServeOptions, start, stop
from connectors.wechat import answers_to
from tests.connectors.fake_wechat import FakeWeChat
from tests.connectors.test_wechat import APPID, KEY, SECRET, TOKEN, _port, signed, text_message, wait_for


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    fake = FakeWeChat(APPID, SECRET)
    fake.start()
    tmp = tmp_path_factory.mktemp("wechat-rasa")
    db_url = f"sqlite:///{tmp / 'hotline.db'}"
    credentials = tmp / "credentials.yml"
    credentials.write_text(yaml.safe_dump({"rest": None, "connectors.wechat.WeChatInput": {
        "token": TOKEN, "encoding_aes_key": KEY, "appid": APPID, "secret": SECRET, "api_base": fake.url,
        "db_url": db_url, "media_dir": str(tmp / "media")}}), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("HOTLINE_DB_URL", db_url)  # the tracker store and the records
    opts = ServeOptions(port=_port(), actions_port=_port(), credentials=credentials)
    procs = start(opts, log_dir=tmp)
    yield opts, fake, db_url
    stop(procs)
    mp.undo()


def test_a_wechat_message_is_a_turn_of_the_real_assistant(served):
    opts, fake, db_url = served
    url = f"http://{opts.host}:{opts.port}/webhooks/wechat/webhook"
    openid = "o" + uuid.uuid4().hex[:20]

    def say(text: str) -> str:
        message = text_message(text, openid=openid)
        params, body = signed(message, mode="safe")
        answer = requests.post(url, params=params, data=body, timeout=30, headers={"Content-Type": "text/xml"})
        assert answer.status_code == 200 and answer.text == "success"
        return f"msg:{message['MsgId']}"

    started = time.monotonic()
    first = say("我家暖气一点都不热，屋里才十五度")
    # the turn's answers are sent one by one: wait for the question that ends it
    wait_for(lambda: any("哪个区" in r for r in fake.texts(openid)), 120, "the assistant's answer")
    replies = fake.texts(openid)
    assert any("供暖" in r for r in replies), replies
    say("朝阳区")
    wait_for(lambda: any("街道" in r for r in fake.texts(openid)[len(replies):]), 120, "the next question")
    print(f"two turns answered through the API in {time.monotonic() - started:.1f} s")
    # the turns are in Rasa's tracker store, under the citizen's openid and the wechat channel
    engine = sa.create_engine(db_url)
    with engine.connect() as db:
        events = db.execute(sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user'"),
                            {"s": openid}).scalars().all()
    engine.dispose()
    channels = [json.loads(e)["input_channel"] for e in events]
    assert channels == ["wechat", "wechat"]
    # the first turn's answers, as the channel would recover them after a crash, are the replies it sent
    tracker = requests.get(f"http://{opts.host}:{opts.port}/conversations/{openid}/tracker", timeout=30).json()
    assert answers_to(deserialise_events(tracker["events"]), first) == replies

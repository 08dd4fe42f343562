"""The WeChat inbox on a real SQLite database: a message and its nonce are stored together or not at all, a
nonce lives as long as its timestamp passes the window, a worker that lost its lease writes nothing, an older
database gains the new columns, and the answers of a turn Rasa saved are found in its tracker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.storage import open_engine
from connectors.wechat import answers_to
from connectors.wechat_crypto import ReplayedNonce, WeChatMessage
from connectors.wechat_store import Inbox, LeaseLost


def message(msg_id: int, text: str = "路灯不亮") -> WeChatMessage:
    return WeChatMessage(to_user="gh_hotline", from_user="o-citizen", create_time=1_700_000_000, msg_type="text",
                         content=text, msg_id=str(msg_id))


@pytest.fixture()
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(open_engine(f"sqlite:///{tmp_path / 'hotline.db'}"))


def nonce_count(inbox: Inbox) -> int:
    with inbox.engine.connect() as db:
        return int(db.execute(sa.text("SELECT count(*) FROM wechat_nonces")).scalar_one())


def test_a_retry_with_the_same_nonce_is_a_duplicate_not_a_replay(inbox: Inbox) -> None:
    now = time.time()
    assert inbox.accept(message(1), "n1", now + 300, now) is True
    assert inbox.accept(message(1), "n1", now + 300, now + 5) is False  # WeChat's retry of the same request
    assert inbox.accept(message(1), "n2", now + 300, now + 6) is False  # its retry with a new nonce
    with pytest.raises(ReplayedNonce):
        inbox.accept(message(2), "n1", now + 300, now + 7)  # another message under a used nonce
    assert [row.key for row in inbox.all()] == ["msg:1"]


def test_a_nonce_expires_with_its_timestamp_not_when_it_was_seen(inbox: Inbox) -> None:
    now = time.time()
    # a request stamped 200 s ago, seen now: its timestamp leaves the 300 s window in 100 s
    inbox.accept(message(1), "n1", now - 200 + 300, now)
    with pytest.raises(ReplayedNonce):
        inbox.accept(message(2), "n1", now + 300, now + 99)
    assert inbox.accept(message(2), "n1", now + 101 + 300, now + 101) is True


def test_a_message_that_could_not_be_stored_leaves_its_nonce_free(inbox: Inbox) -> None:
    """The insert of the row fails after the nonce's: the transaction takes both back, so WeChat's retry with
    the same nonce gets in."""
    failing = {"on": True}

    def fail_inbox_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failing["on"] and statement.startswith("INSERT INTO wechat_inbox"):
            raise RuntimeError("disk full")

    sa.event.listen(inbox.engine, "before_cursor_execute", fail_inbox_insert)
    now = time.time()
    with pytest.raises(Exception, match="disk full"):
        inbox.accept(message(1), "n1", now + 300, now)
    assert nonce_count(inbox) == 0 and inbox.all() == []
    failing["on"] = False
    assert inbox.accept(message(1), "n1", now + 300, now + 1) is True
    assert nonce_count(inbox) == 1


def test_a_worker_that_lost_its_lease_writes_nothing(inbox: Inbox) -> None:
    now = time.time()
    inbox.accept(message(1), "n1", now + 300, now)
    first = inbox.claim("msg:1", lease=60, now=now)
    assert first is not None and inbox.claim("msg:1", lease=60, now=now + 1) is None  # held
    assert inbox.extend(first, lease=60)
    # the first worker stalls past its lease; a second takes the row
    second = inbox.claim("msg:1", lease=60, now=time.time() + 120)
    assert second is not None and second.owner != first.owner and second.attempts == 2
    assert not inbox.extend(first, lease=60)
    with pytest.raises(LeaseLost):
        inbox.turned(first, ["旧的回答"])
    with pytest.raises(LeaseLost):
        inbox.retry(first, "late", delay=1)
    inbox.turned(second, ["您好，已收到"])
    inbox.sent(second, 1)
    inbox.done(second)
    row = inbox.get("msg:1")
    assert row is not None and (row.state, row.replies, row.sent) == ("done", ["您好，已收到"], 1)
    with pytest.raises(LeaseLost):  # a finished row is nobody's
        inbox.sent(second, 2)


def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as db:  # the tables as the first version of the channel made them
        db.execute(sa.text("CREATE TABLE wechat_nonces (nonce VARCHAR(128) PRIMARY KEY, seen_at FLOAT NOT NULL)"))
        db.execute(sa.text(
            "CREATE TABLE wechat_inbox (key VARCHAR(200) PRIMARY KEY, from_user VARCHAR(128) NOT NULL, "
            "msg_type VARCHAR(32) NOT NULL, message TEXT NOT NULL, state VARCHAR(12) NOT NULL, attempts INTEGER "
            "NOT NULL, replies TEXT, sent INTEGER NOT NULL, media TEXT, error TEXT, received_at FLOAT NOT NULL, "
            "next_at FLOAT NOT NULL, lease_until FLOAT, finished_at FLOAT)"))
        db.execute(sa.text("INSERT INTO wechat_nonces VALUES ('old-nonce', :now)"), {"now": time.time()})
    inbox = Inbox(engine)
    now = time.time()
    with pytest.raises(ReplayedNonce):  # the old row still guards its nonce
        inbox.accept(message(1), "old-nonce", now + 300, now)
    assert inbox.accept(message(1), "new-nonce", now + 300, now)
    row = inbox.claim("msg:1", lease=60)
    assert row is not None and row.owner


def test_answers_to_finds_the_turn_of_one_message() -> None:
    events = [
        UserUttered("你好", message_id="msg:1"), ActionExecuted("utter_greet"), BotUttered("您好，请讲"),
        UserUttered("路灯不亮", message_id="msg:2"), SlotSet("category", "street_light"),
        BotUttered("请问在哪个街道？"), BotUttered("也可以发位置给我"), ActionExecuted("action_listen"),
        UserUttered("望京", message_id="msg:3"),
    ]
    assert answers_to(events, "msg:2") == ["请问在哪个街道？", "也可以发位置给我"]
    assert answers_to(events, "msg:3") == []  # Rasa saved the message, no answer yet
    assert answers_to(events, "msg:9") is None

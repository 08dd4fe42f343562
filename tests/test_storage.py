"""bot/storage: records survive the process, keep one ticket each, and update in place."""

import json
import sqlite3

import pytest

from bot.storage import Storage


@pytest.fixture()
def record(extractor):
    return extractor.extract("望京西园三区暖气不热，屋里才十五度，电话13911112222")


def test_saved_record_reads_back_from_a_new_connection(tmp_path, record):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    stored = Storage(url).save(record, "filed", conversation_id="c1")
    assert stored.ticket.startswith("12345-") and stored.ticket.endswith("000001")
    again = Storage(url).get(record.id)
    assert again is not None
    assert again.record == json.loads(json.dumps(record.to_dict(), ensure_ascii=False))
    assert again.conversation_id == "c1" and again.status == "filed"
    # the file itself holds it: another client sees the row
    rows = sqlite3.connect(tmp_path / "h.db").execute("select id, status, district from records").fetchall()
    assert rows == [(record.id, "filed", record.location.district)]


def test_saving_twice_updates_and_keeps_the_ticket(tmp_path, record):
    store = Storage(f"sqlite:///{tmp_path / 'h.db'}")
    first = store.save(record, "handoff", conversation_id="c1")
    record.location.street = "望京街道"
    second = store.save(record, "filed", conversation_id="c1")
    assert second.ticket == first.ticket
    assert second.status == "filed" and second.record["location"]["street"] == "望京街道"
    assert [s.ticket for s in store.by_conversation("c1")] == [first.ticket]


def test_tickets_are_sequential_and_unique(tmp_path, extractor):
    store = Storage(f"sqlite:///{tmp_path / 'h.db'}")
    records = [extractor.extract(t) for t in ("楼道灯坏了", "小区门口垃圾没人清", "楼上半夜装修太吵")]
    tickets = [store.save(r, "filed", conversation_id="c2").ticket for r in records]
    assert len(set(tickets)) == 3
    assert [int(t.rsplit("-", 1)[1]) for t in tickets] == [1, 2, 3]


def test_unknown_status_is_refused(tmp_path, record):
    with pytest.raises(ValueError, match="unknown status"):
        Storage(f"sqlite:///{tmp_path / 'h.db'}").save(record, "lost")

"""bot/storage records: tickets, history of every change, the desk queue, search and corrections export."""

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from bot.storage import Outbox, Storage, load_storage, open_engine


def test_saved_record_reads_back_from_a_new_connection(tmp_path, record):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    stored = Storage(open_engine(url)).save(record, "handoff", conversation_id="c1")
    assert stored.ticket.startswith("12345-") and stored.ticket.endswith("000001")
    again = Storage(open_engine(url)).get(record.id)
    assert again is not None
    assert again.record == json.loads(json.dumps(record.to_dict(), ensure_ascii=False))
    assert again.conversation_id == "c1" and again.status == "handoff"
    # the file itself holds it: another client sees the row
    rows = sqlite3.connect(tmp_path / "h.db").execute("select id, status, district, phone from records").fetchall()
    assert rows == [(record.id, "handoff", record.location.district, "13911112222")]


def test_saving_twice_updates_keeps_the_ticket_and_logs_the_status_change(engine, record):
    store = Storage(engine)
    first = store.save(record, "handoff", conversation_id="c1")
    record.location.street = "望京街道"
    second = store.save(record, "answered", conversation_id="c1")
    assert second.ticket == first.ticket
    assert second.status == "answered" and second.record["location"]["street"] == "望京街道"
    assert [s.ticket for s in store.by_conversation("c1")] == [first.ticket]
    assert [(c.field, c.old, c.new) for c in store.history(record.id)] == [
        ("status", None, "handoff"), ("status", "handoff", "answered")]


def test_tickets_are_sequential_and_unique(engine, extractor):
    store = Storage(engine)
    records = [extractor.extract(t) for t in ("楼道灯坏了", "小区门口垃圾没人清", "楼上半夜装修太吵")]
    tickets = [store.save(r, "handoff", conversation_id="c2").ticket for r in records]
    assert [int(t.rsplit("-", 1)[1]) for t in tickets] == [1, 2, 3]
    assert store.by_ticket(tickets[1]).id == records[1].id


@pytest.mark.parametrize("status", ["filed", "lost", ""])
def test_unknown_status_is_refused(engine, record, status):
    with pytest.raises(ValueError, match="unknown status"):
        Storage(engine).save(record, status)


def test_edit_keeps_who_changed_what_and_derives_dependent_fields(engine, record):
    store = Storage(engine)
    store.save(record, "handoff")
    stored = store.edit(record.id, {"district": "海淀区", "street": "中关村街道", "subcategory": "housing.house_repair",
                                    "urgency": 2, "type": "complaint"}, actor="agent7")
    data = stored.record
    assert data["location"]["district"] == "海淀区" and data["category"] == "housing" and data["kind"] == "demand"
    received = datetime.fromisoformat(data["received_at"])
    assert datetime.fromisoformat(data["deadline"]) - received == timedelta(hours=24)
    assert data["confidence"]["location"] == 1.0 and data["confidence"]["category"] == 1.0
    edits = [(c.actor, c.field, c.old, c.new) for c in store.history(record.id) if c.field != "status"]
    assert ("agent7", "district", record.location.district, "海淀区") in edits
    assert ("agent7", "subcategory", record.subcategory, "housing.house_repair") in edits
    # the indexed columns follow the JSON
    assert store.search(district="海淀区", category="housing.house_repair")[0].id == record.id
    # an unchanged value leaves no history line
    store.edit(record.id, {"district": "海淀区"}, actor="agent8")
    assert all(c.actor != "agent8" for c in store.history(record.id))


def test_edit_refuses_fields_outside_the_form(engine, record):
    store = Storage(engine)
    store.save(record, "handoff")
    with pytest.raises(ValueError, match="cannot be edited"):
        store.edit(record.id, {"id": "x"}, actor="a")
    with pytest.raises(KeyError):
        store.edit("no-such-record", {"district": "海淀区"}, actor="a")


def test_queue_is_most_urgent_then_newest_and_holds_only_records_for_agents(engine, extractor):
    store = Storage(engine)
    texts = {"old_u3": "小区垃圾没人清理", "u1": "电梯困人了里面有老人", "new_u3": "路灯不亮好几天了",
             "sent": "楼道灯坏了", "done": "暖气什么时候来"}
    made = {}
    for key, text in texts.items():
        made[key] = extractor.extract(text)
        made[key].urgency = 1 if key == "u1" else 3
        store.save(made[key], {"sent": "queued", "done": "answered"}.get(key, "handoff"))
    store.settle(made["old_u3"].id, "dead", "dispatch", note="派单失败")
    queue = [s.id for s in store.queue()]
    assert queue == [made["u1"].id, made["new_u3"].id, made["old_u3"].id]
    assert store.get(made["old_u3"].id).note == "派单失败"


def test_search_by_text_phone_district_category_and_date(engine, extractor):
    store = Storage(engine)
    leak = extractor.extract("我家房屋漏雨好几天了，在朝阳区望京街道，电话13800001111")
    other = extractor.extract("海淀区中关村路灯不亮，电话13900002222")
    for r in (leak, other):
        store.save(r, "handoff")
    assert [s.id for s in store.search(text="房屋漏雨")] == [leak.id]
    assert [s.id for s in store.search(phone="139-0000-2222")] == [other.id]
    assert [s.id for s in store.search(district="朝阳区", text="漏雨")] == [leak.id]
    now = datetime.now(timezone.utc)
    assert len(store.search(since=now - timedelta(days=7))) == 2
    assert store.search(since=now + timedelta(minutes=1)) == []
    assert store.search(until=now - timedelta(days=1)) == []
    # LIKE wildcards in the query are literal characters
    assert store.search(text="%") == [] and store.search(text="_") == []


def test_confirm_queues_one_dispatch(engine, record):
    store = Storage(engine)
    store.save(record, "handoff")
    units = [{"name": "朝阳区望京街道办事处", "level": "street"}]
    stored = store.confirm(record.id, units, actor="agent7")
    assert stored.status == "queued" and stored.record["dispatch"]["units"] == units
    assert Outbox(engine).counts()["pending"] == 1


def test_corrections_export_pairs_the_text_with_the_agents_labels(engine, extractor):
    store = Storage(engine)
    r = extractor.extract("我家楼顶漏水，在海淀区")
    untouched = extractor.extract("路灯不亮")
    store.save(r, "handoff")
    store.save(untouched, "handoff")
    wrong = "urban.street_light" if r.subcategory == "housing.house_repair" else r.subcategory
    store.edit(r.id, {"subcategory": wrong}, actor="system")  # what the system said, for this test
    store.edit(r.id, {"subcategory": "housing.house_repair", "street": "中关村街道"}, actor="agent7")
    rows = list(store.corrections())
    assert [row["id"] for row in rows] == [r.id]
    row = rows[0]
    assert row["text"] == r.text and row["labels"]["subcategory"] == "housing.house_repair"
    assert row["labels"]["street"] == "中关村街道" and row["agents"] == ["system", "agent7"]
    assert row["corrected"]["subcategory"] == "housing.house_repair"


def test_load_storage_honours_the_url(tmp_path, record, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("HOTLINE_DB_URL", url)
    load_storage().save(record, "handoff")
    assert (tmp_path / "env.db").exists()
    assert load_storage(url).get(record.id) is not None


def test_settled_records_keep_their_status_when_saved_again(engine, record):
    store = Storage(engine)
    store.save(record, "handoff")
    store.settle(record.id, "rejected", "li", note="非本市事项")
    assert store.save(record, "handoff").status == "rejected"


def test_only_one_of_two_agents_confirms(engine, record):
    from bot.storage import StatusConflict

    store = Storage(engine)
    store.save(record, "handoff")
    units = [{"name": "x", "level": "city"}]
    store.confirm(record.id, units, actor="li")
    with pytest.raises(StatusConflict):
        store.confirm(record.id, units, actor="wang")
    with pytest.raises(StatusConflict):
        store.edit(record.id, {"district": "海淀区"}, actor="wang")
    assert Outbox(engine).counts()["pending"] == 1


def test_hand_off_puts_a_record_before_an_agent_once_and_leaves_one_someone_has(engine, record, extractor):
    store = Storage(engine)
    first = store.hand_off(record, "wechat", "微信未能回复：45015", conversation_id="c1")
    assert (first.status, first.note, first.conversation_id) == ("handoff", "微信未能回复：45015", "c1")
    again = store.hand_off(record, "wechat", "微信未能回复：45047")  # a retry: the note is the latest reason
    assert again.ticket == first.ticket and again.note == "微信未能回复：45047"
    assert [(c.field, c.old, c.new) for c in store.history(record.id)] == [
        ("status", None, "handoff"), ("note", None, "微信未能回复：45015"), ("note", None, "微信未能回复：45047")]
    queued = extractor.extract("海淀区中关村街道路灯不亮，电话13800001111")
    store.save(queued, "queued")
    kept = store.hand_off(queued, "phone", "录音未能转写")
    assert kept.status == "queued" and kept.note is None


def test_hand_off_is_one_transaction(engine, record, monkeypatch):
    """A failure while noting the reason leaves no record behind that an agent would find without it."""
    store = Storage(engine)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_settle", fail)
    with pytest.raises(RuntimeError):
        store.hand_off(record, "wechat", "微信未能回复：45015", conversation_id="c1")
    assert store.get(record.id) is None and store.history(record.id) == []


def test_hand_off_leaves_a_record_an_agent_confirmed_after_it_was_read(engine, record, monkeypatch):
    """An agent's confirm commits between hand_off's read and its write: the record stays queued."""
    store = Storage(engine)
    store.save(record, "handoff")
    settle = store._settle

    def confirm_first(*args, **kwargs):
        Storage(engine).confirm(record.id, [{"name": "望京街道办事处"}], actor="wang")
        return settle(*args, **kwargs)

    monkeypatch.setattr(store, "_settle", confirm_first)
    kept = store.hand_off(record, "wechat", "微信未能回复：45015")
    assert kept.status == "queued" and kept.note is None
    assert Outbox(engine).counts()["pending"] == 1
    assert [c.new for c in store.history(record.id) if c.field == "status"] == ["handoff", "queued"]


def test_sqlite_commits_reach_the_disk_before_they_return(tmp_path):
    """synchronous=FULL: what was acknowledged after a commit survives a power cut, not only a crash."""
    engine = open_engine(f"sqlite:///{tmp_path / 'h.db'}")
    with engine.connect() as db:
        assert db.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_reject_does_not_overwrite_a_confirm_that_came_first(engine, record):
    from bot.storage import AWAITING_AGENT, StatusConflict

    store = Storage(engine)
    store.save(record, "handoff")
    store.confirm(record.id, [{"name": "望京街道办事处"}], actor="li")
    with pytest.raises(StatusConflict):
        store.settle(record.id, "rejected", "wang", note="非本市", only_from=AWAITING_AGENT)
    assert store.get(record.id).status == "queued"
    assert [c.new for c in store.history(record.id) if c.field == "status"] == ["handoff", "queued"]

"""bot/storage/outbox: leases, retries, dead letters back to the desk."""

from datetime import datetime, timedelta, timezone

from bot.storage import Outbox, Storage


def test_claim_leases_a_row_to_one_caller_until_the_lease_ends(engine, record):
    Storage(engine).save(record, "queued")
    outbox = Outbox(engine)
    [item] = outbox.claim(10, lease=30)
    assert item.record_id == record.id and item.attempts == 1 and item.payload["id"] == record.id
    assert outbox.claim(10, lease=30) == []
    # a relay that died mid-POST: after the lease the row is claimed again, with the same key
    [again] = outbox.claim(10, lease=30, now=datetime.now(timezone.utc) + timedelta(seconds=31))
    assert again.key == item.key and again.attempts == 2


def test_retry_waits_and_delivered_marks_the_record(engine, record):
    store = Storage(engine)
    store.save(record, "queued")
    outbox = Outbox(engine)
    [item] = outbox.claim(1, lease=30)
    outbox.retry(item, "HTTP 500", delay=60)
    assert outbox.claim(1, lease=30) == []
    [item] = outbox.claim(1, lease=30, now=datetime.now(timezone.utc) + timedelta(seconds=61))
    outbox.delivered(item, "json", remote_id="SR-1")
    assert store.get(record.id).status == "dispatched"
    assert outbox.counts() == {"pending": 0, "sending": 0, "delivered": 1, "dead": 0}
    assert outbox.delivered_open() == [(item.seq, "json", "SR-1")]
    outbox.remote_status(item.seq, "closed")
    assert store.get(record.id).status == "closed" and outbox.delivered_open() == []


def test_dead_letter_returns_the_record_to_the_desk_and_a_new_confirm_gets_a_new_key(engine, record):
    store = Storage(engine)
    store.save(record, "queued")
    outbox = Outbox(engine)
    [item] = outbox.claim(1, lease=30)
    outbox.dead(item, "HTTP 400: bad service_code")
    stored = store.get(record.id)
    assert stored.status == "dead" and "bad service_code" in stored.note
    assert [s.id for s in store.queue()] == [record.id]
    store.confirm(record.id, [{"name": "x", "level": "city"}], actor="li")
    [second] = outbox.claim(1, lease=30)
    assert second.key != item.key


def test_a_relay_that_lost_its_lease_cannot_overwrite_the_outcome(engine, record):
    store = Storage(engine)
    store.save(record, "queued")
    outbox = Outbox(engine)
    [slow] = outbox.claim(1, lease=30)
    [fast] = outbox.claim(1, lease=30, now=datetime.now(timezone.utc) + timedelta(seconds=31))
    assert outbox.delivered(fast, "json", remote_id="SR-9")
    assert not outbox.dead(slow, "timed out") and not outbox.retry(slow, "x", 1)
    assert store.get(record.id).status == "dispatched"
    assert outbox.counts()["delivered"] == 1


def test_saving_a_delivered_record_again_sends_nothing_more(engine, record):
    store = Storage(engine)
    store.save(record, "queued")
    outbox = Outbox(engine)
    [item] = outbox.claim(1, lease=30)
    outbox.delivered(item, "json", remote_id="SR-1")
    again = store.save(record, "queued")  # a retried Rasa action
    assert again.status == "dispatched" and outbox.claim(5, lease=30) == []
    assert outbox.counts() == {"pending": 0, "sending": 0, "delivered": 1, "dead": 0}


def test_reconfirming_the_same_payload_after_a_dead_letter_keeps_its_key(engine, record):
    store = Storage(engine)
    store.save(record, "handoff")
    units = [{"name": "朝阳区望京街道办事处", "level": "street"}]
    store.confirm(record.id, units, actor="li")
    outbox = Outbox(engine)
    [item] = outbox.claim(1, lease=30)
    outbox.dead(item, "HTTP 503")
    store.confirm(record.id, units, actor="li")
    [again] = outbox.claim(1, lease=30)
    # the receiver may have stored the attempt it never answered: the same key lets it answer that one
    assert again.key == item.key and again.attempts == 1

"""bot/desk over real HTTP on loopback: login, CSRF, masking and reveal, edit and confirm, reject, merge,
search, audio."""

import logging
import re
from urllib.parse import unquote

import pytest

from bot.storage import Outbox, Storage
from tests.desk.conftest import logged_in

HEATING = "我是王先生，望京西园三区暖气不热，屋里才十五度，电话13911112222"


@pytest.fixture()
def heating(store, extractor):
    record = extractor.extract(HEATING)
    record.dispatch.action = "handoff"
    return store.save(record, "handoff")


def test_pages_need_a_login(desk, heating):
    async def scenario(client):
        first = await client.get("/records/" + heating.id, allow_redirects=False)
        assert first.status == 303 and unquote(first.headers["Location"]) == f"/login?next=/records/{heating.id}"
        post = await client.post("/records/" + heating.id, data={"action": "confirm"})
        assert post.status == 401
        assert (await client.get("/static/desk.css")).status == 200
    desk(scenario)


def test_login_refuses_a_wrong_password_and_a_forged_form(desk):
    async def scenario(client):
        page = await (await client.get("/login")).text()
        token = re.search(r'name="login_csrf" value="([^"]+)"', page).group(1)
        wrong = await client.post("/login", data={"username": "li", "password": "nope-nope", "login_csrf": token})
        assert wrong.status == 401 and "用户名或密码不正确" in await wrong.text()
        forged = await client.post("/login", data={"username": "li", "password": "x", "login_csrf": "guess"})
        assert forged.status == 403
        # the redirect after login stays on this site, however the address is dressed up
        for evil in ("//evil.example/", "/\t/evil.example", "/\\evil.example", "https://evil.example/", "/\n/x"):
            page = await (await client.get("/login")).text()
            token = re.search(r'name="login_csrf" value="([^"]+)"', page).group(1)
            ok = await client.post("/login", data={"username": "li", "password": "desk-test-pass",
                                                   "login_csrf": token, "next": evil}, allow_redirects=False)
            assert ok.status == 303 and ok.headers["Location"] == "/", evil
        cookie = ok.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    desk(scenario)


def test_queue_shows_the_record_masked(desk, heating):
    async def scenario(client):
        await logged_in(client)
        queue = await (await client.get("/")).text()
        assert heating.ticket in queue and "13911112222" not in queue
        rows = await (await client.get("/queue/rows")).text()
        assert heating.ticket in rows
        page = await client.get("/records/" + heating.id)
        html = await page.text()
        assert page.headers["Cache-Control"] == "no-store" and "default-src 'self'" in page.headers[
            "Content-Security-Policy"]
        assert "13911112222" not in html and "*******2222" in html
        assert "<mark" in html  # evidence words highlighted in the citizen's text
    desk(scenario)


def test_reveal_shows_the_phone_and_is_logged_without_the_number(desk, heating, caplog):
    async def scenario(client):
        token = await logged_in(client)
        revealed = await (await client.post("/records/" + heating.id, data={"action": "reveal", "csrf": token})).text()
        assert "13911112222" in revealed
        page = await (await client.get("/records/" + heating.id)).text()
        assert "li：查看完整号码" in page and "13911112222" not in page
    with caplog.at_level(logging.INFO):
        desk(scenario)
    assert "desk reveal" in caplog.text and "13911112222" not in caplog.text


def test_a_post_without_the_session_token_changes_nothing(desk, heating, store):
    async def scenario(client):
        await logged_in(client)
        forged = await client.post("/records/" + heating.id, data={
            "action": "confirm", "csrf": "forged", "type": "complaint", "subcategory": "utilities.heating",
            "urgency": "3", "district": "海淀区", "street": "", "summary": "x"})
        assert forged.status == 403
    desk(scenario)
    assert store.get(heating.id).status == "handoff" and store.get(heating.id).record == heating.record


def test_correct_and_confirm_queues_the_corrected_record(desk, heating, store, engine):
    async def scenario(client):
        token = await logged_in(client)
        response = await client.post("/records/" + heating.id, data={
            "csrf": token, "action": "confirm", "type": "complaint", "subcategory": "utilities.heating",
            "urgency": "2", "district": "海淀区", "street": "中关村街道", "address": "中关村东路1号院",
            "name": "王先生", "phone": "*******2222", "summary": "中关村东路1号院暖气不热"})
        assert response.status == 200 and "已确认，进入派单队列" in await response.text()
        assert heating.ticket not in await (await client.get("/queue/rows")).text()
    desk(scenario)
    stored = store.get(heating.id)
    data = stored.record
    assert stored.status == "queued"
    assert (data["location"]["district"], data["location"]["street"]) == ("海淀区", "中关村街道")
    assert data["contact"]["phone"] == "13911112222"  # the masked value left the number as it was
    assert {"name": "海淀区中关村街道办事处", "level": "street"} in data["dispatch"]["units"]
    assert {c.field for c in store.history(heating.id) if c.actor == "li"} >= {"district", "street", "address"}
    [item] = Outbox(engine).claim(1, lease=30)
    assert item.payload["location"]["street"] == "中关村街道"


@pytest.mark.parametrize("change,field,message", [
    ({"street": "望京街道", "district": "海淀区"}, "street", "望京街道不属于海淀区"),
    ({"subcategory": "no.such"}, "subcategory", "请选择类别"),
    ({"phone": "12345"}, "phone", "电话号码格式不对"),
    ({"summary": ""}, "summary", "摘要不能为空"),
])
def test_bad_fields_are_refused_with_the_reason(desk, heating, store, change, field, message):
    async def scenario(client):
        token = await logged_in(client)
        data = {"csrf": token, "action": "save", "type": "complaint", "subcategory": "utilities.heating",
                "urgency": "3", "district": "朝阳区", "street": "望京街道", "summary": "暖气不热"} | change
        response = await client.post("/records/" + heating.id, data=data)
        assert response.status == 400 and message in await response.text()
    desk(scenario)
    assert store.get(heating.id).record == heating.record


def test_a_record_someone_else_settled_cannot_be_confirmed_again(desk, heating, store):
    store.settle(heating.id, "rejected", "wang", note="非本市")

    async def scenario(client):
        token = await logged_in(client)
        response = await client.post("/records/" + heating.id, data={"csrf": token, "action": "reject",
                                                                     "reason": "again"})
        assert response.status == 409 and "已由他人处理" in await response.text()
    desk(scenario)


def test_reject_needs_a_reason_and_merge_needs_another_ticket(desk, heating, store, extractor):
    other = store.save(extractor.extract("望京西园三区暖气一直不热"), "handoff")

    async def scenario(client):
        token = await logged_in(client)
        url = "/records/" + heating.id
        assert (await client.post(url, data={"csrf": token, "action": "reject", "reason": " "})).status == 400
        same = await client.post(url, data={"csrf": token, "action": "duplicate", "duplicate_of": heating.ticket})
        assert same.status == 400
        merged = await client.post(url, data={"csrf": token, "action": "duplicate", "duplicate_of": other.ticket})
        assert merged.status == 200
    desk(scenario)
    stored = store.get(heating.id)
    assert stored.status == "duplicate" and stored.merged_into == other.id


def test_search_finds_by_text_phone_district_and_this_week(desk, heating, store, extractor):
    store.save(extractor.extract("海淀区中关村路灯不亮好几天了"), "handoff")

    async def scenario(client):
        token = await logged_in(client)
        by_text = await (await client.get("/search", params={"text": "暖气"})).text()
        assert heating.ticket in by_text and "共 1 件" in by_text
        by_phone = await (await client.post("/search", data={"phone": "13911112222", "csrf": token})).text()
        assert heating.ticket in by_phone and "13911112222" not in by_phone.split('class="queue"')[1]
        by_district = await (await client.get("/search", params={"district": "海淀区"})).text()
        assert heating.ticket not in by_district and "共 1 件" in by_district
        page = await (await client.get("/search")).text()
        week = re.search(r'href="(/search\?since=[^"]+)"', page).group(1).replace("&amp;", "&")
        assert "共 2 件" in await (await client.get(week)).text()
        bad = await (await client.get("/search", params={"since": "21/11/2026"})).text()
        assert "日期格式不对" in bad
    desk(scenario)


def test_audio_of_a_transcribed_record_is_served_to_agents(desk, store, extractor, tmp_path):
    audio = tmp_path / "call.wav"
    audio.write_bytes(b"RIFF....WAVEfmt ")
    stored = store.save(extractor.extract("楼道灯坏了"), "handoff", media=str(audio))
    bare = store.save(extractor.extract("小区垃圾没人清"), "handoff")

    async def scenario(client):
        assert (await client.get(f"/records/{stored.id}/audio", allow_redirects=False)).status == 303
        await logged_in(client)
        got = await client.get(f"/records/{stored.id}/audio")
        assert got.status == 200 and await got.read() == audio.read_bytes()
        assert (await client.get(f"/records/{bare.id}/audio")).status == 404
        assert (await client.get("/records/no-such-id")).status == 404
    desk(scenario)


def test_images_sent_with_a_record_are_shown_and_served(desk, store, extractor, tmp_path):
    """An image is kept apart from the recording: the record keeps its audio and shows both."""
    audio, photo = tmp_path / "call.wav", tmp_path / "photo.jpg"
    audio.write_bytes(b"RIFF....WAVEfmt ")
    photo.write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    stored = store.save(extractor.extract("井盖丢了"), "handoff", media=str(audio))
    store.attach_image(stored.id, str(photo), "wechat")
    store.attach_image(stored.id, str(photo), "wechat")  # a retried attach adds nothing
    assert store.get(stored.id).images == [str(photo)] and store.get(stored.id).media == str(audio)
    assert [c.field for c in store.history(stored.id)].count("images") == 1

    async def scenario(client):
        assert (await client.get(f"/records/{stored.id}/images/0", allow_redirects=False)).status == 303
        await logged_in(client)
        page = await (await client.get(f"/records/{stored.id}")).text()
        assert f'src="/records/{stored.id}/images/0"' in page and f'src="/records/{stored.id}/audio"' in page
        got = await client.get(f"/records/{stored.id}/images/0")
        assert got.status == 200 and await got.read() == photo.read_bytes()
        assert (await client.get(f"/records/{stored.id}/images/1")).status == 404
    desk(scenario)


def test_logout_ends_the_session(desk):
    async def scenario(client):
        token = await logged_in(client)
        await client.post("/logout", data={"csrf": token})
        assert (await client.get("/", allow_redirects=False)).status == 303
    desk(scenario)


def test_saving_unchanged_masked_fields_keeps_the_stored_values(desk, store, extractor):
    record = extractor.extract("建国路88号院10-2-1201家里停水了，电话13911112222")
    record.summary = "建国路88号院10-2-1201停水，联系13911112222"
    saved = store.save(record, "handoff")

    async def scenario(client):
        token = await logged_in(client)
        page = await (await client.get("/records/" + saved.id)).text()
        shown = {name: re.search(rf'name="{name}" id="{name}"[^>]*value="([^"]*)"', page)
                 for name in ("phone", "address")}
        summary = re.search(r'id="summary"[^>]*>([^<]*)</textarea>', page).group(1)
        assert "13911112222" not in summary
        data = {"csrf": token, "action": "save", "type": saved.record["type"],
                "subcategory": saved.record["subcategory"], "urgency": str(saved.record["urgency"]),
                "district": saved.record["location"]["district"] or "",
                "street": saved.record["location"]["street"] or "", "summary": summary,
                "phone": shown["phone"].group(1), "address": shown["address"].group(1)}
        assert (await client.post("/records/" + saved.id, data=data)).status == 200
    desk(scenario)
    after = store.get(saved.id).record
    assert after["summary"] == record.summary and after["contact"]["phone"] == "13911112222"
    assert after["location"]["address"] == saved.record["location"]["address"]
    assert not [c for c in store.history(saved.id) if c.field in ("summary", "phone", "address")]


def test_a_queue_poll_after_the_session_ended_asks_for_a_login(desk):
    async def scenario(client):
        token = await logged_in(client)
        await client.post("/logout", data={"csrf": token})
        poll = await client.get("/queue/rows", allow_redirects=False)
        assert poll.status == 303 and unquote(poll.headers["Location"]) == "/login?next=/queue/rows"
        # a search that carried a phone number does not put it in the login redirect
        search = await client.get("/search", params={"phone": "13911112222"}, allow_redirects=False)
        assert "13911112222" not in search.headers["Location"]
    desk(scenario)


def test_a_reject_sent_after_another_agent_confirmed_is_refused(desk, heating, store, monkeypatch):
    """The page was read while the record waited; another agent's confirm commits before this reject."""
    settle = Storage.settle

    def confirm_first(self, *args, **kwargs):
        store.confirm(heating.id, [{"name": "望京街道办事处"}], actor="li")
        return settle(self, *args, **kwargs)

    monkeypatch.setattr(Storage, "settle", confirm_first)  # the desk's own Storage

    async def scenario(client):
        token = await logged_in(client)
        response = await client.post("/records/" + heating.id, data={"csrf": token, "action": "reject",
                                                                     "reason": "非本市"})
        assert response.status == 409 and "刚被他人修改或处理" in await response.text()
    desk(scenario)
    assert store.get(heating.id).status == "queued"

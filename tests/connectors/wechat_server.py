"""The WeChat channel in a process of its own, as `rasa run` would serve it: a sanic app with the channel's
blueprint under /webhooks/wechat. The Rasa server's callback (`on_new_message`, which runs a turn through the
agent) is replaced by a stand-in at that boundary. It waits TURN_DELAY seconds (3 s more for a text with
（慢）), answers `收到：<text>` (and `第二条：<text>` for a text with （两条）), saves the turn in a real
Rasa SQL tracker store as the agent does, and then appends the message id to TURN_LOG. The stand-in agent
on app.ctx carries that tracker store.

CRASH_MARKER: when set and the file is absent, the process creates it and dies right after the tracker is saved
(before the channel learns the turn's answers): once per test, since the restarted process finds the marker.

BUSY_SECONDS: at start every thread of asyncio's default pool gets a job that long, as long transcriptions
would keep it full.

Environment: WECHAT_CREDENTIALS (JSON), PORT, TURN_DELAY, TURN_LOG, TRACKER_DB, CRASH_MARKER, BUSY_SECONDS."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import BotUttered, UserUttered  # noqa: E402
from sanic import Sanic  # noqa: E402

from connectors.wechat import WeChatInput  # noqa: E402

DELAY = float(os.environ.get("TURN_DELAY", "0"))
TURN_LOG = Path(os.environ["TURN_LOG"])
CRASH_MARKER = Path(os.environ["CRASH_MARKER"]) if os.environ.get("CRASH_MARKER") else None
TRACKERS = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=os.environ["TRACKER_DB"])


async def on_new_message(message: UserMessage) -> None:
    await asyncio.sleep(DELAY + (3.0 if "（慢）" in (message.text or "") else 0.0))
    answers = [f"收到：{message.text}"] + ([f"第二条：{message.text}"] if "（两条）" in (message.text or "") else [])
    tracker = await TRACKERS.get_or_create_tracker(message.sender_id)
    tracker.update(UserUttered(message.text, message_id=message.message_id))
    for answer in answers:
        tracker.update(BotUttered(answer))
        await message.output_channel.send_text_message(message.sender_id, answer)
    await TRACKERS.save(tracker)
    with open(TURN_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": message.message_id, "text": message.text}, ensure_ascii=False) + "\n")
    if CRASH_MARKER and not CRASH_MARKER.exists():
        CRASH_MARKER.touch()
        os._exit(9)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    channel = WeChatInput.from_credentials(json.loads(os.environ["WECHAT_CREDENTIALS"]))
    app = Sanic("wechat_test")
    app.ctx.agent = SimpleNamespace(tracker_store=TRACKERS)  # what the channel reads of Rasa's agent
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/wechat")

    async def fill_default_pool(_app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        busy = float(os.environ.get("BUSY_SECONDS", "0"))
        for _ in range(min(32, (os.cpu_count() or 1) + 4) if busy else 0):  # the default pool's size
            loop.run_in_executor(None, time.sleep, busy)

    app.register_listener(fill_default_pool, "after_server_start")
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), access_log=False, workers=1)


if __name__ == "__main__":
    main()

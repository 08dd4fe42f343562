"""The WeChat channel in a process of its own, as `rasa run` would serve it: a sanic app with the channel's
blueprint under /webhooks/wechat. The Rasa server's callback (`on_new_message`, which runs a turn through the
agent) is replaced by a stand-in at that boundary: it waits TURN_DELAY seconds, answers `收到：<text>`, and then
appends the message id to TURN_LOG — at the end, as Rasa saves the tracker at the end of a turn.

Environment: WECHAT_CREDENTIALS (JSON), PORT, TURN_DELAY, TURN_LOG."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.core.channels.channel import UserMessage  # noqa: E402
from sanic import Sanic  # noqa: E402

from connectors.wechat import WeChatInput  # noqa: E402

DELAY = float(os.environ.get("TURN_DELAY", "0"))
TURN_LOG = Path(os.environ["TURN_LOG"])


async def on_new_message(message: UserMessage) -> None:
    await asyncio.sleep(DELAY)
    await message.output_channel.send_text_message(message.sender_id, f"收到：{message.text}")
    with open(TURN_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": message.message_id, "text": message.text}, ensure_ascii=False) + "\n")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    channel = WeChatInput.from_credentials(json.loads(os.environ["WECHAT_CREDENTIALS"]))
    app = Sanic("wechat_test")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/wechat")
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), access_log=False, workers=1)


if __name__ == "__main__":
    main()

"""The recordings channel in a process of its own, as `rasa run` would serve it (it never calls
on_new_message: recordings are not conversations). Environment: RECORDINGS_CREDENTIALS (JSON), PORT."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.core.channels.channel import UserMessage  # noqa: E402
from sanic import Sanic  # noqa: E402

from connectors.recordings_channel import RecordingsInput  # noqa: E402


async def on_new_message(message: UserMessage) -> None:
    raise AssertionError("recordings start no conversation")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    channel = RecordingsInput.from_credentials(json.loads(os.environ["RECORDINGS_CREDENTIALS"]))
    app = Sanic("recordings_test")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/recordings")
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), access_log=False, workers=1)


if __name__ == "__main__":
    main()

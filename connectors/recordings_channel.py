"""The recording upload endpoint as a Rasa input channel: POST /webhooks/recordings/upload, multipart with the
file in `audio` and optional `call_id`, `caller`, `start_time` fields, `Authorization: Bearer <token>`.

Answers 202 {"call_id", "status": "accepted" | "duplicate"} once the recording is in the spool; the spool
(connectors.recordings) does the rest. Kept apart from connectors.recordings so `hotline intake --watch` does
not import Rasa."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.recordings import RecordingError, RecordingsConfig, RecordingSpool, call_info, check_token, run_spool

log = logging.getLogger(__name__)


class RecordingsInput(InputChannel):  # type: ignore[misc]  # rasa ships no types: its base is Any
    """Call recordings uploaded by the telephony system."""

    def __init__(self, config: RecordingsConfig) -> None:
        self.config = config
        self._spool: RecordingSpool | None = None
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    @classmethod
    def name(cls) -> str:
        return "recordings"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(RecordingsConfig.from_credentials(credentials))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("recordings_webhook", __name__)

        async def start(_app: Any, _loop: Any) -> None:
            from bot.storage import load_engine

            engine = await asyncio.to_thread(load_engine, self.config.db_url)
            self._spool = await asyncio.to_thread(RecordingSpool, engine, Path(self.config.spool_dir),
                                                  self.config.lease)
            self._worker = asyncio.create_task(run_spool(self._spool, self._wake))

        async def stop(_app: Any, _loop: Any) -> None:
            if self._worker:
                self._worker.cancel()

        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self._spool else "starting"}, status=200 if self._spool else 503)

        async def upload(request: Request) -> HTTPResponse:
            return await self.upload(request)

        bp.listener(start, "before_server_start")
        bp.listener(stop, "before_server_stop")
        bp.add_route(health, "/", methods=["GET"])
        bp.add_route(upload, "/upload", methods=["POST"])
        return bp

    async def upload(self, request: Request) -> HTTPResponse:
        if not check_token(request.headers.get("authorization"), self.config.token):
            return response.json({"error": "unauthorized"}, status=401)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.config.max_bytes + 64 * 1024:
            return response.json({"error": "recording too large"}, status=413)
        try:
            files = request.files.get("audio") if request.files else None
            if files is None:
                raise RecordingError("multipart field `audio` is missing")
            if len(files.body) > self.config.max_bytes:
                return response.json({"error": "recording too large"}, status=413)
            info = call_info({k: v[0] for k, v in (request.form or {}).items() if v})
            suffix = Path(files.name or "").suffix or _suffix(files.type)
            assert self._spool is not None
            call_id, new = await asyncio.to_thread(self._spool.accept_bytes, files.body, suffix, info)
        except RecordingError as e:
            log.warning("recording.rejected reason=%s", e)
            return response.json({"error": str(e)}, status=400)
        except Exception:
            log.exception("recording.store_failed")
            return response.json({"error": "not stored, try again"}, status=500)
        if new:
            self._wake.set()
        log.info("recording.accepted call=%s new=%s", call_id, new)
        return response.json({"call_id": call_id, "status": "accepted" if new else "duplicate"}, status=202)


def _suffix(content_type: str | None) -> str:
    kinds = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3", "audio/amr": ".amr",
             "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/flac": ".flac"}
    return kinds.get((content_type or "").split(";")[0].strip(), "")

"""The recording upload endpoint as a Rasa input channel: POST /webhooks/recordings/upload, multipart with the
file in `audio` and optional `call_id`, `caller`, `start_time` fields, `Authorization: Bearer <token>`.

Answers 202 {"call_id", "status": "accepted" | "duplicate"} once the recording is in the spool, 409 when the
call id came with a different recording before; the spool (connectors.recordings) does the rest. Kept apart
from connectors.recordings so `hotline intake --watch` does not import Rasa."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.headers import parse_content_header
from sanic.request import File, Request, parse_multipart_form
from sanic.response import HTTPResponse

from connectors.recordings import (
    RecordingConflict,
    RecordingError,
    RecordingsConfig,
    RecordingSpool,
    call_info,
    check_token,
    run_spool,
)
from connectors.streaming import close_after, read_limited

log = logging.getLogger(__name__)
MULTIPART_SLACK = 64 * 1024
"""what the multipart framing and the form fields may add to the recording's size"""


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
            self.shutdown()

        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self._spool else "starting"}, status=200 if self._spool else 503)

        async def upload(request: Request) -> HTTPResponse:
            return await self.upload(request)

        bp.listener(start, "before_server_start")
        bp.listener(stop, "before_server_stop")
        bp.add_route(health, "/", methods=["GET"])
        # Streamed: Sanic would otherwise read the whole body (up to its REQUEST_MAX_SIZE, 100 MB) before the
        # handler could check the token or the size.
        bp.add_route(upload, "/upload", methods=["POST"], stream=True)
        return bp

    def shutdown(self) -> None:
        """Stop the spool worker. Cancelling it leaves its pass running in a thread: stopping the spool ends
        that pass after the recording in hand instead of after the whole queue."""
        if self._spool:
            self._spool.stop()
        if self._worker:
            self._worker.cancel()

    async def upload(self, request: Request) -> HTTPResponse:
        """The token and a declared length are checked before any of the body is read, and reading stops as
        soon as the body is larger than any accepted recording can make it."""
        limit = self.config.max_bytes + MULTIPART_SLACK
        if not check_token(request.headers.get("authorization"), self.config.token):
            return _refuse(request, 401, "unauthorized")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return _refuse(request, 413, "recording too large")
        body = await read_limited(request, limit)
        if body is None:
            return _refuse(request, 413, "recording too large")
        try:
            audio, fields = _form(request.content_type, body)
            if len(audio.body) > self.config.max_bytes:
                return response.json({"error": "recording too large"}, status=413)
            info = call_info(fields)
            suffix = Path(audio.name or "").suffix or _suffix(audio.type)
            assert self._spool is not None
            call_id, new = await asyncio.to_thread(self._spool.accept_bytes, audio.body, suffix, info)
        except RecordingConflict as e:
            log.warning("recording.conflict reason=%s", e)
            return response.json({"error": str(e)}, status=409)
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


def _refuse(request: Request, status: int, error: str) -> HTTPResponse:
    """An answer before the body was read (whole): the connection closes after it."""
    log.warning("recording.refused status=%d reason=%s", status, error)
    close_after(request)
    return response.json({"error": error}, status=status)


def _form(content_type: str, body: bytes) -> tuple[File, dict[str, str]]:
    """The `audio` file and the other fields of a multipart/form-data body."""
    kind, parameters = parse_content_header(content_type)
    boundary = parameters.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise RecordingError("multipart/form-data expected")
    try:
        fields, files = parse_multipart_form(body, str(boundary).encode())  # type: ignore[no-untyped-call]
    except (ValueError, LookupError) as e:  # a part's header without a colon, an unknown charset
        raise RecordingError("malformed multipart body") from e
    audio = files.get("audio")
    if audio is None:
        raise RecordingError("multipart field `audio` is missing")
    return audio, {name: values[0] for name, values in fields.items() if values}


def _suffix(content_type: str | None) -> str:
    kinds = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3", "audio/amr": ".amr",
             "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/flac": ".flac"}
    return kinds.get((content_type or "").split(";")[0].strip(), "")

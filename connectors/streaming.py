"""Request bodies read by the handler (routes added with stream=True), so that a request can be refused before
its body is read and reading stops at a limit. Sanic would otherwise buffer up to its REQUEST_MAX_SIZE (100 MB)
before the handler runs."""

from __future__ import annotations

from sanic.request import Request


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as more than `limit` bytes of it arrived."""
    assert request.stream is not None
    chunks: list[bytes] = []
    size = 0
    while (chunk := await request.stream.read()) is not None:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def close_after(request: Request) -> None:
    """For an answer given before the whole body was read: the connection closes after it. Sanic would
    otherwise read and discard the rest of the body, up to REQUEST_MAX_SIZE, to keep the connection; a request
    max size of 0 makes it give up at once."""
    assert request.stream is not None
    request.stream.keep_alive = False
    request.stream.request_max_size = 0

"""Personal data out of server logs: phone and ID numbers and message texts are masked in every
line the Rasa and action servers print, before the line reaches a log file, and in the log records of
commands that log themselves (MaskFilter)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import IO

# Message texts as Rasa prints them in JSON or repr form, escaped or not.
_TEXT = re.compile(r"""(["'](?:text|message|parse_data_text)["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2""")
_TEXT_KV = re.compile(r"((?:parse_data_text|text)=)\S+")
_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_DIGITS = re.compile(r"(?<!\d)(?:1[3-9]\d(?:[\- ]?\d{4}){2}|0\d{2,3}[\- ]?\d{7,8}|\d{7,})(?!\d)")
_SPOKEN = re.compile(r"[零〇一二两三四五六七八九幺洞拐]{7,}")


def mask(line: str) -> str:
    """The line with message texts, ID numbers and phone-like numbers replaced."""
    line = _TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}<text>{m.group(2)}", line)
    line = _TEXT_KV.sub(r"\1<text>", line)
    line = _ID.sub("<id>", line)
    line = _DIGITS.sub("<number>", line)
    return _SPOKEN.sub("<number>", line)


class MaskFilter(logging.Filter):
    """Masks each record's message as `mask` does (file names and call ids may carry phone numbers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask(record.getMessage()), None
        return True


def copy_masked(source: IO[bytes], path: Path) -> threading.Thread:
    """Copy a process's output into path, line by line, masked, until it closes."""

    def run() -> None:
        with open(path, "a", encoding="utf-8") as out:
            for raw in source:
                out.write(mask(raw.decode("utf-8", "replace")))
                out.flush()

    thread = threading.Thread(target=run, daemon=True, name=f"log:{path.name}")
    thread.start()
    return thread

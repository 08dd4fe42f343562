"""A recording or voice message → record: transcribe, then the text intake, evidence carrying audio times."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor, Message
from bot.record import ComplaintRecord
from bot.speech import SpeechConfig, Transcript, transcribe

AUDIO_SUFFIX = re.compile(r"\.(wav|mp3|m4a|mp4|aac|amr|ogg|oga|opus|flac|webm|caf|aiff?|w64)$", re.IGNORECASE)


@dataclass
class VoiceRecord:
    record: ComplaintRecord
    transcript: Transcript


def is_audio_path(arg: str) -> bool:
    """An argument naming an audio file (existing or not) rather than a citizen's text."""
    if AUDIO_SUFFIX.search(arg):
        return True
    try:
        return Path(arg).is_file()
    except OSError:  # a long text is no file name
        return False


def record_from_audio(path: Path, extractor: Extractor, config: SpeechConfig, channel: str = "phone",
                      message_id: str | None = None) -> VoiceRecord:
    """Raises IntakeError (AudioError included) with a one-line reason when no record can be made."""
    transcript = transcribe(path, config)
    if transcript.empty:
        raise IntakeError("no speech in the audio" + (f" ({'; '.join(transcript.warnings)})"
                                                      if transcript.warnings else ""))
    # The same recording always gives the same record id.
    key = message_id or "audio:" + file_digest(path)
    record = extractor.extract(Message(transcript.text, channel=channel, message_id=key,
                                       language=transcript.language))
    add_audio_times(record, transcript)
    return VoiceRecord(record, transcript)


def add_audio_times(record: ComplaintRecord, transcript: Transcript) -> None:
    """Give every evidence span the seconds of the recording its characters were heard in."""
    for spans in record.evidence.values():
        for span in spans:
            start, end = span.start, span.end
            if record.text != transcript.text:  # the intake cleaned the text: find the words again
                start = transcript.text.find(span.text)
                end = start + len(span.text)
            times = transcript.time_span(start, end) if start >= 0 else None
            if times:
                span.audio_start, span.audio_end = times


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks: the identity of a recording."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

"""Audio → Transcript: decode, voice activity, Whisper, Chinese conventions, hallucination guards, speakers."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bot.speech import text as zh
from bot.speech.audio import Audio, Samples, Source, decode, is_silent
from bot.speech.backends import CHINESE, Decoded, Transcriber, load
from bot.speech.config import SpeechConfig
from bot.speech.correct import correct

# The prompt sets the register: a hotline call in Mandarin, simplified characters. Whisper's hotwords with the
# districts and hotline words were tried and raised CER from 0.185 to 0.230 on 30 synthesized calls; place
# names are matched by sound later, in the gazetteer and the corrector.
PROMPT = "以下是北京12345市民服务热线的来电，普通话，简体中文。"


@dataclass
class Segment:
    start: float
    """seconds from the start of the recording"""
    end: float
    text: str
    speaker: str | None
    """agent | caller for a stereo call recording, else None"""
    avg_logprob: float
    no_speech_prob: float
    offset: int | None = None
    """where the segment starts in Transcript.text (None for the agent's side)"""


@dataclass
class Transcript:
    """What was said; `text` is what the record is built from (the caller's side of a stereo call)."""

    text: str
    language: str
    """ISO 639-1 code ('zh' for Mandarin), 'und' when nothing was said"""
    language_probability: float
    duration: float
    segments: list[Segment]
    processing_seconds: float = 0.0
    source_rate: int = 0
    channels: int = 1
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.text

    def time_span(self, start: int, end: int) -> tuple[float, float] | None:
        """The audio times of text[start:end], from the segments it overlaps."""
        hit = [s for s in self.segments
               if s.offset is not None and s.offset < end and s.offset + len(s.text) > start]
        return (hit[0].start, hit[-1].end) if hit else None

    def dialogue(self) -> str:
        """Who said what, one line a segment (stereo calls)."""
        names = {"agent": "坐席", "caller": "市民"}
        return "\n".join(f"{names.get(s.speaker or '', '')}：{s.text}" if s.speaker else s.text for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for s in d["segments"]:
            s.pop("offset")
            if s["speaker"] is None:
                s.pop("speaker")
        return d


def transcribe(source: Source, config: SpeechConfig | None = None) -> Transcript:
    """A path, bytes or binary stream → Transcript; raises AudioError (a one-line reason) for unusable audio."""
    config = config or SpeechConfig.from_env()
    started = time.perf_counter()
    audio = decode(source, config)
    transcript = transcribe_audio(audio, load(config), config.agent_channel)
    transcript.processing_seconds = round(time.perf_counter() - started, 3)
    return transcript


def transcribe_audio(audio: Audio, model: Transcriber, agent_channel: int = 0) -> Transcript:
    channels = audio.channels
    if len(channels) == 2 and _same(channels[0], channels[1]):
        channels = [channels[0]]  # dual mono: one voice track, not a call with two sides
    sides: list[tuple[str | None, Samples]] = [(None, channels[0])]
    if len(channels) == 2:
        sides = [("caller", channels[1 - agent_channel]), ("agent", channels[agent_channel])]
    segments: list[Segment] = []
    language, probability = "und", 0.0
    for speaker, samples in sides:
        if is_silent(samples):
            continue
        decoded = _decode(model, samples)
        if speaker != "agent":
            language, probability = decoded.language, decoded.language_probability
        segments += _clean(decoded, speaker)
    segments.sort(key=lambda s: s.start)
    own = [s for s in segments if s.speaker != "agent"]
    text, spans = zh.join([s.text for s in own], language)
    for s, (start, _) in zip(own, spans, strict=True):
        s.offset = start
    warnings = list(audio.warnings)
    if len(sides) == 2 and not own and segments:
        warnings.append("only the agent's channel has speech")
    if not segments:
        warnings.append("no speech")
    return Transcript(text, language if own else "und", round(probability, 3), round(audio.duration, 3), segments,
                      source_rate=audio.source_rate, channels=audio.source_channels, warnings=warnings)


def _same(a: Samples, b: Samples) -> bool:
    return a.shape == b.shape and float(np.max(np.abs(a - b), initial=0.0)) < 1e-3


def _decode(model: Transcriber, samples: Samples) -> Decoded:
    decoded = model.transcribe(samples, PROMPT)
    if decoded.language in CHINESE:
        decoded.language = "zh"
        return decoded
    # Another language: decode again without the Chinese bias, in that language.
    return model.transcribe(samples, None, language=decoded.language)


def _clean(decoded: Decoded, speaker: str | None) -> list[Segment]:
    out: list[Segment] = []
    for s in decoded.segments:
        if zh.is_hallucination(s.text, s.no_speech_prob, s.avg_logprob, s.compression_ratio, s.end - s.start):
            continue
        text = zh.clean_segment(s.text, decoded.language)
        if decoded.language == "zh":
            text = correct(text)
        if text and not (out and text == out[-1].text):  # the same segment twice is a loop too
            out.append(Segment(round(s.start, 2), round(s.end, 2), text, speaker, round(s.avg_logprob, 3),
                               round(s.no_speech_prob, 3)))
    return out

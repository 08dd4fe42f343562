"""Chinese output conventions and hallucination guards for Whisper's segments."""

from __future__ import annotations

import re

from bot.intake.text import simplified

# Whisper was trained on subtitled video: on silence, music or noise it writes the credits it saw most.
_CAPTIONS = re.compile(
    r"字幕(由|制作|提供|志愿者|翻译|校对)|(由|感谢).{0,12}(字幕|Amara)|Amara\.org|"
    r"(请|欢迎)?(不吝)?(点赞|订阅|转发|打赏).{0,6}(订阅|转发|打赏|支持)|明镜(与|和)点点|"
    r"(谢谢|感谢)(大家|各位)?(观看|收看|收听)|下(期|集)(再见|见)|本(期|集)节目|"
    r"优优独播剧场|YoYo Television|Thank(s| you) for watching",
    re.IGNORECASE,
)
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_HALF_TO_FULL = str.maketrans({",": "，", "?": "？", "!": "！", ";": "；", ":": "："})
_NUMERAL = re.compile(r"[0-9零一二三四五六七八九十幺两洞拐]+")
_END = "。？！…"
_PAUSE = "，、；：" + _END

# Beyond these a segment is Whisper talking to itself (faster-whisper's own defaults for a re-decode).
MAX_COMPRESSION = 2.4
NO_SPEECH = 0.6
LOW_LOGPROB = -1.0
# Mandarin runs at 3–7 characters a second; text packed into less time was made up over noise.
MAX_HAN_PER_SECOND = 12
_HAN = re.compile(r"[\u4e00-\u9fff]")


def chinese_punctuation(text: str) -> str:
    """Full-width Chinese punctuation after Han characters, no spaces between Han characters."""
    text = _SPACE_BETWEEN_HAN.sub("", text.strip())
    # A '.' ends a Chinese sentence but stays a decimal point or part of a number.
    text = re.sub(r"(?<=[\u4e00-\u9fff])\.(?!\d)", "。", text)
    text = re.sub(r"(?<=[\u4e00-\u9fff\d])[,?!;:]", lambda m: m.group().translate(_HALF_TO_FULL), text)
    return re.sub(r"\s*([，。？！；：、])\s*", r"\1", text)


def collapse_repeats(text: str, keep: int = 3) -> str:
    """A phrase said more than `keep` times in a row is kept `keep` times (Whisper's decoding loops).

    Digits and spoken numerals are left alone: 13866668888 is a phone number, not a loop.
    """
    for size in range(1, 16):
        pattern = re.compile(rf"(.{{{size}}})\1{{{keep},}}")
        text = pattern.sub(lambda m: m.group() if _NUMERAL.fullmatch(m.group(1)) else m.group(1) * keep, text)
    return text


def is_caption(text: str) -> bool:
    """A known subtitle credit or video sign-off that no citizen says to a hotline."""
    return bool(_CAPTIONS.search(text))


def is_hallucination(text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float,
                     seconds: float | None = None) -> bool:
    """A segment to drop: a caption, a decoding loop, faster than anyone speaks, or probably no speech at all."""
    if not text.strip() or is_caption(text):
        return True
    if seconds is not None and len(_HAN.findall(text)) > MAX_HAN_PER_SECOND * max(seconds, 0.05):
        return True
    if compression_ratio > MAX_COMPRESSION:
        return True
    return no_speech_prob > NO_SPEECH and avg_logprob < LOW_LOGPROB


def clean_segment(text: str, language: str) -> str:
    text = collapse_repeats(text.strip())
    if language == "zh":
        text = chinese_punctuation(simplified(text))
    return text


def join(texts: list[str], language: str) -> tuple[str, list[tuple[int, int]]]:
    """Segments into one text and each segment's character span in it.

    In Chinese every segment ends with punctuation: a comma at a pause, a 。 at the end.
    """
    sep = "" if language == "zh" else " "
    parts: list[str] = []
    for t in texts:
        if language == "zh" and parts and parts[-1] and parts[-1][-1] not in _PAUSE:
            parts[-1] += "，"
        parts.append(t)
    if language == "zh" and parts and parts[-1] and parts[-1][-1] not in _END:
        parts[-1] = parts[-1].rstrip("，、；：") + "。"
    spans, pos = [], 0
    for p in parts:
        spans.append((pos, pos + len(p)))
        pos += len(p) + len(sep)
    return sep.join(parts), spans

"""Cleaning and language detection of citizens' text."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import Any

from bot.intake.errors import IntakeError

MAX_CHARS = 50_000
_TAG = re.compile(r"<[^<>]{0,500}>")
_SPACE = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_FULLWIDTH_ALNUM = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional characters to simplified (OpenCC t2s); everything else unchanged."""
    return str(_t2s().convert(text))


def clean(text: str, max_chars: int = MAX_CHARS) -> str:
    """Return the text as the record keeps it: no markup or control characters, simplified.

    Raises IntakeError for text with nothing to understand or beyond max_chars.
    """
    if not isinstance(text, str):
        raise IntakeError("text must be a string")
    if len(text) > max_chars:
        raise IntakeError(f"text too long: {len(text)} characters (limit {max_chars})")
    text = html.unescape(_TAG.sub(" ", text))
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    text = _FULLWIDTH_ALNUM.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _SPACE.sub(" ", text).strip()
    if not text:
        raise IntakeError("empty text")
    if not any(c.isalnum() for c in text):
        raise IntakeError("text has no words (only symbols or emoji)")
    if _HAN.search(text):
        text = simplified(text)
    return str(text)


# Function words decide short Latin-script messages, where langid guesses wildly.
_FUNCTION_WORDS = {
    "en": {"the", "my", "is", "a", "to", "i", "please", "help", "hello", "you", "in", "of", "and", "for", "with",
           "not", "have", "it", "there", "how", "can", "what", "where", "are", "me", "need"},
    "fr": {"le", "la", "les", "mon", "ma", "je", "est", "et", "pour", "avec", "bonjour", "que", "une", "des", "pas",
           "vous", "mes", "du", "au", "faire"},
    "de": {"der", "die", "das", "ich", "ist", "und", "mein", "meine", "nicht", "mit", "hallo", "eine", "ein", "zu",
           "von", "für", "habe", "wie", "bitte"},
    "es": {"el", "los", "las", "mi", "yo", "es", "y", "para", "con", "hola", "una", "por", "que", "no", "tengo",
           "cómo", "dónde", "del"},
    "it": {"il", "gli", "mio", "mia", "sono", "è", "e", "per", "con", "ciao", "buongiorno", "una", "che", "non",
           "della", "come"},
    "pt": {"o", "os", "meu", "minha", "eu", "é", "e", "para", "com", "olá", "uma", "não", "que", "do", "da", "como"},
}


def _by_function_words(text: str) -> str | None:
    words = re.findall(r"[a-zà-öø-ÿ]+", text.lower())
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _FUNCTION_WORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    ranked = sorted(scores.values(), reverse=True)
    return best if ranked[0] >= 2 and ranked[0] > ranked[1] else None


@lru_cache(maxsize=1)
def _langid() -> Any:
    import langid

    identifier = langid.langid.LanguageIdentifier.from_modelstring(langid.langid.model, norm_probs=True)
    identifier.set_languages(["en", "fr", "de", "es", "it", "pt", "nl", "pl", "tr", "vi", "id", "ms"])
    return identifier


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language; Chinese whenever Han characters carry it."""
    han = len(_HAN.findall(text))
    counts = {
        "ja": len(_KANA.findall(text)),
        "ko": len(_HANGUL.findall(text)),
        "ru": len(_CYRILLIC.findall(text)),
        "ar": len(_ARABIC.findall(text)),
        "th": len(_THAI.findall(text)),
    }
    latin_words = len(re.findall(r"[A-Za-z\u00c0-\u024f]{2,}", text))
    if counts["ja"] and counts["ja"] * 4 >= han:
        return "ja"
    letters = han + sum(counts.values()) + len(_LATIN.findall(text))
    # A Chinese sentence with a brand or English word in it is still Chinese.
    if han >= 2 and (han * 2 >= letters - han or han >= 4 * latin_words):
        return "zh"
    best = max(counts, key=lambda k: counts[k])
    if counts[best] > len(_LATIN.findall(text)):
        return best
    if latin_words == 0:
        return "zh" if han else "und"
    return _by_function_words(text) or str(_langid().classify(text)[0])


def clearly_foreign(text: str) -> bool:
    """Another language, said with enough words to tell: ok, OK的, hello or thank you are Chinese chat too,
    while English with a place name in Chinese (stolen at 三里屯) is English."""
    if detect_language(text) in ("zh", "und"):
        return False
    other_script = any(c.isalpha() and c >= "\u0250" and not _HAN.match(c) for c in text)  # kana, hangul …
    latin_words = len(_LATIN_WORD.findall(text))
    return other_script or (latin_words >= 3 and latin_words > len(_HAN.findall(text)))

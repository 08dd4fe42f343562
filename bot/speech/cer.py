"""Character error rate, on text normalised the same way on both sides."""

from __future__ import annotations

import re
import unicodedata
import warnings

from bot.intake.text import simplified

_KEEP = re.compile(r"[\w]", re.UNICODE)


def normalise(text: str) -> str:
    """Simplified characters, Chinese numerals as digits, no punctuation or spaces, lower case."""
    import cn2an

    text = simplified(unicodedata.normalize("NFKC", text)).lower()
    try:
        # Whisper writes 3号楼 or 三号楼 as it likes; both sides the same way.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cn2an warns of every numeral it leaves as it is
            text = cn2an.transform(text, "cn2an")
    except (ValueError, KeyError, IndexError):
        pass
    return "".join(_KEEP.findall(text)).replace("_", "")


def edits(ref: str, hyp: str) -> int:
    """Levenshtein distance over characters."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def cer(refs: list[str], hyps: list[str]) -> float:
    """Corpus CER: all edits over all reference characters."""
    pairs = [(normalise(r), normalise(h)) for r, h in zip(refs, hyps, strict=True)]
    total = sum(len(r) for r, _ in pairs)
    return sum(edits(r, h) for r, h in pairs) / total if total else 0.0

"""Phone numbers as written or spoken ("一三八幺二…"), normalised to digits."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_DIGIT = {
    **{str(i): str(i) for i in range(10)},
    "零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9", "勾": "9",
}
_SEP = " -－—.、，,()（）杠呃嗯额"
# A run of digits (Arabic or spoken), at most one separator between two digits; an area code may
# stand in brackets before it: （010）67715523, but not a year: 京政发（2023）1234号. Speech recognition
# writes commas between spoken digit groups (幺五幺，幺零零八，三三六二); a typed comma separates amounts
# or years (2000，3000), so a comma joins spoken digits only, and only into a whole mobile or 010 number; so
# does a hesitation between spoken groups (一三九一一零二，呃，八八四零). 杠 is a spoken dash.
_S = "零〇洞一幺二两三四五六七拐八九勾"  # spoken digits
_D = "0-9" + _S
_PAUSE = "，,呃嗯额"
_BETWEEN = rf"(?:(?<=[{_S}])(?:[，,] ?| )?(?:[呃嗯额][，,]? ?)?(?<=[{_PAUSE} ])(?=[{_S}])|[ \-－—.、杠])"
_RUN = re.compile(rf"(?:\+|＋)?(?:[(（][0零〇洞][{_D}]{{2,3}}[)）] ?)?[{_D}](?:{_BETWEEN}?[{_D}])*")
_GROUP = re.compile(f"[^{re.escape(_SEP)}]+")
_LONGEST = 25  # characters a number can span: "+86 138-1234-5678", every spoken digit spaced out
_SPOKEN_ONLY = re.compile(f"[{_S}]")
_PAUSED = re.compile(f"[{_PAUSE}]")


@dataclass(frozen=True)
class Phone:
    """A phone number found in text."""

    digits: str
    """digits only: 11-digit mobile, 010 + 8 digits, or an 8-digit Beijing landline"""
    start: int
    """offset of the first character in the text"""
    end: int
    """offset one past the last character"""
    kind: str
    """mobile | landline"""


def _classify(digits: str) -> str | None:
    digits = _strip_country(digits)
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "mobile"
    if re.fullmatch(r"010[2-9]\d{7}", digits) or re.fullmatch(r"[2-9]\d{7}", digits):
        return "landline"
    return None


def _digits(raw: str) -> str:
    return "".join(_DIGIT[c] for c in raw if c not in _SEP)


def _strip_country(digits: str) -> str:
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix):]
    return digits


def find_phones(text: str) -> list[Phone]:
    """Every mobile or landline number in the text, in order."""
    found: list[Phone] = []
    for m in _RUN.finditer(text):
        # Separated groups ("138 1234 5678 2号楼"): the longest run of groups that is a number.
        groups = [(g.start() + m.start(), g.end() + m.start()) for g in _GROUP.finditer(m.group())]
        ends = [end for _, end in groups]
        best: tuple[int, int] | None = None
        for i in range(len(groups)):
            for j in range(bisect_right(ends, groups[i][0] + _LONGEST), i, -1):
                start, end = groups[i][0], groups[j - 1][1]
                if best and end - start <= best[1] - best[0]:
                    break
                raw = text[start:end].lstrip("+＋")
                digits = _digits(raw)
                if _SPOKEN_ONLY.search(raw) and len(digits) < 8 or _PAUSED.search(raw) and len(digits) != 11:
                    continue
                if _classify(digits):
                    best = (start, end)
                    break
        if best:
            digits = _strip_country(_digits(text[best[0]:best[1]].lstrip("+＋")))
            found.append(Phone(digits, best[0], best[1], _classify(digits) or "mobile"))
    return found

"""When it happened: 昨天晚上, 上周三, 11月3号, 三天了 → an ISO date or date-time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
        "半": 0.5, "几": 3, "好几": 3, "俩": 2}
_N = r"(?:\d{1,4}|[零一二两三四五六七八九十]{1,3}|半|几|好几|俩)"
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_DAYS = {"大前天": -3, "前天": -2, "前儿": -2, "昨天": -1, "昨儿": -1, "昨日": -1, "昨晚": -1, "昨夜": -1,
         "今天": 0, "今儿": 0, "今日": 0, "今早": 0, "今晚": 0, "今天早上": 0}
_PART = {"凌晨": 3, "早上": 7, "早晨": 7, "上午": 9, "中午": 12, "下午": 15, "傍晚": 18, "晚上": 20,
         "夜里": 23, "半夜": 0, "夜间": 22, "深夜": 23}
_UNIT_DAYS = {"分钟": 0, "小时": 0, "天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7, "月": 30, "年": 365}

_ABS = re.compile(rf"(?:(\d{{4}}|[零〇一二三四五六七八九]{{4}})年)?({_N})月({_N})[日号]")
_REL = re.compile(r"(大前天|前天|前儿|昨天|昨儿|昨日|昨晚|昨夜|今天|今儿|今日|今早|今晚)"
                  r"(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|半夜|夜间|深夜)?"
                  rf"(?:({_N})点(半)?)?")
_WEEK = re.compile(r"(上上|上个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天末1-7])")
# A duration counts back from now when 了/以来/前 closes it, when the text goes on to say what has
# not happened since (约了三天还没来, 欠了两个多月的工资), or after 这/近 (这半个月水压小).
_AGO = re.compile(rf"({_N})(?:个)?多?(分钟|小时|天|日|周|星期|礼拜|个?月|年)多?"
                  r"(?:了|以来|之前|前|(?=没人管|还没|还不|都没|一直|的工资|的钱|的活))")
_RECENT = re.compile(rf"(?<=[这近])({_N})(?:个)?多?(天|周|星期|礼拜|个?月|年)")
_NOW = re.compile(r"(刚才|刚刚|现在|正在|这会儿)")
_CLOCK = re.compile(rf"(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|半夜|深夜)({_N})点(半)?")


@dataclass(frozen=True)
class TimeMention:
    """A time the text names, resolved against when the message was received."""

    value: str
    """ISO date (2026-11-20) or date-time with offset"""
    start: int
    """offset of the first character"""
    end: int
    """offset one past the last character"""


def _num(s: str) -> float:
    if s.isdigit():
        return int(s)
    if s in _NUM:
        return _NUM[s]
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (_NUM.get(tens, 1) if tens else 1) * 10 + (_NUM.get(ones, 0) if ones else 0)
    if len(s) == 4:  # 二〇二五
        return int("".join(str(_NUM.get(c, 0)) for c in s.replace("〇", "零")))
    return _NUM.get(s, 0)


def _hour(part: str | None, clock: str | None, half: str | None) -> time | None:
    if clock:
        h = int(_num(clock)) % 24
        if part in ("下午", "傍晚", "晚上", "夜里", "深夜", "夜间") and h < 12:
            h += 12
        return time(h, 30 if half else 0)
    if part:
        return time(_PART[part])
    return None


def _iso(day: date, at: time | None, received: datetime) -> str:
    if at is None:
        return day.isoformat()
    return datetime.combine(day, at, tzinfo=received.tzinfo).isoformat()


def parse_time(text: str, received: datetime) -> TimeMention | None:
    """The first time the text names, or None."""
    today = received.date()
    found: list[TimeMention] = []
    for m in _ABS.finditer(text):
        month, day = int(_num(m.group(2))), int(_num(m.group(3)))
        year = int(_num(m.group(1))) if m.group(1) else today.year
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if not m.group(1) and d > today:
            d = date(year - 1, month, day)
        found.append(TimeMention(d.isoformat(), m.start(), m.end()))
    for m in _REL.finditer(text):
        key = m.group(1)
        part = m.group(2) or {"昨晚": "晚上", "昨夜": "夜里", "今早": "早上", "今晚": "晚上"}.get(key)
        at = _hour(part, m.group(3), m.group(4))
        found.append(TimeMention(_iso(today + timedelta(days=_DAYS[key]), at, received), m.start(), m.end()))
    for m in _WEEK.finditer(text):
        prefix, wd = m.group(1) or "", _WEEKDAY[m.group(2)]
        monday = today - timedelta(days=today.weekday())
        weeks_back = 2 if prefix == "上上" else 1 if prefix.startswith("上") else 0
        d = monday - timedelta(weeks=weeks_back) + timedelta(days=wd)
        if not prefix and d > today:
            d -= timedelta(weeks=1)
        if d <= today:
            found.append(TimeMention(d.isoformat(), m.start(), m.end()))
    for m in [*_AGO.finditer(text), *_RECENT.finditer(text)]:
        n, unit = _num(m.group(1)), m.group(2).lstrip("个")
        if unit in ("分钟", "小时"):
            delta = timedelta(minutes=n) if unit == "分钟" else timedelta(hours=n)
            found.append(TimeMention((received - delta).replace(microsecond=0).isoformat(), m.start(), m.end()))
        else:
            found.append(TimeMention((today - timedelta(days=round(n * _UNIT_DAYS[unit]))).isoformat(),
                                     m.start(), m.end()))
    if not found:
        clock = _CLOCK.search(text)
        if clock:
            at = _hour(clock.group(1), clock.group(2), clock.group(3))
            assert at is not None
            d = today if at <= received.time() else today - timedelta(days=1)
            found.append(TimeMention(_iso(d, at, received), clock.start(), clock.end()))
    if not found:
        now = _NOW.search(text)
        if now:
            found.append(TimeMention(received.replace(microsecond=0).isoformat(), now.start(), now.end()))
    return min(found, key=lambda t: t.start) if found else None

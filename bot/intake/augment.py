"""Training-time variation of hand-written examples: places, contacts, fillers, ASR slips.

Every variant is built character by character with its slot tag, so entity spans stay right
whatever is inserted, dropped or misheard.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from bot.intake.dataset import Example
from bot.intake.gazetteer import Gazetteer, _syllables

_OPENERS = ["喂，你好，", "喂你好", "你好，", "您好，我想反映个事儿，", "那个，", "嗯，就是，",
            "你好是12345吗，", "我要反映一个问题，", "喂喂，听得见吗，", "同志你好，", "麻烦问一下，", "哎你好，",
            "就是说，", "我跟你说啊，"]
_CLOSERS = ["，谢谢", "，麻烦尽快处理一下", "，你们给管管吧", "，谢谢啊", "，希望尽快解决", "，拜托了", "。",
            "，就这事儿"]
_CONSULT_CLOSERS = ["，谢谢", "，麻烦告诉我一下", "，谢谢啊", "？", "，您给说说"]
_SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
             "余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")
_TITLES = ["先生", "女士", "", "阿姨", "大爷", "师傅"]
_SPOKEN = "零一二三四五六七八九"
_ADDRESS_TAILS = ["", "", "小区", "3号楼", "12号院", "5号楼2单元", "那边", "附近", "南门", "东里8号楼", "西街", "路口"]
_ADDRESS_FRAMES = [("我是", "的，"), ("我住", "，"), ("", "这边，"), ("在", "，"), ("我家在", "，"), ("", "，")]
_ADDRESS_END_FRAMES = [("，地址是", ""), ("，在", ""), ("，我这是", ""), ("，位置在", "这块儿")]
_PUNCT = set("，。！？、,.!?；;：: ")

Tagged = list[tuple[str, str]]


def _tag(text: str, slot: str | None) -> Tagged:
    return [(c, slot or "") for c in text]


def _from_example(ex: Example) -> Tagged:
    tags = [""] * len(ex.text)
    for start, end, slot in ex.entities:
        for k in range(start, end):
            tags[k] = slot
    return list(zip(ex.text, tags, strict=True))


def _to_example(base: Example, chars: Tagged) -> Example:
    text = "".join(c for c, _ in chars)
    spans: list[tuple[int, int, str]] = []
    for i, (_, slot) in enumerate(chars):
        if slot and (i == 0 or chars[i - 1][1] != slot):
            spans.append((i, i, slot))
        if slot:
            spans[-1] = (spans[-1][0], i + 1, slot)
    return replace(base, text=text, entities=spans)


class Augmenter:
    """Makes varied copies of examples, reproducibly for a given seed."""

    def __init__(self, gazetteer: Gazetteer, vocabulary: str, seed: int = 13) -> None:
        self.rng = random.Random(seed)
        self.place_names = sorted(n for n, ps in gazetteer.names.items() if any(p.kind != "community" for p in ps))
        self.communities = sorted(n for n, ps in gazetteer.names.items() if all(p.kind == "community" for p in ps))
        self.districts = sorted(gazetteer.districts)
        self.streets = {d: sorted(s) for d, s in gazetteer.districts.items()}
        sounds: dict[str, list[str]] = defaultdict(list)
        chars = sorted({c for c in vocabulary if "\u4e00" <= c <= "\u9fff"})
        for c, s in zip(chars, _syllables("".join(chars)), strict=True):
            if s:
                sounds[s].append(c)
        self.homophones = {c: [o for o in sounds[s] if o != c] for c, s in zip(chars, _syllables("".join(chars)),
                                                                             strict=True) if s}

    def _place(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            d = self.rng.choice(self.districts)
            return d + self.rng.choice(self.streets[d])
        if r < 0.75:
            name = self.rng.choice(self.place_names)
        else:
            name = self.rng.choice(self.communities)
        if self.rng.random() < 0.15:
            name = self.rng.choice(self.districts) + name
        return name + self.rng.choice(_ADDRESS_TAILS)

    def _phone(self) -> str:
        digits = "1" + self.rng.choice("3456789") + "".join(self.rng.choice("0123456789") for _ in range(9))
        r = self.rng.random()
        if r < 0.3:
            return "".join(_SPOKEN[int(c)] if c != "1" or self.rng.random() < 0.5 else "幺" for c in digits)
        if r < 0.45:
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        return digits

    def _contact(self) -> Tagged:
        name = self.rng.choice(_SURNAMES)
        title = self.rng.choice(_TITLES)
        r = self.rng.random()
        out: Tagged = []
        if r < 0.4:
            out = _tag("，我姓", None) + _tag(name, "name") + _tag(title + "，", None)
        elif r < 0.6:
            out = _tag("，我是", None) + _tag(name + (title or "先生"), "name") + _tag("，", None)
        else:
            out = _tag("，", None)
        lead = self.rng.choice(["电话", "我电话是", "联系电话", "手机号", "你打这个号", ""])
        return out + _tag(lead, None) + _tag(self._phone(), "phone")

    def _asr(self, chars: Tagged) -> Tagged:
        """Drop punctuation and mishear a few characters, as speech recognition does."""
        out: Tagged = []
        for c, slot in chars:
            if c in _PUNCT:
                if self.rng.random() < 0.7:
                    out.append((" ", "")) if self.rng.random() < 0.2 else None
                    continue
            alternatives = self.homophones.get(c)
            if alternatives and not slot and self.rng.random() < 0.04:
                c = self.rng.choice(alternatives)
            out.append((c, slot))
        return out

    def _other_places(self, chars: Tagged) -> Tagged:
        """Each place named in the text swapped for another: what happened decides the labels, not where
        (one emergency example set at 南锣鼓巷 made every message naming it look like one)."""
        out: Tagged = []
        for i, (c, slot) in enumerate(chars):
            if slot != "address":
                out.append((c, slot))
            elif i == 0 or chars[i - 1][1] != "address":
                out += _tag(self._place(), "address")
        return out

    def vary(self, ex: Example) -> Example:
        """One varied copy of the example."""
        chars = _from_example(ex)
        has_place = any(s == "address" for _, _, s in ex.entities)
        rng = self.rng
        if has_place and rng.random() < 0.5:
            chars = self._other_places(chars)
        if not has_place and rng.random() < 0.55:
            place = _tag(self._place(), "address")
            if rng.random() < 0.6:
                pre, post = rng.choice(_ADDRESS_FRAMES)
                chars = _tag(pre, None) + place + _tag(post, None) + chars
            else:
                pre, post = rng.choice(_ADDRESS_END_FRAMES)
                chars = chars + _tag(pre, None) + place + _tag(post, None)
        if rng.random() < 0.35:
            chars = _tag(rng.choice(_OPENERS), None) + chars
        if ex.type != "consultation" and rng.random() < 0.25 and not any(s == "phone" for _, _, s in ex.entities):
            chars = chars + self._contact()
        if rng.random() < 0.2:
            chars = chars + _tag(rng.choice(_CONSULT_CLOSERS if ex.type == "consultation" else _CLOSERS), None)
        if rng.random() < 0.35:
            chars = self._asr(chars)
        return _to_example(ex, chars)

    def expand(self, examples: list[Example], copies: int) -> list[Example]:
        """The originals plus `copies` varied copies of each."""
        out = list(examples)
        for ex in examples:
            out.extend(self.vary(ex) for _ in range(copies))
        return out

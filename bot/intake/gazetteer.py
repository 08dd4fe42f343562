"""Beijing gazetteer: districts, streets/towns/areas, communities and landmarks.

Resolves what a citizen said ("望京那边", "回龙观龙泽苑", ASR's "望经济到") to the official
district and street. Exact names first, then sound-alike (pinyin) matches for ASR errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from bot import DATA_DIR

_STREET_SUFFIX = re.compile(r"(街道|地区|民族乡|回族乡|满族乡|镇|乡)$")
_COMMUNITY_SUFFIX = re.compile(r"(社区居委会|居委会|社区|村委会|村民委员会)$")
# Short forms that are ordinary words or names of other things: only the full name counts.
_GENERIC = {
    "光明", "向阳", "城关", "城北", "城南", "新华", "新村", "新镇", "胜利", "河北", "东风", "清水", "温泉",
    "四海", "安定", "永宁", "龙山", "龙泉", "宝山", "曙光", "荣华", "天桥", "古城", "石城", "星城", "滨河",
    "迎风", "平房", "和义", "高岭", "木林", "百泉", "泉河", "石园", "李桥", "永顺", "通运", "空港", "小关",
    "清源", "永定", "大台", "城子", "中仓", "龙潭", "东湖", "西集", "南口", "双丰", "渤海",
}
# Sounds that may follow a place name: 街道 (often heard as 接到/济到), 镇, 乡, 地区, 那边 ...
_SUFFIX_SOUNDS = ["jiedao", "jie", "zhen", "xiang", "diqu", "shequ", "cun", "nabian", "zhebian", "fujin", "lu",
                  "zher", "zhe", "na", "xiyuan", "dongyuan", "beiyuan", "dongli", "xili", "nanli", "beili", "xiaoqu",
                  "jiayuan", "huayuan"]
_NEGATION = ("不是", "不在", "而不是")
# The caller corrects the place just named: 密云鼓楼 不是 是果园那边.
_CORRECTION = re.compile(r"[\s，,。]*(?:(?:不是)+[\s，,。]*是|(?:不对)+|说错了|哦不)[\s，,。]*(?:是|在)?")

CONFIDENCE = {"street": 1.0, "district": 1.0, "short": 0.9, "community": 0.85, "landmark": 0.85}
PINYIN_CONFIDENCE = 0.7


@dataclass(frozen=True)
class Place:
    """One gazetteer unit a name can stand for."""

    district: str
    """official district name"""
    street: str | None
    """official street/town/area name; None for a district or a district-wide landmark"""
    community: str | None
    """community or village name when the name is one"""
    kind: str
    """district | street | short | community | landmark"""


@dataclass(frozen=True)
class Mention:
    """A place name found in a text."""

    start: int
    """offset of the first character"""
    end: int
    """offset one past the last character"""
    name: str
    """the gazetteer name it matched"""
    places: tuple[Place, ...]
    """every unit the name can stand for"""
    confidence: float
    """1.0 for an official name, lower for short forms and sound-alikes"""


@dataclass(frozen=True)
class Resolution:
    """The location of a text."""

    district: str | None
    """official district name or None"""
    street: str | None
    """official street/town/area name or None"""
    community: str | None
    """community or village when named"""
    confidence: float
    """0 when nothing was found"""
    mentions: tuple[Mention, ...]
    """the mentions the decision rests on, in text order"""


def _fuzzy(syllable: str) -> str:
    """Collapse the sound distinctions ASR and accents blur (zh/z, ing/in, n/l ...)."""
    s = syllable
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if s.startswith(a):
            s = b + s[2:]
    if s.startswith("n"):
        s = "l" + s[1:]
    for a, b in (("ing", "in"), ("eng", "en")):
        if s.endswith(a):
            s = s[: -len(a)] + b
    return s


def _blank(chunk: str) -> Any:
    """pypinyin's error handler: one empty syllable per non-Han character."""
    return [""] * len(chunk)


def _syllables(text: str) -> list[str]:
    """One tone-less pinyin syllable per character ('' for characters that are not Han)."""
    from pypinyin import Style, pinyin

    out = [item[0] if item else "" for item in pinyin(text, style=Style.NORMAL, errors=_blank)]
    if len(out) != len(text):  # never misalign offsets, whatever pypinyin groups
        return [(pinyin(c, style=Style.NORMAL, errors=_blank) or [[""]])[0][0] for c in text]
    return out


def _corrected(text: str, mention: Mention, later: Mention) -> bool:
    """The caller takes the place back and names another at once: 密云鼓楼 不是 是果园, 海淀不对 朝阳."""
    m = _CORRECTION.match(text, mention.end)
    return m is not None and later.start - m.end() <= 2


class Gazetteer:
    """Name → places index over Beijing's districts, streets, communities and landmarks."""

    def __init__(self, districts: dict[str, dict[str, list[str]]],
                 landmarks: dict[str, dict[str, str | None]]) -> None:
        if len(districts) != 16:
            raise ValueError(f"gazetteer must hold Beijing's 16 districts, got {len(districts)}")
        self.districts = districts
        self.street_district: dict[str, list[str]] = {}
        names: dict[str, set[Place]] = {}

        def add(name: str, place: Place) -> None:
            if len(name) >= 2:
                names.setdefault(name, set()).add(place)

        district_shorts = {d[:-1] for d in districts}
        for district, streets in districts.items():
            add(district, Place(district, None, None, "district"))
            add(district[:-1], Place(district, None, None, "district"))
            for street, communities in streets.items():
                self.street_district.setdefault(street, []).append(district)
                add(street, Place(district, street, None, "street"))
                short = _STREET_SUFFIX.sub("", street)
                if street.endswith("地区"):  # 梨园地区 is also 梨园镇 / 梨园乡
                    add(short + "镇", Place(district, street, None, "street"))
                    add(short + "乡", Place(district, street, None, "street"))
                if short != street and short not in _GENERIC and short not in district_shorts:
                    add(short, Place(district, street, None, "short"))
                shared = sum(_STREET_SUFFIX.sub("", s) == short for s in streets) > 1  # 南苑街道, 南苑地区
                if short != street and not shared:  # after its district even a generic short form is clear
                    add(district + short, Place(district, street, None, "short"))
                    add(district[:-1] + short, Place(district, street, None, "short"))
                for community in communities:
                    add(community, Place(district, street, community, "community"))
                    core = _COMMUNITY_SUFFIX.sub("", community)
                    if len(core) >= 3 and core != community:
                        add(core, Place(district, street, community, "community"))
        for name, spec in landmarks.items():
            lm_district, lm_street = str(spec["district"]), spec.get("street") or None
            if lm_district not in districts or (lm_street and lm_street not in districts[lm_district]):
                raise ValueError(f"landmark {name}: {lm_district}/{lm_street} is not in the gazetteer")
            add(name, Place(lm_district, lm_street, None, "landmark"))
        # Official names beat short forms and landmarks of the same spelling.
        self.names: dict[str, tuple[Place, ...]] = {}
        for name, candidates in names.items():
            top = max(CONFIDENCE[p.kind] for p in candidates)
            keep = [p for p in candidates if CONFIDENCE[p.kind] == top]
            self.names[name] = tuple(sorted(keep, key=lambda p: (p.district, p.street or "")))
        self.lengths = sorted({len(n) for n in self.names}, reverse=True)
        # Sound-alikes only for districts, streets and landmarks: the 7,000 community names
        # would match ordinary words ("孩子交" sounds like 海子角).
        self.sounds: dict[tuple[str, ...], list[str]] = {}
        for name, known in self.names.items():
            if re.fullmatch(r"[\u4e00-\u9fff]+", name) and any(p.kind != "community" for p in known):
                self.sounds.setdefault(tuple(_fuzzy(s) for s in _syllables(name)), []).append(name)
        self.sound_lengths = sorted({len(k) for k in self.sounds}, reverse=True)

    @classmethod
    def from_files(cls, data_dir: Any = DATA_DIR) -> Gazetteer:
        districts = json.loads((data_dir / "beijing.json").read_text(encoding="utf-8"))
        landmarks_file = data_dir / "landmarks.yml"
        landmarks = yaml.safe_load(landmarks_file.read_text(encoding="utf-8")) if landmarks_file.exists() else {}
        return cls(districts, landmarks or {})

    def _confidence(self, name: str) -> float:
        return max(CONFIDENCE[p.kind] for p in self.names[name])

    def find(self, text: str) -> list[Mention]:
        """Place names in the text, longest first, no overlaps, in text order."""
        found: list[Mention] = []
        covered = [False] * len(text)
        i = 0
        while i < len(text):
            for n in self.lengths:
                name = text[i : i + n]
                if len(name) == n and name in self.names:
                    found.append(Mention(i, i + n, name, self.names[name], self._confidence(name)))
                    for k in range(i, i + n):
                        covered[k] = True
                    i += n - 1
                    break
            i += 1
        after_district = {m.end for m in found if all(p.kind == "district" for p in m.places)}
        found.extend(self._sound_alikes(text, covered, after_district))
        kept = [m for m in found if not any(text[max(0, m.start - len(neg)) : m.start] == neg for neg in _NEGATION)]
        kept.sort(key=lambda m: m.start)
        pairs = zip(kept, kept[1:], strict=False)
        return [m for m, later in pairs if not _corrected(text, m, later)] + kept[-1:]

    def _sound_alikes(self, text: str, covered: list[bool], after_district: set[int]) -> list[Mention]:
        from rapidfuzz.fuzz import ratio

        syl = _syllables(text)
        fz = [_fuzzy(s) if s else "" for s in syl]
        found: list[Mention] = []
        i = 0
        while i < len(text):
            hit = None
            for n in self.sound_lengths:
                window = fz[i : i + n]
                if len(window) < n or not all(window) or any(covered[i : i + n]):
                    continue
                names = self.sounds.get(tuple(window))
                if not names:
                    continue
                end = i + n
                tail = "".join(syl[end : end + 2])
                suffix = next((s for s in _SUFFIX_SOUNDS if tail.startswith(s) or ratio(tail, s) >= 85), None)
                if n < 3 and suffix is None and i not in after_district:
                    continue
                if suffix and ratio(tail, suffix) >= 85 and len(tail) > 0:
                    end += 2 if len(suffix) > 4 else 1
                # Prefer official names when several share a sound.
                name = max(names, key=self._confidence)
                hit = Mention(i, min(end, len(text)), name, self.names[name], PINYIN_CONFIDENCE)
                break
            if hit:
                found.append(hit)
                i = hit.end
            else:
                i += 1
        return found

    def resolve(self, text: str) -> Resolution:
        """District, street and community of the text, as far as its place names decide them."""
        mentions = self.find(text)
        district_mentions = [m for m in mentions if all(p.kind == "district" for p in m.places)]
        district = district_mentions[0].places[0].district if district_mentions else None
        street_mentions = [m for m in mentions if any(p.street for p in m.places)]
        narrowed = {id(m) for m, inner in zip(street_mentions, street_mentions[1:], strict=False)
                    if _area_before_place(m, inner)}
        street_mentions = [m for m in street_mentions if id(m) not in narrowed]
        for m in sorted(street_mentions, key=lambda m: (-m.confidence, m.start)):
            places = [p for p in m.places if p.street and (district is None or p.district == district)]
            if len({p.street for p in places}) == 1 and len({p.district for p in places}) == 1:
                p = places[0]
                used = sorted(district_mentions[:1] + [m], key=lambda x: x.start)
                return Resolution(p.district, p.street, p.community, m.confidence, tuple(used))
        if district:
            return Resolution(district, None, None, 0.6, tuple(district_mentions[:1]))
        # A landmark or ambiguous street that still fixes the district.
        for m in mentions:
            ds = {p.district for p in m.places}
            if len(ds) == 1:
                return Resolution(ds.pop(), None, None, 0.5 * m.confidence, (m,))
        return Resolution(None, None, None, 0.0, ())


def _area_before_place(area: Mention, inner: Mention) -> bool:
    """An area named right before a landmark or community of the same district (回龙观龙跃苑, 良乡拱辰大街):
    the second, narrower place says which street."""
    return (inner.start == area.end and len(area.places) == 1 and len(inner.places) == 1
            and inner.places[0].kind in ("landmark", "community") and inner.places[0].street is not None
            and area.places[0].street is not None and area.places[0].district == inner.places[0].district)


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    return Gazetteer.from_files()

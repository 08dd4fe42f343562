"""Homophone post-correction of Whisper's Mandarin transcripts.

Whisper base often writes a character that sounds right but means nothing there (以保暴销 for 医保报销).
Each run of Han characters is read for the best score, where besides the characters heard a span may also be
read as a lexicon word that sounds the same or nearly so (z/zh, in/ing, l/n ...). A reading scores by its words'
frequencies (jieba's, boosted by their use on the hotline) and by each character given the one before it in
hotline text; a sound-alike word pays for every character it changes and once more for the rewrite, and it may
only replace characters that form no word of their own. So a correction is taken only where it clearly wins.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from importlib.util import find_spec
from pathlib import Path

import yaml

from bot import DATA_DIR, PROJECT_DIR

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_MARKUP = re.compile(r"\[([^\]\n]*)\]\([a-z_]+\)")
# Spoken digits stay as heard (phone numbers, floors), like the Arabic digits around them.
_NUMERALS = frozenset("零一二三四五六七八九十百千万亿两幺")
# Whisper ends a question or a statement with these on its own evidence: 号吗 is not 号码.
_FINAL_PARTICLES = frozenset("吗呢吧啊呀嘛哦啦了")
_STREET_SUFFIX = re.compile(r"(街道|地区|镇|乡)$")
# Japanese shares the Han characters but not their sounds.
_KANA = re.compile(r"[\u3040-\u30ff]")

MAX_WORD = 4
"""longest word tried as a replacement; longer ones are names that the gazetteer resolves by sound itself"""
MIN_FREQ = 10
"""jieba frequency below which a word is too obscure to be written over what Whisper heard"""
KEEP_FREQ = 5
"""characters that form a word at least this frequent are kept as heard"""
DOMAIN_WEIGHT = 50
"""one use in the hotline corpus counts as this many in jieba's general-text frequencies"""
NAME_FREQ = 20
"""pseudo-frequency of a place name or hotline keyword that the corpus never uses"""
SAME_SOUND = 1.0
"""cost (in natural-log probability) of a character changed for one with the same syllable and tone"""
OTHER_TONE = 2.0
"""extra cost when the tone differs"""
NEAR_SOUND = 3.0
"""extra cost when the syllable only matches after blurring z/zh, in/ing, l/n, an/ang ..."""
OTHER_READING = 2.0
"""extra cost when the character Whisper wrote has that sound only in a less usual reading (给 as ji3)"""
REWRITE = 2.0
"""cost of rewriting a span at all"""
WORD_WEIGHT = 0.5
"""weight of the words' log-probabilities in a reading's score"""
CONTEXT_WEIGHT = 0.5
"""weight of the characters' log-probabilities given the one before"""
CONTEXT_SMOOTHING = 5.0
"""how many uses a character needs before what follows it counts more than plain character frequency"""
UNKNOWN = math.log(0.5)
"""log-frequency of a character jieba does not know"""


@cache
def _fuzzy(syllable: str) -> str:
    """A tone-less syllable with the distinctions Mandarin speakers and Whisper blur collapsed."""
    s = syllable
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l")):
        if s.startswith(a):
            s = b + s[len(a):]
            break
    return s[:-1] if s.endswith(("ing", "eng", "ang")) else s


@cache
def _tone3(marked: str) -> str:
    """'wèi' -> 'wei4'; the neutral tone is 5."""
    from pypinyin.contrib.tone_convert import to_tone3

    return str(to_tone3(marked, neutral_tone_with_five=True))


def _makes_number(run: str, start: int, word: str, k: int) -> bool:
    """Whether writing `word` at run[start:] puts a numeral at word[k] next to another: 是五号 is not 十五号."""
    if word[k] not in _NUMERALS:
        return False
    end = start + len(word)
    left = word[k - 1] if k else run[start - 1:start]
    right = word[k + 1] if k + 1 < len(word) else run[end:end + 1]
    return left in _NUMERALS or right in _NUMERALS


class _Lexicon:
    """Word frequencies and a sound index of the words that may replace a span."""

    def __init__(self, freqs: dict[str, float], sounds: dict[str, tuple[str, ...]],
                 phrases: dict[str, list[list[str]]]) -> None:
        self.logf = {w: math.log(f) for w, f in freqs.items()}
        self.total = math.log(sum(freqs.values()))
        self.sounds = sounds
        self.phrases = phrases
        self.keys = {c: sorted({_fuzzy(r[:-1]) for r in rs}) for c, rs in sounds.items()}
        self.by_key: dict[str, list[str]] = {}
        self.prefixes: set[str] = set()
        self.chars: dict[str, float] = {}
        self.norms: dict[str, float] = {}
        self.pairs: dict[str, float] = {}

    def add_uses(self, uses: Counter[str], weight: float) -> None:
        """Count `weight` more for every use of a word."""
        total = math.exp(self.total)
        for word, count in uses.items():
            total += weight * count
            self.logf[word] = math.log(math.exp(self.logf.get(word, -math.inf)) + weight * count)
        self.total = math.log(total)

    def index(self, words: Iterable[str]) -> None:
        """Let these words replace characters that sound like them."""
        first = {c: _fuzzy(rs[0][:-1]) for c, rs in self.sounds.items()}
        for word in words:
            phrase = self.phrases.get(word)
            if phrase and len(phrase) == len(word):
                parts = [_fuzzy(_tone3(p[0])[:-1]) for p in phrase]
            else:
                parts = [first[c] for c in word]
            self.by_key.setdefault(" ".join(parts), []).append(word)
            for k in range(2, len(parts)):
                self.prefixes.add(" ".join(parts[:k]))

    def word_sound(self, word: str) -> tuple[str, ...]:
        """A word's syllables: pypinyin's phrase reading where it has one, else each character's usual reading."""
        phrase = self.phrases.get(word)
        if phrase and len(phrase) == len(word):
            return tuple(_tone3(p[0]) for p in phrase)
        return tuple(self.sounds[c][0] for c in word)

    def change_cost(self, syllable: str, heard: str) -> float:
        """Cost of writing a character read `syllable` where Whisper wrote the character `heard`."""
        best = math.inf
        for rank, reading in enumerate(self.sounds.get(heard, ())):
            cost = SAME_SOUND + (OTHER_READING if rank else 0.0)
            if syllable[-1] != reading[-1] and "5" not in (syllable[-1], reading[-1]):
                cost += OTHER_TONE
            if syllable[:-1] == reading[:-1]:
                best = min(best, cost)
            elif _fuzzy(syllable[:-1]) == _fuzzy(reading[:-1]):
                best = min(best, cost + NEAR_SOUND)
        return best

    def sound_alikes(self, run: str, start: int, frozen: set[int]) -> Iterator[tuple[int, str, float]]:
        """(end, word, cost) of every indexed word that sounds like run[start:end] and is spelled otherwise.

        Characters at `frozen` offsets are never changed.
        """
        keep = math.log(KEEP_FREQ)
        frontier = [""]
        for end in range(start + 1, min(len(run), start + MAX_WORD) + 1):
            keys = self.keys.get(run[end - 1], [])
            extended = [f"{p} {k}" if p else k for p in frontier for k in keys]
            heard = run[start:end]
            if end - start >= 2 and self.logf.get(heard, -math.inf) < keep:
                for key in extended:
                    for word in self.by_key.get(key, ()):
                        changed = [k for k in range(end - start) if word[k] != heard[k]]
                        if (changed and not frozen.intersection(start + k for k in changed)
                                and not any(_makes_number(run, start, word, k) for k in changed)):
                            syllables = self.word_sound(word)
                            cost = sum(self.change_cost(syllables[k], heard[k]) for k in changed)
                            if cost < math.inf:
                                yield end, word, cost + REWRITE
            # Every syllable starts some word: only longer prefixes need checking.
            frontier = extended if end == start + 1 else [p for p in extended if p in self.prefixes]
            if not frontier:
                return

    def learn_context(self, runs: Iterable[str]) -> None:
        """Character bigrams of hotline text ('^' starts a run), smoothed towards character frequencies."""
        pairs: Counter[str] = Counter()
        for run in runs:
            pairs.update(a + b for a, b in zip("^" + run, run, strict=False))
        firsts: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        for pair, count in pairs.items():
            firsts[pair[0]] += count
            seconds[pair[1]] += count
        domain = sum(seconds.values())
        # Characters never seen in the corpus still have their general frequency (as jieba's one-character words).
        general = {c: math.exp(self.logf.get(c, UNKNOWN) - self.total) for c in self.sounds}
        self.chars = {c: math.log((seconds[c] + domain * p) / (2 * domain)) for c, p in general.items()}
        self.norms = {a: math.log(count + CONTEXT_SMOOTHING) for a, count in firsts.items()}
        self.pairs = {pair: math.log(count + CONTEXT_SMOOTHING * math.exp(self.chars.get(pair[1], UNKNOWN)))
                      - self.norms[pair[0]] for pair, count in pairs.items()}

    def follows(self, before: str, char: str) -> float:
        """log P(char | before) in hotline text."""
        seen = self.pairs.get(before + char)
        if seen is not None:
            return seen
        return (math.log(CONTEXT_SMOOTHING) + self.chars.get(char, UNKNOWN - self.total)
                - self.norms.get(before, math.log(CONTEXT_SMOOTHING)))

    def segment(self, run: str) -> list[str]:
        """Known words of a run, for the highest product of word probabilities (jieba without its HMM)."""
        n = len(run)
        best: list[float] = [0.0] + [-math.inf] * n
        back = [0] * (n + 1)
        for start in range(n):
            for end in range(start + 1, min(n, start + MAX_WORD) + 1):
                logf = self.logf.get(run[start:end], UNKNOWN if end == start + 1 else -math.inf)
                score = best[start] + logf - self.total
                if score > best[end]:
                    best[end], back[end] = score, start
        words: list[str] = []
        end = n
        while end:
            words.append(run[back[end]:end])
            end = back[end]
        return words[::-1]

    def correct_run(self, run: str) -> str:
        """The most probable reading of a run of Han characters.

        Words weigh by their frequency, characters by the one before them; the best path is kept for each
        last character, since that is all the next word's first character depends on.
        """
        n = len(run)
        frozen = {i for i, c in enumerate(run) if c in _NUMERALS}
        if run[-1] in _FINAL_PARTICLES:
            frozen.add(n - 1)
        # position -> last character -> (score, previous position, previous last character, word)
        states: list[dict[str, tuple[float, int, str, str]]] = [{} for _ in range(n + 1)]
        states[0]["^"] = (0.0, 0, "", "")
        for start in range(n):
            tokens = [(end, run[start:end], 0.0) for end in range(start + 1, min(n, start + MAX_WORD) + 1)
                      if end == start + 1 or run[start:end] in self.logf]
            tokens += self.sound_alikes(run, start, frozen)
            for end, word, cost in tokens:
                inner = sum(self.follows(a, b) for a, b in zip(word, word[1:], strict=False))
                gain = WORD_WEIGHT * (self.logf.get(word, UNKNOWN) - self.total) + CONTEXT_WEIGHT * inner - cost
                for before, (score, *_) in states[start].items():
                    total = score + gain + CONTEXT_WEIGHT * self.follows(before, word[0])
                    if total > states[end].get(word[-1], (-math.inf,))[0]:
                        states[end][word[-1]] = (total, start, before, word)
        words: list[str] = []
        end, last = n, max(states[n], key=lambda c: states[n][c][0])
        while end:
            _, end, last, word = states[end][last]
            words.append(word)
        return "".join(reversed(words))


def _readings(phrases: dict[str, list[list[str]]]) -> dict[str, tuple[str, ...]]:
    """Each Han character's usual reading first, then the others that some phrase of pypinyin's uses.

    pinyin_dict also lists readings only dictionaries know (派 as mai4): those would make false sound-alikes.
    """
    from pypinyin.pinyin_dict import pinyin_dict

    readings = {chr(code): [_tone3(value.split(",")[0])] for code, value in pinyin_dict.items()
                if 0x4E00 <= code <= 0x9FFF}
    for phrase, syllables in phrases.items():
        if len(phrase) == len(syllables):
            for char, (marked, *_) in zip(phrase, syllables, strict=True):
                reading = _tone3(marked)
                if char in readings and reading not in readings[char]:
                    readings[char].append(reading)
    return {c: tuple(rs) for c, rs in readings.items()}


def _jieba_freqs() -> dict[str, float]:
    """jieba's dictionary: 'word freq pos' a line."""
    spec = find_spec("jieba")  # its directory, without importing jieba
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("jieba")
    parts = Path(spec.origin).with_name("dict.txt").read_text(encoding="utf-8").split()
    return dict(zip(parts[0::3], map(float, parts[1::3]), strict=True))


def _names() -> set[str]:
    """Place names (with and without their 街道/镇 suffix) and the taxonomy's hotline words."""
    names: set[str] = set()
    beijing: dict[str, dict[str, list[str]]] = json.loads((DATA_DIR / "beijing.json").read_text(encoding="utf-8"))
    for district, streets in beijing.items():
        names.update((district, district[:-1]))
        for street, communities in streets.items():
            names.update((street, _STREET_SUFFIX.sub("", street)))
            names.update(communities)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    names.update(yaml.load((DATA_DIR / "landmarks.yml").read_text(encoding="utf-8"), Loader=loader))
    taxonomy = yaml.load((DATA_DIR / "taxonomy.yml").read_text(encoding="utf-8"), Loader=loader)
    for category in taxonomy["categories"].values():
        names.add(category["name"])
        for sub in category["subs"].values():
            names.update([sub["name"], *(sub.get("words") or [])])
    return {n for n in names if len(n) >= 2 and _HAN_RUN.fullmatch(n)}


def _corpus_files() -> list[Path]:
    """The training messages and the FAQ (never nlu_data/test: it measures this)."""
    data = PROJECT_DIR / "nlu_data"
    return [*sorted((data / "train").glob("*.yml")), data / "knowledge" / "faq.yml"]


def _corpus_runs() -> Iterable[str]:
    """The Han text of the training messages and the FAQ, entity markup removed."""
    for path in _corpus_files():
        yield from _HAN_RUN.findall(_MARKUP.sub(r"\1", path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    """jieba's words, place names and hotline words, weighted by their use in the hotline corpus (about 2 s)."""
    freqs = _jieba_freqs()
    for name in _names():
        freqs.setdefault(name, NAME_FREQ)
    from pypinyin.phrases_dict import phrases_dict

    readings = _readings(phrases_dict)
    lexicon = _Lexicon(freqs, readings, phrases_dict)
    # Segmented with general frequencies before any sound index exists, the corpus then weighs in.
    runs = list(_corpus_runs())
    uses = Counter(w for run in runs for w in lexicon.segment(run))
    lexicon.add_uses(uses, DOMAIN_WEIGHT)
    lexicon.learn_context(runs)
    lexicon.index(w for w, f in freqs.items()
                  if 2 <= len(w) <= MAX_WORD and (f >= MIN_FREQ or w in uses) and all(c in readings for c in w))
    return lexicon


def correct(text: str) -> str:
    """Homophone corrections of a Chinese ASR transcript; punctuation, digits, latin and unknown text unchanged."""
    if _KANA.search(text):
        return text
    lexicon = _lexicon()
    return _HAN_RUN.sub(lambda m: lexicon.correct_run(m.group()), text)

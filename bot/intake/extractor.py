"""Text → ComplaintRecord: the classifier decides type, category and urgency; rules add what
they do more reliably (emergencies, phone numbers, places, times, names)."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.dispatch.policy import Policy
from bot.dispatch.routing import Router, load_router
from bot.intake.contact import find_name
from bot.intake.errors import IntakeError
from bot.intake.gazetteer import Gazetteer, Resolution, load_gazetteer
from bot.intake.model import MODEL_DIR, IntakeModel, Prediction, load_model
from bot.intake.phone import find_phones
from bot.intake.redirect import decide, find_redirect
from bot.intake.text import clean, detect_language
from bot.intake.timeparse import parse_time
from bot.intake.urgency import urgent
from bot.record import ComplaintRecord, Contact, Dispatch, Location, Span
from bot.taxonomy import Taxonomy, load_taxonomy

BEIJING = timezone(timedelta(hours=8))
URGENT_PROBABILITY = 0.35
"""the model's probability of 特急 that is enough for urgency 1: a missed one costs far more"""
SAID_CONFIDENCE = 0.9
"""the type's confidence when the citizen names it and the classifier read another demand type"""
_NAMESPACE = uuid.UUID("6f1c2a4e-12a3-4b45-9e10-123451234500")
_CLAUSE_END = re.compile(r"[，。！？,!?；;]+")
_FILLERS = re.compile(r"^(?:[喂嗯啊哎唉呃]+|你好|您好|那个|就是说?|我想|我要|反映一?下?|请问|同志|麻烦|"
                      r"[，,。 ！!？?、])+")
_ADDRESS_TAIL = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9\-]{0,14}?(?:号楼|号院|单元|号|楼|小区|社区|村|里|苑|园|院|路|街|"
                           r"胡同|大厦|广场|市场|门口|附近|这边|那边)")
_TYPE_CUES = {
    "consultation": re.compile(r"请问|咨询|想问|问一下|怎么办|如何|怎么|哪里|能不能|是否|吗"),
    "complaint": re.compile(r"投诉|反映|不作为|态度|扰民|太吵|没人管"),
    "report": re.compile(r"举报|违法|违规|无证|私自|非法"),
    "suggestion": re.compile(r"建议|希望|能不能增加|提议|应该"),
    "help": re.compile(r"求助|帮帮|帮忙|坏了|不热|停水|停电|没人修|拖欠"),
}

# What the citizen says the message is ("我要投诉…", "举报…", "我有个建议"): 246 of the 247 training
# messages that say so carry that type (tests/test_data.py). It decides between the demand types only:
# "举报违建多久能处理" is still the consultation the classifier reads. A report that complains the last one
# went unheard is the classifier's to read as well.
_LEAD = r"(?:^|[，,。！!？?\s])(?:喂|你好|您好|那个|就是|我|我们|想|要|来|是)*"


def _names(word: str, not_after: str) -> re.Pattern[str]:
    """我要投诉, 投诉一下, or the word opening a clause; not 不是投诉, 投诉了 or 投诉电话."""
    return re.compile(rf"(?<!不是)(?<![不没])(?:要|想|来){word}(?!电话|热线)|{_LEAD}{word}(?![{not_after}]|电话|热线)|"
                      rf"{word}一下")


_SAID = {
    "complaint": _names("投诉", "了过的"),
    "report": _names("举报", "了过的人"),
    "suggestion": re.compile(r"(?:有个|提个|提一个|有一个|几点)建议|" + _LEAD + r"建议(?![的过书])"),
}
_REPORTED_BEFORE = re.compile(r"(?:举报|投诉)[了过的]|好几次|多次|不作为|到现在")


def said_type(text: str) -> str | None:
    """The one demand type the citizen names for the message, or None."""
    said = {type_ for type_, pattern in _SAID.items() if pattern.search(text)}
    if said == {"report"} and _REPORTED_BEFORE.search(text):
        return None
    return said.pop() if len(said) == 1 else None


def choose_type(probs: dict[str, float], said: str | None) -> str:
    """The classifier's type, unless the citizen names another demand type (a question stays one)."""
    type_ = max(probs, key=lambda k: probs[k])
    return said if said and type_ != "consultation" else type_


@dataclass
class Message:
    """One citizen message to turn into a record."""

    text: str
    """what the citizen said or wrote"""
    channel: str = "cli"
    """phone | wechat | web | cli"""
    message_id: str | None = None
    """the channel's id of the message; the same id always yields the same record id"""
    received_at: datetime | None = None
    """when it arrived (now when None)"""
    language: str | None = None
    """the language a channel already knows (speech recognition heard it); None: detected from the text"""


def _span(text: str, start: int, end: int) -> Span:
    return Span(start, end, text[start:end])


def record_id(channel: str, message_id: str | None, text: str) -> str:
    """Stable id: from the channel's message id, else from the text itself."""
    key = f"{channel}:{message_id}" if message_id else f"{channel}:text:{hashlib.sha256(text.encode()).hexdigest()}"
    return str(uuid.uuid5(_NAMESPACE, key))


class Extractor:
    """Builds records from text with a loaded classifier, gazetteer and dispatch catalogue."""

    def __init__(self, model: IntakeModel, gazetteer: Gazetteer, taxonomy: Taxonomy, router: Router,
                 policy: Policy) -> None:
        unknown = set(model.subcategories) - set(taxonomy.subcategories)
        if unknown:
            raise ValueError(f"model predicts subcategories the taxonomy lacks: {sorted(unknown)}")
        self.model = model
        self.gazetteer = gazetteer
        self.taxonomy = taxonomy
        self.router = router
        self.policy = policy

    @classmethod
    def load(cls, model_dir: Path | None = None) -> Extractor:
        """The extractor with the trained model (HOTLINE_MODEL_DIR, default models/intake)."""
        directory = model_dir or Path(os.environ.get("HOTLINE_MODEL_DIR") or MODEL_DIR)
        return cls(load_model(str(directory)), load_gazetteer(), load_taxonomy(), load_router(), Policy.from_env())

    def extract(self, message: Message | str) -> ComplaintRecord:
        """One record; raises IntakeError for input that cannot become one."""
        result = self.extract_many([message])[0]
        if isinstance(result, IntakeError):
            raise result
        return result

    def extract_many(self, messages: list[Message | str]) -> list[ComplaintRecord | IntakeError]:
        """Records in input order; an unusable input yields its IntakeError at its position."""
        prepared: list[tuple[Message, str, str] | IntakeError] = []
        for m in messages:
            msg = m if isinstance(m, Message) else Message(m)
            try:
                text = clean(msg.text)
                prepared.append((msg, text, msg.language or detect_language(text)))
            except IntakeError as e:
                prepared.append(e)
        chinese = [p[1] for p in prepared if not isinstance(p, IntakeError) and p[2] == "zh"]
        predictions = iter(self.model.predict(chinese)) if chinese else iter(())
        out: list[ComplaintRecord | IntakeError] = []
        for p in prepared:
            if isinstance(p, IntakeError):
                out.append(p)
                continue
            msg, text, language = p
            prediction = next(predictions) if language == "zh" else None
            out.append(self._build(msg, text, language, prediction))
        return out

    def _build(self, msg: Message, text: str, language: str, pred: Prediction | None) -> ComplaintRecord:
        tax = self.taxonomy
        received = (msg.received_at or datetime.now(BEIJING)).astimezone(BEIJING).replace(microsecond=0)
        evidence: dict[str, list[Span]] = {}
        confidence: dict[str, float] = {}

        phones = find_phones(text)
        phone = next((p for p in phones if p.kind == "mobile"), phones[0] if phones else None)
        if phone:
            evidence["phone"] = [_span(text, phone.start, phone.end)]
        name = find_name(text)
        if name is None and pred:
            name_slot = next((s for s in pred.slots if s[2] == "name" and s[3] > 0.6), None)
            if name_slot:
                name = (text[name_slot[0] : name_slot[1]], name_slot[0], name_slot[1])
        if name:
            evidence["name"] = [_span(text, name[1], name[2])]
        when = parse_time(text, received)
        if when:
            evidence["occurred_at"] = [_span(text, when.start, when.end)]
        place = self.gazetteer.resolve(text)
        location = self._location(text, place, pred, evidence)

        rule = find_redirect(text)
        redirect = decide(text, rule, pred.redirect) if pred else None
        if pred is None:
            type_, sub, urgency = "help", None, 3
            confidence.update(type=0.0, category=0.0, urgency=0.0)
        else:
            type_, sub, urgency = self._classify(pred, confidence, said_type(text))
            cue = _TYPE_CUES[type_].search(text)
            if cue:
                evidence["type"] = [_span(text, cue.start(), cue.end())]
            danger = urgent(text) if type_ != "consultation" else None
            if danger:
                urgency, confidence["urgency"] = 1, max(confidence["urgency"], 0.9)
                evidence["urgency"] = [_span(text, danger.start(), danger.end())]
            words = [w for w in tax.subcategories[sub].words if w in text]
            if words:
                evidence["category"] = [_span(text, i, i + len(w)) for w in words[:3] if (i := text.find(w)) >= 0]
        if redirect:
            urgency = 1
            confidence["urgency"] = 1.0
            if redirect.end > redirect.start:
                evidence["redirect"] = [_span(text, redirect.start, redirect.end)]
        confidence["location"] = round(place.confidence, 3)
        category = sub.split(".", 1)[0] if sub else "other"
        contact = Contact(name=name[0] if name else None, phone=phone.digits if phone else None,
                          confidential=type_ == "report")
        record = ComplaintRecord(
            id=record_id(msg.channel, msg.message_id, text), channel=msg.channel, received_at=received.isoformat(),
            language=language, text=text, type=type_, kind=tax.kinds[type_], category=category, subcategory=sub,
            urgency=urgency, deadline=(received + timedelta(hours=tax.urgency_hours[urgency])).isoformat(),
            redirect=redirect.number if redirect else None, location=location, contact=contact, summary="",
            dispatch=Dispatch("handoff"), confidence=confidence, needs_review=False,
            occurred_at=when.value if when else None, evidence=evidence,
        )
        contact_spans = ([(phone.start, phone.end)] if phone else []) + ([(name[1], name[2])] if name else [])
        record.summary = self.summarize(record, contact_spans)
        self.decide(record)
        return record

    def decide(self, record: ComplaintRecord) -> None:
        """Units, needs_review and the next step, from the record as it stands: again after a channel adds
        what the words lacked (the caller's number of a recorded call)."""
        loc = record.location
        units = self.router.units(record.subcategory, loc.district, loc.street) if record.language == "zh" else []
        record.needs_review = record.language != "zh" or bool(self.policy.missing(record) or self.policy.unsure(record))
        record.dispatch = self.policy.decide(record, units)

    def _classify(self, pred: Prediction, confidence: dict[str, float], said: str | None) -> tuple[str, str, int]:
        type_ = choose_type(pred.type, said)
        overridden = pred.type[type_] < max(pred.type.values())
        type_conf = max(pred.type[type_], SAID_CONFIDENCE) if overridden else pred.type[type_]
        by_category: dict[str, float] = {}
        for code, p in pred.subcategory.items():
            by_category[code.split(".", 1)[0]] = by_category.get(code.split(".", 1)[0], 0.0) + p
        category = max(by_category, key=lambda k: by_category[k])
        sub = max((c for c in pred.subcategory if c.startswith(category + ".")), key=lambda c: pred.subcategory[c])
        urgency = max(pred.urgency, key=lambda k: pred.urgency[k])
        if pred.urgency[1] >= URGENT_PROBABILITY:
            urgency = 1
        urgency_conf = pred.urgency[urgency]
        if self.taxonomy.kinds[type_] == "consultation" or type_ == "suggestion":
            # Taxonomy: consultations and suggestions are level 4 (复杂) by definition.
            urgency, urgency_conf = 4, max(urgency_conf, type_conf)
        confidence.update(type=round(type_conf, 3), category=round(by_category[category], 3),
                          subcategory=round(pred.subcategory[sub], 3), urgency=round(urgency_conf, 3))
        return type_, sub, urgency

    def _location(self, text: str, place: Resolution, pred: Prediction | None,
                  evidence: dict[str, list[Span]]) -> Location:
        address: tuple[int, int] | None = None
        # A one-character "address" is a stray tag (the 王 of 王先生), never a place.
        slot = next((s for s in pred.slots if s[2] == "address" and s[3] > 0.5 and s[1] - s[0] >= 2),
                    None) if pred else None
        if slot:
            address = (slot[0], slot[1])
        elif place.mentions:
            first = place.mentions[0]
            tail = _ADDRESS_TAIL.match(text[first.end :])
            address = (first.start, first.end + (tail.end() if tail else 0))
        if place.mentions:
            evidence["location"] = [_span(text, m.start, m.end) for m in place.mentions]
        if address:
            evidence["address"] = [_span(text, *address)]
        return Location(district=place.district, street=place.street, community=place.community,
                        address=text[address[0] : address[1]] if address else None)

    def summarize(self, record: ComplaintRecord, contact: list[tuple[int, int]] | None = None) -> str:
        """One line for an agent: type, subcategory, place, gist (without the clauses that hold the contact
        details at the `contact` spans)."""
        tax = self.taxonomy
        head = f"【{tax.types[record.type]}】"
        if record.subcategory:
            head += tax.subcategories[record.subcategory].name
        place = "".join(x for x in (record.location.district, record.location.street) if x)
        kept, start = [], 0
        for m in _CLAUSE_END.finditer(record.text + "。"):
            end = min(m.end(), len(record.text))
            if not any(a < end and start < b for a, b in contact or []):
                kept.append(record.text[start:end])
            start = end
        gist = _FILLERS.sub("", "".join(kept).strip(" ，,。")).strip(" ，,。")
        if len(gist) > 40:
            cut = max(gist.rfind(p, 0, 40) for p in "，。！？,!? ")
            gist = gist[: cut if cut >= 15 else 40] + "…"
        return f"{head}｜{place or '地点不明'}｜{gist or record.text[:40]}"

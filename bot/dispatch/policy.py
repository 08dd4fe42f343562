"""Decide what happens to a record: answer, dispatch, hand off to an agent, or redirect."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bot.record import ComplaintRecord, Dispatch, Unit

# What an agent reads for a slot or confidence key.
_NAMES = {"location": "地点", "phone": "联系电话", "type": "诉求类型", "category": "类别", "urgency": "紧急程度"}


@dataclass(frozen=True)
class Policy:
    """Thresholds and rules of the decision; defaults suit a cautious start in production."""

    thresholds: dict[str, float] = field(
        default_factory=lambda: {"type": 0.6, "category": 0.55, "urgency": 0.5, "location": 0.6})
    """a confidence below its field's threshold sends the record to an agent"""
    handoff_urgency_1: bool = True
    """特急 records always go through an agent, who phones the unit as well"""

    def __post_init__(self) -> None:
        for key, value in self.thresholds.items():
            if not 0 <= value <= 1:
                raise ValueError(f"threshold {key} must be within 0..1, got {value}")

    @classmethod
    def from_env(cls) -> Policy:
        """HOTLINE_THRESHOLD_<FIELD>=0.7 overrides a threshold."""
        thresholds = dict(cls().thresholds)
        for key in thresholds:
            raw = os.environ.get(f"HOTLINE_THRESHOLD_{key.upper()}")
            if raw is not None:
                try:
                    thresholds[key] = float(raw)
                except ValueError:
                    raise ValueError(f"HOTLINE_THRESHOLD_{key.upper()} must be a number, got {raw!r}") from None
        return cls(thresholds=thresholds)

    def missing(self, record: ComplaintRecord) -> list[str]:
        """Required slots a demand still lacks (consultations need none)."""
        return missing_slots(record.kind, record.type, record.location.street, record.contact.phone)

    def unsure(self, record: ComplaintRecord) -> list[str]:
        """Fields whose confidence is below threshold."""
        return self.unsure_fields(record.confidence, record.kind)

    def unsure_fields(self, confidence: dict[str, float], kind: str) -> list[str]:
        """Confidence keys below their threshold; a consultation's place does not matter."""
        return [k for k, t in self.thresholds.items()
                if k in confidence and confidence[k] < t and not (k == "location" and kind == "consultation")]

    def decide(self, record: ComplaintRecord, units: list[Unit]) -> Dispatch:
        """The next step for the record, with the reason an agent will read."""
        if record.redirect:
            return Dispatch("redirect", [], f"紧急情况，请立即拨打{record.redirect}")
        if record.language != "zh":
            return Dispatch("handoff", [], f"外语来电（{record.language}），转外语座席")
        if record.kind == "consultation":  # no knowledge base yet: a person answers
            return Dispatch("handoff", [], "咨询：知识库无答案，转人工答复")
        reasons = []
        missing, unsure = self.missing(record), self.unsure(record)
        if missing:
            reasons.append("缺少：" + "、".join(_NAMES[m] for m in missing))
        if unsure:
            reasons.append("低置信度：" + "、".join(_NAMES[u] for u in unsure))
        if record.urgency == 1 and self.handoff_urgency_1:
            reasons.append("特急工单，人工确认并电话督办")
        if record.type == "report":
            reasons.append("举报件，人工审核并对举报人信息保密")
        if not units:
            reasons.append("无法确定承办单位")
        if reasons:
            return Dispatch("handoff", units, "；".join(reasons))
        return Dispatch("dispatch", units, "信息完整，自动派单至" + "、".join(u.name for u in units))


def missing_slots(kind: str, type_: str, street: str | None, phone: str | None) -> list[str]:
    """location and phone, where a demand lacks them; a report may stay anonymous."""
    if kind == "consultation":
        return []
    out = []
    if not street:
        out.append("location")
    if not phone and type_ != "report":
        out.append("phone")
    return out

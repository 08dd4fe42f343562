"""ComplaintRecord: the structured work order (工单) of ../shared/record.schema.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Span:
    """Where a field's value came from in the text (and audio, when transcribed)."""

    start: int
    """first character offset in record.text"""
    end: int
    """offset one past the last character"""
    text: str
    """the characters text[start:end]"""
    audio_start: float | None = None
    """seconds into the recording, for audio input"""
    audio_end: float | None = None
    """seconds into the recording, for audio input"""


@dataclass
class Location:
    """Where the problem is, resolved against the Beijing gazetteer."""

    district: str | None = None
    """one of the 16 district names (朝阳区) or None"""
    street: str | None = None
    """official street/town/area name (望京街道, 梨园地区) or None"""
    community: str | None = None
    """community or village name when the text names one"""
    address: str | None = None
    """the place as the citizen said it"""
    latitude: float | None = None
    """WGS-84 latitude when a channel supplied one"""
    longitude: float | None = None
    """WGS-84 longitude when a channel supplied one"""


@dataclass
class Contact:
    """Who to call back."""

    name: str | None = None
    """name or surname with title as said (王先生)"""
    phone: str | None = None
    """digits only"""
    confidential: bool = False
    """reports (举报): the reporter's identity is withheld from dispatch"""


@dataclass
class Unit:
    """A unit that must act on the record."""

    name: str
    """unit name, e.g. 朝阳区望京街道办事处"""
    level: str
    """street | district | city | enterprise"""


@dataclass
class Dispatch:
    """What happens to the record next."""

    action: str
    """answer | dispatch | handoff | redirect"""
    units: list[Unit] = field(default_factory=list)
    """responsible units, first-dispatched first"""
    reason: str = ""
    """why this action, for the agent"""


@dataclass
class ComplaintRecord:
    """One intake record. Field names and codes follow shared/record.schema.json."""

    id: str
    channel: str
    received_at: str
    language: str
    text: str
    type: str
    kind: str
    category: str
    subcategory: str | None
    urgency: int
    deadline: str
    redirect: str | None
    location: Location
    contact: Contact
    summary: str
    dispatch: Dispatch
    confidence: dict[str, float]
    needs_review: bool
    occurred_at: str | None = None
    evidence: dict[str, list[Span]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; evidence spans drop audio times they do not have."""
        out = asdict(self)
        out["evidence"] = {
            k: [{key: v for key, v in asdict(s).items() if v is not None} for s in spans]
            for k, spans in self.evidence.items()
        }
        return out

"""What the conversation knows about one problem (the draft) and how each answer changes it.
Plain Python: the Rasa actions read slots, call these functions and return events."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.intake.contact import find_name
from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor, Message
from bot.intake.gazetteer import Gazetteer
from bot.intake.phone import find_phones
from bot.intake.text import clean
from bot.record import ComplaintRecord, Dispatch, Location
from bot.taxonomy import load_taxonomy

# Markers that start another problem in the same message.
# Only at the start of a clause: 卡里还有三千块 is not a second problem.
_NEXT_PROBLEM = re.compile(r"(?:^|[，,。；;！!？?\s]+)(?:另外还有|另外|还有就是|还有一个事|还有一件事|还有个事|还有|"
                           r"再一个|再有就是|顺便再?(?:反映|说)一?下|第二个?事?)[，,：:\s]*")
# What is left of an answer once its place names are taken out, that still says nothing more precise.
_GENERIC = re.compile(r"街道|地区|[乡镇区]|那边|这边|那一?片儿?|这一?片儿?|一带|附近|这块儿?|那块儿?|周边|"
                      r"[住在是的了呢啊]")
_ADDRESS = re.compile(r"\d|[一二三四五六七八九十两]+(?:号|栋|单元|层|楼|排|区)|号楼|单元|小区|社区|村|院|里|苑|园|"
                      r"路|街|胡同|大厦|广场|市场|公园|学校|医院|门口|对面|附近|旁边|交叉口|路口|站|桥|公寓|家园|花园|城|府|庄|营|屯|店")
_DECLINE = re.compile(r"不方便|不想留|不留|不用留|不愿意|别留|保密|匿名|不告诉|算了|不给")
_NEGATED_TYPE = re.compile(r"不是(咨询|求助|投诉|举报|建议)")
_DENIED = re.compile(r"不是[^，,。；;是]*")
_ASSERT = re.compile(r".*(?:应该是|改成|换成|是)(.+)$")
_TYPE_WORD = re.compile(r"(咨询|求助|投诉|举报|建议)")
_TYPE_CODES = {"咨询": "consultation", "求助": "help", "投诉": "complaint", "举报": "report", "建议": "suggestion"}
_FILLER = re.compile(r"^(?:[喂嗯啊哎唉呃哦噢]+|那个|就是|在|是|地址是?|我家在?|我住在?|具体是?|位置是?)+"
                     r"|[，,。！!？?\s]+$")
DECLINED = "declined"


@dataclass
class Draft:
    """One problem being filed: the record's fields as the conversation has settled them."""

    text: str
    """the citizen's description of the problem"""
    type: str
    """type code (help, complaint, ...)"""
    subcategory: str | None
    """`top.sub` code"""
    urgency: int
    """1..4"""
    district: str | None = None
    """official district name"""
    street: str | None = None
    """official street/town name"""
    community: str | None = None
    """community or village when named"""
    address: str | None = None
    """the usable address as said"""
    phone: str | None = None
    """digits, or DECLINED"""
    name: str | None = None
    """name as said"""
    declines: int = 0
    """how often the citizen declined to give a phone number"""
    pending: list[str] = field(default_factory=list)
    """descriptions of further problems from the same conversation, filed next"""
    asides: list[str] = field(default_factory=list)
    """questions asked mid-form that an agent should answer"""
    source: str = ""
    """id of the message that began it: the record id derives from it, so a retried action files once"""

    def to_slot(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_slot(cls, value: Any) -> Draft | None:
        return cls(**value) if isinstance(value, dict) and value.get("text") else None

    @property
    def place(self) -> str | None:
        """district + street when both are known (what the form's place slot needs)."""
        return f"{self.district}{self.street}" if self.district and self.street else None


def split_problems(text: str) -> list[str]:
    """The separate problems of one message (另外/还有 …); a short fragment stays with its neighbour."""
    parts = [p.strip(" ，,。") for p in _NEXT_PROBLEM.split(text)]
    out: list[str] = []
    for part in parts:
        if len(part) >= 4 or not out:
            out.append(part)
        else:
            out[-1] += "，" + part
    return [p for p in out if p]


def start(extractor: Extractor, text: str) -> Draft:
    """A draft from a description; further problems in it go to draft.pending."""
    parts = split_problems(clean(text))
    problems: list[str] = []
    last_category = None
    for part, record in zip(parts, [extractor.extract(p) for p in parts] if len(parts) > 1 else [], strict=False):
        # Consecutive parts about the same thing are one problem told in two sentences.
        if problems and (record.category == last_category or record.kind == "consultation"):
            problems[-1] += "，" + part
        else:
            problems.append(part)
        last_category = record.category
    first = problems[0] if len(problems) > 1 else clean(text)
    record = extractor.extract(first)
    draft = Draft(text=record.text, type=record.type, subcategory=record.subcategory, urgency=record.urgency,
                  district=record.location.district, street=record.location.street,
                  community=record.location.community, phone=record.contact.phone, name=record.contact.name)
    if record.location.address:
        draft.address = precise_address(extractor.gazetteer, record.location.address)
    if len(problems) > 1:  # contact details said once count for every problem of the message
        whole = extractor.extract(clean(text))
        draft.phone, draft.name = draft.phone or whole.contact.phone, draft.name or whole.contact.name
    draft.pending = problems[1:]
    return draft


def precise_address(gazetteer: Gazetteer, text: str) -> str | None:
    """The text as an address when it says more than its district and street (a building, a road,
    a gate, a community), else None."""
    found = gazetteer.resolve(text)
    rest = text
    for m in sorted(found.mentions, key=lambda m: -m.start):
        if not found.community or m.name != found.community:
            rest = rest[: m.start] + rest[m.end :]
    return usable_address(text) if usable_address(_GENERIC.sub("", rest)) or found.community else None


def inherit_place(draft: Draft, previous: Draft) -> None:
    """A further problem told without a place happened where the previous one did."""
    if not draft.district:
        draft.district, draft.street, draft.community = previous.district, previous.street, previous.community
        draft.address = draft.address or previous.address
    draft.phone = draft.phone or previous.phone
    draft.name = draft.name or previous.name


def apply_place(gazetteer: Gazetteer, draft: Draft, text: str) -> bool:
    """Place words of an answer or correction; True when they named a place. An address that
    belonged to the place before a change of district or street is dropped."""
    found = gazetteer.resolve(text)
    if not found.district:
        return False
    if found.district != draft.district or (found.street and found.street != draft.street):
        if (draft.district, draft.street) != (None, None):
            draft.address = None
        draft.district, draft.street, draft.community = found.district, found.street, found.community
    address = precise_address(gazetteer, text)
    if address:
        draft.address = address
    return True


def usable_address(text: str) -> str | None:
    """The answer as an address an officer can find (a building, road, gate, village …) or None."""
    said = _FILLER.sub("", text.strip()).strip()
    if len(said) < 3 or not _ADDRESS.search(said):
        return None
    return said[:80]


def apply_phone(draft: Draft, text: str) -> str:
    """'ok' when a number was taken, 'declined' when the citizen would rather not, 'invalid' otherwise."""
    phones = find_phones(text)
    if phones:
        draft.phone = phones[0].digits
        return "ok"
    if _DECLINE.search(text):
        draft.declines += 1
        return "declined"
    return "invalid"


def apply_correction(gazetteer: Gazetteer, draft: Draft, text: str) -> list[str]:
    """Fields a correction such as 不是朝阳，是海淀 changed (place, address, phone, name, type); words-free
    answers (👍) change nothing."""
    changed: list[str] = []
    try:
        said = clean(text)
    except IntakeError:
        return changed
    before = (draft.district, draft.street)
    if apply_place(gazetteer, draft, said) and (draft.district, draft.street) != before:
        changed.append("place")
    elif not find_phones(said):
        address = usable_address(_asserted(said))
        if address and address != draft.address and re.search(r"\d|号|楼|门|村|院", address):
            draft.address = address
            changed.append("address")
    phones = find_phones(said)
    if phones and phones[-1].digits != draft.phone:
        draft.phone = phones[-1].digits
        changed.append("phone")
    name = find_name(said)
    if name and name[0] != draft.name:
        draft.name = name[0]
        changed.append("name")
    types = _TYPE_WORD.findall(_NEGATED_TYPE.sub("", said))
    if types and _TYPE_CODES[types[-1]] != draft.type:
        draft.type = _TYPE_CODES[types[-1]]
        if draft.type in ("consultation", "suggestion"):
            draft.urgency = 4
        changed.append("type")
    return changed


def _asserted(text: str) -> str:
    """What a correction says the value is: 是5号楼不是6号楼 → 5号楼; 改成3单元 → 3单元."""
    kept = _DENIED.sub("", text)
    m = _ASSERT.search(kept)
    return m.group(1) if m else kept


def restate(draft: Draft) -> str:
    """What the assistant understood, said back at once: type, subcategory, urgency, place."""
    tax = load_taxonomy()
    what = tax.subcategories[draft.subcategory].name if draft.subcategory else "您反映的"
    hours = tax.urgency_hours[draft.urgency]
    deadline = f"{hours}小时" if hours <= 24 else f"{hours // 24}天"
    where = "".join(x for x in (draft.district, draft.street) if x)
    level = tax.urgency_names[draft.urgency]
    out = f"收到，您要{tax.types[draft.type]}的是{what}方面的问题（{level}，{deadline}内办理）"
    if where:
        out += f"，地点在{where}"
    return out + "。"


def question(slot: str, draft: Draft | None) -> str:
    """What the form asks for a slot, using what is already known."""
    if slot == "place":
        if draft and draft.district:
            return f"请问在{draft.district}哪个街道或乡镇？说小区或村的名字也可以。"
        return "请问问题发生在哪个区、哪个街道（乡镇）？说小区、村或路名也可以。"
    if slot == "address":
        where = f"在{draft.street}" if draft and draft.street else ""
        return f"请告诉我{where}具体的地址，比如小区和楼号、路名门牌，或者附近的标志性地点。"
    if slot == "phone":
        if draft and draft.type == "report":
            return "方便留个联系电话吗？举报人信息严格保密，不方便的话也可以不留。"
        return "请留一个联系电话，方便承办单位联系您、反馈办理结果。"
    if slot == "confirmed" and draft:
        return readback(draft)
    raise ValueError(f"no question for slot {slot!r}")


def readback(draft: Draft) -> str:
    """The summary the citizen confirms."""
    tax = load_taxonomy()
    lines = [f"类型：{tax.types[draft.type]}",
             f"问题：{tax.subcategories[draft.subcategory].name if draft.subcategory else '其他'}——{draft.text[:60]}",
             f"地点：{draft.district or ''}{draft.street or ''} {draft.address or ''}".rstrip(),
             f"联系电话：{'不留（匿名）' if draft.phone == DECLINED else draft.phone or '未留'}"]
    if draft.name:
        lines.append(f"称呼：{draft.name}")
    return "跟您核对一下：\n" + "\n".join(lines) + "\n以上信息对吗？不对的地方直接告诉我。"


def build_record(extractor: Extractor, draft: Draft, conversation_id: str, channel: str,
                 reason: str | None = None) -> ComplaintRecord:
    """The record of a confirmed draft (or, with a reason, of one handed to an agent)."""
    key = f"{conversation_id}:{draft.source}"
    record = extractor.extract(Message(draft.text, channel=channel, message_id=key))
    tax = extractor.taxonomy
    record.type, record.kind = draft.type, tax.kinds[draft.type]
    if draft.subcategory:
        record.subcategory, record.category = draft.subcategory, draft.subcategory.split(".", 1)[0]
    if record.urgency != draft.urgency:
        record.urgency = draft.urgency
        record.deadline = (datetime.fromisoformat(record.received_at)
                           + timedelta(hours=tax.urgency_hours[draft.urgency])).isoformat()
    record.location = Location(district=draft.district, street=draft.street, community=draft.community,
                               address=draft.address)
    record.contact.phone = draft.phone if draft.phone and draft.phone != DECLINED else None
    record.contact.name = draft.name
    record.contact.confidential = draft.type == "report"
    record.summary = extractor.summarize(record)
    if draft.asides:
        record.summary += "；另询：" + "；".join(draft.asides)
    if reason:
        record.needs_review = True
        record.dispatch = Dispatch("handoff", extractor.router.units(record.subcategory, draft.district, draft.street),
                                   reason)
    else:
        # Confirmed by the citizen: what they confirmed is no longer uncertain.
        record.confidence.update(location=1.0 if draft.street else record.confidence.get("location", 0.0))
        extractor.decide(record)
    return record

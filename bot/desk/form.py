"""What the desk shows and accepts: the record form's choices, validation of an agent's edits, the fields
to highlight, and masking of phone and ID numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.dispatch.policy import Policy, missing_slots
from bot.intake.gazetteer import Gazetteer
from bot.intake.phone import find_phones
from bot.record import Unit
from bot.taxonomy import Taxonomy

# Runs that may be a phone or ID number, written or spoken: masked whatever the phone parser thinks.
_D = "0-9零〇洞一幺二两三四五六七拐八九勾"
_NUMBER_RUN = re.compile(rf"[{_D}][{_D}\- ]{{5,}}[{_D}Xx]")
# Form field -> the record's confidence key and evidence key.
CONFIDENCE_OF = {"type": "type", "subcategory": "category", "urgency": "urgency", "district": "location",
                 "street": "location"}
EVIDENCE_OF = {"type": "type", "subcategory": "category", "urgency": "urgency", "district": "location",
               "street": "location", "address": "address", "name": "name", "phone": "phone"}
MISSING_OF = {"location": ("district", "street"), "phone": ("phone",)}


@dataclass
class FormResult:
    """An agent's submitted form, checked."""

    changes: dict[str, Any] = field(default_factory=dict)
    """field -> new value, ready for Storage.edit"""
    errors: dict[str, str] = field(default_factory=dict)
    """field -> what is wrong, in Chinese"""


def mask(text: str | None) -> str:
    """Phone and ID numbers keep their last four digits only."""
    if not text:
        return ""
    spans = [(p.start, p.end) for p in find_phones(text)] + [(m.start(), m.end()) for m in _NUMBER_RUN.finditer(text)]
    chars = list(text)
    for start, end in spans:
        digits = [i for i in range(start, end) if chars[i] not in " -"]
        for i in digits[:-4]:
            chars[i] = "*"
    return "".join(chars)


def parse(form: dict[str, str], taxonomy: Taxonomy, gazetteer: Gazetteer, record: dict[str, Any]) -> FormResult:
    """Check the record form against the stored `record`; empty optional fields become None. A masked value
    that comes back as it was shown leaves the stored value alone."""
    out = FormResult()

    def text(name: str, limit: int) -> str | None:
        value = " ".join(form.get(name, "").split())
        if len(value) > limit:
            out.errors[name] = f"不能超过{limit}个字"
        return value or None

    if form.get("type") not in taxonomy.types:
        out.errors["type"] = "请选择诉求类型"
    else:
        out.changes["type"] = form["type"]
    if form.get("subcategory") not in taxonomy.subcategories:
        out.errors["subcategory"] = "请选择类别"
    else:
        out.changes["subcategory"] = form["subcategory"]
    try:
        urgency = int(form.get("urgency", ""))
    except ValueError:
        urgency = 0
    if urgency not in taxonomy.urgency_hours:
        out.errors["urgency"] = "请选择紧急程度"
    else:
        out.changes["urgency"] = urgency
    district, street = form.get("district") or None, form.get("street") or None
    if district is not None and district not in gazetteer.districts:
        out.errors["district"] = "没有这个区"
    elif street is not None and (district is None or street not in gazetteer.districts[district]):
        out.errors["street"] = f"{street}不属于{district or '所选区'}"
    else:
        out.changes["district"], out.changes["street"] = district, street
    out.changes["address"] = text("address", 120)
    out.changes["name"] = text("name", 32)
    summary = text("summary", 200)
    if summary != " ".join(mask(record["summary"]).split()):
        out.changes["summary"] = summary
    if "summary" not in out.errors and not summary:
        out.errors["summary"] = "摘要不能为空"
    phone = form.get("phone", "").strip()
    if phone and phone == mask(record["contact"]["phone"]):
        pass
    elif phone:
        found = find_phones(phone)
        if len(found) != 1:
            out.errors["phone"] = "电话号码格式不对（手机11位或固定电话）"
        else:
            out.changes["phone"] = found[0].digits
    else:
        out.changes["phone"] = None
    for name in out.errors:
        out.changes.pop(name, None)
    return out


def flagged(record: dict[str, Any], policy: Policy) -> dict[str, str]:
    """Form fields an agent should look at, with why: low confidence or missing."""
    unsure = set(policy.unsure_fields(record["confidence"], record["kind"]))
    out = {name: f"置信度{record['confidence'][key]:.2f}" for name, key in CONFIDENCE_OF.items() if key in unsure}
    for slot in missing_slots(record["kind"], record["type"], record["location"]["street"], record["contact"]["phone"]):
        for name in MISSING_OF[slot]:
            out.setdefault(name, "缺少")
    return out


def units_json(units: list[Unit]) -> list[dict[str, str]]:
    return [{"name": u.name, "level": u.level} for u in units]

"""What a receiving unit sees of a record, and its Open311 GeoReport v2 form: pure functions, no I/O.

GeoReport v2: POST requests.json takes form fields and answers `[{"service_request_id": ...}]` (or
`[{"token": ...}]` when the id comes later); GET requests/{id}.json answers `[{"status": "open"|"closed",
...}]`; errors are `[{"code": 400, "description": "..."}]`."""

from __future__ import annotations

import copy
import re
from typing import Any

from bot.taxonomy import Taxonomy

DESCRIPTION_LIMIT = 4000
"""characters GeoReport v2 allows in a description"""

_BLANK = "＊"
# Phone-like digit runs (separators allowed) and numbers spoken in Chinese numerals.
_NUMBER = re.compile(r"\d(?:[\s\-]?\d){6,}|[零〇一二两三四五六七八九幺洞拐]{7,}")


def dispatch_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as a receiving unit may see it. A confidential report (举报) loses the reporter's name
    and phone: from the contact, and from the words, blanked to the same length so that the offsets of
    the remaining evidence still hold."""
    contact = record.get("contact") or {}
    if not contact.get("confidential"):
        return record
    out = copy.deepcopy(record)
    evidence = out.get("evidence") or {}
    text = list(out.get("text") or "")
    for field in ("name", "phone"):
        for span in evidence.pop(field, []):
            text[span["start"]:span["end"]] = _BLANK * (span["end"] - span["start"])
    # A one-character surname is blanked where the evidence points only: elsewhere it is an ordinary word.
    said = [s for s in (contact.get("name"), contact.get("phone")) if s and len(s) > 1]
    out["text"] = _blank("".join(text), said)
    out["summary"] = _blank(out.get("summary") or "", said)
    out["contact"] = {**contact, "name": None, "phone": None}
    return out


def _blank(text: str, said: list[str]) -> str:
    for secret in said:
        text = text.replace(secret, _BLANK * len(secret))
    return _NUMBER.sub(lambda m: _BLANK * len(m.group()), text)


def service_code(record: dict[str, Any]) -> str:
    """The subcategory code (utilities.heating), else the top-level category."""
    return str(record.get("subcategory") or record["category"])


def request_fields(record: dict[str, Any], ticket: str | None, api_key: str | None = None,
                   jurisdiction: str | None = None) -> list[tuple[str, str]]:
    """The form fields of POST requests.json for one record, in a stable order. ValueError for a record
    with no location at all: GeoReport v2 requires one."""
    view = dispatch_view(record)
    location = view.get("location") or {}
    fields: list[tuple[str, str]] = []
    if api_key:
        fields.append(("api_key", api_key))
    if jurisdiction:
        fields.append(("jurisdiction_id", jurisdiction))
    fields.append(("service_code", service_code(view)))
    if location.get("latitude") is not None and location.get("longitude") is not None:
        fields += [("lat", str(location["latitude"])), ("long", str(location["longitude"]))]
    address = location.get("address") or "".join(
        location.get(k) or "" for k in ("district", "street", "community"))
    if address:
        fields.append(("address_string", address))
    elif not any(k == "lat" for k, _ in fields):
        raise ValueError("an Open311 request needs a location, and the record has none")
    fields.append(("description", f"{view['summary']}\n{view['text']}"[:DESCRIPTION_LIMIT]))
    attributes: list[tuple[str, Any]] = [("ticket", ticket), ("type", view.get("type")),
                                         ("urgency", view.get("urgency")), ("deadline", view.get("deadline")),
                                         ("district", location.get("district")),
                                         ("street", location.get("street"))]
    fields += [(f"attribute[{code}]", str(value)) for code, value in attributes if value is not None]
    # A multivaluelist attribute repeats its code with [] (GeoReport v2).
    fields += [("attribute[units][]", unit["name"]) for unit in (view.get("dispatch") or {}).get("units", [])]
    contact = view.get("contact") or {}
    if contact.get("name"):
        # Chinese names are not split into given and family name (欧阳, 王先生): the whole as said.
        fields.append(("last_name", contact["name"]))
    if contact.get("phone"):
        fields.append(("phone", contact["phone"]))
    return fields


def parse_created(body: Any) -> tuple[str | None, str | None]:
    """(service_request_id, token) from the answer to POST requests.json; ValueError if it is neither."""
    first = _first(body)
    request_id, token = first.get("service_request_id"), first.get("token")
    if request_id in (None, "") and token in (None, ""):
        raise ValueError("Open311 answer has neither service_request_id nor token")
    return (None if request_id in (None, "") else str(request_id)), (None if token in (None, "") else str(token))


def parse_status(body: Any) -> str:
    """The status (open | closed) from the answer to GET requests/{id}.json."""
    status = _first(body).get("status")
    if not isinstance(status, str) or not status:
        raise ValueError("Open311 answer has no status")
    return status


def error_description(body: Any) -> str | None:
    """The description of a GeoReport v2 error answer, None for anything else."""
    if isinstance(body, list) and body and isinstance(body[0], dict) and "description" in body[0]:
        return str(body[0]["description"])
    return None


def error_body(code: int, description: str) -> list[dict[str, Any]]:
    return [{"code": code, "description": description}]


def services(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """GET services.json: every subcategory, and every top-level category for records with no subcategory."""
    out: list[dict[str, Any]] = []
    for code, name in taxonomy.categories.items():
        out.append({"service_code": code, "service_name": f"{name}（其他）", "description": name,
                    "metadata": True, "type": "realtime", "keywords": "", "group": name})
        for sub in taxonomy.subcategories.values():
            if sub.category == code:
                out.append({"service_code": sub.code, "service_name": sub.name, "description": f"{name}：{sub.name}",
                            "metadata": True, "type": "realtime", "keywords": ",".join(sub.words), "group": name})
    return out


def _first(body: Any) -> dict[str, Any]:
    if not isinstance(body, list) or not body or not isinstance(body[0], dict):
        raise ValueError("Open311 answer is not a list of objects")
    return body[0]

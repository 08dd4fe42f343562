"""Labelled examples from nlu_data/ (Rasa 3 YAML: intent = type, metadata = other labels; an
`emergency` example keeps its type in metadata)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import PROJECT_DIR

TRAIN_DIR = PROJECT_DIR / "nlu_data" / "train"
HELDOUT_FILE = PROJECT_DIR / "nlu_data" / "test" / "heldout.yml"
SLOTS = ("address", "time", "name", "phone")
_ENTITY = re.compile(r"\[([^\[\]]+)\]\((\w+)\)")


@dataclass
class Example:
    """One labelled message."""

    text: str
    """plain text, entity markup removed"""
    type: str
    """consultation | help | complaint | report | suggestion"""
    subcategory: str
    """`top.sub` code"""
    urgency: int
    """1..4"""
    redirect: str | None = None
    """110 | 119 | 120 | 122 | None"""
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    """(start, end, slot) spans in text"""
    gold: dict[str, Any] = field(default_factory=dict)
    """held-out only: district, street, phone"""

    @property
    def category(self) -> str:
        return self.subcategory.split(".", 1)[0]


def parse_markup(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """`我住[望京](address)` → ("我住望京", [(2, 4, "address")])."""
    out, spans, pos = [], [], 0
    for m in _ENTITY.finditer(marked):
        out.append(marked[pos : m.start()])
        start = sum(len(s) for s in out)
        out.append(m.group(1))
        spans.append((start, start + len(m.group(1)), m.group(2)))
        pos = m.end()
    out.append(marked[pos:])
    return "".join(out), spans


def read_examples(paths: Iterable[Path]) -> list[Example]:
    """Intake examples of the given Rasa YAML files (examples without a subcategory are dialogue only)."""
    examples: list[Example] = []
    for path in paths:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in doc.get("nlu", []):
            intent = block.get("intent")
            items = block.get("examples") or []
            if not intent or isinstance(items, str):
                continue
            for item in items:
                meta = item.get("metadata") or {}
                if "subcategory" not in meta:
                    continue
                text, spans = parse_markup(str(item["text"]).strip())
                redirect = meta.get("redirect")
                type_ = meta.get("type", intent) if intent == "emergency" else intent
                examples.append(Example(
                    text=text, type=type_, subcategory=meta["subcategory"], urgency=int(meta["urgency"]),
                    redirect=str(redirect) if redirect else None,
                    entities=[s for s in spans if s[2] in SLOTS],
                    gold={k: str(meta[k]) for k in ("district", "street", "phone") if meta.get(k)},
                ))
    return examples


def train_files() -> list[Path]:
    return sorted(TRAIN_DIR.glob("*.yml"))

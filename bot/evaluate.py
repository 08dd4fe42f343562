"""Per-field accuracy of the text intake on a held-out file (never on training sentences)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.intake.dataset import HELDOUT_FILE, Example, read_examples
from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor, Message


@dataclass
class Report:
    """Accuracy figures: each is (correct, total)."""

    fields: dict[str, tuple[int, int]] = field(default_factory=dict)
    """field -> (correct, total)"""
    false_redirects: int = 0
    """records redirected that should not have been"""
    type_confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(gold, predicted) -> count"""
    category_confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(gold, predicted) -> count, mistakes only"""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """examples with a wrong field, for reading"""

    def score(self, name: str) -> float:
        ok, total = self.fields.get(name, (0, 0))
        return ok / total if total else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": {k: {"correct": c, "total": t, "accuracy": round(c / t, 4) if t else None}
                       for k, (c, t) in self.fields.items()},
            "false_redirects": self.false_redirects,
            "type_confusion": {f"{g}->{p}": n for (g, p), n in sorted(self.type_confusion.items())},
            "category_confusion": {f"{g}->{p}": n for (g, p), n in self.category_confusion.most_common(20)},
        }


def evaluate(extractor: Extractor, examples: list[Example]) -> Report:
    """Score the extractor's records against the examples' gold labels."""
    records = extractor.extract_many([Message(e.text, channel="cli") for e in examples])
    counts: dict[str, list[int]] = {}
    report = Report()

    def tally(name: str, ok: bool) -> None:
        c = counts.setdefault(name, [0, 0])
        c[0] += int(ok)
        c[1] += 1

    for ex, rec in zip(examples, records, strict=True):
        if isinstance(rec, IntakeError):
            tally("processed", False)
            continue
        tally("processed", True)
        wrong: list[str] = []

        def check(name: str, ok: bool, wrong: list[str] = wrong) -> None:
            tally(name, ok)
            if not ok:
                wrong.append(name)

        check("type", rec.type == ex.type)
        check("kind", rec.kind == ("consultation" if ex.type == "consultation" else "demand"))
        check("category", rec.category == ex.category)
        check("subcategory", rec.subcategory == ex.subcategory)
        check("urgency", rec.urgency == ex.urgency)
        if ex.urgency == 1:
            check("urgency1_recall", rec.urgency == 1)
        if ex.redirect:
            check("redirect_recall", rec.redirect == ex.redirect)
        elif rec.redirect:
            report.false_redirects += 1
            wrong.append("false_redirect")
        if "district" in ex.gold:
            check("district", rec.location.district == ex.gold["district"])
        if "street" in ex.gold:
            check("street", rec.location.street == ex.gold["street"])
        if "phone" in ex.gold:
            check("phone", rec.contact.phone == ex.gold["phone"])
        if rec.dispatch.action == "dispatch":  # sent without an agent: is it the right unit's kind of work?
            tally("auto_dispatched", rec.category == ex.category)
        report.type_confusion[(ex.type, rec.type)] += 1
        if rec.category != ex.category:
            report.category_confusion[(ex.category, rec.category)] += 1
        if wrong:
            report.errors.append({"text": ex.text, "wrong": wrong,
                                  "gold": {"type": ex.type, "sub": ex.subcategory, "urgency": ex.urgency,
                                           "redirect": ex.redirect, **ex.gold},
                                  "got": {"type": rec.type, "sub": rec.subcategory, "urgency": rec.urgency,
                                          "redirect": rec.redirect, "district": rec.location.district,
                                          "street": rec.location.street, "phone": rec.contact.phone}})
    report.fields = {k: (c[0], c[1]) for k, c in counts.items()}
    return report


def format_report(report: Report, source: Path) -> str:
    lines = [f"held-out evaluation on {source}"]
    for name, (ok, total) in report.fields.items():
        lines.append(f"  {name:<16} {ok / total if total else 0:6.3f}  ({ok}/{total})")
    lines.append(f"  {'false_redirects':<16} {report.false_redirects}")
    lines.append("type confusion (gold -> predicted):")
    for (g, p), n in sorted(report.type_confusion.items()):
        if g != p:
            lines.append(f"  {g} -> {p}: {n}")
    lines.append("most frequent category confusions:")
    for (g, p), n in report.category_confusion.most_common(10):
        lines.append(f"  {g} -> {p}: {n}")
    return "\n".join(lines)


def read_jsonl(path: Path) -> list[Example]:
    """Labelled messages one JSON object per line: text, type, subcategory, urgency, redirect and, where the
    text gives them, district, street, phone (null: not scored)."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError("a JSON object is expected")
            examples.append(Example(
                text=row["text"], type=row["type"], subcategory=row["subcategory"], urgency=int(row["urgency"]),
                redirect=str(row["redirect"]) if row.get("redirect") else None,
                gold={k: str(row[k]) for k in ("district", "street", "phone") if row.get(k)},
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled message ({exc})") from exc
    return examples


def read_labelled(path: Path = HELDOUT_FILE) -> list[Example]:
    """The examples of a labelled file (JSON lines or Rasa YAML); ValueError when it holds none or is malformed."""
    try:
        examples = read_jsonl(path) if path.suffix == ".jsonl" else read_examples([path])
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not labelled Rasa YAML ({exc!r})") from exc
    if not examples:
        raise ValueError(f"no labelled examples in {path}")
    return examples


def run(extractor: Extractor, path: Path = HELDOUT_FILE) -> Report:
    return evaluate(extractor, read_labelled(path))

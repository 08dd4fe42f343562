"""Score redirects (and type, where labelled) on a file of messages written apart from the project's data,
one JSON object per line with text, redirect (null or 110/119/120/122) and optionally type:
nlu_data/test/redirects.jsonl (199: 40 emergencies, 50 non-emergencies in emergency words, 109 ordinary) or
nlu_data/test/emergencies.jsonl, emergencies2.jsonl and emergencies3.jsonl (200 each: 80 emergencies, 80
non-emergencies in emergency words, 40 ordinary).

    .venv/bin/python benchmarks/score_redirects.py [FILE] [--errors]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor

TEST_DIR = Path(__file__).resolve().parents[1] / "nlu_data" / "test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=TEST_DIR / "redirects.jsonl")
    parser.add_argument("--errors", action="store_true", help="print every wrong record")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    extractor = Extractor.load(None)
    types = right = missed = wrong = false = 0
    for row, rec in zip(rows, extractor.extract_many([row["text"] for row in rows]), strict=True):
        if isinstance(rec, IntakeError):
            raise SystemExit(f"{row['text']!r}: {rec}")
        types += rec.type == row.get("type")
        if row["redirect"]:
            right += rec.redirect == row["redirect"]
            missed += rec.redirect is None
            wrong += rec.redirect not in (None, row["redirect"])
        else:
            false += rec.redirect is not None
        if args.errors and (rec.type != row.get("type", rec.type) or rec.redirect != row["redirect"]):
            print(f"{row.get('type')}/{row['redirect']} -> {rec.type}/{rec.redirect}: {row['text']}")
    emergencies = sum(1 for r in rows if r["redirect"])
    if all("type" in r for r in rows):
        print(f"type {types / len(rows):.3f} ({types}/{len(rows)})")
    print(f"emergencies redirected to the right number {right}/{emergencies}, missed {missed}, wrong number {wrong}")
    print(f"false redirects {false} of {len(rows) - emergencies}")


if __name__ == "__main__":
    main()

"""Extract Beijing's districts, streets/towns and communities from jionlp's china_location.

Writes bot/data/beijing.json, which bot/intake/gazetteer.py reads. Run again only when jionlp's
data changes: `python scripts/build_gazetteer.py`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import jionlp  # type: ignore[import-untyped]

OUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "beijing.json"


def main() -> int:
    src = Path(os.path.dirname(jionlp.__file__)) / "dictionary" / "china_location.txt"
    districts: dict[str, dict[str, list[str]]] = {}
    in_beijing = False
    district = street = ""
    for raw in src.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\r")
        depth = len(line) - len(line.lstrip("\t"))
        name = line.strip().split("\t")[0] if line.strip() else ""
        if depth == 0:
            in_beijing = name == "北京市"
            continue
        if not in_beijing or depth == 1:
            continue
        if depth == 2:
            district = name
            districts[district] = {}
        elif depth == 3:
            street = name
            districts[district][street] = []
        elif depth == 4:
            districts[district][street].append(name)
    n_streets = sum(len(s) for s in districts.values())
    n_comm = sum(len(c) for s in districts.values() for c in s.values())
    OUT.write_text(json.dumps(districts, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(districts)} districts, {n_streets} streets/towns, {n_comm} communities -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

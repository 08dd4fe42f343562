"""Print the intent and entity figures of `rasa test nlu` report directories side by side."""

import json
import sys
from pathlib import Path


def summary(directory: Path) -> dict:
    intents = json.loads((directory / "intent_report.json").read_text())
    out = {"intent accuracy": intents["accuracy"], "intent macro F1": intents["macro avg"]["f1-score"],
           "emergency F1": intents.get("emergency", {}).get("f1-score")}
    for report in sorted(directory.glob("*_report.json")):
        if report.name == "intent_report.json" or "response_selection" in report.name:
            continue
        entities = json.loads(report.read_text())
        for key in ("address", "phone", "time", "name", "micro avg"):
            if key in entities:
                out[f"{report.stem.removesuffix('_report')} {key} F1"] = entities[key]["f1-score"]
    return out


if __name__ == "__main__":
    for d in sys.argv[1:]:
        print(d)
        for k, v in summary(Path(d)).items():
            print(f"  {k}: {v:.3f}" if isinstance(v, float) else f"  {k}: {v}")

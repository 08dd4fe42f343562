"""Speech accuracy on a synthesized set (scripts/make_speech.py eval) and on ../shared/real_speech.

  speech_eval.py [--dir var/speech_eval] [--limit N] [--json results/speech_eval.json]

CER at 16 kHz and on the 8 kHz μ-law telephone copies; from the telephone transcripts, the record's
subcategory, top category and district against the labels of the held-out examples the audio speaks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.intake.extractor import Extractor, Message  # noqa: E402
from bot.speech import SpeechConfig, transcribe  # noqa: E402
from bot.speech.cer import cer  # noqa: E402

REAL = ROOT.parent / "shared" / "real_speech"


def run(directory: Path, limit: int | None) -> dict[str, object]:
    config = SpeechConfig.from_env()
    items = [json.loads(line) for line in (directory / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    items = items[:limit] if limit else items
    refs = [i["text"] for i in items]
    report: dict[str, object] = {"utterances": len(items), "model": config.model, "backend": config.backend}
    transcripts = {}
    for key in ("audio", "telephone"):
        started = time.perf_counter()
        hyps = [transcribe(directory / i[key], config).text for i in items]
        seconds = time.perf_counter() - started
        transcripts[key] = hyps
        report[f"cer_{key}"] = round(cer(refs, hyps), 4)
        report[f"seconds_{key}"] = round(seconds, 1)
    extractor = Extractor.load()
    records = [extractor.extract(Message(h, channel="phone")) for h in transcripts["telephone"]]
    sub = sum(r.subcategory == i["subcategory"] for r, i in zip(records, items))
    top = sum(r.category == i["subcategory"].split(".")[0] for r, i in zip(records, items))
    with_district = [(r, i) for r, i in zip(records, items) if i["district"]]
    district = sum(r.location.district == i["district"] for r, i in with_district)
    report |= {"telephone_subcategory": round(sub / len(items), 4), "telephone_category": round(top / len(items), 4),
               "telephone_district": round(district / max(1, len(with_district)), 4),
               "with_district": len(with_district)}
    report["errors"] = [{"ref": r, "16k": a, "8k": t} for r, a, t in zip(refs, transcripts["audio"],
                                                                         transcripts["telephone"]) if a != r]
    if (REAL / "transcripts.json").exists():
        real = json.loads((REAL / "transcripts.json").read_text(encoding="utf-8"))
        names = sorted(real)
        hyps = [transcribe(REAL / n, config).text for n in names]
        report["cer_real_speech"] = round(cer([real[n] for n in names], hyps), 4)
        report["real_speech"] = [{"file": n, "ref": real[n], "hyp": h, "cer": round(cer([real[n]], [h]), 3)}
                                 for n, h in zip(names, hyps)]
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=str(ROOT / "var" / "speech_eval"))
    p.add_argument("--limit", type=int)
    p.add_argument("--json", help="write the whole report here")
    args = p.parse_args()
    report = run(Path(args.dir), args.limit)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k not in ("errors", "real_speech")}, ensure_ascii=False,
                     indent=1))


if __name__ == "__main__":
    main()

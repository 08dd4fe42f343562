"""Choose the redirect thresholds and the averaging weights on training data: k-fold out-of-fold scores.

Each fold's hand-written examples are scored by a classifier trained (same recipe, augmentation
included) on the other folds, the transformer and the n-gram model apart; the held-out file is never
read. Prints, for each candidate MODEL_ALONE and WITH_RULE, the emergencies missed and the false
redirects over all folds; then, for each head, accuracy and log-loss of the average at each weight
of the transformer (bot.intake.model.MIX), and type accuracy with the type the citizen names.

    .venv/bin/python benchmarks/cross_validate.py --folds 3 --out /tmp/cv.json
    .venv/bin/python benchmarks/cross_validate.py --scores /tmp/cv.json   # again, without training
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

import yaml

from bot.intake import redirect
from bot.intake.augment import Augmenter
from bot.intake.dataset import Example, parse_markup, read_examples, train_files
from bot.intake.extractor import choose_type, said_type
from bot.intake.gazetteer import load_gazetteer
from bot.intake.model import MIX, IntakeModel, TrainOptions
from bot.intake.text import detect_language
from bot.taxonomy import load_taxonomy


def folds(examples: list[Example], k: int, seed: int) -> list[list[int]]:
    """Fold indices, emergencies spread evenly over the folds."""
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(k)]
    for group in (True, False):
        idx = [i for i, e in enumerate(examples) if bool(e.redirect) is group]
        rng.shuffle(idx)
        for n, i in enumerate(idx):
            parts[n % k].append(i)
    return parts


def chat_texts() -> list[str]:
    """Training messages that are conversation only (你好, 谢谢): never an emergency."""
    texts = []
    for path in train_files():
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            items = block.get("examples") or []
            if isinstance(items, list):
                texts += [parse_markup(str(i["text"]))[0] for i in items
                          if "subcategory" not in (i.get("metadata") or {})]
    return texts


def out_of_fold(examples: list[Example], k: int, opts: TrainOptions) -> list[dict[str, Any]]:
    codes = load_taxonomy().subcategory_codes
    gazetteer = load_gazetteer()
    rows: list[dict[str, Any]] = []
    for n, test in enumerate(folds(examples, k, opts.seed)):
        held = set(test)
        train = [e for i, e in enumerate(examples) if i not in held]
        augmenter = Augmenter(gazetteer, "".join(e.text for e in train), seed=opts.seed)
        model = IntakeModel.train(augmenter.expand(train, opts.copies), codes, opts,
                                  log=lambda line, n=n: print(f"fold {n + 1}/{k}: {line}", flush=True))
        texts = [examples[i].text for i in test]
        for i, *parts in zip(test, *_parts(model, texts), strict=True):
            e = examples[i]
            rows.append({"text": e.text, "gold": e.redirect, "chat": False,
                         "labels": {"type": e.type, "subcategory": e.subcategory, "urgency": str(e.urgency)},
                         "transformer": parts[0], "ngram": parts[1]})
    # Conversational messages are in no fold: the last fold's classifier scores them, unseen like the rest.
    chat = [t for t in chat_texts() if detect_language(t) == "zh"]  # other languages are never classified
    rows += [{"text": t, "gold": None, "chat": True, "labels": {}, "transformer": a, "ngram": b}
             for t, a, b in zip(chat, *_parts(model, chat), strict=True)]
    return rows


def _parts(model: IntakeModel, texts: list[str]) -> tuple[list[dict[str, dict[str, float]]], ...]:
    """Each text's heads from the transformer alone and from the n-gram model alone."""
    def heads(weight: float) -> list[dict[str, dict[str, float]]]:
        model.mix = dict.fromkeys(MIX, weight)
        return [{head: {str(k): v for k, v in getattr(p, head).items()} for head in MIX} for p in model.predict(texts)]
    parts = heads(1.0), heads(0.0)
    model.mix = dict(MIX)
    return parts


def mixed(row: dict[str, Any], head: str, weight: float) -> dict[str, float]:
    a, b = row["transformer"][head], row["ngram"][head]
    return {k: weight * a[k] + (1 - weight) * b[k] for k in a}


def weights(rows: list[dict[str, Any]]) -> None:
    """Accuracy and mean log-loss of each head's average, for each weight of the transformer."""
    labelled = [r for r in rows if r["labels"]]
    for head in ("type", "subcategory", "urgency"):
        print(f"{head}: weight accuracy log-loss (now {MIX[head]})")
        for w in [n / 10 for n in range(11)]:
            right = loss = 0.0
            for r in labelled:
                p = mixed(r, head, w)
                gold = r["labels"][head]
                right += max(p, key=p.__getitem__) == gold
                loss -= math.log(max(p[gold], 1e-9))
            print(f"  {w:.1f} {right / len(labelled):.4f} {loss / len(labelled):.4f}")
    named = sum(choose_type(mixed(r, "type", MIX["type"]), said_type(str(r["text"]))) == r["labels"]["type"]
                for r in labelled)
    print(f"type at {MIX['type']} with the type the citizen names (extractor.said_type): {named / len(labelled):.4f}")


def sweep(rows: list[dict[str, Any]]) -> None:
    """Missed emergencies, emergencies sent to the wrong number and false redirects for each pair of thresholds."""
    emergencies = sum(1 for r in rows if r["gold"])
    chat = sum(1 for r in rows if r["chat"])
    print(f"{len(rows) - chat} intake examples, {emergencies} of them emergencies, out of fold; {chat} conversational")
    print("MODEL_ALONE WITH_RULE missed wrong_number false (of them conversational)")
    for alone in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
        for with_rule in (0.05, 0.1, 0.15, 0.2, 0.3):
            missed = wrong = false = chat = 0
            for r in rows:
                text, scores = str(r["text"]), mixed(r, "redirect", MIX["redirect"])
                got = redirect.decide(text, redirect.find_redirect(text), scores, alone, with_rule)
                missed += bool(r["gold"]) and got is None
                wrong += bool(r["gold"]) and got is not None and got.number != r["gold"]
                false += not r["gold"] and got is not None
                chat += bool(r["chat"]) and got is not None
            print(f"{alone:11.2f} {with_rule:9.2f} {missed:6d} {wrong:12d} {false:5d} ({chat})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the out-of-fold scores here (JSON)")
    parser.add_argument("--scores", type=Path, help="sweep saved scores instead of training")
    args = parser.parse_args()
    if args.scores:
        rows = json.loads(args.scores.read_text(encoding="utf-8"))
        rows = [r for r in rows if detect_language(str(r["text"])) == "zh"]
    else:
        rows = out_of_fold(read_examples(train_files()), args.folds, TrainOptions())
        if args.out:
            args.out.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    sweep(rows)
    weights(rows)


if __name__ == "__main__":
    main()

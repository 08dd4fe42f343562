"""Compare the intake classifier with Rasa's DIET and a char n-gram linear baseline.

The transformer alone, the shipped classifier (transformer + char n-gram model averaged with the
weights of bot.intake.model.MIX) and the
char n-gram logistic regression alone learn from the same augmented training set
(bot.intake.train.training_set); DIET learns from the hand-written examples of nlu_data/train, as
`rasa train` would (DIET on the augmented set takes hours on 2 cores). All are scored on the same
held-out file; only the raw classifier outputs count here (no rules). DIET predicts
`type__category` as one intent, so it is scored on type and category.

    .venv/bin/python benchmarks/compare_models.py [--diet-epochs 40] [--skip-diet]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bot.intake.dataset import HELDOUT_FILE, read_examples, train_files
from bot.intake.model import MODEL_DIR, TrainOptions, load_model
from bot.intake.train import training_set


def category_of(pred) -> str:
    by_cat: dict[str, float] = {}
    for code, p in pred.subcategory.items():
        by_cat[code.split(".")[0]] = by_cat.get(code.split(".")[0], 0.0) + p
    return max(by_cat, key=by_cat.get)


def accuracy(pairs) -> float:
    pairs = list(pairs)
    return round(sum(a == b for a, b in pairs) / len(pairs), 4)


def ours(test, with_ngram: bool = True):
    model = load_model(str(MODEL_DIR))
    ngram, model.ngram = model.ngram, (model.ngram if with_ngram else None)
    preds = model.predict([e.text for e in test])
    model.ngram = ngram
    return {
        "type": accuracy((max(p.type, key=p.type.get), e.type) for p, e in zip(preds, test)),
        "category": accuracy((category_of(p), e.category) for p, e in zip(preds, test)),
        "urgency": accuracy((max(p.urgency, key=p.urgency.get), e.urgency) for p, e in zip(preds, test)),
    }


def linear(train, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x_train = vec.fit_transform([e.text for e in train])
    x_test = vec.transform([e.text for e in test])
    out = {}
    for name, get in (("type", lambda e: e.type), ("category", lambda e: e.category), ("urgency", lambda e: e.urgency)):
        clf = LogisticRegression(C=10, max_iter=3000).fit(x_train, [get(e) for e in train])
        out[name] = accuracy(zip(clf.predict(x_test), (get(e) for e in test)))
    return out


DIET_CONFIG = """
language: zh
pipeline:
  - name: JiebaTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 3
  - name: DIETClassifier
    epochs: {epochs}
    entity_recognition: false
    constrain_similarities: true
assistant_id: compare
policies: []
"""


def diet(train, test, epochs: int):
    import asyncio

    import yaml
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        blocks: dict[str, list[str]] = {}
        for e in train:
            blocks.setdefault(f"{e.type}__{e.category}", []).append(e.text.replace("\n", " "))
        nlu = {"version": "3.1", "nlu": [{"intent": k, "examples": "".join(f"- {t}\n" for t in sorted(set(v)))}
                                         for k, v in blocks.items()]}
        (tmpdir / "nlu.yml").write_text(yaml.safe_dump(nlu, allow_unicode=True), encoding="utf-8")
        (tmpdir / "config.yml").write_text(DIET_CONFIG.format(epochs=epochs), encoding="utf-8")
        model_path = train_nlu(str(tmpdir / "config.yml"), str(tmpdir / "nlu.yml"), str(tmpdir / "models"))
        agent = Agent.load(model_path)

        async def parse_all():
            return [await agent.parse_message(e.text) for e in test]

        parsed = asyncio.run(parse_all())
    intents = [p["intent"]["name"] or "__" for p in parsed]
    return {
        "type": accuracy((i.split("__")[0], e.type) for i, e in zip(intents, test)),
        "category": accuracy((i.split("__")[1], e.category) for i, e in zip(intents, test)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--diet-epochs", type=int, default=40)
    ap.add_argument("--skip-diet", action="store_true")
    args = ap.parse_args()
    train = training_set(TrainOptions())
    test = read_examples([HELDOUT_FILE])
    results = {"train_examples": len(train), "heldout_examples": len(test)}
    for name, fn in (("transformer_alone", lambda: ours(test, with_ngram=False)),
                     ("classifier_transformer_plus_ngram", lambda: ours(test)),
                     ("char_ngram_logreg", lambda: linear(train, test)),
                     ("rasa_diet", lambda: diet(read_examples(train_files()), test, args.diet_epochs))):
        if name == "rasa_diet" and args.skip_diet:
            continue
        started = time.time()
        results[name] = fn()
        results[name]["seconds"] = round(time.time() - started, 1)
        print(name, results[name], flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Train the intake classifier from nlu_data/train and save it under models/."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bot.intake.augment import Augmenter
from bot.intake.dataset import Example, read_examples, train_files
from bot.intake.gazetteer import load_gazetteer
from bot.intake.model import MODEL_DIR, IntakeModel, TrainOptions
from bot.taxonomy import load_taxonomy


def training_set(opts: TrainOptions, files: list[Path] | None = None) -> list[Example]:
    """Hand-written examples plus their augmented copies (deterministic for opts.seed)."""
    examples = read_examples(files or train_files())
    if not examples:
        raise ValueError("no training examples in nlu_data/train")
    codes = set(load_taxonomy().subcategory_codes)
    unknown = {e.subcategory for e in examples} - codes
    if unknown:
        raise ValueError(f"training data uses subcategories not in the taxonomy: {sorted(unknown)}")
    augmenter = Augmenter(load_gazetteer(), "".join(e.text for e in examples), seed=opts.seed)
    return augmenter.expand(examples, opts.copies)


def train(directory: Path = MODEL_DIR, opts: TrainOptions | None = None,
          log: Callable[[str], None] = print) -> IntakeModel:
    """Train on nlu_data/train and save to `directory`."""
    opts = opts or TrainOptions()
    started = time.time()
    data = training_set(opts)
    log(f"training on {len(data)} examples ({opts.copies} augmented copies each)")
    model = IntakeModel.train(data, load_taxonomy().subcategory_codes, opts, log=log)
    model.save(directory)
    log(f"saved to {directory} in {time.time() - started:.0f} s")
    return model

"""Train → persist → load round trips of the classifier, on small models the tests build."""

import pytest

from bot.intake.dataset import read_examples, train_files
from bot.intake.model import MIX, TAGS, IntakeModel, TrainOptions
from bot.taxonomy import load_taxonomy

TINY = {"hidden_size": 32, "layers": 1, "heads": 2, "epochs": 2, "copies": 0, "batch_size": 16}
TEXTS = ["家里暖气一点都不热", "楼上半夜装修太吵了，我姓王，电话13812345678", "请问签证怎么延期", "暖" * 400]


@pytest.fixture(scope="module")
def examples():
    data = read_examples(train_files())
    return data[::25]  # every 25th: all files, small enough to train in seconds


def assert_same_predictions(a, b):
    for pa, pb in zip(a, b, strict=True):
        assert pa.type == pytest.approx(pb.type, abs=1e-5)
        assert pa.subcategory == pytest.approx(pb.subcategory, abs=1e-5)
        assert pa.urgency == pytest.approx(pb.urgency, abs=1e-5)
        assert pa.redirect == pytest.approx(pb.redirect, abs=1e-5)
        assert [s[:3] for s in pa.slots] == [s[:3] for s in pb.slots]


def test_round_trip_from_scratch(tmp_path, examples):
    subs = load_taxonomy().subcategory_codes
    model = IntakeModel.train(examples, subs, TrainOptions(**TINY), log=lambda _: None)
    before = model.predict(TEXTS)
    model.save(tmp_path)
    loaded = IntakeModel.load(tmp_path)
    assert loaded.subcategories == subs
    assert_same_predictions(before, loaded.predict(TEXTS))
    for p in before:
        assert sum(p.type.values()) == pytest.approx(1.0, abs=1e-4)
        assert set(p.subcategory) == set(subs)
        assert set(p.urgency) == {1, 2, 3, 4}
        assert set(p.redirect) == {"none", "110", "119", "120", "122"}


def test_long_text_is_read_in_windows(tmp_path, examples):
    model = IntakeModel.train(examples, load_taxonomy().subcategory_codes, TrainOptions(**TINY), log=lambda _: None)
    long_text = "楼上装修太吵" * 100
    assert len(model._windows(long_text)) > 1
    (p,) = model.predict([long_text])
    assert all(0 <= s < e <= len(long_text) for s, e, _, _ in p.slots)


def test_batched_equals_single(examples):
    model = IntakeModel.train(examples, load_taxonomy().subcategory_codes, TrainOptions(**TINY), log=lambda _: None)
    batched = model.predict(TEXTS)
    singles = [model.predict([t])[0] for t in TEXTS]
    assert_same_predictions(batched, singles)


def test_heads_average_the_two_models_with_the_weights_of_mix(examples):
    model = IntakeModel.train(examples, load_taxonomy().subcategory_codes, TrainOptions(**TINY), log=lambda _: None)
    shipped = model.predict(TEXTS)
    model.mix = dict.fromkeys(MIX, 1.0)
    transformer = model.predict(TEXTS)
    model.mix = dict.fromkeys(MIX, 0.0)
    ngram = model.predict(TEXTS)
    for p, a, b in zip(shipped, transformer, ngram, strict=True):
        for head, w in MIX.items():
            mixed = {k: w * a_k + (1 - w) * getattr(b, head)[k] for k, a_k in getattr(a, head).items()}
            assert getattr(p, head) == pytest.approx(mixed, abs=1e-6)
    assert transformer[0].type != pytest.approx(ngram[0].type, abs=1e-3)  # two models, not one


def test_learns_something(examples):
    """A model trained longer on the sample fits its training labels well above chance."""
    opts = TrainOptions(**{**TINY, "hidden_size": 64, "epochs": 25})
    model = IntakeModel.train(examples, load_taxonomy().subcategory_codes, opts, log=lambda _: None)
    preds = model.predict([e.text for e in examples])
    right = sum(max(p.type, key=p.type.get) == e.type for p, e in zip(preds, examples, strict=True))
    assert right / len(examples) > 0.6  # chance is about 0.3 for the majority type


def test_pretrained_encoder_directory(tmp_path, examples):
    """A local Hugging Face encoder + tokenizer directory is used instead of the char encoder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    chars = sorted({c for e in examples for c in e.text if not c.isspace()})
    enc_dir = tmp_path / "encoder"
    enc_dir.mkdir()
    (enc_dir / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n")
    BertTokenizerFast(vocab_file=str(enc_dir / "vocab.txt")).save_pretrained(enc_dir)
    BertModel(BertConfig(vocab_size=len(chars) + 5, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(enc_dir)
    opts = TrainOptions(**{**TINY, "encoder_dir": str(enc_dir)})
    model = IntakeModel.train(examples, load_taxonomy().subcategory_codes, opts, log=lambda _: None)
    before = model.predict(TEXTS)
    model.save(tmp_path / "model")
    assert_same_predictions(before, IntakeModel.load(tmp_path / "model").predict(TEXTS))


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="hotline train"):
        IntakeModel.load(tmp_path)


def test_model_with_other_labels_is_refused(tmp_path, examples):
    import json

    model = IntakeModel.train(examples[:20], load_taxonomy().subcategory_codes, TrainOptions(**{**TINY, "epochs": 1}),
                              log=lambda _: None)
    model.save(tmp_path)
    meta = json.loads((tmp_path / "labels.json").read_text())
    meta["tags"] = TAGS[:-1]
    (tmp_path / "labels.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="retrain"):
        IntakeModel.load(tmp_path)


def test_threads_from_the_environment(tmp_path, examples, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        model = IntakeModel.train(examples[:20], load_taxonomy().subcategory_codes,
                                  TrainOptions(**{**TINY, "epochs": 1}), log=lambda _: None)
        model.save(tmp_path)
        monkeypatch.setenv("HOTLINE_INTAKE_THREADS", "1")
        IntakeModel.load(tmp_path)
        assert torch.get_num_threads() == 1
        monkeypatch.delenv("HOTLINE_INTAKE_THREADS")
        IntakeModel.load(tmp_path)
        assert torch.get_num_threads() == TINY.get("threads", TrainOptions.threads)
        for bad in ("0", "two", "-1", "²"):
            monkeypatch.setenv("HOTLINE_INTAKE_THREADS", bad)
            with pytest.raises(ValueError, match="HOTLINE_INTAKE_THREADS"):
                IntakeModel.load(tmp_path)
    finally:
        torch.set_num_threads(before)

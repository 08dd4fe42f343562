"""The intent and slot classifier: a BERT-style encoder with heads for type, subcategory,
urgency and BIO slots.

By default the encoder is trained from scratch on a character vocabulary (no pretrained
Chinese encoder can be downloaded here); `encoder_dir` points at a local pretrained encoder
(e.g. a bert-base-chinese directory) when a deployment has one.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import PROJECT_DIR
from bot.intake.dataset import SLOTS, Example
from bot.intake.ngram import NgramModel

if TYPE_CHECKING:
    import torch

MODEL_DIR = PROJECT_DIR / "models" / "intake"
TYPES = ["consultation", "help", "complaint", "report", "suggestion"]
URGENCIES = [1, 2, 3, 4]
REDIRECTS = ["none", "110", "119", "120", "122"]
TAGS = ["O"] + [f"{p}-{s}" for s in SLOTS if s != "phone" for p in ("B", "I")]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
MIX = {"type": 0.1, "subcategory": 0.2, "urgency": 0.2, "redirect": 0.5}
"""the transformer's weight, per head, where its probabilities are averaged with the n-gram model's: the most
accurate out of fold (benchmarks/cross_validate.py; ties to the lower log-loss). The redirect thresholds were
swept at 0.5, and no other weight missed fewer emergencies with as few false alarms."""


@dataclass
class TrainOptions:
    """How the classifier is built and trained."""

    hidden_size: int = 256
    """encoder width (from-scratch encoder only)"""
    layers: int = 4
    """transformer layers (from-scratch encoder only)"""
    heads: int = 4
    """attention heads (from-scratch encoder only)"""
    max_length: int = 128
    """characters per window, [CLS] and [SEP] included"""
    epochs: int = 12
    """passes over the augmented training set"""
    batch_size: int = 32
    """examples per step"""
    learning_rate: float = 5e-4
    """peak AdamW learning rate (linear warm-up, cosine decay)"""
    copies: int = 3
    """augmented copies per hand-written example"""
    seed: int = 13
    """seed for augmentation, initialisation and shuffling"""
    threads: int = 2
    """torch CPU threads"""
    encoder_dir: str | None = None
    """local directory of a pretrained encoder and its tokenizer, instead of training from scratch"""


@dataclass
class Prediction:
    """What the classifier reads in one text."""

    type: dict[str, float]
    """type code -> probability"""
    subcategory: dict[str, float]
    """`top.sub` -> probability"""
    urgency: dict[int, float]
    """urgency level -> probability"""
    redirect: dict[str, float]
    """none | 110 | 119 | 120 | 122 -> probability"""
    slots: list[tuple[int, int, str, float]] = field(default_factory=list)
    """(start, end, slot, confidence) character spans"""


class CharTokenizer:
    """One token per character; digits and Latin letters kept, lower-cased."""

    def __init__(self, vocab: list[str]) -> None:
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}

    @classmethod
    def build(cls, texts: list[str]) -> CharTokenizer:
        chars = sorted({c.lower() for t in texts for c in t if not c.isspace()})
        return cls(SPECIAL + chars)

    def encode(self, text: str, max_length: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids with [CLS]/[SEP] and each token's character span ((0, 0) for specials)."""
        ids, offsets = [self.index["[CLS]"]], [(0, 0)]
        unk = self.index["[UNK]"]
        for i, c in enumerate(text[: max_length - 2]):
            ids.append(self.index.get(c.lower(), unk))
            offsets.append((i, i + 1))
        ids.append(self.index["[SEP]"])
        offsets.append((0, 0))
        return ids, offsets

    def save(self, directory: Path) -> None:
        (directory / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> CharTokenizer:
        return cls((directory / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1])


class PretrainedTokenizer:
    """A local Hugging Face tokenizer, giving the same (ids, offsets) as CharTokenizer."""

    def __init__(self, directory: str) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)

    def encode(self, text: str, max_length: int) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self.tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
        return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _network(n_subs: int, encoder: Any) -> Any:
    from torch import nn

    class IntakeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            width = encoder.config.hidden_size
            self.dropout = nn.Dropout(0.1)
            self.type_head = nn.Linear(width, len(TYPES))
            self.sub_head = nn.Linear(width, n_subs)
            self.urgency_head = nn.Linear(width, len(URGENCIES))
            self.redirect_head = nn.Linear(width, len(REDIRECTS))
            self.tag_head = nn.Linear(width, len(TAGS))

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            # Mean over real tokens: steadier than [CLS] for an encoder trained from scratch.
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = self.dropout((hidden * m).sum(1) / m.sum(1).clamp(min=1))
            return (self.type_head(pooled), self.sub_head(pooled), self.urgency_head(pooled),
                    self.redirect_head(pooled), self.tag_head(self.dropout(hidden)))

    return IntakeNet()


def _scratch_encoder(vocab_size: int, opts: TrainOptions) -> Any:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=vocab_size, hidden_size=opts.hidden_size, num_hidden_layers=opts.layers,
        num_attention_heads=opts.heads, intermediate_size=opts.hidden_size * 2,
        max_position_embeddings=opts.max_length, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )
    return BertModel(config, add_pooling_layer=False)


def _tag_ids(ex: Example, offsets: list[tuple[int, int]]) -> list[int]:
    """BIO tag per token; -100 (ignored) for special tokens."""
    char_tag = ["O"] * len(ex.text)
    for start, end, slot in ex.entities:
        if slot == "phone":
            continue
        for k in range(start, end):
            char_tag[k] = ("B-" if k == start else "I-") + slot
    out = []
    for s, e in offsets:
        if s == e:
            out.append(-100)
        else:
            tag = char_tag[s]
            if tag.startswith("I-") and (s == 0 or char_tag[s - 1] == "O"):
                tag = "B-" + tag[2:]
            out.append(TAGS.index(tag))
    return out


class IntakeModel:
    """Trained classifier with its tokenizer and label lists."""

    def __init__(self, net: Any, tokenizer: CharTokenizer | PretrainedTokenizer, subcategories: list[str],
                 options: TrainOptions, ngram: NgramModel | None = None) -> None:
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.subcategories = subcategories
        self.options = options
        self.ngram = ngram
        """averaged with the transformer's class probabilities when present"""
        self.mix = dict(MIX)
        """the transformer's weight per head in that average (1.0: the transformer alone, 0.0: the n-gram model)"""
        self.pad_id = tokenizer.pad_id if isinstance(tokenizer, PretrainedTokenizer) else 0

    # -- training -------------------------------------------------------------------------
    @classmethod
    def train(cls, examples: list[Example], subcategories: list[str], opts: TrainOptions,
              log: Any = print) -> IntakeModel:
        """Train on already augmented examples."""
        import torch

        torch.manual_seed(opts.seed)
        torch.set_num_threads(opts.threads)
        rng = random.Random(opts.seed)
        tokenizer: CharTokenizer | PretrainedTokenizer
        if opts.encoder_dir:
            from transformers import AutoModel

            tokenizer = PretrainedTokenizer(opts.encoder_dir)
            encoder = AutoModel.from_pretrained(opts.encoder_dir, local_files_only=True)
        else:
            tokenizer = CharTokenizer.build([e.text for e in examples])
            encoder = _scratch_encoder(len(tokenizer.vocab), opts)
        model = cls(_network(len(subcategories), encoder), tokenizer, subcategories, opts)
        rows = []
        for ex in examples:
            ids, offsets = tokenizer.encode(ex.text, opts.max_length)
            rows.append((ids, _tag_ids(ex, offsets), TYPES.index(ex.type), subcategories.index(ex.subcategory),
                         URGENCIES.index(ex.urgency), REDIRECTS.index(ex.redirect or "none")))
        net = model.net.train()
        optim = torch.optim.AdamW(net.parameters(), lr=opts.learning_rate, weight_decay=0.01)
        steps = opts.epochs * math.ceil(len(rows) / opts.batch_size)
        warmup = max(1, steps // 20)
        sched = torch.optim.lr_scheduler.LambdaLR(
            optim, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
        ce = torch.nn.CrossEntropyLoss(ignore_index=-100, label_smoothing=0.05)
        # Emergencies are few in the data and must not be missed: each weighs as five ordinary messages.
        ce_redirect = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0] + [5.0] * (len(REDIRECTS) - 1)),
                                                label_smoothing=0.05)
        for epoch in range(opts.epochs):
            rng.shuffle(rows)
            # Batches of similar length pad less; their order is still shuffled.
            pool = opts.batch_size * 50
            batches = [sorted(rows[p : p + pool], key=lambda r: len(r[0]))[b : b + opts.batch_size]
                       for p in range(0, len(rows), pool) for b in range(0, min(pool, len(rows) - p), opts.batch_size)]
            rng.shuffle(batches)
            started, total = time.time(), 0.0
            for batch in batches:
                ids_t, mask = model._pad([r[0] for r in batch])
                width = ids_t.shape[1]
                tags = torch.tensor([r[1] + [-100] * (width - len(r[1])) for r in batch])
                t_logits, s_logits, u_logits, r_logits, g_logits = net(ids_t, mask)
                loss = (ce(t_logits, torch.tensor([r[2] for r in batch]))
                        + ce(s_logits, torch.tensor([r[3] for r in batch]))
                        + ce(u_logits, torch.tensor([r[4] for r in batch]))
                        + ce_redirect(r_logits, torch.tensor([r[5] for r in batch]))
                        + 0.5 * ce(g_logits.reshape(-1, len(TAGS)), tags.reshape(-1)))
                optim.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optim.step()
                sched.step()
                total += float(loss) * len(batch)
            log(f"epoch {epoch + 1}/{opts.epochs}: loss {total / len(rows):.3f} ({time.time() - started:.0f} s)")
        model.net = net.eval()
        started = time.time()
        model.ngram = NgramModel.fit(examples, {
            "type": [e.type for e in examples], "subcategory": [e.subcategory for e in examples],
            "urgency": [e.urgency for e in examples], "redirect": [e.redirect or "none" for e in examples]})
        log(f"char n-gram model: {time.time() - started:.0f} s")
        return model

    def _pad(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        return ids, mask

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        if self.ngram:
            self.ngram.save(directory)
        if isinstance(self.tokenizer, CharTokenizer):
            self.tokenizer.save(directory)
            self.net.encoder.config.to_json_file(str(directory / "encoder.json"))
        meta = {"subcategories": self.subcategories, "types": TYPES, "urgencies": URGENCIES, "tags": TAGS,
                "redirects": REDIRECTS,
                "options": asdict(self.options)}
        (directory / "labels.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        # Written last: its presence marks a complete model (the Makefile's target).
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(directory / "model.safetensors"))

    @classmethod
    def load(cls, directory: Path) -> IntakeModel:
        """Load a model saved by `save`; a clear error when it is missing or incomplete. Torch uses
        HOTLINE_INTAKE_THREADS threads, else as many as in training."""
        import torch
        from safetensors.torch import load_file

        weights = directory / "model.safetensors"
        if not weights.exists():
            raise FileNotFoundError(f"no trained intake model in {directory}: run `hotline train` (or make install)")
        meta = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
        if (meta["types"], meta["urgencies"], meta["tags"], meta.get("redirects")) != (TYPES, URGENCIES, TAGS,
                                                                                      REDIRECTS):
            raise ValueError(f"model in {directory} was trained with other labels: retrain it")
        opts = TrainOptions(**meta["options"])
        tokenizer: CharTokenizer | PretrainedTokenizer
        if opts.encoder_dir:
            from transformers import AutoConfig, AutoModel

            tokenizer = PretrainedTokenizer(opts.encoder_dir)
            encoder = AutoModel.from_config(AutoConfig.from_pretrained(opts.encoder_dir, local_files_only=True))
        else:
            from transformers import BertConfig, BertModel

            tokenizer = CharTokenizer.load(directory)
            encoder = BertModel(BertConfig.from_json_file(str(directory / "encoder.json")), add_pooling_layer=False)
        net = _network(len(meta["subcategories"]), encoder)
        net.load_state_dict(load_file(str(weights)))
        threads = os.environ.get("HOTLINE_INTAKE_THREADS") or str(opts.threads)
        if not (threads.isascii() and threads.isdecimal() and int(threads) >= 1):
            raise ValueError(f"HOTLINE_INTAKE_THREADS must be a positive whole number, not {threads!r}")
        torch.set_num_threads(int(threads))
        ngram = NgramModel.load(directory) if (directory / "ngram.joblib").exists() else None
        return cls(net, tokenizer, meta["subcategories"], opts, ngram)

    # -- inference ------------------------------------------------------------------------
    def _windows(self, text: str) -> list[tuple[int, str]]:
        """Long texts are read in overlapping windows (at most 8) whose scores are averaged."""
        size = self.options.max_length - 2
        if len(text) <= size:
            return [(0, text)]
        step = size * 3 // 4
        return [(s, text[s : s + size]) for s in range(0, len(text) - size // 4, step)][:8]

    def predict(self, texts: list[str], batch_size: int = 64) -> list[Prediction]:
        """Predictions for each text, batched."""
        mix = self.mix
        import torch

        pieces = [(i, offset, w) for i, t in enumerate(texts) for offset, w in self._windows(t)]
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][2]))
        results: dict[int, tuple[Any, ...]] = {}
        with torch.inference_mode():
            for b in range(0, len(order), batch_size):
                chunk = [pieces[k] for k in order[b : b + batch_size]]
                encoded = [self.tokenizer.encode(w, self.options.max_length) for _, _, w in chunk]
                ids, mask = self._pad([e[0] for e in encoded])
                t, s, u, r, g = (x.softmax(-1) for x in self.net(ids, mask))
                for j, k in enumerate(order[b : b + batch_size]):
                    results[k] = (t[j], s[j], u[j], r[j], g[j], encoded[j][1])
        labels: dict[str, Sequence[Any]] = {"type": TYPES, "subcategory": self.subcategories, "urgency": URGENCIES,
                                            "redirect": REDIRECTS}
        linear = self.ngram.predict(texts, labels) if self.ngram and texts else None
        by_text: dict[int, list[int]] = {}
        for k, piece in enumerate(pieces):
            by_text.setdefault(piece[0], []).append(k)
        out: list[Prediction] = []
        for i in range(len(texts)):
            ks = by_text[i]
            t = sum(results[k][0] for k in ks) / len(ks)
            s = sum(results[k][1] for k in ks) / len(ks)
            u = sum(results[k][2] for k in ks) / len(ks)
            # An emergency anywhere in a long text counts: the window most sure of one decides.
            r = max((results[k][3] for k in ks), key=lambda x: 1 - float(x[0]))
            slots: list[tuple[int, int, str, float]] = []
            for k in ks:
                slots.extend((a + pieces[k][1], b + pieces[k][1], slot, p)
                             for a, b, slot, p in _decode(results[k][4], results[k][5]))
            heads = {"type": t.tolist(), "subcategory": s.tolist(), "urgency": u.tolist(), "redirect": r.tolist()}
            if linear is not None:
                heads = {k: [mix[k] * a + (1 - mix[k]) * b for a, b in zip(v, linear[k][i], strict=True)]
                         if k in linear else v for k, v in heads.items()}
            out.append(Prediction(
                type=dict(zip(TYPES, heads["type"], strict=True)),
                subcategory=dict(zip(self.subcategories, heads["subcategory"], strict=True)),
                urgency=dict(zip(URGENCIES, heads["urgency"], strict=True)),
                redirect=dict(zip(REDIRECTS, heads["redirect"], strict=True)),
                slots=_dedupe(slots),
            ))
        return out


def _decode(probs: Any, offsets: list[tuple[int, int]]) -> list[tuple[int, int, str, float]]:
    """BIO probabilities per token → (start, end, slot, mean confidence) character spans."""
    best = probs.argmax(-1).tolist()
    conf = probs.max(-1).values.tolist()
    spans: list[tuple[int, int, str, list[float]]] = []
    open_span = False
    for (s, e), tag_id, c in zip(offsets, best, conf, strict=False):
        tag = TAGS[tag_id]
        if s == e or tag == "O":
            open_span = False
            continue
        prefix, slot = tag.split("-", 1)
        if open_span and prefix == "I" and spans[-1][2] == slot:
            start, _, _, scores = spans[-1]
            spans[-1] = (start, e, slot, scores + [c])
        else:
            spans.append((s, e, slot, [c]))
            open_span = True
    return [(a, b, slot, sum(cs) / len(cs)) for a, b, slot, cs in spans]


def _dedupe(spans: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    spans = sorted(spans, key=lambda x: (x[0], -(x[1] - x[0])))
    out: list[tuple[int, int, str, float]] = []
    for span in spans:
        if not out or span[0] >= out[-1][1]:
            out.append(span)
    return out


@lru_cache(maxsize=2)
def load_model(directory: str = str(MODEL_DIR)) -> IntakeModel:
    """The trained model, loaded once per process."""
    return IntakeModel.load(Path(directory))

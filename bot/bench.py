"""Speed and memory of the text intake, in-process, against a rules-only baseline in the same run."""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any

from bot.intake.dataset import HELDOUT_FILE, read_examples, train_files
from bot.intake.extractor import Extractor
from bot.intake.gazetteer import load_gazetteer
from bot.intake.phone import find_phones
from bot.intake.redirect import find_redirect
from bot.intake.text import clean, detect_language
from bot.intake.timeparse import parse_time


def _texts(n: int) -> list[str]:
    path = [HELDOUT_FILE] if HELDOUT_FILE.exists() else train_files()
    base = [e.text for e in read_examples(path)]
    return [base[i % len(base)] for i in range(n)]


def _rules_only(text: str) -> None:
    from datetime import datetime

    t = clean(text)
    detect_language(t)
    load_gazetteer().resolve(t)
    find_phones(t)
    find_redirect(t)
    parse_time(t, datetime.now())


def run(records: int = 1000, singles: int = 300) -> dict[str, Any]:
    """Load time, batched throughput, single-record latency and peak memory."""
    import torch

    started = time.perf_counter()
    extractor = Extractor.load()
    extractor.extract("暖气不热")  # first call builds lazy tables (pinyin, OpenCC)
    load_s = time.perf_counter() - started
    texts = _texts(records)

    t0 = time.perf_counter()
    for text in texts:
        _rules_only(text)
    rules_rps = len(texts) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    for b in range(0, len(texts), 64):
        extractor.extract_many(list(texts[b : b + 64]))
    batched_rps = len(texts) / (time.perf_counter() - t0)

    latencies = []
    for text in texts[:singles]:
        t1 = time.perf_counter()
        extractor.extract(text)
        latencies.append((time.perf_counter() - t1) * 1000)
    latencies.sort()
    return {
        "records": len(texts),
        "model_load_s": round(load_s, 2),
        "batched_records_per_s": round(batched_rps, 1),
        "rules_only_records_per_s": round(rules_rps, 1),
        "batched_vs_rules_only": round(batched_rps / rules_rps, 3),
        "single_p50_ms": round(statistics.median(latencies), 2),
        "single_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_threads": torch.get_num_threads(),  # HOTLINE_INTAKE_THREADS, else as in training
    }

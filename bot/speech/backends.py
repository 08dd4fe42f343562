"""Whisper backends behind one protocol: faster-whisper (default) and openai-whisper."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from bot.speech.audio import Samples
from bot.speech.config import SpeechConfig

# Languages read as Chinese: Whisper sometimes names Mandarin on a poor line Cantonese.
CHINESE = {"zh", "yue"}


@dataclass
class RawSegment:
    """One segment as Whisper decoded it, before the project's clean-up."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass
class Decoded:
    language: str
    language_probability: float
    segments: list[RawSegment]


class Transcriber(Protocol):
    """What the pipeline needs of a Whisper backend."""

    def transcribe(self, audio: Samples, prompt: str | None,
                   language: str | None = None) -> Decoded:
        """Decode 16 kHz float32 mono audio, speech only; detect the language when none is given."""
        ...


def threads(config: SpeechConfig) -> int:
    return config.threads or os.cpu_count() or 1


def _has_speech(audio: Samples) -> bool:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return bool(get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=500)))


class FasterWhisper:
    """CTranslate2 Whisper with Silero VAD (faster-whisper)."""

    def __init__(self, config: SpeechConfig) -> None:
        from faster_whisper import WhisperModel

        path = Path(config.model)
        if path.is_dir() and not (path / "model.bin").exists():
            raise FileNotFoundError(f"{path} has no model.bin: run `make install` to assemble the Whisper weights")
        self.config = config
        self.model = WhisperModel(config.model, device=config.device, compute_type=config.compute_type,
                                  cpu_threads=threads(config), local_files_only=True)

    def options(self, prompt: str | None, language: str | None) -> dict[str, Any]:
        """The decoding options, shared with the benchmark that calls faster-whisper directly."""
        from faster_whisper.vad import VadOptions

        return dict(language=language, beam_size=self.config.beam_size, vad_filter=True,
                    vad_parameters=VadOptions(min_silence_duration_ms=500, speech_pad_ms=300),
                    condition_on_previous_text=False, initial_prompt=prompt)

    def transcribe(self, audio: Samples, prompt: str | None,
                   language: str | None = None) -> Decoded:
        segments, info = self.model.transcribe(audio, **self.options(prompt, language))
        raw = [RawSegment(s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob, s.compression_ratio)
               for s in segments]
        return Decoded(info.language, info.language_probability, raw)


class OpenAIWhisper:
    """The reference PyTorch implementation (openai-whisper); needs a local .pt checkpoint."""

    def __init__(self, config: SpeechConfig) -> None:
        import torch
        import whisper

        path = Path(config.model)
        if not path.is_file():
            raise FileNotFoundError(
                f"openai-whisper needs a local .pt checkpoint (HOTLINE_WHISPER_MODEL), not {config.model}")
        torch.set_num_threads(threads(config))
        device = "cuda" if config.device in ("cuda", "auto") and torch.cuda.is_available() else "cpu"
        self.config = config
        self.model = whisper.load_model(str(path), device=device)

    def transcribe(self, audio: Samples, prompt: str | None,
                   language: str | None = None) -> Decoded:
        import whisper

        if not _has_speech(audio):  # openai-whisper has no voice-activity detection of its own
            return Decoded(language or "und", 0.0, [])
        language_probability = 1.0
        if language is None:
            mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), self.model.dims.n_mels)
            _, probs = self.model.detect_language(mel.to(self.model.device))
            language = max(probs, key=probs.get)
            language_probability = float(probs[language])
        result = self.model.transcribe(audio, language=language, initial_prompt=prompt,
                                       condition_on_previous_text=False, beam_size=self.config.beam_size,
                                       fp16=self.model.device.type == "cuda", verbose=None)
        raw = [RawSegment(float(s["start"]), float(s["end"]), str(s["text"]), float(s["avg_logprob"]),
                          float(s["no_speech_prob"]), float(s["compression_ratio"]))
               for s in result["segments"]]
        return Decoded(str(language), language_probability, raw)


@lru_cache(maxsize=2)
def load(config: SpeechConfig) -> Transcriber:
    """The configured backend, loaded once per configuration."""
    if config.backend == "openai-whisper":
        return OpenAIWhisper(config)
    return FasterWhisper(config)

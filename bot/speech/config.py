"""Speech settings: embedded defaults, overridden by HOTLINE_WHISPER_* / HOTLINE_AUDIO_* variables."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bot.envconfig import env_values

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = ROOT / "models" / "whisper-base"

# Variable name → field; all are optional.
_ENV = {
    "HOTLINE_WHISPER_BACKEND": "backend",
    "HOTLINE_WHISPER_MODEL": "model",
    "HOTLINE_WHISPER_DEVICE": "device",
    "HOTLINE_WHISPER_COMPUTE_TYPE": "compute_type",
    "HOTLINE_WHISPER_THREADS": "threads",
    "HOTLINE_WHISPER_BEAM_SIZE": "beam_size",
    "HOTLINE_AUDIO_MAX_SECONDS": "max_seconds",
    "HOTLINE_AUDIO_MAX_BYTES": "max_bytes",
    "HOTLINE_AUDIO_DECODE_TIMEOUT": "decode_timeout",
    "HOTLINE_AUDIO_AGENT_CHANNEL": "agent_channel",
}


@dataclass(frozen=True)
class SpeechConfig:
    """How audio is read and which Whisper model listens."""

    backend: str = "faster-whisper"
    """faster-whisper | openai-whisper"""
    model: str = str(DEFAULT_MODEL_DIR)
    """faster-whisper: a CTranslate2 model directory; openai-whisper: a .pt file or a model name"""
    device: str = "cpu"
    """cpu | cuda | auto"""
    compute_type: str = "int8"
    """faster-whisper quantisation: int8, int8_float16, float16, float32"""
    threads: int = 0
    """CPU threads; 0 = all cores"""
    beam_size: int = 5
    max_seconds: float = 1800.0
    """longest recording accepted (a call of half an hour)"""
    max_bytes: int = 100 * 1024 * 1024
    """largest file accepted"""
    decode_timeout: float = 120.0
    """seconds ffmpeg may take to decode one file"""
    agent_channel: int = 0
    """in a stereo call recording, the channel of the agent (0 = left); the other is the caller"""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SpeechConfig:
        values = env_values(cls, _ENV, environ)
        config = replace(cls(), **values)
        config.check()
        return config

    def check(self) -> None:
        if self.backend not in ("faster-whisper", "openai-whisper"):
            raise ValueError(f"unknown Whisper backend {self.backend!r}: faster-whisper or openai-whisper")
        if self.agent_channel not in (0, 1):
            raise ValueError("agent_channel must be 0 (left) or 1 (right)")
        if self.max_seconds <= 0 or self.max_bytes <= 0 or self.decode_timeout <= 0 or self.beam_size < 1:
            raise ValueError("audio limits, decode time-out and beam size must be positive")

"""Audio in: any common file, bytes or stream → 16 kHz float32 channels, through ffmpeg on local files only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from bot.speech.config import SpeechConfig
from bot.speech.errors import (
    AudioTooLarge,
    AudioTooLong,
    BrokenAudio,
    DecodeTimeout,
    EmptyAudio,
    ForbiddenSource,
)

SAMPLE_RATE = 16_000
# Demuxers a recording or voice message can need; playlists (hls), concat scripts and the like are refused,
# and ffmpeg may open nothing but local files, so no input can make it reach the network.
FORMATS = "wav,w64,mp3,mov,mp4,m4a,3gp,3g2,mj2,aac,amr,amrnb,amrwb,ogg,flac,matroska,webm,caf,aiff"
_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*[:,]")
# Below this peak (about -80 dBFS) a file is digital silence: nothing to transcribe.
SILENCE_PEAK = 1e-4

Source = str | os.PathLike[str] | bytes | bytearray | BinaryIO
Samples = npt.NDArray[np.float32]


@dataclass
class Audio:
    """Decoded audio: one float32 array per channel at SAMPLE_RATE (two for a stereo call, else one)."""

    channels: list[Samples]
    duration: float
    """seconds decoded"""
    source_rate: int
    """the file's own sample rate"""
    source_channels: int
    format: str
    """ffmpeg's name of the container"""
    warnings: list[str] = field(default_factory=list)


def is_silent(samples: Samples) -> bool:
    """Digital silence: nothing for Whisper to hear (and nothing for it to invent)."""
    return float(np.max(np.abs(samples), initial=0.0)) < SILENCE_PEAK


def decode(source: Source, config: SpeechConfig) -> Audio:
    """Decode a path, bytes or a binary stream; raise an AudioError subclass with a one-line reason."""
    if isinstance(source, (bytes, bytearray)):
        return _decode_bytes(bytes(source), config)
    if hasattr(source, "read"):
        data = source.read(config.max_bytes + 1)
        if not isinstance(data, bytes):
            raise TypeError("audio stream must be opened in binary mode")
        return _decode_bytes(data, config)
    return decode_file(Path(_local_path(os.fspath(source))), config)


def _local_path(name: str) -> str:
    # "http://…", "concat:a|b", "subfile,,start,…" and the like name ffmpeg protocols, not files.
    if _PROTOCOL.match(name) and not os.path.exists(name):
        raise ForbiddenSource(f"{name!r}: only local audio files are accepted, not URLs or ffmpeg protocols")
    return name


def _decode_bytes(data: bytes, config: SpeechConfig) -> Audio:
    _check_size(len(data), config)
    with tempfile.NamedTemporaryFile(prefix="hotline-audio-", suffix=".bin") as f:
        f.write(data)
        f.flush()
        return decode_file(Path(f.name), config)


def _check_size(size: int, config: SpeechConfig) -> None:
    if size == 0:
        raise EmptyAudio("the audio file is empty")
    if size > config.max_bytes:
        raise AudioTooLarge(f"the audio file is over {config.max_bytes} bytes")


def decode_file(path: Path, config: SpeechConfig) -> Audio:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise BrokenAudio(f"{path}: no such file") from None
    if not path.is_file():
        raise ForbiddenSource(f"{path}: not a regular file")
    _check_size(st.st_size, config)
    info = _probe(path, config)
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise BrokenAudio(f"{path.name}: no audio stream found")
    stream = streams[0]
    declared = _float(info.get("format", {}).get("duration")) or _float(stream.get("duration"))
    if declared is not None and declared > config.max_seconds:
        raise AudioTooLong(f"{path.name}: {declared:.0f} s is over the {config.max_seconds:.0f} s limit")
    source_channels = int(stream.get("channels") or 1)
    # Two channels are a call recording (agent and caller); more are mixed down to one.
    out_channels = 2 if source_channels == 2 else 1
    samples, errors = _run_ffmpeg(path, out_channels, config)
    if samples.size == 0:
        raise BrokenAudio(f"{path.name}: no audio could be decoded" + (f" ({errors})" if errors else ""))
    channels = [np.array(c) for c in samples.reshape(-1, out_channels).T]  # writable copies: torch wants them
    duration = channels[0].size / SAMPLE_RATE
    if duration > config.max_seconds:
        raise AudioTooLong(f"{path.name}: over the {config.max_seconds:.0f} s limit")
    warnings = []
    container = str(info.get("format", {}).get("format_name", ""))
    stated = _wav_seconds(path) if container == "wav" else None
    if stated and duration < 0.9 * stated - 0.5:
        warnings.append(f"truncated: {duration:.1f} s of {stated:.1f} s decoded")
    elif errors:
        warnings.append(f"decoder reported: {errors}")
    return Audio(channels, duration, int(stream.get("sample_rate") or 0), source_channels, container, warnings)


def _wav_seconds(path: Path) -> float | None:
    """The length a WAV header states (its data chunk size over the byte rate); ffprobe reports the bytes present."""
    with open(path, "rb") as f:
        head = f.read(4096)
    fmt, data = head.find(b"fmt "), head.find(b"data")
    if head[:4] != b"RIFF" or fmt < 0 or data < 0 or len(head) < max(fmt + 20, data + 8):
        return None
    byte_rate = int.from_bytes(head[fmt + 16:fmt + 20], "little")
    size = int.from_bytes(head[data + 4:data + 8], "little")
    return size / byte_rate if byte_rate and size < 0xFFFFFFF0 else None  # streaming writers put ~4 GB


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _guarded(path: Path) -> list[str]:
    # "file:" makes ffmpeg read the name as a path even when it looks like a protocol.
    return ["-protocol_whitelist", "file", "-format_whitelist", FORMATS, "-i", f"file:{path}"]


def _probe(path: Path, config: SpeechConfig) -> dict[str, Any]:
    cmd = ["ffprobe", "-v", "error", *_guarded(path), "-show_entries",
           "stream=codec_type,codec_name,sample_rate,channels,duration:format=format_name,duration", "-of", "json"]
    proc = _run(cmd, config)
    if proc.returncode != 0:
        raise BrokenAudio(f"{path.name}: not a readable audio file ({_first_line(proc.stderr)})")
    try:
        info = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError:
        raise BrokenAudio(f"{path.name}: not a readable audio file") from None
    return info if isinstance(info, dict) else {}


def _run_ffmpeg(path: Path, channels: int, config: SpeechConfig) -> tuple[Samples, str]:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", *_guarded(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
           "-t", str(config.max_seconds + 1), "-ac", str(channels), "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
    proc = _run(cmd, config)
    samples = np.frombuffer(proc.stdout, dtype=np.float32)
    samples = samples[: samples.size - samples.size % channels]
    errors = _first_line(proc.stderr)
    if proc.returncode != 0 and samples.size == 0:
        raise BrokenAudio(f"{path.name}: not a readable audio file ({errors})")
    return samples, errors


def _run(cmd: list[str], config: SpeechConfig) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=config.decode_timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DecodeTimeout(f"decoding took over {config.decode_timeout:.0f} s") from None
    except FileNotFoundError:
        raise RuntimeError("ffmpeg is not installed: run `make install`") from None


def _first_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[0][:200] if lines else ""

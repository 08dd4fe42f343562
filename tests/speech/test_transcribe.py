"""Real Whisper inference (the packaged base model) on the committed clips and their copies."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.intake.text import simplified
from bot.speech import SpeechConfig, Transcript, transcribe
from bot.speech.audio import Audio, decode
from bot.speech.backends import Decoded, RawSegment, load
from bot.speech.cer import cer
from bot.speech.pipeline import transcribe_audio

from .conftest import CLIPS, FORMATS, TEXTS

CONFIG = SpeechConfig()
ROOT = Path(__file__).resolve().parents[2]


def test_clean_16k_speech(clip):
    t = transcribe(clip[0], CONFIG)
    assert t.language == "zh" and t.language_probability > 0.8
    assert cer([clip[1]], [t.text]) <= 0.15, t.text
    assert simplified(t.text) == t.text
    assert t.text.endswith("。")
    assert 6.5 < t.duration < 7.5 and t.processing_seconds > 0
    assert all(0 <= s.start < s.end <= t.duration + 0.5 for s in t.segments)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_transcribes(converted, clip, name):
    t = transcribe(converted[name], CONFIG)
    assert t.language == "zh"
    # Lossy, narrow-band copies lose some characters; the district and the problem must survive.
    assert cer([clip[1]], [t.text]) <= 0.3, t.text
    assert "朝阳" in t.text and "暖气" in t.text


def test_dual_mono_is_one_voice(converted):
    t = transcribe(converted["wav44k_stereo_dualmono"], CONFIG)
    assert t.channels == 2 and all(s.speaker is None for s in t.segments)


def test_stereo_call_keeps_who_said_what():
    t = transcribe(CLIPS / "call_stereo.wav", CONFIG)
    agent = [s for s in t.segments if s.speaker == "agent"]
    caller = [s for s in t.segments if s.speaker == "caller"]
    assert agent and caller
    assert [s.start for s in t.segments] == sorted(s.start for s in t.segments)
    assert agent[0].start < caller[0].start  # the agent answers the call
    assert "下水道" in "".join(s.text for s in caller)
    assert "请问" in "".join(s.text for s in agent)
    # The record is built from the caller's words only.
    assert "请问" not in t.text and "下水道" in t.text
    lines = t.dialogue().splitlines()
    assert lines[0].startswith("坐席：") and lines[1].startswith("市民：")
    said = [line.split(": ", 1)[1] for line in TEXTS["call_stereo.wav"] if line.startswith("caller")]
    assert cer(["".join(said)], [t.text]) <= 0.5  # telephone band, μ-law: measured, not perfect


@pytest.mark.parametrize("seconds, level", [(5, 0.0), (5, 0.003)])
def test_silence_and_hiss_give_an_empty_transcript(tmp_path, seconds, level):
    rng = np.random.default_rng(0)
    path = tmp_path / "quiet.wav"
    samples = (rng.standard_normal(16000 * seconds) * level).astype(np.float32)
    subprocess.run(["sox", "-t", "f32", "-r", "16000", "-c", "1", "-", "-b", "16", str(path)],
                   input=samples.tobytes(), check=True)
    t = transcribe(path, CONFIG)
    assert t.text == "" and t.segments == [] and t.language == "und"
    assert "no speech" in t.warnings


def test_music_like_tones_give_no_text(tmp_path):
    path = tmp_path / "tones.wav"
    subprocess.run(["sox", "-n", "-r", "16000", str(path), "synth", "6", "sine", "440", "sine", "660",
                    "tremolo", "3", "60", "gain", "-12"], check=True)
    assert transcribe(path, CONFIG).text == ""


def test_foreign_language_is_transcribed_in_it():
    t = transcribe(CLIPS / "english.wav", CONFIG)
    assert t.language == "en"
    assert "visa" in t.text.lower() and cer([TEXTS["english.wav"]], [t.text]) < 0.2


def test_bytes_and_streams_give_the_same_transcript(clip):
    data = clip[0].read_bytes()
    with open(clip[0], "rb") as f:
        from_stream = transcribe(f, CONFIG)
    assert transcribe(data, CONFIG).text == from_stream.text == transcribe(clip[0], CONFIG).text


class _Scripted:
    """A Transcriber that returns fixed segments: the pipeline's guards, without Whisper."""

    def __init__(self, language, texts):
        self.calls = []
        self.language, self.texts = language, texts

    def transcribe(self, audio, prompt, language=None):
        self.calls.append((prompt, language))
        segs = [RawSegment(i, i + 1, text, lp, ns, cr) for i, (text, lp, ns, cr) in enumerate(self.texts)]
        return Decoded(language or self.language, 0.9, segs)


def test_pipeline_drops_hallucinations_and_repeats():
    model = _Scripted("zh", [("我家暖氣不熱", -0.3, 0.1, 1.3), ("我家暖氣不熱", -0.3, 0.1, 1.3),
                             ("字幕由Amara.org社區提供", -0.2, 0.1, 1.1),
                             ("哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈", -0.5, 0.2, 3.5),
                             ("嗯", -1.5, 0.9, 1.0), ("三天了", -0.4, 0.1, 1.2)])
    audio = Audio([np.full(16000 * 6, 0.1, dtype=np.float32)], 6.0, 16000, 1, "wav")
    t = transcribe_audio(audio, model)
    assert t.text == "我家暖气不热，三天了。"
    assert [s.text for s in t.segments] == ["我家暖气不热", "三天了"]
    assert t.time_span(0, 2) == (0, 1) and t.time_span(7, 9) == (5, 6)


def test_other_language_is_decoded_again_without_the_chinese_prompt():
    model = _Scripted("ko", [("안녕하세요", -0.3, 0.1, 1.2)])
    audio = Audio([np.full(16000, 0.1, dtype=np.float32)], 1.0, 16000, 1, "wav")
    t = transcribe_audio(audio, model)
    assert t.language == "ko" and t.text == "안녕하세요"
    assert model.calls[0][0] and model.calls[1] == (None, "ko")


def test_transcript_json_shape(clip):
    d = transcribe(clip[0], CONFIG).to_dict()
    assert set(d) >= {"text", "language", "duration", "segments", "processing_seconds"}
    assert set(d["segments"][0]) == {"start", "end", "text", "avg_logprob", "no_speech_prob"}
    json.dumps(d)


def test_openai_whisper_backend_on_a_model_the_test_builds(tmp_path, clip):
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)
    model = Whisper(dims)
    tokenizer = whisper.tokenizer.get_tokenizer(multilingual=True)
    with torch.no_grad():
        for p in model.parameters():  # some of Whisper's weights start as uninitialised memory
            p.normal_(0.0, 0.02)
        # Wired so that it hears Chinese and ends each window at once: a random decoder would sample 448
        # tokens at six temperatures.
        state = torch.randn(dims.n_text_state)
        model.decoder.ln.weight.zero_()
        model.decoder.ln.bias.copy_(state)
        model.decoder.token_embedding.weight[tokenizer.eot] = state * 5
        model.decoder.token_embedding.weight[tokenizer.to_language_token("zh")] = state * 4
    path = tmp_path / "tiny.pt"
    torch.save({"dims": vars(dims), "model_state_dict": model.state_dict()}, path)
    assert isinstance(whisper.load_model(str(path)), Whisper)
    config = SpeechConfig(backend="openai-whisper", model=str(path), beam_size=1)
    t = transcribe(clip[0], config)
    assert isinstance(t, Transcript) and 6.5 < t.duration < 7.5
    assert t.text == "" and "no speech" in t.warnings
    decoded = load(config).transcribe(decode(clip[0], config).channels[0], "以下是普通话的句子。")
    assert decoded.language == "zh" and decoded.language_probability > 0.5
    quiet = tmp_path / "quiet.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-b", "16", str(quiet), "synth", "3", "whitenoise", "vol", "0.002"],
                   check=True)
    silent = transcribe(quiet, config)
    assert silent.text == "" and silent.language == "und"


def test_openai_whisper_backend_refuses_a_model_directory():
    with pytest.raises(FileNotFoundError, match=".pt"):
        transcribe(CLIPS / "heating.wav", SpeechConfig(backend="openai-whisper"))


def test_cli_transcribe_keeps_order_and_reports_errors(tmp_path, clip):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nonsense")
    out = subprocess.run([sys.executable, "-m", "bot", "transcribe", "--json", str(clip[0]), str(broken),
                          str(CLIPS / "english.wav")], capture_output=True, text=True, cwd=ROOT)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert out.returncode == 1 and len(lines) == 3
    assert lines[0]["language"] == "zh" and "暖气" in lines[0]["text"]
    assert "error" in lines[1] and lines[1]["file"] == str(broken)
    assert lines[2]["language"] == "en"
    assert "broken.wav" in out.stderr

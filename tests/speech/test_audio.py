"""Decoding: every format and rate, limits, broken input, and no way to reach the network."""

import http.server
import io
import threading
import wave

import numpy as np
import pytest

from bot.speech.audio import SAMPLE_RATE, decode
from bot.speech.config import SpeechConfig
from bot.speech.errors import AudioTooLarge, AudioTooLong, BrokenAudio, DecodeTimeout, EmptyAudio, ForbiddenSource

from .conftest import FORMATS

CONFIG = SpeechConfig()


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_decodes_to_16k(converted, clip, name):
    audio = decode(converted[name], CONFIG)
    reference = decode(clip[0], CONFIG)
    assert audio.channels[0].dtype == np.float32
    assert len(audio.channels) == (2 if "stereo" in name else 1)
    # AMR's comfort-noise frames are dropped by ffmpeg's decoder: a little shorter.
    assert abs(audio.duration - reference.duration) < (1.0 if name == "amr" else 0.15)
    assert np.max(np.abs(audio.channels[0])) > 0.05


def test_source_rate_and_channels_reported(converted):
    phone = decode(converted["wav8k_mulaw"], CONFIG)
    assert (phone.source_rate, phone.source_channels, phone.format) == (8000, 1, "wav")
    stereo = decode(converted["wav44k_stereo_dualmono"], CONFIG)
    assert (stereo.source_rate, stereo.source_channels) == (44100, 2)


def test_bytes_and_streams(clip):
    data = clip[0].read_bytes()
    from_file = decode(clip[0], CONFIG)
    for source in (data, bytearray(data), io.BytesIO(data)):
        audio = decode(source, CONFIG)
        assert np.array_equal(audio.channels[0], from_file.channels[0])
    with pytest.raises(TypeError):
        decode(io.StringIO("not audio"), CONFIG)  # type: ignore[arg-type]


def test_stereo_call_keeps_both_channels():
    from .conftest import CLIPS

    audio = decode(CLIPS / "call_stereo.wav", CONFIG)
    assert len(audio.channels) == 2 and audio.source_rate == 8000
    left, right = audio.channels
    # The agent speaks first: at 1 s the left channel has voice and the right is quiet.
    second = slice(SAMPLE_RATE, 2 * SAMPLE_RATE)
    assert np.abs(left[second]).max() > 10 * np.abs(right[second]).max()


def test_empty(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudio):
        decode(empty, CONFIG)
    with pytest.raises(EmptyAudio):
        decode(b"", CONFIG)


def test_header_only_wav_is_broken(tmp_path):
    path = tmp_path / "header.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    with pytest.raises((BrokenAudio, EmptyAudio)):
        decode(path, CONFIG)


def test_truncated_wav_decodes_what_is_there_and_says_so(tmp_path, clip):
    data = clip[0].read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 3])
    audio = decode(path, CONFIG)
    assert 1.5 < audio.duration < 3.0
    assert any(w.startswith("truncated") for w in audio.warnings)


def test_truncated_m4a_is_broken(tmp_path, converted):
    data = converted["m4a"].read_bytes()
    path = tmp_path / "cut.m4a"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BrokenAudio):
        decode(path, CONFIG)


@pytest.mark.parametrize("junk", [b"RIFF\x00\x00", b"\x00" * 5000, bytes(range(256)) * 40, "这不是音频".encode() * 100])
def test_junk_is_broken(tmp_path, junk):
    path = tmp_path / "junk.mp3"
    path.write_bytes(junk)
    with pytest.raises(BrokenAudio):
        decode(path, CONFIG)


def test_oversized_and_overlong(clip):
    with pytest.raises(AudioTooLarge):
        decode(clip[0], SpeechConfig(max_bytes=10_000))
    with pytest.raises(AudioTooLarge):
        decode(clip[0].read_bytes(), SpeechConfig(max_bytes=10_000))
    with pytest.raises(AudioTooLong):
        decode(clip[0], SpeechConfig(max_seconds=2))


def test_overlong_stream_without_duration_is_cut_and_refused(tmp_path, clip):
    # Raw ADTS AAC states no duration: the limit is enforced on what is decoded.
    import subprocess

    path = tmp_path / "long.aac"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "3", "-i", str(clip[0]), "-c:a", "aac", "-f", "adts",
                    str(path)], check=True)
    with pytest.raises(AudioTooLong):
        decode(path, SpeechConfig(max_seconds=10))


def test_decode_timeout(clip):
    with pytest.raises(DecodeTimeout):
        decode(clip[0], SpeechConfig(decode_timeout=0.001))


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Counter.hits = 0
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("name, body", [
    ("playlist.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{url}/a.ts\n#EXT-X-ENDLIST\n"),
    ("list.ffconcat", "ffconcat version 1.0\nfile '{url}/a.wav'\n"),
    ("list.wav", "ffconcat version 1.0\nfile '{url}/a.wav'\n"),
    ("stream.sdp", "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0\n"),
])
def test_files_that_point_at_the_network_are_refused(tmp_path, web, name, body):
    path = tmp_path / name
    path.write_text(body.format(url=web))
    with pytest.raises(BrokenAudio):
        decode(path, CONFIG)
    assert _Counter.hits == 0


@pytest.mark.parametrize("name", ["http://127.0.0.1:9/a.wav", "concat:a.wav|b.wav", "subfile,,start,0,end,9,,:a.wav",
                                  "tcp://127.0.0.1:9", "pipe:0"])
def test_urls_and_protocols_are_refused(name):
    with pytest.raises(ForbiddenSource):
        decode(name, CONFIG)


def test_devices_and_directories_are_refused(tmp_path):
    with pytest.raises(ForbiddenSource):
        decode("/dev/zero", CONFIG)
    with pytest.raises(ForbiddenSource):
        decode(tmp_path, CONFIG)

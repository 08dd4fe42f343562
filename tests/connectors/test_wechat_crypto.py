"""connectors.wechat_crypto: signatures, the AES envelope (checked against WeChat's published sample vectors) and
XML/JSON parsing, plus a fuzz test that nothing but WeChatError ever comes out of the parsers."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.wechat_crypto import (
    BadCiphertext,
    BadSignature,
    Envelope,
    MalformedMessage,
    StaleTimestamp,
    WeChatCrypto,
    WeChatError,
    WrongAppId,
    check_signature,
    check_timestamp,
    parse_envelope,
    parse_message,
    signature,
    to_xml,
)

SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# WeChat's own sample (WXBizMsgCrypt test): fixed random bytes make the ciphertext reproducible.
SAMPLE_CIPHER = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
# WeChat's sample of a pushed message in compatible mode (plaintext fields and Encrypt side by side).
PUSHED_ENCRYPT = ("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGH"
                  "QHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU"
                  "6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HT"
                  "nifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMy"
                  "VWQLCzpu9GhglF2PE=")


def test_sample_ciphertext() -> None:
    crypto = WeChatCrypto("pamtest", SAMPLE_KEY, "wxb11529c136998cb6")
    assert crypto.encrypt("我是中文abcd123".encode(), random=b"aaaabbbbccccdddd") == SAMPLE_CIPHER
    assert crypto.decrypt(SAMPLE_CIPHER).decode() == "我是中文abcd123"


def test_sample_push() -> None:
    crypto = WeChatCrypto("spamtest", SAMPLE_KEY, "wx2c2769f8efd9abc2")
    plain = crypto.open(Envelope(PUSHED_ENCRYPT), "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669",
                        "1320562132")
    message = parse_message(plain)
    assert (message.msg_type, message.content, message.msg_id) == ("text", "abcdteT", "6054768590064713728")
    assert message.dedup_key == "msg:6054768590064713728"
    with pytest.raises(WrongAppId):
        WeChatCrypto("spamtest", SAMPLE_KEY, "wx0000000000000000").decrypt(PUSHED_ENCRYPT)


def test_signature_order_and_constant_time_check() -> None:
    assert signature("t", "b", "a") == signature("t", "a", "b")
    check_signature(signature("tok", "1", "2"), "tok", "1", "2")
    check_signature(signature("tok", "1", "2").upper(), "tok", "1", "2")
    for bad in ("", "0" * 40, "不是签名"):
        with pytest.raises(BadSignature):
            check_signature(bad, "tok", "1", "2")


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "١٢٣", "9" * 20, "-301", "+301"])
def test_stale_or_bad_timestamps(stamp: str) -> None:
    now = time.time()
    if stamp in ("-301", "+301"):  # relative to now, when the test runs
        stamp = str(int(now) + int(stamp))
    with pytest.raises(StaleTimestamp):
        check_timestamp(stamp, now, 300)


def test_fresh_timestamp() -> None:
    now = time.time()
    assert check_timestamp(str(int(now) - 299), now, 300) == int(now) - 299


@pytest.mark.parametrize(("token", "key", "appid"), [("", SAMPLE_KEY, "wx1"), ("t", SAMPLE_KEY[:-1], "wx1"),
                                                     ("t", SAMPLE_KEY[:-1] + "=", "wx1"), ("t", SAMPLE_KEY, "")])
def test_bad_config(token: str, key: str, appid: str) -> None:
    with pytest.raises(ValueError):
        WeChatCrypto(token, key, appid)


def test_tampered_ciphertext() -> None:
    crypto = WeChatCrypto("pamtest", SAMPLE_KEY, "wxb11529c136998cb6")
    raw = bytearray(base64.b64decode(SAMPLE_CIPHER))
    raw[-1] ^= 1
    with pytest.raises((BadCiphertext, WrongAppId)):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())
    for bad in ("", "!!!!", "YWJj", "中文"):
        with pytest.raises(BadCiphertext):
            crypto.decrypt(bad)


def test_xml_and_json_messages() -> None:
    fields = {"ToUserName": "gh_1", "FromUserName": "oABC", "CreateTime": 1700000000, "MsgType": "location",
              "Location_X": 39.99, "Location_Y": 116.48, "Scale": 15, "Label": "朝阳区望京街道", "MsgId": 42}
    from_xml = parse_message(to_xml(fields))
    from_json = parse_message(json.dumps(fields).encode())
    assert (from_xml.latitude, from_xml.longitude, from_xml.label) == (39.99, 116.48, "朝阳区望京街道")
    assert from_xml == from_json
    event = parse_message(to_xml({"ToUserName": "gh_1", "FromUserName": "oABC", "CreateTime": 1700000001,
                                  "MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": "home"}))
    assert event.dedup_key == "evt:oABC:1700000001" and event.session_from == "home"
    assert parse_envelope(to_xml(fields)) is None
    assert parse_envelope(b'{"ToUserName": "gh_1", "Encrypt": "abc"}') == Envelope("abc")


@pytest.mark.parametrize("body", [
    b"", b"hello", b"<xml>", b"<root><ToUserName>a</ToUserName></root>", b"[1, 2]", b'{"ToUserName": 1.5}',
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
    b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>',
    to_xml({"ToUserName": "a", "FromUserName": "b", "CreateTime": "soon", "MsgType": "text"}),
    to_xml({"ToUserName": "a", "FromUserName": "b", "CreateTime": 1, "MsgType": "location", "Location_X": "nan"}),
    b"{" * 100_000 + b"}" * 100_000,
    b"<xml>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</xml>",
    # a UTF-16 document hides its DOCTYPE from any byte search; it is read as UTF-8 and refused
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><xml><Content>&a;</Content>'
    '</xml>'.encode("utf-16-le"),
    '<?xml version="1.0" encoding="UTF-16"?><xml><ToUserName>a</ToUserName></xml>'.encode("utf-16"),
])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(body)


FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "MediaId", "Format",
          "Recognition", "Location_X", "Location_Y", "Label", "PicUrl", "Event", "SessionFrom", "Encrypt"]
_values = st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none(),
                    st.lists(st.integers(), max_size=2), st.sampled_from(["", "1e999", "-0", "1_000", "NaN"]))
_field_dicts = st.dictionaries(st.sampled_from(FIELDS), _values, max_size=8)
_bodies = st.one_of(
    st.binary(max_size=200),
    _field_dicts.map(lambda d: json.dumps(d).encode()),
    _field_dicts.map(lambda d: to_xml({k: v for k, v in d.items() if isinstance(v, (str, int, float))
                                       and "\x00" not in str(v)})),
    # mutate a valid document: flip one byte or cut it short
    st.tuples(_field_dicts.map(lambda d: to_xml({k: str(v) for k, v in d.items() if isinstance(v, int)})),
              st.integers(0, 300), st.integers(0, 255)).map(
        lambda t: t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:]),
)
_CRYPTO = WeChatCrypto("pamtest", SAMPLE_KEY, "wxb11529c136998cb6")
_ciphers = st.one_of(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=120),
    st.binary(max_size=96).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=64).map(lambda b: _CRYPTO.encrypt(b)),  # valid envelope, arbitrary message inside
    st.tuples(st.integers(0, 63), st.integers(1, 255)).map(  # the sample with one bit pattern changed
        lambda t: base64.b64encode(bytes(
            x ^ t[1] if i == t[0] else x for i, x in enumerate(base64.b64decode(SAMPLE_CIPHER)))
        ).decode()),
)
FUZZ_EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", 100_000))
_FULL = {"ToUserName": "gh_1", "FromUserName": "oABC", "CreateTime": 1700000000, "MsgType": "location",
         "Content": "暖气不热", "MsgId": 42, "MediaId": "m1", "Location_X": 39.9, "Location_Y": 116.4, "Label": "望京"}
_TEMPLATES = [to_xml(_FULL), json.dumps(_FULL, ensure_ascii=False).encode(),
              to_xml({"ToUserName": "gh_1", "Encrypt": SAMPLE_CIPHER}),
              json.dumps({"ToUserName": "gh_1", "Encrypt": SAMPLE_CIPHER}).encode()]
_SAMPLE_RAW = base64.b64decode(SAMPLE_CIPHER)


def _splice(doc: bytes, data: bytes) -> bytes:
    """The document with part of it replaced by the fuzz bytes, at a place the bytes choose."""
    if len(data) < 2:
        return doc[:len(doc) * (data[0] if data else 0) // 256]
    at = data[0] * len(doc) // 256
    return doc[:at] + data[2:] + doc[at + data[1] % 16:]


def _inputs(data: bytes, kind: int) -> tuple[bytes, str]:
    """(body, Encrypt) for one fuzz example: raw bytes, a valid document spliced with them, a field holding
    them, and ciphertexts that are garbage, valid around garbage, or WeChat's sample with bytes changed."""
    if kind == 0:
        body = data
    elif kind <= 4:
        body = _splice(_TEMPLATES[kind - 1], data)
    elif kind == 5:
        body = to_xml({**_FULL, "CreateTime": data.decode("utf-8", "replace").replace("\x00", "")})
    else:
        body = json.dumps({**_FULL, "Location_X": data.decode("latin-1")}).encode()
    if kind % 3 == 0:
        encrypt = base64.b64encode(data).decode()
    elif kind % 3 == 1:
        encrypt = _CRYPTO.encrypt(data)
    else:
        encrypt = base64.b64encode(_splice(_SAMPLE_RAW, data)).decode() if kind != 2 else data.decode("latin-1")
    return body, encrypt


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300), kind=st.integers(0, 7))
def test_fuzz_parsing_and_decryption(data: bytes, kind: int) -> None:
    """100,000 inputs by default (HOTLINE_FUZZ_EXAMPLES to change): only WeChatError or a message comes out of
    the XML/JSON parsers and the AES envelope."""
    body, encrypt = _inputs(data, kind)
    _never_crashes(body, encrypt)


@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=_bodies, encrypt=_ciphers)
def test_fuzz_structured_fields(body: bytes, encrypt: str) -> None:
    """Field-aware inputs: any mix of types and values in the fields WeChat sends."""
    _never_crashes(body, encrypt)


def _never_crashes(body: bytes, encrypt: str) -> None:
    for step in (lambda: parse_message(body), lambda: parse_envelope(body),
                 lambda: parse_message(_CRYPTO.decrypt(encrypt))):
        try:
            step()
        except WeChatError:
            pass

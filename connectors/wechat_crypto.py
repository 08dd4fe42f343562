"""WeChat message push, the pure part: signatures, the safe-mode AES envelope and the XML/JSON message formats.

No I/O and no Rasa: every function takes bytes or strings and returns a value or raises a `WeChatError`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAX_BODY = 256 * 1024
"""largest request body parsed: WeChat's messages are a few kilobytes"""
_BLOCK = 32  # WeChat pads to 32 bytes, not to AES's 16
_KEY_CHARS = re.compile(r"^[A-Za-z0-9+/]{43}$")


class WeChatError(Exception):
    """Anything wrong with a request from, or an answer of, WeChat."""


class BadSignature(WeChatError):
    """signature or msg_signature does not match the token"""


class StaleTimestamp(WeChatError):
    """the request's timestamp is missing or outside the accepted window"""


class ReplayedNonce(WeChatError):
    """the nonce was already used within the window"""


class BadCiphertext(WeChatError):
    """the Encrypt field does not decrypt to a well-formed message"""


class WrongAppId(WeChatError):
    """the decrypted message is addressed to another app"""


class MalformedMessage(WeChatError):
    """the body is not a WeChat message in XML or JSON"""


@dataclass(frozen=True)
class WeChatMessage:
    """One pushed message or event, from XML or JSON; fields WeChat did not send are None."""

    to_user: str
    """ToUserName: the mini-program's original id (gh_...)"""
    from_user: str
    """FromUserName: the citizen's openid"""
    create_time: int
    """CreateTime: seconds since the epoch"""
    msg_type: str
    """MsgType: text | voice | image | location | event | miniprogrampage | ..."""
    content: str | None = None
    """Content of a text message"""
    msg_id: str | None = None
    """MsgId: the same on every retry of one message; events have none"""
    media_id: str | None = None
    """MediaId of a voice or image message, for /cgi-bin/media/get"""
    format: str | None = None
    """Format of a voice message (amr, speex, ...)"""
    recognition: str | None = None
    """Recognition: WeChat's own transcript of a voice message, when enabled"""
    latitude: float | None = None
    """Location_X of a location message"""
    longitude: float | None = None
    """Location_Y of a location message"""
    label: str | None = None
    """Label: the place's name or address in a location message"""
    pic_url: str | None = None
    """PicUrl of an image message"""
    event: str | None = None
    """Event of an event message (user_enter_tempsession, ...)"""
    session_from: str | None = None
    """SessionFrom of user_enter_tempsession: what the mini-program passed when opening the chat"""

    @property
    def dedup_key(self) -> str:
        """One key per message however often WeChat retries it: MsgId, or FromUserName+CreateTime for events."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.from_user}:{self.create_time}"


@dataclass(frozen=True)
class Envelope:
    """The outer body of a safe-mode (or compatible-mode) push."""

    encrypt: str
    """Encrypt: base64 of the AES-encrypted message"""


def signature(token: str, *parts: str) -> str:
    """WeChat's signature: SHA-1 of the token and the parts, sorted and joined."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode()).hexdigest()


def check_signature(given: str, token: str, *parts: str) -> None:
    """Raises BadSignature unless `given` is the signature of the parts; compared in constant time."""
    expected = signature(token, *parts)
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise BadSignature("signature mismatch")


def check_timestamp(timestamp: str, now: float, window: float) -> int:
    """The timestamp as an int; raises StaleTimestamp when it is not a number or further than `window` from now."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise StaleTimestamp("timestamp is not a number")
    value = int(timestamp)
    if abs(now - value) > window:
        raise StaleTimestamp(f"timestamp {value} is {now - value:.0f} s from now")
    return value


class WeChatCrypto:
    """WXBizMsgCrypt: AES-256-CBC with the EncodingAESKey, messages bound to one appid."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        if not token:
            raise ValueError("token is empty")
        if not _KEY_CHARS.match(encoding_aes_key or ""):
            raise ValueError("encoding_aes_key must be the 43 characters WeChat's console shows")
        if not appid:
            raise ValueError("appid is empty")
        self.token = token
        self.appid = appid.encode()
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.iv = self.key[:16]

    def encrypt(self, message: bytes, random: bytes | None = None) -> str:
        """Base64 of AES(16 random bytes + length + message + appid), as WeChat sends it."""
        random = random if random is not None else os.urandom(16)
        plain = random + struct.pack(">I", len(message)) + message + self.appid
        pad = _BLOCK - len(plain) % _BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside `encrypt`; raises BadCiphertext or WrongAppId."""
        try:
            raw = base64.b64decode(encrypt.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError) as e:
            raise BadCiphertext("Encrypt is not base64") from e
        if not raw or len(raw) % 16:
            raise BadCiphertext("ciphertext is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise BadCiphertext("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise BadCiphertext("too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise BadCiphertext("length beyond the message")
        message, appid = content[4:4 + length], content[4 + length:]
        if not hmac.compare_digest(appid, self.appid):
            raise WrongAppId("message for another appid")
        return message

    def open(self, envelope: Envelope, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """Check msg_signature over the envelope, then decrypt it."""
        check_signature(msg_signature, self.token, timestamp, nonce, envelope.encrypt)
        return self.decrypt(envelope.encrypt)


def body_format(body: bytes) -> str:
    """xml or json, from the first character that is not white space."""
    start = body.lstrip()[:1]
    if start == b"<":
        return "xml"
    if start == b"{":
        return "json"
    raise MalformedMessage("body is neither XML nor JSON")


def _fields(body: bytes) -> dict[str, Any]:
    """The top-level fields of an XML or JSON body."""
    if len(body) > MAX_BODY:
        raise MalformedMessage(f"body larger than {MAX_BODY} bytes")
    if body_format(body) == "json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
            raise MalformedMessage("body is not JSON") from e
        if not isinstance(data, dict):
            raise MalformedMessage("JSON body is not an object")
        return data
    return _xml_fields(body)


def _xml_fields(body: bytes) -> dict[str, str]:
    """The text of each child of the <xml> root. Read as UTF-8 whatever the document declares (a UTF-16 body
    cannot smuggle a DOCTYPE past a byte check), and any document type declaration is refused, so no entity
    is ever defined or expanded."""
    parser = expat.ParserCreate(encoding="UTF-8")
    fields: dict[str, str] = {}
    stack: list[str] = []
    text: list[str] = []
    roots: list[str] = []

    def start(name: str, _attrs: Any) -> None:
        if not stack:
            roots.append(name)
        stack.append(name)
        if len(stack) == 2:
            text.clear()

    def end(name: str) -> None:
        if len(stack) == 2:
            fields[name] = "".join(text)
        stack.pop()

    def chars(data: str) -> None:
        if len(stack) == 2:
            text.append(data)

    def refuse(*_args: Any) -> None:
        raise MalformedMessage("document type declarations are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, ValueError, RecursionError) as e:
        raise MalformedMessage("body is not XML") from e
    if roots != ["xml"]:
        raise MalformedMessage("root element is not <xml>")
    return fields


def parse_envelope(body: bytes) -> Envelope | None:
    """The Encrypt field of a body, or None when the body carries the message in plaintext only."""
    fields = _fields(body)
    encrypt = fields.get("Encrypt")
    if encrypt is None:
        return None
    if not isinstance(encrypt, str) or not encrypt:
        raise MalformedMessage("Encrypt is not a string")
    return Envelope(encrypt)


def parse_message(body: bytes) -> WeChatMessage:
    """A plaintext XML or JSON message; raises MalformedMessage."""
    fields = _fields(body)
    return WeChatMessage(
        to_user=_required(fields, "ToUserName"), from_user=_required(fields, "FromUserName"),
        create_time=_int(fields, "CreateTime"), msg_type=_required(fields, "MsgType"),
        content=_text(fields, "Content"), msg_id=_text(fields, "MsgId"), media_id=_text(fields, "MediaId"),
        format=_text(fields, "Format"), recognition=_text(fields, "Recognition"),
        latitude=_float(fields, "Location_X", 90), longitude=_float(fields, "Location_Y", 180),
        label=_text(fields, "Label"), pic_url=_text(fields, "PicUrl"), event=_text(fields, "Event"),
        session_from=_text(fields, "SessionFrom"))


def to_xml(fields: dict[str, str | int | float]) -> bytes:
    """An <xml> body with one element per field: how tests and fakes speak WeChat's XML."""
    root = ET.Element("xml")
    for name, value in fields.items():
        ET.SubElement(root, name).text = str(value)
    return bytes(ET.tostring(root, encoding="utf-8"))


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedMessage(f"{name} is not a string")
    text = str(value)
    return text or None


def _required(fields: dict[str, Any], name: str) -> str:
    value = _text(fields, name)
    if value is None:
        raise MalformedMessage(f"{name} is missing")
    return value


def _int(fields: dict[str, Any], name: str) -> int:
    value = _required(fields, name).strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise MalformedMessage(f"{name} is not a number")
    return int(value)


def _float(fields: dict[str, Any], name: str, limit: float) -> float | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedMessage(f"{name} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise MalformedMessage(f"{name} is not a number") from e
    if not -limit <= number <= limit:  # also rejects nan
        raise MalformedMessage(f"{name} is out of range")
    return number

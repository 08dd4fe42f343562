"""What the WeChat channel makes of messages besides the conversation: a record from a voice message or a
shared location, an image attached to the citizen's record, a handoff when WeChat refuses the reply.

Synchronous and heavy (speech and intake models load on first use): the channel calls it through
asyncio.to_thread. Record ids come from the inbox key, so doing a step again after a crash updates the same
record instead of adding one."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from bot.intake.errors import IntakeError

if TYPE_CHECKING:
    from bot.intake.extractor import Extractor
    from bot.record import ComplaintRecord
    from bot.speech import SpeechConfig
    from bot.storage import Storage
    from connectors.wechat_crypto import WeChatMessage

CHANNEL = "wechat"
NO_TEXT = "（微信消息，无可识别的文字）"


class Intake:
    """Records from WeChat messages in the project database; models load once, on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._extractor: Extractor | None = None
        self._speech: SpeechConfig | None = None

    def extractor(self) -> Extractor:
        with self._lock:
            if self._extractor is None:
                from bot.intake.extractor import Extractor

                self._extractor = Extractor.load()
            return self._extractor

    def speech(self) -> SpeechConfig:
        with self._lock:
            if self._speech is None:
                from bot.speech import SpeechConfig

                self._speech = SpeechConfig.from_env()
            return self._speech

    def voice(self, db_url: str | None, path: Path, message: WeChatMessage, key: str) -> str | None:
        """Transcribe a voice message and store its record for an agent; the transcript, or None when nothing
        was heard."""
        from bot.voice import record_from_audio

        try:
            voice = record_from_audio(path, self.extractor(), self.speech(), channel=CHANNEL, message_id=key)
        except IntakeError:
            return message.recognition  # WeChat's own transcript, when the app has it enabled
        _storage(db_url).save(voice.record, "handoff", conversation_id=message.from_user, media=str(path))
        return voice.transcript.text

    def location(self, db_url: str | None, message: WeChatMessage, key: str) -> None:
        """A record placed where the citizen shared their location, unless the label says nothing a record
        can be made of."""
        from bot.intake.extractor import Message

        try:
            record = self.extractor().extract(Message(message.label or "位置", channel=CHANNEL, message_id=key))
        except IntakeError:
            return
        # The gazetteer has names, not coordinates: the district comes from the label, the point is kept.
        record.location.latitude, record.location.longitude = message.latitude, message.longitude
        if not record.location.address and message.label:
            record.location.address = message.label
        _storage(db_url).save(record, "handoff", conversation_id=message.from_user)

    def attach(self, db_url: str | None, openid: str, image: str) -> bool:
        """Attach an image file to the citizen's latest record; False when they have none yet."""
        storage = _storage(db_url)
        found = storage.by_conversation(openid)
        if not found:
            return False
        latest = max(found, key=lambda r: r.created_at)
        storage.attach_image(latest.id, image, CHANNEL)
        return True

    def handoff(self, db_url: str | None, message: WeChatMessage, key: str, error: str, media: str | None) -> None:
        """A record of this message for an agent, noting why the bot could not answer."""
        from bot.intake.extractor import Message

        text = message.content or message.recognition or message.label or ""
        note = f"微信未能回复：{error[:200]}"
        try:
            record: ComplaintRecord = self.extractor().extract(Message(text or NO_TEXT, channel=CHANNEL,
                                                                       message_id=key))
        except IntakeError:  # only symbols or emoji: the note carries what the citizen sent
            record = self.extractor().extract(Message(NO_TEXT, channel=CHANNEL, message_id=key))
            note += f"；原消息：{text[:200]}"
        storage = _storage(db_url)
        # The voice or location record this message already made is the one handed off; `media` of a record
        # is its recording.
        stored = storage.hand_off(record, CHANNEL, note, conversation_id=message.from_user,
                                  media=media if message.msg_type == "voice" else None)
        if media and message.msg_type == "image":
            storage.attach_image(stored.id, media, CHANNEL)


def _storage(db_url: str | None) -> Storage:
    from bot.storage import load_storage

    return load_storage(db_url)

"""Speech front end: recordings and voice messages → Transcript (plain Python, no Rasa)."""

from bot.speech.config import SpeechConfig
from bot.speech.errors import AudioError
from bot.speech.pipeline import Segment, Transcript, transcribe

__all__ = ["AudioError", "Segment", "SpeechConfig", "Transcript", "transcribe"]

"""Errors of the speech front end: each message is the one-line reason shown to users."""

from bot.intake.errors import IntakeError


class AudioError(IntakeError):
    """Audio that cannot become a transcript."""


class EmptyAudio(AudioError):
    """A file with no bytes or no samples."""


class AudioTooLarge(AudioError):
    """Over the configured size."""


class AudioTooLong(AudioError):
    """Over the configured duration."""


class BrokenAudio(AudioError):
    """Not a readable audio file, or no audio stream in it."""


class ForbiddenSource(AudioError):
    """A URL, an ffmpeg protocol or a device instead of a local file."""


class DecodeTimeout(AudioError):
    """ffmpeg took longer than the configured time-out."""

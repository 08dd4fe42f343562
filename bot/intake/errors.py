"""Errors of the text intake."""


class IntakeError(ValueError):
    """Input that cannot become a record; the message is the one-line reason shown to users."""

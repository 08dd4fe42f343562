"""Rasa input channels (WeChat mini-program, recording upload)."""

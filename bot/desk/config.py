"""Where the desk listens and how its sessions behave."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DeskConfig:
    """Where the desk listens and how its sessions behave."""

    host: str = "127.0.0.1"
    """listen address; loopback unless a proxy in front terminates HTTPS"""
    port: int = 8090
    """listen port"""
    secure_cookies: bool = False
    """mark cookies Secure: set when agents reach the desk over HTTPS"""
    session_hours: float = 12
    """a login lasts one shift"""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"desk port must be 1-65535, got {self.port}")
        if not 0 < self.session_hours <= 24 * 7:
            raise ValueError(f"desk session hours must be within 0-168, got {self.session_hours}")

    @classmethod
    def from_env(cls) -> DeskConfig:
        """HOTLINE_DESK_HOST, HOTLINE_DESK_PORT, HOTLINE_DESK_SECURE_COOKIES=1, HOTLINE_DESK_SESSION_HOURS."""
        env = os.environ
        try:
            return cls(host=env.get("HOTLINE_DESK_HOST", cls.host), port=int(env.get("HOTLINE_DESK_PORT", cls.port)),
                       secure_cookies=env.get("HOTLINE_DESK_SECURE_COOKIES", "") in ("1", "true", "yes"),
                       session_hours=float(env.get("HOTLINE_DESK_SESSION_HOURS", cls.session_hours)))
        except ValueError as e:
            raise ValueError(f"desk configuration: {e}") from None

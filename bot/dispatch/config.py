"""Dispatch settings: embedded defaults, overridden by HOTLINE_DISPATCH_* variables, checked at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.envconfig import env_values

FORMATS = ("json", "open311")

# Variable name -> field; all are optional.
_ENV = {
    "HOTLINE_DISPATCH_URL": "url",
    "HOTLINE_DISPATCH_FORMAT": "format",
    "HOTLINE_DISPATCH_API_KEY": "api_key",
    "HOTLINE_DISPATCH_JURISDICTION": "jurisdiction",
    "HOTLINE_DISPATCH_CONNECT_TIMEOUT": "connect_timeout",
    "HOTLINE_DISPATCH_TIMEOUT": "total_timeout",
    "HOTLINE_DISPATCH_MAX_ATTEMPTS": "max_attempts",
    "HOTLINE_DISPATCH_BACKOFF_BASE": "backoff_base",
    "HOTLINE_DISPATCH_BACKOFF_CAP": "backoff_cap",
    "HOTLINE_DISPATCH_CONCURRENCY": "concurrency",
    "HOTLINE_DISPATCH_LEASE": "lease",
    "HOTLINE_DISPATCH_POLL_INTERVAL": "poll_interval",
    "HOTLINE_DISPATCH_STATUS_INTERVAL": "status_interval",
}


@dataclass(frozen=True)
class DispatchConfig:
    """Where records go, in which protocol, and how hard the relay tries."""

    url: str = "http://127.0.0.1:8088"
    """base URL of the dispatch API (the JSON routes and /open311/v2 hang below it)"""
    format: str = "json"
    """json: the project's record as JSON; open311: a GeoReport v2 service request"""
    api_key: str | None = None
    """Open311 api_key, sent with every request made in that protocol"""
    jurisdiction: str | None = None
    """Open311 jurisdiction_id, for endpoints that serve several"""
    connect_timeout: float = 3.0
    """seconds to open a connection"""
    total_timeout: float = 15.0
    """seconds for a whole request, answer included"""
    max_attempts: int = 8
    """attempts before a record goes back to the agent desk; with the default backoff, 8 attempts span
    about 10 minutes of a receiver's outage on average, 21 at most"""
    backoff_base: float = 10.0
    """seconds: the first retry waits up to this, each next one up to twice as long (full jitter)"""
    backoff_cap: float = 900.0
    """seconds: no retry waits longer"""
    concurrency: int = 8
    """requests in flight at once"""
    lease: float = 60.0
    """seconds a claimed row belongs to this relay; longer than a request may take"""
    poll_interval: float = 1.0
    """seconds between looks at the outbox when nothing is due"""
    status_interval: float = 300.0
    """seconds between read-backs of the remote status of delivered records"""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{_var('url')} must be http(s)://host[:port][/path], got {self.url!r}")
        if self.format not in FORMATS:
            raise ValueError(f"{_var('format')} must be one of {', '.join(FORMATS)}, got {self.format!r}")
        for name in ("connect_timeout", "total_timeout", "backoff_base", "poll_interval", "status_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{_var(name)} must be a positive number of seconds, got {getattr(self, name)}")
        if self.connect_timeout > self.total_timeout:
            raise ValueError(f"{_var('connect_timeout')} ({self.connect_timeout}) cannot exceed "
                             f"{_var('total_timeout')} ({self.total_timeout})")
        if self.backoff_cap < self.backoff_base:
            raise ValueError(f"{_var('backoff_cap')} ({self.backoff_cap}) must be at least "
                             f"{_var('backoff_base')} ({self.backoff_base})")
        for name in ("max_attempts", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{_var(name)} must be at least 1, got {getattr(self, name)}")
        # A lease that ends while its request may still be under way lets a second relay send the row too.
        if self.lease <= self.total_timeout:
            raise ValueError(f"{_var('lease')} ({self.lease} s) must exceed {_var('total_timeout')} "
                             f"({self.total_timeout} s)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DispatchConfig:
        """The defaults overridden by HOTLINE_DISPATCH_* variables; a bad value raises ValueError."""
        values = env_values(cls, _ENV, environ)
        return cls(**values)


def _var(name: str) -> str:
    """The variable that sets a field, for messages."""
    return next(var for var, field in _ENV.items() if field == name)

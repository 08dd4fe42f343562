"""Settings from environment variables, typed by the dataclass fields they set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any


def env_values(cls: type, variables: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """{field: value} for each of `variables` (variable -> field of dataclass `cls`) set to a non-empty value,
    converted to the field's int or float type; a value that does not convert raises ValueError naming it."""
    env = os.environ if environ is None else environ
    kinds = {f.name: f.type for f in fields(cls)}
    values: dict[str, Any] = {}
    for var, name in variables.items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        kind = kinds[name]
        try:
            values[name] = int(raw) if kind == "int" else float(raw) if kind == "float" else raw
        except ValueError:
            number = "a whole number" if kind == "int" else "a number"
            raise ValueError(f"{var} must be {number}, got {raw!r}") from None
    return values

"""Who must act on a record: the dispatch catalogue (bot/data/routing.yml)."""

from __future__ import annotations

from functools import lru_cache

import yaml

from bot import DATA_DIR
from bot.record import Unit

_LEVELS = ("district", "city", "enterprise")


class Router:
    """Maps subcategory and location to responsible units, street/town office first."""

    def __init__(self, catalogue: dict[str, list[str]], default: list[str], subcategories: list[str]) -> None:
        missing = set(subcategories) - set(catalogue)
        if missing:
            raise ValueError(f"dispatch catalogue lacks subcategories: {sorted(missing)}")
        for code, specs in catalogue.items():
            for spec in specs:
                if spec != "street" and spec.split(":", 1)[0] not in _LEVELS:
                    raise ValueError(f"dispatch catalogue {code}: unknown unit {spec!r}")
        self.catalogue = catalogue
        self.default = default

    @classmethod
    def from_file(cls, subcategories: list[str]) -> Router:
        raw = yaml.safe_load((DATA_DIR / "routing.yml").read_text(encoding="utf-8"))
        return cls(raw["units"], raw["default"], subcategories)

    def units(self, subcategory: str | None, district: str | None, street: str | None) -> list[Unit]:
        """Responsible units; location-bound units are left out where the location is unknown."""
        out: list[Unit] = []
        for spec in self.catalogue.get(subcategory or "", self.default):
            if spec == "street":
                if district and street:
                    office = "人民政府" if street.endswith(("镇", "乡")) else "办事处"
                    out.append(Unit(f"{district}{street}{office}", "street"))
                continue
            level, name = spec.split(":", 1)
            if level == "district":
                if district:
                    out.append(Unit(f"{district}{name}", "district"))
            else:
                out.append(Unit(name, level))
        return out


@lru_cache(maxsize=1)
def load_router() -> Router:
    from bot.taxonomy import load_taxonomy

    return Router.from_file(load_taxonomy().subcategory_codes)

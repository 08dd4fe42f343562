"""The label contract: types, urgency levels, redirects, categories (bot/data/taxonomy.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import yaml

from bot import DATA_DIR


@dataclass(frozen=True)
class Subcategory:
    """One `top.sub` code with its Chinese name and evidence words."""

    code: str
    """`top.sub`, e.g. utilities.heating."""
    name: str
    """Chinese name, e.g. 供暖."""
    words: tuple[str, ...]
    """Words whose presence in a text is shown as evidence for this subcategory."""

    @property
    def category(self) -> str:
        return self.code.split(".", 1)[0]


@dataclass(frozen=True)
class Taxonomy:
    """Codes every record uses; loaded once from the project's taxonomy file."""

    types: dict[str, str]
    """type code -> Chinese name (咨询, 求助 ...)."""
    kinds: dict[str, str]
    """type code -> kind (consultation | demand)."""
    urgency_hours: dict[int, int]
    """urgency level (1..4) -> response deadline in hours."""
    urgency_names: dict[int, str]
    """urgency level -> Chinese name (特急 ...)."""
    redirects: dict[str, str]
    """emergency number -> what it is for."""
    categories: dict[str, str]
    """top-level category code -> Chinese name."""
    subcategories: dict[str, Subcategory]
    """`top.sub` code -> subcategory."""

    @property
    def subcategory_codes(self) -> list[str]:
        return list(self.subcategories)


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    raw = yaml.safe_load((DATA_DIR / "taxonomy.yml").read_text(encoding="utf-8"))
    subs: dict[str, Subcategory] = {}
    for top, cat in raw["categories"].items():
        for sub, spec in cat["subs"].items():
            code = f"{top}.{sub}"
            subs[code] = Subcategory(code, spec["name"], tuple(spec.get("words") or ()))
    return Taxonomy(
        types={k: v["name"] for k, v in raw["types"].items()},
        kinds={k: v["kind"] for k, v in raw["types"].items()},
        urgency_hours={int(k): int(v["hours"]) for k, v in raw["urgency"].items()},
        urgency_names={int(k): v["name"] for k, v in raw["urgency"].items()},
        redirects={str(k): v for k, v in raw["redirects"].items()},
        categories={k: v["name"] for k, v in raw["categories"].items()},
        subcategories=subs,
    )

"""The unit directory seed files and the key used to look names up (stdlib only).

Documents name a unit in many ways: 省经信厅, 省经济和信息化厅, 浙江省经济和信息化厅.
seed/units.csv and seed/counties.csv give each unit one canonical name, the
short name documents use, and its other names; this module reads them, and
``normalise_unit_name`` gives the key under which every name is looked up, so
that "各市、县(市、区)政府" and "各市、县〔市、区〕政府" meet.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from os import PathLike

from ..domain.text import clean_text

HEADER = ("canonical_name", "short_name", "aliases", "kind", "parent")
KINDS = frozenset({
    "provincial_department", "customs", "city_government", "county_government",
    "financial_institution", "state_owned_enterprise", "other",
})


@dataclass(frozen=True)
class UnitSeed:
    canonical_name: str
    short_name: str
    aliases: tuple[str, ...]
    kind: str
    parent: str | None  # the parent's canonical name (a county's city government)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the unit goes by: canonical, short, aliases."""
        return tuple(dict.fromkeys((self.canonical_name, self.short_name, *self.aliases)))


# All bracket forms map to ASCII parentheses for the key: documents write
# 〔市、区〕, (市、区) and （市、区） for the same thing.
_BRACKETS = str.maketrans({"（": "(", "〔": "(", "［": "(", "[": "(", "【": "(",
                           "）": ")", "〕": ")", "］": ")", "]": ")", "】": ")"})


def normalise_unit_name(name: str) -> str:
    """The lookup key of a unit name: NFKC (full-width letters and digits to
    ASCII), every bracket as ASCII (), no whitespace at all (a space inside a
    Chinese name is a conversion artefact). For comparison only, never for
    display."""
    key = unicodedata.normalize("NFKC", clean_text(name or "", multiline=False)).translate(_BRACKETS)
    return re.sub(r"\s+", "", key)


def load_unit_seeds(path: str | PathLike[str]) -> list[UnitSeed]:
    """Read a unit seed CSV (UTF-8, header canonical_name,short_name,aliases,
    kind,parent; aliases separated by "|"). Raises ValueError on a wrong
    header, an unknown kind or a row without a canonical name."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != HEADER:
            raise ValueError(f"{path}: header must be {','.join(HEADER)}, got {reader.fieldnames}")
        seeds = []
        for line, row in enumerate(reader, start=2):
            row = {k: clean_text(v or "", multiline=False) for k, v in row.items() if k is not None}
            canonical = (row["canonical_name"] or "").strip()
            kind = (row["kind"] or "").strip()
            if not canonical:
                raise ValueError(f"{path}:{line}: canonical_name is empty")
            if kind not in KINDS:
                raise ValueError(f"{path}:{line}: unknown kind {kind!r} (one of {', '.join(sorted(KINDS))})")
            aliases = tuple(a.strip() for a in (row["aliases"] or "").split("|") if a.strip())
            seeds.append(UnitSeed(
                canonical_name=canonical,
                short_name=(row["short_name"] or "").strip() or canonical,
                aliases=aliases,
                kind=kind,
                parent=(row["parent"] or "").strip() or None,
            ))
    return seeds


def build_alias_index(seeds: list[UnitSeed]) -> dict[str, UnitSeed]:
    """Map the lookup key of every name of every unit to its unit. Raises
    ValueError when one name would mean two units."""
    index: dict[str, UnitSeed] = {}
    for seed in seeds:
        for name in seed.names:
            key = normalise_unit_name(name)
            owner = index.setdefault(key, seed)
            if owner.canonical_name != seed.canonical_name:
                raise ValueError(f"name {name!r} means both {owner.canonical_name} and {seed.canonical_name}")
    return index

"""Responsible units with their roles (stdlib only): what a tag says (see
tags.py) made into ``ParsedUnitRef`` s, and the collectives that stand for
many governments.

* ``(责任单位:省经信厅、省科技厅,各市、县〔市、区〕政府)`` — units listed; the
  first leads, confirmed only where the document says so
  ("列第一位的为牵头单位");
* ``(牵头单位：省商务厅；配合单位：省经信厅、省财政厅)`` — roles stated;
* ``(责任单位：省商务厅（牵头）、省经信厅)`` — the lead marked in place.

Half- and full-width brackets, colons and commas are all accepted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .tags import TagUnits, parse_tag, split_names
from .text import remove_spaces

CITIES_AND_COUNTIES = "cities_and_counties"
CITIES = "cities"


@dataclass(frozen=True)
class ParsedUnitRef:
    name: str  # as written, trimmed; a collective with its brackets as 〔〕
    role: str  # "lead" or "co"
    confirmed: bool  # True only if the document itself says who leads
    collective: str | None  # None, "cities_and_counties" or "cities"


# The collectives: one entry standing for many governments. The bracket may
# be 〔〕, () or （）; "人民政府" and "政府" are both used.
_COLLECTIVES = (
    (re.compile(r"各(?:设区)?市\s*、?\s*县\s*[(（〔]\s*市\s*[、,，]\s*区\s*[)）〕]\s*(?:人民)?政府"), CITIES_AND_COUNTIES),
    (re.compile(r"各市县(?:区)?(?:人民)?政府"), CITIES_AND_COUNTIES),
    (re.compile(r"各设区(?:的)?市(?:人民)?政府"), CITIES),
)


def parse_unit_list(content: str, *, first_listed_leads: bool) -> tuple[tuple[ParsedUnitRef, ...], tuple[str, ...]]:
    """The units of a tag's content (without its outer brackets), in the
    order listed, and the notes found among them ("各单位按职责分工负责,下同").
    ``first_listed_leads`` says whether the document states that the first
    unit listed leads."""
    tag = parse_tag(content)
    if tag is None:  # a bare list of names: listed
        names, notes = split_names(content)
        tag = TagUnits(listed=names, notes=notes)
    refs, _, _, _ = unit_refs(tag, first_listed_leads=first_listed_leads)
    return refs, tuple(tag.notes)


def unit_refs(
    units: TagUnits, *, first_listed_leads: bool, standing_co: list[str] | None = None
) -> tuple[tuple[ParsedUnitRef, ...], str | None, tuple[str, ...], list[str]]:
    """(refs, lead, co-units, warnings) of a tag: who leads is what the tag
    says (牵头, 〈牵头〉), else the first listed; the document's rule, if
    stated, or roles given in the tag confirm it. ``standing_co`` are units
    a rule added to every task ("以下均需X落实，不再列出")."""
    warnings: list[str] = []
    confirmed = False
    if units.lead_marked:
        lead, confirmed = units.lead_marked[0], True
    elif units.leads:
        lead, confirmed = units.leads[0], True
    elif units.listed:
        lead = units.listed[0]
        # "（A指导，B负责落实）": the tag gives roles, so the first listed leads.
        confirmed = first_listed_leads or units.first_listed_leads or bool(units.co)
        if not confirmed and len(units.names) > 1:
            warnings.append(f"文件未写明牵头单位，暂以列第一位的“{lead}”为牵头单位，请核对")
    else:
        lead = None
        warnings.append("括注只写了配合单位，未写明牵头单位，请指定")
    names = [lead] if lead else []
    for name in units.leads + units.listed + units.co + list(standing_co or ()):
        if name not in names:
            names.append(name)
    refs = tuple(unit_ref(n, "lead" if n == lead else "co", confirmed) for n in names)
    display = [r.name for r in refs]
    return refs, (display[0] if lead else None), tuple(display[1:] if lead else display), warnings


def unit_ref(name: str, role: str, confirmed: bool) -> ParsedUnitRef:
    kind = collective_kind(name)
    if kind:
        name = collective_display_name(name)
    return ParsedUnitRef(name=name, role=role, confirmed=confirmed, collective=kind)


def collective_kind(name: str) -> str | None:
    """"cities_and_counties", "cities" or None for a unit name."""
    for pattern, kind in _COLLECTIVES:
        if pattern.fullmatch(remove_spaces(name)):
            return kind
    return None


def collective_display_name(name: str) -> str:
    """A collective's name as written, with its bracket as full-width 〔〕
    (the form of official documents): "各市、县(市、区)政府" -> "各市、县〔市、区〕政府"."""
    name = remove_spaces(name)
    return re.sub(r"[(（〔]\s*市\s*[、,，]\s*区\s*[)）〕]", "〔市、区〕", name)

"""The list of responsible units at the end of a task (stdlib only).

Forms met in provincial documents, all handled here:

* ``(责任单位:省经信厅、省科技厅,各市、县〔市、区〕政府)`` — units in the
  official order of departments; the document may or may not say elsewhere
  that the first one leads ("列第一位的为牵头单位");
* ``(牵头单位：省商务厅；配合单位：省经信厅、省财政厅)`` — roles stated;
* ``(责任单位：省商务厅（牵头）、省经信厅)`` — the lead marked in place.

Half- and full-width brackets, colons and commas are all accepted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import closing_index, remove_spaces, split_top_level

CITIES_AND_COUNTIES = "cities_and_counties"
CITIES = "cities"


@dataclass(frozen=True)
class ParsedUnitRef:
    name: str  # as written, trimmed; a collective with its brackets as 〔〕
    role: str  # "lead" or "co"
    confirmed: bool  # True only if the document itself says who leads
    collective: str | None  # None, "cities_and_counties" or "cities"


# A label opening a list or a part of it, e.g. "责任单位:" or "配合单位：".
# The group names the role the label gives its units.
_LABEL = re.compile(
    r"(?:(?P<lead>牵头单位|牵头部门|主责单位|主办单位)"
    r"|(?P<co>配合单位|配合部门|协同单位|协办单位|参与单位|参加单位)"
    r"|(?P<listed>责任单位|责任部门|实施单位|承办单位))\s*[:：]"
)

# Where a unit list starts in a task: an opening bracket directly followed by
# one of the labels above.
UNIT_BLOCK_START = re.compile(r"[(（]\s*(?=" + _LABEL.pattern + ")")

# A sentence, anywhere in a document, saying that the first unit listed leads:
# "列第一位的为牵头单位", "排在第一位的部门为牵头部门", "排名第一的单位为牵头单位",
# "第一个单位为牵头单位".
FIRST_LISTED_LEADS = re.compile(
    r"(?:(?:列|排)(?:在|名)?\s*(?:第一位|首位|第一)\s*的?\s*(?:单位|部门)?"
    r"|第一(?:个|家)?(?:单位|部门))\s*(?:为|是)\s*牵头(?:单位|部门)"
)

# The collectives: one entry standing for many governments. The bracket may
# be 〔〕, () or （）; "人民政府" and "政府" are both used. "各市、县〔市、区〕政府"
# is written with a "、" outside its bracket, so it must be recognised before
# the list is split at "、".
_COLLECTIVES = (
    (re.compile(r"各(?:设区)?市\s*、?\s*县\s*[(（〔]\s*市\s*[、,，]\s*区\s*[)）〕]\s*(?:人民)?政府"), CITIES_AND_COUNTIES),
    (re.compile(r"各市县(?:区)?(?:人民)?政府"), CITIES_AND_COUNTIES),
    (re.compile(r"各设区(?:的)?市(?:人民)?政府"), CITIES),
)

# Remarks that sit in a unit list but are not units: "各单位按职责分工负责,下同"
# (a note for the whole plan), "列第一位的为牵头单位,下同", or a bare "下同".
_NOTE = re.compile(
    r"(?:(?:各(?:有关)?(?:单位|部门))?按(?:照)?职责(?:分工)?(?:抓好落实|负责)|" + FIRST_LISTED_LEADS.pattern + ")"
    r"(?:\s*[,，]\s*下同)?"
    r"|(?<![\u4e00-\u9fff])下同(?![\u4e00-\u9fff])"
)

# "(牵头)" written after a unit's name inside a 责任单位 list.
_LEAD_MARK = re.compile(r"\s*[(（]\s*牵头\s*[)）]\s*$")

_SEPARATORS = "、,，;；"
_PLACEHOLDER = "\x00{}\x00"


def find_unit_block(text: str) -> tuple[int, int] | None:
    """The span (start, end) of the unit list in a task's text, brackets
    included, or None. The last bracketed list wins: the list closes a task."""
    found = None
    for match in UNIT_BLOCK_START.finditer(text):
        close = closing_index(text, match.start())
        if close != -1:
            found = (match.start(), close + 1)
    return found


def parse_unit_list(content: str, *, first_listed_leads: bool) -> tuple[tuple[ParsedUnitRef, ...], tuple[str, ...]]:
    """Parse the inside of a unit list (without its outer brackets).

    Returns the units in the order listed and the notes found among them.
    ``first_listed_leads`` says whether the document states that the first
    unit of a plain 责任单位 list leads; if not, the first unit is still
    proposed as lead, but unconfirmed.
    """
    refs: list[ParsedUnitRef] = []
    notes: list[str] = []
    for label, body in _labelled_parts(content):
        names, part_notes = _split_names(body)
        notes.extend(part_notes)
        if label == "lead":
            refs.extend(_ref(name, "lead", True) for name in names)
        elif label == "co":
            refs.extend(_ref(name, "co", True) for name in names)
        else:
            refs.extend(_listed_refs(names, first_listed_leads, has_lead=any(r.role == "lead" for r in refs)))
    return _dedupe(refs), tuple(notes)


def _labelled_parts(content: str) -> list[tuple[str, str]]:
    matches = list(_LABEL.finditer(content))
    if not matches:
        return [("listed", content)]
    parts = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(content)
        parts.append((match.lastgroup or "listed", content[match.end():end]))
    return parts


def _split_names(body: str) -> tuple[list[str], list[str]]:
    notes = [remove_spaces(m.group()) for m in _NOTE.finditer(body)]
    body = _NOTE.sub("", body)
    collectives: list[str] = []

    def hold(match: re.Match[str]) -> str:
        collectives.append(match.group())
        return _PLACEHOLDER.format(len(collectives) - 1)

    for pattern, _kind in _COLLECTIVES:
        body = pattern.sub(hold, body)
    names = []
    for item in split_top_level(body, _SEPARATORS):
        item = remove_spaces(item).strip(" 。.")
        item = re.sub(r"等$", "", item) if len(item) > 2 else item
        if not item:
            continue
        placeholder = re.fullmatch("\x00(\\d+)\x00", item)
        names.append(collectives[int(placeholder.group(1))] if placeholder else item)
    return names, notes


def _listed_refs(names: list[str], first_listed_leads: bool, *, has_lead: bool) -> list[ParsedUnitRef]:
    marked = [bool(_LEAD_MARK.search(name)) for name in names]
    names = [_LEAD_MARK.sub("", name) for name in names]
    if any(marked):
        return [_ref(name, "lead" if lead else "co", True) for name, lead in zip(names, marked)]
    if has_lead:  # a 牵头单位 part came first; the listed ones contribute
        return [_ref(name, "co", True) for name in names]
    return [_ref(name, "lead" if i == 0 else "co", first_listed_leads) for i, name in enumerate(names)]


def _ref(name: str, role: str, confirmed: bool) -> ParsedUnitRef:
    collective = collective_kind(name)
    if collective:
        name = collective_display_name(name)
    return ParsedUnitRef(name=name, role=role, confirmed=confirmed, collective=collective)


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


def _dedupe(refs: list[ParsedUnitRef]) -> tuple[ParsedUnitRef, ...]:
    seen: set[str] = set()
    unique = []
    for ref in refs:
        if ref.name not in seen:
            seen.add(ref.name)
            unique.append(ref)
    return tuple(unique)

"""Text hygiene: what users type is cleaned once, where it enters.

Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) let a
file name such as "报告\u202excod.exe" read as "报告exe.docx", and control
characters (C0 except tab and newline, DEL, C1) hide text or break the
documents and messages it is copied into. Both are removed from file names,
unit names and report text on the way in (`clean_text`). A lone surrogate
("\\ud800") is no character at all: the web layer refuses it with 400
before any of this runs (`has_lone_surrogate`), and `clean_text` drops any
that reach it some other way.
"""
from __future__ import annotations

import re

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# C0 controls but tab (09) and newline (0A); DEL; C1; the bidi controls; lone surrogates.
_UNWANTED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI_CONTROLS + "\ud800-\udfff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n?")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """`value` without bidi controls and control characters. Line breaks
    become "\\n" (a browser sends "\\r\\n"); with multiline=False (names)
    tabs and line breaks become one space each."""
    value = _LINE_BREAKS.sub("\n", value)
    value = _UNWANTED.sub("", value)
    if not multiline:
        value = value.replace("\t", " ").replace("\n", " ")
    return value


def has_lone_surrogate(value: str) -> bool:
    return _SURROGATE.search(value) is not None

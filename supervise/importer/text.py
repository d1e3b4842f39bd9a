"""Text helpers shared by the importer modules (stdlib only).

Plan documents reach the system as Markdown converted from PDF or Word. The
conversion leaves three kinds of damage that every part of the parser meets:

* spaces between Chinese characters ("加力 推动"), where a line was wrapped;
* page breaks inside a word or sentence ("专精特\\n\\n新企业"), which look like
  paragraph breaks;
* the odd machine-translated word ("细分行业 and 细分市场").

The helpers here repair those, split the text into paragraphs, and scan text
with bracket depth in mind, because the separators the parser cuts on ("、",
"，") also occur inside brackets ("县〔市、区〕").
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Characters between which a space is always a conversion artefact: CJK
# ideographs, CJK punctuation (without U+3000, the ideographic space itself),
# full-width forms, and the curly quotes and em dash of Chinese typesetting.
_CJK = "\u2014\u2018\u2019\u201c\u201d\u3001-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uffef"
_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# A run of blanks (ASCII, ideographic or no-break space) with CJK on both sides.
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u3000\u00a0]+(?=[{_CJK}])")

# English conjunctions between two ideographs: machine-translation residue of
# the conversion ("细分行业 and 细分市场" -> "细分行业和细分市场").
_STRAY_ENGLISH = (
    (re.compile(rf"(?<=[{_IDEOGRAPH}])\s*\band\b\s*(?=[{_IDEOGRAPH}])"), "和"),
    (re.compile(rf"(?<=[{_IDEOGRAPH}])\s*\bor\b\s*(?=[{_IDEOGRAPH}])"), "或"),
)

# Brackets and quotes whose content must not be cut by the separators.
OPENERS = "(（〔[［【《“‘「『"
CLOSERS = ")）〕]］】》”’」』"

# A paragraph that ends in one of these ended a sentence, so the next
# paragraph is a real new paragraph, not the rest of a sentence cut by a page
# break. Closing brackets and quotes after the mark are looked through.
_SENTENCE_END = "。！？!?；;：:"

_CHINESE_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
                   "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}


def clean_inline(text: str) -> str:
    """Repair conversion artefacts inside one piece of running text.

    Spaces next to digits or Latin letters are kept ("5000 家", "2.0 战略"):
    they are how the document was typeset and removing them consistently is
    not possible without changing what was written.
    """
    for pattern, replacement in _STRAY_ENGLISH:
        text = pattern.sub(replacement, text)
    return _SPACE_BETWEEN_CJK.sub("", text)


def remove_spaces(text: str) -> str:
    """Drop every blank, except one between two Latin letters or digits
    ("Phase 2" stays readable). Used for titles and short names, where the
    spaces are always conversion artefacts."""
    return re.sub(r"(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])", "", text).strip()


def ends_sentence(text: str) -> bool:
    """Whether a piece of text ends with sentence-final punctuation, looking
    through closing brackets and quotes ("…。”" ends a sentence, "…政府)"
    does not)."""
    stripped = text.rstrip()
    while stripped and stripped[-1] in CLOSERS:
        stripped = stripped[:-1].rstrip()
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def join_pieces(pieces: list[str]) -> str:
    """Join the paragraphs of one item (a task, a measure).

    A paragraph that does not end a sentence was cut by a page break: the
    next one continues the same sentence and is joined without a separator
    ("专精特" + "新企业"). After a finished sentence the next paragraph is a
    real one and is kept on its own line.
    """
    joined = ""
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if not joined:
            joined = piece
        elif ends_sentence(joined):
            joined += "\n" + piece
        else:
            joined += piece
    return clean_inline(joined)


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the document as read (see reader.py)."""

    text: str
    line: int  # 1-based line of the source where the paragraph starts (for messages)


def closing_index(text: str, open_index: int) -> int:
    """Index of the bracket that closes the one at open_index, or -1.

    Bracket kinds are not matched against each other: documents mix
    half- and full-width forms ("(责任单位:…〔市、区〕政府)"), and depth is all
    that matters for finding the end.
    """
    depth = 0
    for index in range(open_index, len(text)):
        char = text[index]
        if char in OPENERS:
            depth += 1
        elif char in CLOSERS:
            depth -= 1
            if depth == 0:
                return index
    return -1


def top_level_positions(text: str, chars: str) -> list[int]:
    """Positions of the given characters that are outside any bracket or quote."""
    positions, depth = [], 0
    for index, char in enumerate(text):
        if char in OPENERS:
            depth += 1
        elif char in CLOSERS:
            depth = max(depth - 1, 0)
        elif depth == 0 and char in chars:
            positions.append(index)
    return positions


def split_top_level(text: str, separators: str) -> list[str]:
    """Split at separators outside brackets: "各市、县〔市、区〕政府" keeps the
    "、" inside 〔〕 (the one before 县 is handled by the unit-list parser)."""
    parts, last = [], 0
    for index in top_level_positions(text, separators):
        parts.append(text[last:index])
        last = index + 1
    parts.append(text[last:])
    return parts


def chinese_number(text: str) -> int | None:
    """Parse a small Chinese or Arabic numeral: "五" 5, "十二" 12, "二十三" 23,
    "一百" 100, "二〇二四" 2024 (digit by digit), "12" 12. None if not a number."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(unicodedata.normalize("NFKC", text))
    if not any(c in _CHINESE_UNITS for c in text):
        if all(c in _CHINESE_DIGITS for c in text):
            return int("".join(str(_CHINESE_DIGITS[c]) for c in text))
        return None
    total, digit = 0, None
    for char in text:
        if char in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[char]
        elif char in _CHINESE_UNITS:
            total += (1 if digit is None else digit) * _CHINESE_UNITS[char]
            digit = None
        else:
            return None
    return total + (digit or 0)

"""Quantitative targets in the text of a plan (stdlib only).

A target is a number with a measure word and a comparator, with what is
counted written before it ("新增跨境电商应用主体 5000 家以上") or after it
("新增 11 条以上国际全货机航线"), or a multiple of a baseline year
("出口规模较 2024 年翻一番"). Numbers without a measure word and a comparator
("2.0 战略", "9610", "7×24", "2030 年") are not targets, and a number followed
by "的" qualifies what is counted ("年交易额超 10 亿元的龙头企业") rather than
being a target itself.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from decimal import Decimal

from .text import CLOSERS, OPENERS, chinese_number, remove_spaces, split_top_level, top_level_positions

CUMULATIVE = "cumulative"
ANNUAL = "annual"
RATIO = "ratio"


@dataclass(frozen=True)
class ParsedTarget:
    text: str  # the phrase as written, page breaks joined
    value: Decimal
    measure: str  # 家 个 万吨 场 人次 万元 亿元 % 倍 条 ...
    comparator: str  # 以上 不超过 突破 翻一番 超过 达到 以内
    kind: str  # cumulative, annual, ratio
    year: int | None  # the year it is due; None for a 每年 rate
    baseline_year: int | None  # ratio targets: the year compared against
    threshold: str | None  # what qualifies a counted thing ("年交易额超10亿元")
    subject: str  # short name of what is counted


# Measure words that count things: "2 万家" is 20000 家, "10 万人次" is 100000
# 人次. Longest first so that 人次 wins over 人.
_COUNT_MEASURES = ("人次", "家", "个", "条", "场", "项", "件", "所", "座", "名", "人", "次", "批",
                   "艘", "架", "列", "台", "套", "户", "款", "处", "种", "位")
# Units of quantity that Chinese statistics state together with 万 / 亿:
# "50 万吨" stays 50 万吨 and money stays in 万元 / 亿元 as written.
_QUANTITY_MEASURES = ("平方米", "美元", "标箱", "公里", "千米", "千瓦", "吨", "元", "亩")
_PERCENT = ("%", "％")

_MEASURE = "|".join(sorted(_COUNT_MEASURES + _QUANTITY_MEASURES + _PERCENT, key=len, reverse=True))
_MULTIPLIERS = {"千": 1000, "万": 10_000, "亿": 100_000_000}

# Comparators as written -> the normalised set stored with the target.
_PREFIX_COMPARATORS = {"不超过": "不超过", "不少于": "以上", "不低于": "以上", "突破": "突破",
                       "超过": "超过", "达到": "达到", "超": "超过", "达": "达到"}
_SUFFIX_COMPARATORS = {"以上": "以上", "以内": "以内", "以下": "以内", "左右": "达到"}

# number + optional 万/亿 + measure word, with a comparator before or after:
#   "突破 50 万吨", "5000 家以上", "2 万家以上", "3家以上"
# The look-behind keeps "2024" from matching inside "12024" and "2.0" from
# matching as "0".
_QUANTITY = re.compile(
    r"(?:(?P<pre>" + "|".join(sorted(_PREFIX_COMPARATORS, key=len, reverse=True)) + r")\s*)?"
    r"(?<![\d.．])(?P<num>\d+(?:\.\d+)?)\s*"
    r"(?P<mult>[千万亿])?(?P<measure>" + _MEASURE + r")"
    r"(?:\s*(?P<post>" + "|".join(_SUFFIX_COMPARATORS) + r"))?"
)

# A multiple of a baseline: "较 2024 年翻一番", "较2027年再翻一番", "比2020年翻两番".
_RATIO = re.compile(
    r"(?:(?:较|比)\s*(?P<base>\d{4})\s*年(?:底|末)?\s*)?(?:再)?\s*翻\s*(?P<times>[一两二三四\d])\s*番"
)

# When a target is due, said before it in the same paragraph: "到 2027 年",
# "力争到 2030 年", "至2025年底", "2026 年底前".
_DUE_YEAR = re.compile(r"(?:到|至|截至)\s*(?P<a>\d{4})\s*年|(?P<b>\d{4})\s*年(?:底|末)?前")

# A sentence stating a yearly rate: the target is due every year.
_EVERY_YEAR = re.compile(r"每年|每一年|年度内")

# What is counted is a flow over a year (a yearly level, not a total).
_FLOW_SUBJECT = re.compile(r"^年|(?:吞吐|运|交易|业务|进出口|出口|进口|寄递)量|交易额|交易规模|进出口额|出口额|进口额|营业收入|营收|销售额|产值|增加值|增速|增长率|占比|比重")

# Words before what is counted that are not part of its name: scope, time
# and the verb of the sentence ("全省每年举办…", "累计培育…", "引进…"), and
# the adjective 知名 ("知名航空货代企业").
_SUBJECT_PREFIX = re.compile(
    r"^(?:全省|全市|全县|全区|全国|各地|每年|年均|力争|国际[(（]地区[)）]"
    r"|累计|新增|新建|新培育|培育|引育|引进|打造|开展|举办|建设|建成|创建|认定|实现|形成|推动|吸引|知名)"
)

# A modifier before "的" is a threshold only if it states a measure of size.
_THRESHOLD_HINT = re.compile(r"超|以上|以下|不低于|不少于|达到|\d|[百千万亿]元")

# Separators that end the phrase of a target (not "、": it joins the items
# of a list that shares one verb, "政策宣讲、实操培训、主题沙龙等服务对接活动").
_PHRASE_BREAKS = "，,。；;：:\n"
_TRAILING_BREAKS = _PHRASE_BREAKS + "、"


def extract_targets(text: str, *, due_year: int | None) -> tuple[ParsedTarget, ...]:
    """Every quantitative target in a paragraph of plan text, in order.

    ``due_year`` is the year a target is due when the text does not say
    ("到 2027 年" earlier in the text wins).
    """
    context = _Context(text, due_year)
    targets: list[ParsedTarget] = []
    floor = 0  # a target's phrase never reaches back into the previous target
    for match in _candidates(text):
        built = _build(context, match, floor)
        if built is None:
            continue
        target, floor = built
        targets.append(target)
    return tuple(targets)


class _Context:
    """What a target needs to know about the text around it, computed once
    per text so that a long text with many targets stays linear."""

    def __init__(self, text: str, default_year: int | None) -> None:
        self.text = text
        self.default_year = default_year
        self._years = [(m.start(), int(m.group("a") or m.group("b"))) for m in _DUE_YEAR.finditer(text)]
        self._year_positions = [p for p, _ in self._years]
        self._stops = [i for i, c in enumerate(text) if c in "。\n"]
        self._every_year: dict[int, bool] = {}

    def due_year(self, position: int) -> int | None:
        """The last due year stated before position, else the default."""
        index = bisect.bisect_left(self._year_positions, position)
        return self._years[index - 1][1] if index else self.default_year

    def every_year(self, position: int) -> bool:
        """Whether the sentence (up to "。" or a line break) holding position
        states a yearly rate ("全省每年举办…")."""
        index = bisect.bisect_left(self._stops, position)
        if index not in self._every_year:
            start = self._stops[index - 1] + 1 if index else 0
            end = self._stops[index] if index < len(self._stops) else len(self.text)
            self._every_year[index] = bool(_EVERY_YEAR.search(self.text, start, end))
        return self._every_year[index]


def _candidates(text: str) -> list[re.Match[str]]:
    """Ratio and quantity matches in text order, overlaps dropped."""
    matches = sorted([*_RATIO.finditer(text), *_QUANTITY.finditer(text)], key=lambda m: m.start())
    kept: list[re.Match[str]] = []
    for match in matches:
        if kept and match.start() < kept[-1].end():
            continue
        kept.append(match)
    return kept


def _build(context: _Context, match: re.Match[str], floor: int) -> tuple[ParsedTarget, int] | None:
    text = context.text
    is_ratio = match.re is _RATIO
    if not is_ratio:
        if not (match.group("pre") or match.group("post")):
            return None  # a number with a measure word but no comparator: not a target
        if re.match(r"\s*的", text[match.end():]):
            return None  # "超 10 亿元的…": qualifies what is counted
    anchor = match.start()
    start = _phrase_start(text, anchor, floor)
    lead = text[start:anchor]
    trail = _trailing_words(text, match.end())
    end = match.end() + len(trail) if trail.strip() else match.end()
    phrase = text[start:end].strip()
    subject, threshold = _subject(trail if trail.strip() and not is_ratio else lead)

    year = context.due_year(match.start())
    if is_ratio:
        times = chinese_number(match.group("times"))
        return ParsedTarget(
            text=phrase,
            value=Decimal(2) ** (times or 1),
            measure="倍",
            comparator="翻一番",
            kind=RATIO,
            year=year,
            baseline_year=int(match.group("base")) if match.group("base") else None,
            threshold=threshold,
            subject=subject,
        ), end

    value, measure = _value_and_measure(match)
    comparator = (_PREFIX_COMPARATORS.get(match.group("pre") or "")
                  or _SUFFIX_COMPARATORS[match.group("post")])
    if context.every_year(match.start()):
        kind, year = ANNUAL, None
    elif _FLOW_SUBJECT.search(subject) or measure == "%":
        kind = ANNUAL
    else:
        kind = CUMULATIVE
    return ParsedTarget(
        text=phrase,
        value=value,
        measure=measure,
        comparator=comparator,
        kind=kind,
        year=year,
        baseline_year=None,
        threshold=threshold,
        subject=subject,
    ), end


def _value_and_measure(match: re.Match[str]) -> tuple[Decimal, str]:
    value = Decimal(match.group("num"))
    measure = match.group("measure")
    multiplier = match.group("mult")
    if measure in _PERCENT:
        return value, "%"
    if multiplier and measure in _COUNT_MEASURES:
        return value * _MULTIPLIERS[multiplier], measure
    return value, (multiplier or "") + measure


def _phrase_start(text: str, anchor: int, floor: int) -> int:
    """Where the phrase of a target starts: after the nearest separator
    before the anchor that is outside brackets, never before the floor.
    Scans backwards, so a closing bracket opens a level and an opening one
    closes it; an unmatched opening bracket also ends the phrase."""
    depth = 0
    start = floor
    for index in range(anchor - 1, floor - 1, -1):
        char = text[index]
        if char in CLOSERS:
            depth += 1
        elif char in OPENERS:
            if depth == 0:
                start = index + 1
                break
            depth -= 1
        elif depth == 0 and char in _PHRASE_BREAKS:
            start = index + 1
            break
    while start < anchor and (text[start].isspace() or text[start] in "、，,；;"):
        start += 1
    return start


def _trailing_words(text: str, position: int) -> str:
    """Words right after a match up to the next separator: what is counted
    when it follows the number ("11 条以上国际全货机航线")."""
    rest = text[position:]
    depth = 0
    for index, char in enumerate(rest):
        if char in OPENERS:
            depth += 1
        elif char in CLOSERS:
            depth -= 1
            if depth < 0:
                return rest[:index]
        elif depth == 0 and char in _TRAILING_BREAKS:
            return rest[:index]
    return rest


def _subject(words: str) -> tuple[str, str | None]:
    """The short name of what is counted, and the qualifying threshold.

    "引育年交易额超 10 亿元的龙头企业" -> ("龙头企业", "年交易额超10亿元");
    "全省每年举办政策宣讲、实操培训、主题沙龙等服务对接活动" -> ("服务对接活动", None).
    """
    words = words.strip()
    threshold = None
    de = top_level_positions(words, "的")
    if de:
        modifier, words = words[:de[-1]], words[de[-1] + 1:]
        modifier = _strip_prefixes(remove_spaces(modifier))
        if _THRESHOLD_HINT.search(modifier):
            threshold = modifier
    items = split_top_level(words, "、")
    if len(items) > 1:
        # "A、B、C等D": the list names examples of D, the thing counted.
        words = items[-1].split("等")[-1]
    subject = _strip_prefixes(remove_spaces(words))
    return subject, threshold or None


def _strip_prefixes(words: str) -> str:
    while True:
        stripped = _SUBJECT_PREFIX.sub("", words, count=1)
        if stripped == words or not stripped:
            return words
        words = stripped

"""Responsibility tags: the parentheticals that assign a task to units.

A tag is a parenthetical that either carries a label or ends in a verb of
assignment, and whose names all look like units:

* labelled: ``（责任单位：A、B，各市、县〔市、区〕政府）``,
  ``（牵头单位：X；配合单位：Y、Z）``, ``（负责部门：A、B；适用范围：…）``,
  ``（责任单位：A；完成时限：2025年6月底前）``;
* verbs: ``（A、B负责）``, ``（A牵头，B、C参与）``, ``（A、B指导）``,
  ``（A指导，B负责落实）``, ``（A、B牵头负责）``, ``（X会同有关部门负责）``,
  ``（X、Y等有关部门负责）``, ``（A、B，各省级人民政府按职责分工负责）``.

Rules written inside a tag are taken out and reported, never read as
units: "排在第一位的部门为牵头部门，下同", "列第一位者为牵头单位，下同",
"各单位按职责分工负责，下同", "以下均需X落实，不再列出".

Parentheticals that explain something are not tags, even when they end in
负责 (``（技工院校内由人力资源社会保障行政部门负责）``) or say 下同
(``（…，简称一致性评价，下同）``).

Group names are one unit each and kept whole, "、" included: 各区、县级市,
各有关区、县级市, 各市、县〔市、区〕政府, 各省、自治区、直辖市人民政府.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .text import closing_index, remove_spaces, split_top_level

# --- rules stated inside a tag or anywhere in the document -------------------

# "列第一位的为牵头单位", "排在第一位的部门为牵头部门", "列第一位者为牵头单位",
# "排名第一的单位为牵头单位", "第一个单位为牵头单位", "列首位的为牵头单位".
FIRST_LISTED_LEADS = re.compile(
    r"(?:(?:列|排)(?:在|名)?\s*(?:第一位|首位|第一)\s*(?:的|者)?\s*(?:单位|部门)?"
    r"|第一(?:个|家)?(?:单位|部门))\s*(?:为|是)\s*牵头(?:单位|部门)"
)

# "以下均需各市、县〔市、区〕政府落实，不再列出": X joins every later task.
STANDING_CO_UNITS = re.compile(
    r"以下[^。；;]{0,12}?(?:均需|均由|均要|均应|都需|都由|都要|需)\s*(?P<units>[^。；;]+?)\s*"
    r"(?:负责|参与|配合)?\s*(?:落实|负责|参与)\s*[，,、]?\s*(?:不再|不另|不一一)(?:一一)?(?:列出|列明|标注)"
)

# Clauses that are notes, not units: "各单位按职责分工负责", a bare "下同".
_DUTY_NOTE = re.compile(
    r"(?:各(?:有关)?(?:单位|部门))?按(?:照)?(?:各自)?职责(?:分工)?(?:抓好落实|落实|负责)(?:\s*[，,]\s*下同)?"
)
_SAME_BELOW = re.compile(r"[，,；;。]?\s*下同\s*$")

# --- labels ------------------------------------------------------------------

_LABEL = re.compile(
    r"(?P<label>牵头单位|牵头部门|主责单位|主责部门|主办单位|牵头"
    r"|配合单位|配合部门|协同单位|协同部门|协办单位|参与单位|参与部门|参加单位|配合"
    r"|责任单位|责任部门|责任主体|负责单位|负责部门|实施单位|实施主体|承办单位|主体单位|指导部门|指导单位|推进单位"
    r"|适用范围|推广范围|实施范围|范围|完成时限|完成时间|完成期限|时间节点|时限|进度安排|时间|备注|目标)\s*[:：]"
)
_LABEL_ROLES = {
    "牵头单位": "lead", "牵头部门": "lead", "主责单位": "lead", "主责部门": "lead", "主办单位": "lead", "牵头": "lead",
    "配合单位": "co", "配合部门": "co", "协同单位": "co", "协同部门": "co", "协办单位": "co", "参与单位": "co",
    "参与部门": "co", "参加单位": "co", "配合": "co",
    "完成时限": "deadline", "完成时间": "deadline", "完成期限": "deadline", "时间节点": "deadline",
    "时限": "deadline", "进度安排": "deadline", "时间": "deadline",
    "适用范围": "scope", "推广范围": "scope", "实施范围": "scope", "范围": "scope", "备注": "scope", "目标": "scope",
}  # the others list units: the first leads

# Labels a table header may carry, with the same roles.
UNIT_COLUMN = re.compile(
    r"^(?:牵头|主责|主办|责任|负责|实施|承办|指导|配合|协同|协办|参与|参加)(?:单位|部门|主体)(?:及|和|/|、)?.*$|^(?:牵头|配合)$"
)

# --- verbs -------------------------------------------------------------------

# The verb that ends a clause of a tag, longest first, and what it makes of
# the names before it.
_VERBS = (
    ("牵头负责", "lead"), ("负责牵头", "lead"), ("牵头落实", "lead"), ("负责落实", "co"), ("配合落实", "co"),
    ("分别负责", "listed"), ("共同负责", "listed"), ("按职责负责", "listed"),
    ("牵头", "lead"), ("负责", "listed"), ("指导", "listed"), ("参与", "co"), ("配合", "co"), ("协助", "co"),
    ("协同", "co"), ("落实", "listed"), ("组织实施", "listed"), ("实施", "listed"),
)
_VERB_END = re.compile("(?:" + "|".join(v for v, _ in _VERBS) + r")$")

# --- names -------------------------------------------------------------------

_ADMIN = r"(?:县级市|设区的市|设区市|自治区|直辖市|自治州|自治县|计划单列市|乡镇|街道|新区|开发区|省|市|县|区|地|州|盟|旗|乡|镇)"
_BRACKETED = r"(?:\s*[〔(（][^〔〕()（）]{1,12}[〕)）])?"
# A group written with "、" that must not be split: 各区、县级市;
# 各市、县〔市、区〕政府; 各省、自治区、直辖市人民政府; 各有关区、县级市.
_GROUP = re.compile(
    rf"各\s*(?:有关|相关)?\s*{_ADMIN}{_BRACKETED}(?:\s*、\s*{_ADMIN}{_BRACKETED})+"
    r"(?:人民政府|政府|党委和政府|党委|管委会)?(?=$|[、，,；;]|等|按|负责|牵头|参与|配合|指导)"
)
_PLACEHOLDER = "\x00{}\x00"

# How a unit's name ends. Group names (各…, 有关…) are units too.
_UNIT_SUFFIX = re.compile(
    r"(?:部|委|局|署|办|院|厅|会|行|室|处|科|所|站|司|中心|集团|公司|政府|单位|部门|组委|联|协|队|校|馆|社|台|团|关"
    r"|央|军|区|府|机构|企业|学校|高校|医院|大学|小组|指挥部|党委|党组|管委会|总队|支队|法院|检察院|分行|银行|办公室"
    r"|保险|监管局|部队|组|总会|学会|协会|基金会|联合会|集团公司|工会|妇联|残联|科协|侨联|文联|作协)$"
)
_GROUP_PREFIX = re.compile(r"^(?:各|有关|相关|其他|其它|地方|省级|市级|县级|属地|所在地)")
# Words a unit's name never holds: a sentence, not a name.
_NOT_IN_NAME = re.compile(r"[由将把对向被使让于从在为]|[。；;：:！？!?]|\d{4}年")

# "（牵头）" written after a unit's name.
_LEAD_MARK = re.compile(r"\s*[(（〈<【\[]\s*牵头(?:单位|部门)?\s*[)）〉>】\]]\s*$")
# A clause of a tag that says when, not who: "2025年起实施", "2025年底前完成".
_TIME_CLAUSE = re.compile(r"\d{4}\s*年|长期坚持|持续推进|每年")


@dataclass
class TagUnits:
    """What one tag says: the units in the order written, with roles, the
    rules and notes it carries, and a deadline written in it."""

    leads: list[str] = field(default_factory=list)  # said to lead (牵头单位：, X牵头)
    listed: list[str] = field(default_factory=list)  # listed (责任单位：, X、Y负责): the first leads
    co: list[str] = field(default_factory=list)  # said to take part (配合单位：, Y参与)
    lead_marked: list[str] = field(default_factory=list)  # "X（牵头）" inside a list
    first_listed_leads: bool = False  # the tag states the rule
    standing_co: list[str] = field(default_factory=list)  # "以下均需X落实，不再列出"
    notes: list[str] = field(default_factory=list)
    deadline_text: str = ""  # a 完成时限 part
    time_text: str = ""  # a clause saying when ("2025年起实施"), read with the task's text
    labelled: bool = False

    @property
    def names(self) -> list[str]:
        return self.leads + self.listed + self.co


# Words that end like a unit but name none on their own.
_GENERIC = frozenset({"企业", "政府", "部门", "单位", "学校", "高校", "医院", "机构", "社会", "公司", "银行"})


def is_unit_name(name: str) -> bool:
    name = remove_spaces(name)
    if not 2 <= len(name) <= 40 or name in _GENERIC:
        return False
    bare = re.sub(r"[〔(（][^〔〕()（）]*[〕)）]", "", _LEAD_MARK.sub("", name))  # "省发展改革委（省能源局）"
    if _NOT_IN_NAME.search(bare):
        return False
    return bool(_UNIT_SUFFIX.search(bare) or _UNIT_SUFFIX.search(_LEAD_MARK.sub("", name)) or _GROUP_PREFIX.match(name))


def split_names(body: str) -> tuple[list[str], list[str]]:
    """Split a list of names at "、", "，" and "；" outside brackets, keeping
    group names whole; "X等有关部门" gives X and 有关部门, "X会同Y" X and Y.
    Returns (names, notes)."""
    notes = [remove_spaces(m.group()) for m in _DUTY_NOTE.finditer(body)]
    stripped = _DUTY_NOTE.sub("", body)
    if not remove_spaces(stripped).strip("、，,；;。 ") and notes:
        # "（各有关部门和单位按职责分工负责）": the group is the unit.
        group = re.sub(r"按(?:照)?(?:各自)?职责(?:分工)?(?:抓好落实|落实|负责)$", "", remove_spaces(body))
        return ([group] if group and is_unit_name(group) else []), []
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(remove_spaces(match.group()))
        return _PLACEHOLDER.format(len(held) - 1)

    stripped = _GROUP.sub(hold, stripped)
    names: list[str] = []
    for item in split_top_level(stripped, "、，,；;"):
        item = remove_spaces(item).strip(" 。.")
        if not item:
            continue
        for part in re.split(r"会同|协同|联合", item) if not item.startswith("\x00") else [item]:
            names.extend(_split_etc(part))
    restored = []
    for name in names:
        name = re.sub("\x00(\\d+)\x00", lambda m: held[int(m.group(1))], name)
        name = name.strip("、，,；; ")
        if name:
            restored.append(name)
    return restored, notes


def _split_etc(item: str) -> list[str]:
    """"X等有关部门" -> [X, 有关部门]; "X等" -> [X]; "X等和各有关省级人民政府" ->
    [X, 各有关省级人民政府]. "高等院校" is a name, not "高" and "院校"."""
    if not item:
        return []
    match = re.match(r"^(?P<head>.+?)等(?P<tail>(?:有关|相关|其他|其它|部门|单位|和|及|以及|各|地方|省|市|县).*)?$", item)
    if not match or (len(match["head"]) < 2) or not (is_unit_name(match["head"]) or "\x00" in match["head"]):
        return [item]
    tail = re.sub(r"^(?:和|及|以及)", "", match["tail"] or "")
    return [match["head"]] + ([tail] if tail else [])


def parse_tag(content: str, *, labelled_only: bool = False) -> TagUnits | None:
    """What a parenthetical's content says, or None if it is not a tag."""
    text = remove_spaces(content)
    if not text:
        return None
    result = TagUnits()
    # Rules first: they are never units.
    standing = STANDING_CO_UNITS.search(text)
    if standing:
        result.standing_co, _ = split_names(standing["units"])
        result.notes.append(standing.group())
        text = (text[:standing.start()] + text[standing.end():]).strip("，,；;。")
    rule = FIRST_LISTED_LEADS.search(text)
    while rule:
        result.first_listed_leads = True
        end = rule.end()
        same = re.match(r"\s*[，,]?\s*下同", text[end:])
        if same:
            end += same.end()
        result.notes.append(text[rule.start():end])
        text = (text[:rule.start()] + text[end:]).strip("，,；;。")
        rule = FIRST_LISTED_LEADS.search(text)
    duty_at_end = re.search("(?:" + _DUTY_NOTE.pattern + ")$", text)
    if not (duty_at_end and "下同" in duty_at_end.group()):
        text = _SAME_BELOW.sub("", text).strip("，,；;。")
    if not text:
        return None  # only a rule: applied where it stands, closes no task
    # "（由省财政厅会同省税务局负责）": a leading 由 names who does it.
    text = re.sub(r"^(?:由|请)", "", text)
    if _LABEL.search(text):
        _read_labelled(text, result)
        result.labelled = True
    elif labelled_only:
        return None
    elif not _read_verbs(text, result):
        return None
    if not result.names and not result.deadline_text:
        return None
    return result


def _read_labelled(text: str, result: TagUnits) -> None:
    matches = list(_LABEL.finditer(text))
    before = text[:matches[0].start()].strip("，,；; ")
    if before:  # names before the first label: listed
        names, notes = split_names(before)
        result.listed += names
        result.notes += notes
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end():end].strip("，,；;。 ")
        role = _LABEL_ROLES.get(match["label"], "listed")
        if role == "deadline":
            result.deadline_text += body
            continue
        if role == "scope":
            continue
        names, notes = split_names(body)
        result.notes += [n for n in notes if n]
        if notes and not names and "按" in body:
            continue
        _add(result, role, names)


def _add(result: TagUnits, role: str, names: list[str]) -> None:
    for name in names:
        marked = _LEAD_MARK.search(name)
        name = _LEAD_MARK.sub("", name)
        if marked:
            result.lead_marked.append(name)
        getattr(result, {"lead": "leads", "co": "co", "listed": "listed"}[role]).append(name)


def _read_verbs(text: str, result: TagUnits) -> bool:
    """Clauses "A、B负责", "A牵头", "B、C参与": True if every clause is a list
    of units and the last one ends in a verb of assignment."""
    clauses = [c for c in split_top_level(text, "，,；;。") if c.strip()]
    timed = [c for c in clauses if _TIME_CLAUSE.search(c) and not is_unit_name(re.sub(r"(?:负责|牵头)$", "", c))]
    if timed and len(timed) < len(clauses):
        result.time_text = "，".join(timed)
        clauses = [c for c in clauses if c not in timed]
    if not clauses:
        return False
    # "A、B，各省级人民政府按职责分工负责": the duty note is the verb of the last clause.
    last = _DUTY_NOTE.sub("负责", clauses[-1]) if _DUTY_NOTE.search(clauses[-1]) else clauses[-1]
    if not _VERB_END.search(last) and not _DUTY_NOTE.search(clauses[-1]):
        return False
    pending: list[str] = []  # clauses without a verb take the role of the next verb
    parsed: list[tuple[str, list[str]]] = []
    for clause in clauses:
        duty = _DUTY_NOTE.search(clause)
        body = _DUTY_NOTE.sub("", clause) if duty else clause
        role = "listed" if duty else None
        if role is None:
            for verb, verb_role in _VERBS:
                if body.endswith(verb) and len(body) > len(verb):
                    body, role = body[: -len(verb)], verb_role
                    break
        if duty and not remove_spaces(body):
            names, _ = split_names(clause)  # "（各有关部门和单位按职责分工负责）"
        else:
            names, _ = split_names(body)
        if not names:
            if duty:
                continue
            return False
        if role is None:
            pending.extend(names)
            continue
        parsed.append((role, pending + names if role != "co" else names))
        if role == "co" and pending:
            parsed.insert(len(parsed) - 1, ("listed", pending))
        pending = []
    if pending:
        parsed.append(("listed", pending))
    names = [n for _, ns in parsed for n in ns]
    if not names:
        return False
    good = [n for n in names if is_unit_name(n)]
    if len(good) < len(names) and (len(good) * 2 < len(names) or any(_NOT_IN_NAME.search(n) for n in names)):
        return False
    for role, ns in parsed:
        _add(result, role, ns)
    return True


@dataclass(frozen=True)
class FoundTag:
    start: int  # index of the opening bracket (or of the label for a bare label line)
    end: int  # index after the closing bracket
    units: TagUnits


# A label written without brackets after a finished sentence, running to the
# end of its paragraph: "…完善统计制度。责任单位：市统计局；配合单位：市发改委".
_INLINE_LABEL = re.compile(
    r"(?:(?<=[。；;！!])|^)\s*(?=(?:牵头单位|牵头部门|责任单位|责任部门|负责单位|负责部门|主责单位|实施单位)\s*[:：])"
)


def find_tags(text: str) -> list[FoundTag]:
    """Every tag in a stretch of text, in order: parentheticals (（）, (), 【】)
    outside any other bracket whose content is a tag, and labelled lists
    written without brackets after a sentence, to the end of the paragraph."""
    found = _bracketed_tags(text)
    for match in _INLINE_LABEL.finditer(text):
        start = match.end()
        if any(tag.start <= start < tag.end for tag in found) or _inside_bracket(text, start):
            continue
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        units = parse_tag(text[start:end].rstrip("。；; "), labelled_only=True)
        if units is not None:
            found.append(FoundTag(start, end, units))
    return sorted(found, key=lambda tag: tag.start)


def _inside_bracket(text: str, index: int) -> bool:
    depth = 0
    for char in text[:index]:
        if char in "(（【〔[":
            depth += 1
        elif char in ")）】〕]" and depth:
            depth -= 1
    return depth > 0


def _bracketed_tags(text: str) -> list[FoundTag]:
    found: list[FoundTag] = []
    index = 0
    depth = 0
    while index < len(text):
        char = text[index]
        if char in "(（【" and depth == 0:
            close = closing_index(text, index)
            if close == -1:  # a bracket never closed: look on after it
                index += 1
                continue
            units = parse_tag(text[index + 1:close])
            if units is not None:
                found.append(FoundTag(index, close + 1, units))
            index = close + 1
            continue
        if char in "“‘《〔[［":
            depth += 1
        elif char in "”’》〕]］":
            depth = max(depth - 1, 0)
        index += 1
    return found


# A paragraph that is a bare labelled list: "责任单位：省发展改革委、省财政厅".
BARE_LABEL_LINE = re.compile(
    r"^\s*(?:牵头单位|牵头部门|责任单位|责任部门|负责单位|负责部门|主责单位|实施单位|配合单位|配合部门"
    r"|完成时限|完成时间|时间节点)\s*[:：]"
)

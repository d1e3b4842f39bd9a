"""What the quarterly supervision report (季度督查通报) says, as a list of
blocks (title, headings, paragraphs, tables), built once from the same
`Supervision` figures the dashboard shows. The Word writer (docx_export) and
the preview on the 签发 page both render these blocks, so the preview is the
document.

Written as an office would circulate it: concise, no line without data
(targets with no approved figure are named once, not each with a dash), the
late items grouped, no ranking when nobody reported on time, and the
coordinator's 下一步工作要求 at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.lights import Light
from ..models import TaskState
from .supervision import Supervision, chinese_number, format_number, format_share

ISSUER = "浙江省商务厅"
NEXT_STEPS_MAX = 4000


@dataclass
class Block:
    kind: str  # title, subtitle, salutation, p, h1, h2, table, signature, annex, annex_title
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    flexible: tuple[int, ...] = ()  # table columns that share the width left by the others


@dataclass
class Figures:
    """The numbers the 通报 carries, shown on the 签发 page before it is issued."""

    tasks: int
    lights: dict[Light, int]
    reports_owed: int
    reports_approved: int
    reports_submitted: int
    reports_returned: int
    reports_missing: int
    time_share: float
    targets: int
    targets_with_data: int
    targets_behind: int  # with data and below 序时进度
    overdue: int
    returned: int


def figures(data: Supervision) -> Figures:
    rc = data.report_counts
    with_data = [t for t in data.targets if t.latest is not None]
    return Figures(
        tasks=data.totals.total,
        lights=dict(data.totals.lights),
        reports_owed=rc["owed"],
        reports_approved=rc["approved"],
        reports_submitted=rc["submitted"],
        reports_returned=rc["returned"],
        reports_missing=rc["missing"] + rc["draft"],
        time_share=data.plan_time_share,
        targets=len(data.targets),
        targets_with_data=len(with_data),
        targets_behind=sum(1 for t in with_data if t.is_behind),
        overdue=len(data.overdue),
        returned=data.returned_count,
    )


def document_title(data: Supervision) -> str:
    return f"关于《{data.plan.title}》{data.period.label}落实情况的督查通报"


def day(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _numbers(numbers: list[int]) -> str:
    """Task numbers with runs as ranges: 2—7、9、11—22."""
    parts: list[str] = []
    run: list[int] = []
    for n in sorted(set(numbers)) + [None]:
        if run and (n is None or n != run[-1] + 1):
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}、{run[1]}" if len(run) == 2
                         else f"{run[0]}—{run[-1]}")
            run = []
        if n is not None:
            run.append(n)
    return "、".join(parts)


def blocks(data: Supervision, next_steps: str = "") -> list[Block]:
    plan, period = data.plan, data.period
    out: list[Block] = [
        Block("title", document_title(data)),
        Block("subtitle", f"(统计截至{day(period.ends_on)},情况更新至{day(data.as_of)})"),
        Block("salutation", "各有关单位:"),
        Block("p", f"根据《{_raw(plan.title)}》({plan.document_number})的分工安排,现将{period.label}各项任务落实情况"
                   "通报如下。本通报的进展和指标数据均取自经督办员审核通过的牵头单位报告。"),
    ]
    f = figures(data)
    totals = data.totals

    # 一、总体情况 ------------------------------------------------------------
    out.append(Block("h1", "一、总体情况"))
    states = "、".join(f"{s.label}{totals.states[s]}项" for s in TaskState if totals.states[s])
    reports = [f"审核通过{f.reports_approved}份"]
    if f.reports_submitted:
        reports.append(f"已报送待审核{f.reports_submitted}份")
    if f.reports_returned:
        reports.append(f"退回修改{f.reports_returned}份")
    if f.reports_missing:
        reports.append(f"未报送{f.reports_missing}份")
    lights = "、".join(f"{light.label}{f.lights[light]}项"
                       for light in (Light.RED, Light.YELLOW, Light.GREEN) if f.lights[light])
    text = (f"计划共有{len(data.by_section)}项行动、{f.tasks}项任务,其中{states or '暂无任务'}。"
            f"本期应报送牵头单位报告{f.reports_owed}份,{','.join(reports)}。")
    if lights:
        text += f"按红黄绿灯评价,{lights}。"
    text += f"计划实施期已过{format_share(f.time_share)}(序时进度)。"
    if f.targets:
        if f.targets_with_data:
            text += (f"{f.targets}项目标指标中,{f.targets_with_data}项有审核通过的数据,"
                     + (f"其中{f.targets_behind}项落后于序时进度" if f.targets_behind else "均不低于序时进度"))
            missing = f.targets - f.targets_with_data
            text += f";{missing}项尚无数据。" if missing else "。"
        else:
            text += f"{f.targets}项目标指标本期均无审核通过的数据。"
    out.append(Block("p", text))

    # 二、任务进展情况 ---------------------------------------------------------
    out.append(Block("h1", "二、任务进展情况"))
    with_progress = [row for row in data.tasks if row.approved_summary]
    without = [row.task.number for row in data.tasks if not row.approved_summary]
    by_section: dict[int, list] = {}
    for row in with_progress:
        by_section.setdefault(row.section.id, []).append(row)
    for section, _counts in data.by_section:
        rows = by_section.get(section.id)
        if not rows:
            continue
        out.append(Block("h2", f"({chinese_number(section.number)}){section.title}"))
        for row in rows:
            light = "" if row.light is Light.GREEN else f",{row.light.label}"
            out.append(Block("p", f"{row.task.number}. {_raw(row.task.title)}(牵头单位:{row.lead_name}{light})。"
                                  f"{_raw(row.approved_summary.strip())}"))
    if not with_progress:
        out.append(Block("p", f"本期{len(without)}项任务均无审核通过的进展报告。"))
    elif without:
        out.append(Block("p", f"任务{_numbers(without)}本期暂无审核通过的进展报告。"))

    # 三、目标指标完成情况 -----------------------------------------------------
    out.append(Block("h1", "三、目标指标完成情况"))
    with_data = [t for t in data.targets if t.latest is not None]
    no_data = [t for t in data.targets if t.latest is None]
    if with_data:
        out.append(Block("p", f"序时进度按各指标的实施期计算,统计至{day(data.progress_date)}。"))
        rows = []
        for t in with_data:
            rows.append([t.name, t.goal_text, format_number(t.latest), format_share(t.share),
                         format_share(t.time_share), "滞后" if t.is_behind else "正常"])
            for a in t.allocations:
                if a.actual is None:
                    continue
                behind = t.time_share > 0 and (a.share is None or a.share < t.time_share)
                rows.append([f"其中:{a.unit.short_name}", f"分解{format_number(a.value)}{t.target.measure}",
                             format_number(a.actual), format_share(a.share), format_share(t.time_share),
                             "滞后" if behind else "正常"])
        out.append(Block("table", header=["指标", "目标", "最新值", "完成比例", "序时进度", "评价"], rows=rows,
                         flexible=(0, 1)))
    if no_data:
        if with_data:
            out.append(Block("p", f"另有{len(no_data)}项指标本期尚无审核通过的数据:"
                                  + ";".join(t.name for t in no_data) + "。"))
        else:
            out.append(Block("p", f"{len(no_data)}项目标指标本期均无审核通过的数据,待各牵头单位在进展报告中填报。"))
    if not data.targets:
        out.append(Block("p", "本计划未设定量化指标。"))

    # 四、逾期、退回及滞后事项 --------------------------------------------------
    out.append(Block("h1", "四、逾期、退回及滞后事项"))
    out.append(Block("h2", "(一)逾期事项"))
    overdue = overdue_lines(data)
    out += [Block("p", f"{i}. {text}") for i, text in enumerate(overdue, start=1)] or [Block("p", "无。")]
    out.append(Block("h2", "(二)退回修改事项"))
    if data.returned:
        for i, item in enumerate(data.returned, start=1):
            reason = _raw(item.report.return_reason) if item.report.return_reason else "未说明"
            out.append(Block("p", f"{i}. 任务{item.task.number}“{_raw(item.task.title)}”:{item.unit.short_name}报送的"
                                  f"{item.report.kind.label}被退回,退回原因:{reason}。"))
    else:
        out.append(Block("p", "无。"))
    out.append(Block("h2", "(三)滞后事项"))
    lagging = [f"指标“{t.name}”完成{format_share(t.share)},低于序时进度{format_share(t.time_share)}。"
               for t in with_data if t.is_behind]
    # Red tasks already named above (an overdue report or milestone) are not repeated.
    named = {item.task.id for item in data.overdue} | {item.task.id for item in data.returned}
    other_red = [row for row in data.red_tasks if row.task.id not in named]
    if other_red:
        lagging.append(f"任务{_numbers([row.task.number for row in other_red])}已过完成时限仍未办结。")
    red = len(data.red_tasks)
    if red and not other_red:
        lagging.append(f"亮红灯的{red}项任务均因上述逾期或退回事项亮灯。")
    elif red and len(other_red) < red:
        lagging.append(f"亮红灯任务共{red}项,其中{red - len(other_red)}项因上述逾期或退回事项亮灯。")
    out += [Block("p", f"{i}. {text}") for i, text in enumerate(lagging, start=1)] or [Block("p", "无。")]

    # 五、各单位报送及时率 ------------------------------------------------------
    out.append(Block("h1", "五、各单位报送及时率"))
    judged = [p.code for p in data.reported_periods]
    if not judged:
        out.append(Block("p", "本期报送尚未到截止日,暂不统计及时率。"))
    else:
        span = judged[0] if len(judged) == 1 else f"{judged[0]}至{judged[-1]}"
        code = data.period.code
        total_owed = sum(u.total[1] for u in data.punctuality)
        total_on_time = sum(u.total[0] for u in data.punctuality)
        intro = f"按时报送指首次报送时间不晚于该期报送截止日。统计期次:{span}。"
        if total_on_time == 0:
            out.append(Block("p", intro + f"各单位应报送{total_owed}份,均未按时报送,请各单位高度重视。"))
        else:
            out.append(Block("p", intro + f"各单位累计应报送{total_owed}份,按时报送{total_on_time}份,"
                                          f"及时率{format_share(total_on_time / total_owed)}。"))
            # Units that reported on time in the table; the others named once, not a row of zeros each.
            rows = []
            never = []
            for u in data.punctuality:
                on_time, owed = u.per_period.get(code, (0, 0))
                total_on, total_ow = u.total
                if total_on == 0:
                    never.append(u.unit.short_name)
                    continue
                rows.append([u.unit.short_name, str(owed), str(on_time), format_share(u.rate(code)),
                             f"{total_on}/{total_ow}", format_share(u.overall_rate)])
            out.append(Block("table", header=["单位", "本期应报", "本期按时", "本期及时率", "累计按时/应报",
                                              "累计及时率"], rows=rows, flexible=()))
            if never:
                out.append(Block("p", f"以下{len(never)}个单位尚无按时报送:{'、'.join(never)}。"))

    # 六、下一步工作要求 --------------------------------------------------------
    paragraphs = [line.strip() for line in (next_steps or "").splitlines() if line.strip()]
    if paragraphs:
        out.append(Block("h1", "六、下一步工作要求"))
        out += [Block("p", _raw(text)) for text in paragraphs]

    out.append(Block("signature", ISSUER))
    out.append(Block("signature", day(data.as_of)))

    # 附件: every task's light in one table, the same light as every screen.
    out.append(Block("annex", "附件"))
    out.append(Block("annex_title", "任务落实情况一览表"))
    out.append(Block("table", header=["序号", "任务", "牵头单位", "状态", "红黄绿灯", "本期牵头报告"], rows=[
        [str(row.task.number), _raw(row.task.title), row.lead_name, row.task.state.label, row.light.label,
         row.lead_report.state.label if row.lead_report else "未报送"]
        for row in data.tasks
    ], flexible=(1,)))
    for block in out:
        block.text = zh_punct(block.text)
        block.header = [zh_punct(t) for t in block.header]
        block.rows = [[zh_punct(t) for t in row] for row in block.rows]
    return out


_RAW_START, _RAW_END = "\ue000", "\ue001"


def _raw(text: str) -> str:
    """Text the units or the document wrote: kept as written by `zh_punct`."""
    return f"{_RAW_START}{text}{_RAW_END}"


_FULL_WIDTH = {",": "\uff0c", ":": "\uff1a", ";": "\uff1b", "(": "\uff08", ")": "\uff09"}


def zh_punct(text: str) -> str:
    """Chinese punctuation in Chinese text (GB/T 15834): a comma, colon,
    semicolon or bracket next to a Chinese character becomes full-width;
    "1,000", "10:30" and "2025Q2" stay as they are."""
    chars = list(text)
    raw = False
    for i, ch in enumerate(chars):
        if ch in (_RAW_START, _RAW_END):
            raw = ch == _RAW_START
            continue
        if ch in _FULL_WIDTH and not raw:
            before = chars[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if (before and ord(before) > 0x2E7F) or (after and ord(after) > 0x2E7F):
                chars[i] = _FULL_WIDTH[ch]
    return "".join(c for c in chars if c not in (_RAW_START, _RAW_END))


def overdue_lines(data: Supervision) -> list[str]:
    """Overdue milestones one by one; the lead reports and the co-units'
    contributions that are late grouped by due date, as an office would
    write them, not a line per task."""
    lines = []
    reports: dict[tuple, list] = {}
    contributions: dict[tuple, list] = {}
    for item in data.overdue:
        if item.kind == "工作节点":
            who = item.unit.short_name if item.unit else "—"
            lines.append(f"任务{item.task.number}“{_raw(item.task.title)}”:{who}负责的工作节点“{_raw(item.title)}”应于"
                         f"{day(item.due_on)}前完成,已逾期{item.working_days}个工作日。")
        elif item.kind == "配合单位报送":
            contributions.setdefault((item.due_on, item.working_days), []).append(item)
        else:
            reports.setdefault((item.due_on, item.working_days), []).append(item)
    for (due_on, days), items in reports.items():
        # By unit, as an office names them: 省商务厅(任务4、7、13).
        by_unit: dict[str, list[int]] = {}
        for i in items:
            by_unit.setdefault(i.unit.short_name if i.unit else "—", []).append(i.task.number)
        named = "、".join(f"{unit}(任务{_numbers(numbers)})" for unit, numbers in by_unit.items())
        lines.append(f"{data.period.label}牵头单位报告应于{day(due_on)}前报送,{len(items)}份未报送:{named},"
                     f"已逾期{days}个工作日。")
    for (due_on, days), items in contributions.items():
        units = {i.unit.id for i in items if i.unit}
        tasks = [i.task.number for i in items]
        lines.append(f"配合单位{data.period.label}进展情况应于{day(due_on)}前报送牵头单位,{len(items)}份未报送,"
                     f"涉及{len(units)}个单位、任务{_numbers(tasks)}(明细见台账),已逾期{days}个工作日。")
    return lines

"""The words of a reminder, in Chinese, built from the context stored with
each delivery (so that a retry says exactly what the first try said)."""
from __future__ import annotations

from datetime import date

from flask import current_app, render_template

PREFIX = {
    "due_soon": "【到期提醒】",
    "due_today": "【到期提醒】",
    "overdue": "【催办】",
    "contribution_late": "【催办】",
    "returned": "【催办】",
    "escalation": "【提级督办】",
}


def chinese_date(iso: str | None) -> str:
    if not iso:
        return ""
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


def _task(c: dict) -> str:
    return f"任务{c['task_number']}「{c['task_title']}」"


def headline(c: dict) -> str:
    """What happened, in one sentence."""
    rule, item, unit = c["rule"], c["item"], c.get("unit", "")
    due = chinese_date(c.get("due_on"))
    od = c.get("overdue_working_days", 0)
    if rule == "due_soon":
        return f"{unit}的{item}将于{due}到期(还有{c.get('until_working_days', 0)}个工作日),请按时报送。"
    if rule == "due_today":
        return f"{unit}的{item}今日({due})到期,请于今日内报送。"
    if rule == "overdue":
        return f"{unit}的{item}已于{due}到期,现已逾期{od}个工作日,请尽快报送。"
    if rule == "contribution_late":
        lead_due = chinese_date(c.get("lead_due_on"))
        if c.get("audience") == "lead":
            return f"配合单位{unit}的{item}应于{due}前报送,至今未报送;牵头单位报告将于{lead_due}到期,请督促或先行汇总。"
        return f"{unit}的{item}应于{due}前报送牵头单位,现已逾期{od}个工作日,牵头单位报告将于{lead_due}到期,请立即报送。"
    if rule == "returned":
        return (
            f"{unit}的{item}已于{chinese_date(c.get('returned_on'))}被退回,"
            f"{c.get('waited_working_days', 0)}个工作日内未重新报送,请按退回意见修改后尽快报送。"
        )
    if rule == "escalation":
        return f"{unit}的{item}已于{due}到期,现已逾期{od}个工作日,特提请督办。"
    return f"{unit}的{item}需要办理。"


def subject_for(c: dict) -> str:
    rule = c["rule"]
    if rule == "contribution_late" and c.get("audience") == "lead":
        subject = f"【告知】{_task(c)}配合单位{c.get('unit', '')}尚未报送{c['item']}"
    elif rule == "escalation":
        subject = f"{PREFIX[rule]}{_task(c)}{c.get('unit', '')}已逾期{c.get('overdue_working_days', 0)}个工作日"
    elif rule in ("overdue", "contribution_late"):
        subject = f"{PREFIX[rule]}{_task(c)}{c['item']}已逾期{c.get('overdue_working_days', 0)}个工作日"
    elif rule == "due_today":
        subject = f"{PREFIX[rule]}{_task(c)}{c['item']}今日到期"
    elif rule == "returned":
        subject = f"{PREFIX[rule]}{_task(c)}{c['item']}退回后未重新报送"
    else:
        subject = f"{PREFIX.get(rule, '')}{_task(c)}{c['item']}将于{chinese_date(c.get('due_on'))}到期"
    return subject[:255]


def absolute_link(c: dict) -> str:
    return current_app.config.get("BASE_URL", "").rstrip("/") + c.get("link", "/")


def facts(c: dict) -> list[tuple[str, str]]:
    rows = [("任务", f"{c.get('plan', '')} {_task(c)}"), ("事项", c["item"]), ("责任单位", c.get("unit", ""))]
    if c.get("period"):
        rows.append(("报送期次", c["period"]))
    rows.append(("截止日期", chinese_date(c.get("due_on"))))
    return rows


def text_for(c: dict) -> str:
    return addressed(c.get("recipient"), text_body(c))


def text_body(c: dict) -> str:
    """The text after the greeting: the same for every recipient of a
    reminder, so a scan builds it once per reminder."""
    lines = [headline(c), ""]
    lines += [f"{label}:{value}" for label, value in facts(c)]
    lines += ["", f"请登录督查督办系统办理:{absolute_link(c)}", "", "(督查督办系统自动发送,请勿直接回复)"]
    return "\n".join(lines)


def addressed(recipient: str | None, body: str) -> str:
    """The text to one recipient: a greeting line, when the name is known, then the body."""
    return (f"{recipient}:\n{body}" if recipient else body).lstrip("\n")


def html_for(c: dict) -> str:
    return render_template(
        "notify/reminder_email.html", c=c, headline=headline(c), facts=facts(c), link=absolute_link(c),
        subject=subject_for(c),
    )


# Context keys that the system writes itself (dates, the rule, the link);
# every other text in a reminder's context may come from a user.
_SYSTEM_KEYS = frozenset({"rule", "audience", "link"})


def markdown_for(c: dict) -> str:
    """For DingTalk / 浙政钉 group robots (markdown messages). Text that
    users wrote is escaped, so a task title cannot become a link."""
    from .webhook import escape_markdown

    c = {
        key: escape_markdown(value) if isinstance(value, str) and key not in _SYSTEM_KEYS and not key.endswith("_on")
        else value
        for key, value in c.items()
    }
    lines = [f"#### {subject_for(c)}", "", headline(c), ""]
    lines += [f"- {label}:{value}" for label, value in facts(c)]
    lines += ["", f"[进入督查督办系统办理]({absolute_link(c)})"]
    return "\n".join(lines)

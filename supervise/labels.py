"""What users read instead of the system's internal names: one Chinese label
for every audit event, every state, every kind of record and every scheduled
job, and people by name and unit instead of login names.

One module, so the pages, the API and the documents say the same thing; a
test (tests/web/test_labels.py) reads the source for every event the code
records and fails when one has no label here.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from .models import (
    ExtensionState,
    MilestoneState,
    PlanStatus,
    ReportState,
    TaskState,
    User,
)
from .workflow import ACTION_LABELS

# Events recorded under their own name (audit.record(actor, "<name>", ...)).
EVENT_LABELS: dict[str, str] = {
    "login": "登录",
    "logout": "退出登录",
    "login.failed": "登录失败",
    "login.locked": "账号被锁定",
    "login.throttled": "登录过于频繁,已限制",
    "password.change": "修改密码",
    "password.reset": "重置密码",
    "totp.enrol": "绑定动态口令",
    "user.create": "新建账号",
    "user.update": "修改账号信息",
    "user.enable": "启用账号",
    "user.disable": "停用账号",
    "user.unlock": "解除账号锁定",
    "user.preferences": "修改提醒方式",
    "user.reminder_channels": "修改提醒渠道",
    "role.grant": "授予角色",
    "role.revoke": "收回角色",
    "token.issue": "签发接口令牌",
    "token.revoke": "吊销接口令牌",
    "token.revoke_all": "吊销该用户的全部接口令牌",
    "access.denied": "越权操作被拒绝",
    "audit.keyed_epoch": "审计日志启用密钥链",
    "plan.import": "导入行动计划",
    "plan.settings": "修改计划设置",
    "plan.reminder_rules": "修改催办规则",
    "plan.create": "新建计划或督办事项",
    "plan.edit_draft": "修改草稿计划信息",
    "plan.discard": "删除草稿计划",
    "plan.resolve_unit": "对应单位名称",
    "plan.publish": "发布计划",
    "plan.first_period": "调整首个报送期次",
    "task.add": "增加任务",
    "task.change": "调整任务",
    "task.edit_draft": "修改草稿任务",
    "task.remove_draft": "删除草稿任务",
    "task.merge_draft": "合并草稿任务",
    "task.split_draft": "拆分草稿任务",
    "unit.create": "新建单位",
    "task.set_lead": "确定牵头单位",
    "task.add_unit": "增加责任单位",
    "task.remove_unit": "移除责任单位",
    "target.split": "分解目标",
    "evidence.upload": "上传佐证材料",
    "evidence.remove": "删除佐证材料",
    "evidence.download": "下载佐证材料",
    "evidence.missing": "发现佐证材料丢失",
    "evidence.integrity_failed": "发现佐证材料校验不符",
    "milestone.propose": "提出节点",
    "extension.request": "申请延期",
    "report.cite": "修改引用的配合单位报送",
    "report.issue": "签发督查通报",
    "report.download": "下载督查通报",
    "calendar.import": "导入工作日历",
    "calendar.set_day": "调整工作日历",
    "audit.prune": "清理过期审计记录",
}

# Events written by workflow.transition() as "<machine>.<action>", and by
# create_report() as "<machine>.create".
MACHINE_LABELS: dict[str, str] = {
    "task": "任务",
    "report": "牵头单位报告",
    "contribution": "配合单位报送",
    "milestone": "节点",
    "extension": "延期申请",
}
MACHINE_ACTION_LABELS: dict[str, str] = {**ACTION_LABELS, "create": "创建草稿"}

# The kinds of record an audit row points at (table names).
OBJECT_LABELS: dict[str, str] = {
    "users": "账号",
    "user_roles": "角色",
    "api_tokens": "接口令牌",
    "plans": "行动计划",
    "sections": "行动",
    "tasks": "任务",
    "task_units": "责任单位",
    "targets": "指标",
    "target_allocations": "指标分解",
    "reports": "报告",
    "report_versions": "报送版本",
    "evidence": "佐证材料",
    "milestones": "节点",
    "extension_requests": "延期申请",
    "issued_reports": "督查通报",
    "calendar_days": "工作日历",
    "units": "单位",
    "notifications": "通知",
    "deliveries": "发送记录",
    "scheduler_jobs": "定时任务",
}

STATE_LABELS: dict[str, str] = {
    **{s.value: s.label for s in TaskState},
    **{s.value: s.label for s in MilestoneState},
    **{s.value: s.label for s in ReportState},
    **{s.value: s.label for s in PlanStatus},  # draft: 草稿 as a report's
    ExtensionState.PENDING.value: "待审批",
    ExtensionState.GRANTED.value: "已同意",
    ExtensionState.REFUSED.value: "未同意",
    # Calendar days (calendar.set_day).
    "holiday": "放假",
    "workday": "调休上班",
    "normal": "按周末规则",
}

# Fields named in an audit row's before/after.
FIELD_LABELS: dict[str, str] = {
    "name": "姓名",
    "unit": "单位",
    "email": "电子邮箱",
    "phone": "手机号",
    "roles": "角色",
    "email_enabled": "电子邮件提醒",
    "webhook": "Webhook 提醒",
    "wants_email": "电子邮件提醒",
    "wants_webhook": "Webhook 提醒",
    "lead": "牵头单位",
    "units": "责任单位",
}

JOB_LABELS: dict[str, str] = {
    "reminders.scan": "催办扫描",
    "deliveries.retry": "重发失败的消息",
    "calendar.sync": "同步法定节假日",
}

RESULT_LABELS = {"ok": "成功", "error": "出错", "missed": "错过"}

# Reminder rules (deliveries.rule) and how many times each was sent.
REMINDER_RULE_LABELS: dict[str, str] = {
    "due_soon": "即将到期提醒",
    "due_today": "当日到期提醒",
    "overdue": "逾期催办",
    "escalation": "提级督办",
}


def reminder_label(rule: str | None, step: int | None = None) -> str:
    label = REMINDER_RULE_LABELS.get(rule or "", "提醒")
    return f"{label}(第 {step + 1} 次)" if step else label


def event_label(action: str | None) -> str:
    """'report.approve' → '牵头单位报告 · 审核通过'; never the internal name."""
    action = action or ""
    if action in EVENT_LABELS:
        return EVENT_LABELS[action]
    machine, _, verb = action.partition(".")
    if machine in MACHINE_LABELS and verb in MACHINE_ACTION_LABELS:
        return f"{MACHINE_LABELS[machine]} · {MACHINE_ACTION_LABELS[verb]}"
    if verb in MACHINE_ACTION_LABELS:
        return MACHINE_ACTION_LABELS[verb]
    return "其他操作"


def has_event_label(action: str) -> bool:
    machine, _, verb = action.partition(".")
    return action in EVENT_LABELS or (machine in MACHINE_LABELS and verb in MACHINE_ACTION_LABELS)


def known_events() -> list[str]:
    return [*EVENT_LABELS, *(f"{m}.{a}" for m in MACHINE_LABELS for a in MACHINE_ACTION_LABELS)]


def events_matching(text: str) -> list[str]:
    """The events whose Chinese label contains `text` (the audit log's filter)."""
    return [code for code in known_events() if text and text in event_label(code)]


def state_label(value: Any) -> str:
    if value is None or value == "":
        return ""
    if hasattr(value, "label"):
        return value.label
    return STATE_LABELS.get(str(value), "其他状态")


def chinese_day(day: date | None) -> str:
    """2027-01-08 -> 2027年1月8日."""
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def object_label(object_type: str | None) -> str:
    return OBJECT_LABELS.get(object_type or "", "记录") if object_type else ""


def person(user: User | None, *, unit: bool = True) -> str:
    """'张三(省商务厅)': people by name and unit, never by login name."""
    if user is None:
        return "系统"
    if unit and user.unit is not None:
        return f"{user.name}({user.unit.short_name})"
    return user.name


def _show(value: Any) -> str:
    if value is None or value == "":
        return "(空)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "、".join(_show(v) for v in value) or "(空)"
    if isinstance(value, dict):
        return ";".join(f"{FIELD_LABELS.get(k, k)} {_show(v)}" for k, v in value.items())
    from .models import Role

    try:
        return Role(value).label
    except ValueError:
        return str(value)


def changes(detail: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field an audit row's before/after changed."""
    detail = detail or {}
    before, after = detail.get("before"), detail.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        if before.get(key) != after.get(key):
            rows.append((FIELD_LABELS.get(key, "其他"), _show(before.get(key)), _show(after.get(key))))
    return rows


def job_label(job_id: str) -> str:
    return JOB_LABELS.get(job_id, "定时任务")


_CRON_FIELD = re.compile(r"(\w+)='([^']*)'")
_INTERVAL = re.compile(r"interval\[(?:(\d+) days?, )?(\d+):(\d\d):(\d\d)\]")


def trigger_label(trigger: str | None) -> str:
    """APScheduler's trigger text ("cron[hour='8', minute='30']",
    "interval[0:01:00]") as a sentence: 每天 08:30, 每 1 分钟."""
    if not trigger:
        return ""
    match = _INTERVAL.search(trigger)
    if match:
        days, hours, minutes, seconds = (int(x or 0) for x in match.groups())
        if days:
            return f"每 {days} 天"
        if hours:
            return f"每 {hours} 小时" + (f" {minutes} 分钟" if minutes else "")
        if minutes:
            return f"每 {minutes} 分钟" + (f" {seconds} 秒" if seconds else "")
        return f"每 {seconds} 秒"
    if trigger.startswith("cron"):
        fields = dict(_CRON_FIELD.findall(trigger))
        at = f"{int(fields.get('hour', '0') or 0):02d}:{int(fields.get('minute', '0') or 0):02d}" \
            if fields.get("hour", "").isdigit() and fields.get("minute", "0").isdigit() else ""
        if fields.get("day", "").isdigit():
            return f"每月 {fields['day']} 日 {at}".strip()
        if fields.get("day_of_week"):
            return f"每周定时 {at}".strip()
        return f"每天 {at}".strip() if at else "按计划"
    return "按计划"

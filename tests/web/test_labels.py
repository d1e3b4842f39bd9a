"""Every audit event, state and scheduled job has a Chinese label, from one
module (supervise/labels.py): the source is read for every event the code
records, so a new event without a label fails here."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from supervise import labels
from supervise.models import ExtensionState, MilestoneState, PlanStatus, ReportState, TaskState
from supervise.workflow import (
    CONTRIBUTION_TRANSITIONS,
    EXTENSION_TRANSITIONS,
    LEAD_REPORT_TRANSITIONS,
    MILESTONE_TRANSITIONS,
    PLAN_TRANSITIONS,
    TASK_TRANSITIONS,
)

SOURCE = Path(__file__).resolve().parents[2] / "supervise"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _recorded_events() -> set[str]:
    """Every literal event name passed to audit.record(...) in the code."""
    found = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"record\(\s*\w+\s*,\s*\"([a-z_]+(?:\.[a-z_]+)*)\"", text):
            found.add(match.group(1))
        for match in re.finditer(r"action\s*=\s*\"([a-z_]+\.[a-z_]+)\"\s*if", text):
            found.add(match.group(1))
    return found


def test_every_event_the_code_records_has_a_label():
    events = _recorded_events()
    assert {"user.update", "evidence.upload", "login"} <= events  # the scan finds them
    missing = sorted(e for e in events if not labels.has_event_label(e))
    assert not missing, f"add these events to supervise/labels.py: {missing}"


@pytest.mark.parametrize("machine,table", [
    ("task", TASK_TRANSITIONS), ("report", LEAD_REPORT_TRANSITIONS), ("contribution", CONTRIBUTION_TRANSITIONS),
    ("milestone", MILESTONE_TRANSITIONS), ("extension", EXTENSION_TRANSITIONS), ("plan", PLAN_TRANSITIONS),
])
def test_every_transition_and_state_reads_in_chinese(machine, table):
    for (state, action), new_state in table.items():
        label = labels.event_label(f"{machine}.{action}")
        assert CJK.search(label) and "." not in label and action not in label, (machine, action, label)
        for s in (state, new_state):
            assert CJK.search(labels.state_label(s.value)), s
    assert CJK.search(labels.event_label(f"{machine}.create"))


def test_states_jobs_and_triggers():
    for enum in (TaskState, ReportState, MilestoneState, ExtensionState, PlanStatus):
        for state in enum:
            assert CJK.search(labels.state_label(state.value)), state
    assert labels.event_label("report.approve") == "牵头单位报告 · 审核通过"
    assert labels.event_label("plan.publish") == "发布计划"
    assert labels.state_label("published") == "已发布" and labels.state_label("draft") == "草稿"
    assert labels.event_label("no.such_thing") == "其他操作"
    assert labels.trigger_label("cron[hour='8', minute='30']") == "每天 08:30"
    assert labels.trigger_label("cron[day='1', hour='3', minute='0']") == "每月 1 日 03:00"
    assert labels.trigger_label("interval[0:01:00]") == "每 1 分钟"
    assert labels.trigger_label("interval[0:00:30]") == "每 30 秒"
    from supervise.scheduler.registry import JOBS

    for spec in JOBS:
        assert CJK.search(labels.job_label(spec.id)) and spec.id not in labels.job_label(spec.id)
    assert labels.changes({"before": {"unit": "A", "phone": None}, "after": {"unit": "A", "phone": "139"}}) == [
        ("手机号", "(空)", "139")]

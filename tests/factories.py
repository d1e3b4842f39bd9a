"""Factories for the reporting tests: tasks with their units' liaisons, and
reports in any state, built through the services (never by poking states)."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.evidence_store import store
from supervise.models import Plan, PlanStatus, Report, ReportingFrequency, Section, Task, User
from supervise.services import reports as report_service

# A minimal valid PDF and PNG, for uploads.
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Cast:
    """The people around task 1 of 27号, from the one roster (tests/people.py):
    its lead's and a co-unit's liaisons, a liaison of an unrelated unit, a
    coordinator, a leader."""

    task: Task
    lead: User  # 省经信厅, the proposed lead of task 1
    co: User  # 杭州市人民政府, a co-unit
    outsider: User  # 省教育厅, not responsible for task 1
    coordinator: User
    leader: User
    admin: User
    auditor: User


def make_draft_plan(document_number: str, start: date, end: date, *, title: str = "草稿计划") -> Plan:
    """A quarterly draft plan with one section and no task yet: no periods, seen by coordinators only."""
    with unit_of_work() as sess:
        draft = Plan(document_number=document_number, title=title, issuing_office="省政府办公厅",
                     period_start=start, period_end=end, reporting_frequency=ReportingFrequency.QUARTERLY,
                     status=PlanStatus.DRAFT)
        sess.add(draft)
        sess.add(Section(plan=draft, number=1, title="实施平台建设行动"))
    return draft


def task_by_number(plan, number: int) -> Task:
    return session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == number))


def make_cast(plan, people) -> Cast:
    return Cast(
        task=task_by_number(plan, 1),
        lead=people.lead,
        co=people.co,
        outsider=people.outsider,
        coordinator=people.coordinator,
        leader=people.leader,
        admin=people.admin,
        auditor=people.auditor,
    )


def file_report(author: User, task: Task, period: str = "2025Q2", *, text: str = "本季度进展", submit: bool = False,
                values: dict | None = None) -> Report:
    with unit_of_work():
        report = report_service.create_report(author, task, period, text=text, values=values)
        if submit:
            report_service.submit_report(author, report)
    return report


def upload(author: User, report: Report, name: str = "佐证材料.pdf", data: bytes = PDF_BYTES):
    stored = store(io.BytesIO(data), name)
    with unit_of_work():
        return report_service.attach_evidence(author, report, stored)

"""Files in, parsed plans out: the importer's entry points for the service
layer and the CLI.

    parse_document(data: bytes, filename: str) -> ParsedPlan
    plan_to_dict(parsed) -> dict   # the JSON of `flask plan parse PATH --json`

``parse_document`` reads .docx, .pdf (with text), .xlsx, .txt/.md (UTF-8
or GB18030) and raises ``PlanParseError`` (a Chinese message saying what to
do) for a file it cannot read. ``parse_plan(text)`` parses pasted text.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from .parser import ParsedPlan, ParsedTask, parse_blocks
from .reader import SourceDocument, read_document


def parse_document(data: bytes, filename: str = "", *, plan_end_year: int | None = None) -> ParsedPlan:
    """Parse a plan document file (bytes as uploaded, with its file name)."""
    source = read_document(data, filename)
    return parse_source(source, plan_end_year=plan_end_year)


def parse_source(source: SourceDocument, *, plan_end_year: int | None = None) -> ParsedPlan:
    from dataclasses import replace

    parsed = parse_blocks(source.blocks, plan_end_year=plan_end_year, source_format=source.format)
    if source.warnings:
        parsed = replace(parsed, warnings=tuple(dict.fromkeys(tuple(source.warnings) + parsed.warnings)))
    return parsed


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def task_to_dict(task: ParsedTask) -> dict[str, Any]:
    return {
        "number": str(task.number),
        "label": task.label,
        "position": task.position,
        "section": task.section,
        "title": task.title,
        "text": task.text,
        "lead": task.lead,
        "co_units": list(task.co_units),
        "lead_confirmed": any(u.role == "lead" and u.confirmed for u in task.units),
        "deadline": _iso(task.deadline),
        "starts_on": _iso(task.starts_on),
        "targets": [target.text for target in task.targets],
        "warnings": list(task.warnings),
    }


def plan_to_dict(parsed: ParsedPlan) -> dict[str, Any]:
    """The parse as plain JSON-able data (dates as YYYY-MM-DD)."""
    return {
        "document_number": parsed.document_number,
        "title": parsed.document_title or parsed.title,  # the heading as printed, as in the corpus
        "plan_title": parsed.title,  # X of "关于印发X的通知"
        "issuer": parsed.issuing_office,
        "issued_on": _iso(parsed.issued_on),
        "start_year": parsed.start_year,
        "end_year": parsed.end_year,
        "format": parsed.source_format,
        "targets": [target.text for target in parsed.targets],
        "tasks": [task_to_dict(task) for task in parsed.tasks],
        "notes": list(parsed.notes),
        "warnings": list(parsed.warnings),
    }

"""Plan documents -> structured plans. Nothing here imports the web app or
the database, so the parser can be tested and run on its own.

Entry points: ``parse_document(data, filename)`` for a file (.docx, .pdf,
.xlsx, .txt, .md), ``parse_plan(text)`` for pasted text, both returning a
``ParsedPlan``; ``plan_to_dict`` gives its JSON. ``PlanParseError`` (message
in Chinese) is raised for what cannot be read at all.
"""
from .document import parse_document, plan_to_dict, task_to_dict
from .errors import PlanParseError
from .parser import ParsedMeasure, ParsedPlan, ParsedSection, ParsedTask, parse_plan
from .reader import SourceDocument, read_document
from .targets import ParsedTarget, extract_targets
from .unit_lists import ParsedUnitRef, parse_unit_list
from .units import UnitSeed, build_alias_index, load_unit_seeds, normalise_unit_name

__all__ = [
    "ParsedMeasure",
    "ParsedPlan",
    "ParsedSection",
    "ParsedTarget",
    "ParsedTask",
    "ParsedUnitRef",
    "PlanParseError",
    "UnitSeed",
    "build_alias_index",
    "extract_targets",
    "load_unit_seeds",
    "normalise_unit_name",
    "parse_document",
    "parse_plan",
    "plan_to_dict",
    "read_document",
    "SourceDocument",
    "task_to_dict",
    "parse_unit_list",
]

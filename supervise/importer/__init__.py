"""Plan documents -> structured plans. Stdlib only: nothing here imports the
web app or the database, so the parser can be tested and run on its own."""
from .parser import ParsedMeasure, ParsedPlan, ParsedSection, ParsedTask, PlanParseError, parse_plan
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
    "parse_plan",
    "parse_unit_list",
]

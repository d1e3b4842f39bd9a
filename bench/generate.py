"""Build a province-scale database for the benchmark (bench/run.py).

    .venv/bin/python bench/generate.py                 # bench/data/province.sqlite3
    .venv/bin/python bench/generate.py --scale small   # what the tests use
    .venv/bin/python bench/generate.py --db postgresql://postgres@127.0.0.1:5432/supervise_bench
                                       # the same data on PostgreSQL (that database is dropped and made anew)

At the province scale: 20 plans of 16 quarters each (2024-2027), 600 tasks,
139 units (the province's departments, the 11 cities and 90 counties), 1,000
users, about 46,000 reports with 150,000 submitted versions, 100,000
evidence records (metadata; 40 files shared), 1,800 milestones; and at every
scale one draft plan, imported from a plan document and not yet reviewed (22
tasks with their source text, warnings and three unit names the directory
does not know: the review page's work), after the rest so the published
data's ids are the same with or without it. The database
is migrated with Alembic and then filled with executemany core inserts, one
transaction, ids given up front; the ORM is not used row by row.

The data is random but seeded, so two runs build the same database. Reports
exist for every period that ended before BENCH_TODAY's quarter; the current
quarter has drafts. Accounts share the password PASSWORD:
bench_coordinator, bench_leader and bench_liaison (a liaison of the unit that
leads most tasks).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from supervise import migrate  # noqa: E402
from supervise.db import Base, make_engine  # noqa: E402
import supervise.models  # noqa: E402,F401  (registers every table on Base.metadata)
from supervise.models import (  # noqa: E402
    MilestoneState,
    ReportingFrequency,
    ReportKind,
    ReportState,
    Role,
    TargetKind,
    TaskState,
    UnitKind,
    UnitRole,
)
from supervise.domain.periods import period_spans  # noqa: E402
from supervise.domain.workdays import WorkdayCalendar, report_due_date  # noqa: E402

DEFAULT_PATH = ROOT / "bench" / "data" / "province.sqlite3"
PASSWORD = "Bench@2026pw"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Reports are filed for the periods that ended before this day's quarter.
BENCH_TODAY = date(2026, 11, 26)


@dataclass(frozen=True)
class Scale:
    plans: int
    sections_per_plan: int
    tasks_per_section: int
    co_units: tuple[int, int]  # co-units per task, min and max
    users: int
    evidence: int
    versions_per_report: tuple[int, int]
    milestones_per_task: int
    use_counties: bool = True


SCALES = {
    "province": Scale(plans=20, sections_per_plan=5, tasks_per_section=6, co_units=(4, 8), users=1000,
                      evidence=100_000, versions_per_report=(2, 4), milestones_per_task=3),
    # The statement-count test builds these two; they differ in every dimension.
    "small": Scale(plans=2, sections_per_plan=2, tasks_per_section=2, co_units=(1, 2), users=20,
                   evidence=200, versions_per_report=(1, 2), milestones_per_task=1, use_counties=False),
    "larger": Scale(plans=3, sections_per_plan=3, tasks_per_section=4, co_units=(3, 6), users=60,
                    evidence=2000, versions_per_report=(1, 3), milestones_per_task=3),
}

SECTION_TITLES = ["实施主体引育壮大行动", "实施产业融合发展行动", "实施品牌出海拓展行动", "实施物流体系建设行动",
                  "实施服务保障提升行动", "实施数字贸易赋能行动", "实施开放平台提升行动"]
TASK_VERBS = ["推进", "加快", "深化", "完善", "培育", "建设", "拓展", "强化", "优化", "提升"]
TASK_OBJECTS = ["跨境电商产业园", "海外仓布局", "品牌出海", "数字化转型", "人才培训", "金融服务", "通关便利化",
                "物流通道", "公共服务平台", "知识产权保护", "统计监测", "市场主体培育"]
MEASURES = [("家", "应用主体"), ("个", "产业园"), ("场", "对接活动"), ("人次", "技能培训"), ("条", "航线")]


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


class _Ids:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.counters[table] = self.counters.get(table, 0) + 1
        return self.counters[table]


def _unit_rows(use_counties: bool) -> list[dict]:
    rows: list[dict] = []
    by_name: dict[str, int] = {}
    files = [ROOT / "seed" / "units.csv"] + ([ROOT / "seed" / "counties.csv"] if use_counties else [])
    for path in files:
        with path.open(encoding="utf-8") as f:
            for i, rec in enumerate(csv.DictReader(f)):
                uid = len(rows) + 1
                by_name[rec["canonical_name"]] = uid
                rows.append({
                    "id": uid, "canonical_name": rec["canonical_name"], "short_name": rec["short_name"],
                    "kind": UnitKind(rec["kind"]), "parent_id": by_name.get(rec["parent"] or ""),
                    "sort_order": i, "is_active": True, "created_at": _utc(date(2024, 1, 1), 9),
                })
    return rows


def build(engine: Engine, scale: Scale, *, seed: int = 2026, today: date = BENCH_TODAY) -> dict[str, int]:
    """Fill a migrated, empty database. Returns the row count per table."""
    rng = random.Random(seed)
    ids = _Ids()
    rows: dict[str, list[dict]] = {t: [] for t in Base.metadata.tables}
    created = _utc(date(2024, 1, 2), 9)
    calendar = WorkdayCalendar({})

    units = _unit_rows(scale.use_counties)
    rows["units"] = units
    unit_ids = [u["id"] for u in units]
    commerce = next(u["id"] for u in units if u["short_name"] == "省商务厅")
    departments = [u["id"] for u in units if u["kind"] is UnitKind.PROVINCIAL_DEPARTMENT]
    cities = [u["id"] for u in units if u["kind"] is UnitKind.CITY_GOVERNMENT]

    # Accounts: one password hash for all (hashing 1,000 would be most of the time).
    password_hash = generate_password_hash(PASSWORD)
    special = [("bench_coordinator", Role.COORDINATOR, commerce), ("bench_leader", Role.LEADER, commerce)]
    lead_counts: dict[int, int] = {}

    # Plans, actions, tasks, units, targets, periods.
    plan_periods: dict[int, list[dict]] = {}
    task_units_by_task: dict[int, list[dict]] = {}
    targets_by_task: dict[int, list[dict]] = {}
    tasks: list[dict] = []
    for p in range(1, scale.plans + 1):
        plan_id = ids.next("plans")
        rows["plans"].append({
            "id": plan_id, "document_number": f"浙政办发〔2024〕{100 + p}号",
            "title": f"浙江省推进{TASK_OBJECTS[p % len(TASK_OBJECTS)]}高质量发展行动方案(2024—2027年)第{p}号",
            "issuing_office": "浙江省人民政府办公厅", "issued_on": date(2024, 1, 1) + timedelta(days=p),
            "period_start": date(2024, 1, 1), "period_end": date(2027, 12, 31),
            "reporting_frequency": ReportingFrequency.QUARTERLY, "report_due_working_days": 5,
            # As long as a real plan document (27号 is about 30,000 characters).
            "notes": "", "source_text": f"第{p}号计划全文。" + "各地各部门要按照职责分工,细化工作举措。" * 1500,
            "source_sha256": hashlib.sha256(f"plan{p}".encode()).hexdigest(),
            "created_at": created,
        })
        periods = []
        for span in period_spans(date(2024, 1, 1), date(2027, 12, 31), ReportingFrequency.QUARTERLY):
            periods.append({
                "id": ids.next("reporting_periods"), "plan_id": plan_id, "code": span.code,
                "starts_on": span.starts_on, "ends_on": span.ends_on,
                "due_on": report_due_date(calendar, span.ends_on, 5),
            })
        rows["reporting_periods"] += periods
        plan_periods[plan_id] = periods
        for t in range(3):  # the plan's overall targets
            measure, subject = MEASURES[t % len(MEASURES)]
            rows["targets"].append({
                "id": ids.next("targets"), "plan_id": plan_id, "task_id": None, "position": t + 1,
                "text": f"全省{subject}达到{(t + 1) * 100}{measure}以上", "subject": f"全省{subject}",
                "value": (t + 1) * 100, "measure": measure, "comparator": "以上", "kind": TargetKind.CUMULATIVE,
                "due_year": 2027, "baseline_year": None, "baseline_value": None, "threshold": None,
            })
        number = 0
        for s in range(1, scale.sections_per_plan + 1):
            section_id = ids.next("sections")
            rows["sections"].append({"id": section_id, "plan_id": plan_id, "number": s,
                                     "title": SECTION_TITLES[(s - 1) % len(SECTION_TITLES)]})
            for _ in range(scale.tasks_per_section):
                number += 1
                task_id = ids.next("tasks")
                state = rng.choices([TaskState.IN_PROGRESS, TaskState.NOT_STARTED, TaskState.CLOSED,
                                     TaskState.SUSPENDED], [85, 6, 6, 3])[0]
                task = {
                    "id": task_id, "plan_id": plan_id, "section_id": section_id, "number": number,
                    "title": f"{rng.choice(TASK_VERBS)}{rng.choice(TASK_OBJECTS)}",
                    "text": "(基准测试数据)" + "围绕目标任务,细化工作举措,按季度报送进展。" * 4,
                    "deadline": date(2027, 12, 31), "original_deadline": date(2027, 12, 31), "state": state,
                    "version": 1, "created_at": created, "updated_at": created,
                }
                tasks.append(task)
                rows["tasks"].append(task)
                lead = rng.choice(departments[:12])
                lead_counts[lead] = lead_counts.get(lead, 0) + 1
                co = rng.sample([u for u in unit_ids if u != lead], rng.randint(*scale.co_units))
                if rng.random() < 0.3:  # some tasks go to every city, as 各市政府 does
                    co = list(dict.fromkeys(co + [c for c in cities if c != lead]))
                tus = [{"id": ids.next("task_units"), "task_id": task_id, "unit_id": lead, "role": UnitRole.LEAD,
                        "position": 1, "is_confirmed": True, "via_collective": None}]
                for pos, unit in enumerate(co, start=2):
                    tus.append({"id": ids.next("task_units"), "task_id": task_id, "unit_id": unit,
                                "role": UnitRole.CO, "position": pos, "is_confirmed": False,
                                "via_collective": None})
                rows["task_units"] += tus
                task_units_by_task[task_id] = tus
                targets = []
                for k in range(2):
                    measure, subject = MEASURES[(number + k) % len(MEASURES)]
                    goal = rng.choice([50, 100, 400, 1000, 5000])
                    target = {
                        "id": ids.next("targets"), "plan_id": plan_id, "task_id": task_id, "position": k + 1,
                        "text": f"新增{subject}{goal}{measure}以上", "subject": subject, "value": goal,
                        "measure": measure, "comparator": "以上", "kind": TargetKind.CUMULATIVE, "due_year": 2027,
                        "baseline_year": None, "baseline_value": None, "threshold": None,
                    }
                    targets.append(target)
                    if k == 0 and len(tus) > 2:  # a split target: shared among the co-units
                        share = goal // (len(tus) - 1)
                        for tu in tus[1:]:
                            rows["target_allocations"].append({
                                "id": ids.next("target_allocations"), "target_id": target["id"],
                                "unit_id": tu["unit_id"], "value": share, "baseline_value": None,
                            })
                rows["targets"] += targets
                targets_by_task[task_id] = targets

    # Users: the three named accounts, then liaisons spread over the units.
    top_lead = max(lead_counts, key=lead_counts.get)
    special.append(("bench_liaison", Role.LIAISON, top_lead))
    roles_cycle = [Role.COORDINATOR] * 2 + [Role.LEADER] + [Role.ADMIN] + [Role.AUDITOR] + [Role.LIAISON] * 95
    users_by_unit: dict[int, list[int]] = {}
    for n in range(scale.users):
        uid = ids.next("users")
        if n < len(special):
            login, role, unit = special[n]
        else:
            role = roles_cycle[n % len(roles_cycle)]
            unit = commerce if role is not Role.LIAISON else unit_ids[n % len(unit_ids)]
            login = f"bench_{role.value}_{n}"
        rows["users"].append({
            "id": uid, "login": login, "name": f"用户{n}", "unit_id": unit, "password_hash": password_hash,
            "email": f"{login}@bench.invalid", "phone": None, "is_active": True, "wants_email": True,
            "wants_webhook": False, "must_change_password": False, "failed_logins": 0, "locked_until": None,
            "password_changed_at": created, "totp_secret": None, "session_epoch": 0, "created_at": created,
            "last_login_at": None,
        })
        rows["user_roles"].append({"id": ids.next("user_roles"), "user_id": uid, "role": role,
                                   "granted_at": created, "granted_by_id": None})
        users_by_unit.setdefault(unit, []).append(uid)
    coordinator_id = rows["users"][0]["id"]

    def author(unit_id: int) -> int:
        return (users_by_unit.get(unit_id) or [coordinator_id])[0]

    # Reports, their versions and values; inclusions of contributions.
    shared_files = [hashlib.sha256(f"evidence-{i}".encode()).hexdigest() for i in range(40)]
    report_ids: list[tuple[int, int, int]] = []  # (report id, task id, unit id)
    for task in tasks:
        tus = task_units_by_task[task["id"]]
        targets = targets_by_task[task["id"]]
        for period in plan_periods[task["plan_id"]]:
            if period["ends_on"] >= today:
                if period["starts_on"] <= today and rng.random() < 0.3:  # this quarter: a few drafts
                    rid = ids.next("reports")
                    rows["reports"].append(_report(rid, task, period, tus[0], ReportKind.LEAD_REPORT,
                                                   ReportState.DRAFT, author(tus[0]["unit_id"]), None, None))
                continue
            lead_report_id = None
            contributions: list[int] = []
            for tu in reversed(tus):  # contributions first, then the lead's report that includes them
                is_lead = tu["role"] is UnitRole.LEAD
                roll = rng.random()
                if roll < 0.06:
                    continue  # never filed
                if is_lead:
                    state = (ReportState.APPROVED if roll < 0.86 else ReportState.SUBMITTED if roll < 0.92
                             else ReportState.RETURNED if roll < 0.97 else ReportState.DRAFT)
                else:
                    state = (ReportState.ACCEPTED if roll < 0.88 else ReportState.SUBMITTED if roll < 0.93
                             else ReportState.RETURNED if roll < 0.97 else ReportState.DRAFT)
                late = rng.random() < 0.15
                first = None
                if state is not ReportState.DRAFT:
                    day = period["due_on"] + timedelta(days=rng.randint(1, 12)) if late else \
                        period["due_on"] - timedelta(days=rng.randint(0, 6))
                    first = _utc(day, rng.randint(8, 20), rng.randint(0, 59))
                rid = ids.next("reports")
                kind = ReportKind.LEAD_REPORT if is_lead else ReportKind.CONTRIBUTION
                report = _report(rid, task, period, tu, kind, state, author(tu["unit_id"]), first,
                                 "数据口径需与统计部门一致" if state is ReportState.RETURNED else None)
                rows["reports"].append(report)
                report_ids.append((rid, task["id"], tu["unit_id"]))
                if first is not None:
                    n_versions = rng.randint(*scale.versions_per_report)
                    for v in range(1, n_versions + 1):
                        rows["report_versions"].append({
                            "id": ids.next("report_versions"), "report_id": rid, "number": v,
                            "text": report["text"], "snapshot": {"values": {}, "evidence": []},
                            "submitted_by_id": report["created_by_id"],
                            "submitted_at": first + timedelta(days=2 * (v - 1)),
                        })
                quarter = int(period["code"][-1]) + 4 * (int(period["code"][:4]) - 2024)
                if is_lead:
                    lead_report_id = rid
                    for target in targets:
                        rows["report_values"].append({
                            "id": ids.next("report_values"), "report_id": rid, "target_id": target["id"],
                            "value": round(target["value"] * quarter / 16 * rng.uniform(0.6, 1.2), 2),
                        })
                else:
                    if state is ReportState.ACCEPTED:
                        contributions.append(rid)
                    rows["report_values"].append({
                        "id": ids.next("report_values"), "report_id": rid, "target_id": targets[0]["id"],
                        "value": round(targets[0]["value"] / max(len(tus) - 1, 1) * quarter / 16
                                       * rng.uniform(0.6, 1.2), 2),
                    })
            if lead_report_id is not None:
                for cid in contributions:
                    rows["report_inclusions"].append({"id": ids.next("report_inclusions"),
                                                      "report_id": lead_report_id, "contribution_id": cid})

    # Milestones: some done, some open, some past their date.
    milestone_ids: list[tuple[int, int, int]] = []
    for task in tasks:
        lead = task_units_by_task[task["id"]][0]["unit_id"]
        for k in range(scale.milestones_per_task):
            due = date(2024, 6, 30) + timedelta(days=rng.randint(0, 1200))
            state = MilestoneState.COMPLETED if due < today and rng.random() < 0.8 else \
                rng.choice([MilestoneState.CONFIRMED, MilestoneState.PROPOSED, MilestoneState.DONE_CLAIMED])
            mid = ids.next("milestones")
            rows["milestones"].append({
                "id": mid, "task_id": task["id"], "title": f"节点{k + 1}:完成阶段性工作", "due_on": due,
                "state": state, "note": "", "reject_reason": None, "proposed_by_id": author(lead),
                "created_at": created, "completed_at": _utc(due, 17) if state is MilestoneState.COMPLETED else None,
                "version": 1,
            })
            milestone_ids.append((mid, task["id"], lead))

    # Evidence: metadata only, the bytes shared among 40 files.
    for n in range(scale.evidence):
        if n % 5 == 0 and milestone_ids:
            mid, task_id, unit = milestone_ids[n % len(milestone_ids)]
            report_id = None
        else:
            report_id, task_id, unit = report_ids[n % len(report_ids)]
            mid = None
        rows["evidence"].append({
            "id": ids.next("evidence"), "task_id": task_id, "report_id": report_id, "milestone_id": mid,
            "unit_id": unit, "sha256": shared_files[n % len(shared_files)], "size": 1024 * (1 + n % 300),
            "content_type": "application/pdf", "original_name": f"佐证材料{n}.pdf", "uploaded_by_id": author(unit),
            "uploaded_at": created + timedelta(minutes=n),
        })

    # Last, so the published plans' ids and random draws stay as they were.
    _unit_alias_rows(rows, ids, scale.use_counties)
    # Its rows have columns the published plans' leave to their defaults:
    # inserted as a batch of their own.
    draft = _draft_plan(rows, ids, today)

    with engine.begin() as conn:
        for batches in (rows, draft):
            for table in Base.metadata.sorted_tables:
                batch = batches.get(table.name) or []
                for start in range(0, len(batch), 20_000):
                    conn.execute(insert(table), batch[start:start + 20_000])
        if engine.dialect.name == "postgresql":
            # Ids were given; move each sequence past them.
            for table in Base.metadata.sorted_tables:
                if (rows.get(table.name) or draft.get(table.name)) and "id" in table.c:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    ))
    counts = {name: len(batch) + len(draft.get(name, [])) for name, batch in rows.items()}
    # The draft is the same at every scale: its share said apart.
    counts.update({f"draft plan {name}": len(batch) for name, batch in draft.items()})
    return {name: count for name, count in counts.items() if count}


# The plan document a coordinator imports and has not yet published: the
# seed plan (27号) under a new number, with three units written in ways the
# directory does not know, as a real document brings them (the review page
# asks the coordinator to match them).
DRAFT_PLAN_DOCUMENT = ROOT / "seed" / "plans" / "zhejiang-cbec-action-plan-2024.md"
DRAFT_DOCUMENT_NUMBER = "浙政办发〔2026〕9号"
DRAFT_UNKNOWN_NAMES = {"省邮政管理局": "省邮政快递行业协会", "民航浙江安全监管局": "浙江民航地区管理机构",
                       "省贸促会": "省国际贸易促进中心"}


def draft_plan_text() -> str:
    text = DRAFT_PLAN_DOCUMENT.read_text(encoding="utf-8").replace("浙政办发〔2024〕27号", DRAFT_DOCUMENT_NUMBER)
    for known, unknown in DRAFT_UNKNOWN_NAMES.items():
        text = text.replace(known, unknown)
    return text


def _unit_alias_rows(rows: dict[str, list[dict]], ids: _Ids, use_counties: bool) -> None:
    """The directory's names as `flask seed` loads them (services/units.py
    load_units): canonical name, short name and aliases, each once."""
    from supervise.importer.units import load_unit_seeds, normalise_unit_name

    unit_of = {u["canonical_name"]: u["id"] for u in rows["units"]}
    taken: set[str] = set()
    files = [ROOT / "seed" / "units.csv"] + ([ROOT / "seed" / "counties.csv"] if use_counties else [])
    for path in files:
        for seed in load_unit_seeds(path):
            for name in (seed.canonical_name, seed.short_name, *seed.aliases):
                key = normalise_unit_name(name)
                if key and key not in taken:
                    taken.add(key)
                    rows["unit_aliases"].append({"id": ids.next("unit_aliases"), "unit_id": unit_of[seed.canonical_name],
                                                 "alias": key})


def _draft_plan(directory: dict[str, list[dict]], ids: _Ids, today: date) -> dict[str, list[dict]]:
    """A draft plan as services/plans.py import_parsed_plan leaves it: the
    document's text, its sections, tasks (with their source text, warnings
    and the names left to match), units (a collective's cities as co-units),
    targets and fiscal measures; no periods, it owes nothing yet."""
    from supervise.importer import parse_plan
    from supervise.importer.units import normalise_unit_name
    from supervise.models import PlanStatus

    text = draft_plan_text()
    parsed = parse_plan(text)
    unit_of = {a["alias"]: a["unit_id"] for a in directory["unit_aliases"]}
    cities = [u["id"] for u in directory["units"] if u["kind"] is UnitKind.CITY_GOVERNMENT]
    rows: dict[str, list[dict]] = {name: [] for name in ("plans", "sections", "tasks", "task_units", "targets",
                                                         "fiscal_measures")}
    plan_id = ids.next("plans")
    rows["plans"].append({
        "id": plan_id, "document_number": parsed.document_number, "title": parsed.title,
        "issuing_office": parsed.issuing_office or "", "issued_on": parsed.issued_on,
        "period_start": parsed.period_start, "period_end": parsed.period_end,
        "reporting_frequency": ReportingFrequency.QUARTERLY, "report_due_working_days": 5,
        "notes": "\n".join(parsed.notes), "source_text": text,
        "source_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "created_at": _utc(today, 10),
        "status": PlanStatus.DRAFT, "source_filename": DRAFT_PLAN_DOCUMENT.name,
        "warnings": list(parsed.warnings) or None,
    })

    def target_row(task_id: int | None, t, position: int) -> dict:
        return {"id": ids.next("targets"), "plan_id": plan_id, "task_id": task_id, "position": position,
                "text": t.text, "subject": t.subject, "value": t.value, "measure": t.measure,
                "comparator": t.comparator, "kind": TargetKind(t.kind), "due_year": t.year,
                "baseline_year": t.baseline_year, "baseline_value": None, "threshold": t.threshold}

    for section_number, parsed_section in enumerate(parsed.sections, start=1):
        section_id = ids.next("sections")
        rows["sections"].append({"id": section_id, "plan_id": plan_id, "number": section_number,
                                 "title": (parsed_section.title or "主要任务")[:120]})
        for pt in parsed_section.tasks:
            task_id = ids.next("tasks")
            deadline = pt.deadline or parsed.period_end
            pending: list[dict] = []
            seen: set[int] = set()
            position = 0

            def add(unit_id: int, role: UnitRole, confirmed: bool, via: str | None) -> None:
                nonlocal position
                if unit_id in seen:
                    return
                seen.add(unit_id)
                position += 1
                rows["task_units"].append({"id": ids.next("task_units"), "task_id": task_id, "unit_id": unit_id,
                                           "role": role, "position": position, "is_confirmed": confirmed,
                                           "via_collective": via})

            for ref in pt.units:
                if ref.collective:
                    for city in cities:
                        add(city, UnitRole.CO, False, ref.name)
                elif normalise_unit_name(ref.name) in unit_of:
                    add(unit_of[normalise_unit_name(ref.name)], UnitRole(ref.role), ref.confirmed, None)
                elif all(p["name"] != ref.name for p in pending):
                    pending.append({"name": ref.name, "role": ref.role, "confirmed": bool(ref.confirmed)})
            rows["tasks"].append({
                "id": task_id, "plan_id": plan_id, "section_id": section_id, "number": pt.number,
                "title": (pt.title or pt.text[:60])[:255], "text": pt.text, "source_text": pt.source_text or pt.text,
                "deadline": deadline, "original_deadline": deadline, "starts_on": pt.starts_on,
                "state": TaskState.NOT_STARTED, "version": 1, "warnings": list(pt.warnings) or None,
                "pending_units": pending or None, "created_at": _utc(today, 10), "updated_at": _utc(today, 10),
            })
            for target_position, t in enumerate(pt.targets, start=1):
                rows["targets"].append(target_row(task_id, t, target_position))
    for target_position, t in enumerate(parsed.targets, start=1):
        rows["targets"].append(target_row(None, t, target_position))
    for m in parsed.measures:
        rows["fiscal_measures"].append({
            "id": ids.next("fiscal_measures"), "plan_id": plan_id, "group_number": m.group_number,
            "group_title": m.group, "number": m.number, "title": m.title, "text": m.text,
            "cap_amount": m.cap_amount, "subsidy_rate": m.subsidy_rate,
        })
    return rows


def _report(rid, task, period, tu, kind, state, author_id, first, reason) -> dict:
    approved = state in (ReportState.APPROVED, ReportState.ACCEPTED)
    return {
        "id": rid, "task_id": task["id"], "period_id": period["id"], "unit_id": tu["unit_id"], "kind": kind,
        "state": state, "text": f"{period['code']}进展:按计划推进{task['title']},完成阶段性目标。",
        "return_reason": reason, "created_by_id": author_id,
        "created_at": first or _utc(period["ends_on"], 9), "updated_at": first or _utc(period["ends_on"], 9),
        "submitted_at": first, "first_submitted_at": first,
        "decided_at": first + timedelta(days=3) if approved and first else None,
        "decided_by_id": None, "returned_at": first + timedelta(days=2) if reason and first else None,
        "version": 1,
    }


def generate(url: str, scale: Scale, *, seed: int = 2026) -> dict[str, int]:
    """Migrate an empty database at `url` and fill it."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        return build(engine, scale, seed=seed)
    finally:
        engine.dispose()


def recreate_postgresql(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="province")
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", default="", help="a PostgreSQL URL instead of the SQLite file --out; "
                        "the database is dropped and created anew")
    args = parser.parse_args(argv)
    if args.db:
        url = args.db.replace("postgresql://", "postgresql+psycopg://", 1)
        recreate_postgresql(url)
        target = url
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.out}{suffix}").unlink(missing_ok=True)
        url, target = f"sqlite:///{args.out}", args.out
    started = time.perf_counter()
    counts = generate(url, SCALES[args.scale], seed=args.seed)
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # fresh statistics, as autovacuum would make them
        engine.dispose()
    elapsed = time.perf_counter() - started
    for name in ("plans", "tasks", "units", "reporting_periods", "users", "task_units", "reports",
                 "report_versions", "report_values", "report_inclusions", "evidence", "milestones"):
        print(f"{name:20} {counts.get(name, 0):>8,}")
    print(f"built {target} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()

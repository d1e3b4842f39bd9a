"""The task page's work: who owes what for each period, milestones (节点),
closing (办结), suspension (暂缓), deadline extensions (延期) and the split of
targets among units (目标分解).

The page itself is `main.task`; `task_sections()` gives it these parts, and
the actions here draw it again with the failing form (400), or afresh with
the reason on top (409) when the item changed meanwhile.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import Select

from .. import db
from ..errors import Conflict, InvalidTransition, ValidationError
from ..models import (
    ExtensionState,
    Milestone,
    Task,
    Unit,
)
from ..policy import authorize, can
from ..serialize import decimal_text
from ..services import plans as plan_service
from ..services import tasks as task_service
from ..services.task_view import HISTORY_LIMIT, task_view
from ..workflow import ACTION_LABELS
from . import acting_user
from ..domain import clock
from ..domain.lights import Light
from .common import show_errors
from .forms import (
    DecisionForm,
    EvidenceForm,
    ExtensionForm,
    MilestoneDoneForm,
    MilestoneForm,
    NewReportForm,
    ReasonForm,
    TaskUnitForm,
    VersionForm,
    options,
    split_form,
)
from .reports import store_and_attach

bp = Blueprint("tasks", __name__)


# --- the sections of the task page ---------------------------------------------------------


RECENT_PERIODS_IN_FULL = 2  # the current period and the one just ended
EVIDENCE_SHOWN = 5  # a milestone's latest files listed; the others on demand (?evidence=all)
HISTORY_SHOWN = 20  # the task's latest history entries listed; up to HISTORY_LIMIT on demand (?history=all)


def task_sections(task: Task, *, page_error: str | None = None, forms: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the task page shows besides the task itself -- the read model
    `task_view` (periods, milestones, closing, extensions, target progress,
    what this user may do) -- and the forms for what they may do."""
    user = acting_user()
    # The page lists only the periods that have begun, and of their reports only which and their state.
    # Of the history, the latest few; the rest (up to HISTORY_LIMIT) on
    # demand. Three times as many are read as shown, so that entries hidden
    # from this user (another unit's draft) seldom leave the list short.
    all_history = request.args.get("history") == "all"
    view = task_view(user, task.id, clock.today(), periods="started", report_rows=True,
                     history=HISTORY_LIMIT if all_history else 3 * HISTORY_SHOWN)
    forms = dict(forms or {})
    task_version = {"version": task.version}

    def form(key: str, factory):
        if key not in forms:
            forms[key] = factory()
        return forms[key]

    milestone_rows = []
    for mv in view.milestones:
        m = mv.milestone
        version = {"version": m.version}
        row: dict[str, Any] = {"m": m, "light": mv.light}
        if "confirm" in mv.actions:
            row["confirm_form"] = form(f"ms{m.id}-confirm", lambda v=version: VersionForm(formdata=None, data=v))
        if "accept_done" in mv.actions:
            row["decide_form"] = form(
                f"ms{m.id}-decide", lambda v=version, i=m.id: DecisionForm(formdata=None, data=v, prefix=f"ms{i}-decide")
            )
        if "mark_done" in mv.actions:
            row["evidence_form"] = form(
                f"ms{m.id}-ev", lambda v=version, i=m.id: EvidenceForm(formdata=None, data=v, prefix=f"ms{i}-ev")
            )
            row["done_form"] = form(
                f"ms{m.id}-done", lambda v=version, i=m.id: MilestoneDoneForm(formdata=None, data=v, prefix=f"ms{i}-done")
            )
        milestone_rows.append(row)

    extension_rows = []
    for ext in view.extensions:
        row = {"x": ext}
        if ext.state is ExtensionState.PENDING and can(user, "extension.decide", ext):
            row["decide_form"] = form(
                f"ext{ext.id}", lambda i=ext.id: DecisionForm(formdata=None, data=task_version, prefix=f"ext{i}")
            )
        extension_rows.append(row)

    progress = []
    # A split form (a field per unit) is drawn when asked for (?split=<target id>)
    # or when one sent came back with errors; otherwise a link to it.
    split_asked = request.args.get("split", type=int)
    for row in view.progress:
        row = dict(row)
        target = row["target"]
        if target.id in view.splittable_target_ids and target.id != split_asked and f"split{target.id}" not in forms:
            row["split_url"] = url_for("main.task", task_id=task.id, split=target.id, _anchor=f"target-{target.id}")
        elif target.id in view.splittable_target_ids:
            allocations = {a.unit_id: decimal_text(a.value) for a in target.allocations}
            row["split_form"] = form(
                f"split{target.id}",
                lambda t=target, a=allocations: split_form(
                    t, [tu.unit for tu in task.units], formdata=None, prefix=f"split{t.id}",
                    data={f"share_{uid}": value for uid, value in a.items()},
                ),
            )
        progress.append(row)

    contribution_due = {p.period.id: p.contribution_due_on for p in view.periods}
    started = view.started_periods
    all_periods = request.args.get("periods") == "all"
    # People act on the latest periods and on what their own unit still
    # owes: those are drawn in full; older periods as one line each (their
    # light, the lead's report, how many are still missing), every unit of
    # them on demand (?periods=all), so the page does not draw every unit
    # of every quarter of a long plan.
    may_file = "file_report" in view.actions
    in_full = [p for i, p in enumerate(started) if all_periods or i < RECENT_PERIODS_IN_FULL
               or (may_file and p.my_item is not None and not p.my_item.is_done)]
    shown = {p.period.id for p in in_full}
    ctx: dict[str, Any] = {
        "view": view,
        "today": view.today,
        "page_error": page_error,
        "periods": in_full,
        "earlier_periods": [p for p in started if p.period.id not in shown],
        "started_count": len(started),
        "all_periods": all_periods,
        "recent_in_full": RECENT_PERIODS_IN_FULL,
        # A milestone's files: the latest few, all of them on demand.
        "evidence_shown": None if request.args.get("evidence") == "all" else EVIDENCE_SHOWN,
        "all_history": all_history,
        "history_shown": HISTORY_SHOWN,
        "contribution_due_on": lambda p: contribution_due[p.id],
        "may_file": may_file,
        "new_report_form": NewReportForm(formdata=None),
        "milestones": milestone_rows,
        "extensions": extension_rows,
        "closing_evidence": list(view.closing_evidence),
        "progress": progress,
        "task_actions": view.workflow_actions,
        "ACTION_LABELS": ACTION_LABELS,
        "is_lead": view.is_lead,
        "may_decide": view.may_decide,
        "light_html": light_html(),
    }
    if "propose_milestone" in view.actions:
        ctx["milestone_form"] = form("ms", lambda: MilestoneForm(formdata=None, prefix="ms"))
    if "request_close" in view.actions:
        ctx["close_evidence_form"] = form("close-ev", lambda: EvidenceForm(formdata=None, data=task_version, prefix="close-ev"))
        ctx["close_form"] = form("close", lambda: ReasonForm(formdata=None, data=task_version, prefix="close"))
    if "request_extension" in view.actions:
        ctx["extension_form"] = form("ext", lambda: ExtensionForm(formdata=None, data=task_version, prefix="ext"))
    if "decide_close" in view.actions:
        ctx["decide_close_form"] = form(
            "decide-close", lambda: DecisionForm(formdata=None, data=task_version, prefix="decide-close")
        )
    if "suspend" in view.actions:
        ctx["suspend_form"] = form("suspend", lambda: ReasonForm(formdata=None, data=task_version, prefix="suspend"))
    if "resume" in view.actions:
        ctx["resume_form"] = form("resume", lambda: ReasonForm(formdata=None, data=task_version, prefix="resume"))
    return ctx


class OptionsSelect(Select):
    """wtforms' Select writing a plain option (no extra attributes) itself:
    the same HTML as html_params makes ('selected value="…"', escaped the
    same way) without its sorting and formatting, which for the ~160 units
    of the directory was a tenth of the task page's time."""

    def __call__(self, field, **kwargs):
        """The whole select written here when it is plain (no attributes
        given, no flags, options as `options()` makes them, in a list or a
        dict of groups): the same HTML as Select, without a Choice built and
        dispatched per option."""
        groups = list(field.choices.items()) if isinstance(field.choices, dict) else [(None, field.choices)]
        if (kwargs or field.render_kw or self.multiple or field.flags.required or field.flags.disabled
                or any(not isinstance(c, SelectChoice) or c.render_kw or c.optgroup is not None
                       or isinstance(c.value, bool) for _, choices in groups for c in choices)):
            return super().__call__(field, **kwargs)
        coerce, data = field.coerce, field.data
        html = [f'<select id="{escape(field.id)}" name="{escape(field.name)}">']
        for group, choices in groups:
            if group is not None:
                html.append(f'<optgroup label="{escape(group)}">')
            for c in choices:
                try:
                    selected = "selected " if coerce(c.value) == data else ""
                except (ValueError, TypeError):
                    selected = ""
                html.append(f'<option {selected}value="{escape(c.value)}">{escape(c.label or c.value)}</option>')
            if group is not None:
                html.append("</optgroup>")
        html.append("</select>")
        return Markup("".join(html))

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        value = escape(choice.value).replace(Markup('"'), Markup("&quot;"))
        label = escape(choice.label or choice.value)
        selected = "selected " if choice.selected else ""
        return Markup(f'<option {selected}value="{value}">{label}</option>')


UNIT_SELECT = OptionsSelect()


def light_html() -> dict[Light, Markup]:
    """The `light` macro of _macros.html for each light, rendered once per
    process (it depends on nothing else): the task page shows one per unit
    and period, and a macro call each was a good part of drawing it."""
    key = "supervise.light_html"
    if key not in current_app.extensions:
        macros = current_app.jinja_env.get_template("_macros.html").module
        current_app.extensions[key] = {light: Markup(macros.light(light)) for light in Light}
    return current_app.extensions[key]


def make_unit_form(bound: bool, task: Task | None = None) -> TaskUnitForm:
    form = TaskUnitForm() if bound else TaskUnitForm(formdata=None)
    form.unit_id.widget = UNIT_SELECT
    # The directory as (id, name) rows: ~160 ORM units only to name options.
    units = db.session.execute(
        select(Unit.id, Unit.short_name).where(Unit.is_active).order_by(Unit.kind, Unit.sort_order)).all()
    own = [tu.unit for tu in task.units] if task is not None else []
    if own:
        # The task's own units first: a lead is chosen among them.
        own_ids = {u.id for u in own}
        form.unit_id.choices = {
            "本任务责任单位": options((u.id, u.short_name) for u in own),
            "其他单位": options((u.id, u.short_name) for u in units if u.id not in own_ids),
        }
    else:
        form.unit_id.choices = options((u.id, u.short_name) for u in units)
    return form


def task_context(task: Task, *, unit_form: TaskUnitForm | None = None, page_error: str | None = None,
                 forms: dict | None = None) -> dict:
    """Everything the task page shows; `forms` are the task actions' forms
    as typed, when one of them failed.

    The form changing the task's units (a select of the whole directory)
    is drawn when asked for (?units=edit), while the lead awaits
    confirmation (the page offers choosing another), or as sent when it
    failed (`unit_form`); otherwise the page links to it."""
    may_assign = can(acting_user(), "task.assign_units", task)
    if unit_form is None and may_assign and (
            request.args.get("units") == "edit" or (task.lead is not None and not task.lead.is_confirmed)):
        unit_form = make_unit_form(bound=False, task=task)
    sections = task_sections(task, page_error=page_error, forms=forms)
    history = list(sections["view"].history)
    shown = history if sections["all_history"] else history[:HISTORY_SHOWN]
    return {"task": task, "form": unit_form, "may_assign_units": may_assign,
            "history": shown, "earlier_history": len(history) > len(shown), **sections}


def _render(task: Task, *, status: int, page_error: str | None = None, forms: dict[str, Any] | None = None):
    return render_template("main/task.html", **task_context(task, page_error=page_error, forms=forms)), status


def _run(task_id: int, key: str, form, action):
    """Validate `form`, run `action(form)`; on bad input draw the page again
    with the form as typed (400); when the item changed meanwhile, draw it
    afresh with the reason (409)."""
    task = plan_service.get_task(acting_user(), task_id)
    if not form.validate_on_submit():
        return _render(task, status=400, forms={key: form})
    try:
        message = action(form)
    except ValidationError as exc:
        show_errors(form, exc)  # 400, or 413 for a file over the limit
        return _render(plan_service.get_task(acting_user(), task_id), status=exc.status, forms={key: form})
    except (Conflict, InvalidTransition) as exc:
        db.session.rollback()
        return _render(plan_service.get_task(acting_user(), task_id), status=409, page_error=exc.message)
    flash(message, "success")
    return redirect(url_for("main.task", task_id=task_id))


def _upload_keeping_typed(task_id: int, target, ev_key: str, typed_key: str, typed_form, text_field: str,
                          verb: str):
    """上传 on a form where a reason or note is typed (申请办结, 申请验收):
    the text is posted with the file, and the page comes back with it filled
    in -- after the file is taken (200: the text is not yet submitted, so
    the page is drawn, not redirected to) and when the file is refused
    (400/413, with the reason next to the file)."""
    form = EvidenceForm(prefix=ev_key)
    typed = typed_form()  # bound to the request: what was typed, not validated (not yet submitted)

    def afresh(task: Task):
        # The typed text, with the item's current version (it may have moved meanwhile).
        version = target.version if not isinstance(target, Task) else task.version
        return typed_form(formdata=None, data={"version": version, text_field: getattr(typed, text_field).data})

    task = _task(task_id)
    if not form.validate_on_submit():
        return _render(task, status=400, forms={ev_key: form, typed_key: typed})
    try:
        evidence = store_and_attach(form, target)
    except ValidationError as exc:
        show_errors(form, exc)  # 400, or 413 for a file over the limit
        return _render(_task(task_id), status=exc.status, forms={ev_key: form, typed_key: typed})
    except (Conflict, InvalidTransition) as exc:
        db.session.rollback()
        task = _task(task_id)
        return _render(task, status=409, page_error=exc.message, forms={typed_key: afresh(task)})
    if not (getattr(typed, text_field).data or "").strip():
        flash(f"已上传“{evidence.original_name}”", "success")
        return redirect(url_for("main.task", task_id=task_id))  # nothing typed to keep
    flash(f"已上传“{evidence.original_name}”,已填写的内容仍在下方,填好后请点击“{verb}”", "success")
    task = _task(task_id)
    return _render(task, status=200, forms={typed_key: afresh(task)})


def _attach_chosen_file(ev_key: str, target) -> None:
    """A file chosen in the form but not yet uploaded goes with 申请办结 or
    申请验收 (the request needs it)."""
    form = EvidenceForm(prefix=ev_key)
    if form.file.data and getattr(form.file.data, "filename", ""):
        store_and_attach(form, target, expected_version=None)


def _task(task_id: int) -> Task:
    return plan_service.get_task(acting_user(), task_id)


def _milestone(milestone_id: int) -> Milestone:
    return task_service.get_milestone(acting_user(), milestone_id)


# --- milestones ------------------------------------------------------------------------------


@bp.post("/tasks/<int:task_id>/milestones")
def propose_milestone(task_id: int):
    task = _task(task_id)
    authorize(acting_user(), "milestone.propose", task)

    def act(form):
        m = task_service.propose_milestone(acting_user(), task, form.title.data, form.due_on.data)
        return f"已提出节点“{m.title}”,待督办员确认"

    return _run(task_id, "ms", MilestoneForm(prefix="ms"), act)


@bp.post("/milestones/<int:milestone_id>/confirm")
def confirm_milestone(milestone_id: int):
    m = _milestone(milestone_id)
    authorize(acting_user(), "milestone.decide", m)

    def act(form):
        task_service.confirm_milestone(acting_user(), m, expected_version=int(form.version.data))
        return f"已确认节点“{m.title}”"

    return _run(m.task_id, f"ms{m.id}-confirm", VersionForm(), act)


@bp.post("/milestones/<int:milestone_id>/evidence")
def milestone_evidence(milestone_id: int):
    m = _milestone(milestone_id)
    authorize(acting_user(), "evidence.upload", m)

    # 上传 is a button of the form where the note (完成情况) is typed.
    return _upload_keeping_typed(
        m.task_id, m, f"ms{m.id}-ev", f"ms{m.id}-done",
        lambda **kw: MilestoneDoneForm(prefix=f"ms{m.id}-done", **kw), "note", "申请验收",
    )


@bp.post("/milestones/<int:milestone_id>/done")
def mark_milestone_done(milestone_id: int):
    m = _milestone(milestone_id)
    authorize(acting_user(), "milestone.propose", m)

    def act(form):
        _attach_chosen_file(f"ms{m.id}-ev", m)
        task_service.mark_milestone_done(acting_user(), m, form.note.data or "", expected_version=int(form.version.data))
        return f"节点“{m.title}”已申请验收"

    return _run(m.task_id, f"ms{m.id}-done", MilestoneDoneForm(prefix=f"ms{m.id}-done"), act)


@bp.post("/milestones/<int:milestone_id>/decide")
def decide_milestone(milestone_id: int):
    m = _milestone(milestone_id)
    authorize(acting_user(), "milestone.decide", m)

    def act(form):
        accept = bool(form.agree.data)
        task_service.decide_milestone(acting_user(), m, accept, form.reason.data,
                                      expected_version=int(form.version.data))
        return f"节点“{m.title}”{'验收通过' if accept else '验收未通过,已退回牵头单位'}"

    return _run(m.task_id, f"ms{m.id}-decide", DecisionForm(prefix=f"ms{m.id}-decide"), act)


# --- closing, suspension ------------------------------------------------------------------------


@bp.post("/tasks/<int:task_id>/close-evidence")
def close_evidence(task_id: int):
    task = _task(task_id)
    authorize(acting_user(), "evidence.upload", task)

    # 上传 is a button of the form where the reason for closing is typed.
    return _upload_keeping_typed(
        task_id, task, "close-ev", "close", lambda **kw: ReasonForm(prefix="close", **kw), "reason", "申请办结"
    )


@bp.post("/tasks/<int:task_id>/request-close")
def request_close(task_id: int):
    task = _task(task_id)
    authorize(acting_user(), "task.request", task)

    def act(form):
        _attach_chosen_file("close-ev", task)
        task_service.request_close(acting_user(), task, form.reason.data, expected_version=int(form.version.data))
        return "已申请办结,待督办员审核"

    return _run(task_id, "close", ReasonForm(prefix="close"), act)


@bp.post("/tasks/<int:task_id>/decide-close")
def decide_close(task_id: int):
    task = _task(task_id)
    authorize(acting_user(), "task.decide", task)
    if request.form.get("decide-close-agree") and request.form.get("confirmed") != "1":
        # 办结 closes the task for good: asked once more, saying what follows.
        return _confirm_close(task)

    def act(form):
        agree = bool(form.agree.data)
        task_service.decide_close(acting_user(), task, agree, form.reason.data, expected_version=int(form.version.data))
        return "已同意办结" if agree else "未同意办结,任务回到推进中"

    return _run(task_id, "decide-close", DecisionForm(prefix="decide-close"), act)


def _confirm_close(task: Task):
    page = url_for("main.task", task_id=task.id)
    fields = {key: request.form.get(key, "") for key in ("decide-close-version", "decide-close-reason")}
    fields["decide-close-agree"] = "同意"
    confirm = {
        "title": "确认同意办结", "verb": "同意办结", "button": "确认同意办结",
        "subject": f"任务{task.number}. {task.title}",
        "follows": ["任务状态变为“已办结”,各责任单位不再为其报送;", "牵头单位收到同意办结的通知。"],
        "action": url_for(".decide_close", task_id=task.id), "fields": fields, "back": page,
        "crumbs": [(f"任务{task.number}. {task.title}", page)],
    }
    return render_template("confirm.html", confirm=confirm)


@bp.post("/tasks/<int:task_id>/suspend")
def suspend(task_id: int):
    return _suspend_or_resume(task_id, "suspend")


@bp.post("/tasks/<int:task_id>/resume")
def resume(task_id: int):
    return _suspend_or_resume(task_id, "resume")


def _suspend_or_resume(task_id: int, action: str):
    task = _task(task_id)
    authorize(acting_user(), "task.decide", task)
    service = task_service.suspend_task if action == "suspend" else task_service.resume_task

    def act(form):
        service(acting_user(), task, form.reason.data, expected_version=int(form.version.data))
        return f"任务已{ACTION_LABELS[action]}"

    return _run(task_id, action, ReasonForm(prefix=action), act)


# --- deadline extensions --------------------------------------------------------------------------


@bp.post("/tasks/<int:task_id>/extensions")
def request_extension(task_id: int):
    task = _task(task_id)
    authorize(acting_user(), "task.request", task)

    def act(form):
        if int(form.version.data) != task.version:
            raise Conflict("该任务已被他人修改,请刷新后再操作")
        ext = task_service.request_extension(acting_user(), task, form.new_deadline.data, form.reason.data,
                                             today=clock.today())
        return f"已申请将完成时限延至 {ext.new_deadline},待督办员审批"

    return _run(task_id, "ext", ExtensionForm(prefix="ext"), act)


@bp.post("/extensions/<int:extension_id>/decide")
def decide_extension(extension_id: int):
    ext = task_service.get_extension(acting_user(), extension_id)
    task = ext.task
    authorize(acting_user(), "extension.decide", ext)

    def act(form):
        grant = bool(form.agree.data)
        task_service.decide_extension(acting_user(), ext, grant, form.reason.data, expected_version=form.version.data)
        return f"已{'同意' if grant else '不同意'}延期"

    # A request decided meanwhile is refused by its state machine (409).
    return _run(task.id, f"ext{ext.id}", DecisionForm(prefix=f"ext{ext.id}"), act)


# --- target split ------------------------------------------------------------------------------------


@bp.post("/targets/<int:target_id>/split")
def split_target(target_id: int):
    target = task_service.get_target(acting_user(), target_id)
    task = target.task
    authorize(acting_user(), "target.split", target)
    form = split_form(target, [tu.unit for tu in task.units], prefix=f"split{target.id}")

    def act(form):
        shares = {key[len("share_"):]: f.data for key, f in form._fields.items() if key.startswith("share_")}
        task_service.split_target(acting_user(), target, shares)
        return "目标分解已保存"

    return _run(task.id, f"split{target.id}", form, act)


__all__ = ["bp", "task_sections"]

"""Administration: users and units (系统管理员), the scheduler's jobs and
the delivery log, the working-day calendar, and a plan's reminder rules."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import DateField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .. import db
from ..errors import DomainError, NotFound, PermissionDenied, ValidationError
from ..models import Plan, Role, SchedulerJob, User
from ..policy import PRIVILEGED_ONLY_ON_SERVER, PRIVILEGED_ROLES, authorize, can, is_privileged
from . import acting_user, record_refusal
from .common import show_errors
from .forms import MultiCheckboxField, options
from ..domain import clock

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
def users():
    authorize(current_user, "user.manage")
    rows = list(db.session.scalars(select(User).order_by(User.unit_id, User.login)))
    return render_template("admin/users.html", users=rows)


def _unit_choices(current=None):
    """Active units; the user's own unit always among them (even if it was
    retired), so the dropdown can show where the account is now."""
    from ..models import Unit

    units = list(db.session.scalars(select(Unit).where(Unit.is_active).order_by(Unit.kind, Unit.sort_order, Unit.id)))
    if current is not None and current not in units:
        units.insert(0, current)
    return options((u.canonical_name, u.canonical_name) for u in units)


def _role_choices():
    return options((r.value, r.label) for r in Role)


class UserForm(FlaskForm):
    login = StringField("登录名", validators=[DataRequired("请填写登录名"), Length(max=64)])
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=64)])
    unit = SelectField("单位", validate_choice=False)
    roles = MultiCheckboxField("角色", choices=_role_choices())
    email = StringField("电子邮箱", validators=[Optional(), Length(max=255)])
    phone = StringField("手机号(用于钉钉/浙政钉提醒)", validators=[Optional(), Length(max=32)])
    password = PasswordField("初始密码(首次登录须修改)", validators=[DataRequired("请设置初始密码")])


class ProfileForm(FlaskForm):
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=64)])
    unit = SelectField("单位", validate_choice=False)
    email = StringField("电子邮箱", validators=[Optional(), Length(max=255)])
    phone = StringField("手机号", validators=[Optional(), Length(max=32)])


class RoleForm(FlaskForm):
    roles = MultiCheckboxField("角色", choices=_role_choices())


class PasswordResetForm(FlaskForm):
    password = PasswordField("新的临时密码", validators=[DataRequired("请填写新密码")])


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    from ..services import users as user_service

    authorize(current_user, "user.manage")
    form = UserForm()
    form.unit.choices = _unit_choices()
    if form.validate_on_submit():
        try:
            user = user_service.create_user(
                form.login.data, unit_name=form.unit.data, roles=user_service.parse_roles(form.roles.data or []),
                password=form.password.data, name=form.name.data, email=form.email.data or None,
                phone=form.phone.data, actor=acting_user(), must_change_password=True,
            )
        except DomainError as exc:
            show_errors(form, exc)
            status = _refused(exc)
        else:
            flash(f"已创建账号 {user.login},首次登录须修改密码", "success")
            return redirect(url_for("admin.user", user_id=user.id))
    else:
        status = 400 if form.errors else 200
    return render_template("admin/user_new.html", form=form, **_privileged_context()), status


def _refused(exc: DomainError) -> int:
    """The status of a form the service refused: 400 for bad input, 403 (and
    the attempt audited) for what this account may not do. The form is shown
    again either way, with what was typed."""
    if exc.status == 403:
        record_refusal(exc.message)
        return 403
    return 400


def _privileged_context(user: User | None = None) -> dict:
    return {"privileged": user is not None and is_privileged(user.roles),
            "privileged_values": [r.value for r in PRIVILEGED_ROLES], "privileged_note": PRIVILEGED_ONLY_ON_SERVER}


def _load_user(user_id: int) -> User:
    from ..services import users as user_service

    return user_service.get_user(acting_user(), user_id)


def _user_page(user: User, status: int = 200, **forms):
    # The fields from the account as it is (not `obj=`: its `unit` is the
    # Unit itself, which matches no choice, so the dropdown showed the first
    # unit and saving moved the account there).
    profile = forms.get("profile") or ProfileForm(formdata=None, data={
        "name": user.name, "unit": user.unit.canonical_name, "email": user.email or "", "phone": user.phone or ""})
    profile.unit.choices = _unit_choices(user.unit)
    role_form = forms.get("role_form") or RoleForm(formdata=None, data={"roles": [r.value for r in user.roles]})
    return render_template(
        "admin/user.html", user=user, profile=profile, role_form=role_form,
        password_form=forms.get("password_form") or PasswordResetForm(), **_privileged_context(user),
    ), status


@bp.route("/users/<int:user_id>")
def user(user_id: int):
    authorize(current_user, "user.manage")
    return _user_page(_load_user(user_id))


@bp.route("/users/<int:user_id>/profile", methods=["POST"])
def user_profile(user_id: int):
    from ..services import users as user_service

    authorize(current_user, "user.manage")
    user = _load_user(user_id)
    form = ProfileForm()
    form.unit.choices = _unit_choices(user.unit)
    if form.validate_on_submit():
        try:
            changed = user_service.update_profile(user, actor=acting_user(), name=form.name.data,
                                                  unit_name=form.unit.data, email=form.email.data, phone=form.phone.data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            if "unit" in changed:
                old, new = changed["unit"]
                flash(f"账号信息已保存;单位已由“{old}”改为“{new}”,该用户此后看到新单位的任务,需重新登录", "success")
            elif changed:
                flash("账号信息已保存", "success")
            else:
                flash("没有修改任何信息", "info")
            return redirect(url_for("admin.user", user_id=user.id))
    return _user_page(user, 400, profile=form)


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
def user_roles(user_id: int):
    from ..services import users as user_service

    authorize(current_user, "user.manage")
    user = _load_user(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            granted, revoked = user_service.set_roles(
                user, user_service.parse_roles(form.roles.data or []), actor=acting_user())
        except DomainError as exc:
            db.session.rollback()
            form.roles.errors.append(exc.message)
            return _user_page(user, _refused(exc), role_form=form)
        else:
            parts = ([f"授予“{'、'.join(r.label for r in granted)}”"] if granted else []) + (
                [f"收回“{'、'.join(r.label for r in revoked)}”"] if revoked else [])
            if parts:
                flash(f"已{','.join(parts)},该用户需重新登录", "success")
            else:
                flash("角色没有变化", "info")
            return redirect(url_for("admin.user", user_id=user.id))
    return _user_page(user, 400, role_form=form)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id: int):
    from ..services import users as user_service

    authorize(current_user, "user.manage")
    user = _load_user(user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            user_service.reset_password(user, form.password.data, actor=acting_user())
        except DomainError as exc:
            db.session.rollback()
            form.password.errors.append(exc.message)
            return _user_page(user, _refused(exc), password_form=form)
        else:
            flash("密码已重置,该用户下次登录须修改密码", "success")
            return redirect(url_for("admin.user", user_id=user.id))
    return _user_page(user, 400, password_form=form)


@bp.route("/users/<int:user_id>/status", methods=["POST"])
def user_status(user_id: int):
    from ..services import users as user_service

    authorize(current_user, "user.manage")
    user = _load_user(user_id)
    op = request.form.get("op")
    try:
        if op == "unlock":
            user_service.unlock_user(user, actor=acting_user())
            flash("账号已解锁", "success")
        elif op in ("enable", "disable"):
            user_service.set_active(user, op == "enable", actor=acting_user())
            flash("账号已启用" if op == "enable" else "账号已停用", "success")
        else:
            raise NotFound()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _user_page(user, exc.status)
    return redirect(url_for("admin.user", user_id=user.id))


# --- the scheduler and the delivery log ----------------------------------


@bp.route("/scheduler")
def scheduler():
    """The jobs with their last and next run, and the delivery log, failures first."""
    if not (can(current_user, "jobs.view") or can(current_user, "delivery.view")):
        raise PermissionDenied()
    from ..reminders.service import delivery_log
    from ..scheduler.registry import JOBS

    rows = {row.id: row for row in db.session.scalars(select(SchedulerJob))}
    jobs = [(spec, rows.get(spec.id)) for spec in JOBS]
    deliveries = delivery_log(current_user) if can(current_user, "delivery.view") else []
    plans = list(db.session.scalars(select(Plan).order_by(Plan.id))) if can(current_user, "reminder.configure") else []
    return render_template("admin/scheduler.html", jobs=jobs, deliveries=deliveries, plans=plans)


# --- the working-day calendar ----------------------------------------------


class CalendarDayForm(FlaskForm):
    day = DateField("日期", validators=[DataRequired("请填写日期")])
    kind = SelectField("类型", choices=options([("holiday", "放假"), ("workday", "调休上班"), ("normal", "按周末规则")]))
    name = StringField("名称", validators=[Optional(), Length(max=60)])


class CalendarImportForm(FlaskForm):
    file = FileField("CSV 文件")


def _calendar_page(year: int, day_form: CalendarDayForm, import_form: CalendarImportForm, status: int = 200):
    from ..services.calendar import days_of_year, package_years, years_held

    return (
        render_template(
            "admin/calendar.html", year=year, days=days_of_year(year), years=sorted(set(years_held()) | {year}),
            package_years=package_years(), day_form=day_form, import_form=import_form,
        ),
        status,
    )


@bp.route("/calendar", methods=["GET"])
def calendar():
    authorize(current_user, "calendar.manage")
    from ..services.calendar import check_year

    raw = request.args.get("year", "").strip()
    if not raw:
        year = clock.today().year
    else:
        try:
            year = int(raw)
        except ValueError:
            raise ValidationError("年份应为四位数字,如 2027", field_errors={"year": "年份无效"}) from None
        check_year(year)
    return _calendar_page(year, CalendarDayForm(), CalendarImportForm())


@bp.route("/calendar/day", methods=["POST"])
def calendar_day():
    authorize(current_user, "calendar.manage")
    from ..services.calendar import set_day

    form = CalendarDayForm()
    if form.validate_on_submit():
        try:
            set_day(acting_user(), form.day.data, form.kind.data, form.name.data or "")
        except DomainError as exc:
            db.session.rollback()
            form.kind.errors.append(exc.message)
        else:
            flash(f"{form.day.data} 已更新,各计划报送截止日已按新日历重算", "success")
            return redirect(url_for("admin.calendar", year=form.day.data.year))
    year = form.day.data.year if form.day.data else clock.today().year
    from ..services.calendar import MAX_YEAR, MIN_YEAR

    if not MIN_YEAR <= year <= MAX_YEAR:
        year = clock.today().year
    return _calendar_page(year, form, CalendarImportForm(), 400)


@bp.route("/calendar/import", methods=["POST"])
def calendar_import():
    authorize(current_user, "calendar.manage")
    from ..services.calendar import import_days, parse_calendar_csv

    form = CalendarImportForm()
    upload = request.files.get("file")
    if not form.validate_on_submit() or upload is None or not upload.filename:
        form.file.errors.append("请选择 CSV 文件")
        return _calendar_page(clock.today().year, CalendarDayForm(), form, 400)
    try:
        text = upload.read().decode("utf-8-sig")
        change = import_days(acting_user(), parse_calendar_csv(text), source_name=upload.filename)
    except UnicodeDecodeError:
        form.file.errors.append("文件应为 UTF-8 编码的 CSV")
    except DomainError as exc:
        db.session.rollback()
        form.file.errors.append(exc.message)
    else:
        flash(f"已导入 {'、'.join(map(str, change.years))} 年共 {change.days} 天,报送截止日已重算", "success")
        return redirect(url_for("admin.calendar", year=change.years[0]))
    return _calendar_page(clock.today().year, CalendarDayForm(), form, 400)


@bp.route("/calendar/sync", methods=["POST"])
def calendar_sync():
    authorize(current_user, "calendar.manage")
    from ..services.calendar import sync_from_package

    if not FlaskForm().validate_on_submit():
        raise PermissionDenied("表单已失效,请刷新后重试")
    change = sync_from_package()
    flash(f"已从 chinese-calendar 同步 {change.years[0]}–{change.years[-1]} 年,变更 {change.days} 天", "success")
    return redirect(url_for("admin.calendar"))


# --- a plan's reminder rules ---------------------------------------------


def _rules_form_class():
    from ..domain.reminder_rules import RULE_LABELS

    attrs = {
        key: IntegerField(label, validators=[InputRequired("请填写整数")]) for key, label in RULE_LABELS.items()
    }
    return type("ReminderRulesForm", (FlaskForm,), attrs)


@bp.route("/plans/<int:plan_id>/reminder-rules", methods=["GET", "POST"])
def reminder_rules(plan_id: int):
    authorize(current_user, "reminder.configure")
    from ..domain.reminder_rules import DEFAULT_RULES, RULE_LABELS, rules_dict, rules_for
    from ..reminders.service import set_plan_rules

    from ..services import plans as plan_service

    plan = plan_service.get_plan(acting_user(), plan_id)
    form = _rules_form_class()(data=rules_dict(rules_for(plan)))
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                set_plan_rules(acting_user(), plan, {key: getattr(form, key).data for key in RULE_LABELS})
            except DomainError as exc:
                db.session.rollback()
                for key, message in exc.field_errors.items():
                    if key in RULE_LABELS:
                        getattr(form, key).errors.append(message)
            else:
                flash("催办规则已保存", "success")
                return redirect(url_for("admin.reminder_rules", plan_id=plan.id))
        status = 400
    return render_template(
        "admin/reminder_rules.html", plan=plan, form=form, keys=list(RULE_LABELS), defaults=rules_dict(DEFAULT_RULES)
    ), status

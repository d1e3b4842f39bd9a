"""Forms (Flask-WTF: validation, CSRF, and keeping what was typed)."""
from __future__ import annotations

import re
from datetime import date

from wtforms.fields.choices import SelectChoice
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Regexp, ValidationError
from markupsafe import Markup, escape
from wtforms.widgets import CheckboxInput, ListWidget, TextInput



def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the choices of a select field."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class LoginForm(FlaskForm):
    login = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])
    next = HiddenField()


class TaskUnitForm(FlaskForm):
    """Make a unit the lead, add one, or remove one."""

    action = SelectField(
        "操作",
        choices=options([("set_lead", "设为牵头单位"), ("add", "增加责任单位"), ("remove", "移除责任单位")]),
    )
    unit_id = SelectField("单位", coerce=int, validate_choice=False)
    reason = TextAreaField("说明", validators=[Length(max=500)])


# --- issue 3: progress reporting, milestones, task lifecycle, profile ----------------
#
# Every form that acts on an item carries the version of the item as the page
# showed it, so acting on a stale page is refused (409) instead of silently
# overwriting what someone else did in between.

_VERSION = Regexp(r"^\d+$", message="页面数据不完整,请刷新后重试")
_NUMBER = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def _is_number(_form, field) -> None:
    raw = (field.data or "").replace(",", "").strip()
    if raw and not _NUMBER.match(raw):
        raise ValidationError("请输入不小于 0 的数字")


def _iso_date(_form, field) -> None:
    raw = (field.data or "").strip()
    if not raw:
        return
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("日期格式应为 YYYY-MM-DD") from None


class VersionForm(FlaskForm):
    """An action that needs nothing but the item's version (approve, accept, confirm)."""

    version = HiddenField(validators=[DataRequired("页面数据不完整,请刷新后重试"), _VERSION])


class ReasonForm(VersionForm):
    """An action that needs a reason (return, reopen, suspend, resume, request to close)."""

    reason = TextAreaField(
        "原因", validators=[DataRequired("请填写原因"), Length(max=2000, message="原因不能超过 2000 字")]
    )


class DecisionForm(VersionForm):
    """Agree or refuse; the service requires the reason when refusing."""

    reason = TextAreaField("说明", validators=[Length(max=2000, message="说明不能超过 2000 字")])
    agree = SubmitField("同意")
    refuse = SubmitField("不同意")


class EvidenceForm(VersionForm):
    file = FileField("佐证材料", validators=[FileRequired("请选择要上传的文件")])


class NewReportForm(FlaskForm):
    period = HiddenField(validators=[DataRequired("请选择报送期次")])


class ReportEditFormBase(VersionForm):
    text = TextAreaField("进展情况", validators=[Length(max=20000, message="进展情况不能超过 20000 字")])
    save = SubmitField("保存草稿")
    submit = SubmitField("保存并报送")


def report_edit_form(task, **kwargs) -> ReportEditFormBase:
    """The edit form of a report, with one value field per target of the task
    (named value_<target id>, as the service reports its errors)."""

    class ReportEditForm(ReportEditFormBase):
        pass

    for target in task.targets:
        label = f"{target.subject or target.text}({target.measure})" if target.measure else (target.subject or target.text)
        setattr(ReportEditForm, f"value_{target.id}", StringField(label, validators=[_is_number]))
    return ReportEditForm(**kwargs)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InclusionForm(VersionForm):
    include = MultiCheckboxField("引用的配合单位报送", coerce=int, validate_choice=False,
                                 invalid_value_message="所选的配合单位报送无效")


class MilestoneForm(FlaskForm):
    title = StringField(
        "节点名称", validators=[DataRequired("请填写节点名称"), Length(max=200, message="节点名称不能超过 200 字")]
    )
    due_on = StringField("计划完成日期", validators=[DataRequired("请填写计划完成日期"), _iso_date],
                         render_kw={"type": "date"})


class MilestoneDoneForm(VersionForm):
    note = TextAreaField("完成情况", validators=[Length(max=2000, message="完成情况不能超过 2000 字")])


class ExtensionForm(VersionForm):
    new_deadline = StringField("新的完成时限", validators=[DataRequired("请填写新的完成时限"), _iso_date],
                               render_kw={"type": "date"})
    reason = TextAreaField(
        "延期原因", validators=[DataRequired("请填写延期原因"), Length(max=2000, message="原因不能超过 2000 字")]
    )


class SplitFormBase(FlaskForm):
    pass


class ShareInput(TextInput):
    """wtforms' TextInput for a share of a split (no flags, no render_kw),
    writing the same HTML itself: the attributes sorted and escaped as
    html_params does, without its per-attribute Markup formatting, which for
    the ~20 units of a task × each target was a good part of the task page."""

    def __call__(self, field, **kwargs):
        if set(kwargs) - {"inputmode"} or field.render_kw:
            return super().__call__(field, **kwargs)
        mode = f' inputmode="{escape(kwargs["inputmode"])}"' if "inputmode" in kwargs else ""
        return Markup(f'<input id="{escape(field.id)}"{mode} name="{escape(field.name)}" type="text" '
                      f'value="{escape(field._value())}">')


SHARE_INPUT = ShareInput()


def split_form(target, units, **kwargs) -> SplitFormBase:
    """目标分解: one share field per responsible unit (named share_<unit id>)."""

    class SplitForm(SplitFormBase):
        pass

    for unit in units:
        setattr(SplitForm, f"share_{unit.id}", StringField(unit.short_name, validators=[_is_number], widget=SHARE_INPUT))
    return SplitForm(**kwargs)


class TokenForm(FlaskForm):
    label = StringField(
        "用途", validators=[DataRequired("请填写令牌用途,便于日后识别"), Length(max=64, message="用途不能超过 64 字")]
    )


class PreferencesForm(FlaskForm):
    wants_email = BooleanField("通过电子邮件接收提醒")
    wants_webhook = BooleanField("通过 Webhook(政务即时通讯)接收提醒")


class PlainForm(FlaskForm):
    """Only the CSRF token: mark as read, revoke a token, remove a file."""

"""Forms (Flask-WTF: validation, CSRF, and keeping what was typed)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    login = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])
    next = HiddenField()


class TaskUnitForm(FlaskForm):
    """Make a unit the lead, add one, or remove one."""

    action = SelectField(
        "操作",
        choices=[("set_lead", "设为牵头单位"), ("add", "增加责任单位"), ("remove", "移除责任单位")],
    )
    unit_id = SelectField("单位", coerce=int, validate_choice=False)
    reason = TextAreaField("说明", validators=[Length(max=500)])

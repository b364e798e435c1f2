"""Staff forms, with messages in Chinese."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateTimeLocalField, FloatField, HiddenField, IntegerField, PasswordField,
                     SelectField, SelectMultipleField, StringField, widgets)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from .once import new_form_id


class StaffForm(FlaskForm):
    """A form whose built-in messages (a bad number, a choice not offered …) are in Chinese."""

    class Meta:
        locales = ["zh"]


class LoginForm(StaffForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名。"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码。"), Length(max=200)])


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _at_least_one(field):
    # Not DataRequired: that marks every checkbox `required` in the HTML.
    if not field.data:
        raise ValidationError("请至少选一个社区。")


BAD_TIME = "时间的格式不对，请用日历选择，或按“2026-12-01 09:00”的样子填写。"


def _valid_year(form, field):
    if field.data and not 2000 <= field.data.year <= 2100:
        raise ValidationError("请填写 2000 到 2100 年之间的时间。")


def _closes_after_opening(form, field):
    if field.data and form.opens_at.data and field.data <= form.opens_at.data:
        raise ValidationError("结束时间要晚于开始时间。")


class CampaignSettingsForm(StaffForm):
    """What can be set when a campaign is made and changed afterwards."""

    name = StringField("调查名称", validators=[DataRequired("请填写调查名称。"), Length(max=200, message="名称最多 200 个字。")])
    opens_at = DateTimeLocalField("开始时间", format="%Y-%m-%dT%H:%M", validators=[Optional(), _valid_year],
                                  render_kw={"step": 60}, invalid_value_message=BAD_TIME)
    closes_at = DateTimeLocalField("结束时间", format="%Y-%m-%dT%H:%M",
                                   validators=[Optional(), _valid_year, _closes_after_opening], render_kw={"step": 60},
                                   invalid_value_message=BAD_TIME)
    confidence = SelectField("置信水平", coerce=float, default=0.95,
                             choices=[SelectChoice(0.90, "90%"), SelectChoice(0.95, "95%（常用）"),
                                      SelectChoice(0.99, "99%")])
    margin = FloatField("允许误差（±百分点）", default=5.0,
                        validators=[InputRequired("请填写允许误差。"),
                                    NumberRange(1, 20, "允许误差请填 1 到 20 之间的数。")])
    one_response_per_device = BooleanField("每部手机只能填一次（共用平板时请取消）", default=True)
    double_entry = BooleanField("纸质问卷双人录入（两个人各录一遍，一致才保存）", default=False)


def form_id_field() -> HiddenField:
    """The random id that makes a creating form count once (see once.py)."""
    return HiddenField(default=new_form_id, validators=[
        Regexp(r"^[0-9a-f]{32}$", message="页面已经过期，请刷新后重新提交。")])


class CampaignForm(CampaignSettingsForm):
    form_id = form_id_field()
    survey_version = SelectField("问卷", coerce=int, validators=[DataRequired("请选择问卷。")])
    communities = CheckboxesField("在哪些社区开展", coerce=int, validators=[lambda form, field: _at_least_one(field)])


class CampaignEditForm(CampaignSettingsForm):
    add_communities = CheckboxesField("再加入这些社区", coerce=int, validators=[Optional()])
    recompute_targets = BooleanField("按户数和上面的抽样要求重新计算所有社区的目标", default=False)


#: Largest target sample one community may be given.
MAX_TARGET = 100_000


def read_targets(formdata, community_ids) -> tuple[dict[int, int | None], dict[int, str]]:
    """The per-community targets typed on the edit page (fields ``target-<community id>``):
    a whole number from 1 to MAX_TARGET, or empty for no target. Returns (targets, errors)."""
    targets: dict[int, int | None] = {}
    errors: dict[int, str] = {}
    for community_id in community_ids:
        raw = (formdata.get(f"target-{community_id}") or "").strip()
        if not raw:
            targets[community_id] = None
        elif raw.isdigit() and raw.isascii() and 1 <= int(raw) <= MAX_TARGET:
            targets[community_id] = int(raw)
        else:
            errors[community_id] = f"目标请填 1 到 {MAX_TARGET} 之间的整数，或者留空。"
    return targets, errors


class SiteForm(StaffForm):
    form_id = form_id_field()
    name = StringField("考评点名称", validators=[DataRequired("请填写考评点名称。"), Length(max=100)],
                       render_kw={"placeholder": "如：社区综合文化服务中心、某某小区东门"})


class SiteRenameForm(StaffForm):
    name = StringField("新名称", validators=[DataRequired("请填写考评点名称。"), Length(max=100, message="最多 100 个字。")])


class TicketBatchForm(StaffForm):
    form_id = form_id_field()
    community = SelectField("社区", coerce=int, validators=[DataRequired("请选择社区。")])
    count = IntegerField("张数", default=40, validators=[
        InputRequired("请填写要印多少张。"), NumberRange(1, 500, "一次可以印 1 到 500 张。")])


class ExclusionForm(StaffForm):
    reason = StringField("不计入统计的原因", validators=[DataRequired("请写明原因。"), Length(max=500, message="原因最多 500 个字。")],
                         render_kw={"placeholder": "如：同一人重复填写；工作人员代填"})


class CorrectionForm(StaffForm):
    reason = StringField("为什么更正", validators=[DataRequired("请写明为什么更正。"), Length(max=500, message="最多 500 个字。")],
                         render_kw={"placeholder": "如：核对原件，第 5 题录错了"})


class AccountForm(StaffForm):
    username = StringField("用户名（登录用）", validators=[DataRequired("请填写用户名。"), Length(max=64, message="最多 64 位。")])
    display_name = StringField("姓名", validators=[DataRequired("请填写姓名。"), Length(max=100)])
    role = SelectField("角色", validators=[DataRequired("请选择角色。")])
    region = SelectField("负责的区域", coerce=int, validators=[DataRequired("请选择区域。")])
    password = PasswordField("初始密码（至少 10 位）", validators=[
        DataRequired("请填写初始密码。"), Length(min=10, max=200, message="密码至少 10 位。")])


class PasswordResetForm(StaffForm):
    password = PasswordField("新密码（至少 10 位）", validators=[
        DataRequired("请填写新密码。"), Length(min=10, max=200, message="密码至少 10 位。")])

"""Forms for running a meeting, with messages in Chinese."""

from __future__ import annotations

from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ..models import QuestionKind
from ..staff.forms import StaffForm, form_id_field

MAX_ATTENDANCE = 100_000


class MeetingForm(StaffForm):
    form_id = form_id_field()
    community = SelectField("社区", coerce=int, validators=[DataRequired("请选择社区。")])
    #: 0: the meeting stands alone.
    campaign = SelectField("计入哪次测评", coerce=int, default=0, description=(
        "选了测评，才能用问卷里的题。测评进行期间，居民用手机投这些题的票计入这次测评，"
        "算“坝坝会”渠道，不算随机抽样；举手的人数只记在会议记录里。"))
    topic = StringField("议题", validators=[DataRequired("请填写议题。"), Length(max=200, message="最多 200 个字。")],
                        render_kw={"placeholder": "如：老旧小区改造方案征求意见"})
    place = StringField("地点", validators=[DataRequired("请填写地点。"), Length(max=200, message="最多 200 个字。")],
                        render_kw={"placeholder": "如：小区中心广场"})
    starts_at = DateTimeLocalField("开始时间（北京时间）", format="%Y-%m-%dT%H:%M", validators=[DataRequired("请填写开始时间。")],
                                   render_kw={"step": 60})
    attendance = IntegerField("到场人数（人来了再改也行）", default=0, validators=[
        InputRequired("请填写到场人数，还没人来就填 0。"), NumberRange(0, MAX_ATTENDANCE, "人数请填 0 到 100000。")])


class QuestionForm(StaffForm):
    kind = SelectField("题型", choices=[SelectChoice(k.value, k.label) for k in QuestionKind
                                      if k is not QuestionKind.SURVEY_ITEM])
    text = StringField("问题", validators=[DataRequired("请填写问题。"), Length(max=300, message="最多 300 个字。")],
                       render_kw={"placeholder": "如：您同意在 3 栋加装电梯吗？"})
    options = TextAreaField("选项（只有“单选”要填：一行一个，2 到 8 个）", render_kw={"rows": 4})


class SurveyQuestionForm(StaffForm):
    """A question taken from the meeting's campaign questionnaire (its words and answers as they are)."""
    item = SelectField("问卷里的题", validators=[DataRequired("请选择一道题。")])


class AttendanceForm(StaffForm):
    attendance = IntegerField("到场人数", validators=[
        InputRequired("请填写到场人数。"), NumberRange(0, MAX_ATTENDANCE, "人数请填 0 到 100000。")])

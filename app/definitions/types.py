"""The registry of item types: how each is read from a file, asked in a form and stored.

One entry per type (pyxform's and indico's pattern): adding a type means adding one
class here, not editing the loader, the form builder and the submit path.
"""

from __future__ import annotations

import math
import re

from wtforms import fields, validators, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from .choices import read_choices
from .errors import Code, ProblemList
from .model import Choice, Item
from .scales import build_scale

#: Hard ceiling on any free-text answer.
TEXT_LIMIT = 2000
#: Largest number bound a definition may set (answers are read with at most 12 digits).
NUMBER_LIMIT = 1e12

# What residents read when an answer is wrong. Plain words, no jargon.
MSG_REQUIRED_CHOICE = "这一题还没有选，请选一项。"
MSG_REQUIRED_MULTI = "这一题还没有选，请至少选一项。"
MSG_REQUIRED_TEXT = "这一题还没有填，请填写。"
MSG_BAD_CHOICE = "请从给出的选项中选择。"
MSG_NOT_NUMBER = "请填写一个数字。"
MSG_NOT_INTEGER = "请填写一个整数。"
MSG_EXCLUSIVE = "“{label}”不能和其他选项一起选。"
MSG_CONTROL_CHARACTER = "内容里有无法保存的特殊符号，请删掉后再提交。"


# -- WTForms fields ---------------------------------------------------------------

class ChoiceField(fields.RadioField):
    """A radio group that may be left empty when the item is optional."""

    def __init__(self, *args, codes: frozenset[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.codes = codes

    def pre_validate(self, form):
        if self.data in (None, ""):
            return
        if self.data not in self.codes:
            raise ValidationError(MSG_BAD_CHOICE)

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = valuelist[0]


class MultiChoiceField(fields.SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def __init__(self, *args, codes: frozenset[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.codes = codes

    def pre_validate(self, form):
        if self.data and any(code not in self.codes for code in self.data):
            raise ValidationError(MSG_BAD_CHOICE)


class NumberField(fields.StringField):
    """A number typed on a phone keypad; accepts full-width digits and a comma as decimal mark."""

    def __init__(self, *args, integer: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.integer = integer
        self.number: float | None = None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.number = parse_number(self.data, self.integer)


def parse_number(typed: str | None, integer: bool) -> float | None:
    """A number as typed on a phone keypad (full-width digits, a thousands comma); None when
    nothing was typed. Raises ValueError with the resident's message when it is not one."""
    text = (typed or "").strip()
    if not text:
        return None
    normal = text.translate(_FULLWIDTH).replace(" ", "")
    # A comma groups thousands here (1,000), never marks decimals.
    if _THOUSANDS_RE.fullmatch(normal):
        normal = normal.replace(",", "")
    try:
        value = float(normal) if _NUMBER_RE.fullmatch(normal) else None
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise ValueError(MSG_NOT_NUMBER)
    if integer and value != int(value):
        raise ValueError(MSG_NOT_INTEGER)
    return value


_NUMBER_RE = re.compile(r"^[+-]?(\d{1,12}(\.\d{0,6})?|\.\d{1,6})$")
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，－＋。", "0123456789.,-+.")


class RequiredAnswer(validators.InputRequired):
    """InputRequired with a message for residents; also rejects whitespace-only text."""

    def __call__(self, form, field):
        data = field.data
        if data is None or data == "" or data == [] or (isinstance(data, str) and not data.strip()):
            field.errors[:] = []
            raise validators.StopValidation(self.message)


class NumberRange:
    def __init__(self, low: float | None, high: float | None, unit: str | None):
        self.low, self.high, self.unit = low, high, unit or ""

    def __call__(self, form, field):
        n = field.number
        if n is None:
            return
        if (self.low is not None and n < self.low) or (self.high is not None and n > self.high):
            raise ValidationError(f"请填写 {_fmt(self.low)} 到 {_fmt(self.high)} 之间的数{self.unit and '（' + self.unit + '）'}。"
                                  if self.low is not None and self.high is not None
                                  else (f"请填写不小于 {_fmt(self.low)} 的数。" if self.low is not None
                                        else f"请填写不大于 {_fmt(self.high)} 的数。"))


class ChoiceCount:
    """Between low and high ticks, and an exclusive option (都没听说过) alone."""

    def __init__(self, low: int | None, high: int | None, exclusive: dict[str, str]):
        self.low, self.high, self.exclusive = low, high, exclusive

    def __call__(self, form, field):
        ticked = set(field.data or [])
        n = len(ticked)
        if n == 0:
            return
        for code in ticked:
            if code in self.exclusive:
                if n > 1:
                    raise ValidationError(MSG_EXCLUSIVE.format(label=self.exclusive[code]))
                return  # 都没听说过 alone is a whole answer, whatever min_choices says
        if self.low is not None and n < self.low:
            raise ValidationError(f"请至少选 {self.low} 项。")
        if self.high is not None and n > self.high:
            raise ValidationError(f"最多只能选 {self.high} 项。")


class TextCheck:
    """At most ``limit`` characters, and none that cannot be stored (NUL and other controls)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, form, field):
        text = normalize_text(field.data)
        if _CONTROL_RE.search(text):
            raise ValidationError(MSG_CONTROL_CHARACTER)
        # Measure what is stored, as the browser's maxlength does: a line break is one
        # character (browsers post it as CRLF), surrounding spaces are dropped.
        if len(text) > self.limit:
            raise ValidationError(f"最多填写 {self.limit} 个字，现在是 {len(text)} 个字。")


#: Control characters other than tab and line break: PostgreSQL cannot store NUL, and none belongs in an answer.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def canonical_number(n: float) -> str:
    """The stored code of a number: 12, 3.5, 0.000001 (never 12.0 or 1e-06)."""
    if n == int(n):
        return str(int(n))
    return f"{n:.6f}".rstrip("0").rstrip(".")


def normalize_text(text: str | None) -> str:
    """Text as stored: line breaks as \\n, surrounding white space dropped."""
    if not isinstance(text, str):
        return ""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if x == int(x) else str(x)


# -- the types --------------------------------------------------------------------

#: Fields every item may have, whatever its type.
COMMON_FIELDS = {"key", "type", "text", "text_en", "help", "required", "tags", "show_if"}

#: One stored answer: (value code, number, free text).
AnswerRow = tuple[str, float | None, str | None]


class ItemType:
    name: str
    #: Fields this type adds to COMMON_FIELDS.
    fields: frozenset[str] = frozenset()
    #: Whether show_if may point at an item of this type.
    is_choice = False

    def build(self, raw: dict, where: str, problems: ProblemList, scales: dict) -> dict:
        """Type-specific keyword arguments for Item, reporting problems."""
        return {}

    def make_field(self, item: Item) -> fields.Field:
        raise NotImplementedError

    def encode(self, item: Item, field: fields.Field) -> list[AnswerRow]:
        """The answer rows to store for a validated field; [] for no answer."""
        return self.encode_value(item, field.data)

    def encode_value(self, item: Item, value) -> list[AnswerRow]:
        """The answer rows for an answer given as a plain value (a code, a list of codes,
        a number or text): the one encoding every channel shares."""
        raise NotImplementedError

    def read_posted(self, item: Item, posted: list[str]) -> tuple[object, list[AnswerRow]] | None:
        """(the field's data, the answer rows) for the values a form posted under the item's
        name, when they are plainly valid: exactly what the form's field would make of them.
        None whenever the field would refuse them or might: the form then judges and shows
        why. (The submit path's shortcut past building a WTForms form; tests/definitions
        checks that it never accepts what the form refuses, nor stores anything else.)"""
        return None

    @staticmethod
    def _validators(item: Item, message: str) -> list:
        return [RequiredAnswer(message)] if item.required else []


def read_options(raw: dict, where: str, problems: ProblemList, type_name: str) -> tuple[Choice, ...]:
    options = raw.get("options")
    if not isinstance(options, list) or len(options) < 2:
        problems.add(where, Code.NO_OPTIONS, type=type_name)
        return ()
    return read_choices(options, where, problems, allow_exclusive=type_name == "multiple")



class SingleChoice(ItemType):
    name = "single"
    fields = frozenset({"options"})
    is_choice = True

    def build(self, raw, where, problems, scales):
        return {"options": read_options(raw, where, problems, self.name)}

    def make_field(self, item):
        return ChoiceField(item.text, choices=[SelectChoice(c.code, c.label) for c in item.choices], codes=item.codes,
                           validators=self._validators(item, MSG_REQUIRED_CHOICE))

    def encode_value(self, item, value):
        return [(value, None, None)] if value else []

    def read_posted(self, item, posted):
        value = posted[0] if posted else None
        if not value:
            return None if item.required else (value, [])
        return (value, [(value, None, None)]) if value in item.codes else None


class MultipleChoice(ItemType):
    name = "multiple"
    fields = frozenset({"options", "min_choices", "max_choices"})
    is_choice = True

    def build(self, raw, where, problems, scales):
        options = read_options(raw, where, problems, self.name)
        low, high = raw.get("min_choices"), raw.get("max_choices")
        for name, value in (("min_choices", low), ("max_choices", high)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                problems.add(where, Code.BAD_TYPE, field=name, expected="a whole number", got=type(value).__name__)
                return {"options": options}
        lo, hi = low or 0, high if high is not None else len(options)
        if options and not (0 <= lo <= hi <= len(options) and hi >= 1):
            problems.add(where, Code.BAD_CHOICE_LIMITS, n=len(options))
        return {"options": options, "min_choices": low, "max_choices": high}

    def make_field(self, item):
        return MultiChoiceField(
            item.text, choices=[SelectChoice(c.code, c.label) for c in item.choices], codes=item.codes,
            validators=self._validators(item, MSG_REQUIRED_MULTI) + [ChoiceCount(
                item.min_choices, item.max_choices, {c.code: c.label for c in item.options if c.exclusive})])

    def encode_value(self, item, value):
        # A code ticked twice in a forged request is one answer, not two.
        return [(code, None, None) for code in dict.fromkeys(value or ())]

    def read_posted(self, item, posted):
        ticked = dict.fromkeys(posted)
        if not ticked:
            return None if item.required else ([], [])
        if any(code not in item.codes for code in ticked):
            return None
        exclusive = {c.code for c in item.options if c.exclusive}
        if exclusive & ticked.keys():
            if len(ticked) > 1:
                return None
        elif ((item.min_choices is not None and len(ticked) < item.min_choices)
              or (item.max_choices is not None and len(ticked) > item.max_choices)):
            return None
        return list(posted), [(code, None, None) for code in ticked]


class Likert(ItemType):
    name = "likert"
    fields = frozenset({"scale"})
    is_choice = True

    def build(self, raw, where, problems, scales):
        ref = raw.get("scale")
        if ref is None:
            problems.add(where, Code.MISSING, field="scale")
            return {}
        if isinstance(ref, dict):  # a stored version carries its scale inline
            return {"scale": build_scale(ref.get("key", "inline"), ref, problems)}
        if not isinstance(ref, str) or ref not in scales:
            problems.add(where, Code.UNKNOWN_SCALE, scale=ref, known=", ".join(sorted(scales)) or "none")
            return {}
        return {"scale": scales[ref]}

    make_field = SingleChoice.make_field
    encode_value = SingleChoice.encode_value
    read_posted = SingleChoice.read_posted


class Number(ItemType):
    name = "number"
    fields = frozenset({"min", "max", "integer", "unit"})

    def build(self, raw, where, problems, scales):
        out = {}
        for name in ("min", "max"):
            value = raw.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not abs(value) <= NUMBER_LIMIT):  # also refuses NaN
                problems.add(where, Code.BAD_TYPE, field=name, expected="a finite number", got=repr(value))
                value = None
            out[name] = value
        if out["min"] is not None and out["max"] is not None and out["min"] > out["max"]:
            problems.add(where, Code.BAD_RANGE, min=out["min"], max=out["max"])
        integer = raw.get("integer", False)
        if not isinstance(integer, bool):
            problems.add(where, Code.BAD_TYPE, field="integer", expected="true or false", got=type(integer).__name__)
            integer = False
        out["integer"] = integer
        unit = raw.get("unit")
        if unit is not None and not isinstance(unit, str):
            problems.add(where, Code.BAD_TYPE, field="unit", expected="text", got=type(unit).__name__)
            unit = None
        out["unit"] = unit
        return out

    def make_field(self, item):
        return NumberField(item.text, integer=item.integer,
                           validators=self._validators(item, MSG_REQUIRED_TEXT) + [NumberRange(item.min, item.max, item.unit)])

    def encode(self, item, field):
        return self.encode_value(item, field.number)

    def encode_value(self, item, value):
        if value is None:
            return []
        return [(canonical_number(float(value)), float(value), None)]

    def read_posted(self, item, posted):
        typed = posted[0] if posted else None
        try:
            number = parse_number(typed, item.integer)
        except ValueError:
            return None
        if number is None:
            # The form's "required" refuses white space too, but then reads no number.
            return None if item.required else (typed, [])
        if (item.min is not None and number < item.min) or (item.max is not None and number > item.max):
            return None
        return typed, self.encode_value(item, number)


class Text(ItemType):
    name = "text"
    fields = frozenset({"max_length"})

    def build(self, raw, where, problems, scales):
        limit = raw.get("max_length", 500)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= TEXT_LIMIT:
            problems.add(where, Code.MAX_LENGTH, limit=TEXT_LIMIT, value=limit)
            limit = 500
        return {"max_length": limit}

    def make_field(self, item):
        return fields.TextAreaField(item.text, validators=self._validators(item, MSG_REQUIRED_TEXT)
                                    + [TextCheck(item.max_length or TEXT_LIMIT)])

    def encode_value(self, item, value):
        text = normalize_text(value)
        return [("", None, text)] if text else []

    def read_posted(self, item, posted):
        typed = posted[0] if posted else None
        text = normalize_text(typed)
        if not text:
            return None if item.required else (typed, [])
        if _CONTROL_RE.search(text) or len(text) > (item.max_length or TEXT_LIMIT):
            return None
        return typed, [("", None, text)]


ITEM_TYPES: dict[str, ItemType] = {t.name: t for t in (SingleChoice(), MultipleChoice(), Likert(), Number(), Text())}

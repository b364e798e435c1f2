"""Forms built from a scheme: the district's numbers for its 待填, and one community's entries.

The fields depend on the scheme, so each form class is made for it (WTForms' documented way:
subclass, setattr the fields, instantiate). Field names are positions (``n3_points``), since
indicator ids hold dots and dashes; ``fields_for`` maps them back.
"""

from __future__ import annotations

import json

from wtforms import BooleanField, FloatField, HiddenField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional

from ..definitions.schemes import Indicator, Scheme
from ..staff.forms import StaffForm

FIELD_WORDS = {"points": "分值", "weight": "权重（0–1）", "at_least": "达标标准"}


def fill_in_form(scheme: Scheme, stored: dict, formdata=None) -> tuple[StaffForm, list[tuple]]:
    """A form with a number for every 待填 of the scheme (as shipped), prefilled from ``stored``.

    Returns the form and its rows: (indicator or None for the scheme, [(field name, what, form field name)]).
    """
    class FillInForm(StaffForm):
        pass

    rows = []
    wanted = [(None, ("points",))] if scheme.points_to_fill else []
    wanted += [(indicator, indicator.to_fill or ("entered",)) for indicator, _ in scheme.walk()
               if indicator.is_placeholder]
    data = {}
    for n, (indicator, fields) in enumerate(wanted):
        key = "" if indicator is None else indicator.id
        row = []
        for what in fields:
            name = f"n{n}_{what}"
            if what == "entered":
                field = BooleanField("由考评人员按得分率整体录入这一部分")
                data[name] = "entered" in stored.get(key, {})
            else:
                top = 1 if what == "weight" else None
                field = FloatField(FIELD_WORDS[what], validators=[
                    Optional(), NumberRange(min=0, max=top, message="请填写不小于0的数字" if top is None
                                            else "权重在 0 到 1 之间")])
                data[name] = stored.get(key, {}).get(what)
            setattr(FillInForm, name, field)
            row.append((what, name))
        rows.append((indicator, row))
    form = FillInForm(formdata=formdata, data=data) if formdata is None else FillInForm(formdata=formdata)
    return form, rows


def fill_ins_from(form, rows) -> dict:
    values: dict = {}
    for indicator, row in rows:
        key = "" if indicator is None else indicator.id
        for what, name in row:
            value = form[name].data
            if what == "entered":
                if value:
                    values.setdefault(key, {})["entered"] = f"{indicator.label}得分率"
            elif value is not None:
                values.setdefault(key, {})[what] = value
    return values


def _level_value(factor: float) -> str:
    return f"{factor:g}"


def entry_form(leaves: list[Indicator], stored: dict, formdata=None):
    """One community's entries: a level (with its descriptor) or a number per leaf, and a note."""
    class EntryForm(StaffForm):
        pass

    data = {}
    for n, leaf in enumerate(leaves):
        feed = leaf.feed
        entry = stored.get(leaf.id)
        value, note = (entry.value, entry.note) if entry is not None else (None, None)
        if feed.kind == "levels":
            choices = [SelectChoice("", "未评")] + [SelectChoice(_level_value(level.factor), level.label)
                                                   for level in feed.levels]
            field = RadioField(leaf.label, choices=choices, validators=[Optional()],
                               validate_choice=True)
            data[f"n{n}"] = "" if value is None else _level_value(value)
        elif feed.kind == "standard":
            field = FloatField(f"{feed.label}" + (f"（{feed.unit}）" if feed.unit else ""),
                               validators=[Optional(), NumberRange(min=0, message="不能是负数")])
            data[f"n{n}"] = value
        else:
            field = FloatField(f"{feed.label}（%）",
                               validators=[Optional(), NumberRange(min=0, max=100, message="得分率在 0 到 100 之间")])
            data[f"n{n}"] = value
        setattr(EntryForm, f"n{n}", field)
        setattr(EntryForm, f"n{n}_note", StringField("依据", validators=[Optional(), Length(max=500)]))
        data[f"n{n}_note"] = note
        # What the page showed, sent back with the form: only what this evaluator changed is saved,
        # and a change made meanwhile by someone else is noticed instead of overwritten.
        setattr(EntryForm, f"n{n}_was", HiddenField())
        data[f"n{n}_was"] = shown_state(value, note)
    return (EntryForm(formdata=formdata) if formdata is not None else EntryForm(formdata=None, data=data))


def shown_state(value: float | None, note: str | None) -> str:
    return json.dumps([value, (note or "").strip() or None], ensure_ascii=False)


def _was(raw: str | None) -> tuple | None:
    """The (value, note) the page showed, or None when the form did not say (an old page)."""
    try:
        value, note = json.loads(raw or "")
    except (ValueError, TypeError):
        return None
    if not (value is None or isinstance(value, (int, float))) or not (note is None or isinstance(note, str)):
        return None
    return (None if value is None else float(value), note)


def entries_from(form, leaves: list[Indicator]) -> tuple[dict, dict, dict]:
    """The entries this evaluator changed on the page: values and notes by indicator id, and for
    each the (value, note) the page had shown (None when the page did not say)."""
    values, notes, shown = {}, {}, {}
    for n, leaf in enumerate(leaves):
        raw = form[f"n{n}"].data
        if leaf.feed.kind == "levels":
            value = float(raw) if raw not in (None, "") else None
        else:
            value = raw
        note = (form[f"n{n}_note"].data or "").strip() or None
        was = _was(form[f"n{n}_was"].data)
        if was is not None and was == (value, note):
            continue  # left as it was shown: not this evaluator's change
        values[leaf.id], notes[leaf.id], shown[leaf.id] = value, note, was
    return values, notes, shown

"""WTForms classes built from a survey definition (indico's make_survey_form).

A class is built once per definition (by content hash) and reused: building one is far
dearer than filling one in, and the submit path is the hottest in the product.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField

from .model import Item, SurveyDefinition
from .types import ITEM_TYPES, AnswerRow

#: Names in a posted form that are not items.
CONTROL_FIELDS = frozenset({"csrf_token", "submission"})


class SurveyForm(FlaskForm):
    """Base class of every built form. ``definition`` is set on the subclass."""

    class Meta:
        locales = ["zh"]  # WTForms' own messages, where ours do not apply, in Chinese

    definition: SurveyDefinition
    submission = HiddenField()
    #: Items hidden by their show_if; known once validate() has run.
    hidden: set[str] | None = None

    @classmethod
    def has_foreign_fields(cls, posted) -> bool:
        """Whether a post holds what this form never sends: an unknown name, or several
        values where the item takes one."""
        items = cls.definition.items_by_key
        for name in posted.keys():
            item = items.get(name)
            if item is None:
                if name not in CONTROL_FIELDS:
                    return True
            elif item.type != "multiple" and len(posted.getlist(name)) > 1:
                return True
        return any(len(posted.getlist(name)) > 1 for name in CONTROL_FIELDS)

    def validate(self, extra_validators=None) -> bool:
        """Validate the items that are shown; an item hidden by its show_if is skipped.

        Items come in definition order and show_if only looks back, so one pass settles
        which items are hidden (an item depending on a hidden one is hidden too).
        """
        self.hidden: set[str] = set()
        ok = True
        for name, field in self._fields.items():
            item = self.definition.items_by_key.get(name)
            if item is not None and not self._shown(item):
                self.hidden.add(name)
                field.errors = []
                continue
            extra = (extra_validators or {}).get(name, ())
            if not field.validate(self, extra):
                ok = False
        return ok

    def _shown(self, item: Item) -> bool:
        cond = item.show_if
        if cond is None:
            return True
        return cond.item not in self.hidden and cond.holds(self[cond.item].data)

    def answer_rows(self) -> list[tuple[str, AnswerRow]]:
        """(item key, answer row) for every shown and answered item of a validated form."""
        if self.hidden is None:
            raise RuntimeError("answer_rows() needs validate() first: it decides which items are shown")
        rows = []
        for item in self.definition.items:
            if item.key in self.hidden:
                continue
            for row in ITEM_TYPES[item.type].encode(item, self[item.key]):
                rows.append((item.key, row))
        return rows


def read_valid_answers(definition: SurveyDefinition, posted) -> list[tuple[str, AnswerRow]] | None:
    """The answer rows of a post that is plainly valid, read without building a form: the
    same rows ``SurveyForm.answer_rows()`` gives after ``validate()``. None when any item's
    answer would be refused or might be; the caller then lets the form judge, and shows
    its messages.

    Building and validating a WTForms form of 20 fields cost more than storing the answers;
    residents' valid submissions, nearly all of them, take this way instead. The form's
    CSRF token and the post's foreign fields are checked by the caller, as before.
    """
    data: dict[str, object] = {}
    hidden: set[str] = set()
    rows: list[tuple[str, AnswerRow]] = []
    for item in definition.items:
        cond = item.show_if
        if cond is not None and (cond.item in hidden or not cond.holds(data.get(cond.item))):
            hidden.add(item.key)
            continue
        read = ITEM_TYPES[item.type].read_posted(item, posted.getlist(item.key))
        if read is None:
            return None
        data[item.key], item_rows = read
        rows.extend((item.key, row) for row in item_rows)
    return rows


_form_classes: dict[str, type[SurveyForm]] = {}


def make_survey_form(definition: SurveyDefinition) -> type[SurveyForm]:
    """The form class of a definition, one field per item named by the item's key."""
    form_class = _form_classes.get(definition.content_hash)
    if form_class is None:
        attrs = {"definition": definition}
        for item in definition.items:
            attrs[item.key] = ITEM_TYPES[item.type].make_field(item)
        form_class = type(f"SurveyForm_{definition.id}", (SurveyForm,), attrs)
        _form_classes[definition.content_hash] = form_class
    return form_class
